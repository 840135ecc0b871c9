/**
 * The receiving side of one transfer. An OFFER's paths are sanitized up front
 * (an unsafe one fails the transfer). On accept, each file's partial (same
 * sender, path, size, mtime, chunk size) is looked up and re-verified, and the
 * ACCEPT lists the chunks we already have so they are not sent again.
 *
 * DATA: the chunk hash is checked on arrival (mismatch → RESEND, bounded), the
 * whole-file SHA-256 is fed in order, and the chunk is written at its offset by
 * a serial write queue; every processed chunk is ACKed (the sender's flow-control
 * window). FILE_END: once all chunks are present, the rest of the whole-file hash
 * is computed from disk (resumed prefix, holes), compared, and the file fsynced
 * and moved to its final, collision-free name (several finalizations run
 * concurrently). COMPLETE when every file and empty folder is in place.
 * Disk errors fail the transfer with partials kept; disconnects pause it.
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { TransferInfo } from '../../../shared/domain/transfer.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import {
  bytesToHex,
  checkDataAgainstOffer,
  chunkCount,
  chunkLength,
  encodeAccept,
  encodeAck,
  encodeCancel,
  encodeComplete,
  encodeDecline,
  encodeError,
  encodeResend,
  WireError,
  type AcceptFile,
  type ErrorBody,
  type OfferBody,
  type OfferFile,
} from '../../wire/transfer-frames.js';
import { TransferFailure, describeFsError, fromPeerError, protocolError } from './errors.js';
import { PartialFile, defaultIo, resolveInside, type FileIdentity, type PartialIo } from './partial-store.js';
import { printable, sanitizeOfferPaths } from './safe-names.js';
import { DISCONNECTED } from './sender.js';
import { TransferBase, type TransferHost } from './transfer-base.js';

const MAX_RESENDS_PER_CHUNK = 3;
const MAX_CONCURRENT_FINALIZE = 8;

export interface DoneFile {
  index: number;
  sha256: string;
  savedPath: string;
}

export interface IncomingRecord {
  id: string;
  peerId: string;
  startedAt: number;
  saveDir: string;
  offer: OfferBody;
  /** Files finished in earlier attempts (not asked for again on resume). */
  done?: DoneFile[];
}

export interface ReceiverOptions {
  io?: PartialIo;
  /** The sender's window; a backlog well beyond it means the sender ignores flow control. */
  window: number;
}

interface FileRx {
  index: number;
  offer: OfferFile;
  safe: string;
  chunks: number;
  part: PartialFile | null;
  /** Chunks counted as skipped (already had) at accept time. */
  claimed: Set<number>;
  hasher: Hash;
  hashedUpTo: number;
  expected: Uint8Array | null;
  finalizing: boolean;
  done: boolean;
  pendingResend: Set<number>;
  resends: Map<number, number>;
}

export class IncomingTransfer extends TransferBase {
  private offerBody: OfferBody;
  private safe: { files: string[]; emptyDirs: string[] };
  private readonly io: PartialIo;
  private readonly window: number;
  private files: FileRx[] = [];
  private chain: Promise<void> = Promise.resolve();
  private backlog = 0;
  private processed = 0;
  private finalizing = new Set<Promise<void>>();
  private filesLeft = 0;
  /** Files completed in any attempt of this transfer, by index. */
  private doneFiles = new Map<number, DoneFile>();
  /** After a pause, writes of that attempt still complete (data already received is kept). */
  private drainAttempt = -1;
  private stopping: Promise<void> = Promise.resolve();

  private constructor(
    host: TransferHost,
    opts: ReceiverOptions,
    id: string,
    peerId: string,
    offer: OfferBody,
    safe: { files: string[]; emptyDirs: string[] },
    startedAt: number,
  ) {
    super(host, IncomingTransfer.infoFor(id, peerId, offer, safe, startedAt));
    this.offerBody = offer;
    this.safe = safe;
    this.io = opts.io ?? defaultIo;
    this.window = opts.window;
  }

  private static infoFor(
    id: string,
    peerId: string,
    offer: OfferBody,
    safe: { files: string[]; emptyDirs: string[] },
    startedAt: number,
  ): TransferInfo {
    return {
      id,
      direction: 'receive',
      peerId,
      files: offer.files.map((f, i) => ({ path: safe.files[i] ?? printable(f.path), bytes: f.size })),
      emptyDirs: [...safe.emptyDirs],
      totalBytes: offer.files.reduce((s, f) => s + f.size, 0),
      bytesDone: 0,
      bytesSkipped: 0,
      rate: 0,
      etaSec: null,
      state: 'offered',
      startedAt,
      finishedAt: null,
    };
  }

