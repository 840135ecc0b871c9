/**
 * The first tiers of the ladder:
 *  - `lan`: the peer's private (host) addresses, dialed first and in parallel (seed 004);
 *  - `direct`: the peer's public address — the one the rendezvous observed, with the
 *    port the peer stated (seed 003) — or a public candidate it advertised;
 *  - `reverse`: ask the peer, through the rendezvous, to dial us back (seed 000).
 */
import { randomBytes } from 'node:crypto';
import type { Candidate, PeerInfo } from '../../wire/signaling.js';
import type { ConnectedTier } from '../../../shared/domain/connection.js';
import type { Hello } from '../../wire/session-frames.js';
import type { Identity } from '../identity/identity.js';
import type { RendezvousClient } from '../signaling/rendezvous-client.js';
import type { TierStrategy } from './ladder.js';
import { greet, type Link } from './link.js';
import { dialTcp } from './tcp-dial.js';
import type { ReverseHub } from './reverse-hub.js';
import { formatHostPort, isPrivateIp } from '../net/addresses.js';
import { EngineError, errorMessage } from '../errors.js';
import type { UdpSocket } from '../net/udp-socket.js';
import type { SignalReplies } from '../punch/signals.js';
import type { NatDiscovery } from '../../../shared/domain/nat.js';
import type { TurnConfig } from '../relay/turn-tier.js';

export interface Knobs {
  /** Tiers never tried (debug knob: force a fallback path in tests). */
  disabledTiers: ReadonlySet<ConnectedTier>;
  /** @default 1500 */
  lanTimeoutMs: number;
  /** @default 4000 */
  directTimeoutMs: number;
  /** @default 8000 */
  reverseTimeoutMs: number;
  /** While relayed, how often to try the direct tiers again. @default 60000 */
  upgradeIntervalMs: number;
  /** Debug: devices reached only through relays (forces the relay paths in tests). */
  relayOnlyPeers?: ReadonlySet<string>;
}

export const DEFAULT_KNOBS: Knobs = { disabledTiers: new Set(), lanTimeoutMs: 1500, directTimeoutMs: 4000, reverseTimeoutMs: 8000, upgradeIntervalMs: 60_000 };

export interface DialContext {
  identity: Identity;
  name: string;
  target: PeerInfo;
  purpose: Hello['purpose'];
  nameplate?: number;
  rendezvous: RendezvousClient | null;
  reverse: ReverseHub;
  /** Whether we accept incoming TCP connections (a dial-back needs it). */
  listening: boolean;
  knobs: Knobs;
  /** The node's shared UDP socket (null when UDP is off). */
  udp: UdpSocket | null;
  /** Our UDP candidates to hand to the peer for a punch (private first). */
  udpCandidates: () => { ip: string; port: number }[];
  /** Where replies to our rendezvous signals are matched. */
  replies: SignalReplies;
  /** Our private addresses (as advertised). */
  hostAddresses: () => string[];
  /** Called with a relay's limits when a relayed tier is used. */
  onRelayLimits?: (limits: { maxBytes: number; maxDurationSec: number; maxBytesPerSec: number }) => void;
  /** What NAT discovery found about our network, when it has run. */
  localNat: () => NatDiscovery | null;
  /** Settles when NAT discovery has run (punching needs its public address). */
  natReady: Promise<void>;
  /** Where links that connected after the winner go (the node's one-link-per-peer choice). */
  onExtraLink?: (link: Link) => void;
  /** Sessions with our own devices that relay for us (peer relay). */
  peerRelays?: () => import('../session.js').Session[];
  /** A TURN server the user configured (the TURN variant of server-relay). */
  turn?: TurnConfig | null;
  /** Diagnostics. */
  log?: (line: string) => void;
  /** Whether our NAT kept our UDP port in the public address STUN saw (true when unknown). */
  portPreserved: () => boolean;
  /** Settles when our public UDP address is known (one STUN round trip). */
  srflxReady: Promise<void>;
}

type Strategy = TierStrategy<DialContext, Link>;

export function lanCandidates(target: PeerInfo): Candidate[] {
  return target.endpoint.candidates.filter((c) => c.kind === 'host' && c.proto === 'tcp' && isPrivateIp(c.ip));
}

export function directCandidates(target: PeerInfo): { ip: string; port: number }[] {
  const out: { ip: string; port: number }[] = [];
  const seen = new Set<string>();
  const add = (ip: string, port: number) => {
    const key = formatHostPort(ip, port);
    if (!seen.has(key) && !isPrivateIp(ip)) { seen.add(key); out.push({ ip, port }); }
  };
  // Manually forwarded or otherwise public candidates the peer advertised.
  for (const c of target.endpoint.candidates) {
    if (c.proto === 'tcp' && (c.kind === 'public' || (c.kind === 'host' && !isPrivateIp(c.ip)))) add(c.ip, c.port);
  }
  if (target.endpoint.tcpPort) add(target.observed.ip, target.endpoint.tcpPort);
  return out;
}

