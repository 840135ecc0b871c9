/**
 * A small TURN server (RFC 8656) on 127.0.0.1 for the unit tests: long-term
 * credentials with 401/438 (RFC 8489 §9.2), Allocate/Refresh/CreatePermission/
 * ChannelBind, Send and Data indications, ChannelData (padded over TCP), over
 * UDP and TCP. It enforces permissions and records every request so tests can
 * check what the client did and when. Faults can be injected: stale nonces,
 * dropped requests, wrong integrity, error codes. Not for production use.
 */
import { createSocket, type Socket as Dgram } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { verifyMessageIntegrity } from '../../../wire/stun.js';
import {
  TURN_METHOD, encodeChannelData, encodeTurn, longTermKey, parseChannelData, splitTurnStream, tryParseTurn,
  type TurnEncodeInput, type TurnMessage,
} from '../../../wire/turn.js';

interface Allocation {
  key: string;
  relay: Dgram;
  relayPort: number;
  reply: (frame: Buffer) => void;
  tcp: boolean;
  client: { ip: string; port: number };
  permissions: Set<string>;
  channels: Map<number, string>;
  byPeer: Map<string, number>;
  expires: number;
}

export interface RequestLog {
  at: number;
  method: number;
  lifetime?: number;
  peers: string[];
  channel?: number;
  authenticated: boolean;
}

export class TestTurnServer {
  readonly realm = 'test.realm';
  readonly log: RequestLog[] = [];
  readonly allocations = new Map<string, Allocation>();
  /** The next N authenticated requests get 438 Stale Nonce. */
  staleNext = 0;
  /** Drop the next N requests without answering (UDP retransmission tests). */
  dropNext = 0;
  /** Sign responses with a wrong key. */
  corruptIntegrity = false;
  /** Answer a method with an error code instead (with integrity unless `unsigned`, as coturn's 437). */
  failMethod: { method: number; code: number; reason: string; unsigned?: boolean } | undefined;
  maxLifetime = 600;
  private nonce = randomBytes(8).toString('hex');
  private udp!: Dgram;
  private tcp!: Server;
  private readonly tcpConns = new Set<TcpSocket>();
  udpPort = 0;
  tcpPort = 0;

  constructor(private readonly users: Record<string, string>) {}

  async start(): Promise<this> {
    this.udp = createSocket('udp4');
    this.udp.on('message', (msg, r) => this.onFrame(msg, `udp|${r.address}|${r.port}`, { ip: r.address, port: r.port }, false, (f) => this.udp.send(f, r.port, r.address)));
    await new Promise<void>((res) => this.udp.bind(0, '127.0.0.1', () => res()));
    this.udpPort = this.udp.address().port;
    this.tcp = createServer((sock) => this.onTcp(sock));
    await new Promise<void>((res) => this.tcp.listen(0, '127.0.0.1', () => res()));
    this.tcpPort = (this.tcp.address() as { port: number }).port;
    return this;
  }

  /** Drops every TCP connection (the allocations on them end). */
  dropTcp(): void {
    for (const c of this.tcpConns) c.destroy();
  }

  requests(method: number): RequestLog[] {
    return this.log.filter((l) => l.method === method);
  }

  private onTcp(sock: TcpSocket): void {
    this.tcpConns.add(sock);
    const key = `tcp|${sock.remoteAddress}|${sock.remotePort}`;
    const client = { ip: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      try {
        const { frames, rest } = splitTurnStream(pending);
        pending = Buffer.from(rest);
        for (const f of frames) this.onFrame(f, key, client, true, (out) => sock.write(out));
      } catch {
        sock.destroy();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.tcpConns.delete(sock);
      this.free(key);
    });
  }

  private free(key: string): void {
    const a = this.allocations.get(key);
    if (!a) return;
    this.allocations.delete(key);
    a.relay.close();
  }

  private onFrame(f: Buffer, key: string, client: { ip: string; port: number }, tcp: boolean, reply: (f: Buffer) => void): void {
    const cd = parseChannelData(f);
    if (cd) {
      const a = this.allocations.get(key);
      const peer = a?.channels.get(cd.channel);
      if (a && peer) {
        const [ip = '', port = '0'] = peer.split('|');
        if (a.permissions.has(ip)) a.relay.send(cd.data, Number(port), ip);
      }
      return;
    }
    const p = tryParseTurn(f);
    if (!p.ok) return;
    const m = p.message;
    if (m.cls === 'indication' && m.method === TURN_METHOD.SEND) {
      const a = this.allocations.get(key);
      const peer = m.xorPeerAddresses[0];
      if (a && peer && m.data && a.permissions.has(peer.ip)) a.relay.send(m.data, peer.port, peer.ip);
      return;
    }
    if (m.cls !== 'request') return;
    if (this.dropNext > 0) {
      this.dropNext--;
      return;
    }
    void this.onRequest(f, m, key, client, tcp, reply);
  }

