/**
 * The rendezvous's STUN server: answers Binding requests (RFC 8489) over UDP and
 * TCP with the address it sees (XOR-MAPPED-ADDRESS, and MAPPED-ADDRESS for old
 * clients), so nodes learn their public endpoint without a third party.
 *
 * With a second address of this machine (`altAddress`) it is an RFC 5780
 * (NAT behaviour discovery) server: it listens on two addresses x two ports
 * (A1:P1, A1:P2, A2:P1, A2:P2), names the alternate in OTHER-ADDRESS and its
 * own in RESPONSE-ORIGIN, and honours CHANGE-REQUEST by answering from the
 * other address and/or port, which is how a client tells NAT filtering apart.
 * Without an alternate address a CHANGE-REQUEST gets 420 (Unknown Attribute);
 * over TCP it gets 400, since a TCP answer cannot come from elsewhere.
 *
 * Unknown comprehension-required attributes get 420 with UNKNOWN-ATTRIBUTES;
 * anything malformed is dropped silently. Answers per source address are rate
 * limited so the server is a poor amplifier.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { BINDING, encodeStun, STUN_ATTR, stunFrameLength, tryParseStun } from '../wire/stun.js';

export interface HostPort {
  ip: string;
  port: number;
}

export interface StunServerOptions {
  /** The primary address A1 ('0.0.0.0' or '::' answer on every address, but without RFC 5780). */
  host: string;
  /** The primary port P1; 0 picks a free one. */
  port: number;
  /** A second address of this machine (A2): RFC 5780 OTHER-ADDRESS and CHANGE-REQUEST. */
  altAddress?: string;
  /** The alternate port P2. @default port + 1 (a free port when port is 0) */
  altPort?: number;
  /** More addresses that answer plain Binding requests on P1 (this server's IPv6, say). */
  extraAddresses?: string[];
  /** Answer over TCP too (on A1:P1 and A2:P1). @default true */
  tcp?: boolean;
  software?: string;
  /** Answers per second per source IP. @default 200 */
  ratePerIp?: number;
  log?: (line: string) => void;
}

export interface StunServer {
  readonly primary: HostPort;
  /** A2:P2, when the server does RFC 5780. */
  readonly alternate: HostPort | null;
  /** What to tell nodes: the primary endpoint (`localIp` stands in for a wildcard host) and the extra addresses. */
  endpointsFor(localIp?: string): HostPort[];
  close(): Promise<void>;
}

type Via = 'same' | 'port' | 'ip' | 'both';

export interface AnswerContext {
  transport: 'udp' | 'tcp';
  /** The endpoint an answer sent `via` a socket comes from, or null when this server cannot send from there. */
  origin: (via: Via) => HostPort | null;
  /** OTHER-ADDRESS for this socket (null: no RFC 5780 here). */
  other: HostPort | null;
  software?: string;
}

/** The answer to one datagram or TCP frame (pure; the sockets live below). Null: drop it. */
export function answerBinding(request: Uint8Array, source: HostPort, ctx: AnswerContext): { bytes: Buffer; via: Via } | null {
  const parsed = tryParseStun(request);
  if (!parsed.ok) return null;
  const req = parsed.message;
  if (req.cls !== 'request') return null;
  const transactionId = req.transactionId;
  const software = ctx.software ? { software: ctx.software } : {};
  const error = (code: number, reason: string, unknown?: number[]) => ({
    bytes: encodeStun({ method: req.method, cls: 'error', transactionId, errorCode: { code, reason }, ...(unknown ? { unknownAttributes: unknown } : {}), ...software }),
    via: 'same' as const,
  });
  if (req.method !== BINDING) return error(400, 'Bad Request: only Binding is served here');
  if (req.unknownRequired.length) return error(420, 'Unknown Attribute', req.unknownRequired);
  let via: Via = 'same';
  if (req.changeRequest && (req.changeRequest.changeIp || req.changeRequest.changePort)) {
    if (ctx.transport === 'tcp') return error(400, 'Bad Request: CHANGE-REQUEST over TCP');
    via = req.changeRequest.changeIp ? (req.changeRequest.changePort ? 'both' : 'ip') : 'port';
    if (!ctx.other || !ctx.origin(via)) return error(420, 'Unknown Attribute', [STUN_ATTR.CHANGE_REQUEST]);
  }
  const origin = ctx.origin(via);
  return {
    bytes: encodeStun({
      cls: 'success', transactionId,
      xorMappedAddress: source,
      mappedAddress: source,
      ...(origin && !isWildcard(origin.ip) ? { responseOrigin: origin } : {}),
      ...(ctx.other ? { otherAddress: ctx.other } : {}),
      ...software,
    }),
    via,
  };
}

