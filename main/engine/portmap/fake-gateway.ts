/**
 * Test helper: a gateway on 127.0.0.1 that speaks NAT-PMP and PCP on one UDP
 * port, answers SSDP on another and serves a UPnP IGD (description and SOAP)
 * over HTTP, in the byte formats miniupnpd uses (fixtures/). Behaviour knobs
 * make it hostile: wrong nonces, truncated packets, silence, result codes,
 * SOAP faults (718 for taken ports, 725 for leases), oversized or broken XML.
 * Every request it handled is logged in `seen` for assertions.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ipFrom16 } from '../../wire/pcp.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

export interface FakeMapping { proto: 'tcp' | 'udp'; externalPort: number; internalPort: number; client: string; lifetime: number; description: string; nonce?: string }

export interface FakeGatewayOptions {
  natpmp?: boolean;
  pcp?: boolean;
  upnp?: false | 1 | 2;
  externalIp?: string;
  /** PCP: answer MAP with another nonce (forged). */
  pcpWrongNonce?: boolean;
  /** PCP/NAT-PMP: answer with this result code instead of success. */
  resultCode?: number;
  /** Answer with only the first N bytes. */
  truncate?: number;
  /** External ports already taken by someone else (NAT-PMP/PCP pick another; UPnP v1 says 718). */
  taken?: number[];
  /** UPnP: only permanent leases (725 for a non-zero lease). */
  onlyPermanent?: boolean;
  /** UPnP: the description is this many bytes (padding), or this raw text. */
  descriptionBytes?: number;
  descriptionText?: string;
  /** UPnP: the SOAP answer to every call is this raw text with HTTP status. */
  soapOverride?: { status: number; body: string };
  /** Fail renewals (a second request for a held mapping) with this result / UPnP code. */
  failRenewals?: number;
}

export class FakeGateway {
  readonly mappings = new Map<string, FakeMapping>();
  readonly seen: string[] = [];
  epoch = 100;
  private udp!: Socket;
  private ssdp!: Socket;
  private http!: Server;
  pmpPort = 0;
  ssdpPort = 0;
  httpPort = 0;

  constructor(public o: FakeGatewayOptions = {}) {}

  static async start(o: FakeGatewayOptions = {}): Promise<FakeGateway> {
    const g = new FakeGateway(o);
    await g.listen();
    return g;
  }

  get externalIp(): string {
    return this.o.externalIp ?? '80.16.9.2';
  }

  private key(proto: string, externalPort: number): string {
    return `${proto}:${externalPort}`;
  }

  /** Pick a free external port: the suggestion, else the next free one. */
  private allocate(proto: string, suggested: number, client: string, internalPort: number): number {
    let port = suggested || internalPort;
    for (;;) {
      const held = this.mappings.get(this.key(proto, port));
      if (!(this.o.taken ?? []).includes(port) && (!held || (held.client === client && held.internalPort === internalPort))) return port;
      port = port >= 65535 ? 1024 : port + 1;
    }
  }

