/**
 * `postern doctor [--json]`: what this network allows, measured. It asks the
 * rendezvous for its STUN servers (main/wire/signaling.ts `registered`), runs
 * NAT discovery on a UDP socket like the node's (main/engine/nat: RFC 8489
 * STUN, RFC 5780 behaviour tests, RFC 4787 names) and, in parallel, asks the
 * router what it knows (main/engine/portmap, when present), then prints the
 * facts: public IPv4/IPv6, whether UDP and TCP get out, the NAT's behaviour in
 * plain words with its RFC name, CGNAT or double NAT.
 *
 * Then the reachability check: it listens on the port peers would dial (the
 * listening port in settings, or --port) on TCP and UDP, and asks the
 * rendezvous to dial that port back at the address it observes (with a
 * throwaway identity, never the device's, which would replace the app's
 * registration). If the app already listens on that port, the check tests the
 * app's own listener.
 *
 * With --json it prints one `{"event":"doctor", …}` line: the measured facts,
 * `gateway` (router facts from main/engine/portmap, null with --no-gateway),
 * `reachability` (shared/domain/doctor.ts ReachabilityResult, null when not
 * checked, with `reachabilityNote`), and the doctor's verdicts as the app shows
 * them (`summary`, `forwarding`, `findings`; main/engine/doctor/report.ts).
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { homedir } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import type { NatDiscovery } from '../../shared/domain/nat.js';
import { UdpSocket } from '../engine/net/udp-socket.js';
import { formatHostPort } from '../engine/net/addresses.js';
import { applyGatewayExternalIp, discoverNat } from '../engine/nat/discovery.js';
import { stunOverTcp, type HostPort } from '../engine/nat/stun-client.js';
import { stunServersFromRendezvous } from '../engine/nat/rendezvous-stun.js';
import { errorCode, errorMessage } from '../engine/errors.js';
import { generateIdentity } from '../engine/identity/identity.js';
import { RendezvousClient } from '../engine/signaling/rendezvous-client.js';
import { answerReachProbes } from '../engine/portmap/integrate.js';
import type { RouterFacts } from '../engine/portmap/probe.js';
import { reachStateLabel, type ReachabilityResult } from '../../shared/domain/doctor.js';
import { assembleReport, reachabilityError, reachabilityFromResult } from '../engine/doctor/report.js';
import { createOutput } from './output.js';

const USAGE = `Usage: postern doctor [--rendezvous URL] [--stun HOST:PORT]... [--json]
  --rendezvous URL        the rendezvous to test against (default: the one in settings); its STUN server is used
  --stun HOST:PORT        a STUN server to use as well (or instead): repeatable
  --gateway-external IP   the router's external address, if you know it (normally asked from the router)
  --no-gateway            do not ask the router (UPnP, NAT-PMP, PCP)
  --port N                the port to check from outside, TCP and UDP (default: the listening port in settings)
  --no-reachability       do not ask the rendezvous to dial back
  --data DIR              where settings live (default: $POSTERN_HOME or ~/.local/share/postern)
  --json                  one JSON line: {"event":"doctor", …}
`;
const DEFAULT_STUN_PORT = 3478;

/** Router facts as main/engine/portmap's routerFacts() reports them (only what the doctor reads). */
interface GatewayFacts {
  gateway: string | null;
  externalIp: string | null;
  externalIpKind: 'public' | 'cgnat' | 'private' | null;
  protocols: Record<string, { available: boolean; detail: string }>;
  upnp: { friendlyName: string; manufacturer: string; modelName: string } | null;
}

function parseHostPort(text: string, defaultPort: number): HostPort | null {
  const m = /^\[?([0-9a-fA-F.:]+?)\]?(?::(\d+))?$/.exec(text);
  if (!m || !isIP(m[1] as string)) return null;
  const port = m[2] ? Number(m[2]) : defaultPort;
  return port > 0 && port < 65536 ? { ip: m[1] as string, port } : null;
}

async function configured(dataDir: string): Promise<{ rendezvous?: string; listenPort?: number }> {
  try {
    const s = JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as { rendezvous?: unknown; listenPort?: unknown };
    return {
      ...(Array.isArray(s.rendezvous) && typeof s.rendezvous[0] === 'string' ? { rendezvous: s.rendezvous[0] } : {}),
      ...(typeof s.listenPort === 'number' && Number.isInteger(s.listenPort) ? { listenPort: s.listenPort } : {}),
    };
  } catch {
    return {};
  }
}

/** Listen on TCP `port` (accept and close), or null when it is taken (then the program holding it answers the check). */
function listenTcp(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer((s) => s.destroy());
    server.once('error', () => resolve(null));
    server.listen(port, '0.0.0.0', () => resolve(server));
  });
}

