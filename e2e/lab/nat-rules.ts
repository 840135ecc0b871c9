/**
 * nftables rulesets for the lab's routers: the RFC 4787 NAT behaviours, the
 * site modifiers (hairpin, udp-blocked, tcp-443-only), the IPv6 stateful
 * firewall (RFC 6092 style: outbound opens, unsolicited inbound drops), the
 * table miniupnpd writes its port maps into, and the internet router's
 * short-TTL and loss rules. Pure text generation; docs/lab.md explains each rule.
 *
 * How the behaviours are made with the kernel's own conntrack NAT:
 * - EIM (endpoint-independent mapping): plain `snat` — conntrack reuses an
 *   internal endpoint's existing mapping for new destinations
 *   (find_appropriate_src) and keeps the source port when it is free.
 * - APDM with random ports (symmetric): `snat … fully-random` skips that reuse
 *   and draws a fresh port for every new 5-tuple.
 * - APDM with sequential ports: `snat to WAN : numgen inc mod N map {…}` —
 *   the NAT chain runs once per new conntrack, so every new destination takes
 *   the next port of a counter.
 * - APDF (port-restricted, symmetric): conntrack alone — only replies from the
 *   exact remote ip:port of an existing flow get in.
 * - EIF (full-cone) / ADF (restricted-cone): every outbound NAT'd packet
 *   records "external port -> internal ip:port" in dynamic maps (and, for ADF,
 *   "external port . remote address" in a set); inbound packets to the WAN
 *   address that hit a mapping (and, for ADF, come from a recorded address) are
 *   DNAT'd to it. The same maps give hairpinning.
 */
import type { GatewayKind, NatKind } from './spec.js';

export interface RouterRules {
  nat: NatKind;
  /** The router's WAN address (what the NAT translates to). */
  wan4: string;
  hairpin: boolean;
  udpBlocked: boolean;
  tcp443Only: boolean;
  /** Mapping lifetime for the full-cone/restricted maps, seconds (match the conntrack UDP timeout). */
  mappingTimeoutSec: number;
  gateway: GatewayKind[];
}

/** Ports handed out by symmetric-sequential, in order; wraps after SEQ_COUNT new flows. */
export const SEQ_BASE = 20000;
export const SEQ_COUNT = 512;

const WAN = '"wan"';
const HAIRPIN_MARK = '0x4850';
const LAN = '"lan"';

function mappingStatement(r: RouterRules): string {
  switch (r.nat) {
    case 'symmetric':
      return `snat ip to ${r.wan4} fully-random comment "APDM: a random port for every new 5-tuple"`;
    case 'symmetric-sequential': {
      const entries = Array.from({ length: SEQ_COUNT }, (_, i) => `${i} : ${SEQ_BASE + i}`).join(', ');
      return `snat ip to ${r.wan4} : numgen inc mod ${SEQ_COUNT} map { ${entries} } comment "APDM: the next port in sequence for every new 5-tuple"`;
    }
    default:
      return `snat ip to ${r.wan4} comment "EIM: conntrack reuses an endpoint's mapping and keeps the port when free"`;
  }
}

