/** Tests for the persisted transfer state file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { STATE_FILE, TransferStateFile, type PersistedTransfers } from './persist.js';
import { tempDir } from './test-util.js';

const ID = '0123456789abcdef0123456789abcdef';

test('missing file loads empty; saves are atomic and coalesced; invalid records are dropped', async (t) => {
  const dir = await tempDir();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const store = new TransferStateFile(path.join(dir, 'nested'));
  assert.deepEqual(await store.load(), { v: 1, outgoing: [], incoming: [] });
  let calls = 0;
  const snap = (): PersistedTransfers => {
    calls++;
    return {
      v: 1,
      outgoing: [
        { id: ID, peerId: 'p', startedAt: 1, chunkSize: 65536, files: [{ absPath: '/x', path: 'x', size: 1, mtimeMs: 2 }], emptyDirs: [], warnings: [], state: 'paused' },
      ],
      incoming: [],
    };
  };
  for (let i = 0; i < 20; i++) store.save(snap);
  await store.flush();
  assert.ok(calls <= 2, `coalesced into ${calls} writes`);
  const loaded = await store.load();
  assert.equal(loaded.outgoing.length, 1);
  assert.deepEqual(await fsp.readdir(path.join(dir, 'nested')), [STATE_FILE]);

  const raw = JSON.parse(await fsp.readFile(store.file, 'utf8')) as PersistedTransfers;
  (raw.outgoing as unknown[]).push({ id: 'not-hex', peerId: 'p' }, null, 5);
  (raw.incoming as unknown[]).push({ id: ID, peerId: 'p', startedAt: 1, saveDir: '/d', offer: { files: [], emptyDirs: [] } }, { id: ID });
  await fsp.writeFile(store.file, JSON.stringify(raw));
  const filtered = await store.load();
  assert.equal(filtered.outgoing.length, 1);
  assert.equal(filtered.incoming.length, 1);
});

test('a corrupt file is set aside, not fatal', async (t) => {
  const dir = await tempDir();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  await fsp.writeFile(path.join(dir, STATE_FILE), '{"v":1,"outgoing":[');
  const store = new TransferStateFile(dir);
  assert.deepEqual(await store.load(), { v: 1, outgoing: [], incoming: [] });
  const names = await fsp.readdir(dir);
  assert.equal(names.length, 1);
  assert.match(names[0]!, /^transfers\.json\.corrupt-\d+$/);
});

test('a failing write is logged, not thrown', async (t) => {
  const dir = await tempDir();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const blocker = path.join(dir, 'file');
  await fsp.writeFile(blocker, '');
  const logs: string[] = [];
  const store = new TransferStateFile(path.join(blocker, 'sub'), (m) => logs.push(m));
  store.save(() => ({ v: 1, outgoing: [], incoming: [] }));
  await store.flush();
  assert.equal(logs.length, 1);
});
