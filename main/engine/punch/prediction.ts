/**
 * Which pairs of NATs a hole punch can meet through, told from both sides' NAT
 * discovery before any packet is spent.
 *
 * - Endpoint-independent mapping on either side: that side's public address is
 *   its mapping for everyone, so the other side can aim at it (birthday probing
 *   when the other side randomizes; birthday.ts).
 * - Both sides allocate a new port per destination, in sequence: each can
 *   measure and reserve its next ports (sequential.ts).
 * - Both allocate a new port per destination and at least one at random: for a
 *   packet to pass, the random side's port towards a destination (unknown until
 *   it sends there) must be guessed by the other side, whose own port changes
 *   with every guess. With ~64,000 ports that takes hundreds of thousands of
 *   packets: hopeless, and said at once (a relay is needed).
 */
import type { NatHint } from './sequential.js';

const perDestination = (n: NatHint): boolean => !!n && n.mapping !== 'endpoint-independent' && n.mapping !== 'unknown';

/** Whether no hole punch can meet between these two networks (see above). */
export function isHopelessPair(a: NatHint, b: NatHint): boolean {
  if (!perDestination(a) || !perDestination(b)) return false;
  return a?.allocation === 'random' || b?.allocation === 'random';
}

/** The reason given for a hopeless pair, in words. */
export function hopelessReason(a: NatHint, b: NatHint): string {
  const both = a?.allocation === 'random' && b?.allocation === 'random';
  return both
    ? 'both routers pick a new random port for every destination, so no hole punch can meet (a relay is needed)'
    : 'both routers pick a new port for every destination and one of them at random, so no hole punch can meet (a relay is needed)';
}
