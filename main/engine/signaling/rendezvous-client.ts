/**
 * The node's side of signaling: one WebSocket to a rendezvous server, registered
 * with a signature over the server's nonce, kept up with reconnects and backoff.
 * Request/response calls (invites) are matched by id; presence and signals arrive
 * as events.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  encodeMessage, parseServerMessage, REGISTER_CONTEXT, SIGNALING_VERSION,
  type ClientMessage, type Endpoint, type Observed, type PeerInfo, type RelayLimits, type ServerMessage, type StunEndpoint,
} from '../../wire/signaling.js';
import { sign, type Identity } from '../identity/identity.js';
import { Emitter } from '../util/emitter.js';
import { EngineError } from '../errors.js';

export interface RendezvousClientEvents extends Record<string, unknown> {
  registered: { observed: Observed; stun: StunEndpoint[] };
  disconnected: { reason: string };
  presence: { peer: PeerInfo; online: boolean };
  signal: { from: PeerInfo; body: Record<string, unknown> };
  'relay-offer': { from: PeerInfo; circuit: string; token: string; limits: RelayLimits };
}

export interface RendezvousClientOptions {
  url: string;
  identity: Identity;
  name: string;
  endpoint: Endpoint;
  /** @default 5000 */
  requestTimeoutMs?: number;
  /** Longest wait between reconnect attempts. @default 15000 */
  maxBackoffMs?: number;
}

type Pending = { resolve: (msg: ServerMessage) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };

export class RendezvousClient extends Emitter<RendezvousClientEvents> {
  private ws: WebSocket | undefined;
  private pending = new Map<string, Pending>();
  private watching: string[] = [];
  private closed = false;
  private backoffMs = 250;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private name: string;
  private endpoint: Endpoint;
  observed: Observed | undefined;
  registered = false;
  /** STUN servers the rendezvous offers (from its `registered` message). */
  stunServers: StunEndpoint[] = [];

  constructor(private readonly opts: RendezvousClientOptions) {
    super();
    this.name = opts.name;
    this.endpoint = opts.endpoint;
  }

  get url(): string {
    return this.opts.url;
  }

