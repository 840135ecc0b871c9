/**
 * Chunk hashes. Two algorithms, agreed per transfer attempt (the OFFER proposes,
 * the ACCEPT picks; see main/wire/transfer-frames.ts):
 *
 * - `sha256` (the original protocol, and the fallback): each chunk's SHA-256, and
 *   FILE_END carries the SHA-256 of the whole content.
 * - `blake3`: each chunk's BLAKE3-256 (~4x cheaper than SHA-256 here), and FILE_END
 *   carries the file's *root*: BLAKE3 of the concatenated chunk hashes in order.
 *   The receiver checks the root over the chunk hashes it computed itself before
 *   the file takes its final name, and computes the content SHA-256 for its report
 *   (the sender no longer reads its file through SHA-256 at all).
 *
 * BLAKE3 comes from `@napi-rs/blake-hash` (Rust `blake3` crate, SIMD), whose
 * prebuilt binary is an optional dependency per platform. Where it does not load
 * we neither propose nor pick `blake3`, so the transfer uses SHA-256. The pure-JS
 * BLAKE3 of @noble/hashes (~30 MiB/s) is only a last resort for computing a root.
 * `POSTERN_CHUNK_HASH=sha256` forces SHA-256 (tests, measurements).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';

export type ChunkHashAlg = 'sha256' | 'blake3';
export const CHUNK_HASH_ALGS: readonly ChunkHashAlg[] = ['sha256', 'blake3'];

type Blake3Fn = (input: Buffer) => Buffer;

function loadNativeBlake3(): Blake3Fn | null {
  if (process.env.POSTERN_CHUNK_HASH === 'sha256') return null;
  try {
    const mod = createRequire(import.meta.url)('@napi-rs/blake-hash') as { blake3?: Blake3Fn };
    const fn = mod.blake3;
    if (typeof fn !== 'function') return null;
    // Known answer (BLAKE3("abc")) so a broken binary never decides what "verified" means.
    const abc = fn(Buffer.from('abc')).toString('hex');
    return abc === '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85' ? fn : null;
  } catch {
    return null;
  }
}

const nativeBlake3 = loadNativeBlake3();

/** Algorithms this process computes fast, best first (what we propose and accept). */
export const LOCAL_CHUNK_HASHES: readonly ChunkHashAlg[] = nativeBlake3 ? ['blake3'] : [];

/** The algorithm a receiver picks from an offer's proposals ('sha256' when none fits). */
export function pickChunkHash(proposed: readonly string[] | undefined, local: readonly ChunkHashAlg[] = LOCAL_CHUNK_HASHES): ChunkHashAlg {
  for (const alg of local) if (proposed?.includes(alg)) return alg;
  return 'sha256';
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** 32-byte hash of one chunk. */
export function chunkHash(alg: ChunkHashAlg, data: Uint8Array): Buffer {
  if (alg === 'blake3') return nativeBlake3 ? nativeBlake3(asBuffer(data)) : Buffer.from(nobleBlake3(data));
  return createHash('sha256').update(data).digest();
}

/** The `blake3` file root: BLAKE3 of the chunk hashes, concatenated in chunk order. */
export function fileRoot(hashes: readonly Uint8Array[]): Buffer {
  const all = Buffer.allocUnsafe(hashes.length * 32);
  hashes.forEach((h, i) => all.set(h, i * 32));
  return chunkHash('blake3', all);
}
