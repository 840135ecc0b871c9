/**
 * SPAKE2 password-authenticated key exchange, RFC 9382, ciphersuite
 * SPAKE2-P256-SHA256-HKDF-HMAC (RFC 9382 §6), built on @noble/curves and @noble/hashes.
 *
 *   A: x ← [1,n),  pA = x·P + w·M          B: y ← [1,n),  pB = y·P + w·N
 *   A: K = x·(pB − w·N)                     B: K = y·(pA − w·M)        (cofactor h = 1)
 *   TT = len(A)‖A ‖ len(B)‖B ‖ len(pA)‖pA ‖ len(pB)‖pB ‖ len(K)‖K ‖ len(w)‖w
 *        (len = 8-byte little-endian; absent identities are empty strings)
 *   Ke ‖ Ka   = SHA-256(TT)                                            (RFC 9382 §4)
 *   KcA ‖ KcB = HKDF-SHA256(salt = nil, IKM = Ka, info = "ConfirmationKeys" ‖ AAD, 32)
 *   A sends MAC(KcA, TT), B sends MAC(KcB, TT)  (HMAC-SHA256)
 *
 * Points travel as 65-byte uncompressed SEC1 encodings (the RFC's test vectors use them),
 * w as a 32-byte big-endian scalar. w comes from the password through scrypt, the
 * memory-hard function RFC 9382 §3.2 recommends (see `passwordToScalar`).
 *
 * Ke MUST NOT be used before the peer's confirmation MAC has been verified.
 * Errors on bad input are `Spake2Error`s with a stable `code`; malformed bytes never crash.
 */
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { scrypt } from 'node:crypto';
import { bytesToNumberBE, numberToBytesBE, equalBytes } from '@noble/curves/utils.js';

const Point = p256.Point;
type P256Point = InstanceType<typeof Point>;

/** Order n of the P-256 group (the RFC's p). */
const ORDER: bigint = Point.Fn.ORDER;
const SCALAR_LEN = 32;
const POINT_LEN = 65;
/** RFC 9382 §3.1: AAD is at most 2^16 − 1 bits. */
const MAX_AAD_BYTES = 8191;
const CONFIRMATION_LABEL = new TextEncoder().encode('ConfirmationKeys');

/** RFC 9382 §6, P-256 (SEC1 compressed; seeds "1.2.840.10045.3.1.7 point generation seed (M|N)"). */
const M = Point.fromHex('02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f');
const N = Point.fromHex('03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49');

export type Spake2ErrorCode =
  /** The peer's message is not a valid, canonical, non-identity P-256 point (or yields K = I). */
  | 'INVALID_PEER_MESSAGE'
  /** A caller-supplied argument is malformed (w, scalar, identity, AAD, salt). */
  | 'INVALID_ARGUMENT'
  /** `finish` was called twice: a SPAKE2 session is single-use. */
  | 'INVALID_STATE';

export class Spake2Error extends Error {
  override readonly name = 'Spake2Error';
  constructor(readonly code: Spake2ErrorCode, message: string) {
    super(message);
  }
}

export type Spake2Role = 'A' | 'B';

export interface Spake2Options {
  role: Spake2Role;
  /** The password scalar w, 1 ≤ w < n: a bigint, or 32 big-endian bytes. */
  w: bigint | Uint8Array;
  /** Identities of A and B (strings are UTF-8 encoded). Absent = empty. */
  idA?: string | Uint8Array;
  idB?: string | Uint8Array;
  /** Additional authenticated data bound into the confirmation keys (e.g. a channel binding). */
  aad?: Uint8Array;
}

export interface Spake2Result {
  /** The shared secret Ke (16 bytes). Use it only after `verifyPeerConfirmation` returned true. */
  readonly ke: Uint8Array;
  /** Our key-confirmation MAC (32 bytes) to send to the peer: MAC(KcA, TT) for A, MAC(KcB, TT) for B. */
  readonly confirmation: Uint8Array;
  /** Constant-time check of the peer's confirmation MAC. Never throws. */
  verifyPeerConfirmation(mac: unknown): boolean;
}

export interface Spake2Session {
  readonly role: Spake2Role;
  /** Our public share to send: pA for A, pB for B (65 bytes). */
  readonly message: Uint8Array;
  /** Process the peer's share. Single use; throws `Spake2Error` on bad input. */
  finish(peerMessage: unknown): Spake2Result;
}

/** Start a SPAKE2 session with a fresh random scalar from the library's CSPRNG. */
export function startSpake2(opts: Spake2Options): Spake2Session {
  return startSpake2WithScalar(opts, bytesToNumberBE(p256.utils.randomSecretKey()));
}

