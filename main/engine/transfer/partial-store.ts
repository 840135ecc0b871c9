/**
 * Receiver-side resumable state for one file.
 *
 * Data goes to `<dir>/<name>.<idhash>.postern-part` (positional writes), next to a
 * sidecar `<...>.postern-part.json` recording the file identity (sender peer id,
 * offered path, size, sender mtime, chunk size) and the hash of every chunk
 * that was verified and written (`alg`: sha256, the default, or blake3). `idhash` is derived from the identity, so the
 * same file offered again by the same sender finds its partial, and different
 * senders/versions never share one.
 *
 * On resume the chunks the sidecar claims are re-read and re-hashed (a crash may
 * have left a torn write); only those that still match are reported. The sidecar
 * is rewritten crash-safely (temp + fsync + rename), batched: at most every
 * ~500 ms / 8 MiB (backing off when large), not on every chunk.
 *
 * When the file is complete the caller checks the whole-file hash, then
 * `finalize()` fsyncs and moves it to its final name without ever overwriting
 * an existing file (`name (1).ext`).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { chunkCount, chunkLength } from '../../wire/transfer-frames.js';
import { CHUNK_HASH_ALGS, chunkHash, type ChunkHashAlg } from './chunk-hash.js';
import { PART_SUFFIX, withSuffix } from './safe-names.js';

export interface FileIdentity {
  senderPeerId: string;
  /** The path as the sender offered it (before sanitizing). */
  path: string;
  size: number;
  mtimeMs: number;
  chunkSize: number;
}

