/**
 * A hostile or buggy peer: raw frames written straight into a manager's channel.
 * The transfer it names fails cleanly (and the peer is told), nothing is written
 * outside the save folder, and nothing throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  COMMON_HEADER_SIZE,
  FrameType,
  WIRE_VERSION,
  encodeAccept as encodeAcceptFrames,
  encodeAck,
  encodeData,
  encodeFileEnd,
  encodeOffer as encodeOfferFrames,
  encodeResend,
  parseTransferFrame,
  type TransferFrame,
} from '../../wire/transfer-frames.js';
import { createChannelPair } from './test-channel-pair.js';
import { TransferManager } from './transfer-manager.js';
import { PEER_A, PEER_B, tempDir, treeOf, waitState } from './test-util.js';

// Small lists fit in one frame.
const encodeOffer = (...a: Parameters<typeof encodeOfferFrames>): Uint8Array => encodeOfferFrames(...a)[0]!;
const encodeAccept = (...a: Parameters<typeof encodeAcceptFrames>): Uint8Array => encodeAcceptFrames(...a)[0]!;
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
const newId = (): string => randomBytes(16).toString('hex');

/** Manager `m` (as the victim) wired to a raw channel the test drives. */
async function victim(t: { after(fn: () => Promise<void>): void }, opts: { autoAccept?: boolean } = {}) {
  const root = await tempDir();
  const downloads = path.join(root, 'dl');
  const logs: string[] = [];
  const m = new TransferManager({
    dataDir: path.join(root, 'data'),
    downloadDir: downloads,
    ...(opts.autoAccept === false ? {} : { autoAccept: () => true }),
    log: (s) => logs.push(s),
  });
  const pair = createChannelPair();
  m.attachChannel(PEER_A, pair.b);
  const got: TransferFrame[] = [];
  const waiters: { pred: (f: TransferFrame) => boolean; resolve: (f: TransferFrame) => void }[] = [];
  pair.a.onFrame((raw) => {
    const f = parseTransferFrame(raw);
    got.push(f);
    for (const w of [...waiters]) {
      if (w.pred(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  const expectFrame = (pred: (f: TransferFrame) => boolean): Promise<TransferFrame> => {
    const hit = got.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => waiters.push({ pred, resolve }));
  };
  t.after(async () => {
    await m.close();
    await fsp.rm(root, { recursive: true, force: true });
  });
  return { m, root, downloads, raw: pair.a, got, expectFrame, logs };
}

function jsonFrame(type: number, id: string, body: string | Uint8Array): Uint8Array {
  const json = typeof body === 'string' ? Buffer.from(body) : body;
  const f = new Uint8Array(COMMON_HEADER_SIZE + json.length);
  f[0] = type;
  f[1] = WIRE_VERSION;
  f.set(Buffer.from(id, 'hex'), 2);
  f.set(json, COMMON_HEADER_SIZE);
  return f;
}

const offerOf = (files: { path: string; size: number }[], chunkSize = 64 * 1024) => ({
  files: files.map((f) => ({ ...f, mtimeMs: 1, chunkSize })),
  emptyDirs: [],
});

test('offer with ../../etc/passwd: transfer fails (unsafe-path), sender told, nothing written', async (t) => {
  const v = await victim(t);
  const id = newId();
  v.raw.write(encodeOffer(id, offerOf([{ path: '../../etc/passwd', size: 10 }])));
  const err = await v.expectFrame((f) => f.type === FrameType.ERROR && f.transferId === id);
  assert.ok(err.type === FrameType.ERROR && err.body.code === 'unsafe-path' && err.body.role === 'receiver');
  const info = await waitState(v.m, id, 'failed');
  assert.equal(info.error?.code, 'unsafe-path');
  assert.match(info.error!.message, /unsafe file name/);
  // Data for it anyway: ignored.
  v.raw.write(encodeData(id, 0, 0, sha(Buffer.alloc(10)), Buffer.alloc(10)));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await fsp.readdir(v.root), ['data']);
  for (const p of ['/etc/passwd.postern-part', path.join(v.root, '..', 'etc')]) await assert.rejects(fsp.stat(p));
});

test('absolute and drive-letter paths are refused too', async (t) => {
  const v = await victim(t);
  for (const bad of ['/etc/shadow', 'C:\\Windows\\win.ini', 'ok/../../x', 'a\\..\\..\\b']) {
    const id = newId();
    v.raw.write(encodeOffer(id, offerOf([{ path: 'fine.txt', size: 1 }, { path: bad, size: 1 }])));
    assert.equal((await waitState(v.m, id, 'failed')).error?.code, 'unsafe-path', bad);
  }
});

async function acceptedTransfer(v: Awaited<ReturnType<typeof victim>>, size = 100_000): Promise<string> {
  const id = newId();
  v.raw.write(encodeOffer(id, offerOf([{ path: 'f.bin', size }])));
  await v.expectFrame((f) => f.type === FrameType.ACCEPT && f.transferId === id);
  await waitState(v.m, id, 'active');
  return id;
}

async function expectProtocolFailure(v: Awaited<ReturnType<typeof victim>>, id: string, pattern: RegExp): Promise<void> {
  const info = await waitState(v.m, id, 'failed');
  assert.equal(info.error?.code, 'protocol-error');
  assert.match(info.error!.message, pattern);
  const err = await v.expectFrame((f) => f.type === FrameType.ERROR && f.transferId === id);
  assert.ok(err.type === FrameType.ERROR && err.body.code === 'protocol-error');
}

test('DATA with a chunk index out of range fails the transfer', async (t) => {
  const v = await victim(t);
  const id = await acceptedTransfer(v);
  const p = Buffer.alloc(100);
  v.raw.write(encodeData(id, 0, 7, sha(p), p));
  await expectProtocolFailure(v, id, /chunk index 7 out of range/);
});

test('DATA for a file index out of range / wrong length fails the transfer', async (t) => {
  const v = await victim(t);
  const id1 = await acceptedTransfer(v);
  v.raw.write(encodeData(id1, 5, 0, sha(Buffer.alloc(1)), Buffer.alloc(1)));
  await expectProtocolFailure(v, id1, /file index 5/);
  const id2 = await acceptedTransfer(v);
  v.raw.write(encodeData(id2, 0, 0, sha(Buffer.alloc(3)), Buffer.alloc(3)));
  await expectProtocolFailure(v, id2, /expected 65536/);
});

test('oversized or malformed frames naming a transfer fail it; unnamed garbage is dropped', async (t) => {
  const v = await victim(t);
  const id = await acceptedTransfer(v);
  v.raw.write(jsonFrame(FrameType.CANCEL, id, JSON.stringify({ role: 'sender', reason: 'x'.repeat(100_000) })));
  await expectProtocolFailure(v, id, /exceeds/);
  const id2 = await acceptedTransfer(v);
  v.raw.write(jsonFrame(FrameType.ERROR, id2, '{"role": "sender", "code": 12}'));
  await expectProtocolFailure(v, id2, /code must be a string/);
  const id3 = await acceptedTransfer(v);
  v.raw.write(encodeFileEnd(id3, 9, Buffer.alloc(32)));
  await expectProtocolFailure(v, id3, /FILE_END for file 9/);
  // Huge OFFER for an unknown id: refused at parse, logged, nothing created.
  const big = newId();
  v.raw.write(jsonFrame(FrameType.OFFER, big, Buffer.alloc(17 * 1024 * 1024, 0x20)));
  // Random garbage in the transfer range, truncated headers, wrong version.
  for (let i = 0; i < 300; i++) {
    const g = randomBytes(1 + (i % 80));
    g[0] = 0x20 + (i % 32);
    v.raw.write(g);
  }
  v.raw.write(Uint8Array.of(FrameType.DATA));
  v.raw.write(jsonFrame(FrameType.OFFER, newId(), '{"files":[{"path":"a","size":-5,"mtimeMs":0,"chunkSize":65536}]}'));
  // A still-working transfer afterwards proves the manager is healthy.
  const ok = await acceptedTransfer(v, 5);
  const p = Buffer.from('hello');
  v.raw.write(encodeData(ok, 0, 0, sha(p), p));
  v.raw.write(encodeFileEnd(ok, 0, sha(p)));
  await v.expectFrame((f) => f.type === FrameType.COMPLETE && f.transferId === ok);
  assert.equal(await fsp.readFile(path.join(v.downloads, 'f.bin'), 'utf8'), 'hello');
  assert.equal(v.m.get(big), undefined);
  assert.ok(v.logs.some((l) => l.includes('oversized') || l.includes('exceeds')));
});

test('whole-file hash mismatch: file not saved, transfer fails clearly', async (t) => {
  const v = await victim(t);
  const id = await acceptedTransfer(v, 5);
  const p = Buffer.from('hello');
  v.raw.write(encodeData(id, 0, 0, sha(p), p));
  v.raw.write(encodeFileEnd(id, 0, sha(Buffer.from('other'))));
  const info = await waitState(v.m, id, 'failed');
  assert.equal(info.error?.code, 'file-hash-mismatch');
  await v.m.whenIdle();
  assert.deepEqual(await treeOf(v.downloads), {});
});

test('a sender ignoring flow control is cut off instead of exhausting memory', async (t) => {
  const v = await victim(t);
  const size = 1024 * 1024 * 1024;
  const id = newId();
  v.raw.write(encodeOffer(id, offerOf([{ path: 'flood.bin', size }], 1024 * 1024)));
  await v.expectFrame((f) => f.type === FrameType.ACCEPT && f.transferId === id);
  const p = Buffer.alloc(1024 * 1024);
  const h = sha(p);
  for (let i = 0; i < 200; i++) v.raw.write(encodeData(id, 0, i, h, p));
  await expectProtocolFailure(v, id, /flow control/);
});

test('frames for transfers of another peer, or unknown ids, are ignored', async (t) => {
  const v = await victim(t);
  const id = await acceptedTransfer(v, 5);
  // Same id offered again by another peer on another channel: refused.
  const other = createChannelPair();
  v.m.attachChannel(PEER_B, other.b);
  const refused = new Promise<TransferFrame>((r) => other.a.onFrame((f) => r(parseTransferFrame(f))));
  other.a.write(encodeOffer(id, offerOf([{ path: 'evil', size: 1 }])));
  const f = await refused;
  assert.ok(f.type === FrameType.ERROR && f.body.code === 'protocol-error');
  other.a.write(encodeData(id, 0, 0, sha(Buffer.from('HELLO')), Buffer.from('HELLO')));
  v.raw.write(encodeAck(newId(), 5));
  v.raw.write(encodeResend(newId(), 0, 0));
  v.raw.write(encodeAccept(newId(), { files: [] }));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(v.m.get(id)?.state, 'active');
  const p = Buffer.from('hello');
  v.raw.write(encodeData(id, 0, 0, sha(p), p));
  v.raw.write(encodeFileEnd(id, 0, sha(p)));
  await waitState(v.m, id, 'completed');
  assert.equal(await fsp.readFile(path.join(v.downloads, 'f.bin'), 'utf8'), 'hello');
});

test('hostile receiver: bad ACCEPT / ACK / RESEND fail the outgoing transfer', async (t) => {
  const v = await victim(t);
  const src = path.join(v.root, 'src.bin');
  await fsp.writeFile(src, Buffer.alloc(200_000, 7));
  const cases: [string, (id: string) => Uint8Array, RegExp][] = [
    ['accept out of range', (id) => encodeAccept(id, { files: [{ index: 0, have: [999], hashes: [Buffer.alloc(32)] }] }), /claims chunk 999/],
    ['accept bad file', (id) => encodeAccept(id, { files: [{ index: 3, have: [], hashes: [] }] }), /file 3/],
  ];
  for (const [name, frame, pattern] of cases) {
    const sent = await v.m.send(PEER_A, [src]);
    await v.expectFrame((f) => f.type === FrameType.OFFER && f.transferId === sent.id);
    v.raw.write(frame(sent.id));
    const info = await waitState(v.m, sent.id, 'failed');
    assert.equal(info.error?.code, 'protocol-error', name);
    assert.match(info.error!.message, pattern);
  }
  const sent = await v.m.send(PEER_A, [src]);
  await v.expectFrame((f) => f.type === FrameType.OFFER && f.transferId === sent.id);
  v.raw.write(encodeAccept(sent.id, { files: [] }));
  await waitState(v.m, sent.id, 'active');
  v.raw.write(encodeAck(sent.id, 2 ** 40));
  assert.match((await waitState(v.m, sent.id, 'failed')).error!.message, /ack of/);

  const s2 = await v.m.send(PEER_A, [src]);
  await v.expectFrame((f) => f.type === FrameType.OFFER && f.transferId === s2.id);
  v.raw.write(encodeAccept(s2.id, { files: [] }));
  await waitState(v.m, s2.id, 'active');
  v.raw.write(encodeResend(s2.id, 0, 999));
  assert.match((await waitState(v.m, s2.id, 'failed')).error!.message, /resend of chunk 999/);
});

test('multi-part offers: reassembled in order; out-of-order parts refused', async (t) => {
  const v = await victim(t);
  const files = Array.from({ length: 300 }, (_, i) => ({ path: `many/f${i}.txt`, size: 0 }));
  const id = newId();
  const frames = encodeOfferFrames(id, offerOf(files), 4096);
  assert.ok(frames.length > 2);
  for (const f of frames) v.raw.write(f);
  await v.expectFrame((f) => f.type === FrameType.ACCEPT && f.transferId === id);
  for (let i = 0; i < 300; i++) v.raw.write(encodeFileEnd(id, i, sha(new Uint8Array(0))));
  await waitState(v.m, id, 'completed');
  assert.equal((await fsp.readdir(path.join(v.downloads, 'many'))).length, 300);

  const id2 = newId();
  const frames2 = encodeOfferFrames(id2, offerOf(files), 4096);
  v.raw.write(frames2[1]!);
  const err = await v.expectFrame((f) => f.type === FrameType.ERROR && f.transferId === id2);
  assert.ok(err.type === FrameType.ERROR && /out of order/.test(err.body.message));
  assert.equal(v.m.get(id2), undefined);
});

test('sender: multi-part ACCEPT is reassembled; a wrongly claimed chunk is sent anyway', async (t) => {
  const v = await victim(t);
  const src = path.join(v.root, 'src.bin');
  const MiB = 1024 * 1024;
  const content = randomBytes(MiB + 1000); // two chunks at the default 1 MiB
  await fsp.writeFile(src, content);
  const sent = await v.m.send(PEER_A, [src]);
  await v.expectFrame((f) => f.type === FrameType.OFFER && f.transferId === sent.id);
  const good = { index: 0, have: [1], hashes: [sha(content.subarray(MiB))] };
  const wrong = { index: 0, have: [0], hashes: [Buffer.alloc(32)] };
  const frames = encodeAcceptFrames(sent.id, { files: [wrong, good] }, 250);
  assert.equal(frames.length, 2);
  for (const f of frames) v.raw.write(f);
  const data = await v.expectFrame((f) => f.type === FrameType.DATA && f.transferId === sent.id);
  assert.ok(data.type === FrameType.DATA && data.chunkIndex === 0 && Buffer.from(data.payload).equals(content.subarray(0, MiB)));
  const end = await v.expectFrame((f) => f.type === FrameType.FILE_END && f.transferId === sent.id);
  assert.ok(end.type === FrameType.FILE_END && Buffer.from(end.sha256).equals(sha(content)));
  assert.equal(v.got.filter((f) => f.type === FrameType.DATA).length, 1, 'chunk 1 (claimed correctly) not sent');
  v.raw.write(encodeAck(sent.id, MiB));
  v.raw.write(jsonFrame(FrameType.COMPLETE, sent.id, '{}'));
  const done = await waitState(v.m, sent.id, 'completed');
  assert.equal(done.bytesSkipped, 1000);
  assert.equal(done.files[0]?.sha256, sha(content).toString('hex'));
});
