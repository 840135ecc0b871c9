/** Tests for scanning send arguments into an offer manifest (real temp dirs). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanPaths } from './scan.js';
import { TransferFailure } from './errors.js';

async function tmp(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'postern-scan-'));
}

test('folder: nested dirs, empty file, empty folder, file arg, symlinks', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'Album');
  await fsp.mkdir(path.join(root, 'a', 'b'), { recursive: true });
  await fsp.mkdir(path.join(root, 'empty', 'inner-empty'), { recursive: true });
  await fsp.writeFile(path.join(root, 'a', 'b', 'deep.txt'), 'deep');
  await fsp.writeFile(path.join(root, 'zero.bin'), '');
  await fsp.writeFile(path.join(root, 'top.txt'), 'top!');
  await fsp.writeFile(path.join(dir, 'outside.txt'), 'secret');
  await fsp.symlink(path.join(dir, 'outside.txt'), path.join(root, 'link-out'));
  await fsp.symlink(path.join(root, 'top.txt'), path.join(root, 'link-in'));
  await fsp.symlink(path.join(root, 'a'), path.join(root, 'link-dir'));
  await fsp.symlink(path.join(root, 'nope'), path.join(root, 'link-broken'));
  await fsp.writeFile(path.join(dir, 'single.txt'), 'single');

  const r = await scanPaths([root, path.join(dir, 'single.txt')]);
  const byPath = new Map(r.files.map((f) => [f.path, f]));
  assert.deepEqual([...byPath.keys()].sort(), ['Album/a/b/deep.txt', 'Album/link-in', 'Album/top.txt', 'Album/zero.bin', 'single.txt']);
  assert.equal(byPath.get('Album/zero.bin')?.size, 0);
  assert.equal(byPath.get('Album/link-in')?.size, 4);
  assert.equal(byPath.get('Album/a/b/deep.txt')?.absPath, path.join(root, 'a', 'b', 'deep.txt'));
  assert.ok(Number.isInteger(byPath.get('single.txt')?.mtimeMs));
  assert.deepEqual(r.emptyDirs, ['Album/empty/inner-empty']);
  assert.equal(r.totalBytes, 4 + 4 + 4 + 0 + 6);
  const codes = Object.fromEntries(r.warnings.map((w) => [w.path, w.code]));
  assert.deepEqual(codes, {
    'Album/link-out': 'symlink-outside',
    'Album/link-dir': 'symlink-dir',
    'Album/link-broken': 'broken-symlink',
  });
  for (const w of r.warnings) assert.match(w.message, /Skipped/);
});

test('missing path → not-found; nothing sendable → nothing-to-send', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  await assert.rejects(scanPaths([path.join(dir, 'missing')]), (e: unknown) => e instanceof TransferFailure && e.code === 'not-found');
  const only = path.join(dir, 'only');
  await fsp.mkdir(only);
  await fsp.symlink('/etc/hostname', path.join(only, 'out'));
  // An empty folder is sendable on its own...
  const empty = path.join(dir, 'empty');
  await fsp.mkdir(empty);
  assert.deepEqual((await scanPaths([empty])).emptyDirs, ['empty']);
  // ...but a folder whose only entry is skipped is sent as an empty folder, with a warning.
  const r = await scanPaths([only]);
  assert.deepEqual(r.emptyDirs, ['only']);
  assert.equal(r.warnings[0]?.code, 'symlink-outside');
});

test('same name given twice gets a suffix', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  await fsp.mkdir(path.join(dir, 'x'));
  await fsp.mkdir(path.join(dir, 'y'));
  await fsp.writeFile(path.join(dir, 'x', 'f.txt'), '1');
  await fsp.writeFile(path.join(dir, 'y', 'f.txt'), '2');
  const r = await scanPaths([path.join(dir, 'x', 'f.txt'), path.join(dir, 'y', 'f.txt')]);
  assert.deepEqual(
    r.files.map((f) => f.path),
    ['f.txt', 'f (1).txt'],
  );
});

test('unreadable entries are reported (non-root only)', { skip: process.getuid?.() === 0 ? 'running as root' : false }, async (t) => {
  const dir = await tmp();
  t.after(async () => {
    await fsp.chmod(path.join(dir, 'd', 'locked'), 0o755).catch(() => undefined);
    await fsp.rm(dir, { recursive: true, force: true });
  });
  await fsp.mkdir(path.join(dir, 'd', 'locked'), { recursive: true });
  await fsp.writeFile(path.join(dir, 'd', 'secret.txt'), 'x');
  await fsp.writeFile(path.join(dir, 'd', 'ok.txt'), 'x');
  await fsp.chmod(path.join(dir, 'd', 'secret.txt'), 0);
  await fsp.chmod(path.join(dir, 'd', 'locked'), 0);
  const r = await scanPaths([path.join(dir, 'd')]);
  assert.deepEqual(
    r.files.map((f) => f.path),
    ['d/ok.txt'],
  );
  assert.deepEqual(r.warnings.map((w) => [w.path, w.code]).sort(), [
    ['d/locked', 'unreadable'],
    ['d/secret.txt', 'unreadable'],
  ]);
});

test('2,000 small files scan quickly', async (t) => {
  const dir = await tmp();
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'many');
  for (let d = 0; d < 20; d++) {
    await fsp.mkdir(path.join(root, `d${d}`), { recursive: true });
    await Promise.all(Array.from({ length: 100 }, (_, i) => fsp.writeFile(path.join(root, `d${d}`, `f${i}.txt`), `${d}-${i}`)));
  }
  const t0 = performance.now();
  const r = await scanPaths([root]);
  const ms = performance.now() - t0;
  assert.equal(r.files.length, 2000);
  assert.ok(ms < 5000, `scan took ${ms} ms`);
});
