/**
 * One subscription per channel that routes every frame by its type byte: session
 * control frames to whoever awaits them (or to a standing handler), transfer frames
 * to a view of the channel that the transfer layer owns. Frames that arrive before
 * their consumer is ready are queued, so nothing is lost between the handshake
 * steps and the start of a transfer.
 */
import { FRAME_RANGE, type FramedChannel } from './framed-channel.js';
import { isSessionFrame, parseSessionFrame, type SessionBody, type SessionFrame, type SessionFrameType } from '../../wire/session-frames.js';
import { EngineError } from '../errors.js';

type Waiter = { type: SessionFrameType; resolve: (f: SessionFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class FrameRouter {
  private sessionQueue: SessionFrame[] = [];
  private waiters: Waiter[] = [];
  private sessionHandler: ((frame: SessionFrame) => void) | undefined;
  private transferHandlers = new Set<(frame: Uint8Array) => void>();
  private transferBacklog: Uint8Array[] = [];
  private closedWith: Error | undefined;
  private isClosed = false;

  constructor(readonly channel: FramedChannel) {
    channel.onFrame((frame) => this.route(frame));
    channel.onClose((err) => {
      this.isClosed = true;
      this.closedWith = err;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new EngineError('PEER_CLOSED', `The other device closed the connection${err ? ` (${err.message})` : ''}.`));
      }
    });
  }

  /** Frame bytes in and out (transfer frames out), for the connection's transparency. */
  bytesIn = 0;
  bytesOut = 0;

  private route(frame: Uint8Array): void {
    this.bytesIn += frame.length;
    const type = frame[0] as number;
    if (isSessionFrame(frame)) {
      const parsed = parseSessionFrame(frame);
      if (!parsed.ok) {
        this.channel.close(new EngineError('PROTOCOL_ERROR', parsed.error));
        return;
      }
      const idx = this.waiters.findIndex((w) => w.type === parsed.frame.type);
      if (idx >= 0) {
        const [w] = this.waiters.splice(idx, 1) as [Waiter];
        clearTimeout(w.timer);
        w.resolve(parsed.frame);
      } else if (this.sessionHandler) {
        this.sessionHandler(parsed.frame);
      } else if (this.sessionQueue.length < 64) {
        this.sessionQueue.push(parsed.frame);
      }
      return;
    }
    if (type >= FRAME_RANGE.transfer.min && type <= FRAME_RANGE.transfer.max) {
      if (this.transferHandlers.size === 0) this.transferBacklog.push(frame);
      else for (const h of this.transferHandlers) h(frame);
      return;
    }
    // Unknown ranges are reserved for future versions: ignored, not fatal.
  }

  /** The next session frame of `type` (queued or future). */
  next<T extends SessionFrameType>(type: T, timeoutMs: number): Promise<SessionBody<T>> {
    const idx = this.sessionQueue.findIndex((f) => f.type === type);
    if (idx >= 0) {
      const [f] = this.sessionQueue.splice(idx, 1) as [SessionFrame];
      return Promise.resolve(f.body as SessionBody<T>);
    }
    if (this.isClosed) return Promise.reject(new EngineError('PEER_CLOSED', `The other device closed the connection${this.closedWith ? ` (${this.closedWith.message})` : ''}.`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new EngineError('SESSION_TIMEOUT', `The other device did not answer within ${Math.round(timeoutMs / 1000)} s.`));
      }, timeoutMs);
      const waiter: Waiter = { type, resolve: (f) => resolve(f.body as SessionBody<T>), reject, timer };
      this.waiters.push(waiter);
    });
  }

  /** Standing handler for session frames nobody awaits (pings, bye). Flushes the queue. */
  onSession(handler: (frame: SessionFrame) => void): void {
    this.sessionHandler = handler;
    for (const f of this.sessionQueue.splice(0)) handler(f);
  }

  /** A view of the channel that sees only transfer frames (0x20–0x3f). */
  transferView(): FramedChannel {
    const channel = this.channel;
    const handlers = this.transferHandlers;
    const backlog = this.transferBacklog;
    return {
      get remotePublicKey() { return channel.remotePublicKey; },
      get handshakeHash() { return channel.handshakeHash; },
      get closed() { return channel.closed; },
      write: (frame) => {
        this.bytesOut += frame.length;
        return channel.write(frame);
      },
      drained: () => channel.drained(),
      onClose: (h) => channel.onClose(h),
      close: (err) => channel.close(err),
      onFrame(handler) {
        handlers.add(handler);
        for (const f of backlog.splice(0)) handler(f);
        return () => handlers.delete(handler);
      },
    };
  }
}
