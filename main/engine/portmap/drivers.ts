/**
 * One interface over the three port-mapping protocols, used by the port mapper:
 * map a port, renew it, remove it. Each driver knows its protocol's quirks:
 *  - NAT-PMP (RFC 6886) and PCP (RFC 6887): the gateway picks another external
 *    port when the suggested one is taken; PCP keeps its nonce for renewal and
 *    deletion.
 *  - UPnP IGD v2: AddAnyPortMapping (the gateway picks a free port); IGD v1 (or
 *    a v2 gateway without it): AddPortMapping, and on 718 ConflictInMappingEntry
 *    a few other ports; on 725 OnlyPermanentLeasesSupported a permanent mapping
 *    (lease 0) that the mapper removes on exit; on 724 SamePortValuesRequired
 *    the internal port.
 */
import { randomInt } from 'node:crypto';
import type { MapProtocol } from '../../wire/natpmp.js';
import { PortMapError, type GatewayProtocol } from './errors.js';
import { natPmpExternalAddress, natPmpMap, natPmpUnmap, type PmpTarget } from './natpmp-client.js';
import { newPcpNonce, pcpMap, pcpUnmap } from './pcp-client.js';
import type { UpnpGateway } from './upnp-client.js';

export interface MapRequest {
  proto: MapProtocol;
  internalPort: number;
  /** The external port to ask for. */
  externalPort: number;
  leaseSec: number;
}

export interface Granted {
  externalPort: number;
  externalIp: string | null;
  /** Granted lease in seconds; 0 when permanent. */
  leaseSec: number;
  permanent: boolean;
  /** PCP nonce (hex), needed to renew and delete. */
  nonce?: string;
}

export interface Held extends Granted {
  proto: MapProtocol;
  internalPort: number;
}

export interface Driver {
  protocol: GatewayProtocol;
  map(req: MapRequest): Promise<Granted>;
  /** Renew for `leaseSec` more; may come back with another external port. */
  renew(held: Held, leaseSec: number): Promise<Granted>;
  unmap(held: Held): Promise<void>;
  /** The UPnP gateway (for listing and checking entries). */
  gateway?: UpnpGateway;
}

/** IGD v2 caps leases at one week and has no permanent ones. */
const UPNP_V2_MAX_LEASE = 604_800;
const UPNP_PORT_TRIES = 4;

export function natPmpDriver(target: PmpTarget, knownExternalIp: string | null): Driver {
  const mapTarget = { ...target, tries: Math.max(target.tries ?? 4, 4) }; // miniupnpd took 1.1 s to find a free port
  let externalIp = knownExternalIp;
  const grant = async (proto: MapProtocol, internalPort: number, suggested: number, leaseSec: number): Promise<Granted> => {
    const m = await natPmpMap(mapTarget, { protocol: proto, internalPort, suggestedExternalPort: suggested, lifetimeSec: leaseSec });
    if (!externalIp) externalIp = (await natPmpExternalAddress(target)).externalIp;
    return { externalPort: m.externalPort, externalIp, leaseSec: m.lifetimeSec, permanent: false };
  };
  return {
    protocol: 'natpmp',
    map: (r) => grant(r.proto, r.internalPort, r.externalPort, r.leaseSec),
    renew: (h, leaseSec) => grant(h.proto, h.internalPort, h.externalPort, leaseSec),
    unmap: (h) => natPmpUnmap(target, h.proto, h.internalPort),
  };
}

