/**
 * The receiving side of one transfer. An OFFER's paths are sanitized up front
 * (an unsafe one fails the transfer). On accept, each file's partial (same
 * sender, path, size, mtime, chunk size) is looked up and re-verified, and the
 * ACCEPT lists the chunks we already have so they are not sent again.
 *
 * Chunk hash: the first of the offer's proposals we compute natively (BLAKE3),
 * else SHA-256; named in the ACCEPT (chunk-hash.ts).
 * DATA: the chunk hash is checked on arrival (mismatch → RESEND, bounded), the
 * whole-file SHA-256 is fed in order, and the chunk is written at its offset by
 * a serial write queue; every processed chunk is ACKed (the sender's flow-control
 * window). FILE_END: once all chunks are present, the rest of the whole-file hash
 * is computed from disk (resumed prefix, holes), compared, and the file fsynced
 * and moved to its final, collision-free name (several finalizations run
 * concurrently). COMPLETE when every file and empty folder is in place.
 * Disk errors fail the transfer with partials kept; disconnects pause it.
 */
import { promises as fsp } from 'node:fs';
import type { TransferInfo } from '../../../shared/domain/transfer.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import {
  bytesToHex,
  checkDataAgainstOffer,
  encodeAccept,
  encodeAck,
  encodeCancel,
  encodeComplete,
  encodeDecline,
  encodeError,
  encodeFileDone,
  encodeResend,
  WireError,
  type ErrorBody,
  type OfferBody,
} from '../../wire/transfer-frames.js';
import { TransferFailure, describeFsError, fromPeerError, messageForPeer, protocolError } from './errors.js';
import { IncomingFile, prepareFiles, type DoneFile } from './incoming-file.js';
import { chunkHash, pickChunkHash, type ChunkHashAlg } from './chunk-hash.js';
import { defaultIo, resolveInside, type PartialIo } from './partial-store.js';

export type { DoneFile };
import { printable, sanitizeOfferPaths } from './safe-names.js';
import { DISCONNECTED } from './sender.js';
import { TransferBase, type TransferHost } from './transfer-base.js';

const MAX_CONCURRENT_FINALIZE = 8;

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
  /** Chunk hashes we accept besides sha256 (default: those computed natively here). */
  chunkHashes?: readonly ChunkHashAlg[];
}

export class IncomingTransfer extends TransferBase {
  private offerBody: OfferBody;
  private safe: { files: string[]; emptyDirs: string[] };
  private readonly io: PartialIo;
  private readonly window: number;
  private readonly acceptable: readonly ChunkHashAlg[] | undefined;
  private files: IncomingFile[] = [];
  private chain: Promise<void> = Promise.resolve();
  private backlog = 0;
  private processed = 0;
  private finalizing = new Set<Promise<void>>();
  private filesLeft = 0;
  /** Files completed in any attempt of this transfer, by index. */
  private doneFiles = new Map<number, DoneFile>();
  /** After a pause, writes of that attempt still complete (data already received is kept). */
  private readonly draining = new Set<number>();
  private stopping: Promise<void> = Promise.resolve();
  private accepting: Promise<void> = Promise.resolve();
  /** Chunk hash of the current attempt (picked from the offer's proposals at accept). */
  private alg: ChunkHashAlg = 'sha256';

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
    this.acceptable = opts.chunkHashes;
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

  /**
   * Accepts run one at a time: a sender that offers twice in a row (reconnect +
   * resume) makes two; the later one waits for the earlier to let go of the
   * partials (whose sidecars it may be flushing) and the superseded one stops early.
   */
  accept(saveDir: string): Promise<void> {
    if (this.state === 'completed' || this.state === 'cancelled' || this.state === 'declined') return Promise.resolve();
    const attempt = ++this.attempt;
    this.info.saveDir = saveDir;
    const run = this.accepting.then(() => this.doAccept(saveDir, attempt));
    this.accepting = run.catch(() => undefined);
    return run;
  }

