/**
 * The main path, as a person does it: pair two devices with a code, send a folder
 * of mixed files (one of 50 MiB of random bytes), accept on the other side, watch
 * progress and the tier badge, and check the files on disk are byte-identical.
 * Saves the screenshots in docs/screenshots along the way.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, expect, TARGET } from './fixtures/postern.js';
import { hashTree, pair, peerButton, screenshot, writeRandomFile } from './fixtures/flows.js';

test('pair by code, send a folder of mixed files, accept, get identical bytes', async ({ openDevice, workdir, browser }) => {
  const alice = await openDevice('Alice');
  const bob = await openDevice('Bob');
  await expect(alice.page.getByRole('heading', { name: 'Send files straight to another computer' })).toBeVisible();
  await screenshot(alice.page, '01-welcome');

  await pair(alice, bob, true);
  await expect(peerButton(alice.page, 'Bob')).toContainText('LAN');
  await expect(peerButton(bob.page, 'Alice')).toContainText('LAN');

  const src = join(workdir, 'holiday');
  await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
  await writeRandomFile(join(src, 'big.bin'), 50 * 1024 * 1024);
  await writeFile(join(src, 'notes.txt'), 'Postern end-to-end test\n'.repeat(100));
  await writeFile(join(src, 'résumé 2024.txt'), 'naïve café ✓\n');
  await writeFile(join(src, 'empty.txt'), '');
  await writeFile(join(src, 'nested', 'deeper', 'data.json'), JSON.stringify({ n: 42, list: [1, 2, 3] }));

  await alice.sendPaths([src]);
  await expect(alice.page.getByRole('status', { name: 'State of holiday' })).toHaveText('Waiting for Bob to accept');

  const offer = bob.page.getByRole('region', { name: 'Incoming offers' }).getByRole('article', { name: 'Offer from Alice' });
  await expect(offer.getByRole('heading')).toHaveText('Alice wants to send you 5 files (52.4 MB)');
  await expect(offer.getByRole('list', { name: 'Offered files' })).toContainText('holiday/big.bin');
  await screenshot(bob.page, '04-incoming-offer');
  await offer.getByRole('button', { name: 'Accept' }).click();
  await expect(offer).toBeHidden();
  // A picture of the transfer in flight when loopback leaves time for one (not an assertion).
  const bar = bob.page.getByRole('progressbar', { name: 'Progress of holiday' });
  const phase = await bob.page.waitForFunction((el: { getAttribute(name: string): string | null } | null) => {
    const v = Number(el?.getAttribute('aria-valuenow'));
    return v >= 10 && v <= 90 ? 'mid' : v === 100 ? 'done' : null;
  }, await bar.elementHandle(), { polling: 20 });
  if ((await phase.jsonValue()) === 'mid') await screenshot(bob.page, '05-receiving');

  await expect(bar).toBeVisible();
  await expect(bob.page.getByRole('status', { name: 'State of holiday' })).toHaveText('Received from Alice', { timeout: 90_000 });
  await expect(bar).toHaveAttribute('aria-valuenow', '100');
  await expect(alice.page.getByRole('status', { name: 'State of holiday' })).toHaveText('Sent to Bob');
  await expect(alice.page.getByRole('progressbar', { name: 'Progress of holiday' })).toHaveAttribute('aria-valuenow', '100');

  expect(await hashTree(join(bob.downloadDir, 'holiday'))).toEqual(await hashTree(src));

  // The ladder is visible on the side that dialed (the joiner).
  const ladder = bob.page.getByRole('table', { name: 'Connection ladder' });
  await expect(ladder.getByRole('row').nth(1)).toContainText('Worked');
  await screenshot(bob.page, '06-device-detail');
  await screenshot(alice.page, '07-sent');

  await bob.page.getByRole('button', { name: /Show folder path|Show in folder/ }).click();
  if (TARGET === 'headless') await expect(bob.page.getByText(join(bob.downloadDir, 'holiday'), { exact: true })).toBeVisible();

  await bob.page.getByRole('button', { name: 'Transfers' }).click();
  await expect(bob.page.getByRole('heading', { name: 'Transfers', level: 2 })).toBeVisible();
  await screenshot(bob.page, '08-transfers');
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await expect(bob.page.getByLabel('Display name')).toHaveValue('Bob');
  await screenshot(bob.page, '09-settings');

  if (alice.url) {
    // 200% zoom: half the CSS pixels at twice the density; the layout must reflow, not clip.
    const zoomed = await browser.newContext({ viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 });
    const page = await zoomed.newPage();
    await page.goto(alice.url);
    await expect(peerButton(page, 'Bob')).toBeVisible();
    await screenshot(page, '10-zoom-200');
    await zoomed.close();
  }
});