  private async onRequest(raw: Buffer, m: TurnMessage, key: string, client: { ip: string; port: number }, tcp: boolean, reply: (f: Buffer) => void): Promise<void> {
    const base = { method: m.method, transactionId: m.transactionId };
    const error = (code: number, reason: string, extra: Partial<TurnEncodeInput> = {}): void =>
      reply(encodeTurn({ ...base, cls: 'error', errorCode: { code, reason }, ...extra }));
    const password = m.username !== undefined ? this.users[m.username] : undefined;
    if (!m.hasMessageIntegrity || password === undefined || m.realm !== this.realm) {
      this.log.push({ at: Date.now(), method: m.method, peers: [], authenticated: false });
      error(401, 'Unauthorized', { nonce: this.nonce, realm: this.realm });
      return;
    }
    const userKey = longTermKey(m.username ?? '', this.realm, password);
    if (!verifyMessageIntegrity(raw, userKey)) {
      this.log.push({ at: Date.now(), method: m.method, peers: [], authenticated: false });
      error(401, 'Unauthorized', { nonce: this.nonce, realm: this.realm });
      return;
    }
    if (m.nonce !== this.nonce || this.staleNext > 0) {
      if (this.staleNext > 0) this.staleNext--;
      this.nonce = randomBytes(8).toString('hex');
      error(438, 'Stale Nonce', { nonce: this.nonce, realm: this.realm });
      return;
    }
    this.log.push({
      at: Date.now(), method: m.method, peers: m.xorPeerAddresses.map((a) => `${a.ip}|${a.port}`), authenticated: true,
      ...(m.lifetime !== undefined ? { lifetime: m.lifetime } : {}), ...(m.channelNumber !== undefined ? { channel: m.channelNumber } : {}),
    });
    const signKey = this.corruptIntegrity ? longTermKey('x', 'y', 'z') : userKey;
    const ok = (extra: Partial<TurnEncodeInput> = {}): void =>
      reply(encodeTurn({ ...base, cls: 'success', ...extra, auth: { username: '', realm: '', nonce: '', key: signKey }, integrityOnly: true }));
    const errSigned = (code: number, reason: string): void =>
      reply(encodeTurn({ ...base, cls: 'error', errorCode: { code, reason }, auth: { username: '', realm: '', nonce: '', key: signKey }, integrityOnly: true }));
    if (this.failMethod?.method === m.method) {
      if (this.failMethod.unsigned) error(this.failMethod.code, this.failMethod.reason);
      else errSigned(this.failMethod.code, this.failMethod.reason);
      return;
    }
    const a = this.allocations.get(key);
    const lifetime = Math.min(m.lifetime ?? 600, this.maxLifetime);
    switch (m.method) {
      case TURN_METHOD.ALLOCATE: {
        if (a) { errSigned(437, 'Allocation Mismatch'); return; }
        const relay = createSocket('udp4');
        await new Promise<void>((res) => relay.bind(0, '127.0.0.1', () => res()));
        const alloc: Allocation = {
          key, relay, relayPort: relay.address().port, reply, tcp, client, permissions: new Set(), channels: new Map(), byPeer: new Map(),
          expires: Date.now() + lifetime * 1000,
        };
        relay.on('message', (data, r) => this.fromPeer(alloc, data, r.address, r.port));
        this.allocations.set(key, alloc);
        ok({ xorRelayedAddress: { ip: '127.0.0.1', port: alloc.relayPort }, xorMappedAddress: client, lifetime });
        return;
      }
      case TURN_METHOD.REFRESH:
        if (!a) { errSigned(437, 'Allocation Mismatch'); return; }
        if (m.lifetime === 0) this.free(key);
        else a.expires = Date.now() + lifetime * 1000;
        ok({ lifetime: m.lifetime === 0 ? 0 : lifetime });
        return;
      case TURN_METHOD.CREATE_PERMISSION:
        if (!a) { errSigned(437, 'Allocation Mismatch'); return; }
        for (const p of m.xorPeerAddresses) a.permissions.add(p.ip);
        ok();
        return;
      case TURN_METHOD.CHANNEL_BIND: {
        const peer = m.xorPeerAddresses[0];
        if (!a || !peer || m.channelNumber === undefined) { errSigned(400, 'Bad Request'); return; }
        const pk = `${peer.ip}|${peer.port}`;
        a.channels.set(m.channelNumber, pk);
        a.byPeer.set(pk, m.channelNumber);
        a.permissions.add(peer.ip);
        ok();
        return;
      }
      default:
        errSigned(400, 'Bad Request');
    }
  }

  private fromPeer(a: Allocation, data: Buffer, ip: string, port: number): void {
    if (!a.permissions.has(ip)) return;
    const ch = a.byPeer.get(`${ip}|${port}`);
    if (ch !== undefined) a.reply(encodeChannelData(ch, data, a.tcp));
    else a.reply(encodeTurn({ method: TURN_METHOD.DATA, cls: 'indication', transactionId: randomBytes(12), xorPeerAddresses: [{ ip, port }], data }));
  }

  async stop(): Promise<void> {
    for (const k of [...this.allocations.keys()]) this.free(k);
    this.dropTcp();
    this.udp.close();
    await new Promise<void>((res) => this.tcp.close(() => res()));
  }
}
