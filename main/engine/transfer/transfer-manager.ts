/**
 * Entry point of the transfer layer. One TransferManager per app; the session
 * layer calls `attachChannel(peerId, channel)` for every connected peer channel
 * and the manager subscribes to it itself (frames 0x20–0x3f via
 * `channel.onFrame`, plus `onClose`): the session must NOT forward those frames too.
 *
 * - Several transfers at once, in both directions, on one channel and across channels.
 * - A channel closing pauses its transfers; attaching a new channel for the same
 *   peer re-offers the paused outgoing ones (same transfer id), and the receiver
 *   resumes from its verified partials (accepting automatically if it had accepted).
 * - Pending outgoing and accepted incoming transfers are persisted in
 *   `<dataDir>/transfers.json`, so an app restart resumes too.
 * - Hostile or malformed frames fail only the transfer they name; nothing throws
 *   out of a frame handler.
 *
 * Events: 'transfer' (full TransferInfo snapshot on every state change),
 * 'progress' (throttled ~200 ms + final), 'offer' (an incoming offer waits for
 * accept/decline). They carry the payloads of shared/domain/transfer.ts
 * ('transfer-updated', 'transfer-progress', 'incoming-offer').
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type {
  IncomingOfferPayload,
  TransferInfo,
  TransferProgressPayload,
} from '../../../shared/domain/transfer.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import {
  FrameType,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  encodeError,
  isTransferFrame,
  parseTransferFrame,
  PartCollector,
  WireError,
  type OfferBody,
  type TransferFrame,
} from '../../wire/transfer-frames.js';
import { TransferFailure } from './errors.js';
import { TypedEmitter } from './events.js';
import type { PartialIo } from './partial-store.js';
import type { ChunkHashAlg } from './chunk-hash.js';
import { TransferStateFile, type PersistedTransfers } from './persist.js';
import { IncomingTransfer } from './receiver.js';
import { scanPaths } from './scan.js';
import { OutgoingTransfer, encodeOfferFrames } from './sender.js';
import type { TransferBase, TransferHost } from './transfer-base.js';

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const DEFAULT_WINDOW = 32 * 1024 * 1024;
/** Offers from one peer waiting for an answer; more are declined (a peer cannot flood the UI). */
const MAX_PENDING_OFFERS_PER_PEER = 64;
const PERSIST_THROTTLE_MS = 1000;
/** Multi-frame OFFERs being assembled per peer. */
const MAX_MULTIPART_OFFERS_PER_PEER = 4;

export interface TransferManagerOptions {
  /** Where transfers.json lives. */
  dataDir: string;
  /** Default save folder for accepted transfers. */
  downloadDir: string;
  /** Bytes per DATA chunk (default 1 MiB, 16 KiB–16 MiB). */
  chunkSize?: number;
  /** Max unacknowledged bytes in flight per transfer (default 32 MiB). */
  window?: number;
  /** Return true to accept an offer into `downloadDir` without asking. */
  autoAccept?: (offer: IncomingOfferPayload) => boolean;
  /** Diagnostics (dropped frames, persistence problems). */
  log?: (msg: string) => void;
  /** Test hook: how receivers open partial files (inject disk errors). */
  io?: PartialIo;
  /** Chunk hashes proposed/accepted besides sha256 (default: BLAKE3 where its native module loads). */
  chunkHashes?: readonly ChunkHashAlg[];
}

export interface TransferManagerEvents {
  transfer: TransferInfo;
  progress: TransferProgressPayload;
  offer: IncomingOfferPayload;
}

interface Attached {
  channel: FramedChannel;
  unsubscribe: () => void;
}

