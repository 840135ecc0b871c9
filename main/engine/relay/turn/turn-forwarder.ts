/**
 * The loopback forwarder that carries UDX streams through a TURN allocation.
 *
 * udx-native sends only through its own UDP socket; it cannot hand a datagram
 * to a TURN client. So each TURN peer gets a UDP socket on 127.0.0.1 (its
 * "local address"): the node connects its UDX stream to that local address,
 * and the forwarder relays every datagram that arrives there from the UDX
 * socket to the peer through the TURN server (ChannelData once the channel is
 * bound, RFC 8656 §12; a Send indication before, §10). What the TURN server
 * relays back from that peer (ChannelData §12.6, Data indication §10.4) is sent
 * to the UDX socket from the peer's local address, so to UDX the peer simply
 * lives at 127.0.0.1:<local port>.
 *
 * - Only datagrams from the UDX socket's own address are forwarded (another
 *   local process cannot use our allocation).
 * - Datagrams above `maxDatagram` (default 1400 bytes) are dropped: with the
 *   TURN framing (up to 99 bytes for a Send indication over IPv6) they still fit
 *   a 1500-byte path, and UDX's MTU probes above it fail instead of fragmenting.
 * - A peer behind a symmetric NAT reaches the relay from a port nobody could
 *   predict. Data from a permitted IP on an unknown port therefore opens a new
 *   local address (event `peer`, "learned"), with its own channel; the UDX side
 *   that accepts (firewall) connects back to it. At most `maxPeers` (64).
 */
import { createSocket, type Socket } from 'node:dgram';
import { EngineError } from '../../errors.js';
import { Emitter } from '../../util/emitter.js';
import type { TurnClient, PeerAddress } from './turn-client.js';
import { setBuffers } from './transport.js';

export interface LocalAddress {
  host: string;
  port: number;
}

export type ForwarderEvents = {
  /** A peer's local address is ready; `learned` when it came from traffic, not from addPeer. */
  peer: { ip: string; port: number; localAddress: LocalAddress; learned: boolean };
  /** Something that does not stop forwarding (a channel bind that failed: Send indications go on). */
  warning: EngineError;
};

interface Peer {
  ip: string;
  port: number;
  socket: Socket;
  local: LocalAddress;
  ready: Promise<void>;
}

export interface ForwarderOptions {
  client: TurnClient;
  /** Where the UDX socket receives: 127.0.0.1 (or its specific bound address) and its port. */
  udx: { host: string; port: number };
  maxDatagram?: number;
  maxPeers?: number;
}

const key = (ip: string, port: number): string => `${ip}|${port}`;

export class TurnForwarder {
  readonly events = new Emitter<ForwarderEvents>();
  private readonly peers = new Map<string, Peer>();
  private readonly byLocalPort = new Map<number, Peer>();
  private readonly permitted = new Set<string>();
  private spare: Promise<{ socket: Socket; local: LocalAddress }> | undefined;
  private closed = false;
  private readonly offData: () => void;

  private constructor(private readonly opts: ForwarderOptions, first: { socket: Socket; local: LocalAddress }) {
    this.spare = Promise.resolve(first);
    this.localAddress = first.local;
    this.offData = opts.client.events.on('data', (d) => this.fromRelay(d.ip, d.port, d.data));
  }

  /** The first local address (the one the first `addPeer` returns). */
  readonly localAddress: LocalAddress;

  static async open(opts: ForwarderOptions): Promise<TurnForwarder> {
    return new TurnForwarder(opts, await bindLoopback(opts.udx.host));
  }

  get relayedAddress(): PeerAddress {
    return this.opts.client.relayed;
  }

  /**
   * Makes a peer reachable: CreatePermission for its IP, ChannelBind for its
   * address, and a local address for the UDX stream. Resolves once the
   * permission is installed (a failed channel bind only warns: Send indications
   * carry the data then).
   */
  async addPeer(ip: string, port: number): Promise<LocalAddress> {
    if (this.closed) throw new EngineError('TURN_CLOSED', 'the TURN relay is closed');
    await this.opts.client.createPermission([ip]);
    this.permitted.add(ip);
    const peer = await this.peer(ip, port, false);
    await peer.ready;
    return peer.local;
  }

