/**
 * A TURN client (RFC 8656) for one allocation over UDP or TCP:
 *
 * - Allocate (§7.1) with REQUESTED-TRANSPORT UDP; the first request goes without
 *   credentials, the server's 401 gives REALM and NONCE, and every later request
 *   carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY (RFC 8489 §9.2.4).
 *   438 Stale Nonce: retry with the new nonce (§9.2.5). Successful responses to
 *   authenticated requests must carry a valid MESSAGE-INTEGRITY, or they are
 *   treated as not received (errors may come without: see acceptResponse).
 * - Refresh (§8) at half the granted lifetime; Refresh with LIFETIME 0 on close
 *   (deallocation, §8.1).
 * - CreatePermission (§9) for peer IPs, refreshed every 4 minutes (permissions
 *   last 5 minutes, §9).
 * - ChannelBind (§12.1) per peer transport address, refreshed every 9 minutes
 *   (bindings last 10 minutes, §12); data goes as ChannelData once bound and as
 *   Send indications (§10) before.
 * - Incoming data: Data indications (§10.4) and ChannelData (§12.6) become
 *   `data` events with the peer's address.
 *
 * Over TCP the allocation lives as long as the connection (§3.1): a dropped
 * connection closes the client.
 */
import { randomBytes } from 'node:crypto';
import { EngineError } from '../../errors.js';
import { Emitter } from '../../util/emitter.js';
import { newTransactionId, verifyMessageIntegrity } from '../../../wire/stun.js';
import {
  CHANNEL_MAX, CHANNEL_MIN, TRANSPORT_UDP, TURN_ERROR, TURN_METHOD, encodeChannelData, encodeTurn, longTermKey,
  parseChannelData, tryParseTurn, verifyMessageIntegritySha256, type TurnAuth, type TurnEncodeInput, type TurnMessage,
} from '../../../wire/turn.js';
import type { TurnCredentials } from './credentials.js';
import { Transactions, type TransactionTiming } from './transactions.js';
import { openTransport, type TurnServerAddress, type TurnTransport } from './transport.js';

export interface PeerAddress {
  ip: string;
  port: number;
}

export interface TurnClientOptions extends TransactionTiming {
  server: TurnServerAddress;
  credentials: TurnCredentials;
  /** SOFTWARE attribute. @default 'postern' */
  software?: string;
  /** LIFETIME to ask for in Allocate and Refresh (the server may grant less). Default: the server's (600 s). */
  lifetimeSec?: number;
  /** @default 240_000 (permissions last 300 s) */
  permissionRefreshMs?: number;
  /** @default 540_000 (channel bindings last 600 s) */
  channelRefreshMs?: number;
  /** Every frame sent and received (captures, debugging). */
  onWire?: (dir: 'out' | 'in', frame: Buffer) => void;
  signal?: AbortSignal;
}

export type TurnClientEvents = {
  data: { ip: string; port: number; data: Buffer; via: 'channel' | 'indication' };
  /** Something went wrong that does not end the allocation (a refresh to retry). */
  warning: EngineError;
  closed: { error?: EngineError };
};

const ERROR_CODES: Record<number, [string, string]> = {
  [TURN_ERROR.UNAUTHENTICATED]: ['TURN_UNAUTHORIZED', 'the TURN server refused the username or password (check the TURN credentials; time-limited ones may have expired)'],
  [TURN_ERROR.WRONG_CREDENTIALS]: ['TURN_UNAUTHORIZED', 'the TURN server says these credentials do not own the allocation'],
  [TURN_ERROR.FORBIDDEN]: ['TURN_FORBIDDEN', 'the TURN server forbids this (peer address not allowed, or permission refused)'],
  [TURN_ERROR.ALLOCATION_MISMATCH]: ['TURN_ALLOCATION_MISMATCH', 'the TURN server has no allocation for us (expired), or one already exists on this address'],
  [TURN_ERROR.STALE_NONCE]: ['TURN_STALE_NONCE', 'the TURN server kept calling our nonce stale'],
  [TURN_ERROR.UNSUPPORTED_TRANSPORT]: ['TURN_UNSUPPORTED_TRANSPORT', 'the TURN server does not relay UDP'],
  [TURN_ERROR.ALLOCATION_QUOTA_REACHED]: ['TURN_QUOTA', 'the TURN server\'s allocation quota for this user is reached (close other sessions or raise user-quota)'],
  [TURN_ERROR.INSUFFICIENT_CAPACITY]: ['TURN_CAPACITY', 'the TURN server is out of relay capacity (508); try again later or another server'],
  [TURN_ERROR.TRY_ALTERNATE]: ['TURN_TRY_ALTERNATE', 'the TURN server redirects to another server (300 Try Alternate is not followed)'],
};

