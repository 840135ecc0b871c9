/**
 * The client ↔ TURN server transport (RFC 8656 §3.1, §12.5): one UDP socket
 * connected to the server (every datagram is one STUN message or one
 * ChannelData message), or one TCP connection carrying both, back to back,
 * ChannelData padded to a multiple of 4 bytes. TLS/DTLS are not implemented.
 *
 * Over TCP the send queue is bounded for data (ChannelData/Send indications):
 * beyond `maxQueuedBytes` a data frame is dropped, as a full UDP buffer would
 * drop it, so UDX's congestion control sees loss instead of a growing delay.
 * Control messages (requests) are always queued.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6, type Socket as TcpSocket } from 'node:net';
import { Emitter } from '../../util/emitter.js';
import { splitTurnStream } from '../../../wire/turn.js';

export type TurnTransportKind = 'udp' | 'tcp';

export interface TurnServerAddress {
  host: string;
  port: number;
  transport: TurnTransportKind;
}

export type TransportEvents = {
  frame: Buffer;
  close: Error | undefined;
};

export interface TurnTransport {
  readonly kind: TurnTransportKind;
  readonly events: Emitter<TransportEvents>;
  /** The local address the transport uses (for logs). */
  readonly local: { host: string; port: number };
  /** Sends one frame; `data` frames may be dropped under pressure. False when dropped. */
  send(frame: Buffer, data?: boolean): boolean;
  close(): void;
}

const DEFAULT_MAX_QUEUED = 256 * 1024;

/** Bigger socket buffers than the 208 KiB default: a burst of UDX packets must not overflow them while the event loop is busy. */
export function setBuffers(socket: UdpSocket, bytes = 2 << 20): void {
  try {
    socket.setRecvBufferSize(bytes);
    socket.setSendBufferSize(bytes);
  } catch {
    // capped by net.core.rmem_max / wmem_max; the default works, only slower
  }
}


class UdpTransport implements TurnTransport {
  readonly kind = 'udp' as const;
  readonly events = new Emitter<TransportEvents>();
  private closed = false;
  constructor(private readonly sock: UdpSocket) {
    sock.on('message', (msg) => this.events.emit('frame', msg));
    // A connected UDP socket reports ICMP errors (port unreachable) as errors: they are
    // transient for us (retransmissions and the refresh timer cover them), never fatal.
    sock.on('error', () => {});
  }

  get local(): { host: string; port: number } {
    try {
      const a = this.sock.address();
      return { host: a.address, port: a.port };
    } catch {
      return { host: '', port: 0 };
    }
  }

  send(frame: Buffer): boolean {
    if (this.closed) return false;
    this.sock.send(frame, () => {});
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try { this.sock.close(); } catch { /* already closed */ }
    this.events.emit('close', undefined);
  }
}

class TcpTransport implements TurnTransport {
  readonly kind = 'tcp' as const;
  readonly events = new Emitter<TransportEvents>();
  private closed = false;
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly sock: TcpSocket, private readonly maxQueued: number) {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (err) => this.fail(err));
    sock.on('close', () => this.fail(new Error('the TURN server closed the TCP connection')));
  }

  get local(): { host: string; port: number } {
    return { host: this.sock.localAddress ?? '', port: this.sock.localPort ?? 0 };
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let split: { frames: Buffer[]; rest: Buffer };
    try {
      split = splitTurnStream(this.pending);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    // Copy the tail so a large chunk is not kept alive by a small remainder.
    this.pending = split.rest.length ? Buffer.from(split.rest) : Buffer.alloc(0);
    for (const f of split.frames) {
      if (this.closed) return;
      this.events.emit('frame', f);
    }
  }

  send(frame: Buffer, data = false): boolean {
    if (this.closed) return false;
    if (data && this.sock.writableLength > this.maxQueued) return false;
    this.sock.write(frame);
    return true;
  }

  private fail(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.destroy();
    this.events.emit('close', err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 1000).unref();
    this.events.emit('close', undefined);
  }
}

/** Opens a transport to the server; resolves once the UDP socket is bound or the TCP connection is up. */
export function openTransport(
  server: TurnServerAddress,
  opts: { signal?: AbortSignal; connectTimeoutMs?: number; maxQueuedBytes?: number } = {},
): Promise<TurnTransport> {
  return new Promise((resolve, reject) => {
    if (server.transport === 'udp') {
      const sock = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
      const onError = (err: Error): void => { try { sock.close(); } catch { /* closed */ } reject(err); };
      sock.once('error', onError);
      sock.connect(server.port, server.host, () => {
        sock.off('error', onError);
        setBuffers(sock);
        resolve(new UdpTransport(sock));
      });
      return;
    }
    const sock = connect({ host: server.host, port: server.port });
    const timer = setTimeout(() => done(new Error(`no TCP connection to the TURN server ${server.host}:${server.port} after ${opts.connectTimeoutMs ?? 10_000} ms`)), opts.connectTimeoutMs ?? 10_000);
    const onAbort = (): void => done(new Error('aborted'));
    const done = (err?: Error): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.off('error', done);
      if (err) {
        sock.destroy();
        reject(err);
      } else {
        resolve(new TcpTransport(sock, opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED));
      }
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('error', done);
    sock.once('connect', () => done());
  });
}
