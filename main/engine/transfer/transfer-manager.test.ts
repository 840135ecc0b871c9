/** End-to-end transfer tests through an in-memory channel pair, real files on disk. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { TransferProgressPayload } from '../../../shared/domain/transfer.js';
import { FrameType } from '../../wire/transfer-frames.js';
import { FrameRouter } from '../channel/frame-router.js';
import { createChannelPair as channelPair } from './test-channel-pair.js';
import { TransferManager as Manager } from './transfer-manager.js';
import { PEER_A, PEER_B, listPartials, makeDuo, sha256File, tempDir, treeOf, waitState, writeRandomFile } from './test-util.js';

test('folder: nested dirs, empty file, empty folder, 2,000 small files', async (t) => {
  const duo = await makeDuo();
  t.after(() => duo.close());
  const album = path.join(duo.srcDir, 'Album');
  await fsp.mkdir(path.join(album, 'nested', 'deeper'), { recursive: true });
  await fsp.mkdir(path.join(album, 'empty-folder'), { recursive: true });
  await fsp.writeFile(path.join(album, 'empty.txt'), '');
  await writeRandomFile(path.join(album, 'nested', 'deeper', 'mid.bin'), 3 * 1024 * 1024 + 17, 7);
  for (let d = 0; d < 10; d++) {
    const sub = path.join(album, 'many', `d${d}`);
    await fsp.mkdir(sub, { recursive: true });
    await Promise.all(Array.from({ length: 200 }, (_, i) => fsp.writeFile(path.join(sub, `f${i}.txt`), `file ${d}/${i}\n`.repeat(i % 7))));
  }
  const offers: string[] = [];
  duo.b.on('offer', (o) => offers.push(o.transfer.id));
  const t0 = performance.now();
  const sent = await duo.a.send(PEER_B, [album]);
  assert.equal(sent.files.length, 2002);
  assert.deepEqual(sent.emptyDirs, ['Album/empty-folder']);
  const [doneA, doneB] = await Promise.all([waitState(duo.a, sent.id, 'completed'), waitState(duo.b, sent.id, 'completed')]);
  t.diagnostic(`2,002 files in ${Math.round(performance.now() - t0)} ms`);
  assert.deepEqual(offers, [sent.id]);
  assert.equal(doneB.direction, 'receive');
  assert.equal(doneB.peerId, PEER_A);
  assert.equal(doneB.saveDir, duo.downloads);
  assert.equal(doneB.bytesDone, doneB.totalBytes);
  assert.equal(doneA.bytesDone, doneA.totalBytes);
  assert.ok(doneB.finishedAt !== null && doneB.finishedAt >= doneB.startedAt);
  const src = await treeOf(duo.srcDir);
  const dst = await treeOf(duo.downloads);
  assert.deepEqual(dst, src);
  const mid = doneB.files.find((f) => f.path === 'Album/nested/deeper/mid.bin');
  assert.equal(mid?.sha256, src['Album/nested/deeper/mid.bin']);
  assert.equal(mid?.savedPath, 'Album/nested/deeper/mid.bin');
  assert.equal(doneA.files.find((f) => f.path === 'Album/empty.txt')?.sha256, src['Album/empty.txt']);
});

test('64 MiB file verified by hash, progress events with rate and ETA', async (t) => {
  const duo = await makeDuo();
  t.after(() => duo.close());
  const size = 64 * 1024 * 1024;
  const file = path.join(duo.srcDir, 'big.bin');
  await writeRandomFile(file, size, 42);
  const progress: TransferProgressPayload[] = [];
  const t0 = performance.now();
  const sent = await duo.a.send(PEER_B, [file]);
  duo.b.on('progress', (p) => progress.push(p));
  const done = await waitState(duo.b, sent.id, 'completed');
  await waitState(duo.a, sent.id, 'completed');
  const secs = (performance.now() - t0) / 1000;
  t.diagnostic(`64 MiB in ${secs.toFixed(2)} s = ${(64 / secs).toFixed(0)} MiB/s`);
  const srcHash = await sha256File(file);
  assert.equal(await sha256File(path.join(duo.downloads, 'big.bin')), srcHash);
  assert.equal(done.files[0]?.sha256, srcHash);
  assert.ok(progress.length >= 2, 'progress events');
  const last = progress[progress.length - 1]!;
  assert.equal(last.bytesDone, size);
  assert.equal(last.etaSec, 0);
  const mids = progress.filter((p) => p.bytesDone > 0 && p.bytesDone < size);
  if (mids.length > 0) {
    assert.ok(mids.some((p) => p.rate > 0), 'rate while active');
    for (const p of mids) assert.ok(p.etaSec === null || p.etaSec >= 0);
  }
  // Throttled: never many more than one per 200 ms.
  assert.ok(progress.length <= secs * 5 + 3, `${progress.length} progress events in ${secs}s`);
  assert.deepEqual(listPartials(await treeOf(duo.downloads)), []);
});

test('decline', async (t) => {
  const duo = await makeDuo({ autoAccept: false });
  t.after(() => duo.close());
  await fsp.writeFile(path.join(duo.srcDir, 'x.txt'), 'x');
  const offered = new Promise<string>((r) => duo.b.on('offer', (o) => r(o.transfer.id)));
  const sent = await duo.a.send(PEER_B, [path.join(duo.srcDir, 'x.txt')]);
  assert.equal(sent.state, 'waiting-accept');
  const id = await offered;
  assert.equal(id, sent.id);
  assert.equal(duo.b.get(id)?.state, 'offered');
  duo.b.decline(id);
  const a = await waitState(duo.a, id, 'declined');
  assert.ok(a.finishedAt);
  assert.equal(duo.b.get(id)?.state, 'declined');
  await assert.rejects(fsp.stat(path.join(duo.downloads, 'x.txt')));
});

test('manual accept into a chosen folder; existing file gets " (1)"', async (t) => {
  const duo = await makeDuo({ autoAccept: false });
  t.after(() => duo.close());
  await fsp.writeFile(path.join(duo.srcDir, 'report.pdf'), 'new content');
  const chosen = path.join(duo.root, 'chosen');
  await fsp.mkdir(chosen);
  await fsp.writeFile(path.join(chosen, 'report.pdf'), 'old content');
  const offered = new Promise<string>((r) => duo.b.on('offer', (o) => r(o.transfer.id)));
  const sent = await duo.a.send(PEER_B, [path.join(duo.srcDir, 'report.pdf')]);
  await offered;
  await duo.b.accept(sent.id, { saveDir: chosen });
  const done = await waitState(duo.b, sent.id, 'completed');
  assert.equal(done.files[0]?.savedPath, 'report (1).pdf');
  assert.equal(await fsp.readFile(path.join(chosen, 'report.pdf'), 'utf8'), 'old content');
  assert.equal(await fsp.readFile(path.join(chosen, 'report (1).pdf'), 'utf8'), 'new content');
});

for (const side of ['sender', 'receiver'] as const) {
  test(`cancel from the ${side} mid-way: both cancelled, unfinished partials deleted`, async (t) => {
    // Cancel as soon as the 8th DATA frame is on its way (deterministic, whatever the speed).
    let dataFrames = 0;
    let id = '';
    let reached!: () => void;
    const midway = new Promise<void>((r) => (reached = r));
    const duo = await makeDuo({
      a: { chunkSize: 256 * 1024 },
      pair: {
        tap: (frame, from) => {
          if (from === 'a' && frame[0] === FrameType.DATA && ++dataFrames === 8) reached();
          return frame;
        },
      },
    });
    t.after(() => duo.close());
    const file = path.join(duo.srcDir, 'big.bin');
    await writeRandomFile(file, 48 * 1024 * 1024, 3);
    const sent = await duo.a.send(PEER_B, [file]);
    id = sent.id;
    await midway;
    (side === 'sender' ? duo.a : duo.b).cancel(id);
    await Promise.all([waitState(duo.a, sent.id, 'cancelled'), waitState(duo.b, sent.id, 'cancelled')]);
    await new Promise((r) => setTimeout(r, 100));
    const tree = await treeOf(duo.downloads);
    assert.deepEqual(listPartials(tree), []);
    assert.equal(tree['big.bin'], undefined);
    assert.ok(dataFrames < 48 * 4, `stopped early (${dataFrames} DATA frames)`);
  });
}

test('several transfers at once, both directions on one channel', async (t) => {
  const duo = await makeDuo({ a: { autoAccept: () => true } });
  t.after(() => duo.close());
  const dlA = path.join(duo.root, 'dl-a');
  const files: string[] = [];
  for (let i = 0; i < 4; i++) {
    const f = path.join(duo.srcDir, `f${i}.bin`);
    await writeRandomFile(f, 5 * 1024 * 1024 + i * 1000, 100 + i);
    files.push(f);
  }
  const sends = await Promise.all([
    duo.a.send(PEER_B, [files[0]!]),
    duo.a.send(PEER_B, [files[1]!]),
    duo.b.send(PEER_A, [files[2]!]),
    duo.b.send(PEER_A, [files[3]!]),
  ]);
  await Promise.all([
    waitState(duo.b, sends[0]!.id, 'completed'),
    waitState(duo.b, sends[1]!.id, 'completed'),
    waitState(duo.a, sends[2]!.id, 'completed'),
    waitState(duo.a, sends[3]!.id, 'completed'),
  ]);
  assert.equal(await sha256File(path.join(duo.downloads, 'f0.bin')), await sha256File(files[0]!));
  assert.equal(await sha256File(path.join(duo.downloads, 'f1.bin')), await sha256File(files[1]!));
  assert.equal(await sha256File(path.join(dlA, 'f2.bin')), await sha256File(files[2]!));
  assert.equal(await sha256File(path.join(dlA, 'f3.bin')), await sha256File(files[3]!));
  assert.equal(duo.a.list().length, 4);
});

test('send to an offline peer: paused, offered when it connects', async (t) => {
  const duo = await makeDuo();
  t.after(() => duo.close());
  duo.pair.sever();
  await fsp.writeFile(path.join(duo.srcDir, 'later.txt'), 'later');
  const sent = await duo.a.send(PEER_B, [path.join(duo.srcDir, 'later.txt')]);
  assert.equal(sent.state, 'paused');
  assert.equal(sent.error?.code, 'disconnected');
  duo.reconnect();
  await waitState(duo.b, sent.id, 'completed');
  assert.equal(await fsp.readFile(path.join(duo.downloads, 'later.txt'), 'utf8'), 'later');
});

test('send with a missing path rejects with not-found', async (t) => {
  const duo = await makeDuo();
  t.after(() => duo.close());
  await assert.rejects(duo.a.send(PEER_B, [path.join(duo.srcDir, 'nope')]), /does not exist/);
});

test('a received folder whose name is taken by a file fails with path-conflict', async (t) => {
  const duo = await makeDuo();
  t.after(() => duo.close());
  await fsp.mkdir(path.join(duo.srcDir, 'Docs'));
  await fsp.writeFile(path.join(duo.srcDir, 'Docs', 'a.txt'), 'a');
  await fsp.mkdir(duo.downloads, { recursive: true });
  await fsp.writeFile(path.join(duo.downloads, 'Docs'), 'I am a file');
  const sent = await duo.a.send(PEER_B, [path.join(duo.srcDir, 'Docs')]);
  const b = await waitState(duo.b, sent.id, 'failed');
  assert.equal(b.error?.code, 'path-conflict');
  assert.match(b.error!.message, /Docs.*in the way/);
});

test('transfers to two peers over two channels at once', async (t) => {
  const duo = await makeDuo();
  let closeC = async (): Promise<void> => undefined;
  t.after(async () => {
    await closeC();
    await duo.close();
  });
  const { TransferManager } = await import('./transfer-manager.js');
  const { createChannelPair } = await import('./test-channel-pair.js');
  const peerC = 'c'.repeat(64);
  const dlC = path.join(duo.root, 'dl-c');
  const c = new TransferManager({ dataDir: path.join(duo.root, 'data-c'), downloadDir: dlC, autoAccept: () => true });
  closeC = () => c.close();
  const pair = createChannelPair();
  duo.a.attachChannel(peerC, pair.a);
  c.attachChannel(PEER_A, pair.b);
  const file = path.join(duo.srcDir, 'shared.bin');
  await writeRandomFile(file, 12 * 1024 * 1024, 77);
  const [toB, toC] = await Promise.all([duo.a.send(PEER_B, [file]), duo.a.send(peerC, [file])]);
  await Promise.all([waitState(duo.b, toB.id, 'completed'), waitState(c, toC.id, 'completed')]);
  const h = await sha256File(file);
  assert.equal(await sha256File(path.join(duo.downloads, 'shared.bin')), h);
  assert.equal(await sha256File(path.join(dlC, 'shared.bin')), h);
  // Dropping C's channel does not disturb B.
  pair.sever();
  assert.equal(duo.a.get(toB.id)?.state, 'completed');
});

test('an offer that arrives before the receiver attaches (queued by its FrameRouter) is taken, not dropped', async (t) => {
  // The receiver that typed the code is still saving the contact when the sender's
  // OFFER arrives: the FrameRouter queues it and hands it over when the transfer
  // manager subscribes. It once dropped it there (the channel was not yet its own)
  // and the transfer waited for a re-offer. Nothing re-offers here.
  const root = await tempDir();
  const downloads = path.join(root, 'downloads');
  const a = new Manager({ dataDir: path.join(root, 'data-a'), downloadDir: path.join(root, 'dl-a') });
  const b = new Manager({ dataDir: path.join(root, 'data-b'), downloadDir: downloads, autoAccept: () => true });
  t.after(async () => {
    await a.close();
    await b.close();
    await fsp.rm(root, { recursive: true, force: true });
  });
  const pair = channelPair();
  const routerB = new FrameRouter(pair.b); // as receiveGreeting makes it, before any session
  a.attachChannel(PEER_B, pair.a);
  await fsp.writeFile(path.join(root, 'early.txt'), 'early');
  const sent = await a.send(PEER_B, [path.join(root, 'early.txt')]);
  while (routerB.bytesIn === 0) await new Promise((r) => setImmediate(r));
  const offers: string[] = [];
  b.on('offer', (o) => offers.push(o.transfer.id));
  b.attachChannel(PEER_A, routerB.transferView());
  assert.deepEqual(offers, [sent.id]);
  await waitState(b, sent.id, 'completed', 5000);
  assert.equal(await fsp.readFile(path.join(downloads, 'early.txt'), 'utf8'), 'early');
});
