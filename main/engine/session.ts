/**
 * A session: the live, authenticated link to one peer after pairing checks. It
 * measures the round-trip time with pings, answers the peer's pings, and closes
 * politely (BYE) or on silence. Transfers ride on its channel's transfer view.
 */
import type { Link } from './ladder/link.js';
import type { FramedChannel } from './channel/framed-channel.js';
import { encodeSessionFrame, SESSION_FRAME, type SessionFrame } from '../wire/session-frames.js';
import { Emitter } from './util/emitter.js';

const PING_INTERVAL_MS = 5000;

export class Session extends Emitter<{ rtt: number; close: { reason: string }; control: SessionFrame }> {
  closed = false;
  rttMs: number | null = null;
  /** The other device relays for its owner's devices (it said so in CAPS). */
  remoteRelays = false;
  readonly transferChannel: FramedChannel;
  private pingTimer: NodeJS.Timeout;
  private pingSeq = 0;
  private pingSent = new Map<number, number>();

  constructor(readonly link: Link, private readonly log: (line: string) => void = () => {}) {
    super();
    this.transferChannel = link.router.transferView();
    link.router.onSession((frame) => {
      if (frame.type === SESSION_FRAME.PING) link.channel.write(encodeSessionFrame(SESSION_FRAME.PONG, { n: frame.body.n }));
      else if (frame.type === SESSION_FRAME.PONG) {
        const sent = this.pingSent.get(frame.body.n);
        if (sent !== undefined) {
          this.pingSent.delete(frame.body.n);
          this.rttMs = Math.round((performance.now() - sent) * 10) / 10;
          this.emit('rtt', this.rttMs);
        }
      } else if (frame.type === SESSION_FRAME.BYE) {
        this.log(`peer ${link.peerId.slice(0, 8)} closed the session: ${frame.body.reason}`);
        this.finish(`the other device closed the connection (${frame.body.reason})`);
        link.channel.close();
      } else if (frame.type === SESSION_FRAME.CAPS) {
        this.remoteRelays = frame.body.relay;
      } else {
        this.emit('control', frame);
      }
    });
    link.channel.onClose((err) => this.finish(err ? `connection lost: ${err.message}` : 'connection closed'));
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pingTimer.unref();
    this.ping();
  }

  get peerId(): string {
    return this.link.peerId;
  }

  get tier() {
    return this.link.tier;
  }

  private ping(): void {
    if (this.closed) return;
    const n = ++this.pingSeq;
    this.pingSent.set(n, performance.now());
    if (this.pingSent.size > 8) this.pingSent.delete(n - 8);
    this.link.channel.write(encodeSessionFrame(SESSION_FRAME.PING, { n }));
  }

  onRtt(handler: (rttMs: number) => void): () => void {
    return this.on('rtt', handler);
  }

  onClose(handler: (reason: string) => void): () => void {
    return this.on('close', ({ reason }) => handler(reason));
  }

  close(reason: string): void {
    if (this.closed) return;
    this.link.channel.write(encodeSessionFrame(SESSION_FRAME.BYE, { reason }));
    this.finish(reason);
    this.link.channel.close();
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.emit('close', { reason });
  }
}
