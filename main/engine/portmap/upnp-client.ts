/**
 * UPnP IGD client (v1 and v2): SSDP discovery (M-SEARCH for
 * InternetGatewayDevice:1 and :2, to 239.255.255.250:1900 and to the gateway
 * itself), the device description, and SOAP calls on its WANIPConnection:2,
 * WANIPConnection:1 or WANPPPConnection:1 service.
 *
 * A description is fetched only from the address that answered the search (or
 * the gateway), so a hostile answer cannot send us to another host. SOAP faults
 * become PortMapErrors with code `UPNP_<errorCode>` and the code's meaning.
 */
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import {
  encodeMSearch, encodeSoapRequest, IGD_DEVICE_TYPES, parseDeviceDescription, parsePortMappingEntry, parseSoapResponse,
  parseSsdpResponse, pickWanService, SSDP_ADDRESS, SSDP_PORT, type DeviceDescription, type PortMappingEntry, type UpnpService,
} from '../../wire/upnp.js';
import type { MapProtocol } from '../../wire/natpmp.js';
import { httpRequest } from './http.js';
import { gatewayError, PortMapError } from './errors.js';
import { errorMessage } from '../errors.js';

export interface SsdpTarget {
  host: string;
  port: number;
}

export interface IgdInfo {
  location: string;
  /** The SSDP SERVER header (OS, UPnP version, product), e.g. "Linux UPnP/1.1 MiniUPnPd/2.3.1". */
  server: string;
  description: DeviceDescription;
  service: UpnpService & { igdVersion: 1 | 2 };
}

export interface DiscoverOptions {
  gateway: string;
  /** Where M-SEARCH goes. @default multicast 239.255.255.250:1900 and gateway:1900 */
  targets?: SsdpTarget[];
  /** How long to wait for SSDP answers. @default 1000 */
  timeoutMs?: number;
  /** For the description fetch. @default 3000 */
  httpTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Find the gateway's IGD: resolves with the first answer whose description has a WAN connection service. */
export function discoverIgd(o: DiscoverOptions): Promise<IgdInfo> {
  const targets = o.targets ?? [{ host: SSDP_ADDRESS, port: SSDP_PORT }, { host: o.gateway, port: SSDP_PORT }];
  const timeoutMs = o.timeoutMs ?? 1000;
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    const tried = new Set<string>();
    const problems: string[] = [];
    let pending = 0;
    let done = false;
    let expired = false;
    const finish = (err: Error | null, value?: IgdInfo) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      try { socket.close(); } catch { /* already closed */ }
      if (err) reject(err);
      else resolve(value as IgdInfo);
    };
    const giveUp = () => {
      if (pending > 0 || done) return;
      finish(new PortMapError(problems.length ? 'PORTMAP_BAD_ANSWER' : 'PORTMAP_TIMEOUT',
        problems.length ? `UPnP: ${problems.join('; ')}` : `UPnP: no Internet Gateway Device answered the SSDP search within ${timeoutMs} ms`, 'upnp'));
    };
    const onAbort = () => finish(new PortMapError('CANCELLED', 'UPnP discovery cancelled', 'upnp'));
    const timer = setTimeout(() => { expired = true; giveUp(); }, timeoutMs);
    socket.on('error', (err) => finish(new PortMapError('PORTMAP_UNAVAILABLE', `UPnP: SSDP socket error: ${err.message}`, 'upnp')));
    socket.on('message', (msg, rinfo) => {
      const r = parseSsdpResponse(msg);
      if (!r.ok) return;
      const host = new URL(r.value.location).hostname;
      if (host !== rinfo.address && host !== o.gateway) {
        problems.push(`ignored an SSDP answer from ${rinfo.address} pointing at another host (${host})`);
        return;
      }
      if (tried.has(r.value.location)) return;
      tried.add(r.value.location);
      pending++;
      describe(r.value.location, r.value.server, o.httpTimeoutMs ?? 3000, o.signal).then(
        (info) => finish(null, info),
        (err) => {
          pending--;
          problems.push(errorMessage(err));
          if (expired) giveUp();
        },
      );
    });
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    socket.bind(0, () => {
      try { socket.setMulticastTTL(2); } catch { /* not fatal */ }
      for (const t of targets) {
        for (const st of [...IGD_DEVICE_TYPES].reverse()) socket.send(encodeMSearch(st), t.port, t.host, () => {});
      }
    });
  });
}

/** Fetch and read a device description; fails when it has no WAN connection service. */
export async function describe(location: string, server: string, timeoutMs: number, signal?: AbortSignal): Promise<IgdInfo> {
  const res = await httpRequest(location, { timeoutMs, ...(signal ? { signal } : {}) });
  if (res.status !== 200) throw new PortMapError('PORTMAP_BAD_ANSWER', `UPnP: the device description at ${location} answered HTTP ${res.status}`, 'upnp');
  const d = parseDeviceDescription(res.body, location);
  if (!d.ok) throw new PortMapError('PORTMAP_BAD_ANSWER', `UPnP: the device description at ${location} is unreadable: ${d.error}`, 'upnp');
  const service = pickWanService(d.value);
  if (!service) throw new PortMapError('PORTMAP_UNAVAILABLE', `UPnP: ${d.value.friendlyName || location} has no WANIPConnection or WANPPPConnection service`, 'upnp');
  return { location, server: String(res.headers.server ?? server), description: d.value, service };
}

