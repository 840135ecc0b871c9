/**
 * The sending side of one transfer: OFFER, then on ACCEPT stream every file as
 * DATA frames (one buffer per chunk: the file is read straight into the frame
 * after its header, hashed, and handed to the channel), FILE_END with the
 * whole-file SHA-256, until the receiver says COMPLETE.
 *
 * Chunks the receiver claims to have are still read and hashed here (to keep the
 * whole-file hash, and to check the claim): a matching claim is skipped, a
 * mismatching one is sent again. Flow control: at most `window` bytes sent but
 * not yet ACKed by the receiver (written to its disk), and channel
 * backpressure via `drained()`. RESENDs are served between chunks and after the
 * last FILE_END.
 */
import { createHash } from 'node:crypto';
import { promises as fsp, type promises } from 'node:fs';
import type { TransferInfo, TransferWarning } from '../../../shared/domain/transfer.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import {
  DATA_HEADER_SIZE,
  allocDataFrame,
  bytesToHex,
  chunkCount,
  chunkLength,
  encodeCancel,
  encodeError,
  encodeFileEnd,
  encodeOffer,
  PartCollector,
  writeDataHeader,
  WireError,
  type AcceptBody,
  type ErrorBody,
} from '../../wire/transfer-frames.js';
import { LOCAL_CHUNK_HASHES, chunkHash, fileRoot, type ChunkHashAlg } from './chunk-hash.js';
import { TransferFailure, describeFsError, fromPeerError, messageForPeer, protocolError } from './errors.js';
import type { ScannedFile } from './scan.js';
import { TransferBase, type TransferHost } from './transfer-base.js';

const MAX_RESENDS_PER_CHUNK = 5;

export interface OutgoingRecord {
  id: string;
  peerId: string;
  startedAt: number;
  chunkSize: number;
  files: ScannedFile[];
  emptyDirs: string[];
  warnings: TransferWarning[];
  state: 'paused' | 'failed';
  error?: { code: string; message: string };
}

export interface SenderOptions {
  chunkSize: number;
  /** Max bytes sent but not yet acknowledged by the receiver. */
  window: number;
  /** Chunk hashes to propose besides sha256 (default: those computed natively here). */
  chunkHashes?: readonly ChunkHashAlg[];
}

/** Resolve-all wakeup for loops waiting on acks, resends or stop. */
export class Signal {
  private waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
  fire(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}

const DISCONNECTED = {
  code: 'disconnected' as const,
  message: 'The other computer is not connected. The transfer resumes automatically when it reconnects.',
};

export class OutgoingTransfer extends TransferBase {
  readonly sources: ScannedFile[];
  readonly chunkSize: number;
  private readonly window: number;
  private readonly proposed: readonly ChunkHashAlg[];
  private readonly signal = new Signal();
  // Per-attempt state:
  private have = new Map<number, Map<number, Uint8Array>>();
  /** Files the receiver completed in an earlier attempt: not read, not sent. */
  private doneAtReceiver = new Set<number>();
  private sent = 0;
  private acked = 0;
  private resentBytes = 0;
  private claimedBytes = 0;
  private allSent = false;
  private resendQueue: { fi: number; ci: number }[] = [];
  private resendCounts = new Map<string, number>();
  private acceptParts = new PartCollector<AcceptBody>();
  /** Pending `drained()` of the channel after a write returned false. */
  private draining: Promise<void> | null = null;
  /** Chunk hash of the current attempt (picked by the receiver's ACCEPT). */
  private alg: ChunkHashAlg = 'sha256';

  constructor(
    host: TransferHost,
    opts: SenderOptions,
    rec: Omit<OutgoingRecord, 'state' | 'error'>,
    state: TransferInfo['state'],
    error?: TransferInfo['error'],
  ) {
    super(host, {
      id: rec.id,
      direction: 'send',
      peerId: rec.peerId,
      files: rec.files.map((f) => ({ path: f.path, bytes: f.size })),
      emptyDirs: [...rec.emptyDirs],
      totalBytes: rec.files.reduce((s, f) => s + f.size, 0),
      bytesDone: 0,
      bytesSkipped: 0,
      rate: 0,
      etaSec: null,
      state,
      startedAt: rec.startedAt,
      finishedAt: state === 'failed' ? Date.now() : null,
      ...(rec.warnings.length > 0 ? { warnings: rec.warnings } : {}),
      ...(error ? { error } : {}),
    });
    this.sources = rec.files;
    this.chunkSize = rec.chunkSize;
    this.window = opts.window;
    this.proposed = opts.chunkHashes ?? LOCAL_CHUNK_HASHES;
  }

