/**
 * Port prediction for NATs that allocate a new external port per destination in
 * sequence (RFC 4787's address-and-port-dependent mapping with a predictable
 * step): our mapping towards the peer will be the next few ports after the last
 * one NAT discovery saw. We hand the peer those as extra candidates. For random
 * allocation there is nothing to predict (see birthday probing), and for
 * endpoint-independent mapping the server-reflexive address is the mapping.
 */
import type { NatDiscovery } from '../../../shared/domain/nat.js';

/** How many ports past the last observed one the peer should try. */
export const PREDICTION_SPAN = 24;

export function predictedCandidates(nat: NatDiscovery | null): { ip: string; port: number }[] {
  if (!nat || !nat.publicIp || nat.allocation !== 'sequential' || !nat.portDelta) return [];
  const last = nat.probePorts.at(-1) ?? nat.publicPort;
  if (!last) return [];
  const out: { ip: string; port: number }[] = [];
  for (let i = 1; i <= PREDICTION_SPAN; i++) {
    const port = last + i * nat.portDelta;
    if (port > 0 && port <= 65535) out.push({ ip: nat.publicIp, port });
  }
  return out;
}

/** Whether a hole punch between these two networks cannot work: both pick random ports per destination. */
export function isDoubleRandom(a: { mapping?: string; allocation?: string } | null | undefined, b: { mapping?: string; allocation?: string } | null | undefined): boolean {
  const random = (n: typeof a) => !!n && n.mapping !== 'endpoint-independent' && n.mapping !== 'unknown' && n.allocation === 'random';
  return random(a) && random(b);
}
