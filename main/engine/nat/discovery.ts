/**
 * NAT discovery, after RFC 5780 (NAT behaviour discovery using STUN), in RFC
 * 4787 terms, finished in under three seconds with every probe in parallel:
 *
 * - On the node's own UDP socket (the mapping punching and data will use):
 *   a Binding request to the primary server A1:P1 gives the public endpoint,
 *   whether UDP gets out at all, and whether there is a NAT (public == local);
 *   at the same moment two CHANGE-REQUESTs ask A1:P1 to answer from A2:P2
 *   (Test II: let in → endpoint-independent filtering) and from A1:P2 (Test III:
 *   → address-dependent); neither arriving means address-and-port-dependent.
 *   Nothing else is sent from that socket, so no other answer is solicited.
 * - On a fresh probe socket, as soon as OTHER-ADDRESS is known: Binding
 *   requests to A1:P1, A1:P2, A2:P1, A2:P2, in that order. Same public endpoint
 *   from A1 and A2 → endpoint-independent mapping; otherwise A2:P1 vs A2:P2
 *   tells address-dependent from address-and-port-dependent. The external ports
 *   in send order give the allocation pattern (sequential with a delta, or
 *   random) for port prediction. Without RFC 5780, several servers are used.
 * - An IPv6 Binding request from a separate IPv6 socket when the server has an
 *   IPv6 address and this host a global one.
 * - CGNAT: a 100.64.0.0/10 (RFC 6598) address seen anywhere, or a gateway
 *   external address (from the port mapper) that differs from the public one.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type {
  FilteringBehaviour, Ipv6Facts, MappingBehaviour, NatDiscovery, NatType, PortAllocation,
} from '../../../shared/domain/nat.js';
import { isCgnatIp } from '../net/addresses.js';
import { formatHostPort } from '../net/addresses.js';
import { openProbeSocket, StunClient, type HostPort, type ProbeSocket, type StunResponse, type StunTransport } from './stun-client.js';

export interface DiscoveryOptions {
  /** The node's one UDP socket (anything with send/handle and its local port). */
  socket: StunTransport & { readonly port: number };
  /** STUN servers: the rendezvous's (from `registered`) or third-party ones. The first IPv4 one is the primary. */
  servers: HostPort[];
  /** The gateway's external IPv4 address as the port mapper (UPnP/NAT-PMP/PCP) reported it. */
  gatewayExternalIp?: string | null;
  /** This host's addresses. @default its interfaces' */
  localAddresses?: string[];
  /** Everything is done by then. @default 2800 */
  budgetMs?: number;
  /** Filtering answers that have not come by then (from the start) count as filtered. @default 1800 */
  filteringWindowMs?: number;
  /** Opens extra probe sockets. @default plain dgram sockets */
  openSocket?: (family: 4 | 6) => Promise<ProbeSocket>;
  /** Probe IPv6. @default true */
  ipv6?: boolean;
  software?: string;
}

const sameEndpoint = (a: HostPort | null | undefined, b: HostPort | null | undefined) => !!a && !!b && a.ip === b.ip && a.port === b.port;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

export function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}

/** A global unicast IPv6 address (2000::/3): not loopback, link-local, ULA or v4-mapped. */
export function isGlobalIpv6(ip: string): boolean {
  if (!isIPv6(ip)) return false;
  const first = parseInt(ip.split(':')[0] || '0', 16);
  return first >= 0x2000 && first <= 0x3fff;
}

