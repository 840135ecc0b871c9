/**
 * Gateway probes of the lab agent: ask the site router for a port map the way
 * an application would, then have the server send an unsolicited datagram to
 * the mapped public endpoint, so "the gateway answered" is proven to mean "the
 * port is really open".
 *   natpmp  RFC 6886: external-address request (2 bytes: version 0, opcode 0), UDP map (opcode 1)
 *   pcp     RFC 6887: MAP request (version 2, opcode 1) with an IPv4-mapped client address
 *   upnp    UPnP IGD: SSDP M-SEARCH to 239.255.255.250:1900, device description,
 *           SOAP GetExternalIPAddress and AddPortMapping on WANIPConnection
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { formatEndpoint, nextId, udpSocket, unsolicited, type Json } from './agent-udp.js';

export interface GatewayProbeOptions {
  /** The router's LAN address (NAT-PMP/PCP server). */
  gateway: string;
  /** A reflector endpoint that takes send-to requests. */
  reflector: string;
  /** The reflector endpoint the unsolicited datagram comes from (one the host never sent to). */
  unsolicitedFrom: string;
}

interface Mapped {
  externalAddress: string;
  externalPort: number;
}

/** Sends `req` until a datagram for which `accept` returns a value arrives (RFC 6886 retry: 250 ms, doubling). */
function ask<T>(s: Socket, host: string, port: number, req: Buffer, accept: (b: Buffer) => T | undefined, tries = 4): Promise<T | undefined> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let wait = 250;
    let left = tries;
    const onMessage = (b: Buffer): void => {
      const v = accept(b);
      if (v !== undefined) finish(v);
    };
    const finish = (v: T | undefined): void => {
      clearTimeout(timer);
      s.off('message', onMessage);
      resolve(v);
    };
    const attempt = (): void => {
      if (left-- <= 0) return finish(undefined);
      s.send(req, port, host);
      timer = setTimeout(attempt, wait);
      wait *= 2;
    };
    s.on('message', onMessage);
    attempt();
  });
}

function ownAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('no IPv4 address on this host');
}

async function natpmpMap(c: Socket, gw: string, internalPort: number, lifetime: number): Promise<Json & Partial<Mapped>> {
  const addrReply = await ask(c, gw, 5351, Buffer.from([0, 0]), (b) =>
    b.length >= 12 && b[0] === 0 && b[1] === 128 ? b : undefined);
  if (!addrReply) return { error: 'no NAT-PMP answer to the external-address request' };
  const addrResult = addrReply.readUInt16BE(2);
  const externalAddress = [...addrReply.subarray(8, 12)].join('.');
  const req = Buffer.alloc(12);
  req[1] = 1; // map UDP
  req.writeUInt16BE(internalPort, 4);
  req.writeUInt16BE(internalPort, 6);
  req.writeUInt32BE(lifetime, 8);
  const map = await ask(c, gw, 5351, req, (b) => (b.length >= 16 && b[0] === 0 && b[1] === 129 ? b : undefined));
  if (!map) return { externalAddress, addrResult, error: 'no NAT-PMP answer to the map request' };
  const result = map.readUInt16BE(2);
  if (result !== 0) return { externalAddress, addrResult, error: `NAT-PMP map result code ${result}` };
  return { externalAddress, addrResult, externalPort: map.readUInt16BE(10), lifetime: map.readUInt32BE(12) };
}

async function pcpMap(c: Socket, gw: string, internalPort: number, lifetime: number): Promise<Json & Partial<Mapped>> {
  const client = ownAddress().split('.').map(Number);
  const nonce = randomBytes(12);
  const req = Buffer.alloc(60);
  req[0] = 2; // version
  req[1] = 1; // request, MAP
  req.writeUInt32BE(lifetime, 4);
  req.writeUInt16BE(0xffff, 18); // ::ffff:a.b.c.d
  Buffer.from(client).copy(req, 20);
  nonce.copy(req, 24);
  req[36] = 17; // UDP
  req.writeUInt16BE(internalPort, 40);
  req.writeUInt16BE(internalPort, 42); // suggested external port
  req.writeUInt16BE(0xffff, 54); // suggested external address ::ffff:0.0.0.0 (none)
  const res = await ask(c, gw, 5351, req, (b) =>
    b.length >= 24 && b[0] === 2 && b[1] === 0x81 && (b.length < 60 || b.subarray(24, 36).equals(nonce)) ? b : undefined);
  if (!res) return { error: 'no PCP answer to the MAP request' };
  const result = res[3] ?? -1;
  if (result !== 0 || res.length < 60) return { error: `PCP result code ${result}`, resultCode: result };
  return {
    externalAddress: [...res.subarray(56, 60)].join('.'),
    externalPort: res.readUInt16BE(42),
    lifetime: res.readUInt32BE(4),
  };
}