  toRecord(): OutgoingRecord | null {
    const s = this.state;
    if (s === 'completed' || s === 'cancelled' || s === 'declined') return null;
    return {
      id: this.id,
      peerId: this.peerId,
      startedAt: this.info.startedAt,
      chunkSize: this.chunkSize,
      files: this.sources,
      emptyDirs: this.info.emptyDirs,
      warnings: this.info.warnings ?? [],
      state: s === 'failed' ? 'failed' : 'paused',
      ...(this.info.error ? { error: this.info.error } : {}),
    };
  }

  /** Waiting for a channel to (re)offer on. */
  get wantsOffer(): boolean {
    return this.state === 'paused' || (this.state === 'waiting-accept' && this.channel === null);
  }

  /** (Re)send the offer on `channel`. Also used by `resume` for failed transfers. */
  offer(channel: FramedChannel): void {
    this.attempt++;
    this.signal.fire();
    this.channel = channel;
    this.setState('waiting-accept');
    this.acceptParts = new PartCollector<AcceptBody>();
    this.draining = null;
    for (const frame of encodeOfferFrames(this.id, this.sources, this.info.emptyDirs, this.chunkSize, this.proposed)) this.send(frame);
  }

  /** No channel to offer on yet. */
  markOffline(): void {
    if (this.isFinal) return;
    this.attempt++;
    this.channel = null;
    this.signal.fire();
    this.setState('paused', DISCONNECTED);
  }

  /** The channel closed or was replaced. */
  detach(channel: FramedChannel): void {
    if (this.channel !== channel) return;
    this.channel = null;
    this.attempt++;
    this.signal.fire();
    if (this.state === 'active' || this.state === 'waiting-accept') this.setState('paused', DISCONNECTED);
  }

  cancel(): void {
    if (this.state === 'completed' || this.state === 'cancelled' || this.state === 'declined') return;
    this.send(encodeCancel(this.id, 'sender'));
    this.stop();
    this.setState('cancelled');
  }

  handleAccept(part: AcceptBody, index: number, parts: number): void {
    if (this.state !== 'waiting-accept') return this.host.log(`ACCEPT for ${this.id} in state ${this.state}`);
    let bodies: AcceptBody[] | null;
    try {
      bodies = this.acceptParts.add(this.id, index, parts, part);
    } catch (err) {
      return this.protocolFailure(err instanceof Error ? err.message : String(err));
    }
    if (!bodies) return; // more parts to come
    const body: AcceptBody = { files: bodies.flatMap((b) => b.files) };
    const alg: ChunkHashAlg = bodies[0]?.chunkHash ?? 'sha256';
    if (bodies.some((b) => (b.chunkHash ?? 'sha256') !== alg)) return this.protocolFailure('accept parts pick different chunk hashes');
    if (alg !== 'sha256' && !this.proposed.includes(alg)) return this.protocolFailure(`accept picks chunk hash ${alg}, which was not offered`);
    const have = new Map<number, Map<number, Uint8Array>>();
    const done = new Set<number>();
    let claimed = 0;
    for (const f of body.files) {
      const src = this.sources[f.index];
      if (!src) return this.protocolFailure(`accept names file ${f.index} of ${this.sources.length}`);
      if (f.done) {
        if (!done.has(f.index)) claimed += src.size;
        done.add(f.index);
        continue;
      }
      const n = chunkCount(src.size, this.chunkSize);
      const m = have.get(f.index) ?? new Map<number, Uint8Array>();
      for (let j = 0; j < f.have.length; j++) {
        const ci = f.have[j]!;
        if (ci >= n) return this.protocolFailure(`accept claims chunk ${ci} of ${n} in file ${f.index}`);
        if (!m.has(ci)) claimed += chunkLength(src.size, this.chunkSize, ci);
        m.set(ci, f.hashes[j]!);
      }
      have.set(f.index, m);
    }
    this.alg = alg;
    this.have = have;
    this.doneAtReceiver = done;
    this.sent = 0;
    this.acked = 0;
    this.resentBytes = 0;
    this.claimedBytes = claimed;
    this.allSent = false;
    this.resendQueue = [];
    this.resendCounts.clear();
    this.wireBytes = 0;
    this.info.bytesSkipped = claimed;
    this.info.bytesDone = claimed;
    this.setState('active');
    void this.run(this.attempt);
  }