/** A TURN error response, with its status code (401, 437, 486, …). */
export class TurnError extends EngineError {
  constructor(readonly status: number, readonly reason: string, what: string) {
    const [code, text] = ERROR_CODES[status] ?? ['TURN_ERROR', 'the TURN server refused the request'];
    super(code, `${what}: ${text} (${status}${reason ? ` ${reason}` : ''})`);
    this.name = 'TurnError';
  }
}

const turnError = (status: number, reason: string, what: string): TurnError => new TurnError(status, reason, what);

const peerKey = (ip: string, port: number): string => `${ip}|${port}`;

export class TurnClient {
  readonly events = new Emitter<TurnClientEvents>();
  relayed: PeerAddress = { ip: '', port: 0 };
  /** Our address as the server sees it (XOR-MAPPED-ADDRESS). */
  mapped: PeerAddress | undefined;
  lifetimeSec = 0;
  private auth: TurnAuth | undefined;
  private readonly tx: Transactions;
  private refreshTimer: NodeJS.Timeout | undefined;
  private permissionTimer: NodeJS.Timeout | undefined;
  private channelTimer: NodeJS.Timeout | undefined;
  private readonly permissions = new Set<string>();
  private readonly channelsByPeer = new Map<string, { channel: number; bound: boolean; ip: string; port: number; binding?: Promise<number> }>();
  private readonly channelsByNumber = new Map<number, PeerAddress>();
  private nextChannel = CHANNEL_MIN + (randomBytes(1)[0] as number);
  private allocated = false;
  private closed = false;

  private constructor(readonly options: TurnClientOptions, private readonly transport: TurnTransport) {
    this.tx = new Transactions((f) => this.sendFrame(f), transport.kind === 'tcp', options);
    transport.events.on('frame', (f) => this.onFrame(f));
    transport.events.on('close', (err) => {
      if (!this.closed) this.shutdown(new EngineError('TURN_CLOSED', `the connection to the TURN server ended${err ? `: ${err.message}` : ''}`));
    });
  }

