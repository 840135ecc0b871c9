/**
 * Punching through a NAT that hands out a new external port for every new
 * destination, in sequence (RFC 4787 address-and-port-dependent mapping with a
 * predictable step; the lab's `symmetric-sequential`).
 *
 * Predicting from NAT discovery alone goes stale: every flow the device opens
 * meanwhile (TCP dials of other tiers, STUN, the other side's private
 * addresses) takes the next port. So the sequential side measures at the moment
 * it matters, with a STUN binding from a fresh local socket (a new 5-tuple, so
 * the NAT allocates the next port and the server reports it):
 *
 * - reserve, then measure (`reserveTowards`): send one low-TTL packet to each
 *   target in order (each takes the next port and opens our NAT's filter for
 *   exactly that target), then at once the fresh binding. Its port minus the
 *   step times the count gives every reservation's port exactly, and the other
 *   side is told them. Used when we know where the other side sends from.
 * - measure, then predict (`predictNext`): when the other side is sequential
 *   too, nobody knows where the other will send from. The requester measures
 *   and offers its next ports; the responder reserves towards each of those and
 *   says which of its ports faces which; the requester then opens its flows in
 *   order, the m-th towards the reservation for its prediction 2m−1 (`sprayTargets`),
 *   so whichever number of flows it opened in between (up to SPRAY_FLOWS − 1),
 *   one of them lines up with a reservation.
 *
 * A random NAT facing any address-dependent one has no such handle: see
 * `isHopelessPair` in prediction.ts.
 */
import { UdpSocket } from '../net/udp-socket.js';
import { StunClient, type HostPort } from '../nat/stun-client.js';
import { encodePunch, PunchType } from '../../wire/punch.js';
import { EngineError } from '../errors.js';
import type { PunchAddress } from './udp-punch.js';

/** A NAT hint as exchanged in punch signals (or the discovery result). */
export type NatHint = { mapping: string; allocation: string; portDelta?: number } | null | undefined;

/** How many flows the requester opens in a sequential↔sequential punch; the responder reserves 2× that. */
export const SPRAY_FLOWS = 12;
/** Ports the requester offers (and the responder reserves towards) in a sequential↔sequential punch. */
export const SEQ_PREDICTIONS = 2 * SPRAY_FLOWS;

export function isSequential(h: NatHint): boolean {
  return !!h && h.mapping !== 'endpoint-independent' && h.mapping !== 'unknown' && h.allocation === 'sequential';
}

/** The NAT's step between consecutive allocations (1 when unknown). */
export function stepOf(h: NatHint): number {
  const d = h?.portDelta;
  return d && Number.isInteger(d) && d !== 0 && Math.abs(d) < 1000 ? d : 1;
}

/**
 * The port our NAT gives the next new flow's predecessor: one STUN binding from
 * a fresh local socket on the node's UDX instance. Null when the server does not answer.
 */
export async function freshBinding(base: UdpSocket, server: HostPort, timeoutMs = 1500): Promise<HostPort | null> {
  const s = new UdpSocket(base.udx);
  try {
    s.bind(0);
    const client = new StunClient(s);
    try {
      const r = await client.request(server, { timeoutMs, rtoMs: 200 });
      return r?.mapped ?? null;
    } finally {
      client.close();
    }
  } catch {
    return null;
  } finally {
    void s.close();
  }
}

export interface Reservation {
  /** Our public address facing targets[i], for every i (exact when nothing else opened a flow in between). */
  ports: PunchAddress[];
}

/**
 * Open one flow towards each target, in order, with packets too short-lived to
 * reach the far NAT, then measure: the i-th target (of n) faces port
 * observed − (n − i)·step.
 */
export async function reserveTowards(opts: { udp: UdpSocket; token: Buffer; targets: PunchAddress[]; server: HostPort; step: number; primeTtl?: number }): Promise<Reservation> {
  const probe = encodePunch(PunchType.PROBE, opts.token);
  // Sent one after another (each awaited), so the NAT sees them in this order and before the binding.
  for (const t of opts.targets) await opts.udp.send(probe, t.port, t.host, opts.primeTtl ?? 4);
  const observed = await freshBinding(opts.udp, opts.server);
  if (!observed) throw new EngineError('STUN_FAILED', 'the rendezvous STUN server did not answer, so our next NAT ports are unknown');
  const n = opts.targets.length;
  return {
    ports: opts.targets.map((_, i) => ({ host: observed.ip, port: wrapPort(observed.port - (n - i) * opts.step) })),
  };
}

/** Our next `count` public ports, from a fresh measurement (the first is the next new flow's). */
export async function predictNext(opts: { udp: UdpSocket; server: HostPort; step: number; count?: number }): Promise<PunchAddress[]> {
  const observed = await freshBinding(opts.udp, opts.server);
  if (!observed) throw new EngineError('STUN_FAILED', 'the rendezvous STUN server did not answer, so our next NAT ports are unknown');
  return Array.from({ length: opts.count ?? SEQ_PREDICTIONS }, (_, i) => ({ host: observed.ip, port: wrapPort(observed.port + (i + 1) * opts.step) }));
}

/**
 * The requester's flows in a sequential↔sequential punch, in the order to open
 * them: the m-th (1-based) towards the responder's port that faces our
 * prediction 2m−1. `reserved[k]` is the responder's port facing our prediction
 * k+1. If d flows of ours came between our measurement and the first of these,
 * flow m = d+1 leaves from prediction 2m−1 and meets its reservation.
 */
export function sprayTargets(reserved: PunchAddress[], flows = SPRAY_FLOWS): PunchAddress[] {
  const out: PunchAddress[] = [];
  for (let m = 1; m <= flows && 2 * m - 1 <= reserved.length; m++) out.push(reserved[2 * m - 2] as PunchAddress);
  return out;
}

function wrapPort(p: number): number {
  if (p >= 1 && p <= 65535) return p;
  return ((((p - 1) % 65535) + 65535) % 65535) + 1;
}