  handleDecline(): void {
    if (this.state !== 'waiting-accept') return;
    this.stop();
    this.setState('declined');
  }

  handleAck(bytes: number): void {
    if (this.state !== 'active') return;
    if (bytes > this.sent) return this.protocolFailure(`ack of ${bytes} bytes but only ${this.sent} sent`);
    if (bytes <= this.acked) return;
    this.acked = bytes;
    this.wireBytes = bytes;
    this.updateDone();
    this.signal.fire();
  }

  handleResend(fi: number, ci: number): void {
    if (this.state !== 'active') return;
    const src = this.sources[fi];
    if (!src || ci >= chunkCount(src.size, this.chunkSize)) return this.protocolFailure(`resend of chunk ${ci} of file ${fi}`);
    const key = `${fi}:${ci}`;
    const n = (this.resendCounts.get(key) ?? 0) + 1;
    this.resendCounts.set(key, n);
    if (n > MAX_RESENDS_PER_CHUNK) {
      return this.fail(
        new TransferFailure('chunk-corrupt', `Part of "${src.path}" kept arriving corrupted. Check the connection and send again.`),
      );
    }
    this.resendQueue.push({ fi, ci });
    this.signal.fire();
  }

  /** blake3 attempts: the receiver's content SHA-256 of a file it verified against our root. */
  handleFileDone(fi: number, sha256: Uint8Array): void {
    if (this.state !== 'active') return;
    const f = this.info.files[fi];
    if (!f) return this.protocolFailure(`FILE_DONE for file ${fi} of ${this.sources.length}`);
    if (this.alg === 'sha256') return; // we computed it ourselves
    f.sha256 = bytesToHex(sha256);
  }

  handleComplete(): void {
    if (this.state !== 'active') return;
    if (!this.allSent) return this.protocolFailure('COMPLETE before all files were sent');
    this.stop();
    this.setState('completed');
  }

  handleRemoteCancel(): void {
    if (this.isFinal && this.state !== 'failed') return;
    this.stop();
    this.setState('cancelled');
  }

  handleRemoteError(body: ErrorBody): void {
    if (this.isFinal) return;
    this.stop();
    this.setState('failed', fromPeerError(body.code, body.message));
  }

  /** A frame for this transfer could not be parsed or broke the protocol. */
  protocolFailure(detail: string): void {
    this.fail(protocolError(detail));
  }

  private fail(err: TransferFailure): void {
    if (this.isFinal) return;
    this.send(encodeError(this.id, { role: 'sender', code: err.code, message: messageForPeer(err, 'sender') }));
    this.stop();
    this.setState('failed', err);
  }

  private stop(): void {
    this.attempt++;
    this.signal.fire();
  }

  override dispose(): void {
    this.stop();
    super.dispose();
  }

  private updateDone(): void {
    const moved = Math.max(0, this.acked - this.resentBytes);
    this.info.bytesDone = Math.min(this.info.totalBytes, this.info.bytesSkipped + moved);
    this.progressChanged();
  }

  private live(attempt: number): boolean {
    return attempt === this.attempt && this.state === 'active';
  }

  private async run(attempt: number): Promise<void> {
    let where = '';
    if (this.sources.length === 0) this.allSent = true;
    try {
      for (let fi = 0; fi < this.sources.length; fi++) {
        if (!this.live(attempt)) return;
        if (this.doneAtReceiver.has(fi)) continue;
        where = this.sources[fi]!.absPath;
        await this.sendFile(fi, attempt);
      }
      if (!this.live(attempt)) return;
      this.allSent = true;
      while (this.live(attempt)) {
        await this.serviceResends(attempt);
        if (!this.live(attempt)) return;
        await this.signal.wait();
      }
    } catch (err) {
      if (!this.live(attempt)) return;
      this.fail(this.toFailure(err, (e) => describeFsError(e, where, 'read')));
    }
  }

  private async readChunk(fh: promises.FileHandle, fi: number, ci: number): Promise<Buffer> {
    const src = this.sources[fi]!;
    const len = chunkLength(src.size, this.chunkSize, ci);
    const buf = allocDataFrame(len);
    const pos = ci * this.chunkSize;
    let done = 0;
    while (done < len) {
      const { bytesRead } = await fh.read(buf, DATA_HEADER_SIZE + done, len - done, pos + done);
      if (bytesRead === 0) throw this.changed(src);
      done += bytesRead;
    }
    return buf;
  }

