/** Unit tests for the transfer wire format: round trips and hostile inputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  ACK_SIZE,
  COMMON_HEADER_SIZE,
  DATA_HEADER_SIZE,
  FrameType,
  MAX_CHUNK_SIZE,
  MAX_SMALL_JSON,
  WIRE_VERSION,
  MAX_PARTS,
  PartCollector,
  WireError,
  allocDataFrame,
  checkDataAgainstOffer,
  chunkCount,
  chunkLength,
  encodeAccept,
  encodeAck,
  encodeCancel,
  encodeComplete,
  encodeData,
  encodeDecline,
  encodeError,
  encodeFileDone,
  encodeFileEnd,
  encodeOffer,
  encodeResend,
  parseTransferFrame,
  tryParseTransferFrame,
  writeDataHeader,
  type WireErrorCode,
} from './transfer-frames.js';

const ID = '0123456789abcdef0123456789abcdef';
const sha = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

function expectWire(frame: Uint8Array, code: WireErrorCode): WireError {
  try {
    parseTransferFrame(frame);
  } catch (err) {
    assert.ok(err instanceof WireError, `expected WireError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected WireError ${code}`);
}

function jsonFrame(type: number, body: unknown, version = WIRE_VERSION): Uint8Array {
  const json = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const f = new Uint8Array(COMMON_HEADER_SIZE + json.length);
  f[0] = type;
  f[1] = version;
  f.set(Buffer.from(ID, 'hex'), 2);
  f.set(json, COMMON_HEADER_SIZE);
  return f;
}

test('round-trips every frame type', () => {
  const offer = { files: [{ path: 'a/b.txt', size: 5, mtimeMs: 1700000000000, chunkSize: 1 << 20 }], emptyDirs: ['a/empty'] };
  const o = parseTransferFrame(encodeOffer(ID, offer)[0]!);
  assert.equal(o.type, FrameType.OFFER);
  assert.equal(o.transferId, ID);
  if (o.type === FrameType.OFFER) {
    assert.deepEqual(o.body, offer);
    assert.equal(o.part, 0);
    assert.equal(o.parts, 1);
  }

  const h = sha(Buffer.from('x'));
  const a = parseTransferFrame(encodeAccept(ID, { files: [{ index: 0, have: [0, 2], hashes: [h, h] }] })[0]!);
  assert.equal(a.type, FrameType.ACCEPT);
  if (a.type === FrameType.ACCEPT) {
    assert.deepEqual(a.body.files[0]?.have, [0, 2]);
    assert.deepEqual(Buffer.from(a.body.files[0]!.hashes[1]!), Buffer.from(h));
  }

  const a2 = parseTransferFrame(encodeAccept(ID, { files: [{ index: 3, have: [], hashes: [], done: true }] })[0]!);
  if (a2.type === FrameType.ACCEPT) assert.deepEqual(a2.body.files[0], { index: 3, have: [], hashes: [], done: true });

  const d = parseTransferFrame(encodeDecline(ID, 'no thanks'));
  assert.deepEqual(d, { type: FrameType.DECLINE, transferId: ID, body: { reason: 'no thanks' } });

  const payload = Buffer.from('hello world');
  const data = parseTransferFrame(encodeData(ID, 3, 7, sha(payload), payload));
  assert.equal(data.type, FrameType.DATA);
  if (data.type === FrameType.DATA) {
    assert.equal(data.fileIndex, 3);
    assert.equal(data.chunkIndex, 7);
    assert.deepEqual(Buffer.from(data.payload), payload);
    assert.deepEqual(Buffer.from(data.sha256), Buffer.from(sha(payload)));
  }

  const fe = parseTransferFrame(encodeFileEnd(ID, 9, h));
  assert.equal(fe.type, FrameType.FILE_END);
  if (fe.type === FrameType.FILE_END) assert.equal(fe.fileIndex, 9);

  assert.deepEqual(parseTransferFrame(encodeAck(ID, 2 ** 40 + 5)), { type: FrameType.ACK, transferId: ID, bytes: 2 ** 40 + 5 });
  assert.deepEqual(parseTransferFrame(encodeResend(ID, 1, 2)), { type: FrameType.RESEND, transferId: ID, fileIndex: 1, chunkIndex: 2 });
  assert.deepEqual(parseTransferFrame(encodeComplete(ID)), { type: FrameType.COMPLETE, transferId: ID });
  assert.deepEqual(parseTransferFrame(encodeCancel(ID, 'receiver', 'bored')), {
    type: FrameType.CANCEL,
    transferId: ID,
    body: { role: 'receiver', reason: 'bored' },
  });
  assert.deepEqual(parseTransferFrame(encodeError(ID, { role: 'sender', code: 'disk-full', message: 'm' })), {
    type: FrameType.ERROR,
    transferId: ID,
    body: { role: 'sender', code: 'disk-full', message: 'm' },
  });
});

test('allocDataFrame + writeDataHeader builds the same frame as encodeData, payload is a view', () => {
  const payload = Buffer.from('abcdefgh');
  const f = allocDataFrame(payload.length);
  payload.copy(f, DATA_HEADER_SIZE);
  writeDataHeader(f, ID, 1, 2, sha(payload));
  assert.deepEqual(Buffer.from(f), Buffer.from(encodeData(ID, 1, 2, sha(payload), payload)));
  const p = parseTransferFrame(f);
  assert.ok(p.type === FrameType.DATA);
  if (p.type === FrameType.DATA) assert.equal(p.payload.buffer, f.buffer);
});

test('truncated and bad-type frames', () => {
  expectWire(new Uint8Array(0), 'truncated');
  expectWire(Uint8Array.of(0x05, 1), 'bad-type');
  expectWire(Uint8Array.of(0x3f, 1), 'bad-type');
  expectWire(Uint8Array.of(FrameType.DATA, 1, 2, 3), 'truncated');
  const data = encodeData(ID, 0, 0, new Uint8Array(32), new Uint8Array(0));
  expectWire(data.subarray(0, DATA_HEADER_SIZE - 1), 'truncated');
  const ack = encodeAck(ID, 1);
  expectWire(ack.subarray(0, ACK_SIZE - 1), 'truncated');
  const longAck = new Uint8Array(ACK_SIZE + 1);
  longAck.set(ack);
  expectWire(longAck, 'bad-length');
  expectWire(encodeFileEnd(ID, 0, new Uint8Array(32)).subarray(0, 30), 'truncated');
  expectWire(encodeResend(ID, 0, 0).subarray(0, 21), 'truncated');
});

test('bad version carries the transfer id', () => {
  const err = expectWire(jsonFrame(FrameType.COMPLETE, {}, 99), 'bad-version');
  assert.equal(err.transferId, ID);
});

test('malformed JSON bodies', () => {
  expectWire(jsonFrame(FrameType.OFFER, '{not json'), 'bad-json');
  expectWire(jsonFrame(FrameType.OFFER, '[1,2]'), 'bad-json');
  expectWire(jsonFrame(FrameType.OFFER, 'null'), 'bad-json');
  const badUtf8 = jsonFrame(FrameType.DECLINE, '{}');
  const f = new Uint8Array(badUtf8.length + 2);
  f.set(badUtf8);
  f.set([0xff, 0xfe], badUtf8.length);
  expectWire(f, 'bad-json');
  const e = expectWire(jsonFrame(FrameType.COMPLETE, 'x'), 'bad-json');
  assert.equal(e.transferId, ID);
});

test('oversized JSON bodies and strings', () => {
  expectWire(jsonFrame(FrameType.DECLINE, { reason: 'x'.repeat(MAX_SMALL_JSON) }), 'oversized');
  expectWire(jsonFrame(FrameType.DECLINE, { reason: 'x'.repeat(5000) }), 'oversized');
  expectWire(
    jsonFrame(FrameType.OFFER, { files: [{ path: 'a'.repeat(5000), size: 1, mtimeMs: 0, chunkSize: 1 << 20 }], emptyDirs: [] }),
    'oversized',
  );
});

test('offer field validation', () => {
  const good = { path: 'a', size: 1, mtimeMs: 0, chunkSize: 1 << 20 };
  const bad: unknown[] = [
    { files: 'nope', emptyDirs: [] },
    { files: [null], emptyDirs: [] },
    { files: [{ ...good, path: 5 }], emptyDirs: [] },
    { files: [{ ...good, size: -1 }], emptyDirs: [] },
    { files: [{ ...good, size: 1.5 }], emptyDirs: [] },
    { files: [{ ...good, size: '1' }], emptyDirs: [] },
    { files: [{ ...good, size: 2 ** 60 }], emptyDirs: [] },
    { files: [{ ...good, chunkSize: 0 }], emptyDirs: [] },
    { files: [{ ...good, chunkSize: 100 }], emptyDirs: [] },
    { files: [{ ...good, chunkSize: MAX_CHUNK_SIZE * 2 }], emptyDirs: [] },
    { files: [{ ...good, mtimeMs: 'yesterday' }], emptyDirs: [] },
    { files: [good], emptyDirs: [3] },
    { files: [good], emptyDirs: 'x' },
  ];
  for (const b of bad) expectWire(jsonFrame(FrameType.OFFER, b), 'bad-field');
  // Too many chunks for a u32 chunk index.
  expectWire(jsonFrame(FrameType.OFFER, { files: [{ ...good, size: 2 ** 52, chunkSize: 16384 }], emptyDirs: [] }), 'bad-field');
  // emptyDirs may be omitted.
  const ok = parseTransferFrame(jsonFrame(FrameType.OFFER, { files: [good] }));
  assert.ok(ok.type === FrameType.OFFER);
});

test('chunk hash negotiation fields and FILE_DONE', () => {
  const offer = { files: [{ path: 'a', size: 1, mtimeMs: 1, chunkSize: 1 << 20 }], emptyDirs: [], chunkHashes: ['blake3', 'future'] };
  const o = parseTransferFrame(encodeOffer(ID, offer)[0]!);
  assert.ok(o.type === FrameType.OFFER);
  assert.deepEqual(o.body, offer);
  // Every part of a split OFFER/ACCEPT carries the field.
  const many = { files: Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, size: 1, mtimeMs: 1, chunkSize: 1 << 20 })), emptyDirs: [], chunkHashes: ['blake3'] };
  const parts = encodeOffer(ID, many, 1024);
  assert.ok(parts.length > 1);
  for (const p of parts) {
    const f = parseTransferFrame(p);
    assert.ok(f.type === FrameType.OFFER);
    assert.deepEqual(f.body.chunkHashes, ['blake3']);
  }
  const h = Buffer.alloc(32, 7);
  const a = parseTransferFrame(encodeAccept(ID, { files: [{ index: 0, have: [1], hashes: [h] }], chunkHash: 'blake3' })[0]!);
  assert.ok(a.type === FrameType.ACCEPT);
  assert.equal(a.body.chunkHash, 'blake3');
  const plain = parseTransferFrame(encodeAccept(ID, { files: [], chunkHash: 'sha256' })[0]!);
  assert.ok(plain.type === FrameType.ACCEPT);
  assert.equal(plain.body.chunkHash, undefined, 'sha256 is the default, not written');
  expectWire(jsonFrame(FrameType.ACCEPT, { files: [], chunkHash: 'md5' }), 'bad-field');
  expectWire(jsonFrame(FrameType.OFFER, { files: [], emptyDirs: [], chunkHashes: 'blake3' }), 'bad-field');
  expectWire(jsonFrame(FrameType.OFFER, { files: [], emptyDirs: [], chunkHashes: [1] }), 'bad-field');
  expectWire(jsonFrame(FrameType.OFFER, { files: [], emptyDirs: [], chunkHashes: Array(9).fill('x') }), 'oversized');
  const done = parseTransferFrame(encodeFileDone(ID, 4, h));
  assert.deepEqual({ ...done, sha256: Buffer.from((done as { sha256: Uint8Array }).sha256) }, { type: FrameType.FILE_DONE, transferId: ID, fileIndex: 4, sha256: h });
  expectWire(encodeFileDone(ID, 4, h).subarray(0, 30), 'truncated');
  expectWire(Uint8Array.of(...encodeFileDone(ID, 4, h), 0), 'bad-length');
});

test('accept field validation', () => {
  const h = Buffer.alloc(32, 1).toString('base64');
  expectWire(jsonFrame(FrameType.ACCEPT, { files: [{ index: 0, have: [0, 1], hashes: h }] }), 'bad-field');
  expectWire(jsonFrame(FrameType.ACCEPT, { files: [{ index: 0, have: [-1], hashes: h }] }), 'bad-field');
  expectWire(jsonFrame(FrameType.ACCEPT, { files: [{ index: 'a', have: [], hashes: '' }] }), 'bad-field');
  expectWire(jsonFrame(FrameType.ACCEPT, { files: [{ index: 0, have: [0], hashes: '!!notbase64' }] }), 'bad-field');
  expectWire(jsonFrame(FrameType.ACCEPT, {}), 'bad-field');
  expectWire(jsonFrame(FrameType.ACCEPT, { files: [{ index: 0, have: [], hashes: '', done: 'yes' }] }), 'bad-field');
  const ok = parseTransferFrame(jsonFrame(FrameType.ACCEPT, { files: [{ index: 0, have: [4], hashes: h }] }));
  assert.ok(ok.type === FrameType.ACCEPT);
});

test('cancel/error need a valid role', () => {
  expectWire(jsonFrame(FrameType.CANCEL, {}), 'bad-field');
  expectWire(jsonFrame(FrameType.CANCEL, { role: 'admin' }), 'bad-field');
  expectWire(jsonFrame(FrameType.ERROR, { role: 'sender', code: 1, message: 'x' }), 'bad-field');
  expectWire(jsonFrame(FrameType.ERROR, { role: 'sender', code: 'x' }), 'bad-field');
});

test('oversized data payload', () => {
  const f = new Uint8Array(DATA_HEADER_SIZE + MAX_CHUNK_SIZE + 1);
  f[0] = FrameType.DATA;
  f[1] = WIRE_VERSION;
  expectWire(f, 'oversized');
});

test('ack beyond safe integer', () => {
  const f = encodeAck(ID, 0);
  new DataView(f.buffer).setBigUint64(COMMON_HEADER_SIZE, 2n ** 63n);
  expectWire(f, 'bad-field');
});

test('checkDataAgainstOffer: range and length', () => {
  const files = [
    { size: 100_000, chunkSize: 65536 },
    { size: 0, chunkSize: 65536 },
  ];
  assert.equal(chunkCount(100_000, 65536), 2);
  assert.equal(chunkLength(100_000, 65536, 1), 100_000 - 65536);
  checkDataAgainstOffer(files, 0, 0, 65536);
  checkDataAgainstOffer(files, 0, 1, 100_000 - 65536);
  const code = (fn: () => void): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof WireError);
      return e.code;
    }
    return 'none';
  };
  assert.equal(code(() => checkDataAgainstOffer(files, 2, 0, 1)), 'file-out-of-range');
  assert.equal(code(() => checkDataAgainstOffer(files, 0, 2, 1)), 'chunk-out-of-range');
  assert.equal(code(() => checkDataAgainstOffer(files, 0, 0xffffffff, 1)), 'chunk-out-of-range');
  assert.equal(code(() => checkDataAgainstOffer(files, 1, 0, 0)), 'chunk-out-of-range');
  assert.equal(code(() => checkDataAgainstOffer(files, 0, 0, 10)), 'bad-length');
  assert.equal(code(() => checkDataAgainstOffer(files, 0, 1, 65536)), 'bad-length');
});

test('multi-part OFFER/ACCEPT: split under the frame limit, reassembled, validated', () => {
  const files = Array.from({ length: 500 }, (_, i) => ({ path: `dir/file-${i}.bin`, size: i, mtimeMs: i, chunkSize: 65536 }));
  const emptyDirs = Array.from({ length: 50 }, (_, i) => `dir/empty-${i}`);
  const frames = encodeOffer(ID, { files, emptyDirs }, 8192);
  assert.ok(frames.length > 3 && frames.length <= MAX_PARTS);
  const c = new PartCollector<{ files: unknown[]; emptyDirs: string[] }>();
  let all: { files: unknown[]; emptyDirs: string[] }[] | null = null;
  frames.forEach((f, i) => {
    assert.ok(f.length <= 8192);
    const p = parseTransferFrame(f);
    assert.ok(p.type === FrameType.OFFER);
    if (p.type !== FrameType.OFFER) return;
    assert.equal(p.part, i);
    assert.equal(p.parts, frames.length);
    all = c.add(ID, p.part, p.parts, p.body);
    assert.equal(all === null, i < frames.length - 1);
  });
  const merged = all as unknown as { files: unknown[]; emptyDirs: string[] }[];
  assert.deepEqual(merged.flatMap((b) => b.files), files);
  assert.deepEqual(merged.flatMap((b) => b.emptyDirs), emptyDirs);

  const hashes = Array.from({ length: 400 }, () => new Uint8Array(32));
  const acc = encodeAccept(ID, { files: [{ index: 0, have: hashes.map((_, i) => i), hashes }, { index: 1, have: [], hashes: [], done: true }] }, 8192);
  assert.ok(acc.length >= 2);
  const entries = acc.flatMap((f) => {
    const p = parseTransferFrame(f);
    return p.type === FrameType.ACCEPT ? p.body.files : [];
  });
  assert.deepEqual(
    entries.filter((e) => e.index === 0).flatMap((e) => e.have),
    hashes.map((_, i) => i),
  );
  assert.equal(entries.filter((e) => e.done).length, 1);
  // Out of order / disagreeing part counts:
  const c2 = new PartCollector<unknown>();
  assert.throws(() => c2.add(ID, 1, 3, {}), (e: unknown) => e instanceof WireError && e.code === 'bad-field');
  const c3 = new PartCollector<unknown>();
  c3.add(ID, 0, 3, {});
  assert.throws(() => c3.add(ID, 1, 4, {}), WireError);
  // Too many parts for the limit:
  assert.throws(() => encodeOffer(ID, { files, emptyDirs }, 600), (e: unknown) => e instanceof WireError && e.code === 'oversized');
  // part/parts validation:
  expectWire(jsonFrame(FrameType.OFFER, { files: [], part: 2, parts: 2 }), 'bad-field');
  expectWire(jsonFrame(FrameType.OFFER, { files: [], part: 0, parts: 0 }), 'bad-field');
  expectWire(jsonFrame(FrameType.OFFER, { files: [], part: 0, parts: MAX_PARTS + 1 }), 'bad-field');
});

test('fuzz: random bytes never throw anything but WireError', () => {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const valid = [
    encodeOffer(ID, { files: [{ path: 'a', size: 1, mtimeMs: 0, chunkSize: 65536 }], emptyDirs: [] })[0]!,
    encodeAccept(ID, { files: [{ index: 0, have: [0], hashes: [new Uint8Array(32)] }] })[0]!,
    encodeError(ID, { role: 'sender', code: 'x', message: 'y' }),
    encodeData(ID, 0, 0, new Uint8Array(32), new Uint8Array(10)),
  ];
  for (let i = 0; i < 5000; i++) {
    const base = valid[i % valid.length]!;
    const f = Uint8Array.from(base.subarray(0, rnd() % (base.length + 1)));
    for (let k = 0; k < 3; k++) if (f.length > 0) f[rnd() % f.length] = rnd() & 0xff;
    try {
      parseTransferFrame(f);
    } catch (err) {
      assert.ok(err instanceof WireError, `non-WireError thrown: ${String(err)}`);
    }
    assert.equal(typeof tryParseTransferFrame(f).ok, 'boolean');
  }
});
