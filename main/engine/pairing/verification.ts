/**
 * Short verification string for nearby-device confirmation: both screens show it and
 * the people compare them, which confirms both devices share one secure channel.
 *
 * Derived from the channel's handshake hash (the Noise handshake hash that is also the
 * SPAKE2 AAD, see spake2.ts / RFC 9382 §4 and docs/security.md) with
 * HKDF-SHA256 (RFC 5869) under a domain label, reduced to 6 decimal digits ("381 604").
 * 64 bits of HKDF output are reduced mod 10^6, so the bias is below 2^-44.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';

const LABEL = new TextEncoder().encode('postern/v1 verification string');
const DIGITS = 6;
/** A handshake hash shorter than this is not a handshake hash. */
const MIN_HASH_BYTES = 16;

/** Six digits in two groups of three, e.g. "381 604". Same hash → same string on both sides. */
export function verificationString(handshakeHash: Uint8Array): string {
  if (!(handshakeHash instanceof Uint8Array) || handshakeHash.length < MIN_HASH_BYTES) {
    throw new TypeError(`handshakeHash must be a Uint8Array of at least ${MIN_HASH_BYTES} bytes`);
  }
  const okm = hkdf(sha256, handshakeHash, undefined, LABEL, 8);
  const n = new DataView(okm.buffer, okm.byteOffset, okm.byteLength).getBigUint64(0, false);
  const digits = (n % 10n ** BigInt(DIGITS)).toString().padStart(DIGITS, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}