  /**
   * Build the transfer for an OFFER. If a path is unsafe the transfer exists (so the
   * user sees what happened) but is failed, and the sender is told.
   */
  static fromOffer(host: TransferHost, opts: ReceiverOptions, peerId: string, id: string, offer: OfferBody, channel: FramedChannel): IncomingTransfer {
    const r = sanitizeOfferPaths(
      offer.files.map((f) => f.path),
      offer.emptyDirs,
    );
    const t = new IncomingTransfer(host, opts, id, peerId, offer, r.ok ? r : { files: [], emptyDirs: [] }, Date.now());
    t.channel = channel;
    if (!r.ok) t.fail(new TransferFailure('unsafe-path', `The sender offered an unsafe file name (${r.reason}); nothing was saved. The transfer was refused.`));
    return t;
  }

  /** Restore an accepted transfer after a restart (paused until the sender re-offers). */
  static fromRecord(host: TransferHost, opts: ReceiverOptions, rec: IncomingRecord): IncomingTransfer | null {
    const r = sanitizeOfferPaths(
      rec.offer.files.map((f) => f.path),
      rec.offer.emptyDirs,
    );
    if (!r.ok) return null;
    const t = new IncomingTransfer(host, opts, rec.id, rec.peerId, rec.offer, r, rec.startedAt);
    t.info.saveDir = rec.saveDir;
    for (const d of rec.done ?? []) {
      const f = t.info.files[d.index];
      if (!f || typeof d.sha256 !== 'string' || typeof d.savedPath !== 'string') continue;
      t.doneFiles.set(d.index, { index: d.index, sha256: d.sha256, savedPath: d.savedPath });
      f.sha256 = d.sha256;
      f.savedPath = d.savedPath;
    }
    t.info.state = 'paused';
    t.info.error = { ...DISCONNECTED };
    return t;
  }

  toRecord(): IncomingRecord | null {
    if (!this.info.saveDir) return null;
    if (this.state === 'completed' || this.state === 'cancelled' || this.state === 'declined' || this.state === 'offered') return null;
    return {
      id: this.id,
      peerId: this.peerId,
      startedAt: this.info.startedAt,
      saveDir: this.info.saveDir,
      offer: this.offerBody,
      done: [...this.doneFiles.values()],
    };
  }

  /** Was this transfer accepted earlier (so a re-offer is accepted without asking)? */
  get acceptedBefore(): boolean {
    return this.info.saveDir !== undefined;
  }

  /**
   * The same transfer id was offered again (the sender reconnected or resumed).
   * Returns true if the user must be asked (state is `offered` again).
   */
  async reoffer(channel: FramedChannel, offer: OfferBody): Promise<'ask' | 'accepted' | 'answered'> {
    const s = this.state;
    if (s === 'completed') {
      this.channel = channel;
      this.send(encodeComplete(this.id));
      return 'answered';
    }
    if (s === 'declined' || s === 'cancelled') {
      this.channel = channel;
      this.send(s === 'declined' ? encodeDecline(this.id) : encodeCancel(this.id, 'receiver'));
      return 'answered';
    }
    await this.stop('pause');
    if (this.isFinal && this.state !== 'failed') return 'answered'; // cancelled meanwhile
    const r = sanitizeOfferPaths(
      offer.files.map((f) => f.path),
      offer.emptyDirs,
    );
    this.channel = channel;
    if (!r.ok) {
      this.fail(new TransferFailure('unsafe-path', `The sender offered an unsafe file name (${r.reason}); nothing was saved.`));
      return 'answered';
    }
    if (JSON.stringify(offer) !== JSON.stringify(this.offerBody)) this.doneFiles.clear();
    this.offerBody = offer;
    this.safe = r;
    const fresh = IncomingTransfer.infoFor(this.id, this.peerId, offer, r, this.info.startedAt);
    this.info.files = fresh.files;
    for (const d of this.doneFiles.values()) {
      const f = this.info.files[d.index];
      if (f) Object.assign(f, { sha256: d.sha256, savedPath: d.savedPath });
    }
    this.info.emptyDirs = fresh.emptyDirs;
    this.info.totalBytes = fresh.totalBytes;
    if (this.info.saveDir !== undefined) {
      await this.accept(this.info.saveDir);
      return 'accepted';
    }
    this.setState('offered');
    return 'ask';
  }

