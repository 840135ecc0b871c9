/** Mistakes people make, and what the UI tells them: a wrong code, an impossible port; a setting kept across reloads. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, expect } from './fixtures/postern.js';

test('a wrong code fails on both sides with what to do next', async ({ openDevice }) => {
  const alice = await openDevice('Alice');
  const bob = await openDevice('Bob');
  await alice.page.getByRole('button', { name: 'Send to a new device' }).first().click();
  const code = (await alice.page.getByLabel('Invite code').textContent()) ?? '';
  const [nameplate, ...words] = code.split('-');
  // Real words from the list, in another order: a well-formed code that is wrong.
  const wrong = [nameplate, words[1], words[2], words[0]].join('-');

  await bob.page.getByRole('button', { name: 'Enter a code' }).first().click();
  await bob.page.getByLabel('Invite code').fill(wrong);
  await bob.page.getByRole('button', { name: 'Pair', exact: true }).click();
  await expect(bob.page.getByRole('alert')).toContainText(/code/i);
  await expect(alice.page.getByRole('button', { name: 'New code' })).toBeVisible();
  await expect(alice.page.getByRole('complementary', { name: 'Devices' })).toContainText('No paired devices yet');
});

test('settings are checked before saving, then saved and shown', async ({ openDevice }) => {
  const bob = await openDevice('Bob');
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await bob.page.getByLabel('Listening port').fill('70000');
  await bob.page.getByRole('button', { name: 'Save settings' }).click();
  await expect(bob.page.getByRole('alert')).toHaveText('Ports go from 0 to 65535.');

  await bob.page.getByLabel('Listening port').fill('0');
  await bob.page.getByLabel('Display name').fill('Bobby');
  await bob.page.getByRole('button', { name: 'Save settings' }).click();
  await expect(bob.page.getByText('Saved.', { exact: true })).toBeVisible();
  await expect(bob.page.getByRole('region', { name: 'This device' })).toContainText('Bobby');
});

test('relaying for my other devices is off until turned on, and stays on', async ({ openDevice }) => {
  const bob = await openDevice('Bob');
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  const relay = bob.page.getByRole('checkbox', { name: 'Relay for my other devices' });
  await expect(relay).not.toBeChecked();
  await relay.check();
  await bob.page.getByRole('button', { name: 'Save settings' }).click();
  // A restart setting: the engine restarts with it.
  await expect(bob.page.getByRole('status').filter({ hasText: 'Saved. The connection engine restarted' })).toBeVisible();
  const saved = JSON.parse(await readFile(join(bob.dataDir, 'settings.json'), 'utf8')) as { peerRelay?: boolean };
  expect(saved.peerRelay).toBe(true);

  await bob.page.reload();
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await expect(bob.page.getByRole('checkbox', { name: 'Relay for my other devices' })).toBeChecked();
});
