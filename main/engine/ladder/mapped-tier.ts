/**
 * Tiers `upnp`, `natpmp` and `pcp`: the other device had its gateway open a
 * port (main/engine/portmap) and advertised it in its Endpoint as
 * `{ kind: 'mapped', proto: 'tcp', ip, port, via }`; we dial it. The tier is
 * named after `via`. Mapped candidates on private or CGNAT addresses are never
 * dialed as mapped (a gateway behind another NAT maps nothing reachable; the
 * node does not advertise those either).
 *
 * When the mapped port equals the peer's listening port, the peer's observed
 * address with its stated port *is* the mapping, and `direct` would connect
 * through it first and take the credit. `withMappedTiers` therefore puts a
 * `direct` that leaves out the mapped endpoints in place of the plain one, and
 * the mapped tiers right after it:
 *   [lan, direct (without mapped endpoints), upnp, natpmp, pcp, reverse, …]
 */
import type { PeerInfo } from '../../wire/signaling.js';
import type { TierStrategy } from './ladder.js';
import type { Link } from './link.js';
import { dialAny, directCandidates, directTier, type DialContext } from './tiers.js';
import { formatHostPort, isCgnatIp, isPrivateIp } from '../net/addresses.js';

type Strategy = TierStrategy<DialContext, Link>;

export const MAPPED_VIAS = ['upnp', 'natpmp', 'pcp'] as const;
export type MappedVia = (typeof MAPPED_VIAS)[number];

/** The target's mapped TCP candidates (by `via` when given), public addresses only. */
export function mappedCandidates(target: PeerInfo, via?: MappedVia): { ip: string; port: number; via: MappedVia }[] {
  const out: { ip: string; port: number; via: MappedVia }[] = [];
  const seen = new Set<string>();
  for (const c of target.endpoint.candidates) {
    if (c.kind !== 'mapped' || c.proto !== 'tcp' || !c.via || !(MAPPED_VIAS as readonly string[]).includes(c.via)) continue;
    if (via && c.via !== via) continue;
    if (isPrivateIp(c.ip) || isCgnatIp(c.ip)) continue;
    const key = formatHostPort(c.ip, c.port);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ip: c.ip, port: c.port, via: c.via as MappedVia });
  }
  return out;
}

/** The strategy for one mapping protocol: dial the target's mapped candidates made by it. */
export function mappedTier(via: MappedVia): Strategy {
  return {
    tier: via,
    headStartMs: 250,
    skipReason(ctx) {
      if (ctx.knobs.disabledTiers.has(via)) return 'disabled by setting';
      if (mappedCandidates(ctx.target, via).length) return null;
      return `the other device has no ${via === 'upnp' ? 'UPnP' : via === 'natpmp' ? 'NAT-PMP' : 'PCP'} port mapping`;
    },
    attempt(ctx, signal, report) {
      const addrs = mappedCandidates(ctx.target, via).map(({ ip, port }) => ({ ip, port }));
      return dialAny(ctx, via, addrs, ctx.knobs.directTimeoutMs, signal, report);
    },
  };
}

export const upnpTier = mappedTier('upnp');
export const natpmpTier = mappedTier('natpmp');
export const pcpTier = mappedTier('pcp');
export const MAPPED_TIERS: Strategy[] = [upnpTier, natpmpTier, pcpTier];

/** `direct` without the endpoints a mapped candidate explains (those belong to the mapped tiers). */
export function directBesideMapped(target: PeerInfo): { ip: string; port: number }[] {
  const mapped = new Set(mappedCandidates(target).map((c) => formatHostPort(c.ip, c.port)));
  return directCandidates(target).filter((c) => !mapped.has(formatHostPort(c.ip, c.port)));
}

export const directTierBesideMapped: Strategy = {
  ...directTier,
  skipReason(ctx) {
    const plain = directTier.skipReason(ctx);
    if (plain !== null) return plain;
    if (directBesideMapped(ctx.target).length) return null;
    const via = mappedCandidates(ctx.target)[0]?.via ?? 'a port mapping';
    return `its public address is open through its gateway's port mapping (tried as ${via})`;
  },
  attempt(ctx, signal, report) {
    return dialAny(ctx, 'direct', directBesideMapped(ctx.target), ctx.knobs.directTimeoutMs, signal, report);
  },
};

/**
 * The ladder with the mapped tiers: `direct` is replaced by directTierBesideMapped
 * and followed by upnp, natpmp, pcp. With `target`, only the mapped tiers the
 * target has candidates for are added (a peer without mappings shows no three
 * "skipped" lines).
 */
export function withMappedTiers(tiers: Strategy[], target?: PeerInfo): Strategy[] {
  if (tiers.some((t) => (MAPPED_VIAS as readonly string[]).includes(t.tier))) return tiers;
  const mapped = target ? MAPPED_TIERS.filter((t) => mappedCandidates(target, t.tier as MappedVia).length > 0) : MAPPED_TIERS;
  const out: Strategy[] = [];
  for (const t of tiers) {
    if (t === directTier) out.push(directTierBesideMapped, ...mapped);
    else out.push(t);
  }
  if (!out.includes(directTierBesideMapped)) out.splice(Math.min(1, out.length), 0, ...mapped);
  return out;
}
