/**
 * UDP hole punching on the node's shared socket (seeds 001, 002, 004).
 *
 * Both sides run `punchUdp` at a synchronized moment with the other's candidate
 * addresses (private first, then server-reflexive and predicted ones):
 *  1. Prime our own NAT: one packet per candidate with a TTL too small to reach the
 *     far router. Otherwise a first packet that reaches the far NAT before that
 *     NAT's own outbound mapping exists leaves an unreplied conntrack entry, the
 *     far NAT then picks a different external port, and the punch fails for good
 *     (libp2p specs #512 proposes the same).
 *  2. Probe every candidate every `intervalMs` with full TTL.
 *  3. Answer each probe that carries our token with an ack to where it came from.
 *  4. An ack proves the path works both ways: resolve with that address.
 * Addresses we heard the peer from are kept in `heard` (the responder's UDX stream
 * accepts its first packet only from one of them).
 */
import type { UdpSocket } from '../net/udp-socket.js';
import { encodePunch, isPunchPacket, parsePunch, PunchType } from '../../wire/punch.js';
import { EngineError } from '../errors.js';
import { formatHostPort } from '../net/addresses.js';

export interface PunchAddress { host: string; port: number }

export interface PunchOptions {
  socket: UdpSocket;
  token: Buffer;
  candidates: PunchAddress[];
  /** Hops a priming packet may take: enough to pass our own NAT(s), too few to reach the peer's. @default 4 */
  primeTtl?: number;
  /** @default 50 */
  intervalMs?: number;
  /** @default 5000 */
  timeoutMs?: number;
  /** Probes per interval at most (paces large candidate lists, e.g. port prediction). @default 64 */
  burst?: number;
  signal?: AbortSignal;
  /** Shared set of addresses the peer was heard from. */
  heard?: Set<string>;
  /** Send nothing, only answer probes (the other side opens the flows; sequential.ts). */
  passive?: boolean;
}

export interface PunchResult {
  remote: PunchAddress;
  probesSent: number;
  ms: number;
}

export function punchUdp(opts: PunchOptions): Promise<PunchResult> {
  const { socket, token, candidates } = opts;
  const intervalMs = opts.intervalMs ?? 50;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const burst = opts.burst ?? 64;
  const heard = opts.heard ?? new Set<string>();
  const started = performance.now();
  const probe = encodePunch(PunchType.PROBE, token);
  const ack = encodePunch(PunchType.ACK, token);
  let probesSent = 0;

  return new Promise((resolve, reject) => {
    let done = false;
    let cursor = 0;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      // Keep answering late probes for a moment: the peer may still lack our ack.
      setTimeout(off, 3000).unref();
      fn();
    };
    const off = socket.handle(isPunchPacket, ({ data, host, port }) => {
      const p = parsePunch(data);
      if (!p || !p.token.equals(token)) return;
      heard.add(formatHostPort(host, port));
      if (p.type === PunchType.PROBE) void socket.send(ack, port, host);
      else finish(() => resolve({ remote: { host, port }, probesSent, ms: Math.round(performance.now() - started) }));
    });
    const onAbort = () => finish(() => reject(new EngineError('CANCELLED', 'cancelled')));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const primeTtl = opts.primeTtl ?? 4;
    if (!opts.passive) for (const c of candidates) void socket.send(probe, c.port, c.host, primeTtl);

    const tick = () => {
      if (done || candidates.length === 0 || opts.passive) return;
      // Round-robin through the candidates, `burst` at a time.
      const n = Math.min(burst, candidates.length);
      for (let i = 0; i < n; i++) {
        const c = candidates[cursor % candidates.length] as PunchAddress;
        cursor++;
        probesSent++;
        void socket.send(probe, c.port, c.host);
      }
    };
    const timer = setInterval(tick, intervalMs);
    // The first full-TTL round goes out right after priming.
    setImmediate(tick);
    const deadline = setTimeout(() => finish(() => reject(new EngineError('PUNCH_TIMEOUT',
      heard.size
        ? `heard the other device but our packets did not reach it within ${timeoutMs / 1000} s (its router filters them)`
        : `no packet got through either router within ${timeoutMs / 1000} s`))), timeoutMs);
  });
}