  private async listen(): Promise<void> {
    this.udp = createSocket('udp4');
    this.udp.on('message', (m, r) => this.onPmp(m, r.port));
    await new Promise<void>((res) => this.udp.bind(0, '127.0.0.1', res));
    this.pmpPort = this.udp.address().port;
    this.ssdp = createSocket('udp4');
    this.ssdp.on('message', (m, r) => this.onSsdp(m, r.port));
    await new Promise<void>((res) => this.ssdp.bind(0, '127.0.0.1', res));
    this.ssdpPort = this.ssdp.address().port;
    this.http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { status, body } = this.onHttp(req.method ?? 'GET', req.url ?? '/', String(req.headers.soapaction ?? ''), Buffer.concat(chunks).toString());
        res.writeHead(status, { 'content-type': 'text/xml; charset="utf-8"', server: 'FakeOS/1 UPnP/1.1 FakeGateway/1' });
        res.end(body);
      });
    });
    await new Promise<void>((res) => this.http.listen(0, '127.0.0.1', res));
    this.httpPort = (this.http.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.udp.close();
    this.ssdp.close();
    this.http.closeAllConnections();
    await new Promise((res) => this.http.close(res));
  }

  private reply(b: Buffer, port: number): void {
    this.udp.send(this.o.truncate !== undefined ? b.subarray(0, this.o.truncate) : b, port, '127.0.0.1');
  }

  private onPmp(m: Buffer, port: number): void {
    const version = m[0];
    if (version === 0 && this.o.natpmp) return this.onNatPmp(m, port);
    if (version === 2 && this.o.pcp) return this.onPcp(m, port);
  }

  private onNatPmp(m: Buffer, port: number): void {
    const op = m[1] ?? 0;
    const head = (len: number, result: number) => {
      const b = Buffer.alloc(len);
      b[1] = 128 + op;
      b.writeUInt16BE(result, 2);
      b.writeUInt32BE(this.epoch, 4);
      return b;
    };
    if (op === 0) {
      this.seen.push('natpmp ext');
      const b = head(12, this.o.resultCode ?? 0);
      Buffer.from(this.externalIp.split('.').map(Number)).copy(b, 8);
      return this.reply(b, port);
    }
    if ((op !== 1 && op !== 2) || m.length < 12) return this.reply(head(8, 5), port);
    const proto = op === 1 ? 'udp' : 'tcp';
    const internalPort = m.readUInt16BE(4);
    const suggested = m.readUInt16BE(6);
    const lifetime = m.readUInt32BE(8);
    const b = head(16, 0);
    b.writeUInt16BE(internalPort, 8);
    if (lifetime === 0) {
      this.seen.push(`natpmp delete ${proto} ${internalPort}`);
      for (const [k, v] of this.mappings) if (v.proto === proto && v.internalPort === internalPort) this.mappings.delete(k);
      return this.reply(b, port);
    }
    const renewal = [...this.mappings.values()].some((v) => v.proto === proto && v.internalPort === internalPort);
    this.seen.push(`natpmp ${renewal ? 'renew' : 'map'} ${proto} ${internalPort} ${suggested} ${lifetime}`);
    const result = renewal && this.o.failRenewals !== undefined ? this.o.failRenewals : this.o.resultCode ?? 0;
    if (result) {
      b.writeUInt16BE(result, 2);
      return this.reply(b, port);
    }
    const ext = this.allocate(proto, suggested, '127.0.0.1', internalPort);
    this.mappings.set(this.key(proto, ext), { proto, externalPort: ext, internalPort, client: '127.0.0.1', lifetime, description: `NAT-PMP ${ext} ${proto}` });
    b.writeUInt16BE(ext, 10);
    b.writeUInt32BE(lifetime, 12);
    this.reply(b, port);
  }

  private onPcp(m: Buffer, port: number): void {
    const opcode = (m[1] ?? 0) & 0x7f;
    const out = Buffer.alloc(opcode === 1 ? 60 : 24);
    out[0] = 2;
    out[1] = 0x80 | opcode;
    out.writeUInt32BE(this.epoch, 8);
    if (opcode === 0) {
      this.seen.push('pcp announce');
      return this.reply(out, port);
    }
    if (opcode !== 1 || m.length < 60) {
      out[3] = 4;
      return this.reply(out.subarray(0, 24), port);
    }
    m.copy(out, 24, 24, 60);
    const lifetime = m.readUInt32BE(4);
    const nonce = m.subarray(24, 36).toString('hex');
    const proto = m[36] === 6 ? 'tcp' : 'udp';
    const internalPort = m.readUInt16BE(40);
    const suggested = m.readUInt16BE(42);
    const client = ipFrom16(m.subarray(8, 24));
    if (this.o.pcpWrongNonce) out[24] = (out[24] ?? 0) ^ 0xff;
    const existing = [...this.mappings.entries()].find(([, v]) => v.proto === proto && v.internalPort === internalPort);
    if (lifetime === 0) {
      this.seen.push(`pcp delete ${proto} ${internalPort} ${nonce}`);
      if (existing && existing[1].nonce !== nonce) out[3] = 2; // NOT_AUTHORIZED
      else if (existing) this.mappings.delete(existing[0]);
      return this.reply(out, port);
    }
    this.seen.push(`pcp ${existing ? 'renew' : 'map'} ${proto} ${internalPort} ${suggested} ${lifetime} ${nonce}`);
    const result = existing && this.o.failRenewals !== undefined ? this.o.failRenewals : this.o.resultCode ?? 0;
    out.writeUInt32BE(result ? 30 : lifetime, 4);
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...this.externalIp.split('.').map(Number)]).copy(out, 44);
    if (result) {
      out[3] = result;
      return this.reply(out, port);
    }
    const ext = existing?.[1].externalPort ?? this.allocate(proto, suggested, client, internalPort);
    this.mappings.set(this.key(proto, ext), { proto, externalPort: ext, internalPort, client, lifetime, description: `PCP MAP ${nonce}`, nonce });
    out.writeUInt16BE(ext, 42);
    this.reply(out, port);
  }

  private onSsdp(m: Buffer, port: number): void {
    if (!this.o.upnp || !m.toString().startsWith('M-SEARCH')) return;
    const st = /ST:\s*(\S+)/i.exec(m.toString())?.[1] ?? '';
    this.seen.push(`ssdp ${st}`);
    const text = fixture('ssdp-igd2.txt').replace('http://192.168.0.1:5000/', `http://127.0.0.1:${this.httpPort}/`).replace(/ST: \S+/, `ST: ${st}`);
    this.ssdp.send(text, port, '127.0.0.1');
  }

  private soapFault(code: number, description: string): { status: number; body: string } {
    return { status: 500, body: fixture('soap-v2-fault-718.xml').replace('718', String(code)).replace('ConflictInMappingEntry', description) };
  }

  private soapOk(action: string, inner = ''): { status: number; body: string } {
    const svc = `urn:schemas-upnp-org:service:WANIPConnection:${this.o.upnp === 1 ? 1 : 2}`;
    return { status: 200, body: `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:${action}Response xmlns:u="${svc}">${inner}</u:${action}Response></s:Body></s:Envelope>\r\n` };
  }

  private onHttp(method: string, url: string, soapAction: string, body: string): { status: number; body: string } {
    if (method === 'GET' && url === '/rootDesc.xml') {
      this.seen.push('upnp description');
      if (this.o.descriptionText !== undefined) return { status: 200, body: this.o.descriptionText };
      let d = fixture(this.o.upnp === 1 ? 'rootDesc-igd1.xml' : 'rootDesc-igd2.xml').replace('http://192.168.0.1/', 'http://127.0.0.1/admin');
      if (this.o.descriptionBytes) d = d.replace('</root>', `<!--${'x'.repeat(this.o.descriptionBytes)}--></root>`);
      return { status: 200, body: d };
    }
    if (method !== 'POST' || url !== '/ctl/IPConn') return { status: 404, body: 'not found' };
    const action = /#(\w+)"?$/.exec(soapAction)?.[1] ?? '';
    const arg = (n: string) => new RegExp(`<${n}>([^<]*)</${n}>`).exec(body)?.[1] ?? '';
    this.seen.push(`upnp ${action} ${arg('NewExternalPort')} ${arg('NewLeaseDuration')}`.trim());
    if (this.o.soapOverride) return this.o.soapOverride;
    const proto = arg('NewProtocol').toLowerCase() as 'tcp' | 'udp';
    const ext = Number(arg('NewExternalPort'));
    switch (action) {
      case 'GetExternalIPAddress':
        return this.soapOk(action, `<NewExternalIPAddress>${this.externalIp}</NewExternalIPAddress>`);
      case 'AddPortMapping':
      case 'AddAnyPortMapping': {
        if (action === 'AddAnyPortMapping' && this.o.upnp !== 2) return this.soapFault(401, 'Invalid Action');
        const lease = Number(arg('NewLeaseDuration'));
        if (this.o.onlyPermanent && lease !== 0) return this.soapFault(725, 'OnlyPermanentLeasesSupported');
        const client = arg('NewInternalClient');
        const internalPort = Number(arg('NewInternalPort'));
        const held = this.mappings.get(this.key(proto, ext));
        if (held && this.o.failRenewals !== undefined) return this.soapFault(this.o.failRenewals, 'Renewal refused');
        const taken = (this.o.taken ?? []).includes(ext) || (held && held.client !== client);
        if (taken && action === 'AddPortMapping') return this.soapFault(718, 'ConflictInMappingEntry');
        const port = action === 'AddAnyPortMapping' ? this.allocate(proto, ext, client, internalPort) : ext;
        this.mappings.set(this.key(proto, port), { proto, externalPort: port, internalPort, client, lifetime: lease, description: arg('NewPortMappingDescription') });
        return this.soapOk(action, action === 'AddAnyPortMapping' ? `<NewReservedPort>${port}</NewReservedPort>` : '');
      }
      case 'DeletePortMapping':
        if (!this.mappings.delete(this.key(proto, ext))) return this.soapFault(714, 'NoSuchEntryInArray');
        return this.soapOk(action);
      case 'GetSpecificPortMappingEntry': {
        const m = this.mappings.get(this.key(proto, ext));
        if (!m) return this.soapFault(714, 'NoSuchEntryInArray');
        return this.soapOk(action, `<NewInternalPort>${m.internalPort}</NewInternalPort><NewInternalClient>${m.client}</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>${m.description}</NewPortMappingDescription><NewLeaseDuration>${m.lifetime}</NewLeaseDuration>`);
      }
      case 'GetGenericPortMappingEntry': {
        const m = [...this.mappings.values()][Number(arg('NewPortMappingIndex'))];
        if (!m) return this.soapFault(713, 'SpecifiedArrayIndexInvalid');
        return this.soapOk(action, `<NewRemoteHost></NewRemoteHost><NewExternalPort>${m.externalPort}</NewExternalPort><NewProtocol>${m.proto.toUpperCase()}</NewProtocol><NewInternalPort>${m.internalPort}</NewInternalPort><NewInternalClient>${m.client}</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>${m.description}</NewPortMappingDescription><NewLeaseDuration>${m.lifetime}</NewLeaseDuration>`);
      }
      default:
        return this.soapFault(401, 'Invalid Action');
    }
  }

  /** Options for a PortMapper / probe pointed at this gateway. */
  get target(): { gateway: string; localAddress: string; pmpPort: number; ssdpTargets: { host: string; port: number }[]; probeWaitMs: number; ssdpTimeoutMs: number } {
    return { gateway: '127.0.0.1', localAddress: '127.0.0.1', pmpPort: this.pmpPort, ssdpTargets: [{ host: '127.0.0.1', port: this.ssdpPort }], probeWaitMs: 50, ssdpTimeoutMs: 300 };
  }
}