/** The subset of fs.promises.FileHandle we use (lets tests inject failures). */
export interface PartHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  truncate(len: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface PartialIo {
  open(file: string, flags: 'r+' | 'w+'): Promise<PartHandle>;
}

export const defaultIo: PartialIo = { open: (file, flags) => fsp.open(file, flags) };

const SIDECAR_VERSION = 1;
const FLUSH_MIN_INTERVAL_MS = 500;
const FLUSH_BYTES = 8 * 1024 * 1024;
/**
 * Start writing data back to disk in the background every this many bytes, so
 * the fsync before the final name has little left to do (1 GiB here: 0.3 s → 0.04 s).
 */
const EARLY_SYNC_BYTES = 64 * 1024 * 1024;

export function identityHash(id: FileIdentity): string {
  return createHash('sha256')
    .update(JSON.stringify([id.senderPeerId, id.path, id.size, id.mtimeMs, id.chunkSize]))
    .digest('hex')
    .slice(0, 12);
}

/** Absolute path of a '/'-separated relative path under `saveDir` (must stay inside). */
export function resolveInside(saveDir: string, rel: string): string {
  const abs = path.resolve(saveDir, ...rel.split('/'));
  const back = path.relative(path.resolve(saveDir), abs);
  if (back === '' || back.startsWith('..') || path.isAbsolute(back)) {
    throw new Error(`refusing path outside the save folder: ${rel}`);
  }
  return abs;
}

export function partPaths(saveDir: string, safeRel: string, id: FileIdentity): { part: string; sidecar: string } {
  const part = `${resolveInside(saveDir, safeRel)}.${identityHash(id)}${PART_SUFFIX}`;
  return { part, sidecar: `${part}.json` };
}

interface SidecarJson {
  v: number;
  /** Chunk hash algorithm of `hashes`; absent: sha256. */
  alg?: ChunkHashAlg;
  identity: FileIdentity;
  have: number[];
  hashes: string;
}

function sameIdentity(a: FileIdentity, b: unknown): boolean {
  if (typeof b !== 'object' || b === null) return false;
  const o = b as Record<string, unknown>;
  return (
    o['senderPeerId'] === a.senderPeerId &&
    o['path'] === a.path &&
    o['size'] === a.size &&
    o['mtimeMs'] === a.mtimeMs &&
    o['chunkSize'] === a.chunkSize
  );
}

async function readFull(h: PartHandle, buf: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await h.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

async function writeFull(h: PartHandle, buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await h.write(buf, offset + done, length - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    done += bytesWritten;
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export class PartialFile {
  /** chunk index → hash (`alg`) of chunks verified and written. */
  readonly verified = new Map<number, Uint8Array>();
  readonly chunks: number;
  private dirtyBytes = 0;
  private flushedOnce = false;
  private lastFlush = Date.now();
  private flushCost = 0;
  private flushing: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private unsynced = 0;
  private opening: Promise<PartHandle> | null = null;
  private finished = false;

  private constructor(
    readonly identity: FileIdentity,
    readonly partPath: string,
    readonly sidecarPath: string,
    private handle: PartHandle | null,
    private readonly io: PartialIo,
    readonly alg: ChunkHashAlg = 'sha256',
  ) {
    this.chunks = chunkCount(identity.size, identity.chunkSize);
  }

  /** The open handle; reopened ('r+') after `release()`. */
  private async h(): Promise<PartHandle> {
    if (this.handle) return this.handle;
    if (this.finished) throw Object.assign(new Error('partial file already finalized or discarded'), { code: 'EBADF' });
    this.opening ??= this.io.open(this.partPath, 'r+').finally(() => {
      this.opening = null;
    });
    this.handle = await this.opening;
    return this.handle;
  }

  /**
   * Look for a partial of this identity and verify the chunks it claims.
   * Returns null when there is none (or its sidecar is unusable).
   * `onVerified` is called in ascending chunk order with the data of each good chunk
   * (lets the caller feed a whole-file hash without reading the prefix twice).
   * Claims are checked with the sidecar's algorithm; `verified` then holds hashes
   * in `alg` (the one agreed for this attempt).
   */
  static async resume(
    saveDir: string,
    safeRel: string,
    identity: FileIdentity,
    io: PartialIo = defaultIo,
    onVerified?: (index: number, data: Uint8Array) => void,
    alg: ChunkHashAlg = 'sha256',
  ): Promise<PartialFile | null> {
    const { part, sidecar } = partPaths(saveDir, safeRel, identity);
    let json: SidecarJson;
    try {
      json = JSON.parse(await fsp.readFile(sidecar, 'utf8')) as SidecarJson;
    } catch (err) {
      if (errno(err) === 'ENOENT' || err instanceof SyntaxError) return null;
      throw err;
    }
    if (json?.v !== SIDECAR_VERSION || !sameIdentity(identity, json.identity) || !Array.isArray(json.have)) return null;
    const stored: ChunkHashAlg = json.alg ?? 'sha256';
    if (!CHUNK_HASH_ALGS.includes(stored)) return null;
    let handle: PartHandle;
    try {
      handle = await io.open(part, 'r+');
    } catch (err) {
      if (errno(err) === 'ENOENT') return null;
      throw err;
    }
    const pf = new PartialFile(identity, part, sidecar, handle, io, alg);
    try {
      const raw = Buffer.from(typeof json.hashes === 'string' ? json.hashes : '', 'base64');
      const claims: [number, Uint8Array][] = [];
      json.have.forEach((idx, j) => {
        if (Number.isSafeInteger(idx) && idx >= 0 && idx < pf.chunks && raw.length >= (j + 1) * 32) {
          claims.push([idx, raw.subarray(j * 32, (j + 1) * 32)]);
        }
      });
      claims.sort((a, b) => a[0] - b[0]);
      for (const [idx, claimed] of claims) {
        const len = chunkLength(identity.size, identity.chunkSize, idx);
        const buf = Buffer.allocUnsafe(len);
        const got = await readFull(handle, buf, idx * identity.chunkSize);
        if (got !== len) continue;
        const actual = chunkHash(stored, buf);
        if (!actual.equals(claimed)) continue;
        pf.verified.set(idx, stored === alg ? actual : chunkHash(alg, buf));
        onVerified?.(idx, buf);
      }
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    return pf;
  }

  /** Start a fresh partial (creates folders; truncates a stale part file). */
  static async create(
    saveDir: string,
    safeRel: string,
    identity: FileIdentity,
    io: PartialIo = defaultIo,
    alg: ChunkHashAlg = 'sha256',
  ): Promise<PartialFile> {
    const { part, sidecar } = partPaths(saveDir, safeRel, identity);
    await fsp.mkdir(path.dirname(part), { recursive: true });
    const handle = await io.open(part, 'w+');
    return new PartialFile(identity, part, sidecar, handle, io, alg);
  }

  /** Resume if possible, else create. */
  static async open(
    saveDir: string,
    safeRel: string,
    identity: FileIdentity,
    io: PartialIo = defaultIo,
    onVerified?: (index: number, data: Uint8Array) => void,
    alg: ChunkHashAlg = 'sha256',
  ): Promise<PartialFile> {
    return (
      (await PartialFile.resume(saveDir, safeRel, identity, io, onVerified, alg)) ??
      PartialFile.create(saveDir, safeRel, identity, io, alg)
    );
  }

  get verifiedBytes(): number {
    let n = 0;
    for (const idx of this.verified.keys()) n += chunkLength(this.identity.size, this.identity.chunkSize, idx);
    return n;
  }

  get complete(): boolean {
    return this.verified.size === this.chunks;
  }

  /**
   * Write a chunk whose hash the caller already verified, at its offset. The data
   * is a view into `buf` (`offset`/`length`) so a received frame can be written
   * without copying. The chunk counts as verified once written.
   */
  async writeChunk(index: number, buf: Uint8Array, offset: number, length: number, sha256: Uint8Array): Promise<void> {
    const h = await this.h();
    await writeFull(h, buf, offset, length, index * this.identity.chunkSize);
    this.verified.set(index, sha256);
    this.dirtyBytes += length;
    this.unsynced += length;
    if (this.unsynced >= EARLY_SYNC_BYTES && !this.syncing) {
      this.unsynced = 0;
      // Not awaited, errors ignored: durability is the final fsync's job.
      this.syncing = h.sync().catch(() => undefined).finally(() => {
        this.syncing = null;
      });
    }
    const now = Date.now();
    const interval = Math.max(FLUSH_MIN_INTERVAL_MS, this.flushCost * 20);
    if (this.dirtyBytes >= FLUSH_BYTES && now - this.lastFlush >= interval) await this.flush();
    else if (now - this.lastFlush >= interval * 4 && this.dirtyBytes > 0) await this.flush();
  }

  async readChunk(index: number): Promise<Buffer> {
    const len = chunkLength(this.identity.size, this.identity.chunkSize, index);
    const buf = Buffer.allocUnsafe(len);
    const got = await readFull(await this.h(), buf, index * this.identity.chunkSize);
    if (got !== len) throw Object.assign(new Error(`partial file shorter than expected at chunk ${index}`), { code: 'EIO' });
    return buf;
  }

  /** Write the sidecar (temp + fsync + rename). Concurrent calls coalesce. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const t0 = Date.now();
    const dirty = this.dirtyBytes;
    const have = [...this.verified.keys()].sort((a, b) => a - b);
    const all = Buffer.allocUnsafe(have.length * 32);
    have.forEach((idx, j) => all.set(this.verified.get(idx)!, j * 32));
    const body: SidecarJson = {
      v: SIDECAR_VERSION,
      ...(this.alg === 'sha256' ? {} : { alg: this.alg }),
      identity: this.identity,
      have,
      hashes: all.toString('base64'),
    };
    const tmp = `${this.sidecarPath}.tmp`;
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(body));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.sidecarPath);
    this.dirtyBytes -= dirty;
    this.flushedOnce = true;
    this.lastFlush = Date.now();
    this.flushCost = this.lastFlush - t0;
  }

  /**
   * The caller verified the whole-file hash: make the data durable and move it to
   * `finalRel` under `saveDir` (or `finalRel (n)` if taken). Returns the relative
   * path actually used. The sidecar is removed.
   */
  async finalize(saveDir: string, finalRel: string): Promise<string> {
    const h = await this.h();
    await this.syncing;
    await h.truncate(this.identity.size);
    await h.sync();
    await this.closeHandle();
    this.finished = true;
    const used = await placeWithoutOverwrite(this.partPath, saveDir, finalRel);
    await fsp.rm(this.sidecarPath, { force: true });
    await fsp.rm(`${this.sidecarPath}.tmp`, { force: true });
    return used;
  }

  /**
   * Flush the sidecar and close the file handle, keeping everything for a later
   * resume. The object stays usable: the next read/write reopens the file.
   */
  async release(): Promise<void> {
    if (this.finished) return;
    try {
      if (this.dirtyBytes > 0 || (this.verified.size > 0 && !this.flushedOnce)) await this.flush();
    } finally {
      await this.closeHandle();
    }
  }

  /** `release()` for good. */
  async close(): Promise<void> {
    await this.release();
    this.finished = true;
  }

  /** Delete the partial data and sidecar. */
  async discard(): Promise<void> {
    await this.closeHandle();
    this.finished = true;
    await Promise.all([
      fsp.rm(this.partPath, { force: true }),
      fsp.rm(this.sidecarPath, { force: true }),
      fsp.rm(`${this.sidecarPath}.tmp`, { force: true }),
    ]);
  }

  private async closeHandle(): Promise<void> {
    await this.flushing?.catch(() => undefined);
    await this.syncing;
    await this.opening?.catch(() => undefined);
    const h = this.handle;
    this.handle = null;
    await h?.close();
  }
}

/** Delete a partial (and its sidecar) without opening it, e.g. on cancel. */
export async function discardPartial(saveDir: string, safeRel: string, identity: FileIdentity): Promise<void> {
  const { part, sidecar } = partPaths(saveDir, safeRel, identity);
  await Promise.all([
    fsp.rm(part, { force: true }),
    fsp.rm(sidecar, { force: true }),
    fsp.rm(`${sidecar}.tmp`, { force: true }),
  ]);
}

const NO_HARDLINK = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK', 'EINVAL']);

/**
 * Move `src` to `saveDir/rel`, or `rel (1)`, `rel (2)`... whichever is free, never
 * replacing an existing file. Uses link()+unlink() (atomic "create if absent");
 * on file systems without hard links falls back to check-then-rename.
 */
export async function placeWithoutOverwrite(src: string, saveDir: string, rel: string): Promise<string> {
  let canLink = true;
  for (let n = 0; n < 10_000; n++) {
    const candidate = withSuffix(rel, n);
    const abs = resolveInside(saveDir, candidate);
    if (canLink) {
      try {
        await fsp.link(src, abs);
        await fsp.unlink(src);
        return candidate;
      } catch (err) {
        if (errno(err) === 'EEXIST') continue;
        if (!NO_HARDLINK.has(errno(err) ?? '')) throw err;
        canLink = false;
      }
    }
    try {
      await fsp.lstat(abs);
      continue; // taken
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
    await fsp.rename(src, abs);
    return candidate;
  }
  throw Object.assign(new Error(`no free name for ${rel}`), { code: 'EEXIST' });
}