  decline(reason?: string): void {
    if (this.state !== 'offered') return;
    this.send(encodeDecline(this.id, reason));
    this.attempt++;
    this.setState('declined');
  }

  async accept(saveDir: string): Promise<void> {
    if (this.state === 'completed' || this.state === 'cancelled' || this.state === 'declined') return;
    const attempt = ++this.attempt;
    this.info.saveDir = saveDir;
    try {
      await fsp.mkdir(saveDir, { recursive: true });
      const have: AcceptFile[] = [];
      const files: FileRx[] = [];
      let skipped = 0;
      for (let i = 0; i < this.offerBody.files.length; i++) {
        const offer = this.offerBody.files[i]!;
        const f: FileRx = {
          index: i,
          offer,
          safe: this.safe.files[i]!,
          chunks: chunkCount(offer.size, offer.chunkSize),
          part: null,
          claimed: new Set(),
          hasher: createHash('sha256'),
          hashedUpTo: 0,
          expected: null,
          finalizing: false,
          done: false,
          pendingResend: new Set(),
          resends: new Map(),
        };
        files.push(f);
        const prev = this.doneFiles.get(i);
        if (prev) {
          const st = await fsp.stat(resolveInside(saveDir, prev.savedPath)).catch(() => null);
          if (st?.isFile() && st.size === offer.size) {
            f.done = true;
            skipped += offer.size;
            have.push({ index: i, have: [], hashes: [], done: true });
            continue;
          }
          this.doneFiles.delete(i); // deleted or changed since: receive it again
        }
        if (offer.size === 0) continue;
        const part = await PartialFile.resume(saveDir, f.safe, this.identity(offer), this.io, (ci, data) => {
          if (ci === f.hashedUpTo) {
            f.hasher.update(data);
            f.hashedUpTo++;
          }
        });
        if (attempt !== this.attempt) {
          await part?.release();
          return;
        }
        if (!part) continue;
        await part.release(); // keep no handle open until data arrives
        f.part = part;
        if (part.verified.size === 0) continue;
        const idx = [...part.verified.keys()].sort((a, b) => a - b);
        for (const ci of idx) f.claimed.add(ci);
        skipped += part.verifiedBytes;
        have.push({ index: i, have: idx, hashes: idx.map((ci) => part.verified.get(ci)!) });
      }
      for (const d of this.safe.emptyDirs) await fsp.mkdir(resolveInside(saveDir, d), { recursive: true });
      if (attempt !== this.attempt) return;
      this.files = files;
      this.filesLeft = files.filter((f) => !f.done).length;
      this.drainAttempt = -1;
      this.backlog = 0;
      this.processed = 0;
      this.wireBytes = 0;
      this.info.bytesSkipped = skipped;
      this.info.bytesDone = skipped;
      this.info.files.forEach((f, i) => {
        if (this.doneFiles.has(i)) return;
        delete f.sha256;
        delete f.savedPath;
      });
      this.send(encodeAccept(this.id, { files: have }), attempt);
      this.setState('active');
      if (this.filesLeft === 0) this.checkComplete(attempt);
    } catch (err) {
      if (attempt !== this.attempt) return;
      this.fail(this.toFailure(err, (e) => describeFsError(e, saveDir, 'write')));
    }
  }

  private identity(f: OfferFile): FileIdentity {
    return { senderPeerId: this.peerId, path: f.path, size: f.size, mtimeMs: f.mtimeMs, chunkSize: f.chunkSize };
  }

  // ---- frames ----------------------------------------------------------------

  handleData(fileIndex: number, chunkIndex: number, sha256: Uint8Array, payload: Uint8Array, frameLength: number): void {
    if (this.state !== 'active') return;
    const attempt = this.attempt;
    try {
      checkDataAgainstOffer(this.offerBody.files, fileIndex, chunkIndex, payload.length);
    } catch (err) {
      return this.protocolFailure(err instanceof WireError ? err.message : String(err));
    }
    this.backlog += frameLength;
    if (this.backlog > this.window * 2 + 64 * 1024 * 1024) return this.protocolFailure('sender ignored flow control');
    const f = this.files[fileIndex]!;
    const len = payload.length;
    if (f.finalizing || f.done) {
      // Late duplicate (e.g. a resend that crossed a good copy): acknowledge, ignore.
      return this.enqueue(attempt, async () => this.acked(len, frameLength, attempt));
    }
    const actual = createHash('sha256').update(payload).digest();
    if (!actual.equals(sha256)) {
      this.requestResend(f, chunkIndex, attempt);
      return this.enqueue(attempt, async () => this.acked(len, frameLength, attempt));
    }
    f.pendingResend.delete(chunkIndex);
    if (chunkIndex < f.hashedUpTo) {
      // Replacing data already hashed (our resumed copy differed): rehash at the end.
      f.hasher = createHash('sha256');
      f.hashedUpTo = 0;
    } else if (chunkIndex === f.hashedUpTo) {
      f.hasher.update(payload);
      f.hashedUpTo++;
    }
    this.enqueue(attempt, async () => {
      f.part ??= await PartialFile.create(this.info.saveDir!, f.safe, this.identity(f.offer), this.io);
      if (!this.writable(attempt)) return;
      const isNew = !f.part.verified.has(chunkIndex);
      await f.part.writeChunk(chunkIndex, payload, 0, len, actual);
      if (!this.writable(attempt)) return;
      if (isNew) this.info.bytesDone += len;
      else if (f.claimed.delete(chunkIndex)) this.info.bytesSkipped -= len;
      this.wireBytes += len;
      this.acked(len, frameLength, attempt);
      await this.maybeFinalize(f, attempt);
    });
  }

