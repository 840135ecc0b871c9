/**
 * Chunk hashes: known answers, the negotiation (OFFER proposes, ACCEPT picks,
 * SHA-256 whenever either side does not do BLAKE3), the BLAKE3 file root checked
 * before the final name, FILE_DONE, and partials resumed under another algorithm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FrameType, COMMON_HEADER_SIZE, parseTransferFrame } from '../../wire/transfer-frames.js';
import { LOCAL_CHUNK_HASHES, chunkHash, fileRoot, pickChunkHash, type ChunkHashAlg } from './chunk-hash.js';
import { PartialFile } from './partial-store.js';
import { PEER_B, makeDuo, sha256File, tempDir, waitState, writeRandomFile } from './test-util.js';

const MiB = 1024 * 1024;
const native = LOCAL_CHUNK_HASHES.includes('blake3');

test('known answers: SHA-256 and BLAKE3 of "abc", the root is BLAKE3 of the concatenated hashes', () => {
  const abc = Buffer.from('abc');
  assert.equal(chunkHash('sha256', abc).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(chunkHash('blake3', abc).toString('hex'), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
  const h1 = chunkHash('blake3', Buffer.from('one'));
  const h2 = chunkHash('blake3', Buffer.from('two'));
  assert.deepEqual(fileRoot([h1, h2]), chunkHash('blake3', Buffer.concat([h1, h2])));
  assert.notDeepEqual(fileRoot([h1, h2]), fileRoot([h2, h1]));
});

test('pickChunkHash: first local algorithm the offer proposes, else sha256', () => {
  assert.equal(pickChunkHash(['blake3'], ['blake3']), 'blake3');
  assert.equal(pickChunkHash(['future-hash', 'blake3'], ['blake3']), 'blake3');
  assert.equal(pickChunkHash(undefined, ['blake3']), 'sha256');
  assert.equal(pickChunkHash(['blake3'], []), 'sha256');
  assert.equal(pickChunkHash(['md5'], ['blake3']), 'sha256');
});

async function sendOne(a: readonly ChunkHashAlg[], b: readonly ChunkHashAlg[], size: number) {
  const seen: { accept?: string; fileDone: number; dataHashes: Uint8Array[] } = { fileDone: 0, dataHashes: [] };
  const duo = await makeDuo({
    a: { chunkSize: 256 * 1024, chunkHashes: a },
    b: { chunkHashes: b },
    pair: {
      tap: (frame) => {
        const f = parseTransferFrame(frame);
        if (f.type === FrameType.ACCEPT) seen.accept = f.body.chunkHash ?? 'sha256';
        if (f.type === FrameType.FILE_DONE) seen.fileDone++;
        if (f.type === FrameType.DATA) seen.dataHashes.push(Uint8Array.from(f.sha256));
        return frame;
      },
    },
  });
  const file = path.join(duo.srcDir, 'f.bin');
  await writeRandomFile(file, size, 3);
  const sent = await duo.a.send(PEER_B, [file]);
  const [doneA, doneB] = await Promise.all([waitState(duo.a, sent.id, 'completed'), waitState(duo.b, sent.id, 'completed')]);
  const want = await sha256File(file);
  assert.equal(doneB.files[0]?.sha256, want, 'receiver reports the content SHA-256');
  assert.equal(doneA.files[0]?.sha256, want, 'sender knows it too (computed, or from FILE_DONE)');
  assert.equal(await sha256File(path.join(duo.downloads, 'f.bin')), want);
  await duo.close();
  return seen;
}

test('both sides do BLAKE3: chunks hashed with BLAKE3, FILE_DONE tells the sender the SHA-256', { skip: !native && 'native BLAKE3 not available here' }, async () => {
  const seen = await sendOne(['blake3'], ['blake3'], 3 * MiB + 5);
  assert.equal(seen.accept, 'blake3');
  assert.equal(seen.fileDone, 1);
  assert.equal(seen.dataHashes.length, 13);
});

test('an older sender (no proposals) or a receiver without BLAKE3: plain SHA-256 protocol', async () => {
  for (const [a, b] of [[[], ['blake3']], [['blake3'], []], [[], []]] as [ChunkHashAlg[], ChunkHashAlg[]][]) {
    const seen = await sendOne(a, b, 1 * MiB + 3);
    assert.equal(seen.accept, 'sha256', `a=${a} b=${b}`);
    assert.equal(seen.fileDone, 0);
    assert.ok(seen.dataHashes.length > 0);
  }
});

test('BLAKE3: a FILE_END root that does not match the chunks fails the file before it takes its name', { skip: !native && 'native BLAKE3 not available here' }, async () => {
  const duo = await makeDuo({
    a: { chunkSize: 64 * 1024, chunkHashes: ['blake3'] },
    b: { chunkHashes: ['blake3'] },
    pair: {
      tap: (frame) => {
        if (frame[0] !== FrameType.FILE_END) return frame;
        const bad = Uint8Array.from(frame);
        bad[COMMON_HEADER_SIZE + 4] = (bad[COMMON_HEADER_SIZE + 4]! + 1) & 0xff;
        return bad;
      },
    },
  });
  try {
    const file = path.join(duo.srcDir, 'f.bin');
    await writeRandomFile(file, 300 * 1024, 4);
    const sent = await duo.a.send(PEER_B, [file]);
    const failed = await waitState(duo.b, sent.id, 'failed');
    assert.equal(failed.error?.code, 'file-hash-mismatch');
    await duo.b.whenIdle();
    const names = await fsp.readdir(duo.downloads).catch(() => [] as string[]);
    assert.ok(!names.includes('f.bin'), `nothing under the final name: ${names.join(', ')}`);
  } finally {
    await duo.close();
  }
});

test('a partial written with SHA-256 resumes under BLAKE3 (claims checked with the sidecar algorithm)', async () => {
  const dir = await tempDir();
  try {
    const identity = { senderPeerId: 'p', path: 'x.bin', size: 3 * 64 * 1024, mtimeMs: 1, chunkSize: 64 * 1024 };
    const chunk = (i: number) => Buffer.alloc(64 * 1024, i + 1);
    const pf = await PartialFile.create(dir, 'x.bin', identity, undefined, 'sha256');
    for (const i of [0, 2]) await pf.writeChunk(i, chunk(i), 0, 64 * 1024, createHash('sha256').update(chunk(i)).digest());
    await pf.close();
    const again = await PartialFile.resume(dir, 'x.bin', identity, undefined, undefined, 'blake3');
    assert.ok(again);
    assert.deepEqual([...again.verified.keys()].sort(), [0, 2]);
    assert.deepEqual(again.verified.get(2), chunkHash('blake3', chunk(2)));
    await again.writeChunk(1, chunk(1), 0, 64 * 1024, chunkHash('blake3', chunk(1)));
    await again.close();
    const sidecar = JSON.parse(await fsp.readFile(`${again.sidecarPath}`, 'utf8')) as { alg?: string };
    assert.equal(sidecar.alg, 'blake3');
    const third = await PartialFile.resume(dir, 'x.bin', identity, undefined, undefined, 'sha256');
    assert.deepEqual([...third!.verified.keys()].sort(), [0, 1, 2]);
    assert.deepEqual(third!.verified.get(1), createHash('sha256').update(chunk(1)).digest());
    await third!.close();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
