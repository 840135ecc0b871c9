/**
 * Birthday-paradox punching for a NAT that picks a random external port for
 * every destination, facing one that keeps one mapping for all destinations
 * (Tailscale's and hyperdht's technique):
 *  - the hard side opens many sockets (default 256) and primes its own NAT from
 *    each, with a TTL too small to reach the far NAT, towards the easy side's
 *    public address: 256 random mappings towards exactly that address;
 *  - the easy side probes the hard side's public IP at random ports (up to about
 *    2,000, paced): each probe also opens its own NAT's filter for that port;
 *  - a probe that hits one of the 256 mappings reaches a hard-side socket, which
 *    answers; the answer passes the easy side's filter. With 256 of ~64,000 ports
 *    mapped, 2,000 probes find one with probability ≈ 1 − (1 − 256/64512)^2000 ≈ 99.9%.
 */
import { UdpSocket } from '../net/udp-socket.js';
import { encodePunch, isPunchPacket, parsePunch, PunchType } from '../../wire/punch.js';
import type { PunchAddress } from './udp-punch.js';
import { EngineError } from '../errors.js';
import { formatHostPort } from '../net/addresses.js';
import { randomInt } from 'node:crypto';

export const BIRTHDAY_SOCKETS = 256;
export const BIRTHDAY_PROBES = 2048;

/** The easy side's candidate list: the hard side's IP at distinct random ports. */
export function birthdayTargets(ip: string, count = BIRTHDAY_PROBES, lowPort = 1024): PunchAddress[] {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(randomInt(lowPort, 65536));
  return [...ports].map((port) => ({ host: ip, port }));
}

export interface HardSideResult {
  socket: UdpSocket;
  remote: PunchAddress;
  ms: number;
}

/**
 * The hard side: open `count` sockets on the node's UDX instance, prime mappings
 * towards the peer's addresses, answer the first probe that gets through, and
 * confirm with a probe of our own from that socket. Resolves with the socket that
 * is through (the others are closed); the caller owns it.
 */
export async function birthdayHardSide(opts: {
  base: UdpSocket;
  token: Buffer;
  peer: PunchAddress[];
  count?: number;
  primeTtl?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  heard?: Set<string>;
}): Promise<HardSideResult> {
  const count = opts.count ?? BIRTHDAY_SOCKETS;
  const sockets: UdpSocket[] = [];
  for (let i = 0; i < count; i++) {
    const s = new UdpSocket(opts.base.udx);
    try {
      s.bind(0);
      sockets.push(s);
    } catch {
      void s.close();
    }
  }
  const started = performance.now();
  const probe = encodePunch(PunchType.PROBE, opts.token);
  const ack = encodePunch(PunchType.ACK, opts.token);
  const heard = opts.heard ?? new Set<string>();
  const offs: (() => void)[] = [];
  let winner: HardSideResult | undefined;
  try {
    return await new Promise<HardSideResult>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new EngineError('PUNCH_TIMEOUT', `none of ${sockets.length} mappings was found by the other side within ${(opts.timeoutMs ?? 6000) / 1000} s`)), opts.timeoutMs ?? 6000);
      const onAbort = () => { clearTimeout(deadline); reject(new EngineError('CANCELLED', 'cancelled')); };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      for (const s of sockets) {
        offs.push(s.handle(isPunchPacket, ({ data, host, port }) => {
          const p = parsePunch(data);
          if (!p || !p.token.equals(opts.token)) return;
          heard.add(formatHostPort(host, port));
          if (p.type === PunchType.PROBE) {
            // Through: answer, and ask for an answer of our own.
            void s.send(ack, port, host);
            void s.send(probe, port, host);
          } else if (!winner) {
            winner = { socket: s, remote: { host, port }, ms: Math.round(performance.now() - started) };
            clearTimeout(deadline);
            opts.signal?.removeEventListener('abort', onAbort);
            resolve(winner);
          }
        }));
      }
      // Prime: one low-TTL packet per socket and peer address, repeated once in case of loss.
      const prime = () => {
        for (const s of sockets) for (const c of opts.peer) void s.send(probe, c.port, c.host, opts.primeTtl ?? 4);
      };
      prime();
      setTimeout(prime, 500).unref();
    });
  } finally {
    for (const off of offs) off();
    for (const s of sockets) if (s !== winner?.socket) void s.close();
  }
}