  private changed(src: ScannedFile): TransferFailure {
    return new TransferFailure('source-changed', `"${src.path}" changed since it was offered. Send it again.`);
  }

  private async sendFile(fi: number, attempt: number): Promise<void> {
    const src = this.sources[fi]!;
    const st = await fsp.stat(src.absPath);
    if (!st.isFile() || st.size !== src.size || Math.trunc(st.mtimeMs) !== src.mtimeMs) throw this.changed(src);
    const alg = this.alg;
    // sha256: the content's SHA-256; blake3: the root over the chunk hashes (see chunk-hash.ts).
    const whole = alg === 'sha256' ? createHash('sha256') : null;
    const hashes: Buffer[] = [];
    const n = chunkCount(src.size, this.chunkSize);
    const claims = this.have.get(fi);
    if (n > 0) {
      const fh = await fsp.open(src.absPath, 'r');
      let next: Promise<Buffer> | null = null;
      try {
        next = this.readChunk(fh, fi, 0);
        for (let ci = 0; ci < n && next; ci++) {
          const buf: Buffer = await next;
          next = ci + 1 < n ? this.readChunk(fh, fi, ci + 1) : null;
          next?.catch(() => undefined);
          if (!this.live(attempt)) return;
          const payload = buf.subarray(DATA_HEADER_SIZE);
          const sha = chunkHash(alg, payload);
          if (whole) whole.update(payload);
          else hashes.push(sha);
          const claim = claims?.get(ci);
          if (claim) {
            if (sha.equals(claim)) continue;
            // The receiver's copy differs from ours: send it, it is no longer "skipped".
            this.info.bytesSkipped -= payload.length;
            this.updateDone();
          }
          writeDataHeader(buf, this.id, fi, ci, sha);
          await this.sendData(buf, payload.length, attempt);
          if (this.resendQueue.length > 0) await this.serviceResends(attempt);
        }
      } finally {
        await next?.catch(() => undefined);
        await fh.close();
      }
    }
    if (!this.live(attempt)) return;
    const digest = whole ? whole.digest() : fileRoot(hashes);
    if (whole) this.info.files[fi]!.sha256 = bytesToHex(digest);
    if (fi === this.sources.length - 1) this.allSent = true;
    this.send(encodeFileEnd(this.id, fi, digest), attempt);
  }

  /**
   * Write one DATA frame once the window and the channel allow. After a `false`
   * from write() we do not wait right away: the next chunk is read and hashed
   * while the channel drains, and the drain is awaited before the next write.
   */
  private async sendData(frame: Uint8Array, len: number, attempt: number): Promise<void> {
    while (this.sent - this.acked >= this.window) {
      await this.signal.wait();
      if (!this.live(attempt)) return;
    }
    if (this.draining) {
      await this.draining;
      this.draining = null;
    }
    const ch = this.channel;
    if (!ch || !this.live(attempt)) return;
    const ok = this.send(frame, attempt);
    this.sent += len;
    if (!ok) this.draining = ch.drained();
  }

  private async serviceResends(attempt: number): Promise<void> {
    while (this.resendQueue.length > 0 && this.live(attempt)) {
      const { fi, ci } = this.resendQueue.shift()!;
      const src = this.sources[fi]!;
      const fh = await fsp.open(src.absPath, 'r');
      let buf: Buffer;
      try {
        buf = await this.readChunk(fh, fi, ci);
      } finally {
        await fh.close();
      }
      const payload = buf.subarray(DATA_HEADER_SIZE);
      writeDataHeader(buf, this.id, fi, ci, chunkHash(this.alg, payload));
      this.resentBytes += payload.length;
      await this.sendData(buf, payload.length, attempt);
    }
  }
}

export { DISCONNECTED };

/**
 * The OFFER frames for a manifest. Throws TransferFailure `too-many-files` when
 * the list does not fit in MAX_PARTS frames.
 */
export function encodeOfferFrames(
  id: string,
  files: readonly ScannedFile[],
  emptyDirs: string[],
  chunkSize: number,
  chunkHashes: readonly string[] = [],
): Uint8Array[] {
  try {
    return encodeOffer(id, {
      files: files.map((f) => ({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, chunkSize })),
      emptyDirs,
      ...(chunkHashes.length ? { chunkHashes: [...chunkHashes] } : {}),
    });
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    throw new TransferFailure(
      'too-many-files',
      `Too many files for one transfer (${files.length} files, ${emptyDirs.length} empty folders). Send them in several parts, or as an archive.`,
    );
  }
}