  /** Opens the transport and allocates a relayed UDP address. */
  static async allocate(options: TurnClientOptions): Promise<TurnClient> {
    const transport = await openTransport(options.server, options.signal ? { signal: options.signal } : {});
    const client = new TurnClient(options, transport);
    const onAbort = (): void => client.shutdown(new EngineError('ABORTED', 'aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await client.doAllocate();
      return client;
    } catch (err) {
      client.shutdown(err as EngineError);
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  get transportKind(): 'udp' | 'tcp' {
    return this.transport.kind;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private sendFrame(f: Buffer): void {
    this.options.onWire?.('out', f);
    this.transport.send(f);
  }

  private onFrame(f: Buffer): void {
    this.options.onWire?.('in', f);
    const cd = parseChannelData(f);
    if (cd) {
      const peer = this.channelsByNumber.get(cd.channel);
      if (peer) this.events.emit('data', { ip: peer.ip, port: peer.port, data: cd.data, via: 'channel' });
      return;
    }
    const parsed = tryParseTurn(f);
    if (!parsed.ok) return;
    const m = parsed.message;
    if (m.cls === 'indication') {
      const peer = m.xorPeerAddresses[0];
      if (m.method === TURN_METHOD.DATA && peer && m.data) this.events.emit('data', { ip: peer.ip, port: peer.port, data: m.data, via: 'indication' });
      return;
    }
    if (m.cls === 'success' || m.cls === 'error') this.tx.deliver(f, m);
  }

  /**
   * One authenticated request: handles 401 (take REALM/NONCE and retry, once
   * more if the nonce changed) and 438 (new nonce, retry). Resolves with the
   * success response; rejects with a TURN_* EngineError.
   */
  private async request(fields: Omit<TurnEncodeInput, 'cls' | 'transactionId' | 'auth'>, what: string, timing: TransactionTiming = {}): Promise<TurnMessage> {
    let unauthorized = 0;
    let stale = 0;
    for (;;) {
      const txid = newTransactionId();
      const auth = this.auth;
      const frame = encodeTurn({ ...fields, cls: 'request', transactionId: txid, software: this.options.software ?? 'postern', ...(auth ? { auth } : {}) });
      const { message: res } = await this.tx.run(txid, frame, (raw, m) => this.acceptResponse(raw, m, auth), what, timing);
      if (res.cls === 'success') return res;
      const status = res.errorCode?.code ?? 0;
      const reason = res.errorCode?.reason ?? '';
      if (status === TURN_ERROR.UNAUTHENTICATED && res.realm !== undefined && res.nonce !== undefined && unauthorized < 2) {
        // A second 401 with the nonce we just used means the password is wrong.
        if (auth && auth.nonce === res.nonce && auth.realm === res.realm) throw turnError(status, reason, what);
        unauthorized++;
        const { username, password } = this.options.credentials;
        this.auth = { username, realm: res.realm, nonce: res.nonce, key: longTermKey(username, res.realm, password) };
        continue;
      }
      if (status === TURN_ERROR.STALE_NONCE && res.nonce !== undefined && this.auth && stale < 3) {
        stale++;
        const realm = res.realm ?? this.auth.realm;
        const { username, password } = this.options.credentials;
        this.auth = { username, realm, nonce: res.nonce, key: realm === this.auth.realm ? this.auth.key : longTermKey(username, realm, password) };
        continue;
      }
      throw turnError(status, reason, what);
    }
  }

  /**
   * RFC 8489 §9.2.5: a response to an authenticated request whose integrity
   * does not check is treated as not received. A success must carry valid
   * integrity (it sets addresses and lifetimes). Error responses without any
   * are accepted: 401 and 438 never have it, and coturn sends 437 without it
   * too; an error can only end a request, which an on-path attacker could do
   * anyway by dropping packets, and an off-path one cannot guess the
   * 96-bit transaction ID.
   */
  private acceptResponse(raw: Buffer, m: TurnMessage, auth: TurnAuth | undefined): boolean {
    if (!auth) return true;
    if (m.hasMessageIntegrity) return verifyMessageIntegrity(raw, auth.key);
    if (m.hasMessageIntegritySha256) return verifyMessageIntegritySha256(raw, auth.key);
    return m.cls === 'error';
  }

  private async doAllocate(): Promise<void> {
    const lt = this.options.lifetimeSec;
    const res = await this.request({ method: TURN_METHOD.ALLOCATE, requestedTransport: TRANSPORT_UDP, ...(lt !== undefined ? { lifetime: lt } : {}) }, 'Allocate');
    if (!res.xorRelayedAddress) throw new EngineError('TURN_PROTOCOL', 'Allocate: the TURN server answered without XOR-RELAYED-ADDRESS');
    this.relayed = { ip: res.xorRelayedAddress.ip, port: res.xorRelayedAddress.port };
    if (res.xorMappedAddress) this.mapped = { ip: res.xorMappedAddress.ip, port: res.xorMappedAddress.port };
    this.lifetimeSec = res.lifetime ?? 600;
    this.allocated = true;
    this.scheduleRefresh(this.lifetimeSec * 500);
  }

  private scheduleRefresh(ms: number): void {
    clearTimeout(this.refreshTimer);
    if (this.closed) return;
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(ms, 500));
    this.refreshTimer.unref();
  }

  private async refresh(): Promise<void> {
    const lt = this.options.lifetimeSec;
    const started = Date.now();
    try {
      const res = await this.request({ method: TURN_METHOD.REFRESH, ...(lt !== undefined ? { lifetime: lt } : {}) }, 'Refresh');
      this.lifetimeSec = res.lifetime ?? this.lifetimeSec;
      this.scheduleRefresh(this.lifetimeSec * 500);
    } catch (err) {
      if (this.closed) return;
      const e = err as EngineError;
      if (e instanceof TurnError && e.status === TURN_ERROR.ALLOCATION_MISMATCH) {
        this.shutdown(e);
        return;
      }
      // Half the lifetime is left minus the failed attempt: try again while some remains.
      const left = this.lifetimeSec * 500 - (Date.now() - started);
      if (left <= 1000) {
        this.shutdown(new EngineError('TURN_EXPIRED', `the TURN allocation could not be refreshed: ${e.message}`));
        return;
      }
      this.events.emit('warning', e);
      this.scheduleRefresh(Math.min(5000, left / 2));
    }
  }

  /** Installs permissions for peer IPs (the port is ignored by the server) and keeps them refreshed. */
  async createPermission(ips: string[]): Promise<void> {
    const fresh = ips.filter((ip) => !this.permissions.has(ip));
    if (!fresh.length) return;
    await this.request({ method: TURN_METHOD.CREATE_PERMISSION, xorPeerAddresses: fresh.map((ip) => ({ ip, port: 0 })) }, 'CreatePermission');
    for (const ip of fresh) this.permissions.add(ip);
    if (!this.permissionTimer && !this.closed) {
      this.permissionTimer = setInterval(() => void this.refreshPermissions(), this.options.permissionRefreshMs ?? 240_000);
      this.permissionTimer.unref();
    }
  }

  private async refreshPermissions(): Promise<void> {
    if (this.closed || !this.permissions.size) return;
    try {
      await this.request({ method: TURN_METHOD.CREATE_PERMISSION, xorPeerAddresses: [...this.permissions].map((ip) => ({ ip, port: 0 })) }, 'CreatePermission refresh');
    } catch (err) {
      if (!this.closed) this.events.emit('warning', err as EngineError);
    }
  }

  /**
   * Binds a channel to a peer transport address (also installs a permission for
   * its IP) and keeps it refreshed. Until this resolves, `send` uses Send indications.
   */
  bindChannel(ip: string, port: number): Promise<number> {
    const key = peerKey(ip, port);
    const existing = this.channelsByPeer.get(key);
    if (existing?.binding) return existing.binding;
    if (this.channelsByNumber.size >= CHANNEL_MAX - CHANNEL_MIN + 1) return Promise.reject(new EngineError('TURN_NO_CHANNEL', 'no TURN channel numbers left'));
    let channel = this.nextChannel;
    while (this.channelsByNumber.has(channel)) channel = channel >= CHANNEL_MAX ? CHANNEL_MIN : channel + 1;
    this.nextChannel = channel >= CHANNEL_MAX ? CHANNEL_MIN : channel + 1;
    const entry: { channel: number; bound: boolean; ip: string; port: number; binding?: Promise<number> } = { channel, bound: false, ip, port };
    this.channelsByPeer.set(key, entry);
    this.channelsByNumber.set(channel, { ip, port });
    entry.binding = this.request({ method: TURN_METHOD.CHANNEL_BIND, channelNumber: channel, xorPeerAddresses: [{ ip, port }] }, 'ChannelBind').then(() => {
      entry.bound = true;
      if (!this.channelTimer && !this.closed) {
        this.channelTimer = setInterval(() => void this.refreshChannels(), this.options.channelRefreshMs ?? 540_000);
        this.channelTimer.unref();
      }
      return channel;
    }, (err: Error) => {
      this.channelsByPeer.delete(key);
      this.channelsByNumber.delete(channel);
      throw err;
    });
    return entry.binding;
  }

  private async refreshChannels(): Promise<void> {
    for (const c of this.channelsByPeer.values()) {
      if (this.closed) return;
      if (!c.bound) continue;
      try {
        await this.request({ method: TURN_METHOD.CHANNEL_BIND, channelNumber: c.channel, xorPeerAddresses: [{ ip: c.ip, port: c.port }] }, 'ChannelBind refresh');
      } catch (err) {
        if (!this.closed) this.events.emit('warning', err as EngineError);
      }
    }
  }

  /** The channel bound to a peer, if any. */
  channelFor(ip: string, port: number): number | undefined {
    const c = this.channelsByPeer.get(peerKey(ip, port));
    return c?.bound ? c.channel : undefined;
  }

  /** Relays one datagram to a peer (ChannelData when bound, else a Send indication). False when dropped. */
  send(ip: string, port: number, data: Uint8Array): boolean {
    if (this.closed || !this.allocated) return false;
    const c = this.channelsByPeer.get(peerKey(ip, port));
    let frame: Buffer;
    if (c?.bound) frame = encodeChannelData(c.channel, data, this.transport.kind === 'tcp');
    else frame = encodeTurn({ method: TURN_METHOD.SEND, cls: 'indication', transactionId: newTransactionId(), xorPeerAddresses: [{ ip, port }], data });
    this.options.onWire?.('out', frame);
    return this.transport.send(frame, true);
  }

  /** Deallocates (Refresh with LIFETIME 0, one short try) and closes the transport. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.allocated && this.auth) {
      clearTimeout(this.refreshTimer);
      try {
        await this.request({ method: TURN_METHOD.REFRESH, lifetime: 0 }, 'Refresh (deallocate)', { maxTransmits: 3, rtoMs: 250, lastWaitFactor: 4, tcpTimeoutMs: 2000 });
      } catch {
        // 437 (already gone) or no answer: the server expires it on its own.
      }
    }
    this.shutdown();
  }

  private shutdown(error?: EngineError): void {
    if (this.closed) return;
    this.closed = true;
    this.allocated = false;
    clearTimeout(this.refreshTimer);
    clearInterval(this.permissionTimer);
    clearInterval(this.channelTimer);
    this.tx.closeAll(error ?? new EngineError('TURN_CLOSED', 'the TURN client is closed'));
    this.transport.close();
    this.events.emit('closed', error ? { error } : {});
  }
}
