/** Resume tests: dropped connection, corrupted partial on disk, app restart, folder resume. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FrameType, DATA_HEADER_SIZE } from '../../wire/transfer-frames.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import { createChannelPair } from './test-channel-pair.js';
import { TransferManager } from './transfer-manager.js';
import { PEER_A, PEER_B, listPartials, makeDuo, sha256File, tempDir, treeOf, waitState, writeRandomFile } from './test-util.js';

const MiB = 1024 * 1024;

/** Count DATA payload bytes delivered to `ch`; call `onCount` after each. */
function countDelivered(ch: FramedChannel, onCount?: (bytes: number, frames: number) => void): () => number {
  let bytes = 0;
  let frames = 0;
  ch.onFrame((f) => {
    if (f[0] !== FrameType.DATA) return;
    bytes += f.length - DATA_HEADER_SIZE;
    frames++;
    onCount?.(bytes, frames);
  });
  return () => bytes;
}

test('severed mid-way then reattached: resumes, < 5% of bytes resent', async (t) => {
  const size = 64 * MiB;
  const duo = await makeDuo({ pair: { highWaterMark: 1 * MiB, lowWaterMark: 256 * 1024 } });
  t.after(() => duo.close());
  const file = path.join(duo.srcDir, 'movie.mkv');
  await writeRandomFile(file, size, 9);
  let cut = false;
  const delivered1 = countDelivered(duo.pair.b, (bytes) => {
    if (!cut && bytes >= size / 2) {
      cut = true;
      setImmediate(() => duo.pair.sever());
    }
  });
  const sent = await duo.a.send(PEER_B, [file]);
  const [pa, pb] = await Promise.all([waitState(duo.a, sent.id, 'paused'), waitState(duo.b, sent.id, 'paused')]);
  assert.equal(pa.error?.code, 'disconnected');
  assert.equal(pb.error?.code, 'disconnected');
  await duo.b.whenIdle();
  const tree = await treeOf(duo.downloads);
  assert.equal(listPartials(tree).length, 2, 'partial data + sidecar kept');

  const pair2 = duo.reconnect();
  const delivered2 = countDelivered(pair2.b);
  const done = await waitState(duo.b, sent.id, 'completed');
  await waitState(duo.a, sent.id, 'completed');
  assert.equal(await sha256File(path.join(duo.downloads, 'movie.mkv')), await sha256File(file));
  const resent = delivered1() + delivered2() - size;
  const written = duo.dataBytes() - size;
  t.diagnostic(`first attempt delivered ${(delivered1() / MiB).toFixed(1)} MiB, second ${(delivered2() / MiB).toFixed(1)} MiB; resent ${resent} bytes delivered, ${written} written`);
  assert.ok(resent < size * 0.05, `resent ${resent} bytes`);
  assert.ok(written < size * 0.05, `sender wrote ${written} extra bytes`);
  assert.ok(done.bytesSkipped >= size / 2 - 2 * MiB, `bytesSkipped ${done.bytesSkipped}`);
  assert.equal(done.bytesDone, size);
  assert.deepEqual(listPartials(await treeOf(duo.downloads)), []);
});

test('a corrupted chunk in the partial file is detected and sent again', async (t) => {
  const size = 16 * MiB;
  const chunk = 256 * 1024;
  const duo = await makeDuo({ a: { chunkSize: chunk }, pair: { highWaterMark: 512 * 1024, lowWaterMark: 128 * 1024 } });
  t.after(() => duo.close());
  const file = path.join(duo.srcDir, 'data.bin');
  await writeRandomFile(file, size, 11);
  let cut = false;
  countDelivered(duo.pair.b, (bytes) => {
    if (!cut && bytes >= size / 2) {
      cut = true;
      setImmediate(() => duo.pair.sever());
    }
  });
  const sent = await duo.a.send(PEER_B, [file]);
  await waitState(duo.b, sent.id, 'paused');
  await duo.b.whenIdle();
  const partName = listPartials(await treeOf(duo.downloads)).find((p) => p.endsWith('.postern-part'))!;
  const part = path.join(duo.downloads, partName);
  // Flip bytes inside chunk 3 (as a torn write or bit rot would).
  const fh = await fsp.open(part, 'r+');
  await fh.write(Buffer.from('CORRUPT!'), 0, 8, 3 * chunk + 1000);
  await fh.close();

  const pair2 = duo.reconnect();
  const received: number[] = [];
  pair2.b.onFrame((f) => {
    if (f[0] === FrameType.DATA) received.push(Buffer.from(f.buffer, f.byteOffset, f.length).readUInt32BE(22));
  });
  await waitState(duo.b, sent.id, 'completed');
  assert.equal(await sha256File(path.join(duo.downloads, 'data.bin')), await sha256File(file));
  assert.ok(received.includes(3), 'chunk 3 sent again');
  assert.ok(!received.includes(0) && !received.includes(2), 'good chunks not sent again');
});