  private async doAccept(saveDir: string, attempt: number): Promise<void> {
    if (attempt !== this.attempt) return;
    const alg = pickChunkHash(this.offerBody.chunkHashes, this.acceptable);
    try {
      await fsp.mkdir(saveDir, { recursive: true });
      const prepared = await prepareFiles({
        offer: this.offerBody,
        safePaths: this.safe.files,
        senderPeerId: this.peerId,
        saveDir,
        io: this.io,
        done: this.doneFiles,
        current: () => attempt === this.attempt,
        alg,
      });
      if (!prepared) return;
      const { files, have, skipped } = prepared;
      for (const d of this.safe.emptyDirs) await fsp.mkdir(resolveInside(saveDir, d), { recursive: true });
      if (attempt !== this.attempt) return;
      this.files = files;
      this.alg = alg;
      this.filesLeft = files.filter((f) => !f.done).length;
      this.draining.clear();
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
      for (const frame of encodeAccept(this.id, { files: have, chunkHash: alg })) this.send(frame, attempt);
      this.setState('active');
      if (this.filesLeft === 0) this.checkComplete(attempt);
    } catch (err) {
      if (attempt !== this.attempt) return;
      this.fail(this.toFailure(err, (e) => describeFsError(e, saveDir, 'write')));
    }
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
    const actual = chunkHash(this.alg, payload);
    if (!actual.equals(sha256)) {
      this.requestResend(f, chunkIndex, attempt);
      return this.enqueue(attempt, async () => this.acked(len, frameLength, attempt));
    }
    f.arrived(chunkIndex, payload);
    this.enqueue(attempt, async () => {
      const isNew = await f.write(chunkIndex, payload, actual);
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
      await f.ensurePart(); // empty files, or files whose chunks were all here already
      if (attempt !== this.attempt) return;
      // Anything still missing that we have not asked for: ask now.
      for (const ci of f.missing()) this.requestResend(f, ci, attempt);
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
    this.send(encodeError(this.id, { role: 'receiver', code: err.code, message: messageForPeer(err, 'receiver') }));
    void this.stop('fail', discardIndex);
    this.setState('failed', err);
  }

  /**
   * End the current attempt. On 'pause', chunks already received are still written
   * (so they are not sent again); then partials are released (kept for resume).
   * On 'cancel' the partials of unfinished files are deleted.
   */
  private stop(mode: 'pause' | 'fail' | 'cancel', discardIndex?: number): Promise<void> {
    if (mode === 'pause') this.draining.add(this.attempt);
    else this.draining.clear();
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
    return attempt === this.attempt || this.draining.has(attempt);
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

  private requestResend(f: IncomingFile, ci: number, attempt: number): void {
    if (!f.askAgain(ci)) {
      return this.fail(
        new TransferFailure('chunk-corrupt', `Part of "${f.safe}" kept arriving corrupted. Check the connection and send again.`),
      );
    }
    this.send(encodeResend(this.id, f.index, ci), attempt);
  }

  private async maybeFinalize(f: IncomingFile, attempt: number): Promise<void> {
    if (!f.ready || attempt !== this.attempt) return;
    f.finalizing = true;
    while (this.finalizing.size >= MAX_CONCURRENT_FINALIZE) await Promise.race(this.finalizing);
    const p = this.finalizeFile(f, attempt).finally(() => this.finalizing.delete(p));
    this.finalizing.add(p);
  }

  private async finalizeFile(f: IncomingFile, attempt: number): Promise<void> {
    try {
      const r = await f.finalize(() => attempt === this.attempt);
      if (!r) return;
      if (r.ok) {
        // Record it even if the attempt ended meanwhile: the file is in place.
        const info = this.info.files[f.index]!;
        info.sha256 = bytesToHex(r.sha256);
        info.savedPath = r.savedPath;
        this.doneFiles.set(f.index, { index: f.index, sha256: info.sha256, savedPath: r.savedPath });
        this.host.persistSoon();
        // With blake3 the sender never hashed the content: tell it what we got.
        if (f.alg !== 'sha256') this.send(encodeFileDone(this.id, f.index, r.sha256), attempt);
      }
      if (attempt !== this.attempt) return;
      if (!r.ok) {
        return this.fail(
          new TransferFailure(
            'file-hash-mismatch',
            `"${f.safe}" arrived corrupted (its SHA-256 does not match the sender's) and was deleted. Send it again.`,
          ),
          f.index,
        );
      }
      this.filesLeft--;
      this.checkComplete(attempt);
    } catch (err) {
      if (attempt !== this.attempt) return;
      this.fail(this.toFailure(err, (e) => describeFsError(e, this.info.saveDir ?? '', 'write')));
    }
  }

  private checkComplete(attempt: number): void {
    if (attempt !== this.attempt || this.filesLeft > 0 || this.state !== 'active') return;
    this.send(encodeComplete(this.id), attempt);
    this.attempt++;
    this.setState('completed');
  }

}
