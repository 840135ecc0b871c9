/**
 * Peer relay (tier `peer-relay`, MISSION promise 4): a user's own device that
 * others can reach (tier `direct` or a mapped port) relays for the user's other
 * paired devices — opt-in, with limits. The protocol mirrors the server relay:
 *
 *   A ─ session ─ C:  RELAY_REQ { to: B }         A and B are both C's contacts
 *   C ─ session ─ B:  RELAY_OFFER { from: A, circuit, token_B, addrs }
 *   C ─ session ─ A:  RELAY_OK { circuit, token_A, addrs }
 *   A → C, B → C:     new connections (Noise with C's pinned key), hello purpose
 *                     `relay` with the circuit and the end's one-time token
 *   C:                pipes frames of type 0x40 between the two, untouched
 *   A ↔ B:            their own Noise handshake inside those frames, end to end:
 *                     C sees only ciphertext, as any relay.
 * C reads from one end only while the other end drains (bounded buffer).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { TierStrategy } from '../ladder/ladder.js';
import type { DialContext } from '../ladder/tiers.js';
import { greet, type Link } from '../ladder/link.js';
import { dialTcp } from '../ladder/tcp-dial.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import { encodeSessionFrame, RELAYED_DATA, SESSION_FRAME } from '../../wire/session-frames.js';
import type { Session } from '../session.js';
import type { Identity } from '../identity/identity.js';
import { EngineError, errorMessage } from '../errors.js';

export interface PeerRelayOptions {
  /** @default 4 */
  maxCircuits?: number;
  /** Bytes one circuit may carry. @default 8 GiB */
  maxBytesPerCircuit?: number;
}

export type Addr = { ip: string; port: number };

/** The inner byte stream of a circuit, carried in 0x40 frames over the link to the relay. */
export function relayedStream(channel: FramedChannel): Duplex {
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      const frame = Buffer.allocUnsafe(chunk.length + 1);
      frame[0] = RELAYED_DATA;
      chunk.copy(frame, 1);
      if (channel.write(frame)) cb();
      else void channel.drained().then(() => cb());
    },
    read() {
      channel.resume?.();
    },
    final(cb) {
      channel.close();
      cb();
    },
    destroy(err, cb) {
      channel.close(err ?? undefined);
      cb(err);
    },
  });
  channel.onFrame((frame) => {
    if (frame[0] !== RELAYED_DATA) return;
    if (!duplex.push(Buffer.from(frame.buffer, frame.byteOffset + 1, frame.length - 1))) channel.pause?.();
  });
  channel.onClose(() => duplex.push(null));
  return duplex;
}

interface End { peerId: string; token: Buffer; link?: Link }
interface Circuit { id: string; a: End; b: End; bytes: number; timer: NodeJS.Timeout }

/** C's side: hands out circuits to its own devices and pipes them. */
export class PeerRelayHost {
  private circuits = new Map<string, Circuit>();
  readonly stats = { circuits: 0, bytesRelayed: 0, refused: 0 };

  constructor(private readonly opts: PeerRelayOptions, private readonly log: (line: string) => void) {}

  /** A asks for a circuit to B over its session with us. */
  open(from: Session, to: string, targetSession: Session | undefined, addrs: Addr[], reqId: string): void {
    const reply = (frame: Uint8Array) => from.link.channel.write(frame);
    const fail = (reason: string) => {
      this.stats.refused++;
      reply(encodeSessionFrame(SESSION_FRAME.RELAY_FAIL, { reqId, reason }));
    };
    if (!targetSession) return fail('the relay device is not connected to the other device');
    if (this.circuits.size >= (this.opts.maxCircuits ?? 4)) return fail(`the relay device allows ${this.opts.maxCircuits ?? 4} circuits at once`);
    if (addrs.length === 0) return fail('the relay device has no address the others can reach');
    const id = randomBytes(16).toString('hex');
    const tokenA = randomBytes(32);
    const tokenB = randomBytes(32);
    const circuit: Circuit = {
      id, a: { peerId: from.peerId, token: tokenA }, b: { peerId: to, token: tokenB }, bytes: 0,
      timer: setTimeout(() => this.close(circuit, 'nobody claimed the circuit in time'), 20_000),
    };
    this.circuits.set(id, circuit);
    this.stats.circuits++;
    targetSession.link.channel.write(encodeSessionFrame(SESSION_FRAME.RELAY_OFFER, { from: from.peerId, circuit: id, token: tokenB.toString('hex'), addrs }));
    reply(encodeSessionFrame(SESSION_FRAME.RELAY_OK, { reqId, circuit: id, token: tokenA.toString('hex'), addrs }));
  }