export async function discoverNat(o: DiscoveryOptions): Promise<NatDiscovery> {
  const t0 = performance.now();
  const budget = o.budgetMs ?? 2800;
  const elapsed = () => performance.now() - t0;
  const v4 = o.servers.filter((s) => isIPv4(s.ip));
  const primary = v4[0];
  if (!primary) throw new Error('NAT discovery needs an IPv4 STUN server');
  const locals = o.localAddresses ?? interfaceAddresses();
  const open = o.openSocket ?? ((family: 4 | 6) => openProbeSocket(family));
  const server6 = o.servers.find((s) => isIPv6(s.ip));
  const ipv6 = o.ipv6 === false ? Promise.resolve(null) : probeIpv6(server6, locals.filter(isGlobalIpv6), open, Math.min(1500, budget - 300));

  const client = new StunClient(o.socket, o.software ? { software: o.software } : {});
  try {
    const deadline = budget - 300;
    const b1p = client.request(primary, { timeoutMs: deadline });
    const f1p = client.request(primary, { changeIp: true, changePort: true, timeoutMs: deadline });
    const f2p = client.request(primary, { changePort: true, timeoutMs: deadline });
    const b1 = await b1p;
    const mapped = b1?.message.cls === 'success' ? b1.mapped : null;
    if (!b1 || !mapped) {
      return finish({ t0, primary, servers: o.servers, udp: b1 ? 'ok' : 'blocked', mapped: null, local: null, natted: null, mapping: 'unknown', filtering: 'unknown', alloc: { allocation: 'unknown', probePorts: [] }, rfc5780: false, gatewayExternalIp: o.gatewayExternalIp ?? null, locals, ipv6: await ipv6 });
    }
    const natted = !(locals.includes(mapped.ip) && mapped.port === o.socket.port);
    const other = b1.message.otherAddress && isIPv4(b1.message.otherAddress.ip) && b1.message.otherAddress.ip !== primary.ip ? { ip: b1.message.otherAddress.ip, port: b1.message.otherAddress.port } : null;

    // Mapping and allocation from a fresh socket, while the filtering answers are awaited on ours.
    const targets = other
      ? [primary, { ip: primary.ip, port: other.port }, { ip: other.ip, port: primary.port }, other]
      : distinct(v4).slice(0, 4);
    const probes = probeMapping(targets, open, Math.max(300, deadline - elapsed()), o.software);

    // Filtering: answers sent with B1's; allow for a busy machine and a retransmission or two.
    const windowEnd = Math.min(deadline, Math.max(o.filteringWindowMs ?? 1800, elapsed() + 1000 + 4 * b1.rttMs));
    let windowTimer: NodeJS.Timeout | undefined;
    const windowClosed = new Promise<null>((resolve) => { windowTimer = setTimeout(() => resolve(null), Math.max(0, windowEnd - elapsed())); });
    const [f1, f2] = await Promise.all([Promise.race([f1p, windowClosed]), Promise.race([f2p, windowClosed])]);
    clearTimeout(windowTimer);
    const filtering: FilteringBehaviour = !other || isRefused(f1) || isRefused(f2)
      ? 'unknown'
      : f1?.message.cls === 'success' && f1.from.ip === other.ip ? 'endpoint-independent'
        : f2?.message.cls === 'success' && f2.from.ip === primary.ip && f2.from.port === other.port ? 'address-dependent'
          : 'address-and-port-dependent';

    const q = await probes;
    const mapping = !natted ? 'endpoint-independent' : classifyMapping(q.mapped, !!other);
    const alloc = !natted
      ? { allocation: 'preserving' as const, probePorts: q.mapped.filter((m): m is HostPort => !!m).map((m) => m.port) }
      : classifyAllocation(mapping, mapped.port === o.socket.port || (!!q.mapped[0] && q.mapped[0].port === q.localPort), q.mapped);
    return finish({ t0, primary, servers: o.servers, udp: 'ok', mapped, local: { ip: localFor(mapped, locals), port: o.socket.port }, natted, mapping, filtering, alloc, rfc5780: !!other && filtering !== 'unknown', gatewayExternalIp: o.gatewayExternalIp ?? null, locals, ipv6: await ipv6 });
  } finally {
    client.close();
  }
}

const isRefused = (r: StunResponse | null) => r?.message.cls === 'error';

function distinct(list: HostPort[]): HostPort[] {
  const seen = new Set<string>();
  return list.filter((s) => !seen.has(`${s.ip}:${s.port}`) && !!seen.add(`${s.ip}:${s.port}`));
}

