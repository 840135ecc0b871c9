/** Tests for the nearby-device verification string (verification.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync, randomBytes } from 'node:crypto';
import { verificationString } from './verification.js';

test('format: six digits in two groups of three', () => {
  for (let i = 0; i < 200; i++) assert.match(verificationString(randomBytes(32)), /^\d{3} \d{3}$/);
});

test('deterministic, and both sides of one channel see the same string', () => {
  const hash = randomBytes(64);
  assert.equal(verificationString(hash), verificationString(new Uint8Array(hash)));
});

test('matches an independent HKDF-SHA256 computation (node:crypto)', () => {
  for (let i = 0; i < 50; i++) {
    const hash = randomBytes(32);
    const okm = Buffer.from(hkdfSync('sha256', hash, new Uint8Array(0), 'postern/v1 verification string', 8));
    const digits = (okm.readBigUInt64BE(0) % 1_000_000n).toString().padStart(6, '0');
    assert.equal(verificationString(hash), `${digits.slice(0, 3)} ${digits.slice(3)}`);
  }
});

test('different handshake hashes give different strings (almost always)', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) seen.add(verificationString(randomBytes(32)));
  assert.ok(seen.size > 990, `${seen.size} distinct strings out of 1000`);
  const a = new Uint8Array(32);
  const b = new Uint8Array(32); b[31] = 1;
  assert.notEqual(verificationString(a), verificationString(b));
});

test('rejects inputs that cannot be a handshake hash', () => {
  for (const bad of [undefined, null, 'abc', new Uint8Array(0), new Uint8Array(15), [1, 2, 3]]) {
    assert.throws(() => verificationString(bad as unknown as Uint8Array), TypeError);
  }
});