function soap(action: string, service: string, args: Record<string, string | number>): string {
  const body = Object.entries(args).map(([k, v]) => `<${k}>${v}</${k}>`).join('');
  return '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    + 's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
    + `<u:${action} xmlns:u="${service}">${body}</u:${action}></s:Body></s:Envelope>`;
}

async function upnpMap(c: Socket, internalPort: number): Promise<Json & Partial<Mapped>> {
  const st = 'urn:schemas-upnp-org:device:InternetGatewayDevice:1';
  const search = Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ${st}\r\n\r\n`);
  const location = await ask(c, '239.255.255.250', 1900, search, (b) => /^location:\s*(\S+)/im.exec(b.toString())?.[1], 3);
  if (!location) return { error: 'no SSDP answer to M-SEARCH' };
  const desc = await (await fetch(location, { signal: AbortSignal.timeout(3000) })).text();
  const svc = /<serviceType>(urn:schemas-upnp-org:service:WANIPConnection:\d)<\/serviceType>[\s\S]*?<controlURL>([^<]+)<\/controlURL>/.exec(desc);
  if (!svc?.[1] || !svc[2]) return { location, error: 'no WANIPConnection service in the device description' };
  const [, service, path] = svc;
  const control = new URL(path, location).toString();
  const call = async (action: string, args: Record<string, string | number>): Promise<string> => {
    const r = await fetch(control, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset="utf-8"', soapaction: `"${service}#${action}"` },
      body: soap(action, service, args),
      signal: AbortSignal.timeout(3000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${action}: HTTP ${r.status} ${/<errorDescription>([^<]*)/.exec(text)?.[1] ?? ''}`);
    return text;
  };
  const ext = await call('GetExternalIPAddress', {});
  const externalAddress = /<NewExternalIPAddress>([^<]*)</.exec(ext)?.[1] ?? '';
  await call('AddPortMapping', {
    NewRemoteHost: '', NewExternalPort: internalPort, NewProtocol: 'UDP', NewInternalPort: internalPort,
    NewInternalClient: ownAddress(), NewEnabled: 1, NewPortMappingDescription: 'postern-lab', NewLeaseDuration: 300,
  });
  return { location, service, externalAddress, externalPort: internalPort };
}

/** Runs one gateway probe; `reachable` says whether the server's unsolicited datagram came through the map. */
export async function gatewayProbe(kind: 'natpmp' | 'pcp' | 'upnp', o: GatewayProbeOptions): Promise<Json> {
  const mappedSocket = await udpSocket(4);
  const control = await udpSocket(4);
  const internalPort = mappedSocket.address().port;
  try {
    const m = kind === 'natpmp' ? await natpmpMap(control, o.gateway, internalPort, 120)
      : kind === 'pcp' ? await pcpMap(control, o.gateway, internalPort, 120)
        : await upnpMap(control, internalPort);
    if (m.error || m.externalPort === undefined || m.externalAddress === undefined) {
      return { ok: false, internalPort, ...m };
    }
    const id = nextId();
    const arrived = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      mappedSocket.on('message', (b: Buffer) => {
        if (b.toString().includes(id)) { clearTimeout(timer); resolve(true); }
      });
    });
    const to = formatEndpoint(m.externalAddress, m.externalPort);
    const acked = await unsolicited(control, o.reflector, o.unsolicitedFrom, to, id);
    const reachable = acked && (await arrived);
    return { ok: reachable, internalPort, ...m, reachable, ...(acked ? {} : { error: 'reflector did not acknowledge' }) };
  } catch (err) {
    return { ok: false, internalPort, error: err instanceof Error ? err.message : String(err) };
  } finally {
    mappedSocket.close();
    control.close();
  }
}