  /**
   * Permission only (CreatePermission for the IP): data from any port of it
   * then gets a learned local address (event `peer`). For a peer that sends
   * from its own socket behind a NAT whose port we cannot know.
   */
  async permit(ip: string): Promise<void> {
    if (this.closed) throw new EngineError('TURN_CLOSED', 'the TURN relay is closed');
    await this.opts.client.createPermission([ip]);
    this.permitted.add(ip);
  }

  /** The peer behind a local address (for a stream firewall on the accepting side). */
  peerAt(localPort: number): PeerAddress | undefined {
    const p = this.byLocalPort.get(localPort);
    return p ? { ip: p.ip, port: p.port } : undefined;
  }

  localAddressOf(ip: string, port: number): LocalAddress | undefined {
    return this.peers.get(key(ip, port))?.local;
  }

  private async peer(ip: string, port: number, learned: boolean): Promise<Peer> {
    const existing = this.peers.get(key(ip, port));
    if (existing) return existing;
    if (this.peers.size >= (this.opts.maxPeers ?? 64)) throw new EngineError('TURN_TOO_MANY_PEERS', 'too many peers on this TURN relay');
    let resolveReady: () => void = () => {};
    const entry: Peer = { ip, port, socket: undefined as unknown as Socket, local: { host: '', port: 0 }, ready: new Promise((r) => { resolveReady = r; }) };
    this.peers.set(key(ip, port), entry);
    const spare = this.spare;
    this.spare = undefined;
    const { socket, local } = await (spare ?? bindLoopback(this.opts.udx.host));
    if (this.closed) {
      socket.close();
      throw new EngineError('TURN_CLOSED', 'the TURN relay is closed');
    }
    entry.socket = socket;
    entry.local = local;
    this.byLocalPort.set(local.port, entry);
    socket.on('message', (msg, rinfo) => this.fromUdx(entry, msg, rinfo.address, rinfo.port));
    this.opts.client.bindChannel(ip, port).catch((err: EngineError) => {
      if (!this.closed) this.events.emit('warning', err);
    });
    resolveReady();
    this.events.emit('peer', { ip, port, localAddress: local, learned });
    return entry;
  }

  private fromUdx(peer: Peer, msg: Buffer, host: string, port: number): void {
    if (host !== this.opts.udx.host || port !== this.opts.udx.port) return;
    if (msg.length > (this.opts.maxDatagram ?? 1400)) return;
    this.opts.client.send(peer.ip, peer.port, msg);
  }

  private fromRelay(ip: string, port: number, data: Buffer): void {
    if (this.closed) return;
    const known = this.peers.get(key(ip, port));
    if (known) {
      this.deliver(known, data);
      return;
    }
    // The server only relays from IPs we permitted; a new port is a peer behind a symmetric NAT.
    if (!this.permitted.has(ip)) return;
    this.peer(ip, port, true).then((p) => this.deliver(p, data), (err: EngineError) => this.events.emit('warning', err));
  }

  private deliver(peer: Peer, data: Buffer): void {
    if (!peer.local.port) {
      void peer.ready.then(() => this.deliver(peer, data));
      return;
    }
    peer.socket.send(data, this.opts.udx.port, this.opts.udx.host, () => {});
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.offData();
    for (const p of this.peers.values()) if (p.local.port) p.socket.close();
    void this.spare?.then((s) => s.socket.close());
    this.peers.clear();
    this.byLocalPort.clear();
  }
}

function bindLoopback(host: string): Promise<{ socket: Socket; local: LocalAddress }> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      setBuffers(socket);
      socket.on('error', () => {});
      const a = socket.address();
      resolve({ socket, local: { host: a.address, port: a.port } });
    });
  });
}
