/** Unit tests for received-path sanitizing and collision suffixes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_NAME_BYTES,
  dedupePaths,
  sanitizeComponent,
  sanitizeOfferPaths,
  sanitizeRelativePath,
  splitExt,
  withSuffix,
} from './safe-names.js';

const ok = (raw: string): string => {
  const r = sanitizeRelativePath(raw);
  assert.ok(r.ok, `expected ${JSON.stringify(raw)} to be accepted: ${r.ok ? '' : r.reason}`);
  return r.path;
};
const rejected = (raw: string): void => {
  const r = sanitizeRelativePath(raw);
  assert.ok(!r.ok, `expected ${JSON.stringify(raw)} to be rejected, got ${r.ok ? r.path : ''}`);
};

test('plain relative paths pass unchanged', () => {
  assert.equal(ok('a.txt'), 'a.txt');
  assert.equal(ok('Photos/2024/IMG 0001.JPG'), 'Photos/2024/IMG 0001.JPG');
  assert.equal(ok('.bashrc'), '.bashrc');
  assert.equal(ok('dir/.hidden/x'), 'dir/.hidden/x');
  assert.equal(ok('日本語/ファイル.txt'), '日本語/ファイル.txt');
});

test('traversal, absolute and drive-letter paths are rejected', () => {
  for (const p of [
    '../../etc/passwd',
    '..',
    'a/../../b',
    'a/..',
    '..\\..\\windows\\system32',
    'a\\..\\b',
    '/etc/passwd',
    '\\\\server\\share\\x',
    '//server/share',
    'C:\\Windows\\x',
    'C:/x',
    '',
    '/',
    './.',
    '..\0/x',
  ]) {
    rejected(p);
  }
  rejected('a/'.repeat(3000));
});

test('dot and empty segments are dropped', () => {
  assert.equal(ok('./a//b/./c'), 'a/b/c');
});

test('backslashes, control chars, NUL and Windows-forbidden chars become _', () => {
  assert.equal(ok('a\\b.txt'), 'a_b.txt');
  assert.equal(ok('x\u0000y'), 'x_y');
  assert.equal(ok('tab\there\nnl'), 'tab_here_nl');
  assert.equal(ok('what?<>:"|*.txt'), 'what_______.txt');
  assert.equal(ok('del\u007f'), 'del_');
});

test('trailing dots and spaces are stripped', () => {
  assert.equal(ok('name. . .'), 'name');
  assert.equal(ok('dir./file '), 'dir/file');
  assert.equal(ok('c:relative'), 'c_relative');
  assert.equal(ok('...'), '_');
  assert.equal(ok('a/ /b'), 'a/_/b');
});

test('Windows reserved names get a suffix, with or without extension, any case', () => {
  assert.equal(sanitizeComponent('CON'), 'CON_');
  assert.equal(sanitizeComponent('con.txt'), 'con_.txt');
  assert.equal(sanitizeComponent('Nul.tar.gz'), 'Nul_.tar.gz');
  assert.equal(sanitizeComponent('PRN'), 'PRN_');
  assert.equal(sanitizeComponent('aux.'), 'aux_');
  assert.equal(sanitizeComponent('COM1'), 'COM1_');
  assert.equal(sanitizeComponent('com9.log'), 'com9_.log');
  assert.equal(sanitizeComponent('LPT3.doc'), 'LPT3_.doc');
  assert.equal(sanitizeComponent('lpt1 '), 'lpt1_');
  assert.equal(sanitizeComponent('CON .txt'), 'CON _.txt');
  assert.equal(ok('NUL/CON/file'), 'NUL_/CON_/file');
  // Not reserved:
  assert.equal(sanitizeComponent('CONSOLE'), 'CONSOLE');
  assert.equal(sanitizeComponent('COM10'), 'COM10');
  assert.equal(sanitizeComponent('xcon'), 'xcon');
  assert.equal(sanitizeComponent('lpt'), 'lpt');
});

test('names that look like our partial files are renamed', () => {
  assert.equal(sanitizeComponent('a.txt.postern-part'), 'a.txt.postern-part_');
  assert.equal(sanitizeComponent('a.txt.1234abcd.postern-part.json'), 'a.txt.1234abcd.postern-part.json_');
});

test('over-long names are shortened keeping the extension, UTF-8 safe', () => {
  const long = `${'x'.repeat(300)}.jpeg`;
  const s = sanitizeComponent(long);
  assert.ok(Buffer.byteLength(s) <= MAX_NAME_BYTES);
  assert.ok(s.endsWith('.jpeg'));
  const emoji = '😀'.repeat(100) + '.txt';
  const e = sanitizeComponent(emoji);
  assert.ok(Buffer.byteLength(e) <= MAX_NAME_BYTES);
  assert.ok(e.endsWith('.txt'));
  assert.ok(!e.includes('\ufffd'));
  assert.equal([...e.slice(0, -4)].every((c) => c === '😀'), true);
  const longExt = `a.${'y'.repeat(300)}`;
  assert.ok(Buffer.byteLength(sanitizeComponent(longExt)) <= MAX_NAME_BYTES);
});

test('splitExt and withSuffix', () => {
  assert.deepEqual(splitExt('a.txt'), ['a', '.txt']);
  assert.deepEqual(splitExt('.bashrc'), ['.bashrc', '']);
  assert.deepEqual(splitExt('noext'), ['noext', '']);
  assert.equal(withSuffix('a.txt', 1), 'a (1).txt');
  assert.equal(withSuffix('dir.d/a', 2), 'dir.d/a (2)');
  assert.equal(withSuffix('d/.bashrc', 1), 'd/.bashrc (1)');
  assert.equal(withSuffix('a.txt', 0), 'a.txt');
});

test('collisions inside an offer get suffixes (case-insensitive, after sanitizing)', () => {
  const r = sanitizeOfferPaths(['a:b.txt', 'a_b.txt', 'A_B.TXT', 'x', 'x/y', 'CON', 'CON_'], ['x/empty', 'a_b.txt']);
  assert.ok(r.ok);
  if (!r.ok) return;
  // The empty folder 'a_b.txt' takes the name, so every file called that is suffixed.
  assert.deepEqual(r.files, ['a_b (1).txt', 'a_b (2).txt', 'A_B (3).TXT', 'x (1)', 'x/y', 'CON_', 'CON_ (1)']);
  assert.deepEqual(r.emptyDirs, ['x/empty', 'a_b.txt']);
  const r2 = sanitizeOfferPaths(['a:b.txt', 'a_b.txt'], ['X/', 'x']);
  assert.ok(r2.ok);
  if (r2.ok) {
    assert.deepEqual(r2.files, ['a_b.txt', 'a_b (1).txt']);
    assert.deepEqual(r2.emptyDirs, ['X']);
  }
});

test('dedupe is order-preserving and stable', () => {
  const d = dedupePaths(['f', 'f', 'f']);
  assert.deepEqual(d.files, ['f', 'f (1)', 'f (2)']);
  const d2 = dedupePaths(['a (1)', 'a', 'a']);
  assert.deepEqual(d2.files, ['a (1)', 'a', 'a (2)']);
});

test('offer with one bad path is rejected as a whole', () => {
  const r = sanitizeOfferPaths(['ok.txt', '../../etc/passwd'], []);
  assert.equal(r.ok, false);
  const r2 = sanitizeOfferPaths(['ok.txt'], ['/abs']);
  assert.equal(r2.ok, false);
});

test('NFC normalization makes composed/decomposed names collide', () => {
  const composed = 'caf\u00e9.txt';
  const decomposed = 'cafe\u0301.txt';
  const d = sanitizeOfferPaths([composed, decomposed], []);
  assert.ok(d.ok);
  if (d.ok) assert.deepEqual(d.files, [composed, 'caf\u00e9 (1).txt']);
});