/** The rendezvous dials back TCP `tcpPort` and probes UDP `udpPort` at the address it observes for us. */
async function checkReachability(url: string, tcpPort: number, udpPort: number | null): Promise<ReachabilityResult> {
  const client = new RendezvousClient({ url, identity: generateIdentity(), name: 'postern doctor', endpoint: { tcpPort: null, candidates: [] } });
  try {
    await client.start();
    const raw = await client.checkReachability({ tcpPort, ...(udpPort ? { udpPort } : {}) }, 12_000);
    return reachabilityFromResult(raw, { tcpPort, udpPort }, Date.now());
  } catch (err) {
    return reachabilityError(errorCode(err, 'REACH_FAILED'), errorMessage(err), Date.now());
  } finally {
    client.close();
  }
}

/** main/engine/portmap's router facts, when that module is there (it is a colleague's, added separately). */
async function gatewayFacts(): Promise<{ facts: GatewayFacts | null; note: string }> {
  const path = '../engine/portmap/probe.js';
  try {
    const mod = await import(path) as { routerFacts?: (o?: object) => Promise<GatewayFacts> };
    if (typeof mod.routerFacts !== 'function') return { facts: null, note: 'router check not available in this build' };
    return { facts: await mod.routerFacts({ ssdpTimeoutMs: 1000 }), note: 'asked the router (PCP, NAT-PMP, UPnP)' };
  } catch (err) {
    return { facts: null, note: `router check not available: ${errorMessage(err)}` };
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      rendezvous: { type: 'string', multiple: true }, stun: { type: 'string', multiple: true }, json: { type: 'boolean', default: false },
      'gateway-external': { type: 'string' }, 'no-gateway': { type: 'boolean', default: false }, data: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
      port: { type: 'string' }, 'no-reachability': { type: 'boolean', default: false },
    },
  });
  const out = createOutput(v.json);
  if (v.help) { process.stdout.write(USAGE); return 0; }
  const started = performance.now();
  const dataDir = resolve(v.data ?? process.env.POSTERN_HOME ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'postern'));
  const settings = await configured(dataDir);
  const rendezvous = v.rendezvous?.[0] ?? (v.stun?.length ? undefined : settings.rendezvous);
  const portArg = v.port === undefined ? undefined : Number(v.port);
  if (portArg !== undefined && (!Number.isInteger(portArg) || portArg < 0 || portArg > 65535)) { out.error('BAD_ARGUMENT', `--port takes a port from 0 to 65535, not "${v.port}".`); return 2; }
  const wantedPort = portArg ?? settings.listenPort ?? 0;
  const extra: HostPort[] = [];
  for (const s of v.stun ?? []) {
    const hp = parseHostPort(s, DEFAULT_STUN_PORT);
    if (!hp) { out.error('BAD_ARGUMENT', `--stun takes IP:PORT (for example 85.10.0.10:3478), not "${s}".`); return 2; }
    extra.push(hp);
  }
  const gwGiven = v['gateway-external'];
  if (gwGiven !== undefined && !isIP(gwGiven)) { out.error('BAD_ARGUMENT', `--gateway-external takes an IP address, not "${gwGiven}".`); return 2; }
  if (!rendezvous && !extra.length) {
    out.error('NO_RENDEZVOUS', 'The doctor needs a rendezvous server to test against: postern doctor --rendezvous ws://HOST:PORT (or set one in the settings), or a STUN server: --stun IP:PORT.');
    return 2;
  }

  // Ask the router while the rendezvous answers: both are independent.
  const gatewayP = v['no-gateway'] ? Promise.resolve({ facts: null, note: 'not asked (--no-gateway)' }) : gatewayFacts();
  let servers = [...extra];
  let tcpObserved: HostPort | null = null;
  let rendezvousNote: string | null = null;
  let rendezvousOk = false;
  if (rendezvous) {
    try {
      const info = await stunServersFromRendezvous(rendezvous, 4000);
      rendezvousOk = true;
      tcpObserved = info.observed;
      const fallback = info.stun.length ? [] : fallbackStun(rendezvous);
      if (!info.stun.length) rendezvousNote = 'the rendezvous announced no STUN server; trying its address on port 3478';
      servers = [...info.stun, ...fallback, ...extra];
    } catch (err) {
      rendezvousNote = errorMessage(err);
      if (!extra.length) {
        out.error('RENDEZVOUS_UNREACHABLE', `${rendezvousNote}. Without it the doctor cannot measure anything: check the address, or that TCP gets out of this network.`);
        return 1;
      }
    }
  }

  // Like the node: one UDP socket, on the listening port's number when it is free.
  let socket = new UdpSocket();
  let udpOwn = false;
  try {
    socket.bind(wantedPort);
    udpOwn = true;
  } catch {
    await socket.close();
    socket = new UdpSocket();
    socket.bind(0);
  }
  let nat: NatDiscovery;
  let tcp: Awaited<ReturnType<typeof stunOverTcp>>;
  let reachability: ReachabilityResult | null = null;
  let reachabilityNote: string;
  let listener: Server | null = null;
  try {
    const primary = servers.find((s) => isIP(s.ip) === 4) ?? servers[0];
    [nat, tcp] = await Promise.all([
      discoverNat({ socket, servers, ...(gwGiven ? { gatewayExternalIp: gwGiven } : {}) }),
      primary ? stunOverTcp(primary, 2500) : Promise.resolve(null),
    ]);
    // The dial-back: after discovery, so the UDP socket has the mappings a running node's would have.
    if (v['no-reachability']) reachabilityNote = 'not checked (--no-reachability)';
    else if (!rendezvous || !rendezvousOk) reachabilityNote = `not checked: it needs a rendezvous server${rendezvous ? ' that answers' : ' (--rendezvous)'}`;
    else {
      const tcpPort = wantedPort || socket.port;
      listener = await listenTcp(tcpPort);
      answerReachProbes(socket);
      const udpPort = udpOwn ? socket.port : wantedPort; // not ours: the program holding the port answers
      reachability = await checkReachability(rendezvous, tcpPort, udpPort);
      reachabilityNote = `${listener ? 'listened on' : 'port in use by another program (Postern itself, most likely): checked'} TCP ${tcpPort} and UDP ${udpPort}${wantedPort ? '' : ' (no fixed port in settings: a random one, for this check only)'}`;
    }
  } catch (err) {
    out.error('DISCOVERY_FAILED', errorMessage(err));
    return 1;
  } finally {
    listener?.close();
    await socket.close();
  }
  const gateway = await gatewayP;
  const gwExternal = gwGiven ?? gateway.facts?.externalIp ?? null;
  if (gwExternal && !gwGiven) nat = applyGatewayExternalIp(nat, gwExternal);
  const doubleNat = gateway.facts?.externalIpKind === 'private' || (!!gwExternal && !!nat.publicIp && gwExternal !== nat.publicIp && !nat.cgnat);
  const tcpFacts = tcp ? { ok: true, publicIp: tcp.mapped.ip, publicPort: tcp.mapped.port } : tcpObserved ? { ok: true, publicIp: tcpObserved.ip, publicPort: tcpObserved.port } : { ok: false, publicIp: null, publicPort: null };
  const report = {
    rendezvous: rendezvous ?? null,
    rendezvousNote,
    stunServers: servers.map((s) => formatHostPort(s.ip, s.port)),
    publicIpv4: nat.publicIp,
    publicIpv6: nat.ipv6?.publicIp ?? null,
    udp: nat.udp,
    tcp: tcpFacts,
    natType: nat.natType,
    rfc: nat.rfc,
    plain: nat.plain,
    cgnat: nat.cgnat,
    doubleNat,
    nat,
    // Filled from main/engine/portmap (routerFacts) when that module is present; null otherwise.
    gateway: gateway.facts,
    gatewayNote: gateway.note,
    // The rendezvous dialing back on TCP and UDP (RendezvousClient.checkReachability).
    reachability,
    reachabilityNote,
    ms: Math.round(performance.now() - started),
  };
  // The same verdicts as the app's doctor (main/engine/doctor/report.ts).
  const verdict = assembleReport({
    now: Date.now(), device: { name: '', shortId: '' },
    rendezvous: { url: rendezvous ?? null, connected: rendezvousOk, embedded: false, observedIp: tcpObserved?.ip ?? null },
    nat, router: gateway.facts as RouterFacts | null, routerNote: gateway.note,
    listening: { tcpPort: wantedPort, udpPort: wantedPort || null, fixed: wantedPort !== 0 }, reachability,
  });
  const full = { ...report, summary: verdict.summary, forwarding: verdict.forwarding, findings: verdict.findings };
  out.event('doctor', full, human(full, nat, gateway.facts));
  return 0;
}

