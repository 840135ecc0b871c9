/**
 * The node's one UDP socket (seeds 001 and 004: keep all traffic on one port, so
 * the NAT mapping learned by STUN is the one punching and data use). It is a
 * udx-native socket: reliable UDX streams run on it, and every datagram that is
 * not a stream packet (STUN, punch probes, reachability probes) is handed to the
 * first handler whose filter claims it.
 */
import UDX, { type UDXSocket } from 'udx-native';

export interface Datagram {
  data: Buffer;
  host: string;
  port: number;
}

type Handler = { claims: (data: Buffer) => boolean; handle: (d: Datagram) => void };

export class UdpSocket {
  readonly udx: UDX;
  readonly socket: UDXSocket;
  private handlers: Handler[] = [];
  private closed = false;

  constructor(udx?: UDX) {
    this.udx = udx ?? new UDX();
    this.socket = this.udx.createSocket();
    this.socket.on('message', (data: Buffer, rinfo: { host: string; port: number }) => {
      const h = this.handlers.find((x) => x.claims(data));
      if (h) h.handle({ data, host: rinfo.host, port: rinfo.port });
    });
    this.socket.on('error', () => {});
  }

  bind(port = 0, host = '0.0.0.0'): number {
    this.socket.bind(port, host);
    return this.socket.address().port;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Send one datagram; `ttl` limits its hops (low-TTL priming of our own NAT). */
  async send(data: Buffer, port: number, host: string, ttl?: number): Promise<boolean> {
    if (this.closed) return false;
    try {
      return await this.socket.send(data, port, host, ttl);
    } catch {
      return false;
    }
  }

  /** Claim datagrams for which `claims` returns true; returns an unsubscribe function. */
  handle(claims: (data: Buffer) => boolean, handle: (d: Datagram) => void): () => void {
    const h: Handler = { claims, handle };
    this.handlers.push(h);
    return () => {
      this.handlers = this.handlers.filter((x) => x !== h);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.socket.close().catch(() => {});
  }
}
