/**
 * Builds the lab's routed internet from validated site specs: an internet
 * router namespace every site and the server hang off (so any two sites are at
 * least one router hop apart), the server with two public IPv4/IPv6 addresses
 * (RFC 5780 needs two), and per site an outer router (the CGN when cgnat,
 * RFC 6598 100.64.0.0/10 to the home router), a home router with the site's
 * NAT behaviour (nat-rules.ts) on a LAN bridge, and the hosts behind it.
 * Access links are veth pairs, or TAP pairs through tapdelay when delayed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SERVER4, SERVER6, SERVER_GW4, SERVER_GW6, hostName, ns, siteAddresses, type SiteAddresses } from './addressing.js';
import { delayLink } from './delay-link.js';
import { startMiniupnpd } from './gateway.js';
import { internetRuleset, miniupnpdSkeleton, routerRuleset } from './nat-rules.js';
import { addr, bridge, createNs, linkUp, nftLoad, route, setMaster, sysctl, tbf, veth } from './netns.js';
import type { LabOptions, Site } from './spec.js';

export interface HostInfo {
  name: string;
  site: string;
  ns: string;
  v4: string;
  v6?: string;
}

export interface SiteInfo {
  spec: Site;
  /** The home router's namespace (the one with the site's behaviour and gateways). */
  routerNs: string;
  /** The CGN's namespace, with cgnat. */
  cgnNs?: string;
  addresses: SiteAddresses;
  /** The home router's WAN address (100.64.i.2 behind a CGN). */
  wan4: string;
  /** The address the internet sees for this site. */
  public4: string;
  hosts: HostInfo[];
}

export interface Topology {
  inetNs: string;
  serverNs?: string;
  sites: Map<string, SiteInfo>;
  hosts: Map<string, HostInfo>;
}

/** Called with every long-running process the topology depends on, as soon as it exists. */
export type Track = (what: string, child: ChildProcess) => void;

const ROUTER_SYSCTLS = {
  'net.ipv4.ip_forward': 1,
  'net.ipv6.conf.all.forwarding': 1,
  'net.ipv4.conf.all.rp_filter': 0,
  'net.ipv4.conf.default.rp_filter': 0,
};

function mappingTimeout(site: Site): number {
  return site.udpTimeoutSec ?? 120;
}

async function accessLink(
  inetNs: string, inetIf: string, routerNs: string, site: Site, opts: LabOptions, track: Track,
): Promise<void> {
  const latency = site.latencyMs ?? opts.latencyMs ?? 0;
  if (latency > 0) {
    const link = await delayLink(inetNs, inetIf, routerNs, 'wan', latency);
    track(`tapdelay ${site.name}`, link.child);
  } else {
    await veth(inetNs, inetIf, routerNs, 'wan');
  }
  const rate = site.rateMbit ?? opts.rateMbit;
  if (rate !== undefined && rate > 0) {
    await tbf(inetNs, inetIf, rate);
    await tbf(routerNs, 'wan', rate);
  }
}

