/**
 * Drag and drop on the headless host: the browser uploads the dropped file to the
 * host's staging folder, then the host sends it. (Electron reads real paths from
 * dropped files instead; a synthetic drop has none, so this runs headless only.)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, expect, TARGET } from './fixtures/postern.js';
import { pair } from './fixtures/flows.js';

test('a file dropped on a device is uploaded to the host and sent', async ({ openDevice }) => {
  test.skip(TARGET === 'electron', 'a synthetic drop carries no real path in Electron');
  const alice = await openDevice('Alice');
  const bob = await openDevice('Bob');
  await pair(alice, bob);

  // A drop the way a browser delivers one: a DataTransfer holding a File.
  const dataTransfer = await alice.page.evaluateHandle(`(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['hello from a drop\\n'], 'dropped.txt', { type: 'text/plain' }));
    return dt;
  })()`);
  await alice.page.getByText(/^Or drop files and folders here/).dispatchEvent('drop', { dataTransfer });

  const offer = bob.page.getByRole('article', { name: 'Offer from Alice' });
  await expect(offer).toContainText('dropped.txt');
  await offer.getByRole('button', { name: 'Accept' }).click();
  await expect(bob.page.getByRole('status', { name: 'State of dropped.txt' })).toHaveText('Received from Alice');
  expect(await readFile(join(bob.downloadDir, 'dropped.txt'), 'utf8')).toBe('hello from a drop\n');
});