/** Dial several addresses at once; the first authenticated hello wins. */
export async function dialAny(ctx: DialContext, tier: ConnectedTier, addrs: { ip: string; port: number }[], timeoutMs: number, signal: AbortSignal, report: (t: string) => void, reverseOf?: string): Promise<Link> {
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  report(addrs.map((a) => formatHostPort(a.ip, a.port)).join(', '));
  let winner: Link | undefined;
  try {
    winner = await Promise.any(addrs.map(async ({ ip, port }) => {
      const socket = await dialTcp(ip, port, timeoutMs, inner.signal);
      const hello: Omit<Hello, 'v'> = {
        name: ctx.name, purpose: ctx.purpose, tier,
        ...(ctx.nameplate !== undefined ? { nameplate: ctx.nameplate } : {}),
        ...(reverseOf ? { reverseOf } : {}),
      };
      const link = await greet(socket, ctx.identity, ctx.target.peerId, hello, inner.signal);
      // A second address that also answered: the other side has taken it as a session,
      // so it goes through the node's one-link-per-peer choice as well (or is closed).
      if (winner || inner.signal.aborted) {
        if (ctx.onExtraLink) ctx.onExtraLink(link);
        else link.channel.close();
        throw new EngineError('SUPERSEDED', 'another address answered first');
      }
      report(formatHostPort(ip, port));
      return link;
    }));
    return winner;
  } catch (err) {
    if (err instanceof AggregateError) {
      const reasons = [...new Set(err.errors.map(errorMessage))];
      const refused = err.errors.find((e) => (e as EngineError).code === 'REFUSED' || (e as EngineError).code === 'NOT_PAIRED');
      if (refused) throw refused;
      throw new EngineError('DIAL_FAILED', reasons.join('; '));
    }
    throw err;
  } finally {
    inner.abort();
    signal.removeEventListener('abort', onAbort);
  }
}

export const lanTier: Strategy = {
  tier: 'lan',
  headStartMs: 250,
  skipReason(ctx) {
    if (ctx.knobs.disabledTiers.has('lan')) return 'disabled by setting';
    return lanCandidates(ctx.target).length ? null : 'the other device reported no private address';
  },
  attempt(ctx, signal, report) {
    const addrs = lanCandidates(ctx.target).map((c) => ({ ip: c.ip, port: c.port }));
    return dialAny(ctx, 'lan', addrs, ctx.knobs.lanTimeoutMs, signal, report);
  },
};

export const directTier: Strategy = {
  tier: 'direct',
  headStartMs: 150,
  skipReason(ctx) {
    if (ctx.knobs.disabledTiers.has('direct')) return 'disabled by setting';
    if (!ctx.target.endpoint.tcpPort && directCandidates(ctx.target).length === 0) return 'the other device is not listening for connections';
    return directCandidates(ctx.target).length ? null : 'the other device has no public address (it is behind NAT on a private network)';
  },
  attempt(ctx, signal, report) {
    return dialAny(ctx, 'direct', directCandidates(ctx.target), ctx.knobs.directTimeoutMs, signal, report);
  },
};

export const reverseTier: Strategy = {
  tier: 'reverse',
  headStartMs: 250,
  skipReason(ctx) {
    if (ctx.knobs.disabledTiers.has('reverse')) return 'disabled by setting';
    if (!ctx.rendezvous?.registered) return 'not connected to a rendezvous server to ask for a dial-back';
    if (!ctx.listening) return 'this device is not listening for connections';
    return null;
  },
  async attempt(ctx, signal, report) {
    const reqId = randomBytes(8).toString('hex');
    report('dial-back request via rendezvous');
    const arrival = ctx.reverse.expect(ctx.target.peerId, reqId, ctx.knobs.reverseTimeoutMs, signal);
    const body: Record<string, unknown> = { k: 'reverse', reqId, purpose: ctx.purpose };
    if (ctx.nameplate !== undefined) body.nameplate = ctx.nameplate;
    if (!ctx.rendezvous?.signal(ctx.target.peerId, body)) {
      throw new EngineError('RENDEZVOUS_DISCONNECTED', 'lost the rendezvous connection before asking for a dial-back');
    }
    return arrival;
  },
};

/** The other side of `reverse`: dial the requester's addresses (lan first, then public). */
export async function dialBack(ctx: DialContext, reqId: string, signal: AbortSignal): Promise<Link> {
  const lan = lanCandidates(ctx.target).map((c) => ({ ip: c.ip, port: c.port }));
  const pub = directCandidates(ctx.target);
  // A port the requester's gateway mapped for it (UPnP / NAT-PMP / PCP) reaches it too.
  const mapped = ctx.target.endpoint.candidates
    .filter((c) => c.kind === 'mapped' && c.proto === 'tcp' && !isPrivateIp(c.ip) && !pub.some((p) => p.ip === c.ip && p.port === c.port))
    .map((c) => ({ ip: c.ip, port: c.port }));
  const all = [...lan, ...pub, ...mapped];
  if (all.length === 0) throw new EngineError('REVERSE_FAILED', 'the requester is not listening on any address');
  return dialAny(ctx, 'reverse', all, ctx.knobs.directTimeoutMs, signal, () => {}, reqId);
}

export const FIRST_TIERS: Strategy[] = [lanTier, directTier, reverseTier];
