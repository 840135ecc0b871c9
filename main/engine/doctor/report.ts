/**
 * The connection doctor's report, assembled from measured facts: NAT discovery
 * (main/engine/nat), the port mapper's state or the router's answers
 * (main/engine/portmap), the rendezvous's view of us and its reachability check
 * (the dial-back). Pure functions: the caller collects the inputs (collect.ts
 * for a running node, main/cli/doctor.ts for the command line), this turns them
 * into plain data with plain words (shared/domain/doctor.ts), including whether
 * forwarding a port on the router can help at all (not behind a carrier-grade
 * NAT or a second router) and the facts the port-forwarding wizard shows.
 */
import type { NatDiscovery } from '../../../shared/domain/nat.js';
import {
  GATEWAY_PROTOCOL_LABEL, reachStateLabel, reachWords, routerName,
  type DoctorReport, type Finding, type ForwardingVerdict, type GatewayProtocol, type GatewayProtocolView, type MappingView,
  type ReachabilityResult, type ReachState, type RouterView, type WizardFacts,
} from '../../../shared/domain/doctor.js';
import type { PortMapState } from '../portmap/port-mapper.js';
import type { ProbeReport, RouterFacts } from '../portmap/probe.js';
import { applyGatewayExternalIp } from '../nat/discovery.js';
import { isCgnatIp, isPrivateIp } from '../net/addresses.js';

export interface DoctorInputs {
  now: number;
  device: { name: string; shortId: string };
  rendezvous: { url: string | null; connected: boolean; embedded: boolean; observedIp: string | null };
  /** NAT discovery's result (null: not run yet, or it could not). */
  nat: NatDiscovery | null;
  /** Why `nat` is null, when it is. */
  natNote?: string | null;
  /** The port mapper's state (a running node). */
  portmap?: PortMapState | null;
  /** Router facts asked once (the CLI), when there is no port mapper. */
  router?: RouterFacts | null;
  /** Why the router was not asked, when it was not. */
  routerNote?: string | null;
  /** Read without asking the router (default route, source address): fallbacks when it was not asked. */
  gatewayAddress?: string | null;
  lanAddress?: string | null;
  listening: { tcpPort: number; udpPort: number | null; fixed: boolean };
  reachability: ReachabilityResult | null;
}

const PROTOCOLS: GatewayProtocol[] = ['pcp', 'natpmp', 'upnp'];

/** A probe report in plain words: "answered", "no gateway answered NAT-PMP in 750 ms", "answers, but refuses: …". */
export function probeWords(p: Pick<ProbeReport, 'protocol' | 'available' | 'ms' | 'detail' | 'errorCode'>): string {
  const label = GATEWAY_PROTOCOL_LABEL[p.protocol];
  if (p.available && !p.errorCode) return p.protocol === 'upnp' && p.detail.startsWith('answered') ? p.detail : 'answered';
  if (p.available) return `answers, but refuses: ${p.detail}`;
  if (p.errorCode === 'PORTMAP_TIMEOUT') return `no gateway answered ${label} in ${p.ms} ms`;
  if (p.detail === 'not probed') return 'not asked';
  return p.detail;
}

function routerView(facts: RouterFacts | null, gateway: string | null, externalIp: string | null, externalIpKind: RouterView['externalIpKind']): RouterView {
  const u = facts?.upnp ?? null;
  const address = facts?.gateway ?? gateway;
  const presentation = u?.presentationURL && /^https?:\/\//i.test(u.presentationURL) ? u.presentationURL : null;
  const model = u?.modelName ? `${u.modelName}${u.modelNumber && !u.modelName.includes(u.modelNumber) ? ` ${u.modelNumber}` : ''}` : null;
  return {
    address,
    manufacturer: u?.manufacturer || null,
    model: model || null,
    friendlyName: u?.friendlyName || null,
    adminUrl: presentation ?? (address ? `http://${address}/` : null),
    adminUrlGuessed: !presentation,
    externalIp,
    externalIpKind,
  };
}

