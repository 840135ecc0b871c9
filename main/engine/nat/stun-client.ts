/**
 * STUN client (RFC 8489 Binding) on the node's one UDP socket, or on any socket
 * that can send datagrams and claim the ones addressed to it. Requests are
 * retransmitted as RFC 8489 section 6.2.1 says (the wait doubles each time),
 * but with a short first wait and a hard deadline, because NAT discovery must
 * be done in under three seconds. RFC 5780 CHANGE-REQUEST flags are passed
 * through for filtering tests. Answers are matched by transaction ID and the
 * client claims only datagrams that answer one of its own requests, so other
 * users of the socket (punching, UDX) never lose a packet to it.
 *
 * Also here: a dgram socket wrapper for extra probe sockets (IPv6, allocation
 * probes) and STUN over TCP (RFC 8489 section 6.2.2).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import {
  encodeBindingRequest, isStunPacket, newTransactionId, stunFrameLength, tryParseStun, type StunMessage,
} from '../../wire/stun.js';

export interface HostPort {
  ip: string;
  port: number;
}

export interface StunDatagram {
  data: Buffer;
  host: string;
  port: number;
}

/** What the client needs of a socket; the node's UdpSocket has exactly this. */
export interface StunTransport {
  send(data: Buffer, port: number, host: string): Promise<boolean>;
  handle(claims: (data: Buffer) => boolean, handle: (d: StunDatagram) => void): () => void;
}

/** A socket the caller owns and closes (extra probe sockets). */
export interface ProbeSocket extends StunTransport {
  readonly port: number;
  close(): Promise<void>;
}

export interface StunResponse {
  message: StunMessage;
  /** Where the answer came from (with CHANGE-REQUEST: the other address/port, if the NAT let it in). */
  from: HostPort;
  /** XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS from old servers): how the server saw us. */
  mapped: HostPort | null;
  /** From the first transmission to the answer. */
  rttMs: number;
  transmissions: number;
}

export interface StunRequestOptions {
  changeIp?: boolean;
  changePort?: boolean;
  /** Give up after this long. @default 2500 */
  timeoutMs?: number;
  /** The first retransmission timeout; it doubles after each send. @default 250 */
  rtoMs?: number;
  /** RFC 8489 Rc: most transmissions. @default 7 */
  maxTransmissions?: number;
}

const plainIp = (ip: string) => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

interface Pending {
  resolve: (r: StunResponse | null) => void;
  started: number;
  transmissions: number;
}

export class StunClient {
  private pending = new Map<string, Pending>();
  private readonly release: () => void;
  private closed = false;

  constructor(private readonly transport: StunTransport, private readonly opts: { software?: string } = {}) {
    this.release = transport.handle(
      (data) => isStunPacket(data) && this.pending.has(data.subarray(8, 20).toString('hex')),
      (d) => this.onDatagram(d),
    );
  }

  private onDatagram(d: StunDatagram): void {
    const parsed = tryParseStun(d.data);
    if (!parsed.ok) return;
    const m = parsed.message;
    if (m.cls !== 'success' && m.cls !== 'error') return;
    const key = m.transactionId.toString('hex');
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    const addr = m.xorMappedAddress ?? m.mappedAddress;
    p.resolve({
      message: m,
      from: { ip: plainIp(d.host), port: d.port },
      mapped: addr ? { ip: plainIp(addr.ip), port: addr.port } : null,
      rttMs: performance.now() - p.started,
      transmissions: p.transmissions,
    });
  }

  /** One Binding transaction. Resolves with the answer (success or error class), or null on timeout. */
  request(server: HostPort, o: StunRequestOptions = {}): Promise<StunResponse | null> {
    if (this.closed) return Promise.resolve(null);
    const txid = newTransactionId();
    const key = txid.toString('hex');
    const bytes = encodeBindingRequest(txid, { changeIp: o.changeIp, changePort: o.changePort, ...(this.opts.software ? { software: this.opts.software } : {}) });
    const timeoutMs = o.timeoutMs ?? 2500;
    const maxTx = o.maxTransmissions ?? 7;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => finish(null), timeoutMs);
      const finish = (r: StunResponse | null) => {
        clearTimeout(timer);
        clearTimeout(deadline);
        this.pending.delete(key);
        resolve(r);
      };
      const p: Pending = { resolve: finish, started: performance.now(), transmissions: 0 };
      this.pending.set(key, p);
      let rto = o.rtoMs ?? 250;
      const transmit = () => {
        if (!this.pending.has(key)) return;
        p.transmissions++;
        void this.transport.send(bytes, server.port, server.ip);
        if (p.transmissions < maxTx) timer = setTimeout(transmit, rto);
        rto *= 2;
      };
      transmit();
    });
  }

  /** Stops claiming datagrams; pending requests resolve with null. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    for (const p of [...this.pending.values()]) p.resolve(null);
    this.pending.clear();
  }
}

/** A plain dgram socket as a ProbeSocket (for probes that must not use the node's socket). */
export async function openProbeSocket(family: 4 | 6 = 4, bindHost?: string): Promise<ProbeSocket> {
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, bindHost ?? (family === 6 ? '::' : '0.0.0.0'), () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => {});
  let handlers: { claims: (d: Buffer) => boolean; handle: (d: StunDatagram) => void }[] = [];
  socket.on('message', (data, rinfo) => {
    handlers.find((h) => h.claims(data))?.handle({ data, host: rinfo.address, port: rinfo.port });
  });
  let closed = false;
  return {
    port: socket.address().port,
    send: (data, port, host) => new Promise((resolve) => {
      if (closed) return resolve(false);
      socket.send(data, port, host, (err) => resolve(!err));
    }),
    handle(claims, handle) {
      const h = { claims, handle };
      handlers.push(h);
      return () => { handlers = handlers.filter((x) => x !== h); };
    },
    close: () => new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      socket.close(() => resolve());
    }),
  };
}

/** One Binding request over TCP: the address the server saw this connection come from, or null. */
export function stunOverTcp(server: HostPort, timeoutMs = 2000): Promise<{ mapped: HostPort; local: HostPort } | null> {
  return new Promise((resolve) => {
    const txid = newTransactionId();
    let buffered = Buffer.alloc(0);
    const conn = net.connect({ host: server.ip, port: server.port });
    const done = (r: { mapped: HostPort; local: HostPort } | null) => {
      clearTimeout(timer);
      conn.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    conn.on('error', () => done(null));
    conn.on('connect', () => conn.write(encodeBindingRequest(txid)));
    conn.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const size = stunFrameLength(buffered);
      if (size === null || size > 4096) return done(null);
      if (buffered.length < size) return;
      const parsed = tryParseStun(buffered.subarray(0, size));
      const addr = parsed.ok && parsed.message.transactionId.equals(txid) ? parsed.message.xorMappedAddress ?? parsed.message.mappedAddress : undefined;
      done(addr ? { mapped: { ip: plainIp(addr.ip), port: addr.port }, local: { ip: plainIp(conn.localAddress ?? ''), port: conn.localPort ?? 0 } } : null);
    });
  });
}
