/**
 * What a site's router must be seen to do, in RFC 4787 terms, derived from
 * its spec alone. The self-test (selftest.ts) measures; this says what the
 * measurement must show, so a behaviour that silently is not what it says
 * fails loudly.
 */
import type { GatewayKind, Site } from './spec.js';

/** RFC 4787 section 4.1 mapping behaviour, as seen from the server's two addresses x two ports. */
export type MappingKind =
  | 'no-nat'                     // the server sees the host's own address and port
  | 'endpoint-independent'       // one external endpoint for every destination
  | 'address-and-port-dependent' // a different external port per destination (random)
  | 'sequential'                 // … allocated in sequence: +1 per new destination
  | 'blocked';                   // no UDP answer at all

/** RFC 4787 section 5 filtering behaviour: which "reply from another endpoint" gets back in. */
export type FilteringKind =
  | 'endpoint-independent'       // from any address and port
  | 'address-dependent'          // only from addresses the mapping has sent to
  | 'address-and-port-dependent' // only from the exact endpoint
  | 'blocked';

/** works: maps and the server reaches the map; refused: answers without a usable map; absent: no answer. */
export type GatewayOutcome = 'works' | 'refused' | 'absent' | 'unchecked';

export interface Expected {
  mapping: MappingKind;
  filtering: FilteringKind;
  /** The address the server sees: the host's own (public site) or the site's public address. */
  seenAs: 'host' | 'site';
  tcpAnyPort: boolean;
  tcp443: boolean;
  gateways: Record<GatewayKind, GatewayOutcome>;
  /** Two hosts on the LAN reaching each other through the site's public mapping. */
  hairpin: 'works' | 'blocked' | 'unchecked';
  /** IPv6: none; open (public, no firewall); firewalled (stateful: outbound opens, unsolicited drops). */
  ipv6: 'none' | 'open' | 'firewalled';
}

export function expectations(site: Site): Expected {
  const udpOk = site.udpBlocked !== true && site.tcp443Only !== true;
  const natted = site.nat !== 'public';

  let mapping: MappingKind;
  if (!udpOk) mapping = 'blocked';
  else if (!natted) mapping = 'no-nat';
  else if (site.nat === 'symmetric') mapping = 'address-and-port-dependent';
  else if (site.nat === 'symmetric-sequential') mapping = 'sequential';
  else mapping = 'endpoint-independent'; // a CGN is EIM too (RFC 6888), so cgnat keeps the home router's mapping

  let filtering: FilteringKind;
  if (!udpOk) filtering = 'blocked';
  else if (!natted || site.nat === 'full-cone') filtering = site.cgnat ? 'address-and-port-dependent' : 'endpoint-independent';
  else if (site.nat === 'restricted-cone') filtering = site.cgnat ? 'address-and-port-dependent' : 'address-dependent';
  else filtering = 'address-and-port-dependent';

  const want = new Set(site.gateway ?? []);
  const gateways = {} as Record<GatewayKind, GatewayOutcome>;
  for (const g of ['upnp', 'natpmp', 'pcp'] as const) {
    if (want.has(g)) {
      // Behind a CGN miniupnpd sees a 100.64/10 WAN address and refuses to map (NAT-PMP result 3, UPnP ActionFailed).
      // A map on a udp-blocked or tcp-443-only router is made but nothing (UDP) can reach it.
      gateways[g] = site.cgnat ? 'refused' : udpOk ? 'works' : 'refused';
    } else if ((g === 'natpmp' && want.has('pcp')) || (g === 'pcp' && want.has('natpmp'))) {
      gateways[g] = 'absent'; // shares miniupnpd's port 5351 with the one offered: must stay unanswered
    } else {
      gateways[g] = 'unchecked';
    }
  }

  let hairpin: Expected['hairpin'] = 'unchecked';
  if (site.hosts >= 2 && natted && udpOk && !site.cgnat) hairpin = site.hairpin ? 'works' : 'blocked';

  return {
    mapping,
    filtering,
    seenAs: natted ? 'site' : 'host',
    tcpAnyPort: site.tcp443Only !== true,
    tcp443: true,
    gateways,
    hairpin,
    ipv6: site.ipv6 ? (natted ? 'firewalled' : 'open') : 'none',
  };
}

/** Classifies three mapped endpoints (S1:P1, S1:P2, S2:P1) seen for one local socket. */
export function classifyMapping(local: string, mapped: (string | null)[], hostAddress: string): MappingKind | 'inconsistent' {
  if (mapped.some((m) => m === null)) return mapped.every((m) => m === null) ? 'blocked' : 'inconsistent';
  const eps = mapped as string[];
  const ports = eps.map((e) => Number(e.slice(e.lastIndexOf(':') + 1)));
  const localPort = Number(local.slice(local.lastIndexOf(':') + 1));
  if (eps.every((e) => e === `${hostAddress}:${localPort}`)) return 'no-nat';
  if (new Set(eps).size === 1) return 'endpoint-independent';
  if (new Set(ports).size === ports.length) {
    const [a = 0, b = 0, c = 0] = ports;
    return b === a + 1 && c === b + 1 ? 'sequential' : 'address-and-port-dependent';
  }
  return 'inconsistent'; // e.g. address-dependent mapping: same port for S1:P1 and S1:P2 only
}

/** Classifies which reply-from requests came back: alts are S1:P2 (port change), S2:P1 and S2:P2 (address change). */
export function classifyFiltering(mapped: string | null, portChange: boolean, addrChange: boolean, bothChange: boolean): FilteringKind | 'inconsistent' {
  if (mapped === null) return 'blocked';
  if (portChange && addrChange && bothChange) return 'endpoint-independent';
  if (portChange && !addrChange && !bothChange) return 'address-dependent';
  if (!portChange && !addrChange && !bothChange) return 'address-and-port-dependent';
  return 'inconsistent';
}
