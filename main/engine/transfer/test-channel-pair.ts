/**
 * Test helper: two connected in-memory FramedChannels. Frames are delivered
 * asynchronously (setImmediate batches, so disk I/O interleaves as it would on a
 * socket), `write()` reports backpressure above a high-water mark and `drained()`
 * resolves below the low-water mark. `sever()` simulates a dropped connection
 * (undelivered frames are lost, both sides see close with an error). A `tap` can
 * count, corrupt or drop frames in flight. Frames are passed by reference.
 */
import { randomBytes } from 'node:crypto';
import type { FramedChannel } from '../channel/framed-channel.js';

export type Side = 'a' | 'b';

export interface ChannelPairOptions {
  highWaterMark?: number;
  lowWaterMark?: number;
  /** Called for every frame written; return the frame to deliver (maybe altered) or null to drop it. */
  tap?: (frame: Uint8Array, from: Side) => Uint8Array | null;
}

export interface ChannelPair {
  a: FramedChannel;
  b: FramedChannel;
  /** Drop the connection: both sides close with an error. */
  sever(err?: Error): void;
  stats: Record<Side, { frames: number; bytes: number }>;
}

const MAX_BATCH_BYTES = 4 * 1024 * 1024;

class MemChannel implements FramedChannel {
  readonly remotePublicKey: Uint8Array;
  readonly handshakeHash: Uint8Array;
  peer!: MemChannel;
  closed = false;
  private queue: Uint8Array[] = [];
  private head = 0;
  private queuedBytes = 0;
  private scheduled = false;
  private frameHandlers = new Set<(f: Uint8Array) => void>();
  private closeHandlers = new Set<(err?: Error) => void>();
  private drainWaiters: (() => void)[] = [];

  constructor(
    readonly side: Side,
    remoteKey: Uint8Array,
    handshakeHash: Uint8Array,
    private readonly opts: Required<Pick<ChannelPairOptions, 'highWaterMark' | 'lowWaterMark'>> & ChannelPairOptions,
    private readonly stats: { frames: number; bytes: number },
  ) {
    this.remotePublicKey = remoteKey;
    this.handshakeHash = handshakeHash;
  }

  write(frame: Uint8Array): boolean {
    if (this.closed) return false;
    const f = this.opts.tap ? this.opts.tap(frame, this.side) : frame;
    this.stats.frames++;
    this.stats.bytes += frame.length;
    if (f) {
      this.queue.push(f);
      this.queuedBytes += f.length;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.deliver());
      }
    }
    return this.queuedBytes < this.opts.highWaterMark;
  }

  drained(): Promise<void> {
    if (this.closed || this.queuedBytes <= this.opts.lowWaterMark) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  onFrame(handler: (frame: Uint8Array) => void): () => void {
    this.frameHandlers.add(handler);
    return () => this.frameHandlers.delete(handler);
  }

  onClose(handler: (err?: Error) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  close(err?: Error): void {
    this.shutdown(err);
    this.peer.shutdown(err);
  }

  shutdown(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.releaseDrain();
    for (const h of [...this.closeHandlers]) h(err);
  }

  private releaseDrain(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const r of w) r();
  }

  private deliver(): void {
    this.scheduled = false;
    let batch = 0;
    while (this.head < this.queue.length && batch < MAX_BATCH_BYTES && !this.closed && !this.peer.closed) {
      const f = this.queue[this.head]!;
      this.queue[this.head++] = EMPTY;
      this.queuedBytes -= f.length;
      batch += f.length;
      for (const h of [...this.peer.frameHandlers]) h(f);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.queuedBytes <= this.opts.lowWaterMark) this.releaseDrain();
    if (this.head < this.queue.length && !this.closed) {
      this.scheduled = true;
      setImmediate(() => this.deliver());
    }
  }
}

const EMPTY = new Uint8Array(0);

export function createChannelPair(options: ChannelPairOptions = {}): ChannelPair {
  const opts = {
    highWaterMark: 8 * 1024 * 1024,
    lowWaterMark: 2 * 1024 * 1024,
    ...options,
  };
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  const hh = randomBytes(32);
  const stats = { a: { frames: 0, bytes: 0 }, b: { frames: 0, bytes: 0 } };
  const a = new MemChannel('a', keyB, hh, opts, stats.a);
  const b = new MemChannel('b', keyA, hh, opts, stats.b);
  a.peer = b;
  b.peer = a;
  return {
    a,
    b,
    stats,
    sever(err = new Error('connection lost')) {
      a.close(err);
    },
  };
}
