/**
 * The answering side of the ladder: signals that arrive through the rendezvous
 * from a peer that is trying to reach us — a dial-back request (`reverse`), a UDP
 * or TCP hole punch, a TURN relay, a server-relay circuit — and the replies to
 * our own requests. Each request is checked (a paired device, or the other end of
 * the invite we showed), answered, and the connection it yields is handed to the
 * node's incoming path exactly as a TCP connection to our listener would be.
 */
import type { Duplex } from 'node:stream';
import type { PeerInfo } from '../wire/signaling.js';
import type { Identity } from './identity/identity.js';
import type { Incoming } from './listener.js';
import { receiveGreeting, type Link } from './ladder/link.js';
import type { ReverseHub } from './ladder/reverse-hub.js';
import { dialBack, type DialContext, type Knobs } from './ladder/tiers.js';
import type { RendezvousClient } from './signaling/rendezvous-client.js';
import type { SignalReplies } from './punch/signals.js';
import type { UdpSocket } from './net/udp-socket.js';
import { answerPunch, PunchRequestSchema, stunServerOf } from './punch/udp-punch-tier.js';
import { answerTcpPunch, TcpPunchRequestSchema } from './punch/tcp-punch-tier.js';
import { answerTurn, TurnRequestSchema, type TurnConfig } from './relay/turn-tier.js';
import { connectRelay } from './relay/server-relay-tier.js';
import type { NatDiscovery } from '../../shared/domain/nat.js';
import { errorMessage } from './errors.js';

/** What the responder needs of the node, read live. */
export interface ResponderHost {
  identity: () => Identity;
  knobs: Knobs;
  log: (line: string) => void;
  rendezvous: () => RendezvousClient | null;
  udp: () => UdpSocket | null;
  nat: () => NatDiscovery | null;
  /** Settles when NAT discovery has run. */
  natReady: () => Promise<void>;
  turn: () => TurnConfig | undefined;
  isContact: (peerId: string) => boolean;
  /** The nameplate of the invite we show right now, if any. */
  openInvite: () => number | undefined;
  reverse: ReverseHub;
  replies: SignalReplies;
  hostAddresses: () => string[];
  udpCandidates: () => { ip: string; port: number }[];
  dialContext: (target: PeerInfo, purpose: DialContext['purpose'], nameplate?: number) => DialContext;
  adopt: (link: Link) => void;
  onIncoming: (incoming: Incoming) => void;
}

export class SignalResponder {
  private punchGo = new Map<string, (body: Record<string, unknown>) => void>();

  constructor(private readonly host: ResponderHost) {}

  onSignal(from: PeerInfo, body: Record<string, unknown>): void {
    const h = this.host;
    if (body.k === 'reverse' && typeof body.reqId === 'string') return this.onReverse(from, body.reqId, body);
    if (body.k === 'reverse-failed' && typeof body.reqId === 'string') {
      h.reverse.fail(body.reqId, from.peerId, String(body.reason ?? 'it could not dial back'));
      return;
    }
    if (body.k === 'punch') return this.onPunchRequest(from, body);
    if (body.k === 'tcp-punch') return this.onTcpPunchRequest(from, body);
    if (body.k === 'turn') return this.onTurnRequest(from, body);
    if ((body.k === 'punch-go' || body.k === 'tcp-punch-go') && typeof body.reqId === 'string') {
      this.punchGo.get(`${from.peerId}/${body.reqId}`)?.(body);
      return;
    }
    if (body.k === 'punch-ack' || body.k === 'punch-fail' || body.k === 'tcp-punch-ack' || body.k === 'turn-ack') h.replies.deliver(from.peerId, body);
  }

  /** The rendezvous offers us our end of a relay circuit a peer opened. */
  onRelayOffer(from: PeerInfo, circuit: string, token: string): void {
    const h = this.host;
    const rendezvous = h.rendezvous();
    // The server relays only between paired devices or the two ends of an invite.
    if (!h.isContact(from.peerId) && h.openInvite() === undefined) return;
    if (h.knobs.disabledTiers.has('server-relay') || !rendezvous) return;
    const url = rendezvous.relayUrl(circuit, token);
    connectRelay(url).then(
      (stream) => this.accept(stream, from, `relay ${new URL(url).host}`),
      (err: Error) => h.log(`relay circuit from ${from.peerId.slice(0, 8)} failed: ${err.message}`),
    );
  }

  private signal(to: string, body: Record<string, unknown>): void {
    this.host.rendezvous()?.signal(to, body);
  }

  private allowed(from: PeerInfo, purpose: string, nameplate?: number): boolean {
    const h = this.host;
    return purpose === 'pair' ? h.openInvite() !== undefined && h.openInvite() === nameplate : h.isContact(from.peerId) || purpose === 'nearby';
  }