function mappingViews(state: PortMapState | null | undefined): MappingView[] {
  return (state?.mappings ?? []).map((m) => ({
    protocol: m.protocol, proto: m.proto, externalIp: m.externalIp, externalPort: m.externalPort, internalClient: m.internalClient,
    internalPort: m.internalPort, leaseSec: m.leaseSec, expiresAt: m.expiresAt, nextRenewalAt: m.nextRenewalAt, lastRenewedAt: m.lastRenewedAt,
    lastError: m.lastError?.message ?? null,
  }));
}

const kindOf = (ip: string): RouterView['externalIpKind'] => (isCgnatIp(ip) ? 'cgnat' : isPrivateIp(ip) ? 'private' : 'public');

/** Whether forwarding a port on this router can make this computer reachable, and what else can. */
export function forwardingVerdict(o: {
  cgnat: { detected: boolean; reason: string | null };
  doubleNat: { detected: boolean; reason: string | null };
  natted: boolean | null;
  publicIpv6: string | null;
  reachable: boolean;
  mapped: boolean;
  routerExternalIp: string | null;
}): ForwardingVerdict {
  const ipv6 = o.publicIpv6
    ? { kind: 'ipv6' as const, text: `IPv6 works here (${o.publicIpv6}): a device that also has IPv6 can connect straight to this computer, no forwarding needed.` }
    : { kind: 'ipv6' as const, text: 'IPv6 would avoid NAT altogether: this network has none now; your provider may offer it (often a setting on the router).' };
  const relay = { kind: 'relay' as const, text: 'Use a rendezvous server that relays (Settings → Rendezvous servers; a server started with --relay): it always works, but is slower and the server carries the (encrypted) data.' };
  const otherSide = { kind: 'other-side' as const, text: 'Forward a port on the other computer\'s router instead: one reachable side is enough.' };
  if (o.cgnat.detected) {
    return {
      helps: false,
      why: `Your internet provider puts this network behind a carrier-grade NAT (${o.cgnat.reason ?? 'shared public address'}). A port forwarded on your router ends at the provider's NAT, which you cannot configure.`,
      alternatives: [
        relay, ipv6,
        { kind: 'isp', text: 'Ask your provider for a public IPv4 address (it may be called "public IP", "dedicated IP" or "opt out of CGNAT"; some providers charge for it).' },
        otherSide,
      ],
    };
  }
  if (o.doubleNat.detected) {
    return {
      helps: false,
      why: `Your router is itself behind another router or NAT (${o.doubleNat.reason ?? 'its external address is not public'}). A forward on your router alone does not reach the internet.`,
      alternatives: [
        { kind: 'isp', text: `Forward the port on both: on the outer router to your router's address${o.routerExternalIp ? ` (${o.routerExternalIp})` : ''}, and on your router to this computer. Or put one of the two in bridge mode.` },
        relay, ipv6, otherSide,
      ],
    };
  }
  if (o.reachable) return { helps: true, why: 'Nothing to do: the port is already reachable from the internet.', alternatives: [] };
  if (o.mapped) return { helps: true, why: 'Your router opened the port by itself (UPnP, NAT-PMP or PCP); a manual forward is only needed if the test still fails.', alternatives: [] };
  if (o.natted === false) {
    return { helps: true, why: 'This computer has a public address: there is no NAT to forward through, but a firewall drops connections. Allow the port in the firewall (of this computer or the network).', alternatives: [relay, otherSide] };
  }
  return { helps: true, why: 'Your router can forward the port to this computer: then the other device connects straight here.', alternatives: [relay, otherSide] };
}

function natWords(nat: NatDiscovery): string {
  if (nat.natType === 'open' || nat.natType === 'firewalled') return nat.plain;
  return `${nat.natType} NAT (${nat.rfc}). ${nat.plain}`;
}

