/**
 * The server relay: circuits between two authenticated peers that asked for each
 * other. A registered peer asks for a circuit to another (`relay-open`); the
 * server hands each side a one-time token, both connect a WebSocket to
 * `/relay/<circuit>`, and the server pipes bytes between them. It sees only
 * ciphertext: the secure channel runs end to end through it. WebSocket over TCP
 * (on port 443 if the rendezvous listens there) passes networks that allow only
 * outbound TCP 443.
 *
 * Limits per circuit (bytes, duration), per peer (circuits) and overall
 * (bandwidth, a token bucket shared by all circuits), each refusal with a reason.
 * A circuit never buffers more than `bufferBytes` per direction: the reading side
 * is paused until the writing side drains.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RelayLimits } from '../wire/signaling.js';

export interface RelayOptions {
  /** @default 16 GiB */
  maxBytesPerCircuit?: number;
  /** @default 6 h */
  maxDurationSec?: number;
  /** @default 8 */
  maxCircuitsPerPeer?: number;
  /** Total relayed bytes per second across all circuits. @default 100 MiB/s */
  maxBytesPerSec?: number;
  /** Unclaimed circuits expire after this long. @default 30 s */
  claimTimeoutMs?: number;
  /** @default 1 MiB */
  bufferBytes?: number;
}

interface End { token: Buffer; peerId: string; ws?: WebSocket }
interface Circuit { id: string; a: End; b: End; bytes: number; openedAt: number; timer: NodeJS.Timeout; closed: boolean }

export interface RelayStats { circuits: number; bytesRelayed: number; refused: Record<string, number> }

