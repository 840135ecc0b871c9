/**
 * `openTurnRelay`: a TURN allocation (RFC 8656) plus the loopback forwarder
 * that lets the node's UDX streams use it. This is the API a `server-relay`
 * tier variant (a TURN server in the user's settings) builds on.
 *
 * How a tier uses it. Let R be the side with a relay, P the other side.
 *
 *   R:  const relay = await openTurnRelay({ server, credentials, udx: ctx.udp });
 *       advertise relay.relayedAddress as a candidate { kind: 'relay', via: 'turn' }
 *       through the rendezvous (with a UDX stream ID, as udp-punch does).
 *
 * Case 1, both sides have a relay (both symmetric NAT, or UDP blocked so both
 * use TCP to the TURN server): each side learns the other's relayedAddress
 * (exact: relayed addresses do not move), then
 *       const local = await relay.addPeer(other.ip, other.port);   // permission + channel
 *       stream.connect(udp.socket, otherStreamId, local.port, local.host);
 * Both sides may connect; UDX needs no acceptor then.
 *
 * Case 2, only R has a relay; P sends from its own UDP socket straight to
 * R.relayedAddress (stream.connect(udp.socket, rStreamId, relayed.port, relayed.ip)).
 * R must permit P's public IP before P's first packet:
 *       await relay.permit(pPublicIp);
 * P's packets reach the relay from a port R cannot know (behind a symmetric
 * NAT it is not even the one the rendezvous saw); the forwarder opens a local
 * address for it on the first packet (event `peer`, `learned: true`) and binds
 * a channel. So in case 2 R is the UDX acceptor, as in answerPunch:
 *       const stream = udp.udx.createStream(id, { firewall: (socket, port, host) => {
 *         const peer = relay.peerAt(port);                    // host is relay.localAddress.host
 *         if (host !== relay.localAddress.host || peer?.ip !== pPublicIp) return true;  // drop
 *         if (!stream.connected) stream.connect(socket, pStreamId, port, host);
 *         return false;
 *       } });
 *
 * Either way the secure channel (Noise XX with the pinned key) runs on top, so
 * the TURN server only ever relays ciphertext. Close the relay when the
 * connection ends (Refresh LIFETIME 0 frees it on the server); `events.closed`
 * fires when the allocation is lost (TCP connection dropped, refresh refused),
 * and the tier should treat that as the link going down.
 */
import type { UDXSocket } from 'udx-native';
import { EngineError } from '../../errors.js';
import { Emitter } from '../../util/emitter.js';
import type { UdpSocket } from '../../net/udp-socket.js';
import type { TurnCredentials } from './credentials.js';
import { TurnClient, TurnError, type PeerAddress, type TurnClientOptions } from './turn-client.js';
import { TurnForwarder, type LocalAddress } from './turn-forwarder.js';
import type { TurnServerAddress } from './transport.js';

export type { TurnCredentials } from './credentials.js';
export { restCredentials } from './credentials.js';
export type { TurnServerAddress } from './transport.js';
export type { LocalAddress } from './turn-forwarder.js';
export type { PeerAddress } from './turn-client.js';

export interface TurnRelayOptions extends Omit<TurnClientOptions, 'server' | 'credentials'> {
  server: TurnServerAddress;
  credentials: TurnCredentials;
  /** The node's UDP socket (or a bare UDX socket) the UDX streams run on; it must be bound. */
  udx: UdpSocket | UDXSocket;
  /** Largest datagram forwarded. @default 1400 */
  maxDatagram?: number;
}

export type TurnRelayEvents = {
  peer: { ip: string; port: number; localAddress: LocalAddress; learned: boolean };
  warning: EngineError;
  closed: { error?: EngineError };
};

export interface TurnRelay {
  /** The first peer's local address on loopback (what `addPeer` returns first). */
  readonly localAddress: LocalAddress;
  /** Our relayed transport address on the TURN server: advertise it as a 'relay' candidate. */
  readonly relayedAddress: PeerAddress;
  /** Our address as the TURN server saw it (server-reflexive). */
  readonly mappedAddress: PeerAddress | undefined;
  readonly transport: 'udp' | 'tcp';
  /** Granted allocation lifetime in seconds (refreshed at half). */
  readonly lifetimeSec: number;
  readonly events: Emitter<TurnRelayEvents>;
  /** Permission + channel for a peer; resolves with the local address to connect the UDX stream to. */
  addPeer(ip: string, port: number): Promise<LocalAddress>;
  /** Permission only: any port of this IP may send; each new port gets a learned local address (event `peer`). */
  permit(ip: string): Promise<void>;
  /** The peer behind a local port (for a firewall on the accepting side). */
  peerAt(localPort: number): PeerAddress | undefined;
  /** Deallocates on the server and closes the local sockets. */
  close(): Promise<void>;
}

function udxAddress(udx: UdpSocket | UDXSocket): { host: string; port: number } {
  const sock = 'socket' in udx ? udx.socket : udx;
  const a = sock.bound ? sock.address() : null;
  if (!a) return { host: '127.0.0.1', port: 0 };
  const wildcard = a.host === '0.0.0.0' || a.host === '::' || a.host === '' || a.host.includes(':');
  return { host: wildcard ? '127.0.0.1' : a.host, port: a.port };
}

/**
 * Allocates on the TURN server and opens the forwarder. A 437 on Allocate (a
 * stale allocation on the same 5-tuple) is retried once on a fresh transport.
 */
export async function openTurnRelay(opts: TurnRelayOptions): Promise<TurnRelay> {
  const udx = udxAddress(opts.udx);
  if (!udx.port) throw new EngineError('TURN_NO_SOCKET', 'the UDX socket must be bound before opening a TURN relay');
  const { udx: _udx, maxDatagram, ...clientOpts } = opts;
  let client: TurnClient;
  try {
    client = await TurnClient.allocate(clientOpts);
  } catch (err) {
    if (!(err instanceof TurnError && err.status === 437)) throw err;
    client = await TurnClient.allocate(clientOpts);
  }
  let forwarder: TurnForwarder;
  try {
    forwarder = await TurnForwarder.open({ client, udx, ...(maxDatagram !== undefined ? { maxDatagram } : {}) });
  } catch (err) {
    await client.close();
    throw err;
  }
  const events = new Emitter<TurnRelayEvents>();
  forwarder.events.on('peer', (p) => events.emit('peer', p));
  forwarder.events.on('warning', (w) => events.emit('warning', w));
  client.events.on('warning', (w) => events.emit('warning', w));
  client.events.on('closed', (c) => {
    forwarder.close();
    events.emit('closed', c);
  });
  return {
    localAddress: forwarder.localAddress,
    relayedAddress: client.relayed,
    mappedAddress: client.mapped,
    transport: client.transportKind,
    get lifetimeSec() { return client.lifetimeSec; },
    events,
    addPeer: (ip, port) => forwarder.addPeer(ip, port),
    permit: (ip) => forwarder.permit(ip),
    peerAt: (port) => forwarder.peerAt(port),
    async close() {
      forwarder.close();
      await client.close();
    },
  };
}