/** The whole report from measured facts. */
export function assembleReport(i: DoctorInputs): DoctorReport {
  const pm = i.portmap ?? null;
  const facts = pm?.router ?? i.router ?? null;
  const externalIp = pm?.externalIp ?? facts?.externalIp ?? null;
  const externalIpKind = pm?.externalIpKind ?? facts?.externalIpKind ?? (externalIp ? kindOf(externalIp) : null);
  // Carrier-grade NAT: 100.64/10 seen anywhere. Another NAT with a private or different address: double NAT.
  // (Discovery calls any mismatch CGNAT; here a private outer address is told apart: a modem in front of a router.)
  let nat = i.nat;
  if (nat && externalIpKind === 'cgnat' && !nat.cgnat) nat = applyGatewayExternalIp(nat, externalIp);
  const publicIpv4 = nat?.publicIp ?? (i.rendezvous.observedIp && !isPrivateIp(i.rendezvous.observedIp) && !i.rendezvous.observedIp.startsWith('127.') && !i.rendezvous.observedIp.includes(':') ? i.rendezvous.observedIp : null);
  const publicIpv6 = nat?.ipv6?.publicIp ?? null;

  const cgnat = { detected: !!nat?.cgnat || externalIpKind === 'cgnat', reason: nat?.cgnatReason ?? (externalIpKind === 'cgnat' ? `your router's external address ${externalIp} is in the carrier-grade NAT range 100.64.0.0/10` : null) };
  let doubleNatReason: string | null = null;
  if (!cgnat.detected && externalIp) {
    if (externalIpKind === 'private') doubleNatReason = `the router's external address ${externalIp} is a private address`;
    else if (publicIpv4 && externalIp !== publicIpv4) doubleNatReason = `the router says its external address is ${externalIp}, but the internet sees ${publicIpv4}`;
  }
  const doubleNat = { detected: doubleNatReason !== null, reason: doubleNatReason };

  // The router: the port mapper's probes, or router facts asked once.
  const reports: Partial<Record<GatewayProtocol, ProbeReport>> = {};
  for (const p of pm?.probes ?? []) reports[p.protocol] = p;
  const mapErrors = new Map((pm?.errors ?? []).filter((e) => e.protocol).map((e) => [e.protocol as GatewayProtocol, e.message]));
  const protocols: GatewayProtocolView[] = PROTOCOLS.map((protocol) => {
    const p = reports[protocol];
    if (p) {
      const refused = p.available && !p.errorCode ? mapErrors.get(protocol) : undefined;
      return { protocol, label: GATEWAY_PROTOCOL_LABEL[protocol], answered: p.available, plain: `${probeWords(p)}${refused ? `; mapping refused: ${refused}` : ''}`, ms: p.ms };
    }
    const f = facts?.protocols[protocol];
    if (f) return { protocol, label: GATEWAY_PROTOCOL_LABEL[protocol], answered: f.available, plain: f.available ? 'answered' : f.detail, ms: null };
    return { protocol, label: GATEWAY_PROTOCOL_LABEL[protocol], answered: false, plain: 'not asked', ms: null };
  });
  const asked = !!(pm && pm.status !== 'idle') || !!i.router;
  const gatewayAddress = pm?.gateway ?? facts?.gateway ?? i.gatewayAddress ?? null;
  const lanAddress = pm?.localAddress ?? facts?.localAddress ?? i.lanAddress ?? null;
  const router = routerView(facts, gatewayAddress, externalIp, externalIpKind);
  const answered = protocols.filter((p) => p.answered).map((p) => p.label);
  const gatewayNote = !asked
    ? (i.routerNote ?? 'the router was not asked')
    : pm?.status === 'probing' ? 'asking the router (PCP, NAT-PMP, UPnP)…'
      : answered.length ? `the router answers ${answered.join(', ')}` : 'the router answers none of PCP, NAT-PMP and UPnP';
  const mappings = mappingViews(pm);

  const reach = i.reachability;
  const reachable = !!reach?.ok;
  const forwarding = forwardingVerdict({ cgnat, doubleNat, natted: nat?.natted ?? null, publicIpv6, reachable, mapped: mappings.some((m) => m.proto === 'tcp'), routerExternalIp: externalIp });

  const findings: Finding[] = [];
  const add = (level: Finding['level'], key: string, text: string) => findings.push({ level, key, text });
  const { tcpPort, udpPort, fixed } = i.listening;
  if (reach?.error) add('info', 'reach-error', `The reachability check did not run: ${reach.error.message}`);
  else if (reach?.tcp) add(reach.ok ? 'ok' : 'warn', reach.ok ? 'reachable' : 'not-reachable', `TCP port ${reach.tcp.port} ${reachStateLabel(reach.tcp.state)}: ${reach.tcp.plain}`);
  else add('info', 'reach-unknown', 'Reachability not checked yet: run the check to see whether other devices can connect here.');
  if (reach?.udp) add(reach.udp.state === 'reachable' ? 'ok' : 'info', `udp-${reach.udp.state}`, `UDP port ${reach.udp.port} ${reachStateLabel(reach.udp.state)}: ${reach.udp.plain}`);
  if (nat?.udp === 'blocked') add('bad', 'udp-blocked', 'UDP does not get out of this network: no STUN answer came back. UDP hole punching cannot work; TCP still does.');
  else if (nat) add('ok', 'udp-ok', 'UDP gets out.');
  if (nat && nat.udp === 'ok') add(nat.natType === 'symmetric' ? 'warn' : 'info', `nat-${nat.natType}`, natWords(nat));
  if (cgnat.detected) add('bad', 'cgnat', `Carrier-grade NAT: ${cgnat.reason}. Forwarding a port on your router cannot help.`);
  if (doubleNat.detected) add('bad', 'double-nat', `Double NAT: ${doubleNat.reason}.`);
  if (asked && pm?.status !== 'probing') add(answered.length ? 'info' : 'warn', 'gateway', `Router${routerName(router) ? ` (${routerName(router)})` : ''}: ${gatewayNote}.`);
  for (const m of mappings) add('ok', `mapping-${m.proto}`, `${GATEWAY_PROTOCOL_LABEL[m.protocol]} keeps ${m.proto.toUpperCase()} ${m.externalIp ?? '?'}:${m.externalPort} open for this computer (port ${m.internalPort})${m.leaseSec ? `, lease ${Math.round(m.leaseSec / 60)} min, renewed while Postern runs` : ', until Postern exits'}.`);
  if (!fixed && tcpPort) add('warn', 'port-random', `The listening port (${tcpPort}) is picked at random at every start: to forward it, set a fixed port in Settings.`);
  if (publicIpv6) add('ok', 'ipv6', `IPv6: ${publicIpv6}${nat?.ipv6?.translated ? ' (translated by the network!)' : ''}.`);
  const order: Record<Finding['level'], number> = { bad: 0, warn: 1, info: 2, ok: 3 };
  findings.sort((a, b) => order[a.level] - order[b.level]);

  const mappedTcp = mappings.find((m) => m.proto === 'tcp');
  const summary = reachable && reach?.tcp
    ? `Other devices can connect straight to this computer: TCP port ${reach.tcp.port} is open at ${reach.checkedIp ?? publicIpv4 ?? 'its public address'}.`
    : cgnat.detected ? 'This computer is behind a carrier-grade NAT: other devices cannot connect to it directly. Postern relies on hole punching, the other side being reachable, or a relay.'
      : doubleNat.detected ? 'This computer is behind two routers (double NAT): a forward on one router is not enough to be reached from outside.'
        : mappedTcp ? `Your router opened port ${mappedTcp.externalPort} by ${GATEWAY_PROTOCOL_LABEL[mappedTcp.protocol]}: other devices can connect here directly.`
          : nat?.natted === false ? 'This computer has a public address.'
            : nat?.udp === 'blocked' ? 'UDP is blocked here and nothing lets connections in: Postern can reach others only if they are reachable, by a TCP hole punch, or through a relay.'
              : nat ? `This computer is behind a ${nat.natType} NAT and cannot be reached from outside${reach ? '' : ' (as far as is known)'}: Postern relies on hole punching or the other side being reachable. Forwarding a port makes it reachable.`
                : 'Not measured yet: NAT discovery has not finished.';

  return {
    generatedAt: i.now,
    device: i.device,
    rendezvous: i.rendezvous,
    publicIpv4,
    publicIpv6,
    udp: nat?.udp ?? 'unknown',
    nat: nat ? {
      natType: nat.natType, rfc: nat.rfc, plain: nat.plain, mapping: nat.mapping, filtering: nat.filtering, allocation: nat.allocation,
      portDelta: nat.portDelta ?? null, servers: nat.servers, rfc5780: nat.rfc5780, ms: nat.ms,
    } : null,
    natNote: nat ? null : (i.natNote ?? 'NAT discovery has not finished yet.'),
    cgnat,
    doubleNat,
    gateway: { asked, note: gatewayNote, lanAddress, router, protocols, status: pm?.status ?? (i.router ? 'asked' : 'off') },
    mappings,
    listening: { tcpPort, udpPort, fixed },
    reachability: reach,
    forwarding,
    summary,
    findings,
  };
}