function fallbackStun(url: string): HostPort[] {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return isIP(host) ? [{ ip: host, port: DEFAULT_STUN_PORT }] : [];
  } catch {
    return [];
  }
}

interface HumanFacts {
  rendezvous: string | null; rendezvousNote: string | null; tcp: { ok: boolean; publicIp: string | null; publicPort: number | null }; doubleNat: boolean; gatewayNote: string; ms: number;
  reachability: ReachabilityResult | null; reachabilityNote: string; summary: string; forwarding: { helps: boolean; why: string; alternatives: { text: string }[] };
}

function human(r: HumanFacts, nat: NatDiscovery, gw: GatewayFacts | null): string {
  const rows: [string, string][] = [];
  const ports = nat.allocation === 'sequential' ? `a new port per destination, in steps of ${nat.portDelta ?? 1}` : nat.allocation === 'preserving' ? 'kept (the public port is the local port)' : nat.allocation === 'random' ? 'a new random port per destination' : 'not measured';
  rows.push(['Public IPv4', nat.publicIp ? `${nat.publicIp} (UDP port ${nat.publicPort}${nat.local ? `, local ${formatHostPort(nat.local.ip, nat.local.port)}` : ''})` : 'unknown (no UDP answer)']);
  rows.push(['Public IPv6', nat.ipv6 ? (nat.ipv6.publicIp ? `${nat.ipv6.publicIp}${nat.ipv6.translated ? ' (translated!)' : ' (no NAT)'}` : `${nat.ipv6.localIp}, but no UDP answer over IPv6`) : 'none (no global IPv6 address here, or the server has none)']);
  rows.push(['UDP', nat.udp === 'ok' ? 'gets out' : 'BLOCKED: no STUN answer came back']);
  rows.push(['TCP', r.tcp.ok ? `gets out (seen as ${r.tcp.publicIp}:${r.tcp.publicPort})` : 'no answer from the STUN server over TCP']);
  rows.push(['NAT', `${nat.natType} — ${nat.rfc}`]);
  rows.push(['', nat.plain]);
  if (nat.udp === 'ok') rows.push(['Ports', ports]);
  rows.push(['CGNAT', nat.cgnat ? `yes: ${nat.cgnatReason}` : 'not detected']);
  rows.push(['Double NAT', r.doubleNat ? `yes: the router's external address is ${gw?.externalIp ?? nat.gatewayExternalIp}, the internet sees ${nat.publicIp}` : 'not detected']);
  if (gw) {
    const speaks = Object.entries(gw.protocols).filter(([, p]) => p.available).map(([k]) => k.toUpperCase());
    const model = gw.upnp ? (gw.upnp.modelName.startsWith(gw.upnp.manufacturer) ? gw.upnp.modelName : `${gw.upnp.manufacturer} ${gw.upnp.modelName}`).trim() : '';
    rows.push(['Router', `${model ? `${model} ` : ''}at ${gw.gateway ?? '?'}; port mapping: ${speaks.length ? speaks.join(', ') : 'none answered'}${gw.externalIp ? `; says its external address is ${gw.externalIp}` : ''}`]);
  } else {
    rows.push(['Router', r.gatewayNote]);
  }
  const reach = r.reachability;
  if (!reach) rows.push(['Reachable', r.reachabilityNote]);
  else if (reach.error) rows.push(['Reachable', `could not check: ${reach.error.message}`]);
  else {
    if (reach.tcp) rows.push(['Reachable', `TCP ${reach.tcp.port}: ${reachStateLabel(reach.tcp.state)} — ${reach.tcp.plain}`]);
    if (reach.udp) rows.push([reach.tcp ? '' : 'Reachable', `UDP ${reach.udp.port}: ${reachStateLabel(reach.udp.state)} — ${reach.udp.plain}`]);
    rows.push(['', `(${r.reachabilityNote}; checked ${reach.checkedIp ?? '?'}${reach.from ? ` from ${reach.from}` : ''})`]);
  }
  rows.push(['Forwarding', `${r.forwarding.helps ? 'can help' : 'CANNOT help'}: ${r.forwarding.why}`]);
  if (!r.forwarding.helps) for (const a of r.forwarding.alternatives) rows.push(['', `- ${a.text}`]);
  rows.push(['Verdict', r.summary]);
  const head = `Postern doctor${r.rendezvous ? ` — rendezvous ${r.rendezvous}` : ''} (STUN ${nat.servers.join(', ')}${nat.rfc5780 ? ', RFC 5780' : ''})`;
  const note = r.rendezvousNote ? `\n  Note: ${r.rendezvousNote}` : '';
  return `${head}${note}\n${rows.map(([k, text]) => `  ${k.padEnd(12)} ${text}`).join('\n')}\n  Took ${(r.ms / 1000).toFixed(1)} s (NAT discovery ${(nat.ms / 1000).toFixed(1)} s).`;
}
