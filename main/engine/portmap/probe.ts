/**
 * Which port-mapping protocols does the gateway speak? PCP (ANNOUNCE), NAT-PMP
 * (external-address request) and UPnP IGD (SSDP, then the device description
 * and GetExternalIPAddress) are probed in parallel with short timeouts — the
 * approach of Tailscale's portmapper, which waits 250 ms before resending.
 * `routerFacts()` turns a probe into plain data for the port-forwarding wizard:
 * router make and model, admin page, LAN addresses, external address and
 * whether that address is itself behind another NAT.
 */
import { isIPv4 } from 'node:net';
import { errorCode, errorMessage } from '../errors.js';
import { isCgnatIp, isPrivateIp } from '../net/addresses.js';
import { defaultGateway, localAddressToward } from './gateway-address.js';
import type { GatewayProtocol } from './errors.js';
import { natPmpExternalAddress } from './natpmp-client.js';
import { pcpAnnounce } from './pcp-client.js';
import { discoverIgd, UpnpGateway, type IgdInfo, type SsdpTarget } from './upnp-client.js';

export const ALL_PROTOCOLS: readonly GatewayProtocol[] = ['pcp', 'natpmp', 'upnp'];

export interface ProbeOptions {
  /** @default the default route's next hop */
  gateway?: string;
  /** @default this machine's address toward the gateway */
  localAddress?: string;
  /** Which to probe. @default all three */
  protocols?: readonly GatewayProtocol[];
  /** NAT-PMP/PCP server port (tests). @default 5351 */
  pmpPort?: number;
  /** SSDP destinations (tests). @default 239.255.255.250:1900 and gateway:1900 */
  ssdpTargets?: SsdpTarget[];
  /** First NAT-PMP/PCP wait before one resend. @default 250 */
  probeWaitMs?: number;
  /** How long to wait for SSDP answers. @default 1000 */
  ssdpTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ProbeReport {
  protocol: GatewayProtocol;
  /** The gateway speaks it (it may still refuse mappings: see `detail`). */
  available: boolean;
  ms: number;
  /** What happened, for people: "answered", or the error. */
  detail: string;
  errorCode?: string;
  externalIp?: string | null;
}

export interface ProbeResult {
  gateway: string | null;
  localAddress: string | null;
  reports: Record<GatewayProtocol, ProbeReport>;
  igd: IgdInfo | null;
}

const skipped = (protocol: GatewayProtocol, detail: string): ProbeReport => ({ protocol, available: false, ms: 0, detail });

export async function probeGateways(o: ProbeOptions = {}): Promise<ProbeResult> {
  const gateway = o.gateway ?? await defaultGateway();
  const localAddress = o.localAddress ?? (gateway ? await localAddressToward(gateway) : null);
  const wanted = new Set(o.protocols ?? ALL_PROTOCOLS);
  const reports = {} as Record<GatewayProtocol, ProbeReport>;
  let igd: IgdInfo | null = null;
  if (!gateway || !isIPv4(gateway)) {
    for (const p of ALL_PROTOCOLS) reports[p] = skipped(p, gateway ? `gateway ${gateway} is not IPv4` : 'no default gateway (no IPv4 default route)');
    return { gateway, localAddress, reports, igd };
  }
  const target = { gateway, tries: 2, initialWaitMs: o.probeWaitMs ?? 250, ...(o.pmpPort ? { port: o.pmpPort } : {}), ...(o.signal ? { signal: o.signal } : {}) };
  const timed = async (protocol: GatewayProtocol, fn: () => Promise<Omit<ProbeReport, 'protocol' | 'ms'>>): Promise<void> => {
    if (!wanted.has(protocol)) {
      reports[protocol] = skipped(protocol, 'not probed');
      return;
    }
    const t0 = performance.now();
    let r: Omit<ProbeReport, 'protocol' | 'ms'>;
    try {
      r = await fn();
    } catch (err) {
      // A gateway error code means it speaks the protocol but refuses (e.g. NAT-PMP 3 behind a CGN).
      const speaks = /^(NATPMP|PCP|UPNP)_\d+$/.test(errorCode(err));
      const ext = (err as { detail?: { externalIp?: string | null } }).detail?.externalIp;
      r = { available: speaks, detail: errorMessage(err), errorCode: errorCode(err), ...(ext !== undefined ? { externalIp: ext } : {}) };
    }
    reports[protocol] = { protocol, ms: Math.round(performance.now() - t0), ...r };
  };
  await Promise.all([
    timed('pcp', async () => {
      if (!localAddress) throw new Error('no local address toward the gateway');
      const a = await pcpAnnounce(target, localAddress);
      return { available: true, detail: a.result === 0 ? 'answered' : `answered (result ${a.result})` };
    }),
    timed('natpmp', async () => {
      const e = await natPmpExternalAddress(target);
      return { available: true, detail: 'answered', externalIp: e.externalIp };
    }),
    timed('upnp', async () => {
      igd = await discoverIgd({ gateway, timeoutMs: o.ssdpTimeoutMs ?? 1000, ...(o.ssdpTargets ? { targets: o.ssdpTargets } : {}), ...(o.signal ? { signal: o.signal } : {}) });
      let externalIp: string | null = null;
      let note = '';
      try {
        externalIp = await new UpnpGateway(igd).externalIp();
      } catch (err) {
        note = ` (GetExternalIPAddress: ${errorMessage(err)})`;
      }
      return { available: true, detail: `answered: ${igd.description.friendlyName || igd.location}, IGD v${igd.service.igdVersion}${note}`, externalIp };
    }),
  ]);
  return { gateway, localAddress, reports, igd };
}

export type AddressKind = 'public' | 'cgnat' | 'private';

/** Where an external address leads: the internet, a carrier-grade NAT (100.64/10), or another private network. */
export function addressKind(ip: string): AddressKind {
  return isCgnatIp(ip) ? 'cgnat' : isPrivateIp(ip) ? 'private' : 'public';
}

export interface RouterFacts {
  /** The router's LAN address (default route). */
  gateway: string | null;
  /** This machine's address toward it. */
  localAddress: string | null;
  upnp: {
    friendlyName: string; manufacturer: string; modelName: string; modelNumber: string; modelDescription: string;
    /** The router's admin page. */
    presentationURL: string | null;
    server: string; location: string; igdVersion: 1 | 2;
  } | null;
  protocols: Record<GatewayProtocol, { available: boolean; detail: string }>;
  /** The external address the gateway reports (UPnP, NAT-PMP or PCP). */
  externalIp: string | null;
  /** `cgnat` or `private`: the router is itself behind another NAT, so a mapping on it does not make this device reachable. */
  externalIpKind: AddressKind | null;
}

/** Facts about the router for the port-forwarding wizard, as plain data. */
export async function routerFacts(o: ProbeOptions = {}): Promise<RouterFacts> {
  return factsFromProbe(await probeGateways(o));
}

export function factsFromProbe(p: ProbeResult): RouterFacts {
  const d = p.igd?.description;
  const externalIp = p.reports.upnp?.externalIp ?? p.reports.natpmp?.externalIp ?? p.reports.pcp?.externalIp ?? null;
  const protocols = {} as RouterFacts['protocols'];
  for (const proto of ALL_PROTOCOLS) protocols[proto] = { available: p.reports[proto]?.available ?? false, detail: p.reports[proto]?.detail ?? 'not probed' };
  return {
    gateway: p.gateway,
    localAddress: p.localAddress,
    upnp: p.igd && d ? {
      friendlyName: d.friendlyName, manufacturer: d.manufacturer, modelName: d.modelName, modelNumber: d.modelNumber,
      modelDescription: d.modelDescription, presentationURL: d.presentationURL, server: p.igd.server, location: p.igd.location, igdVersion: p.igd.service.igdVersion,
    } : null,
    protocols,
    externalIp,
    externalIpKind: externalIp ? addressKind(externalIp) : null,
  };
}
