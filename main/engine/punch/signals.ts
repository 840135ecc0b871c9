/**
 * Replies to our punch requests arrive as rendezvous signals; this hub matches
 * them to the attempt that waits (by request id and peer).
 */
import { EngineError } from '../errors.js';

type Waiter = { peerId: string; resolve: (body: Record<string, unknown>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class SignalReplies {
  private waiting = new Map<string, Waiter>();

  wait(peerId: string, reqId: string, timeoutMs: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(w.timer);
        this.waiting.delete(reqId);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => { cleanup(); reject(new EngineError('CANCELLED', 'cancelled')); };
      const w: Waiter = {
        peerId,
        resolve: (b) => { cleanup(); resolve(b); },
        reject: (e) => { cleanup(); reject(e); },
        timer: setTimeout(() => { cleanup(); reject(new EngineError('SIGNAL_TIMEOUT', `the other device did not answer through the rendezvous within ${timeoutMs / 1000} s`)); }, timeoutMs),
      };
      this.waiting.set(reqId, w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Deliver a reply; false when nobody waits for it. */
  deliver(peerId: string, body: Record<string, unknown>): boolean {
    const reqId = typeof body.reqId === 'string' ? body.reqId : undefined;
    const w = reqId ? this.waiting.get(reqId) : undefined;
    if (!w || w.peerId !== peerId) return false;
    w.resolve(body);
    return true;
  }
}
