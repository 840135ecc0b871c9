/**
 * The lab's vocabulary: what a site is (a router behaviour in RFC 4787 terms
 * plus modifiers and gateways), what a lab is made of, and the short text form
 * used by the CLI and the matrix ("port-restricted+cgnat+upnp").
 *
 * RFC 4787 (NAT behavioural requirements for UDP) names mapping behaviour
 * (endpoint-independent / address-dependent / address-and-port-dependent) and
 * filtering behaviour (the same three); the classic cone names map onto them:
 *   full-cone            EIM + EIF
 *   restricted-cone      EIM + ADF
 *   port-restricted      EIM + APDF
 *   symmetric            APDM (random ports) + APDF
 *   symmetric-sequential APDM (ports allocated in sequence) + APDF
 *   public               no NAT, no firewall: the host holds a public address
 */

export const NAT_KINDS = [
  'public', 'full-cone', 'restricted-cone', 'port-restricted', 'symmetric', 'symmetric-sequential',
] as const;
export type NatKind = (typeof NAT_KINDS)[number];

/** Port-mapping protocols the site's router answers (miniupnpd). RFC 6886 NAT-PMP, RFC 6887 PCP, UPnP IGD. */
export const GATEWAY_KINDS = ['upnp', 'natpmp', 'pcp'] as const;
export type GatewayKind = (typeof GATEWAY_KINDS)[number];

export interface LinkShape {
  /** One-way delay added on the site's access link, each direction (ms). */
  latencyMs?: number;
  /** Rate limit of the access link, each direction (Mbit/s, tbf). */
  rateMbit?: number;
  /** Random loss on the access link, each direction (percent, 0.1 resolution). */
  lossPct?: number;
}

export interface SiteSpec extends LinkShape {
  /** Lowercase letters, digits and '-', at most 20 characters. Hosts are named `${name}${n}`. */
  name: string;
  nat: NatKind;
  /** Hosts behind the router on one LAN (default 1). */
  hosts?: number;
  /** A carrier-grade NAT (EIM/APDF, RFC 6888) in front of the home router; 100.64.0.0/10 between them. */
  cgnat?: boolean;
  /** NAT hairpinning (RFC 4787 REQ-9). Default true; false drops LAN packets to the router's WAN address. */
  hairpin?: boolean;
  /** Drop all outbound UDP at the router. */
  udpBlocked?: boolean;
  /** Allow only outbound TCP to port 443 (and replies); everything else is dropped. */
  tcp443Only?: boolean;
  /** UDP mapping (conntrack) timeout in seconds, replied or not; default is the kernel's (30 s / 120 s). */
  udpTimeoutSec?: number;
  /** Port-mapping protocols answered by the router (miniupnpd). */
  gateway?: GatewayKind[];
  /** Give the site IPv6: global addresses behind the router, no NAT, a stateful firewall. */
  ipv6?: boolean;
}

export interface LabOptions extends LinkShape {
  sites: SiteSpec[];
  /** The server host with two public IPv4 (and IPv6) addresses. Default true. */
  server?: boolean;
  /** Start the UDP/TCP reflector on the server (used by the self-tests). Default true when server. */
  reflector?: boolean;
  /** The internet router drops packets that arrive with a TTL/hop limit below this. Default 8. */
  minTtl?: number;
  /** Progress lines (bring-up steps); default silent. */
  log?: (line: string) => void;
}

const MODIFIERS = ['cgnat', 'no-hairpin', 'hairpin', 'udp-blocked', 'tcp-443-only', 'ipv6', ...GATEWAY_KINDS] as const;

/**
 * Parses "nat[+modifier…]" into a site (without name), e.g. "symmetric+cgnat",
 * "port-restricted+upnp+natpmp", "full-cone+udp-timeout=30", "public+ipv6",
 * "port-restricted+latency=20+rate=50+loss=1".
 */