async function buildSite(id: string, site: Site, inetNs: string, opts: LabOptions, stateDir: string, track: Track): Promise<SiteInfo> {
  const a = siteAddresses(site.index, site.nat === 'public');
  const inetIf = `s-${site.index}`;
  const routerNs = ns.router(id, site.name);
  const cgnNs = site.cgnat ? ns.cgn(id, site.name) : undefined;
  const outerNs = cgnNs ?? routerNs;
  const v6 = site.ipv6 === true;

  await createNs(outerNs);
  if (cgnNs) await createNs(routerNs);
  await accessLink(inetNs, inetIf, outerNs, site, opts, track);
  await addr(inetNs, inetIf, `${a.inet4}/24`);
  await addr(inetNs, inetIf, `${a.inet6}/64`);
  await linkUp(inetNs, inetIf);
  await addr(outerNs, 'wan', `${a.public4}/24`);
  if (v6) await addr(outerNs, 'wan', `${a.public6}/64`);
  await linkUp(outerNs, 'wan');
  await route(outerNs, 'default', a.inet4);
  if (v6) await route(outerNs, 'default', a.inet6);
  await sysctl(outerNs, ROUTER_SYSCTLS);

  if (cgnNs) {
    await veth(cgnNs, 'lan', routerNs, 'wan');
    await addr(cgnNs, 'lan', `${a.cgnInside4}/24`);
    await addr(routerNs, 'wan', `${a.homeWan4}/24`);
    if (v6) {
      await addr(cgnNs, 'lan', `${a.cgnInside6}/64`);
      await addr(routerNs, 'wan', `${a.homeWan6}/64`);
    }
    await linkUp(cgnNs, 'lan');
    await linkUp(routerNs, 'wan');
    await route(routerNs, 'default', a.cgnInside4);
    if (v6) {
      await route(routerNs, 'default', a.cgnInside6);
      await route(cgnNs, a.lanNet6, a.homeWan6);
    }
    await sysctl(routerNs, ROUTER_SYSCTLS);
    // The CGN: RFC 6888 asks for EIM; its filtering is the common APDF (conntrack).
    await nftLoad(cgnNs, routerRuleset({
      nat: 'port-restricted', wan4: a.public4, hairpin: true, udpBlocked: false, tcp443Only: false,
      mappingTimeoutSec: 120, gateway: [],
    }));
  }
  const wan4 = cgnNs ? a.homeWan4 : a.public4;

  // The LAN: a bridge in the home router, one veth per host.
  await bridge(routerNs, 'lan');
  await addr(routerNs, 'lan', `${a.gateway4}/24`);
  if (v6) await addr(routerNs, 'lan', `${a.gateway6}/64`);
  await linkUp(routerNs, 'lan');
  const hosts: HostInfo[] = [];
  for (let n = 1; n <= site.hosts; n++) {
    const name = hostName(site.name, n);
    const hostNs = ns.host(id, name);
    await createNs(hostNs);
    await veth(routerNs, `p${n}`, hostNs, 'eth0');
    await setMaster(routerNs, `p${n}`, 'lan');
    await linkUp(routerNs, `p${n}`);
    await addr(hostNs, 'eth0', `${a.host4(n)}/24`);
    if (v6) await addr(hostNs, 'eth0', `${a.host6(n)}/64`);
    await linkUp(hostNs, 'eth0');
    await route(hostNs, 'default', a.gateway4);
    if (v6) await route(hostNs, 'default', a.gateway6);
    hosts.push({ name, site: site.name, ns: hostNs, v4: a.host4(n), ...(v6 ? { v6: a.host6(n) } : {}) });
  }

  if (site.udpTimeoutSec !== undefined) {
    for (const n of cgnNs ? [cgnNs, routerNs] : [routerNs]) {
      await sysctl(n, {
        'net.netfilter.nf_conntrack_udp_timeout': site.udpTimeoutSec,
        'net.netfilter.nf_conntrack_udp_timeout_stream': site.udpTimeoutSec,
      });
    }
  }
  const gateway = site.gateway ?? [];
  await nftLoad(routerNs, routerRuleset({
    nat: site.nat, wan4, hairpin: site.hairpin, udpBlocked: site.udpBlocked === true,
    tcp443Only: site.tcp443Only === true, mappingTimeoutSec: mappingTimeout(site), gateway,
  }));
  if (gateway.length > 0) {
    await nftLoad(routerNs, miniupnpdSkeleton());
    const child = await startMiniupnpd({ ns: routerNs, dir: join(stateDir, `gw-${site.name}`), lanNet4: a.lanNet4, kinds: gateway });
    track(`miniupnpd ${site.name}`, child);
  }

  // Internet routes back to the site: its LAN when public, its v6 prefix always.
  if (site.nat === 'public') await route(inetNs, a.lanNet4, a.public4);
  if (v6) await route(inetNs, a.lanNet6, a.public6);
  return { spec: site, routerNs, ...(cgnNs ? { cgnNs } : {}), addresses: a, wan4, public4: a.public4, hosts };
}

export async function buildTopology(
  id: string, sites: Site[], opts: LabOptions, stateDir: string, track: Track,
): Promise<Topology> {
  const log = opts.log ?? (() => undefined);
  mkdirSync(stateDir, { recursive: true });
  const inetNs = ns.inet(id);
  await createNs(inetNs);
  await sysctl(inetNs, ROUTER_SYSCTLS);

  let serverNs: string | undefined;
  if (opts.server !== false) {
    serverNs = ns.server(id);
    await createNs(serverNs);
    await veth(inetNs, 'srv', serverNs, 'eth0');
    await addr(inetNs, 'srv', `${SERVER_GW4}/24`);
    await addr(inetNs, 'srv', `${SERVER_GW6}/64`);
    await linkUp(inetNs, 'srv');
    for (const a of SERVER4) await addr(serverNs, 'eth0', `${a}/24`);
    for (const a of SERVER6) await addr(serverNs, 'eth0', `${a}/64`);
    await linkUp(serverNs, 'eth0');
    await route(serverNs, 'default', SERVER_GW4);
    await route(serverNs, 'default', SERVER_GW6);
  }

  // Sites are independent of each other: build them side by side.
  const infos = await Promise.all(sites.map(async (s) => {
    const info = await buildSite(id, s, inetNs, opts, stateDir, track);
    log(`site ${s.name}: ${s.nat}${s.cgnat ? ' behind cgnat' : ''}, public ${info.public4}, hosts ${info.hosts.map((h) => h.name).join(' ')}`);
    return info;
  }));

  const loss = new Map<string, number>();
  for (const s of sites) {
    const pct = s.lossPct ?? opts.lossPct ?? 0;
    if (pct > 0) loss.set(`s-${s.index}`, Math.round(pct * 10));
  }
  await nftLoad(inetNs, internetRuleset({ minTtl: opts.minTtl ?? 8, lossPermille: loss }));

  const topo: Topology = { inetNs, sites: new Map(), hosts: new Map(), ...(serverNs ? { serverNs } : {}) };
  for (const info of infos) {
    topo.sites.set(info.spec.name, info);
    for (const h of info.hosts) topo.hosts.set(h.name, h);
  }
  return topo;
}