test('app restart: pending outgoing transfer is persisted and resumes; receiver resumes without asking', async (t) => {
  const root = await tempDir();
  const cleanup: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const c of cleanup) await c();
    await fsp.rm(root, { recursive: true, force: true });
  });
  const size = 24 * MiB;
  const src = path.join(root, 'src', 'backup.tar');
  await writeRandomFile(src, size, 5);
  const optsA = { dataDir: path.join(root, 'data-a'), downloadDir: path.join(root, 'dl-a') };
  const downloads = path.join(root, 'dl-b');
  let answered = 0;
  const optsB = {
    dataDir: path.join(root, 'data-b'),
    downloadDir: downloads,
    autoAccept: () => {
      answered++;
      return true;
    },
  };
  const a1 = new TransferManager(optsA);
  const b1 = new TransferManager(optsB);
  const p1 = createChannelPair({ highWaterMark: 512 * 1024, lowWaterMark: 128 * 1024 });
  let cut = false;
  countDelivered(p1.b, (bytes) => {
    if (!cut && bytes >= size / 3) {
      cut = true;
      setImmediate(() => p1.sever());
    }
  });
  a1.attachChannel(PEER_B, p1.a);
  b1.attachChannel(PEER_A, p1.b);
  const sent = await a1.send(PEER_B, [src]);
  await waitState(b1, sent.id, 'paused');
  await waitState(a1, sent.id, 'paused');
  await a1.close();
  await b1.close();

  const a2 = new TransferManager(optsA);
  const b2 = new TransferManager({ ...optsB, autoAccept: () => false });
  cleanup.push(
    () => a2.close(),
    () => b2.close(),
  );
  await Promise.all([a2.ready(), b2.ready()]);
  assert.equal(a2.get(sent.id)?.state, 'paused');
  assert.equal(b2.get(sent.id)?.state, 'paused');
  const p2 = createChannelPair();
  const delivered2 = countDelivered(p2.b);
  a2.attachChannel(PEER_B, p2.a);
  b2.attachChannel(PEER_A, p2.b);
  await waitState(b2, sent.id, 'completed');
  await waitState(a2, sent.id, 'completed');
  assert.equal(answered, 1, 'the resumed offer was not asked again');
  assert.equal(await sha256File(path.join(downloads, 'backup.tar')), await sha256File(src));
  assert.ok(delivered2() < size - size / 3 + 2 * MiB, `second run delivered ${delivered2()}`);
  // Finished transfers are no longer persisted.
  const persisted = JSON.parse(await fsp.readFile(path.join(root, 'data-a', 'transfers.json'), 'utf8')) as { outgoing: unknown[] };
  assert.deepEqual(persisted.outgoing, []);
});

test('folder resume: finished files are not sent again and not duplicated', async (t) => {
  const duo = await makeDuo({ pair: { highWaterMark: 256 * 1024, lowWaterMark: 64 * 1024 } });
  t.after(() => duo.close());
  const dir = path.join(duo.srcDir, 'Photos');
  for (let i = 0; i < 40; i++) await writeRandomFile(path.join(dir, `img${String(i).padStart(2, '0')}.jpg`), 200 * 1024 + i, i + 1);
  let cut = false;
  const total = 40 * 200 * 1024;
  const delivered1 = countDelivered(duo.pair.b, (bytes) => {
    if (!cut && bytes >= total / 2) {
      cut = true;
      setImmediate(() => duo.pair.sever());
    }
  });
  const sent = await duo.a.send(PEER_B, [dir]);
  await waitState(duo.b, sent.id, 'paused');
  await duo.b.whenIdle();
  const pair2 = duo.reconnect();
  const delivered2 = countDelivered(pair2.b);
  const done = await waitState(duo.b, sent.id, 'completed');
  const tree = await treeOf(duo.downloads);
  assert.deepEqual(tree, await treeOf(duo.srcDir));
  t.diagnostic(`delivered ${delivered1()} + ${delivered2()} of ${done.totalBytes}`);
  assert.ok(delivered1() + delivered2() - done.totalBytes < done.totalBytes * 0.05, 'little resent');
  assert.ok(done.files.every((f) => f.savedPath === f.path && typeof f.sha256 === 'string'));
});
