/**
 * STUN client transactions (RFC 8489 §6.2): requests matched to responses by
 * transaction ID. Over UDP a request is retransmitted with RTO doubling
 * (§6.2.1: RTO 500 ms, Rc = 7 transmissions, then Rm = 16 × RTO of waiting, so
 * 39.5 s in all); over TCP it is sent once and given Ti = 39.5 s (§6.2.2).
 * A response that fails the caller's check (e.g. a wrong MESSAGE-INTEGRITY) is
 * treated as not received (§9.2.5), so retransmission goes on.
 */
import { EngineError } from '../../errors.js';
import type { TurnMessage } from '../../../wire/turn.js';

export interface TransactionTiming {
  /** Initial retransmission timeout over UDP. @default 500 */
  rtoMs?: number;
  /** Transmissions over UDP (Rc). @default 7 */
  maxTransmits?: number;
  /** The last wait, as a multiple of the RTO (Rm). @default 16 */
  lastWaitFactor?: number;
  /** The whole transaction over TCP (Ti). @default 39500 */
  tcpTimeoutMs?: number;
}

interface Pending {
  resolve: (m: { message: TurnMessage; raw: Buffer }) => void;
  reject: (e: Error) => void;
  accept: (raw: Buffer, m: TurnMessage) => boolean;
  timer: NodeJS.Timeout | undefined;
}

export class Transactions {
  private readonly pending = new Map<string, Pending>();
  private closedError: Error | undefined;

  constructor(
    private readonly sendFrame: (frame: Buffer) => void,
    private readonly reliable: boolean,
    private readonly timing: TransactionTiming = {},
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /**
   * Sends `frame` (a request with transaction ID `txid`) and resolves with the
   * first response that `accept` takes. Rejects with TURN_TIMEOUT, or with the
   * reason given to `closeAll`.
   */
  run(txid: Buffer, frame: Buffer, accept: (raw: Buffer, m: TurnMessage) => boolean = () => true, what = 'request', override: TransactionTiming = {}): Promise<{ message: TurnMessage; raw: Buffer }> {
    if (this.closedError) return Promise.reject(this.closedError);
    const t = { ...this.timing, ...override };
    const key = txid.toString('hex');
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject, accept, timer: undefined };
      this.pending.set(key, p);
      const fail = (): void => {
        this.pending.delete(key);
        reject(new EngineError('TURN_TIMEOUT', `the TURN server did not answer the ${what} (${this.reliable ? 'TCP' : 'UDP'})`));
      };
      if (this.reliable) {
        this.sendFrame(frame);
        p.timer = setTimeout(fail, t.tcpTimeoutMs ?? 39_500);
        return;
      }
      const rc = t.maxTransmits ?? 7;
      let rto = t.rtoMs ?? 500;
      let sent = 0;
      const transmit = (): void => {
        this.sendFrame(frame);
        sent++;
        if (sent >= rc) {
          p.timer = setTimeout(fail, (t.rtoMs ?? 500) * (t.lastWaitFactor ?? 16));
        } else {
          p.timer = setTimeout(transmit, rto);
          rto *= 2;
        }
      };
      transmit();
    });
  }

  /** Offers a response; true when it completed a transaction. */
  deliver(raw: Buffer, m: TurnMessage): boolean {
    const key = m.transactionId.toString('hex');
    const p = this.pending.get(key);
    if (!p || !p.accept(raw, m)) return false;
    clearTimeout(p.timer);
    this.pending.delete(key);
    p.resolve({ message: m, raw });
    return true;
  }

  closeAll(err: Error): void {
    this.closedError = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}