  /** Connect and register; resolves once registered (rejects if the first attempt fails). */
  start(): Promise<void> {
    const first = this.waitFor('registered', () => true);
    const failed = this.waitFor('disconnected', () => !this.registered).then((e) => {
      throw new EngineError('RENDEZVOUS_UNREACHABLE', `Could not reach the rendezvous server at ${this.opts.url} (${e.reason}). Check the address in settings, or that the server is running.`);
    });
    this.connect();
    return Promise.race([first.then(() => undefined), failed]);
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.opts.url, { handshakeTimeout: 5000, maxPayload: 64 * 1024 });
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.onMessage(data));
    ws.on('error', () => {});
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      const why = reason.toString() || (code === 1006 ? 'connection failed' : `closed (${code})`);
      this.registered = false;
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new EngineError('RENDEZVOUS_DISCONNECTED', 'Lost the connection to the rendezvous server; retrying.'));
      }
      this.pending.clear();
      this.emit('disconnected', { reason: why });
      if (!this.closed) {
        this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs);
        this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 15_000);
      }
    });
  }

  private onMessage(data: Buffer): void {
    const parsed = parseServerMessage(data);
    if (!parsed.ok) return; // a server speaking nonsense is ignored, never fatal
    const msg = parsed.value;
    switch (msg.t) {
      case 'challenge': {
        const sig = sign(this.opts.identity, Buffer.concat([Buffer.from(REGISTER_CONTEXT), Buffer.from(msg.nonce, 'hex')]));
        this.send({ t: 'register', v: SIGNALING_VERSION, publicKey: this.opts.identity.publicKey.toString('hex'), sig: sig.toString('hex'), name: this.name, endpoint: this.endpoint });
        return;
      }
      case 'registered':
        this.registered = true;
        this.backoffMs = 250;
        this.observed = msg.observed;
        if (this.watching.length) this.send({ t: 'watch', peers: this.watching });
        this.stunServers = msg.stun ?? [];
        this.emit('registered', { observed: msg.observed, stun: this.stunServers });
        return;
      case 'presence':
        this.emit('presence', { peer: msg.peer, online: msg.online });
        return;
      case 'signal':
        this.emit('signal', { from: msg.from, body: msg.body });
        return;
      case 'relay-offer':
        this.emit('relay-offer', { from: msg.from, circuit: msg.circuit, token: msg.token, limits: msg.limits });
        return;
      case 'relay-opened':
        this.settle(msg.id, msg);
        return;
      case 'invite-opened':
      case 'invite-resolved':
      case 'pong':
      case 'reach-result':
        this.settle(msg.id, msg);
        return;
      case 'error':
        if (msg.id && this.pending.has(msg.id)) {
          const p = this.pending.get(msg.id) as Pending;
          this.pending.delete(msg.id);
          clearTimeout(p.timer);
          p.reject(new EngineError(msg.code, msg.message));
        }
        return;
    }
  }

  private settle(id: string, msg: ServerMessage): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  private send(msg: ClientMessage): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(encodeMessage(msg));
    return true;
  }

  private request<T extends ServerMessage>(make: (id: string) => ClientMessage, timeoutMs?: number): Promise<T> {
    const id = randomBytes(8).toString('hex');
    return new Promise<T>((resolve, reject) => {
      if (!this.registered) {
        reject(new EngineError('RENDEZVOUS_DISCONNECTED', `Not connected to the rendezvous server at ${this.opts.url}; retrying in the background.`));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new EngineError('RENDEZVOUS_TIMEOUT', 'The rendezvous server did not answer in time.'));
      }, timeoutMs ?? this.opts.requestTimeoutMs ?? 5000);
      this.pending.set(id, { resolve: resolve as (m: ServerMessage) => void, reject, timer });
      this.send(make(id));
    });
  }

  async openInvite(): Promise<{ nameplate: number; expiresAt: number }> {
    const msg = await this.request<Extract<ServerMessage, { t: 'invite-opened' }>>((id) => ({ t: 'invite-open', id }));
    return { nameplate: msg.nameplate, expiresAt: msg.expiresAt };
  }

  /** Ask the server for a relay circuit to a peer; the peer gets a `relay-offer`. */
  async openRelay(to: string): Promise<{ circuit: string; token: string; limits: RelayLimits }> {
    const msg = await this.request<Extract<ServerMessage, { t: 'relay-opened' }>>((id) => ({ t: 'relay-open', id, to }));
    return { circuit: msg.circuit, token: msg.token, limits: msg.limits };
  }

  /** The WebSocket URL of one end of a relay circuit. */
  relayUrl(circuit: string, token: string): string {
    const url = new URL(this.opts.url);
    url.pathname = `/relay/${circuit}`;
    url.search = `?token=${token}`;
    return url.toString();
  }

  closeInvite(nameplate: number): void {
    this.send({ t: 'invite-close', nameplate });
  }

  async resolveInvite(nameplate: number): Promise<PeerInfo> {
    const msg = await this.request<Extract<ServerMessage, { t: 'invite-resolved' }>>((id) => ({ t: 'invite-resolve', id, nameplate }));
    return msg.peer;
  }

  /**
   * Ask the rendezvous to dial our TCP port back and probe our UDP port at the
   * address it observes for us (main/rendezvous/reachability.ts): reachable,
   * closed, filtered or no-answer. The UDP socket must answer probes with
   * `reachProbeAnswer` (main/wire/signaling.ts).
   */
  async checkReachability(ports: { tcpPort?: number; udpPort?: number }, timeoutMs = 10_000): Promise<Extract<ServerMessage, { t: 'reach-result' }>> {
    return this.request<Extract<ServerMessage, { t: 'reach-result' }>>((id) => ({
      t: 'reach-check', id, ...(ports.tcpPort ? { tcpPort: ports.tcpPort } : {}), ...(ports.udpPort ? { udpPort: ports.udpPort } : {}),
    }), timeoutMs);
  }

  async ping(): Promise<number> {
    const started = performance.now();
    await this.request((id) => ({ t: 'ping', id }));
    return performance.now() - started;
  }

  /** Fire-and-forget signal to another peer through the server. */
  signal(to: string, body: Record<string, unknown>): boolean {
    return this.send({ t: 'signal', to, body });
  }

  watch(peers: string[]): void {
    this.watching = [...new Set(peers)];
    this.send({ t: 'watch', peers: this.watching });
  }

  update(name: string, endpoint: Endpoint): void {
    this.name = name;
    this.endpoint = endpoint;
    this.send({ t: 'update', name, endpoint });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.ws?.close();
    this.removeAll();
  }
}