  handleFileEnd(fileIndex: number, sha256: Uint8Array): void {
    if (this.state !== 'active') return;
    const attempt = this.attempt;
    const f = this.files[fileIndex];
    if (!f) return this.protocolFailure(`FILE_END for file ${fileIndex} of ${this.files.length}`);
    if (f.expected || f.done) return this.protocolFailure(`second FILE_END for file ${fileIndex}`);
    f.expected = Uint8Array.from(sha256);
    this.enqueue(attempt, async () => {
      f.part ??= await PartialFile.create(this.info.saveDir!, f.safe, this.identity(f.offer), this.io);
      if (attempt !== this.attempt) return;
      // Anything still missing that we have not asked for: ask now.
      for (let ci = 0; ci < f.chunks; ci++) {
        if (!f.part.verified.has(ci) && !f.pendingResend.has(ci)) this.requestResend(f, ci, attempt);
      }
      await this.maybeFinalize(f, attempt);
    });
  }

  handleRemoteCancel(): void {
    if (this.isFinal && this.state !== 'failed') return;
    void this.stop('cancel');
    this.setState('cancelled');
  }

  handleRemoteError(body: ErrorBody): void {
    if (this.isFinal) return;
    void this.stop('fail');
    this.setState('failed', fromPeerError(body.code, body.message));
  }

  protocolFailure(detail: string): void {
    this.fail(protocolError(detail));
  }

  cancel(): void {
    if (this.state === 'completed' || this.state === 'cancelled' || this.state === 'declined') return;
    this.send(encodeCancel(this.id, 'receiver'));
    void this.stop('cancel');
    this.setState('cancelled');
  }

  /** The channel closed or was replaced: pause (partials are flushed and kept). */
  detach(channel: FramedChannel): Promise<void> {
    if (this.channel !== channel) return Promise.resolve();
    this.channel = null;
    if (this.state !== 'active' && this.state !== 'offered') return Promise.resolve();
    const stopped = this.stop('pause');
    this.setState('paused', DISCONNECTED);
    return stopped;
  }

  /** Wait for queued writes, finalizations and partial release (tests, shutdown). */
  async settled(): Promise<void> {
    await this.work();
    await this.stopping;
  }

  private async work(): Promise<void> {
    await this.chain;
    await Promise.all([...this.finalizing]);
  }

  override dispose(): void {
    if (!this.isFinal && this.state !== 'offered') void this.stop('pause');
    super.dispose();
  }

  // ---- internals -------------------------------------------------------------

  private fail(err: TransferFailure, discardIndex?: number): void {
    if (this.isFinal) return;
    this.send(encodeError(this.id, { role: 'receiver', code: err.code, message: err.message }));
    void this.stop('fail', discardIndex);
    this.setState('failed', err);
  }

  /**
   * End the current attempt. On 'pause', chunks already received are still written
   * (so they are not sent again); then partials are released (kept for resume).
   * On 'cancel' the partials of unfinished files are deleted.
   */
  private stop(mode: 'pause' | 'fail' | 'cancel', discardIndex?: number): Promise<void> {
    this.drainAttempt = mode === 'pause' ? this.attempt : -1;
    this.attempt++;
    const files = this.files;
    const done = (async () => {
      await this.work().catch(() => undefined);
      await Promise.all(
        files.map(async (f) => {
          if (!f.part || f.done) return;
          try {
            if (mode === 'cancel' || f.index === discardIndex) await f.part.discard();
            else await f.part.release();
          } catch (err) {
            this.host.log(`releasing partial ${f.safe}: ${String(err)}`);
          }
        }),
      );
    })();
    this.stopping = this.stopping.then(() => done);
    return done;
  }

