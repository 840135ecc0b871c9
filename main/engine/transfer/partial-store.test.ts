/** Tests for receiver-side partial files: resume, re-hash, torn writes, placement. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartialFile, partPaths, placeWithoutOverwrite, type FileIdentity, type PartHandle, type PartialIo } from './partial-store.js';

const CHUNK = 64 * 1024;
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

async function tmp(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'postern-part-'));
}

function ident(size: number, over: Partial<FileIdentity> = {}): FileIdentity {
  return { senderPeerId: 'aa'.repeat(32), path: 'dir/file.bin', size, mtimeMs: 1700000000000, chunkSize: CHUNK, ...over };
}

async function writeChunks(pf: PartialFile, data: Buffer, indices: number[]): Promise<void> {
  for (const i of indices) {
    const slice = data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK));
    await pf.writeChunk(i, slice, 0, slice.length, sha(slice));
  }
}

test('write, close, resume: claimed chunks re-verified and reported in order', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const data = randomBytes(CHUNK * 5 + 100);
  const id = ident(data.length);
  const pf = await PartialFile.create(dir, 'dir/file.bin', id);
  await writeChunks(pf, data, [0, 1, 3, 5]);
  // Batched: four quick chunks do not rewrite the sidecar each time.
  await assert.rejects(fsp.stat(pf.sidecarPath));
  await pf.close();
  assert.ok((await fsp.stat(pf.sidecarPath)).isFile());
  assert.ok(pf.partPath.endsWith('.postern-part'));
  assert.equal(path.dirname(pf.partPath), path.join(dir, 'dir'));

  const seen: number[] = [];
  const again = await PartialFile.resume(dir, 'dir/file.bin', id, undefined, (i, buf) => {
    seen.push(i);
    assert.deepEqual(buf, data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK)));
  });
  assert.ok(again);
  assert.deepEqual([...again.verified.keys()].sort(), [0, 1, 3, 5]);
  assert.deepEqual(seen, [0, 1, 3, 5]);
  assert.equal(again.verifiedBytes, CHUNK * 3 + 100);
  await again.close();
});

test('a corrupted chunk and a torn tail are dropped on resume', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const data = randomBytes(CHUNK * 4);
  const id = ident(data.length);
  const pf = await PartialFile.create(dir, 'dir/file.bin', id);
  await writeChunks(pf, data, [0, 1, 2, 3]);
  await pf.close();
  const fh = await fsp.open(pf.partPath, 'r+');
  await fh.write(Buffer.from('XXXX'), 0, 4, CHUNK + 10); // corrupt chunk 1
  await fh.truncate(CHUNK * 3 + 5); // tear chunk 3
  await fh.close();
  const again = await PartialFile.resume(dir, 'dir/file.bin', id);
  assert.ok(again);
  assert.deepEqual([...again.verified.keys()].sort(), [0, 2]);
  await again.close();
});

test('different identity or broken sidecar → no resume; open() starts fresh', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const data = randomBytes(CHUNK * 2);
  const id = ident(data.length);
  const pf = await PartialFile.create(dir, 'dir/file.bin', id);
  await writeChunks(pf, data, [0, 1]);
  await pf.close();
  assert.equal(await PartialFile.resume(dir, 'dir/file.bin', ident(data.length, { mtimeMs: 1 })), null);
  assert.equal(await PartialFile.resume(dir, 'dir/file.bin', ident(data.length, { senderPeerId: 'bb' })), null);
  // Identity is part of the file name, so another sender never touches this partial.
  assert.notEqual(partPaths(dir, 'dir/file.bin', id).part, partPaths(dir, 'dir/file.bin', ident(data.length, { senderPeerId: 'bb' })).part);
  await fsp.writeFile(pf.sidecarPath, '{ torn');
  assert.equal(await PartialFile.resume(dir, 'dir/file.bin', id), null);
  const fresh = await PartialFile.open(dir, 'dir/file.bin', id);
  assert.equal(fresh.verified.size, 0);
  assert.equal((await fsp.stat(fresh.partPath)).size, 0);
  await fresh.discard();
  await assert.rejects(fsp.stat(fresh.partPath));
  await assert.rejects(fsp.stat(fresh.sidecarPath));
});

test('finalize never overwrites: name (1).ext, sidecar removed', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const data = randomBytes(1000);
  const id = ident(data.length, { path: 'a.txt' });
  await fsp.writeFile(path.join(dir, 'a.txt'), 'existing');
  const pf = await PartialFile.create(dir, 'a.txt', id);
  await writeChunks(pf, data, [0]);
  await pf.flush();
  const used = await pf.finalize(dir, 'a.txt');
  assert.equal(used, 'a (1).txt');
  assert.equal(await fsp.readFile(path.join(dir, 'a.txt'), 'utf8'), 'existing');
  assert.deepEqual(await fsp.readFile(path.join(dir, 'a (1).txt')), data);
  assert.deepEqual((await fsp.readdir(dir)).sort(), ['a (1).txt', 'a.txt']);
});

test('placeWithoutOverwrite skips existing files and folders', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  await fsp.writeFile(path.join(dir, 'x'), '0');
  await fsp.mkdir(path.join(dir, 'x (1)'));
  await fsp.writeFile(path.join(dir, 'src'), 'new');
  assert.equal(await placeWithoutOverwrite(path.join(dir, 'src'), dir, 'x'), 'x (2)');
  assert.equal(await fsp.readFile(path.join(dir, 'x (2)'), 'utf8'), 'new');
});

test('an empty file finalizes', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const pf = await PartialFile.create(dir, 'e/empty', ident(0, { path: 'e/empty' }));
  assert.equal(pf.complete, true);
  assert.equal(await pf.finalize(dir, 'e/empty'), 'e/empty');
  assert.equal((await fsp.stat(path.join(dir, 'e', 'empty'))).size, 0);
});

test('injected ENOSPC: write fails, chunks verified before it survive', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  let budget = CHUNK * 2;
  const io: PartialIo = {
    async open(file, flags) {
      const h = await fsp.open(file, flags);
      const wrapped: PartHandle = {
        read: (b, o, l, p) => h.read(b, o, l, p),
        async write(b, o, l, p) {
          if (budget < l) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          budget -= l;
          return h.write(b, o, l, p);
        },
        truncate: (l) => h.truncate(l),
        sync: () => h.sync(),
        close: () => h.close(),
      };
      return wrapped;
    },
  };
  const data = randomBytes(CHUNK * 4);
  const id = ident(data.length);
  const pf = await PartialFile.create(dir, 'dir/file.bin', id, io);
  await writeChunks(pf, data, [0, 1]);
  await assert.rejects(writeChunks(pf, data, [2]), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
  await pf.close();
  const again = await PartialFile.resume(dir, 'dir/file.bin', id);
  assert.deepEqual([...(again?.verified.keys() ?? [])].sort(), [0, 1]);
  await again?.close();
});

test('resolveInside refuses escapes even if given unsanitized input', async () => {
  assert.throws(() => partPaths('/tmp/save', '../x', ident(1)));
});
