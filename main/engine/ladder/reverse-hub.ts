/**
 * Reverse connections (DC++'s RevConnectToMe): we ask a reachable peer, through
 * the rendezvous, to dial us back. The hub matches the connection that arrives on
 * our listener (its hello names the request id) to the ladder attempt waiting for it.
 */
import type { Link } from './link.js';
import { EngineError } from '../errors.js';

interface Waiting { peerId: string; resolve: (link: Link) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }

export class ReverseHub {
  private waiting = new Map<string, Waiting>();

  expect(peerId: string, reqId: string, timeoutMs: number, signal: AbortSignal): Promise<Link> {
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(entry.timer);
        this.waiting.delete(reqId);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        finish();
        reject(new EngineError('CANCELLED', 'cancelled'));
      };
      const entry: Waiting = {
        peerId,
        resolve: (link) => { finish(); resolve(link); },
        reject: (err) => { finish(); reject(err); },
        timer: setTimeout(() => {
          finish();
          reject(new EngineError('REVERSE_TIMEOUT', `the other device did not dial back within ${Math.round(timeoutMs / 1000)} s (it cannot reach us either)`));
        }, timeoutMs),
      };
      this.waiting.set(reqId, entry);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hand an incoming dial-back to its waiting attempt. False when nobody waits for it. */
  deliver(reqId: string, link: Link): boolean {
    const entry = this.waiting.get(reqId);
    if (!entry || entry.peerId !== link.peerId) return false;
    entry.resolve(link);
    return true;
  }

  /** The peer told us it could not dial back: fail at once with its reason. */
  fail(reqId: string, peerId: string, reason: string): void {
    const entry = this.waiting.get(reqId);
    if (entry && entry.peerId === peerId) entry.reject(new EngineError('REVERSE_FAILED', reason));
  }
}
