/**
 * Peer IDs: how a device's long-term Ed25519 public key is named.
 *
 * The full ID is the public key in RFC 4648 base32 (lowercase, no padding, 52
 * characters): unambiguous and what the wire protocols carry. People compare the
 * short form: the first 7 base32 characters of SHA-256("postern-id" || key) plus one
 * check character (Luhn mod 32, as Syncthing uses for its device IDs), shown as
 * `ABCD-EFGH`. A single mistyped character or a swap of two neighbours is caught.
 */
import { createHash } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Uint8Array {
  const clean = text.toLowerCase().replace(/[\s-]/g, '');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new Error(`invalid base32 character "${ch}"`);
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

/** Full peer ID of a 32-byte Ed25519 public key. */
export function peerIdFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new Error('a peer public key is 32 bytes');
  return base32Encode(publicKey);
}

/** Public key of a full peer ID; throws on anything that is not one. */
export function publicKeyFromPeerId(peerId: string): Uint8Array {
  if (!/^[a-z2-7]{52}$/.test(peerId)) throw new Error('not a Postern peer ID');
  const key = base32Decode(peerId);
  if (key.length !== 32) throw new Error('not a Postern peer ID');
  return key;
}

export function isPeerId(value: unknown): value is string {
  return typeof value === 'string' && /^[a-z2-7]{52}$/.test(value);
}

/** Luhn mod N over the base32 alphabet. */
function luhnCheckChar(data: string): string {
  const n = ALPHABET.length;
  let factor = 2;
  let sum = 0;
  for (let i = data.length - 1; i >= 0; i--) {
    let addend = factor * ALPHABET.indexOf(data[i] as string);
    factor = factor === 2 ? 1 : 2;
    addend = Math.floor(addend / n) + (addend % n);
    sum += addend;
  }
  return ALPHABET[(n - (sum % n)) % n] as string;
}

/** The short, human-checkable form of a peer ID: `ABCD-EFGH`. */
export function shortId(peerIdOrKey: string | Uint8Array): string {
  const key = typeof peerIdOrKey === 'string' ? publicKeyFromPeerId(peerIdOrKey) : peerIdOrKey;
  const digest = createHash('sha256').update('postern-id').update(key).digest();
  const data = base32Encode(digest).slice(0, 7);
  const full = (data + luhnCheckChar(data)).toUpperCase();
  return `${full.slice(0, 4)}-${full.slice(4)}`;
}

/** True when a typed short ID is well formed and its check character matches. */
export function isValidShortId(text: string): boolean {
  const clean = text.toLowerCase().replace(/[\s-]/g, '');
  if (!/^[a-z2-7]{8}$/.test(clean)) return false;
  return luhnCheckChar(clean.slice(0, 7)) === clean[7];
}