export interface AddMappingArgs {
  protocol: MapProtocol;
  externalPort: number;
  internalPort: number;
  internalClient: string;
  description: string;
  /** Seconds; 0 asks for a permanent mapping (IGD v1 only). */
  leaseSec: number;
}

/** SOAP calls on one gateway's WAN connection service. */
export class UpnpGateway {
  constructor(readonly igd: IgdInfo, private readonly timeoutMs = 3000) {}

  get version(): 1 | 2 {
    return this.igd.service.igdVersion;
  }

  get controlURL(): string {
    return this.igd.service.controlURL;
  }

  get serviceType(): string {
    return this.igd.service.serviceType;
  }

  async call(action: string, args: [string, string | number][]): Promise<Record<string, string>> {
    const req = encodeSoapRequest(this.serviceType, action, args);
    const res = await httpRequest(this.controlURL, { method: 'POST', headers: req.headers, body: req.body, timeoutMs: this.timeoutMs });
    const parsed = parseSoapResponse(res.body, action);
    if (!parsed.ok) {
      const status = res.status === 200 ? '' : ` (HTTP ${res.status})`;
      throw new PortMapError('PORTMAP_BAD_ANSWER', `UPnP ${action}: the gateway's answer is unreadable${status}: ${parsed.error}`, 'upnp');
    }
    if (parsed.value.fault) {
      const f = parsed.value.fault;
      if (!f.code) throw new PortMapError('PORTMAP_BAD_ANSWER', `UPnP ${action}: ${f.text}`, 'upnp');
      throw gatewayError('upnp', f.code, `${action}: ${f.text}`);
    }
    return parsed.value.values;
  }

  /** The gateway's external address, or null when it has none (e.g. behind a CGN, miniupnpd answers empty). */
  async externalIp(): Promise<string | null> {
    const v = await this.call('GetExternalIPAddress', []);
    const ip = (v.NewExternalIPAddress ?? '').trim();
    return isIP(ip) ? ip : null;
  }

  private mappingArgs(a: AddMappingArgs): [string, string | number][] {
    return [
      ['NewRemoteHost', ''], ['NewExternalPort', a.externalPort], ['NewProtocol', a.protocol.toUpperCase()],
      ['NewInternalPort', a.internalPort], ['NewInternalClient', a.internalClient], ['NewEnabled', 1],
      ['NewPortMappingDescription', a.description], ['NewLeaseDuration', a.leaseSec],
    ];
  }

  /** AddPortMapping: exactly this external port (v1 and v2). Also renews our own mapping. */
  async addPortMapping(a: AddMappingArgs): Promise<void> {
    await this.call('AddPortMapping', this.mappingArgs(a));
  }

  /** AddAnyPortMapping (v2): the gateway picks a free port near the one asked for; resolves with it. */
  async addAnyPortMapping(a: AddMappingArgs): Promise<number> {
    const v = await this.call('AddAnyPortMapping', this.mappingArgs(a));
    const port = Number(v.NewReservedPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PortMapError('PORTMAP_BAD_ANSWER', `UPnP AddAnyPortMapping: the gateway reserved port ${JSON.stringify(v.NewReservedPort ?? '')}`, 'upnp');
    return port;
  }

  async deletePortMapping(protocol: MapProtocol, externalPort: number): Promise<void> {
    await this.call('DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', externalPort], ['NewProtocol', protocol.toUpperCase()]]);
  }

  /** The entry at `index`, or null past the end (713 SpecifiedArrayIndexInvalid / 714). */
  async genericEntry(index: number): Promise<PortMappingEntry | null> {
    try {
      const v = await this.call('GetGenericPortMappingEntry', [['NewPortMappingIndex', index]]);
      const e = parsePortMappingEntry(v);
      if (!e.ok) throw new PortMapError('PORTMAP_BAD_ANSWER', `UPnP GetGenericPortMappingEntry ${index}: ${e.error}`, 'upnp');
      return e.value;
    } catch (err) {
      if (err instanceof PortMapError && (err.gatewayCode === 713 || err.gatewayCode === 714)) return null;
      throw err;
    }
  }

  /** The mapping of an external port, or null when there is none (714 NoSuchEntryInArray). */
  async specificEntry(protocol: MapProtocol, externalPort: number): Promise<PortMappingEntry | null> {
    try {
      const v = await this.call('GetSpecificPortMappingEntry', [['NewRemoteHost', ''], ['NewExternalPort', externalPort], ['NewProtocol', protocol.toUpperCase()]]);
      const e = parsePortMappingEntry(v, { externalPort, protocol: protocol === 'tcp' ? 'TCP' : 'UDP' });
      if (!e.ok) throw new PortMapError('PORTMAP_BAD_ANSWER', `UPnP GetSpecificPortMappingEntry ${externalPort}: ${e.error}`, 'upnp');
      return e.value;
    } catch (err) {
      if (err instanceof PortMapError && (err.gatewayCode === 714 || err.gatewayCode === 713)) return null;
      throw err;
    }
  }

  /** Every mapping the gateway lists (at most `max`), for finding our own after a crash. */
  async listMappings(max = 128): Promise<PortMappingEntry[]> {
    const out: PortMappingEntry[] = [];
    for (let i = 0; i < max; i++) {
      const e = await this.genericEntry(i);
      if (!e) break;
      out.push(e);
    }
    return out;
  }
}
