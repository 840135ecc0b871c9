/**
 * One file being received, within one attempt of an incoming transfer: its
 * partial on disk, the chunks it already had (claimed at accept), the running
 * whole-file SHA-256 (fed in order as chunks arrive; whatever could not be fed
 * in order — resumed holes, resent chunks — is re-read from disk at the end),
 * resend bookkeeping, and finalization (verify, fsync, move to a free name).
 *
 * The file hash checked before the final name is the sender's FILE_END value:
 * with chunk hash `sha256` the content SHA-256; with `blake3` the root over the
 * chunk hashes we computed ourselves (chunk-hash.ts). Either way the content
 * SHA-256 computed here is what the transfer reports.
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { chunkCount, type AcceptFile, type OfferBody, type OfferFile } from '../../wire/transfer-frames.js';
import { PartialFile, resolveInside, type FileIdentity, type PartialIo } from './partial-store.js';
import { fileRoot, type ChunkHashAlg } from './chunk-hash.js';

export const MAX_RESENDS_PER_CHUNK = 3;

/** A file completed in an earlier attempt of the same transfer. */
export interface DoneFile {
  index: number;
  sha256: string;
  savedPath: string;
}

/** `sha256` is the content SHA-256 computed here. */
export type FinalizeResult = { ok: true; sha256: Uint8Array; savedPath: string } | { ok: false; sha256: Uint8Array };

export class IncomingFile {
  readonly chunks: number;
  part: PartialFile | null = null;
  /** Chunks counted as skipped (already had) at accept time. */
  readonly claimed = new Set<number>();
  /** FILE_END's whole-file hash, once received. */
  expected: Uint8Array | null = null;
  finalizing = false;
  done = false;
  readonly pendingResend = new Set<number>();
  private readonly resends = new Map<number, number>();
  private hasher: Hash = createHash('sha256');
  private hashedUpTo = 0;

  constructor(
    readonly index: number,
    readonly offer: OfferFile,
    /** Sanitized relative path. */
    readonly safe: string,
    readonly identity: FileIdentity,
    private readonly saveDir: string,
    private readonly io: PartialIo,
    /** Chunk hash agreed for this attempt. */
    readonly alg: ChunkHashAlg = 'sha256',
  ) {
    this.chunks = chunkCount(offer.size, offer.chunkSize);
  }

  /**
   * Look for a partial of this file and re-verify what it claims. Returns the
   * ACCEPT entry (chunks we have) or null, and how many bytes that is.
   */
  async resume(): Promise<{ have: AcceptFile | null; bytes: number }> {
    if (this.offer.size === 0) return { have: null, bytes: 0 };
    const part = await PartialFile.resume(this.saveDir, this.safe, this.identity, this.io, (ci, data) => this.feed(ci, data), this.alg);
    if (!part) return { have: null, bytes: 0 };
    await part.release(); // no handle open until data arrives
    this.part = part;
    if (part.verified.size === 0) return { have: null, bytes: 0 };
    const idx = [...part.verified.keys()].sort((a, b) => a - b);
    for (const ci of idx) this.claimed.add(ci);
    return { have: { index: this.index, have: idx, hashes: idx.map((ci) => part.verified.get(ci)!) }, bytes: part.verifiedBytes };
  }

  /** Feed the whole-file hash if `ci` is the next chunk in order. */
  private feed(ci: number, data: Uint8Array): void {
    if (ci === this.hashedUpTo) {
      this.hasher.update(data);
      this.hashedUpTo++;
    }
  }

  /** A verified chunk arrived (before it is written): keep the whole-file hash going. */
  arrived(ci: number, payload: Uint8Array): void {
    this.pendingResend.delete(ci);
    if (ci < this.hashedUpTo) {
      // Replaces data already hashed (our resumed copy differed): rehash at the end.
      this.hasher = createHash('sha256');
      this.hashedUpTo = 0;
    } else {
      this.feed(ci, payload);
    }
  }

  /** Count a resend request; false when the chunk has been asked for too often. */
  askAgain(ci: number): boolean {
    const n = (this.resends.get(ci) ?? 0) + 1;
    this.resends.set(ci, n);
    if (n > MAX_RESENDS_PER_CHUNK) return false;
    this.pendingResend.add(ci);
    return true;
  }

  async ensurePart(): Promise<PartialFile> {
    this.part ??= await PartialFile.create(this.saveDir, this.safe, this.identity, this.io, this.alg);
    return this.part;
  }

