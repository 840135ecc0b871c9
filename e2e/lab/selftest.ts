/**
 * The lab proves itself: for each site, probes run on its hosts against the
 * server's reflector (two addresses x two ports, RFC 5780 style) and the
 * results are held against expectations.ts. Checks: RFC 4787 mapping and
 * filtering, the address the internet sees, TCP reachability, NAT-PMP/PCP/UPnP
 * maps that the server can really reach, hairpinning, IPv6 (no NAT, stateful
 * firewall), the UDP mapping timeout, the access link's latency/rate/loss, and
 * the internet router's short-TTL drop.
 */
import { AGENT, Lab, REFLECT_BULK } from './lab.js';
import { waitForLine } from './exec.js';
import { classifyFiltering, classifyMapping, expectations, type Expected } from './expectations.js';
import type { SiteSpec } from './spec.js';

/** One topology with a site for every behaviour, modifier and gateway (used by the tests and `cli.ts selftest`). */
export const SELFTEST_SITES: SiteSpec[] = [
  { name: 'public', nat: 'public', ipv6: true },
  { name: 'full-cone', nat: 'full-cone', hosts: 2 },
  { name: 'restricted-cone', nat: 'restricted-cone' },
  { name: 'port-restricted', nat: 'port-restricted', hosts: 2, ipv6: true, gateway: ['upnp', 'natpmp', 'pcp'] },
  { name: 'symmetric', nat: 'symmetric', hosts: 2, hairpin: false },
  { name: 'sequential', nat: 'symmetric-sequential' },
  { name: 'cgnat', nat: 'port-restricted', cgnat: true, ipv6: true, gateway: ['upnp', 'natpmp'] },
  { name: 'cgnat-full-cone', nat: 'full-cone', cgnat: true },
  { name: 'udp-blocked', nat: 'port-restricted', udpBlocked: true },
  { name: 'tcp-443-only', nat: 'port-restricted', tcp443Only: true },
  { name: 'natpmp-only', nat: 'full-cone', gateway: ['natpmp'] },
  { name: 'pcp-only', nat: 'restricted-cone', gateway: ['pcp'] },
  { name: 'short-timeout', nat: 'full-cone', udpTimeoutSec: 3 },
  { name: 'shaped', nat: 'port-restricted', latencyMs: 15, rateMbit: 20, lossPct: 5 },
];

export interface Check {
  site: string;
  name: string;
  ok: boolean;
  /** What was expected and what was seen, in words. */
  detail: string;
}

type Json = Record<string, unknown>;

function check(site: string, name: string, ok: boolean, detail: string): Check {
  return { site, name, ok, detail };
}