  private waitGo(key: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.punchGo.delete(key); reject(new Error('no go')); }, 8000);
      this.punchGo.set(key, (body) => { clearTimeout(timer); this.punchGo.delete(key); resolve(body); });
    });
  }

  /** Run the responder's handshake on a stream that arrived by a punch or a relay. */
  private accept(stream: Duplex, from: PeerInfo, where: string): void {
    const h = this.host;
    stream.on('error', () => {});
    receiveGreeting(stream, h.identity()).then(
      ({ channel, router, peerId, hello }) => h.onIncoming({ channel, router, peerId, hello, remoteAddress: where }),
      (err: Error) => { h.log(`${where} from ${from.peerId.slice(0, 8)} ended: ${err.message}`); stream.destroy(); },
    );
  }

  private onReverse(from: PeerInfo, reqId: string, body: Record<string, unknown>): void {
    const h = this.host;
    const purpose = body.purpose === 'pair' ? 'pair' : 'session';
    const nameplate = typeof body.nameplate === 'number' ? body.nameplate : undefined;
    const ok = purpose === 'pair' ? h.openInvite() !== undefined && h.openInvite() === nameplate : h.isContact(from.peerId);
    if (!ok) {
      this.signal(from.peerId, { k: 'reverse-failed', reqId, reason: purpose === 'pair' ? 'that invite is no longer open' : 'this device is not paired with you' });
      return;
    }
    dialBack(h.dialContext(from, purpose, nameplate), reqId, AbortSignal.timeout(h.knobs.reverseTimeoutMs)).then(
      (link) => h.adopt(link),
      (err) => this.signal(from.peerId, { k: 'reverse-failed', reqId, reason: `it could not reach us: ${errorMessage(err)}` }),
    );
  }

  private onPunchRequest(from: PeerInfo, body: Record<string, unknown>): void {
    const h = this.host;
    const parsed = PunchRequestSchema.safeParse(body);
    if (!parsed.success) return;
    const req = parsed.data;
    const fail = (reason: string) => this.signal(from.peerId, { k: 'punch-fail', reqId: req.reqId, reason });
    if (!this.allowed(from, req.purpose, req.nameplate)) return void fail(req.purpose === 'pair' ? 'that invite is no longer open' : 'this device is not paired with you');
    const udp = h.udp();
    if (!udp || h.knobs.disabledTiers.has('udp-punch')) return void fail('UDP punching is off on the other device');
    void answerPunch({
      udp, request: req, localCandidates: h.udpCandidates(), localNat: h.nat, natReady: h.natReady(),
      stunServer: stunServerOf(h.rendezvous()?.stunServers),
      sendSignal: (b) => this.signal(from.peerId, b),
      waitGo: () => this.waitGo(`${from.peerId}/${req.reqId}`),
      onStream: (stream) => this.accept(stream, from, 'punched stream'),
      log: h.log,
    });
  }

  private onTcpPunchRequest(from: PeerInfo, body: Record<string, unknown>): void {
    const h = this.host;
    const parsed = TcpPunchRequestSchema.safeParse(body);
    const rendezvous = h.rendezvous();
    if (!parsed.success || !rendezvous) return;
    const req = parsed.data;
    const fail = (reason: string) => this.signal(from.peerId, { k: 'punch-fail', reqId: req.reqId, reason });
    if (!this.allowed(from, req.purpose, req.nameplate)) return void fail('this device is not paired with you');
    if (h.knobs.disabledTiers.has('tcp-punch')) return void fail('TCP punching is off on the other device');
    answerTcpPunch({
      rendezvousUrl: rendezvous.url, request: req, hostAddresses: h.hostAddresses(), nat: h.nat(),
      sendSignal: (b) => this.signal(from.peerId, b),
      waitGo: () => this.waitGo(`${from.peerId}/${req.reqId}`),
      onSocket: (socket) => this.accept(socket, from, `TCP-punched connection ${socket.remoteAddress}:${socket.remotePort}`),
    }).catch((err: Error) => h.log(`TCP punch for ${req.reqId} failed: ${err.message}`));
  }

  private onTurnRequest(from: PeerInfo, body: Record<string, unknown>): void {
    const h = this.host;
    const parsed = TurnRequestSchema.safeParse(body);
    if (!parsed.success) return;
    const req = parsed.data;
    const fail = (reason: string) => this.signal(from.peerId, { k: 'punch-fail', reqId: req.reqId, reason });
    if (!this.allowed(from, req.purpose, req.nameplate)) return void fail('this device is not paired with you');
    const udp = h.udp();
    const turn = h.turn();
    if (!turn || !udp || h.knobs.disabledTiers.has('server-relay')) return void fail('the other device has no TURN server configured');
    void answerTurn({
      udp, turn, request: req,
      sendSignal: (b) => this.signal(from.peerId, b),
      onStream: (stream) => this.accept(stream, from, 'TURN stream'),
    });
  }
}