/**
 * Start a session with a caller-chosen ephemeral scalar (x for A, y for B).
 * FOR TEST VECTORS ONLY: a reused or predictable scalar reveals the password to an attacker.
 */
export function startSpake2WithScalar(opts: Spake2Options, scalar: bigint): Spake2Session {
  const { role } = opts;
  if (role !== 'A' && role !== 'B') throw new Spake2Error('INVALID_ARGUMENT', 'role must be "A" or "B"');
  const w = toScalar(opts.w, 'w');
  const secret = toScalar(scalar, 'ephemeral scalar');
  const idA = toIdentity(opts.idA, 'idA');
  const idB = toIdentity(opts.idB, 'idB');
  const aadIn: unknown = opts.aad ?? new Uint8Array(0);
  if (!(aadIn instanceof Uint8Array) || aadIn.length > MAX_AAD_BYTES) {
    throw new Spake2Error('INVALID_ARGUMENT', `aad must be a Uint8Array of at most ${MAX_AAD_BYTES} bytes`);
  }
  const aad = aadIn.slice(); // private copies: callers may reuse or wipe their buffers
  const share = computeShare(role, w, secret);
  let used = false;
  return {
    role,
    message: share.slice(),
    finish(peerMessage: unknown): Spake2Result {
      if (used) throw new Spake2Error('INVALID_STATE', 'this SPAKE2 session has already finished');
      used = true;
      const K = computeK(role, w, secret, peerMessage);
      const peer = (peerMessage as Uint8Array).slice(); // validated by computeK
      const [pA, pB] = role === 'A' ? [share, peer] : [peer, share];
      const tt = buildTranscript({ idA, idB, pA, pB, K, w });
      const keys = keySchedule(tt, aad);
      const confirmation = confirmationMac(role === 'A' ? keys.kcA : keys.kcB, tt);
      const expected = confirmationMac(role === 'A' ? keys.kcB : keys.kcA, tt);
      return {
        ke: keys.ke,
        confirmation,
        verifyPeerConfirmation(mac: unknown): boolean {
          return mac instanceof Uint8Array && mac.length === expected.length && equalBytes(mac, expected);
        },
      };
    },
  };
}

/** pA = x·P + w·M (role A) or pB = y·P + w·N (role B), uncompressed SEC1. */
export function computeShare(role: Spake2Role, w: bigint, scalar: bigint): Uint8Array {
  const blind = role === 'A' ? M : N;
  return Point.BASE.multiply(scalar).add(blind.multiply(w)).toBytes(false);
}

/**
 * K = x·(pB − w·N) for A, y·(pA − w·M) for B, after validating the peer's share
 * (exactly 65 bytes, uncompressed, canonical, on the curve, not the identity).
 */
export function computeK(role: Spake2Role, w: bigint, scalar: bigint, peerMessage: unknown): Uint8Array {
  const peer = decodePeerPoint(peerMessage);
  const unblind = role === 'A' ? N : M;
  const K = peer.subtract(unblind.multiply(w)).multiply(scalar);
  // K = I only if the peer sent exactly w·N (resp. w·M), i.e. it already knows w.
  if (K.is0()) throw new Spake2Error('INVALID_PEER_MESSAGE', 'peer message yields the identity element');
  return K.toBytes(false);
}

/** TT, RFC 9382 §3.3: every field prefixed by its length as 8-byte little-endian. */
export function buildTranscript(f: {
  idA: Uint8Array; idB: Uint8Array; pA: Uint8Array; pB: Uint8Array; K: Uint8Array; w: bigint;
}): Uint8Array {
  const fields = [f.idA, f.idB, f.pA, f.pB, f.K, numberToBytesBE(f.w, SCALAR_LEN)];
  const out = new Uint8Array(fields.reduce((n, b) => n + 8 + b.length, 0));
  const view = new DataView(out.buffer);
  let off = 0;
  for (const field of fields) {
    view.setBigUint64(off, BigInt(field.length), true);
    out.set(field, off + 8);
    off += 8 + field.length;
  }
  return out;
}

/** RFC 9382 §4: Ke ‖ Ka = Hash(TT); KcA ‖ KcB = KDF(nil, Ka, "ConfirmationKeys" ‖ AAD). */
export function keySchedule(tt: Uint8Array, aad: Uint8Array = new Uint8Array(0)): {
  ke: Uint8Array; ka: Uint8Array; kcA: Uint8Array; kcB: Uint8Array;
} {
  const h = sha256(tt);
  const ka = h.slice(16, 32);
  const info = new Uint8Array(CONFIRMATION_LABEL.length + aad.length);
  info.set(CONFIRMATION_LABEL, 0);
  info.set(aad, CONFIRMATION_LABEL.length);
  const kc = hkdf(sha256, ka, undefined, info, 32);
  return { ke: h.slice(0, 16), ka, kcA: kc.slice(0, 16), kcB: kc.slice(16, 32) };
}