function localFor(mapped: HostPort, locals: string[]): string {
  // The socket listens on every address; name the first real one (not loopback) as the local side of the mapping.
  return locals.includes(mapped.ip) ? mapped.ip : (locals.find((ip) => isIPv4(ip) && !ip.startsWith('127.')) ?? locals.find(isIPv4) ?? '0.0.0.0');
}

async function probeMapping(targets: HostPort[], open: (f: 4 | 6) => Promise<ProbeSocket>, timeoutMs: number, software?: string): Promise<{ mapped: (HostPort | null)[]; localPort: number }> {
  let socket: ProbeSocket;
  try {
    socket = await open(4);
  } catch {
    return { mapped: targets.map(() => null), localPort: 0 };
  }
  const client = new StunClient(socket, software ? { software } : {});
  try {
    // Sent one after the other, so a sequential NAT allocates in this order.
    const pending: Promise<StunResponse | null>[] = [];
    for (const t of targets) {
      pending.push(client.request(t, { timeoutMs }));
      await sleep(2);
    }
    const answers = await Promise.all(pending);
    return { mapped: answers.map((a) => (a?.message.cls === 'success' ? a.mapped : null)), localPort: socket.port };
  } finally {
    client.close();
    await socket.close();
  }
}

/** From the probe socket's mapped endpoints for [A1:P1, A1:P2, A2:P1, A2:P2] (RFC 5780 section 4.3), or for several servers. */
export function classifyMapping(m: (HostPort | null)[], rfc5780: boolean): MappingBehaviour {
  if (!rfc5780) {
    const got = m.filter((x): x is HostPort => !!x);
    if (got.length < 2) return 'unknown';
    return got.every((x) => sameEndpoint(x, got[0])) ? 'endpoint-independent' : 'address-and-port-dependent';
  }
  const [m11, m12, m21, m22] = m;
  if (m11 && m21) {
    if (sameEndpoint(m11, m21)) return 'endpoint-independent';
    if (m22) return sameEndpoint(m21, m22) ? 'address-dependent' : 'address-and-port-dependent';
  }
  if (m11 && m12 && !sameEndpoint(m11, m12)) return 'address-and-port-dependent';
  if (m11 && m12 && m21) return 'address-dependent'; // same for a new port, new for a new address
  return 'unknown';
}

/** Port allocation from the ports new mappings got, in the order they were made. */
export function classifyAllocation(mapping: MappingBehaviour, preserved: boolean, m: (HostPort | null)[]): { allocation: PortAllocation; portDelta?: number; probePorts: number[] } {
  const probePorts = m.filter((x): x is HostPort => !!x).map((x) => x.port);
  if (mapping === 'unknown') return { allocation: 'unknown', probePorts };
  if (mapping === 'endpoint-independent') return { allocation: preserved ? 'preserving' : 'unknown', probePorts };
  // Every probe made a new mapping: look at the steps between them (skipping unanswered probes).
  const steps: number[] = [];
  let last: { i: number; port: number } | undefined;
  m.forEach((x, i) => {
    if (!x) return;
    if (last) steps.push((x.port - last.port) / (i - last.i));
    last = { i, port: x.port };
  });
  if (steps.length === 0) return { allocation: preserved ? 'preserving' : 'unknown', probePorts };
  const sameSign = steps.every((s) => s > 0) || steps.every((s) => s < 0);
  if (sameSign && steps.every((s) => Number.isInteger(s) && Math.abs(s) <= 64)) {
    const sorted = [...steps].sort((a, b) => a - b);
    return { allocation: 'sequential', portDelta: sorted[Math.floor(sorted.length / 2)] as number, probePorts };
  }
  return { allocation: 'random', probePorts };
}