  /** May work queued under `attempt` still touch the disk? */
  private writable(attempt: number): boolean {
    return attempt === this.attempt || attempt === this.drainAttempt;
  }

  private enqueue(attempt: number, fn: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (!this.writable(attempt)) return;
      try {
        await fn();
      } catch (err) {
        if (attempt !== this.attempt) return;
        this.fail(this.toFailure(err, (e) => describeFsError(e, this.info.saveDir ?? '', 'write')));
      }
    });
  }

  private acked(len: number, frameLength: number, attempt: number): void {
    this.backlog -= frameLength;
    this.processed += len;
    this.send(encodeAck(this.id, this.processed), attempt);
    this.progressChanged();
  }

  private requestResend(f: FileRx, ci: number, attempt: number): void {
    const n = (f.resends.get(ci) ?? 0) + 1;
    f.resends.set(ci, n);
    if (n > MAX_RESENDS_PER_CHUNK) {
      return this.fail(
        new TransferFailure('chunk-corrupt', `Part of "${f.safe}" kept arriving corrupted. Check the connection and send again.`),
      );
    }
    f.pendingResend.add(ci);
    this.send(encodeResend(this.id, f.index, ci), attempt);
  }

  private async maybeFinalize(f: FileRx, attempt: number): Promise<void> {
    if (!f.expected || f.finalizing || f.done || !f.part || !f.part.complete) return;
    f.finalizing = true;
    while (this.finalizing.size >= MAX_CONCURRENT_FINALIZE) await Promise.race(this.finalizing);
    const p = this.finalizeFile(f, attempt).finally(() => this.finalizing.delete(p));
    this.finalizing.add(p);
  }

  private async finalizeFile(f: FileRx, attempt: number): Promise<void> {
    const part = f.part!;
    if (attempt !== this.attempt) return; // not while draining a paused attempt
    try {
      for (let ci = f.hashedUpTo; ci < f.chunks; ci++) {
        f.hasher.update(await part.readChunk(ci));
        if (attempt !== this.attempt) return;
      }
      f.hashedUpTo = f.chunks;
      const digest = f.hasher.digest();
      if (!digest.equals(f.expected!)) {
        return this.fail(
          new TransferFailure(
            'file-hash-mismatch',
            `"${f.safe}" arrived corrupted (its SHA-256 does not match the sender's) and was deleted. Send it again.`,
          ),
          f.index,
        );
      }
      let saved: string;
      if (await this.sameFileAlreadyThere(f, digest)) {
        await part.discard();
        saved = f.safe;
      } else {
        saved = await part.finalize(this.info.saveDir!, f.safe);
      }
      f.done = true;
      const info = this.info.files[f.index]!;
      info.sha256 = bytesToHex(digest);
      info.savedPath = saved;
      this.doneFiles.set(f.index, { index: f.index, sha256: info.sha256, savedPath: saved });
      this.host.persistSoon();
      this.filesLeft--;
      this.checkComplete(attempt);
    } catch (err) {
      if (attempt !== this.attempt) return;
      this.fail(this.toFailure(err, (e) => describeFsError(e, this.info.saveDir ?? '', 'write')));
    }
  }

  /**
   * Is a file with exactly this content already at the target name? (E.g. it was
   * finished just before a crash, or sent twice.) Then keep it instead of saving a
   * ` (1)` duplicate.
   */
  private async sameFileAlreadyThere(f: FileRx, digest: Uint8Array): Promise<boolean> {
    const target = resolveInside(this.info.saveDir!, f.safe);
    const st = await fsp.stat(target).catch(() => null);
    if (!st?.isFile() || st.size !== f.offer.size) return false;
    const h = createHash('sha256');
    const fh = await fsp.open(target, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(f.offer.size, 4 * 1024 * 1024) || 1);
      for (let pos = 0; pos < f.offer.size; ) {
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

  private checkComplete(attempt: number): void {
    if (attempt !== this.attempt || this.filesLeft > 0 || this.state !== 'active') return;
    this.send(encodeComplete(this.id), attempt);
    this.attempt++;
    this.setState('completed');
  }

  /** Size of a chunk of file `fi` (for tests/diagnostics). */
  chunkBytes(fi: number, ci: number): number {
    const f = this.offerBody.files[fi]!;
    return chunkLength(f.size, f.chunkSize, ci);
  }
}