/** The port-forwarding wizard's facts, from the report. */
export function wizardFacts(r: DoctorReport): WizardFacts {
  return {
    lanAddress: r.gateway.lanAddress,
    gateway: r.gateway.router.address,
    router: r.gateway.router,
    publicIp: r.publicIpv4 ?? r.reachability?.checkedIp ?? null,
    tcpPort: r.listening.tcpPort,
    udpPort: r.listening.udpPort,
    fixedPort: r.listening.fixed,
    suggestedPort: r.listening.tcpPort,
    forwarding: r.forwarding,
    reachability: r.reachability,
    mappedByRouter: r.mappings.some((m) => m.proto === 'tcp'),
  };
}

/** The rendezvous's `reach-result`, as the doctor reports it. */
export function reachabilityFromResult(
  raw: { observedIp: string; from?: string; tcp?: ReachState; udp?: ReachState; tcpMs?: number; udpMs?: number; tcpDetail?: string; udpDetail?: string },
  ports: { tcpPort?: number | null; udpPort?: number | null },
  now: number,
): ReachabilityResult {
  const probe = (proto: 'tcp' | 'udp', state: ReachState | undefined, port: number | null | undefined, ms: number | undefined, detail: string | undefined) =>
    state && port ? { port, state, ms: ms ?? null, detail: detail ?? '', plain: reachWords(proto, state, raw.observedIp, port) } : null;
  const tcp = probe('tcp', raw.tcp, ports.tcpPort, raw.tcpMs, raw.tcpDetail);
  const udp = probe('udp', raw.udp, ports.udpPort, raw.udpMs, raw.udpDetail);
  return { at: now, checkedIp: raw.observedIp, from: raw.from ?? null, tcp, udp, ok: tcp?.state === 'reachable', error: null };
}

/** A check that could not run, with the reason in words. */
export function reachabilityError(code: string, message: string, now: number): ReachabilityResult {
  const words = code === 'RATE_LIMITED' ? `the rendezvous allows only a few checks a minute: wait a moment and try again (${message})`
    : code === 'REACH_OFF' ? 'this rendezvous server does not run reachability checks'
      : code === 'RENDEZVOUS_DISCONNECTED' ? 'not connected to the rendezvous server'
        : code === 'RENDEZVOUS_TIMEOUT' ? 'the rendezvous server did not answer in time'
          : message;
  return { at: now, checkedIp: null, from: null, tcp: null, udp: null, ok: false, error: { code, message: words } };
}