/** The ruleset of a site router (or a CGN) with NAT or, for `public`, plain routing. */
export function routerRuleset(r: RouterRules): string {
  const natted = r.nat !== 'public';
  const T = Math.max(1, Math.round(r.mappingTimeoutSec));
  const dnatToMapping = 'dnat ip to meta l4proto . th dport map @map_addr : meta l4proto . th dport map @map_port';
  const lines: string[] = [];
  const add = (s: string): void => { lines.push(s); };

  add('table inet lab {');
  if (natted) {
    add(`  map map_addr { type inet_proto . inet_service : ipv4_addr; flags dynamic,timeout; timeout ${T}s; }`);
    add(`  map map_port { type inet_proto . inet_service : inet_service; flags dynamic,timeout; timeout ${T}s; }`);
    if (r.nat === 'restricted-cone') {
      add(`  set adf_peers { type inet_proto . inet_service . ipv4_addr; flags dynamic,timeout; timeout ${T}s; }`);
    }

    add('  chain dstnat {');
    add('    type nat hook prerouting priority dstnat + 10; policy accept;');
    if (r.nat === 'full-cone') {
      add(`    iifname ${WAN} ip daddr ${r.wan4} meta l4proto { tcp, udp } counter ${dnatToMapping} comment "EIF: anyone may use a mapping"`);
    }
    if (r.nat === 'restricted-cone') {
      add(`    iifname ${WAN} ip daddr ${r.wan4} meta l4proto { tcp, udp } meta l4proto . th dport . ip saddr @adf_peers counter ${dnatToMapping} comment "ADF: only addresses the mapping has sent to"`);
    }
    if (r.hairpin) {
      add(`    iifname ${LAN} ip daddr ${r.wan4} meta l4proto { tcp, udp } counter meta mark set ${HAIRPIN_MARK} ${dnatToMapping} comment "hairpin: LAN to own public mapping"`);
    }
    add('  }');

    add('  chain srcnat {');
    add('    type nat hook postrouting priority srcnat; policy accept;');
    if (r.hairpin) {
      // No input interface in postrouting: the dstnat rule marks hairpinned packets instead.
      add(`    oifname ${LAN} meta mark ${HAIRPIN_MARK} counter snat ip to ${r.wan4} comment "hairpin: the peer sees the sender's public mapping"`);
    }
    add(`    oifname ${WAN} meta l4proto { tcp, udp } counter ${mappingStatement(r)}`);
    add(`    oifname ${WAN} meta nfproto ipv4 counter snat ip to ${r.wan4}`);
    add('  }');

    add('  chain record {');
    add('    type filter hook postrouting priority srcnat + 10; policy accept;');
    for (const p of ['udp', 'tcp']) {
      const adf = r.nat === 'restricted-cone' ? ` update @adf_peers { meta l4proto . ${p} sport . ip daddr }` : '';
      add(`    oifname ${WAN} ct direction original ct status snat meta l4proto ${p} update @map_addr { meta l4proto . ${p} sport : ct original ip saddr } update @map_port { meta l4proto . ${p} sport : ct original proto-src }${adf}`);
    }
    add('  }');
  }

  add('  chain forward {');
  add('    type filter hook forward priority filter; policy drop;');
  if (r.udpBlocked) add('    meta l4proto udp counter drop comment "udp-blocked: no UDP through this router, either way"');
  add('    ct state established,related accept');
  if (r.tcp443Only) {
    add(`    iifname ${LAN} tcp dport 443 accept comment "tcp-443-only"`);
    add(`    iifname ${LAN} counter drop comment "tcp-443-only"`);
  }
  add(`    iifname ${LAN} accept`);
  if (natted) {
    if (!r.tcp443Only) {
      add(`    iifname ${WAN} ct status dnat accept comment "inbound to a mapping: cone filtering or a UPnP/NAT-PMP/PCP port map"`);
    }
    add(`    iifname ${WAN} icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept comment "IPv6 firewall lets ICMPv6 in"`);
  } else if (!r.tcp443Only) {
    add(`    iifname ${WAN} accept comment "public: no firewall"`);
  }
  add('  }');

  add('  chain input {');
  add('    type filter hook input priority filter; policy accept;');
  if (natted && !r.hairpin) {
    add(`    iifname ${LAN} ip daddr ${r.wan4} counter drop comment "no-hairpin"`);
  }
  if (natted) {
    add(`    iifname ${WAN} meta l4proto { tcp, udp } ct state new counter drop comment "unsolicited to the router itself: dropped silently"`);
  }
  const g = new Set(r.gateway);
  if ((g.has('natpmp') || g.has('pcp')) && !(g.has('natpmp') && g.has('pcp'))) {
    // miniupnpd answers both on 5351; the first payload byte is the version (0 NAT-PMP, 2 PCP).
    const refuse = g.has('natpmp') ? 2 : 0;
    add(`    iifname ${LAN} udp dport 5351 @th,64,8 ${refuse} counter drop comment "${g.has('natpmp') ? 'NAT-PMP only: PCP' : 'PCP only: NAT-PMP'} requests unanswered"`);
  }
  add('  }');
  add('}');
  return lines.join('\n') + '\n';
}

/**
 * The skeleton miniupnpd's nftables backend fills: table `inet filter` with the
 * chains named by its defaults (miniupnpd, prerouting_miniupnpd,
 * postrouting_miniupnpd). Its forward chain accepts by default: the lab table's
 * forward chain is the policy; the port maps' DNAT is accepted there.
 */
export function miniupnpdSkeleton(): string {
  return [
    'table inet filter {',
    '  chain forward { type filter hook forward priority filter + 5; policy accept; jump miniupnpd; }',
    '  chain miniupnpd { }',
    '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump prerouting_miniupnpd; }',
    '  chain postrouting { type nat hook postrouting priority srcnat - 5; policy accept; jump postrouting_miniupnpd; }',
    '  chain prerouting_miniupnpd { }',
    '  chain postrouting_miniupnpd { }',
    '}',
    '',
  ].join('\n');
}

export interface InternetRules {
  minTtl: number;
  /** Per-link loss in permille, keyed by the internet router's interface name. */
  lossPermille: Map<string, number>;
}

/** The internet router: drops short-TTL packets (path length) and applies per-link random loss. */
export function internetRuleset(r: InternetRules): string {
  const lines = [
    'table inet lab {',
    '  chain prerouting {',
    '    type filter hook prerouting priority raw; policy accept;',
    `    ip ttl < ${r.minTtl} counter drop comment "short TTL: real paths are 10-20 hops, this one dies before the far NAT"`,
    `    ip6 hoplimit < ${r.minTtl} counter drop comment "short hop limit (neighbour discovery uses 255)"`,
  ];
  const post: string[] = [];
  for (const [ifname, permille] of r.lossPermille) {
    if (permille <= 0) continue;
    lines.push(`    iifname "${ifname}" numgen random mod 1000 < ${permille} counter drop comment "loss from ${ifname}"`);
    post.push(`    oifname "${ifname}" numgen random mod 1000 < ${permille} counter drop comment "loss to ${ifname}"`);
  }
  lines.push('  }', '  chain postrouting {', '    type filter hook postrouting priority filter; policy accept;', ...post, '  }', '}');
  return lines.join('\n') + '\n';
}
