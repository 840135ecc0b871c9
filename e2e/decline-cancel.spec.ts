/** The ways a transfer ends without files: the receiver declines, the sender cancels. */
import { writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test, expect } from './fixtures/postern.js';
import { pair } from './fixtures/flows.js';

test('a declined offer ends on both sides and writes nothing', async ({ openDevice, workdir }) => {
  const alice = await openDevice('Alice');
  const bob = await openDevice('Bob');
  await pair(alice, bob);
  const file = join(workdir, 'note.txt');
  await writeFile(file, 'not wanted\n');

  await alice.sendPaths([file]);
  const offer = bob.page.getByRole('article', { name: 'Offer from Alice' });
  await expect(offer).toContainText('note.txt');
  await offer.getByRole('button', { name: 'Decline' }).click();

  await expect(offer).toBeHidden();
  await expect(alice.page.getByRole('status', { name: 'State of note.txt' })).toHaveText('Bob declined');
  await expect(bob.page.getByRole('status', { name: 'State of note.txt' })).toHaveText('You declined');
  expect(await readdir(bob.downloadDir)).toEqual([]);
});

test('the sender cancels an offer before it is answered', async ({ openDevice, workdir }) => {
  const alice = await openDevice('Alice');
  const bob = await openDevice('Bob');
  await pair(alice, bob);
  const file = join(workdir, 'note.txt');
  await writeFile(file, 'changed my mind\n');

  await alice.sendPaths([file]);
  const offer = bob.page.getByRole('article', { name: 'Offer from Alice' });
  await expect(offer).toBeVisible();
  await alice.page.getByRole('button', { name: 'Cancel note.txt' }).click();

  await expect(alice.page.getByRole('status', { name: 'State of note.txt' })).toHaveText('Cancelled');
  await expect(offer).toBeHidden();
  await expect(bob.page.getByRole('status', { name: 'State of note.txt' })).toHaveText('Cancelled');
  expect(await readdir(bob.downloadDir)).toEqual([]);
});