  /** An end connected to us with hello purpose `relay`: true when it belongs to a circuit. */
  attach(link: Link): boolean {
    const c = link.hello.circuit ? this.circuits.get(link.hello.circuit) : undefined;
    const token = Buffer.from(link.hello.token ?? '', 'hex');
    const end = c ? [c.a, c.b].find((e) => e.peerId === link.peerId && e.token.length === token.length && timingSafeEqual(e.token, token) && !e.link) : undefined;
    if (!c || !end) return false;
    end.link = link;
    link.channel.onClose(() => this.close(c, 'one end left'));
    if (c.a.link && c.b.link) {
      clearTimeout(c.timer);
      this.pipe(c, c.a.link.channel, c.b.link.channel);
      this.pipe(c, c.b.link.channel, c.a.link.channel);
      this.log(`peer relay: circuit ${c.id.slice(0, 8)} joined ${c.a.peerId.slice(0, 8)} ↔ ${c.b.peerId.slice(0, 8)}`);
    }
    return true;
  }

  private pipe(c: Circuit, src: FramedChannel, dst: FramedChannel): void {
    src.onFrame((frame) => {
      if (frame[0] !== RELAYED_DATA) return;
      c.bytes += frame.length;
      this.stats.bytesRelayed += frame.length;
      if (c.bytes > (this.opts.maxBytesPerCircuit ?? 8 * 1024 ** 3)) return this.close(c, 'the circuit reached its byte limit');
      if (!dst.write(frame)) {
        src.pause?.();
        void dst.drained().then(() => src.resume?.());
      }
    });
  }

  private close(c: Circuit, reason: string): void {
    if (!this.circuits.delete(c.id)) return;
    clearTimeout(c.timer);
    this.log(`peer relay: circuit ${c.id.slice(0, 8)} closed: ${reason}`);
    c.a.link?.channel.close();
    c.b.link?.channel.close();
  }

  closeAll(): void {
    for (const c of [...this.circuits.values()]) this.close(c, 'shutting down');
  }
}

/** Dial the relay device and claim our end of the circuit; resolves with the inner stream. */
export async function joinCircuit(identity: Identity, name: string, relayPeerId: string, addrs: Addr[], circuit: string, token: string, signal?: AbortSignal): Promise<Duplex> {
  const errors: string[] = [];
  for (const a of addrs) {
    try {
      const socket = await dialTcp(a.ip, a.port, 4000, signal);
      const link = await greet(socket, identity, relayPeerId, { name, purpose: 'relay', tier: 'direct', circuit, token }, signal);
      return relayedStream(link.channel);
    } catch (err) {
      errors.push(errorMessage(err));
    }
  }
  throw new EngineError('PEER_RELAY_UNREACHABLE', `could not reach the relaying device (${errors.join('; ')})`);
}

export const peerRelayTier: TierStrategy<DialContext, Link> = {
  tier: 'peer-relay',
  headStartMs: 500,
  skipReason(ctx) {
    if (ctx.knobs.disabledTiers.has('peer-relay')) return 'disabled by setting';
    if (!ctx.peerRelays || ctx.peerRelays().length === 0) return 'none of your devices that relay is connected';
    return null;
  },
  async attempt(ctx, signal, report) {
    const errors: string[] = [];
    for (const via of ctx.peerRelays?.() ?? []) {
      if (via.peerId === ctx.target.peerId) continue;
      try {
        report(`via ${via.link.remoteName || via.peerId.slice(0, 8)}`);
        const reqId = randomBytes(8).toString('hex');
        const answer = new Promise<{ circuit: string; token: string; addrs: Addr[] }>((resolve, reject) => {
          const timer = setTimeout(() => { off(); reject(new EngineError('PEER_RELAY_TIMEOUT', 'the relaying device did not answer')); }, 5000);
          const off = via.on('control', (f) => {
            if (f.type === SESSION_FRAME.RELAY_OK && f.body.reqId === reqId) { clearTimeout(timer); off(); resolve(f.body); }
            if (f.type === SESSION_FRAME.RELAY_FAIL && f.body.reqId === reqId) { clearTimeout(timer); off(); reject(new EngineError('PEER_RELAY_REFUSED', f.body.reason)); }
          });
        });
        via.link.channel.write(encodeSessionFrame(SESSION_FRAME.RELAY_REQ, { reqId, to: ctx.target.peerId }));
        const { circuit, token, addrs } = await answer;
        const stream = await joinCircuit(ctx.identity, ctx.name, via.peerId, addrs, circuit, token, signal);
        return await greet(stream, ctx.identity, ctx.target.peerId, {
          name: ctx.name, purpose: ctx.purpose, tier: 'peer-relay',
          ...(ctx.nameplate !== undefined ? { nameplate: ctx.nameplate } : {}),
        }, signal);
      } catch (err) {
        errors.push(`via ${via.peerId.slice(0, 8)}: ${errorMessage(err)}`);
      }
    }
    throw new EngineError('PEER_RELAY_FAILED', errors.join('; ') || 'no relaying device');
  },
};