/** Key-confirmation message: HMAC-SHA256(Kc, TT). */
export function confirmationMac(kc: Uint8Array, tt: Uint8Array): Uint8Array {
  return hmac(sha256, kc, tt);
}

/**
 * scrypt cost for `passwordToScalar`: N = 2^14, r = 8, p = 1 (16 MiB, ~60 ms here).
 * In pairing no verifier is ever stored and SPAKE2 gives an attacker one online
 * guess per session (the code is single use), so the memory-hard function guards
 * little; it stays, at a cost that keeps pairing quick.
 */
export const SCRYPT_PARAMS = Object.freeze({ N: 2 ** 14, r: 8, p: 1 });

/**
 * w = scrypt(password, salt) mod n (RFC 9382 §3.2: MHF(pw) mod p, with 64+ extra bits
 * so the reduction is unbiased: 48 bytes of output). Strings are NFKC-normalized
 * (RFC 8265 spirit) and UTF-8 encoded. The salt must be agreed by both sides.
 */
export async function passwordToScalar(
  password: string | Uint8Array,
  salt: Uint8Array,
  params: { N: number; r: number; p: number } = SCRYPT_PARAMS,
): Promise<bigint> {
  let pw: Uint8Array;
  if (typeof password === 'string') pw = new TextEncoder().encode(password.normalize('NFKC'));
  else if (password instanceof Uint8Array) pw = password;
  else throw new Spake2Error('INVALID_ARGUMENT', 'password must be a string or Uint8Array');
  if (pw.length === 0) throw new Spake2Error('INVALID_ARGUMENT', 'password must not be empty');
  if (!(salt instanceof Uint8Array)) throw new Spake2Error('INVALID_ARGUMENT', 'salt must be a Uint8Array');
  // Node's scrypt (OpenSSL, on the libuv thread pool): about twice as fast as a JS one, and off the event loop.
  const out = await new Promise<Buffer>((resolve, reject) => {
    scrypt(pw, salt, SCALAR_LEN + 16, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r }, (err, key) => (err ? reject(err) : resolve(key)));
  });
  const w = bytesToNumberBE(out) % ORDER;
  out.fill(0);
  if (w === 0n) throw new Spake2Error('INVALID_ARGUMENT', 'password hashed to the zero scalar');
  return w;
}

function toScalar(v: unknown, what: string): bigint {
  let s: bigint;
  if (typeof v === 'bigint') s = v;
  else if (v instanceof Uint8Array && v.length === SCALAR_LEN) s = bytesToNumberBE(v);
  else throw new Spake2Error('INVALID_ARGUMENT', `${what} must be a bigint or ${SCALAR_LEN} bytes`);
  if (s <= 0n || s >= ORDER) throw new Spake2Error('INVALID_ARGUMENT', `${what} must be in [1, n)`);
  return s;
}

function toIdentity(v: unknown, what: string): Uint8Array {
  if (v === undefined) return new Uint8Array(0);
  if (typeof v === 'string') return new TextEncoder().encode(v);
  if (v instanceof Uint8Array) return v.slice();
  throw new Spake2Error('INVALID_ARGUMENT', `${what} must be a string or Uint8Array`);
}

function decodePeerPoint(msg: unknown): P256Point {
  if (!(msg instanceof Uint8Array)) {
    throw new Spake2Error('INVALID_PEER_MESSAGE', 'peer message must be bytes');
  }
  if (msg.length !== POINT_LEN || msg[0] !== 0x04) {
    throw new Spake2Error('INVALID_PEER_MESSAGE', `peer message must be a ${POINT_LEN}-byte uncompressed P-256 point`);
  }
  let point: P256Point;
  try {
    point = Point.fromBytes(msg);
    point.assertValidity();
  } catch {
    throw new Spake2Error('INVALID_PEER_MESSAGE', 'peer message is not a point on P-256');
  }
  // Identity check (RFC 9382 §3.3, h·X ≠ I with h = 1) and canonical encoding.
  if (point.is0() || !equalBytes(point.toBytes(false), msg)) {
    throw new Spake2Error('INVALID_PEER_MESSAGE', 'peer message is the identity or non-canonical');
  }
  return point;
}