export function parseBehaviour(text: string): Omit<SiteSpec, 'name'> {
  const [natText, ...mods] = text.trim().split('+');
  if (!natText || !(NAT_KINDS as readonly string[]).includes(natText)) {
    throw new Error(`unknown NAT behaviour "${natText ?? ''}" in "${text}" (one of: ${NAT_KINDS.join(', ')})`);
  }
  const site: Omit<SiteSpec, 'name'> = { nat: natText as NatKind };
  for (const mod of mods) {
    const [key, value] = mod.split('=');
    const num = (): number => {
      const n = Number(value);
      if (value === undefined || !Number.isFinite(n) || n < 0) throw new Error(`"${mod}" needs a number (in "${text}")`);
      return n;
    };
    switch (key) {
      case 'cgnat': site.cgnat = true; break;
      case 'hairpin': site.hairpin = true; break;
      case 'no-hairpin': site.hairpin = false; break;
      case 'udp-blocked': site.udpBlocked = true; break;
      case 'tcp-443-only': site.tcp443Only = true; break;
      case 'ipv6': site.ipv6 = true; break;
      case 'upnp': case 'natpmp': case 'pcp':
        site.gateway = [...(site.gateway ?? []), key];
        break;
      case 'udp-timeout': site.udpTimeoutSec = num(); break;
      case 'latency': site.latencyMs = num(); break;
      case 'rate': site.rateMbit = num(); break;
      case 'loss': site.lossPct = num(); break;
      case 'hosts': site.hosts = num(); break;
      default:
        throw new Error(`unknown modifier "${mod}" in "${text}" (one of: ${MODIFIERS.join(', ')}, udp-timeout=S, latency=MS, rate=MBIT, loss=PCT, hosts=N)`);
    }
  }
  return site;
}

/** The inverse of parseBehaviour (canonical order); used for names and report rows. */
export function formatBehaviour(site: Omit<SiteSpec, 'name'>): string {
  const parts: string[] = [site.nat];
  if (site.cgnat) parts.push('cgnat');
  if (site.hairpin === false) parts.push('no-hairpin');
  if (site.udpBlocked) parts.push('udp-blocked');
  if (site.tcp443Only) parts.push('tcp-443-only');
  if (site.ipv6) parts.push('ipv6');
  for (const g of site.gateway ?? []) parts.push(g);
  if (site.udpTimeoutSec !== undefined) parts.push(`udp-timeout=${site.udpTimeoutSec}`);
  if (site.latencyMs !== undefined) parts.push(`latency=${site.latencyMs}`);
  if (site.rateMbit !== undefined) parts.push(`rate=${site.rateMbit}`);
  if (site.lossPct !== undefined) parts.push(`loss=${site.lossPct}`);
  if (site.hosts !== undefined && site.hosts !== 1) parts.push(`hosts=${site.hosts}`);
  return parts.join('+');
}

/** A site with its defaults filled in and its position (which picks its address block). */
export interface Site extends SiteSpec {
  hosts: number;
  hairpin: boolean;
  index: number;
}

/** Throws on anything the lab cannot build; returns the sites with defaults filled in. */
export function validate(opts: LabOptions): Site[] {
  if (opts.sites.length > 200) throw new Error('at most 200 sites');
  const names = new Set<string>();
  return opts.sites.map((s, index) => {
    if (!/^[a-z][a-z0-9-]{0,19}$/.test(s.name)) {
      throw new Error(`site name "${s.name}": use 1-20 of a-z, 0-9, '-', starting with a letter`);
    }
    if (names.has(s.name) || s.name === 'server') throw new Error(`site name "${s.name}" is taken`);
    names.add(s.name);
    if (!(NAT_KINDS as readonly string[]).includes(s.nat)) throw new Error(`site ${s.name}: unknown nat "${s.nat}"`);
    const hosts = s.hosts ?? 1;
    if (!Number.isInteger(hosts) || hosts < 1 || hosts > 50) throw new Error(`site ${s.name}: hosts must be 1..50`);
    for (const g of s.gateway ?? []) {
      if (!(GATEWAY_KINDS as readonly string[]).includes(g)) throw new Error(`site ${s.name}: unknown gateway "${g}"`);
    }
    if (s.gateway?.length && s.nat === 'public') throw new Error(`site ${s.name}: a public site has no NAT to map ports on`);
    if (s.cgnat && s.nat === 'public') throw new Error(`site ${s.name}: cgnat needs a NAT behaviour, not public`);
    if (s.lossPct !== undefined && (s.lossPct < 0 || s.lossPct > 100)) throw new Error(`site ${s.name}: lossPct must be 0..100`);
    if (s.udpTimeoutSec !== undefined && (s.udpTimeoutSec < 1 || !Number.isInteger(s.udpTimeoutSec))) {
      throw new Error(`site ${s.name}: udpTimeoutSec must be a whole number of seconds ≥ 1`);
    }
    return { ...s, hosts, hairpin: s.hairpin ?? true, index };
  });
}