async function probeIpv6(server: HostPort | undefined, globals: string[], open: (f: 4 | 6) => Promise<ProbeSocket>, timeoutMs: number): Promise<Ipv6Facts | null> {
  if (!server || !globals.length) return null;
  let socket: ProbeSocket;
  try {
    socket = await open(6);
  } catch {
    return null;
  }
  const client = new StunClient(socket);
  try {
    const r = await client.request(server, { timeoutMs });
    const seen = r?.message.cls === 'success' ? r.mapped : null;
    const localIp = seen && globals.includes(seen.ip) ? seen.ip : (globals[0] as string);
    return { localIp, publicIp: seen?.ip ?? null, udp: seen ? 'ok' : 'blocked', translated: !!seen && !globals.includes(seen.ip) };
  } finally {
    client.close();
    await socket.close();
  }
}

interface Facts {
  t0: number;
  primary: HostPort;
  servers: HostPort[];
  udp: 'ok' | 'blocked';
  mapped: HostPort | null;
  local: HostPort | null;
  natted: boolean | null;
  mapping: MappingBehaviour;
  filtering: FilteringBehaviour;
  alloc: { allocation: PortAllocation; portDelta?: number; probePorts: number[] };
  rfc5780: boolean;
  gatewayExternalIp: string | null;
  locals: string[];
  ipv6: Ipv6Facts | null;
}

function cgnatOf(pub: string | null | undefined, locals: string[], gw: string | null): string | null {
  if (pub && isCgnatIp(pub)) return `the STUN server sees ${pub}, an address from the carrier-grade NAT range 100.64.0.0/10`;
  const local = locals.find(isCgnatIp);
  if (local) return `this computer's address ${local} is in the carrier-grade NAT range 100.64.0.0/10`;
  if (gw && isCgnatIp(gw)) return `your router's external address ${gw} is in the carrier-grade NAT range 100.64.0.0/10 (RFC 6598)`;
  if (gw && pub && isIPv4(gw) && gw !== '0.0.0.0' && gw !== pub) return `your router says its external address is ${gw}, but the internet sees ${pub}: another NAT sits between them`;
  return null;
}

/** Adds the gateway's external address (known only after discovery, say from the port mapper) and re-judges CGNAT. */
export function applyGatewayExternalIp(d: NatDiscovery, gatewayExternalIp: string | null): NatDiscovery {
  const cgnatReason = d.cgnatReason ?? cgnatOf(d.publicIp, [], gatewayExternalIp);
  const described = describeNat({ udp: d.udp, natted: d.natted, mapping: d.mapping, filtering: d.filtering, allocation: d.allocation, ...(d.portDelta !== undefined ? { portDelta: d.portDelta } : {}), cgnat: cgnatReason !== null });
  return { ...d, gatewayExternalIp, cgnat: cgnatReason !== null, cgnatReason, ...described };
}

function finish(f: Facts): NatDiscovery {
  const cgnatReason = cgnatOf(f.mapped?.ip, f.locals, f.gatewayExternalIp);
  const d = describeNat({ udp: f.udp, natted: f.natted, mapping: f.mapping, filtering: f.filtering, allocation: f.alloc.allocation, ...(f.alloc.portDelta !== undefined ? { portDelta: f.alloc.portDelta } : {}), cgnat: cgnatReason !== null });
  return {
    udp: f.udp,
    publicIp: f.mapped?.ip ?? null,
    publicPort: f.mapped?.port ?? null,
    local: f.local,
    natted: f.natted,
    mapping: f.mapping,
    filtering: f.filtering,
    allocation: f.alloc.allocation,
    ...(f.alloc.portDelta !== undefined ? { portDelta: f.alloc.portDelta } : {}),
    probePorts: f.alloc.probePorts,
    cgnat: cgnatReason !== null,
    cgnatReason,
    gatewayExternalIp: f.gatewayExternalIp,
    ipv6: f.ipv6,
    ...d,
    servers: f.servers.map((s) => formatHostPort(s.ip, s.port)),
    rfc5780: f.rfc5780,
    ms: Math.round(performance.now() - f.t0),
  };
}