const isWildcard = (ip: string) => ip === '0.0.0.0' || ip === '::';
const plainIp = (ip: string) => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

class RateLimit {
  private counts = new Map<string, number>();
  private windowStart = Date.now();
  constructor(private readonly perSecond: number) {}
  allow(ip: string): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000 || this.counts.size > 50_000) {
      this.counts.clear();
      this.windowStart = now;
    }
    const n = (this.counts.get(ip) ?? 0) + 1;
    this.counts.set(ip, n);
    return n <= this.perSecond;
  }
}

function bindUdp(ip: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: net.isIPv6(ip) ? 'udp6' : 'udp4', ipv6Only: net.isIPv6(ip) && ip !== '::' });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, ip, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

function listenTcp(ip: string, port: number, onConnection: (s: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer(onConnection);
  server.maxConnections = 512;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: ip, port, ipv6Only: net.isIPv6(ip) && ip !== '::' }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

const closeUdp = (s: dgram.Socket) => new Promise<void>((resolve) => { try { s.close(() => resolve()); } catch { resolve(); } });
const closeTcp = (s: net.Server) => new Promise<void>((resolve) => s.close(() => resolve()));

/** Binds A1:P1 (and A1:P2, A2:P1, A2:P2 with an alternate address), retrying free ports when port is 0. */
async function bindGrid(a1: string, a2: string | undefined, port: number, altPort: number | undefined): Promise<dgram.Socket[][]> {
  for (let attempt = 0; ; attempt++) {
    const made: dgram.Socket[] = [];
    try {
      const s11 = await bindUdp(a1, port);
      made.push(s11);
      if (!a2) return [[s11]];
      const p1 = s11.address().port;
      const s12 = await bindUdp(a1, altPort ?? (port === 0 ? 0 : p1 + 1));
      made.push(s12);
      const p2 = s12.address().port;
      const s21 = await bindUdp(a2, p1);
      made.push(s21);
      const s22 = await bindUdp(a2, p2);
      made.push(s22);
      return [[s11, s12], [s21, s22]];
    } catch (err) {
      await Promise.all(made.map(closeUdp));
      if (port !== 0 || attempt >= 5) throw err;
    }
  }
}

export async function startStunServer(opts: StunServerOptions): Promise<StunServer> {
  const log = opts.log ?? (() => {});
  const software = opts.software ?? 'postern';
  const limit = new RateLimit(opts.ratePerIp ?? 200);
  if (opts.altAddress && isWildcard(opts.host)) throw new Error('STUN with an alternate address needs a specific primary address, not a wildcard');
  const grid = await bindGrid(opts.host, opts.altAddress, opts.port, opts.altPort);
  const at = (a: number, p: number) => grid[a]?.[p];
  const endpointOf = (s: dgram.Socket | undefined): HostPort | null => (s ? { ip: plainIp(s.address().address), port: s.address().port } : null);
  const primary = endpointOf(at(0, 0)) as HostPort;
  const alternate = opts.altAddress ? endpointOf(at(1, 1)) : null;
  const sockets: dgram.Socket[] = grid.flat();
  const servers: net.Server[] = [];

  const serveUdp = (socket: dgram.Socket, ctxFor: () => AnswerContext, sendVia: (via: Via) => dgram.Socket | undefined) => {
    socket.on('message', (data, rinfo) => {
      const source = { ip: plainIp(rinfo.address), port: rinfo.port };
      if (!limit.allow(source.ip)) return;
      const answer = answerBinding(data, source, ctxFor());
      if (!answer) return;
      sendVia(answer.via)?.send(answer.bytes, rinfo.port, rinfo.address);
    });
  };

  for (let a = 0; a < grid.length; a++) {
    for (let p = 0; p < (grid[a]?.length ?? 0); p++) {
      const pick = (via: Via) => (via === 'same' ? at(a, p) : via === 'port' ? at(a, 1 - p) : via === 'ip' ? at(1 - a, p) : at(1 - a, 1 - p));
      const ctx: AnswerContext = { transport: 'udp', origin: (via) => endpointOf(pick(via)), other: endpointOf(at(1 - a, 1 - p) ?? undefined), software };
      serveUdp(at(a, p) as dgram.Socket, () => ctx, pick);
    }
  }
  for (const ip of opts.extraAddresses ?? []) {
    try {
      const s = await bindUdp(ip, primary.port);
      sockets.push(s);
      const ctx: AnswerContext = { transport: 'udp', origin: (via) => (via === 'same' ? endpointOf(s) : null), other: null, software };
      serveUdp(s, () => ctx, (via) => (via === 'same' ? s : undefined));
    } catch (err) {
      log(`STUN: cannot listen on ${ip}:${primary.port}: ${(err as Error).message}`);
    }
  }

  if (opts.tcp !== false) {
    const tcpAddrs = [opts.host, ...(opts.altAddress ? [opts.altAddress] : [])];
    for (const ip of tcpAddrs) {
      try {
        servers.push(await listenTcp(ip, primary.port, (conn) => serveTcp(conn, limit, software)));
      } catch (err) {
        log(`STUN: no TCP on ${ip}:${primary.port}: ${(err as Error).message}`);
      }
    }
  }
  log(`STUN on ${primary.ip}:${primary.port}${alternate ? `, RFC 5780 alternate ${alternate.ip}:${alternate.port}` : ''}`);

  return {
    primary,
    alternate,
    endpointsFor(localIp?: string) {
      const ip = isWildcard(primary.ip) ? (localIp ? plainIp(localIp) : null) : primary.ip;
      const extra = (opts.extraAddresses ?? []).filter((x) => x !== ip).map((x) => ({ ip: x, port: primary.port }));
      return [...(ip ? [{ ip, port: primary.port }] : []), ...extra];
    },
    async close() {
      await Promise.all([...sockets.map(closeUdp), ...servers.map(closeTcp)]);
    },
  };
}

/** STUN over TCP (RFC 8489 section 6.2.2): frames are whole messages, read by their header's length. */
function serveTcp(conn: net.Socket, limit: RateLimit, software: string): void {
  let buffered = Buffer.alloc(0);
  conn.setTimeout(10_000, () => conn.destroy());
  conn.on('error', () => {});
  const source = { ip: plainIp(conn.remoteAddress ?? '0.0.0.0'), port: conn.remotePort ?? 0 };
  const local = { ip: plainIp(conn.localAddress ?? '0.0.0.0'), port: conn.localPort ?? 0 };
  conn.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 20) {
      const size = stunFrameLength(buffered);
      if (size === null || size > 4096) return void conn.destroy();
      if (buffered.length < size) return;
      const frame = buffered.subarray(0, size);
      buffered = buffered.subarray(size);
      if (!limit.allow(source.ip)) continue;
      const answer = answerBinding(frame, source, { transport: 'tcp', origin: (via) => (via === 'same' ? local : null), other: null, software });
      if (answer) conn.write(answer.bytes);
    }
  });
}

export const DEFAULT_STUN_PORT = 3478;

/**
 * The rendezvous's STUN, with its defaults: port 3478, or a free port when the
 * rendezvous itself is on loopback or a free port (tests). `stunPort: null`
 * turns it off. A default port that is taken only logs; an explicit port or an
 * alternate address that cannot be served throws.
 */
export async function startRendezvousStun(o: {
  host: string; httpPort: number; stunPort?: number | null; altAddress?: string; stunAddresses?: string[]; log?: (line: string) => void;
}): Promise<StunServer | null> {
  if (o.stunPort === null) return null;
  const loopback = o.host === 'localhost' || o.host === '::1' || o.host.startsWith('127.');
  const port = o.stunPort ?? (o.httpPort === 0 || loopback ? 0 : DEFAULT_STUN_PORT);
  try {
    return await startStunServer({
      host: o.host, port,
      ...(o.altAddress ? { altAddress: o.altAddress } : {}),
      ...(o.stunAddresses?.length ? { extraAddresses: o.stunAddresses } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
  } catch (err) {
    if (o.stunPort !== undefined || o.altAddress) throw err; // asked for explicitly: say so
    o.log?.(`STUN is off: ${(err as Error).message}`);
    return null;
  }
}