export class Relay {
  private circuits = new Map<string, Circuit>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024, perMessageDeflate: false });
  private readonly o: Required<RelayOptions>;
  private tokens: number;
  private lastRefill = performance.now();
  private waitingForTokens: (() => void)[] = [];
  private refillTimer: NodeJS.Timeout | undefined;
  stats: RelayStats = { circuits: 0, bytesRelayed: 0, refused: {} };

  constructor(opts: RelayOptions = {}) {
    this.o = {
      maxBytesPerCircuit: opts.maxBytesPerCircuit ?? 16 * 1024 ** 3,
      maxDurationSec: opts.maxDurationSec ?? 6 * 3600,
      maxCircuitsPerPeer: opts.maxCircuitsPerPeer ?? 8,
      maxBytesPerSec: opts.maxBytesPerSec ?? 100 * 1024 * 1024,
      claimTimeoutMs: opts.claimTimeoutMs ?? 30_000,
      bufferBytes: opts.bufferBytes ?? 1024 * 1024,
    };
    this.tokens = this.o.maxBytesPerSec;
  }

  get limits(): RelayLimits {
    return { maxBytes: this.o.maxBytesPerCircuit, maxDurationSec: this.o.maxDurationSec, maxBytesPerSec: this.o.maxBytesPerSec };
  }

  private refuse(code: string): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
  }

  /** A circuit between two registered peers; returns each side's token, or a refusal. */
  open(from: string, to: string): { ok: true; circuit: string; tokenA: string; tokenB: string } | { ok: false; code: string; message: string } {
    const count = (peer: string) => [...this.circuits.values()].filter((c) => !c.closed && (c.a.peerId === peer || c.b.peerId === peer)).length;
    if (count(from) >= this.o.maxCircuitsPerPeer || count(to) >= this.o.maxCircuitsPerPeer) {
      this.refuse('RELAY_PEER_LIMIT');
      return { ok: false, code: 'RELAY_PEER_LIMIT', message: `The relay allows ${this.o.maxCircuitsPerPeer} circuits per device; close a connection and try again.` };
    }
    const id = randomBytes(16).toString('hex');
    const tokenA = randomBytes(32);
    const tokenB = randomBytes(32);
    const circuit: Circuit = {
      id, a: { token: tokenA, peerId: from }, b: { token: tokenB, peerId: to }, bytes: 0, openedAt: Date.now(), closed: false,
      timer: setTimeout(() => this.close(circuit, 4008, 'nobody claimed the circuit in time'), this.o.claimTimeoutMs),
    };
    this.circuits.set(id, circuit);
    this.stats.circuits++;
    return { ok: true, circuit: id, tokenA: tokenA.toString('hex'), tokenB: tokenB.toString('hex') };
  }

  /** HTTP upgrade for `/relay/<circuit>?token=…`; returns false if the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://relay');
    const m = /^\/relay\/([0-9a-f]{32})$/.exec(url.pathname);
    if (!m) return false;
    const circuit = this.circuits.get(m[1] as string);
    const token = Buffer.from(url.searchParams.get('token') ?? '', 'hex');
    const end = circuit && !circuit.closed ? [circuit.a, circuit.b].find((e) => e.token.length === token.length && timingSafeEqual(e.token, token)) : undefined;
    if (!circuit || !end || end.ws) {
      this.refuse('RELAY_UNAUTHORIZED');
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\nNo such relay circuit, or the token is wrong or already used.\n');
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      end.ws = ws;
      // Hold what the first end sends until the second arrives.
      const raw = (ws as unknown as { _socket: import('node:net').Socket })._socket;
      if (!(circuit.a.ws && circuit.b.ws)) raw.pause();
      ws.on('error', () => {});
      ws.on('close', () => this.close(circuit, 1000, 'the other side left'));
      if (circuit.a.ws && circuit.b.ws) this.join(circuit);
    });
    return true;
  }

  private join(c: Circuit): void {
    clearTimeout(c.timer);
    c.timer = setTimeout(() => this.close(c, 4009, `the relay's time limit of ${this.o.maxDurationSec} s was reached`), this.o.maxDurationSec * 1000);
    c.timer.unref();
    const a = c.a.ws as WebSocket;
    const b = c.b.ws as WebSocket;
    this.pipe(c, a, b);
    this.pipe(c, b, a);
    for (const ws of [a, b]) (ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
  }

  /** Forward src → dst, counting bytes, pausing src while dst is backed up or tokens run out. */
  private pipe(c: Circuit, src: WebSocket, dst: WebSocket): void {
    const srcSocket = (src as unknown as { _socket: import('node:net').Socket })._socket;
    const dstSocket = (dst as unknown as { _socket: import('node:net').Socket })._socket;
    src.on('message', (data: Buffer, isBinary: boolean) => {
      if (c.closed) return;
      c.bytes += data.length;
      this.stats.bytesRelayed += data.length;
      if (c.bytes > this.o.maxBytesPerCircuit) {
        this.refuse('RELAY_BYTE_LIMIT');
        this.close(c, 4010, `the relay's limit of ${this.o.maxBytesPerCircuit} bytes per circuit was reached`);
        return;
      }
      dst.send(data, { binary: isBinary });
      const backedUp = dst.bufferedAmount > this.o.bufferBytes;
      const short = !this.take(data.length);
      if (backedUp || short) {
        srcSocket.pause();
        const resume = () => { if (!c.closed) srcSocket.resume(); };
        if (backedUp) dstSocket.once('drain', () => (short ? this.afterTokens(resume) : resume()));
        else this.afterTokens(resume);
      }
    });
  }

  /** Token bucket shared by all circuits. */
  private take(n: number): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.o.maxBytesPerSec, this.tokens + ((now - this.lastRefill) / 1000) * this.o.maxBytesPerSec);
    this.lastRefill = now;
    this.tokens -= n;
    return this.tokens >= 0;
  }

  private afterTokens(fn: () => void): void {
    this.waitingForTokens.push(fn);
    if (this.refillTimer) return;
    const tick = () => {
      this.refillTimer = undefined;
      this.take(0);
      if (this.tokens < 0) { this.refillTimer = setTimeout(tick, 10); return; }
      for (const f of this.waitingForTokens.splice(0)) f();
    };
    this.refillTimer = setTimeout(tick, 10);
  }

  private close(c: Circuit, code: number, reason: string): void {
    if (c.closed) return;
    c.closed = true;
    clearTimeout(c.timer);
    this.circuits.delete(c.id);
    for (const end of [c.a, c.b]) {
      if (end.ws && end.ws.readyState === end.ws.OPEN) end.ws.close(code, reason.slice(0, 120));
    }
  }

  closeAll(): void {
    for (const c of [...this.circuits.values()]) this.close(c, 1001, 'the relay is shutting down');
    clearTimeout(this.refillTimer);
    this.wss.close();
  }

  get openCircuits(): number {
    return this.circuits.size;
  }
}