  /** Write a chunk; returns whether it was new (not present before). */
  async write(ci: number, payload: Uint8Array, sha256: Uint8Array): Promise<boolean> {
    const part = await this.ensurePart();
    const isNew = !part.verified.has(ci);
    await part.writeChunk(ci, payload, 0, payload.length, sha256);
    return isNew;
  }

  /** Chunks neither present nor already asked for. */
  missing(): number[] {
    const out: number[] = [];
    for (let ci = 0; ci < this.chunks; ci++) {
      if (!this.part?.verified.has(ci) && !this.pendingResend.has(ci)) out.push(ci);
    }
    return out;
  }

  get ready(): boolean {
    return this.expected !== null && !this.finalizing && !this.done && this.part !== null && this.part.complete;
  }

  /**
   * Complete the whole-file hash from disk, compare with FILE_END's, and move the
   * file into place. `stillLive` is checked between reads (abandon if false).
   */
  async finalize(stillLive: () => boolean): Promise<FinalizeResult | null> {
    const part = this.part!;
    for (let ci = this.hashedUpTo; ci < this.chunks; ci++) {
      this.hasher.update(await part.readChunk(ci));
      if (!stillLive()) return null;
    }
    this.hashedUpTo = this.chunks;
    const digest = this.hasher.digest();
    const check =
      this.alg === 'sha256' ? digest : fileRoot(Array.from({ length: this.chunks }, (_, ci) => part.verified.get(ci)!));
    if (!check.equals(this.expected!)) return { ok: false, sha256: digest };
    let savedPath: string;
    if (await this.sameFileAlreadyThere(digest)) {
      await part.discard();
      savedPath = this.safe;
    } else {
      savedPath = await part.finalize(this.saveDir, this.safe);
    }
    this.done = true;
    return { ok: true, sha256: digest, savedPath };
  }

  /**
   * Is a file with exactly this content already at the target name (finished
   * just before a crash, or sent twice)? Then keep it rather than save a ` (1)` copy.
   */
  private async sameFileAlreadyThere(digest: Uint8Array): Promise<boolean> {
    const target = resolveInside(this.saveDir, this.safe);
    const st = await fsp.stat(target).catch(() => null);
    if (!st?.isFile() || st.size !== this.offer.size) return false;
    const h = createHash('sha256');
    const fh = await fsp.open(target, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(this.offer.size, 4 * 1024 * 1024) || 1);
      for (let pos = 0; pos < this.offer.size; ) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) return false;
        h.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return h.digest().equals(digest);
  }
}

/**
 * Set up every file of an offer being accepted into `saveDir`: files finished in
 * an earlier attempt (still there, same size) are reported done; others resume
 * from their partials. Returns the ACCEPT entries and the bytes we already have,
 * or null if `current()` turned false meanwhile. Stale entries leave `done`.
 */
export async function prepareFiles(a: {
  offer: OfferBody;
  safePaths: string[];
  senderPeerId: string;
  saveDir: string;
  io: PartialIo;
  done: Map<number, DoneFile>;
  current: () => boolean;
  alg?: ChunkHashAlg;
}): Promise<{ files: IncomingFile[]; have: AcceptFile[]; skipped: number } | null> {
  const files: IncomingFile[] = [];
  const have: AcceptFile[] = [];
  let skipped = 0;
  for (let i = 0; i < a.offer.files.length; i++) {
    const offer = a.offer.files[i]!;
    const identity = { senderPeerId: a.senderPeerId, path: offer.path, size: offer.size, mtimeMs: offer.mtimeMs, chunkSize: offer.chunkSize };
    const f = new IncomingFile(i, offer, a.safePaths[i]!, identity, a.saveDir, a.io, a.alg ?? 'sha256');
    files.push(f);
    const prev = a.done.get(i);
    if (prev) {
      const st = await fsp.stat(resolveInside(a.saveDir, prev.savedPath)).catch(() => null);
      if (st?.isFile() && st.size === offer.size) {
        f.done = true;
        skipped += offer.size;
        have.push({ index: i, have: [], hashes: [], done: true });
        continue;
      }
      a.done.delete(i); // deleted or changed since: receive it again
    }
    const r = await f.resume();
    if (!a.current()) {
      await f.part?.release();
      return null;
    }
    if (r.have) have.push(r.have);
    skipped += r.bytes;
  }
  return { files, have, skipped };
}