export class TransferManager {
  private readonly opts: Required<Pick<TransferManagerOptions, 'dataDir' | 'downloadDir' | 'chunkSize' | 'window'>> &
    TransferManagerOptions;
  private readonly emitter: TypedEmitter<TransferManagerEvents>;
  private readonly outgoing = new Map<string, OutgoingTransfer>();
  private readonly incoming = new Map<string, IncomingTransfer>();
  private readonly channels = new Map<string, Attached>();
  /** Multi-frame OFFERs being received, by `${peerId}\n${id}`. */
  private readonly offerParts = new Map<string, PartCollector<OfferBody>>();
  private readonly store: TransferStateFile;
  private readonly host: TransferHost;
  private readonly loaded: Promise<void>;
  private closed = false;
  private persistTimer: NodeJS.Timeout | null = null;

  constructor(options: TransferManagerOptions) {
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw new RangeError(`chunkSize must be an integer in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
    }
    this.opts = { ...options, chunkSize, window: options.window ?? DEFAULT_WINDOW };
    const log = options.log ?? (() => undefined);
    this.emitter = new TypedEmitter((err) => log(`event listener threw: ${String(err)}`));
    this.store = new TransferStateFile(options.dataDir, log);
    this.host = {
      changed: (t) => this.onChanged(t),
      progress: (p) => this.emitter.emit('progress', p),
      persistSoon: () => {
        if (this.persistTimer || this.closed) return;
        this.persistTimer = setTimeout(() => {
          this.persistTimer = null;
          this.persist();
        }, PERSIST_THROTTLE_MS);
        this.persistTimer.unref?.();
      },
      log,
    };
    this.loaded = this.load();
  }

  /** Resolves once persisted transfers are loaded (methods wait for it themselves). */
  ready(): Promise<void> {
    return this.loaded;
  }

  on<K extends keyof TransferManagerEvents>(event: K, handler: (payload: TransferManagerEvents[K]) => void): () => void {
    return this.emitter.on(event, handler);
  }

  /**
   * Start using `channel` for `peerId` (replacing any previous one, whose transfers
   * pause). Subscribes to its transfer frames and close; re-offers this peer's
   * paused outgoing transfers.
   */
  attachChannel(peerId: string, channel: FramedChannel): void {
    if (this.closed || channel.closed) return;
    const prev = this.channels.get(peerId);
    if (prev?.channel === channel) return;
    if (prev) this.detachChannel(peerId);
    // The channel is ours before we subscribe: subscribing hands over at once the
    // frames that arrived before this attach (the FrameRouter queues them while the
    // receiver is still pairing, say), and onFrame drops frames of a channel that is
    // not the peer's current one. The other order lost a first OFFER about 1 run in 10.
    let subscribed = true;
    let offFrame = (): void => undefined;
    let offClose = (): void => undefined;
    const attached: Attached = {
      channel,
      unsubscribe: () => {
        subscribed = false;
        offFrame();
        offClose();
      },
    };
    this.channels.set(peerId, attached);
    offClose = channel.onClose(() => {
      if (this.channels.get(peerId)?.channel === channel) this.detachChannel(peerId);
    });
    offFrame = channel.onFrame((frame) => {
      if (isTransferFrame(frame)) this.onFrame(peerId, channel, frame);
    });
    // A queued frame may have ended this attachment while we subscribed.
    if (!subscribed) {
      offFrame();
      offClose();
      return;
    }
    void this.loaded.then(() => {
      if (this.channels.get(peerId)?.channel !== channel || channel.closed) return;
      for (const t of this.outgoing.values()) {
        if (t.peerId === peerId && t.wantsOffer) t.offer(channel);
      }
    });
  }

  /** Stop using the peer's channel (the session closed it); its transfers pause. */
  detachChannel(peerId: string): void {
    const a = this.channels.get(peerId);
    if (!a) return;
    this.channels.delete(peerId);
    a.unsubscribe();
    for (const k of [...this.offerParts.keys()]) if (k.startsWith(`${peerId}\n`)) this.offerParts.delete(k);
    for (const t of this.outgoing.values()) t.detach(a.channel);
    for (const t of this.incoming.values()) void t.detach(a.channel);
  }

  /**
   * Offer files/folders to a peer. Scans `paths` first (throws TransferFailure
   * `not-found` / `nothing-to-send`). If the peer is not connected the transfer
   * is `paused` and offered when it connects.
   */
  async send(peerId: string, paths: string[]): Promise<TransferInfo> {
    await this.loaded;
    if (this.closed) throw new Error('TransferManager is closed');
    const scan = await scanPaths(paths);
    const id = randomBytes(16).toString('hex');
    encodeOfferFrames(id, scan.files, scan.emptyDirs, this.opts.chunkSize); // throws too-many-files
    const t = new OutgoingTransfer(
      this.host,
      { chunkSize: this.opts.chunkSize, window: this.opts.window, ...this.hashOpts() },
      {
        id,
        peerId,
        startedAt: Date.now(),
        chunkSize: this.opts.chunkSize,
        files: scan.files,
        emptyDirs: scan.emptyDirs,
        warnings: scan.warnings,
      },
      'waiting-accept',
    );
    this.outgoing.set(t.id, t);
    const ch = this.channels.get(peerId)?.channel;
    if (ch && !ch.closed) t.offer(ch);
    else t.markOffline();
    return t.snapshot();
  }

  /** Accept an incoming offer (state `offered`) into `saveDir` (default: downloadDir). */
  async accept(id: string, opts: { saveDir?: string } = {}): Promise<TransferInfo> {
    await this.loaded;
    const t = this.incoming.get(id);
    if (!t) throw new TransferFailure('not-found', `No incoming transfer ${id}.`);
    if (t.state !== 'offered') throw new Error(`Transfer ${id} is ${t.state}, not waiting for an answer.`);
    await t.accept(path.resolve(opts.saveDir ?? this.opts.downloadDir));
    return t.snapshot();
  }

  decline(id: string, reason?: string): TransferInfo {
    const t = this.incoming.get(id);
    if (!t) throw new TransferFailure('not-found', `No incoming transfer ${id}.`);
    t.decline(reason);
    return t.snapshot();
  }

  /** Cancel a transfer in either direction; the peer is told. Unfinished received files are deleted. */
  cancel(id: string): TransferInfo {
    const t = this.find(id);
    if (!t) throw new TransferFailure('not-found', `No transfer ${id}.`);
    t.cancel();
    return t.snapshot();
  }

  /**
   * Re-offer an outgoing transfer that failed or is paused (e.g. the receiver ran
   * out of space and freed some). Already-received chunks are not sent again.
   */
  resume(id: string): TransferInfo {
    const t = this.outgoing.get(id);
    if (!t) throw new TransferFailure('not-found', `No outgoing transfer ${id} (only the sender can resume).`);
    if (t.state !== 'failed' && t.state !== 'paused' && t.state !== 'waiting-accept') return t.snapshot();
    const ch = this.channels.get(t.peerId)?.channel;
    if (ch && !ch.closed) t.offer(ch);
    else t.markOffline();
    return t.snapshot();
  }

  get(id: string): TransferInfo | undefined {
    return this.find(id)?.snapshot();
  }

  list(): TransferInfo[] {
    return [...this.outgoing.values(), ...this.incoming.values()]
      .map((t) => t.snapshot())
      .sort((a, b) => a.startedAt - b.startedAt);
  }

  /**
   * Resolves when receivers have no queued disk work (writes, finalizations,
   * partial flushes after a pause) and state is saved. For tests and shutdown.
   */
  async whenIdle(): Promise<void> {
    await this.loaded;
    await Promise.all([...this.incoming.values()].map((t) => t.settled().catch(() => undefined)));
    await this.store.flush();
  }

  /** Pause everything (partials flushed), persist, stop listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.loaded.catch(() => undefined);
    for (const peer of [...this.channels.keys()]) this.detachChannel(peer);
    this.closed = true;
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    await Promise.all([...this.incoming.values()].map((t) => t.settled().catch(() => undefined)));
    for (const t of [...this.outgoing.values(), ...this.incoming.values()]) t.dispose();
    await Promise.all([...this.incoming.values()].map((t) => t.settled().catch(() => undefined)));
    this.persist();
    await this.store.flush();
  }

  // ---- internals ---------------------------------------------------------------

  private hashOpts(): { chunkHashes?: readonly ChunkHashAlg[] } {
    return this.opts.chunkHashes ? { chunkHashes: this.opts.chunkHashes } : {};
  }

  private find(id: string): OutgoingTransfer | IncomingTransfer | undefined {
    return this.outgoing.get(id) ?? this.incoming.get(id);
  }

  private async load(): Promise<void> {
    let state: PersistedTransfers;
    try {
      state = await this.store.load();
    } catch (err) {
      this.host.log(`could not load transfers: ${String(err)}`);
      return;
    }
    const opts = { chunkSize: this.opts.chunkSize, window: this.opts.window, ...this.hashOpts() };
    for (const rec of state.outgoing) {
      if (this.outgoing.has(rec.id)) continue;
      const t = new OutgoingTransfer(this.host, { ...opts, chunkSize: rec.chunkSize }, rec, rec.state, rec.error && {
        code: rec.error.code as NonNullable<TransferInfo['error']>['code'],
        message: rec.error.message,
      });
      if (rec.state === 'paused') t.markOffline();
      this.outgoing.set(rec.id, t);
    }
    for (const rec of state.incoming) {
      if (this.incoming.has(rec.id)) continue;
      const t = IncomingTransfer.fromRecord(this.host, { io: this.opts.io, window: this.opts.window, ...this.hashOpts() }, rec);
      if (t) this.incoming.set(rec.id, t);
    }
  }

  private persist(): void {
    this.store.save(() => ({
      v: 1,
      outgoing: [...this.outgoing.values()].flatMap((t) => t.toRecord() ?? []),
      incoming: [...this.incoming.values()].flatMap((t) => t.toRecord() ?? []),
    }));
  }

  private onChanged(t: TransferBase): void {
    this.emitter.emit('transfer', t.snapshot());
    if (!this.closed) this.persist();
  }

  private onFrame(peerId: string, channel: FramedChannel, frame: Uint8Array): void {
    if (this.closed || this.channels.get(peerId)?.channel !== channel) return;
    let f: TransferFrame;
    try {
      f = parseTransferFrame(frame);
    } catch (err) {
      const id = err instanceof WireError ? err.transferId : undefined;
      const t = id === undefined ? undefined : this.find(id);
      if (t && t.peerId === peerId && !t.isFinal) t.protocolFailure(err instanceof Error ? err.message : String(err));
      else this.host.log(`dropped bad transfer frame from ${peerId}: ${String(err)}`);
      return;
    }
    try {
      this.route(peerId, channel, f);
    } catch (err) {
      // Never let a frame take the process down; fail what it names.
      this.host.log(`error handling ${f.type} from ${peerId}: ${String(err)}`);
      const t = this.find(f.transferId);
      if (t && t.peerId === peerId && !t.isFinal) t.protocolFailure(`internal error: ${String(err)}`);
    }
  }

  private route(peerId: string, channel: FramedChannel, f: TransferFrame): void {
    if (f.type === FrameType.OFFER) return this.onOfferPart(peerId, channel, f.transferId, f.body, f.part, f.parts);
    const inc = this.incoming.get(f.transferId);
    const out = this.outgoing.get(f.transferId);
    const rx = inc && inc.peerId === peerId && inc.usesChannel(channel) ? inc : undefined;
    const tx = out && out.peerId === peerId && out.usesChannel(channel) ? out : undefined;
    switch (f.type) {
      case FrameType.DATA:
        return rx?.handleData(f.fileIndex, f.chunkIndex, f.sha256, f.payload, f.payload.length);
      case FrameType.FILE_END:
        return rx?.handleFileEnd(f.fileIndex, f.sha256);
      case FrameType.ACCEPT:
        return tx?.handleAccept(f.body, f.part, f.parts);
      case FrameType.DECLINE:
        return tx?.handleDecline();
      case FrameType.ACK:
        return tx?.handleAck(f.bytes);
      case FrameType.RESEND:
        return tx?.handleResend(f.fileIndex, f.chunkIndex);
      case FrameType.COMPLETE:
        return tx?.handleComplete();
      case FrameType.FILE_DONE:
        return tx?.handleFileDone(f.fileIndex, f.sha256);
      case FrameType.CANCEL:
        return f.body.role === 'sender' ? rx?.handleRemoteCancel() : tx?.handleRemoteCancel();
      case FrameType.ERROR:
        return f.body.role === 'sender' ? rx?.handleRemoteError(f.body) : tx?.handleRemoteError(f.body);
    }
  }

  /** Collect the parts of a multi-frame OFFER (a single-frame one passes straight through). */
  private onOfferPart(peerId: string, channel: FramedChannel, id: string, body: OfferBody, part: number, parts: number): void {
    if (parts === 1) return this.onOffer(peerId, channel, id, body);
    const key = `${peerId}\n${id}`;
    let c = this.offerParts.get(key);
    if (!c) {
      let mine = 0;
      for (const k of this.offerParts.keys()) if (k.startsWith(`${peerId}\n`)) mine++;
      if (mine >= MAX_MULTIPART_OFFERS_PER_PEER) {
        channel.write(encodeError(id, { role: 'receiver', code: 'protocol-error', message: 'too many offers at once' }));
        return;
      }
      c = new PartCollector<OfferBody>();
      this.offerParts.set(key, c);
    }
    let all: OfferBody[] | null;
    try {
      all = c.add(id, part, parts, body);
    } catch (err) {
      this.offerParts.delete(key);
      channel.write(encodeError(id, { role: 'receiver', code: 'protocol-error', message: String(err instanceof Error ? err.message : err) }));
      return;
    }
    if (!all) return;
    this.offerParts.delete(key);
    const chunkHashes = all[0]?.chunkHashes;
    this.onOffer(peerId, channel, id, {
      files: all.flatMap((b) => b.files),
      emptyDirs: all.flatMap((b) => b.emptyDirs),
      ...(chunkHashes ? { chunkHashes } : {}),
    });
  }

  private onOffer(peerId: string, channel: FramedChannel, id: string, body: OfferBody): void {
    const existing = this.incoming.get(id);
    const refuse = (why: string): void => {
      this.host.log(`refused offer ${id} from ${peerId}: ${why}`);
      channel.write(encodeError(id, { role: 'receiver', code: 'protocol-error', message: why }));
    };
    if (this.outgoing.has(id) || (existing && existing.peerId !== peerId)) return refuse('transfer id already in use');
    if (existing) {
      void existing
        .reoffer(channel, body)
        .then((r) => {
          if (r === 'ask') this.announceOffer(existing);
        })
        .catch((err: unknown) => this.host.log(`re-offer ${id}: ${String(err)}`));
      return;
    }
    let pending = 0;
    for (const t of this.incoming.values()) if (t.peerId === peerId && t.state === 'offered') pending++;
    if (pending >= MAX_PENDING_OFFERS_PER_PEER) return refuse('too many unanswered offers');
    const t = IncomingTransfer.fromOffer(this.host, { io: this.opts.io, window: this.opts.window, ...this.hashOpts() }, peerId, id, body, channel);
    this.incoming.set(id, t);
    if (t.state === 'offered') {
      this.emitter.emit('transfer', t.snapshot());
      this.announceOffer(t);
    }
  }

  private announceOffer(t: IncomingTransfer): void {
    const snap = t.snapshot();
    const payload: IncomingOfferPayload = { transfer: snap, fileCount: snap.files.length, totalBytes: snap.totalBytes };
    this.emitter.emit('offer', payload);
    let auto = false;
    try {
      auto = this.opts.autoAccept?.(payload) ?? false;
    } catch (err) {
      this.host.log(`autoAccept threw: ${String(err)}`);
    }
    if (auto && t.state === 'offered') {
      void t.accept(path.resolve(this.opts.downloadDir)).catch((err: unknown) => this.host.log(`auto-accept ${t.id}: ${String(err)}`));
    }
  }
}