const SHORT: Record<Exclude<MappingBehaviour, 'unknown'>, string> = {
  'endpoint-independent': 'endpoint-independent', 'address-dependent': 'address-dependent', 'address-and-port-dependent': 'address-and-port-dependent',
};

/** The NAT type, its RFC 4787 name and a plain sentence, from the measured behaviour. */
export function describeNat(f: { udp: 'ok' | 'blocked'; natted: boolean | null; mapping: MappingBehaviour; filtering: FilteringBehaviour; allocation: PortAllocation; portDelta?: number; cgnat: boolean }): { natType: NatType; rfc: string; plain: string } {
  const cg = f.cgnat ? ' It sits behind a carrier-grade NAT (your provider\'s): forwarding a port on your own router cannot make it reachable from the internet.' : '';
  if (f.udp === 'blocked') return { natType: 'udp-blocked', rfc: 'UDP blocked: no STUN answer came back', plain: `No UDP gets out of this network, so hole punching is impossible: Postern connects over TCP (direct, a port mapping, a dial-back) or through the relay.${cg}` };
  const filt = f.filtering === 'unknown' ? 'filtering not measured' : `${f.filtering} filtering`;
  if (f.natted === false) {
    const open = f.filtering !== 'address-dependent' && f.filtering !== 'address-and-port-dependent';
    return open
      ? { natType: 'open', rfc: `no NAT; ${filt}`, plain: `This device has a public address and nothing filters incoming UDP: other devices can connect to it directly.${f.filtering === 'unknown' ? ' (Whether a firewall drops unsolicited packets could not be tested.)' : ''}${cg}` }
      : { natType: 'firewalled', rfc: `no NAT; ${filt} (a stateful firewall)`, plain: `This device has a public address, but a firewall drops packets nobody asked for: others reach it after it has sent to them (hole punching), or where a port is opened.${cg}` };
  }
  if (f.mapping === 'unknown') return { natType: 'unknown', rfc: `mapping not measured; ${filt}`, plain: `This device is behind a NAT whose behaviour could not be measured (the STUN server does not support the RFC 5780 tests, or answers were lost).${cg}` };
  const rfc = `${SHORT[f.mapping]} mapping, ${filt} (RFC 4787)`;
  if (f.mapping === 'endpoint-independent') {
    switch (f.filtering) {
      case 'endpoint-independent': return { natType: 'full-cone', rfc, plain: `The router keeps one public port per local port and lets anyone send to it (full cone): hole punching works with every other NAT.${cg}` };
      case 'address-dependent': return { natType: 'restricted-cone', rfc, plain: `The router keeps one public port per local port and lets in only addresses this device has sent to (restricted cone): hole punching works with almost every other NAT.${cg}` };
      case 'address-and-port-dependent': return { natType: 'port-restricted', rfc, plain: `The router keeps one public port per local port but lets in only the exact address and port this device has sent to (port-restricted cone): hole punching works, except with a random symmetric NAT on the other side.${cg}` };
      default: return { natType: 'unknown', rfc, plain: `The router keeps one public port per local port (a cone NAT); its filtering could not be measured.${cg}` };
    }
  }
  if (f.allocation === 'sequential') {
    const step = f.portDelta ?? 1;
    return { natType: 'symmetric-sequential', rfc: `${rfc}; sequential port allocation (${step > 0 ? '+' : ''}${step})`, plain: `The router takes a new public port for every destination, counting ${step > 0 ? 'up' : 'down'} by ${Math.abs(step)} (symmetric, predictable): hole punching can guess the next port.${cg}` };
  }
  return { natType: 'symmetric', rfc: `${rfc}; ${f.allocation === 'random' ? 'random' : f.allocation} port allocation`, plain: `The router takes a new, unpredictable public port for every destination (symmetric NAT): hole punching works only when the other side's NAT is easy (a cone), otherwise the connection is relayed.${cg}` };
}