async function batch(lab: Lab, host: string, plan: string[][], timeoutMs = 60_000): Promise<Json[]> {
  const r = await lab.execNode(host, AGENT, ['batch', '--plan', JSON.stringify(plan)], { timeoutMs });
  if (r.code !== 0) throw new Error(`agent on ${host} failed (${r.code}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Json[];
}

const portOf = (ep: string): number => Number(ep.slice(ep.lastIndexOf(':') + 1));
const addrOf = (ep: string): string => ep.slice(0, ep.lastIndexOf(':')).replace(/^\[|\]$/g, '');

/** Runs every check that applies to one site. */
export async function selfTestSite(lab: Lab, siteName: string): Promise<Check[]> {
  const site = lab.site(siteName);
  const exp: Expected = expectations(site.spec);
  const host = site.hosts[0];
  if (!host) throw new Error(`site ${siteName} has no host`);
  const [s1, s2] = lab.serverAddresses;
  const [v1, v2] = lab.serverAddresses6;
  const seenAddress = exp.seenAs === 'host' ? host.v4 : site.public4;
  const udp = exp.mapping !== 'blocked';
  const out: Check[] = [];
  const add = (name: string, ok: boolean, detail: string): void => { out.push(check(siteName, name, ok, detail)); };

  const plan: string[][] = [
    ['mapping', '--targets', udp ? `${s1}:7000,${s1}:7001,${s2}:7000` : `${s1}:7000`],
    ['tcp', '--target', `${s2}:7000`],
    ['tcp', '--target', `${s2}:443`],
  ];
  if (udp) plan.push(['filtering', '--target', `${s1}:7000`, '--alts', `${s1}:7001,${s2}:7000,${s2}:7001`]);
  const v6 = exp.ipv6 !== 'none' && udp;
  if (v6) {
    plan.push(['mapping', '--targets', `[${v1}]:7000`]);
    plan.push(['filtering', '--target', `[${v1}]:7000`, '--alts', `[${v2}]:7000`]);
  }
  const gws = (['natpmp', 'pcp', 'upnp'] as const).filter((g) => exp.gateways[g] !== 'unchecked');
  for (const g of gws) plan.push([g, '--gw', site.addresses.gateway4, '--reflector', `${s1}:7000`, '--from', `${s2}:7001`]);
  const shape = {
    latencyMs: site.spec.latencyMs ?? lab.options.latencyMs ?? 0,
    rateMbit: site.spec.rateMbit ?? lab.options.rateMbit ?? 0,
    lossPct: site.spec.lossPct ?? lab.options.lossPct ?? 0,
  };
  if (udp && (shape.latencyMs > 0 || shape.lossPct > 0)) {
    plan.push(['rtt', '--target', `${s1}:7000`, '--count', shape.lossPct > 0 ? '400' : '20', '--interval', '5']);
  }
  if (exp.tcpAnyPort && shape.rateMbit > 0) {
    plan.push(['bulk', '--target', `${s2}:${REFLECT_BULK}`, '--bytes', String(Math.round((shape.rateMbit * 1e6) / 8 * 1.5))]);
  }

  const [hairpin, results] = await Promise.all([
    exp.hairpin === 'unchecked' ? Promise.resolve([]) : hairpinCheck(lab, siteName, exp.hairpin === 'works'),
    batch(lab, host.name, plan),
  ]);
  const next = (): Json => results.shift() ?? {};

  // Mapping (RFC 4787 4.1) and the address the internet sees.
  const m = next();
  const mapped = Object.values((m.mapped ?? {}) as Record<string, string | null>);
  const kind = classifyMapping(String(m.local), mapped, host.v4);
  add('mapping', kind === exp.mapping, `expected ${exp.mapping}, saw ${kind} (${String(m.local)} -> ${mapped.join(', ')})`);
  if (udp && mapped[0]) {
    add('public address', addrOf(mapped[0]) === seenAddress, `expected the server to see ${seenAddress}, saw ${mapped[0]}`);
  }
  // TCP.
  const tAny = next();
  const t443 = next();
  add('tcp any port', tAny.connected === exp.tcpAnyPort, `expected ${exp.tcpAnyPort ? '' : 'no '}TCP to ${s2}:7000, saw ${JSON.stringify(tAny)}`);
  add('tcp 443', t443.connected === exp.tcp443, `expected TCP to ${s2}:443, saw ${JSON.stringify(t443)}`);
  if (t443.connected === true) {
    add('tcp public address', addrOf(String(t443.observed)) === seenAddress, `expected ${seenAddress}, saw ${String(t443.observed)}`);
  }
  // Filtering (RFC 4787 5).
  if (udp) {
    const f = next();
    const arrived = (f.arrived ?? {}) as Record<string, boolean>;
    const fk = classifyFiltering((f.mapped as string | null) ?? null, arrived[`${s1}:7001`] === true,
      arrived[`${s2}:7000`] === true, arrived[`${s2}:7001`] === true);
    add('filtering', fk === exp.filtering, `expected ${exp.filtering}, saw ${fk} (${JSON.stringify(arrived)})`);
  }
  // IPv6: no NAT, stateful firewall.
  if (v6) {
    const m6 = Object.values((next().mapped ?? {}) as Record<string, string | null>)[0] ?? null;
    add('ipv6 no nat', m6 !== null && addrOf(m6) === host.v6, `expected the server to see ${host.v6 ?? '?'}, saw ${m6}`);
    const f6 = (next().arrived ?? {}) as Record<string, boolean>;
    const inbound = f6[`[${v2}]:7000`] === true;
    add('ipv6 firewall', inbound === (exp.ipv6 === 'open'),
      `expected unsolicited IPv6 from another server address to be ${exp.ipv6 === 'open' ? 'let in' : 'dropped'}, it was ${inbound ? 'let in' : 'dropped'}`);
  }
  // Gateways: the map must exist and the server must reach it unsolicited.
  for (const g of gws) {
    const r = next();
    const want = exp.gateways[g];
    const works = r.ok === true && r.reachable === true && r.externalAddress === site.wan4;
    add(`gateway ${g}`, want === 'works' ? works : r.ok !== true,
      `expected ${want}, saw ${JSON.stringify(r)}`);
  }
  // Link shape.
  if (udp && (shape.latencyMs > 0 || shape.lossPct > 0)) {
    const r = next();
    if (shape.latencyMs > 0) {
      const want = 2 * shape.latencyMs;
      const min = Number(r.minMs);
      add('latency', min >= want * 0.95 && min <= want + 5, `expected round trip to the server ≈ ${want} ms, min ${min.toFixed(1)} ms, median ${Number(r.medianMs).toFixed(1)} ms`);
    }
    if (shape.lossPct > 0) {
      const p = shape.lossPct / 100;
      const wantLoss = 1 - (1 - p) * (1 - p); // the request and the answer both cross the link
      const loss = 1 - Number(r.received) / Number(r.sent);
      add('loss', Math.abs(loss - wantLoss) <= Math.max(0.05, wantLoss * 0.5), `expected round-trip loss ≈ ${(wantLoss * 100).toFixed(1)}%, saw ${(loss * 100).toFixed(1)}% of ${String(r.sent)}`);
    }
  }
  if (exp.tcpAnyPort && shape.rateMbit > 0) {
    const r = next();
    const mbit = Number(r.mbit);
    add('rate', mbit >= shape.rateMbit * 0.7 && mbit <= shape.rateMbit * 1.15, `expected ≈ ${shape.rateMbit} Mbit/s, saw ${mbit} Mbit/s (${JSON.stringify(r)})`);
  }
  out.push(...hairpin);
  if (site.spec.udpTimeoutSec !== undefined) out.push(...await timeoutCheck(lab, siteName));
  return out;
}

/** Host 2 learns its public mapping; host 1 sends to it; it must (or must not) arrive, from a public source. */
async function hairpinCheck(lab: Lab, siteName: string, works: boolean): Promise<Check[]> {
  const site = lab.site(siteName);
  const [h1, h2] = site.hosts;
  if (!h1 || !h2) return [];
  const [s1] = lab.serverAddresses;
  const listener = lab.spawnNode(h2.name, AGENT, ['listen', '--target', `${s1}:7000`, '--ms', '2500']);
  const lines: string[] = [];
  const first = await waitForLine(listener, (l) => { lines.push(l); return l.includes('"mapped"'); }, { timeoutMs: 10_000, what: 'hairpin listener' });
  const mapped = (JSON.parse(first) as Json).mapped;
  if (typeof mapped !== 'string') return [check(siteName, 'hairpin', false, `listener on ${h2.name} got no mapping`)];
  const exited = new Promise((r) => listener.once('exit', r));
  listener.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const sent = await lab.execNode(h1.name, AGENT, ['send', '--to', mapped, '--count', '3', '--wait', '900']);
  await exited;
  const got = lines.map((l) => JSON.parse(l) as Json).filter((l) => l.body === 'hairpin?');
  const from = got[0]?.from;
  const publicSource = typeof from === 'string' && addrOf(from) === site.wan4;
  const answered = String(sent.stdout).includes('hairpin!');
  return [check(siteName, 'hairpin', works ? got.length > 0 && publicSource && answered : got.length === 0,
    works
      ? `expected ${h1.name} -> ${mapped} to reach ${h2.name} from ${site.wan4}:* and be answered; arrived ${got.length}x from ${String(from)}, answered: ${answered}`
      : `expected ${h1.name} -> ${mapped} to be dropped; arrived ${got.length}x`)];
}

/** The UDP mapping must be gone from the router's conntrack table about udpTimeoutSec after the last packet. */
async function timeoutCheck(lab: Lab, siteName: string): Promise<Check[]> {
  const site = lab.site(siteName);
  const T = site.spec.udpTimeoutSec ?? 0;
  const host = site.hosts[0];
  if (!host) return [];
  const sys = await lab.execRouter(siteName, 'sysctl', ['-n', 'net.netfilter.nf_conntrack_udp_timeout', 'net.netfilter.nf_conntrack_udp_timeout_stream']);
  const values = sys.stdout.trim().split('\n').map(Number);
  const out = [check(siteName, 'udp timeout sysctl', values.every((v) => v === T), `expected ${T} s, saw ${values.join(' / ')}`)];
  const [s1] = lab.serverAddresses;
  const m = JSON.parse((await lab.execNode(host.name, AGENT, ['mapping', '--targets', `${s1}:7000`])).stdout) as Json;
  const localPort = portOf(String(m.local));
  const sentAt = Date.now();
  const present = async (): Promise<boolean> => {
    const r = await lab.execRouter(siteName, 'conntrack', ['-L', '-p', 'udp', '--orig-src', host.v4, '--orig-port-src', String(localPort)]);
    return r.stdout.includes(`sport=${localPort}`);
  };
  const wasThere = await present();
  let goneAfter = -1;
  const deadline = sentAt + (T + 5) * 1000;
  while (Date.now() < deadline) {
    if (!(await present())) { goneAfter = (Date.now() - sentAt) / 1000; break; }
    await new Promise((r) => setTimeout(r, 200));
  }
  out.push(check(siteName, 'udp timeout', wasThere && goneAfter >= T - 1 && goneAfter <= T + 3,
    `expected the mapping to expire ≈ ${T} s after the last packet; present at first: ${wasThere}, gone after ${goneAfter.toFixed(1)} s`));
  return out;
}

/** Internet-wide checks: the short-TTL drop (path length model). Uses the first site with plain UDP and no CGN. */
export async function selfTestInternet(lab: Lab, minTtl = lab.options.minTtl ?? 8): Promise<Check[]> {
  const site = lab.sites.map((s) => lab.site(s)).find((s) => !s.spec.cgnat && expectations(s.spec).mapping !== 'blocked');
  const host = site?.hosts[0];
  if (!host) return [];
  const [s1] = lab.serverAddresses;
  // The site router takes one off, so a packet sent with minTtl+1 arrives at the internet router with minTtl.
  const [pass, drop] = await batch(lab, host.name, [
    ['ttl', '--target', `${s1}:7000`, '--ttl', String(minTtl + 1)],
    ['ttl', '--target', `${s1}:7000`, '--ttl', String(minTtl)],
  ]);
  const rules = await lab.exec('inet', 'nft', ['list', 'chain', 'inet', 'lab', 'prerouting']);
  const dropped = Number(/ip ttl < \d+ counter packets (\d+)/.exec(rules.stdout)?.[1] ?? 0);
  return [
    check('internet', 'ttl passes', pass?.replied === true, `TTL ${minTtl + 1} from ${host.name} must reach the server: ${JSON.stringify(pass)}`),
    check('internet', 'short ttl dropped', drop?.replied === false && dropped > 0,
      `TTL ${minTtl} from ${host.name} must die at the internet router: ${JSON.stringify(drop)}, drop counter ${dropped}`),
  ];
}