export function pcpDriver(target: PmpTarget, clientIp: string): Driver {
  const mapTarget = { ...target, tries: Math.max(target.tries ?? 4, 4) };
  const grant = async (proto: MapProtocol, internalPort: number, suggested: number, leaseSec: number, nonceHex?: string): Promise<Granted> => {
    const nonce = nonceHex ? Buffer.from(nonceHex, 'hex') : newPcpNonce();
    const m = await pcpMap(mapTarget, { nonce, protocol: proto, internalPort, suggestedExternalPort: suggested, lifetimeSec: leaseSec, clientIp });
    return { externalPort: m.externalPort, externalIp: m.externalIp, leaseSec: m.lifetimeSec, permanent: false, nonce: nonce.toString('hex') };
  };
  return {
    protocol: 'pcp',
    map: (r) => grant(r.proto, r.internalPort, r.externalPort, r.leaseSec),
    renew: (h, leaseSec) => grant(h.proto, h.internalPort, h.externalPort, leaseSec, h.nonce),
    unmap: async (h) => {
      if (!h.nonce) throw new PortMapError('PORTMAP_NO_NONCE', 'PCP: cannot delete a mapping without the nonce that made it', 'pcp');
      await pcpUnmap(target, { nonce: Buffer.from(h.nonce, 'hex'), protocol: h.proto, internalPort: h.internalPort, clientIp });
    },
  };
}

export function upnpDriver(gw: UpnpGateway, internalClient: string, description: string, knownExternalIp: string | null): Driver {
  let externalIp = knownExternalIp;
  const ext = async () => (externalIp ??= await gw.externalIp());
  const lease = (s: number) => (gw.version === 2 ? Math.min(Math.max(s, 1), UPNP_V2_MAX_LEASE) : s);
  const code = (err: unknown) => (err instanceof PortMapError ? err.gatewayCode : undefined);

  /** AddPortMapping on exactly `port`, falling back to a permanent lease on 725. */
  const addExact = async (r: MapRequest, port: number): Promise<Granted> => {
    const args = { protocol: r.proto, externalPort: port, internalPort: r.internalPort, internalClient, description, leaseSec: lease(r.leaseSec) };
    try {
      await gw.addPortMapping(args);
      return { externalPort: port, externalIp: await ext(), leaseSec: args.leaseSec, permanent: args.leaseSec === 0 };
    } catch (err) {
      if (code(err) !== 725 || args.leaseSec === 0) throw err;
      await gw.addPortMapping({ ...args, leaseSec: 0 });
      return { externalPort: port, externalIp: await ext(), leaseSec: 0, permanent: true };
    }
  };

  const map = async (r: MapRequest): Promise<Granted> => {
    if (gw.version === 2) {
      try {
        const port = await gw.addAnyPortMapping({ protocol: r.proto, externalPort: r.externalPort, internalPort: r.internalPort, internalClient, description, leaseSec: lease(r.leaseSec) });
        return { externalPort: port, externalIp: await ext(), leaseSec: lease(r.leaseSec), permanent: false };
      } catch (err) {
        if (code(err) !== 401 && code(err) !== 402) throw err; // no AddAnyPortMapping here: do it the v1 way
      }
    }
    const tried: number[] = [];
    let last: unknown;
    let port = r.externalPort;
    for (let i = 0; i < UPNP_PORT_TRIES; i++) {
      tried.push(port);
      try {
        return await addExact(r, port);
      } catch (err) {
        last = err;
        if (code(err) === 724 && port !== r.internalPort) port = r.internalPort;
        else if (code(err) === 718 || code(err) === 729) port = randomInt(20_000, 60_000);
        else throw err;
      }
    }
    const msg = last instanceof Error ? last.message : String(last);
    throw new PortMapError(last instanceof PortMapError ? last.code : 'PORTMAP_FAILED', `${msg} (tried external ports ${tried.join(', ')})`, 'upnp', code(last));
  };

  return {
    protocol: 'upnp',
    gateway: gw,
    map,
    renew: async (h, leaseSec) => {
      try {
        return await addExact({ proto: h.proto, internalPort: h.internalPort, externalPort: h.externalPort, leaseSec: h.permanent ? 0 : leaseSec }, h.externalPort);
      } catch (err) {
        if (code(err) !== 718) throw err;
        return map({ proto: h.proto, internalPort: h.internalPort, externalPort: h.externalPort, leaseSec }); // someone took it meanwhile
      }
    },
    unmap: (h) => gw.deletePortMapping(h.proto, h.externalPort),
  };
}
