/**
 * Tier `udp-punch`: a coordinated UDP hole punch, then a UDX stream (reliable,
 * ordered, congestion-controlled; udx-native, the transport under Hyperswarm) on
 * the punched path, then the secure channel on top.
 *
 * Coordination through the rendezvous, timed as libp2p's DCUtR does:
 *   A → B  punch      { reqId, token, streamId, candidates, nat }
 *   B → A  punch-ack  { reqId, streamId, candidates, nat, reserved? }   A measures the round trip
 *   A → B  punch-go   { reqId, nat, candidates? }                       A waits RTT/2, B starts on receipt
 * Both then run punchUdp (udp-punch.ts). A connects its stream to the address that
 * acked; B's stream accepts its first packet only from an address B heard A from.
 *
 * The NATs' behaviours (the `nat` hints) choose how to punch:
 * - both endpoint-independent, or one sequential (sequential.ts): each probes the
 *   other's candidates; a sequential side first reserves its ports towards the
 *   other's candidates and sends their exact numbers (in the ack, or in the go);
 * - both sequential: A offers its next ports, B reserves towards each and says
 *   which of its ports faces which (`reserved`), A opens its flows in the spray
 *   order and B only answers (a probe of B's reaching A's NAT first would spoil
 *   the port A is about to use);
 * - random facing endpoint-independent: birthday probing (birthday.ts);
 * - random facing any per-destination NAT: hopeless, said at once (prediction.ts).
 */
import { randomBytes } from 'node:crypto';
import type { TierStrategy } from '../ladder/ladder.js';
import type { DialContext } from '../ladder/tiers.js';
import { greet, type Link } from '../ladder/link.js';
import { punchUdp, type PunchAddress } from './udp-punch.js';
import { EngineError } from '../errors.js';
import { formatHostPort } from '../net/addresses.js';
import type { UdpSocket } from '../net/udp-socket.js';
import type { UDXStream } from 'udx-native';
import { z } from 'zod';
import type { NatDiscovery } from '../../../shared/domain/nat.js';
import type { HostPort } from '../nat/stun-client.js';
import { hopelessReason, isHopelessPair } from './prediction.js';
import { birthdayHardSide, birthdayTargets } from './birthday.js';
import { isSequential, predictNext, reserveTowards, sprayTargets, stepOf, type NatHint } from './sequential.js';
import { isPrivateIp } from '../net/addresses.js';

const Addr = z.object({ ip: z.string().max(64), port: z.number().int().min(1).max(65535) });
/** What each side says about its NAT, so both can choose how to punch (or tell a hopeless pair at once). */
const NatHintSchema = z.object({ mapping: z.string().max(40), allocation: z.string().max(40), portDelta: z.number().int().min(-1000).max(1000).optional() }).optional();
export const PunchRequestSchema = z.object({
  k: z.literal('punch'), reqId: z.string().max(64), token: z.string().regex(/^[0-9a-f]{32}$/),
  streamId: z.number().int().min(1).max(0xffffffff), candidates: z.array(Addr).max(512),
  purpose: z.enum(['session', 'pair', 'nearby']), nameplate: z.number().int().optional(), nat: NatHintSchema,
});
export const PunchAckSchema = z.object({
  k: z.literal('punch-ack'), reqId: z.string(), streamId: z.number().int().min(1).max(0xffffffff), candidates: z.array(Addr).max(512), nat: NatHintSchema,
  /** A sequential responder's public port facing each of the request's candidates, in their order. */
  reserved: z.array(Addr).max(512).optional(),
});
const PunchGoSchema = z.object({ nat: NatHintSchema, candidates: z.array(Addr).max(512).optional(), spray: z.boolean().optional() });

type Hint = NonNullable<NatHint>;
const hintOf = (nat: NatDiscovery | null): Hint | undefined => (nat ? { mapping: nat.mapping, allocation: nat.allocation, ...(nat.portDelta ? { portDelta: nat.portDelta } : {}) } : undefined);
const isRandom = (h: NatHint) => !!h && h.mapping !== 'endpoint-independent' && h.mapping !== 'unknown' && h.allocation === 'random';
const isEim = (h: NatHint) => h?.mapping === 'endpoint-independent';

export type PunchMode = 'normal' | 'hard' | 'easy' | 'spray' | 'passive';

/**
 * normal: both probe each other's candidates; hard/easy: birthday probing
 * (birthday.ts); spray/passive: both sequential, A opens flows in spray order,
 * B only answers (sequential.ts).
 */
export function punchMode(own: NatHint, peer: NatHint, role: 'requester' | 'responder' = 'requester'): PunchMode {
  if (isRandom(own) && isEim(peer)) return 'hard';
  if (isRandom(peer) && isEim(own)) return 'easy';
  if (isSequential(own) && isSequential(peer)) return role === 'requester' ? 'spray' : 'passive';
  return 'normal';
}

async function runPunch(mode: PunchMode, udp: UdpSocket, token: Buffer, peer: PunchAddress[], signal?: AbortSignal, heard?: Set<string>): Promise<{ socket: UdpSocket; remote: PunchAddress }> {
  const publicPeer = peer.filter((c) => !isPrivateIp(c.host));
  if (mode === 'hard') {
    const r = await birthdayHardSide({ base: udp, token, peer: publicPeer.length ? publicPeer : peer, ...(signal ? { signal } : {}), ...(heard ? { heard } : {}) });
    return { socket: r.socket, remote: r.remote };
  }
  const targets = mode === 'easy' && publicPeer[0] ? birthdayTargets(publicPeer[0].host) : [];
  const r = await punchUdp({
    socket: udp, token, candidates: [...peer, ...targets], ...(signal ? { signal } : {}), ...(heard ? { heard } : {}),
    ...(mode === 'easy' ? { burst: 48, intervalMs: 25, timeoutMs: 6000 } : {}),
    ...(mode === 'passive' ? { passive: true } : {}),
  });
  return { socket: udp, remote: r.remote };
}

export function newStreamId(): number {
  return randomBytes(4).readUInt32BE(0) || 1;
}

const toPunch = (list: { ip: string; port: number }[]): PunchAddress[] => list.map((a) => ({ host: a.ip, port: a.port }));
const toAddr = (list: PunchAddress[]): { ip: string; port: number }[] => list.map((a) => ({ ip: a.host, port: a.port }));
const waitAtMost = (p: Promise<void>, ms: number) => Promise.race([p, new Promise((r) => setTimeout(r, ms))]);

/** The rendezvous's IPv4 STUN server (sequential NATs measure their next port against it). */
export function stunServerOf(servers: { ip: string; port: number }[] | undefined): HostPort | undefined {
  return servers?.find((x) => !x.ip.includes(':'));
}

export const udpPunchTier: TierStrategy<DialContext, Link> = {
  tier: 'udp-punch',
  headStartMs: 1500,
  skipReason(ctx) {
    if (ctx.knobs.disabledTiers.has('udp-punch')) return 'disabled by setting';
    if (!ctx.udp) return 'no UDP socket (UDP is off on this device)';
    if (!ctx.rendezvous?.registered) return 'not connected to a rendezvous server to coordinate a punch';
    if (ctx.localNat()?.udp === 'blocked') return 'UDP does not get out of this network (no STUN answer)';
    return null;
  },
  async attempt(ctx, signal, report) {
    const udp = ctx.udp as UdpSocket;
    // Our public address comes from one STUN round trip at start; the NAT's behaviour
    // (how to punch, or the hopeless verdict) from discovery, if it is done soon.
    await waitAtMost(ctx.srflxReady, 1500);
    // A NAT that changed our port may give a new port per destination: then how to
    // punch (and what to offer) depends on discovery, so wait for it. One that kept
    // it maps endpoint-independently as far as we can tell: go at once.
    if (!ctx.portPreserved()) await waitAtMost(ctx.natReady, 2500);
    if (ctx.localNat()?.udp === 'blocked') throw new EngineError('UDP_BLOCKED', 'UDP does not get out of this network (no STUN answer)');
    const server = stunServerOf(ctx.rendezvous?.stunServers);
    const reqId = randomBytes(8).toString('hex');
    const token = randomBytes(16);
    const streamId = newStreamId();
    let ownHint = hintOf(ctx.localNat());
    // Behind a sequential NAT, offer our next ports, measured now (sequential.ts).
    const own = ctx.udpCandidates();
    const predicted = isSequential(ownHint) && server ? await predictNext({ udp, server, step: stepOf(ownHint) }).catch(() => []) : [];
    const started = performance.now();
    const reply = ctx.replies.wait(ctx.target.peerId, reqId, 4000, signal);
    const body: Record<string, unknown> = { k: 'punch', reqId, token: token.toString('hex'), streamId, candidates: [...own, ...toAddr(predicted)], purpose: ctx.purpose };
    if (ownHint) body.nat = ownHint;
    if (ctx.nameplate !== undefined) body.nameplate = ctx.nameplate;
    ctx.rendezvous?.signal(ctx.target.peerId, body);
    const raw = await reply;
    if (raw.k === 'punch-fail') throw new EngineError(raw.code === 'DOUBLE_RANDOM' ? 'DOUBLE_RANDOM' : 'PUNCH_REFUSED', String(raw.reason ?? 'the other device cannot punch'));
    const ack = PunchAckSchema.safeParse(raw);
    if (!ack.success) throw new EngineError('PROTOCOL_ERROR', 'the other device answered the punch request with nonsense');
    const peerHint = ack.data.nat;
    // Facing a per-destination NAT, or when our own NAT does not keep ports, we must
    // know what ours does before choosing how to punch.
    const rtt = performance.now() - started;
    if (!ctx.localNat() && (isRandom(peerHint) || isSequential(peerHint) || !ctx.portPreserved())) await waitAtMost(ctx.natReady, 2500);
    ownHint = hintOf(ctx.localNat());
    if (isHopelessPair(ownHint, peerHint)) throw new EngineError('DOUBLE_RANDOM', hopelessReason(ownHint, peerHint));
    let mode = punchMode(ownHint, peerHint);
    let candidates = toPunch(ack.data.candidates);
    let reserved: PunchAddress[] = [];
    if (mode === 'spray' && !(ack.data.reserved && predicted.length)) mode = 'normal';
    if (mode === 'spray' && ack.data.reserved) {
      // B's ports facing our predictions first, in spray order; then its private addresses.
      const facing = toPunch(ack.data.reserved.slice(own.length, own.length + predicted.length));
      candidates = [...sprayTargets(facing), ...candidates.filter((c) => isPrivateIp(c.host))];
    } else if (isSequential(ownHint) && server) {
      // Our ports towards each of B's candidates, exactly, for B to aim at.
      reserved = (await reserveTowards({ udp, token, targets: candidates, server, step: stepOf(ownHint) }).catch(() => ({ ports: [] }))).ports;
    }
    const spray = mode === 'spray';
    ctx.rendezvous?.signal(ctx.target.peerId, { k: 'punch-go', reqId, ...(ownHint ? { nat: ownHint } : {}), ...(reserved.length ? { candidates: toAddr(reserved) } : {}), ...(spray ? { spray: true } : {}) });
    // B starts on the go; so do we, half a round trip later (B only answers in spray mode).
    if (mode !== 'spray') await new Promise((r) => setTimeout(r, rtt / 2));
    ctx.log?.(`udp-punch to ${ctx.target.peerId.slice(0, 8)}: mode ${mode} (ours ${JSON.stringify(ownHint)}, theirs ${JSON.stringify(peerHint)})${reserved.length ? `, reserved ${reserved.map((c) => c.port).join(',')}` : ''}`);
    report(`${mode === 'normal' ? '' : `${mode}: `}${candidates.map((c) => formatHostPort(c.host, c.port)).join(', ') || 'no candidates'}`);
    if (!candidates.length) throw new EngineError('NO_CANDIDATES', 'the other device has no UDP address to punch to');
    const result = await runPunch(mode, udp, token, candidates, signal);
    report(`${formatHostPort(result.remote.host, result.remote.port)}${mode === 'normal' ? '' : ` (${mode})`}`);
    const stream = udp.udx.createStream(streamId) as UDXStream;
    if (result.socket !== udp) stream.once('close', () => void result.socket.close());
    stream.connect(result.socket.socket, ack.data.streamId, result.remote.port, result.remote.host);
    return greet(stream, ctx.identity, ctx.target.peerId, {
      name: ctx.name, purpose: ctx.purpose, tier: 'udp-punch',
      ...(ctx.nameplate !== undefined ? { nameplate: ctx.nameplate } : {}),
    }, signal);
  },
};

/**
 * B's side of a punch request: answer with our candidates and a stream waiting
 * for A, punch on `punch-go`, and hand the stream to `onStream` (the node runs the
 * responder handshake on it, as for an incoming TCP connection). Behind a
 * sequential NAT we first reserve our ports towards A's candidates and answer
 * with them (sequential.ts).
 */
export async function answerPunch(opts: {
  udp: UdpSocket;
  request: z.infer<typeof PunchRequestSchema>;
  localCandidates: { ip: string; port: number }[];
  localNat: () => NatDiscovery | null;
  /** Settles when NAT discovery has run. */
  natReady?: Promise<void>;
  /** The rendezvous's STUN server, for a sequential NAT's measurement. */
  stunServer?: HostPort;
  sendSignal: (body: Record<string, unknown>) => void;
  waitGo: () => Promise<Record<string, unknown>>;
  onStream: (stream: UDXStream) => void;
  log: (line: string) => void;
}): Promise<void> {
  const { udp, request } = opts;
  if (!opts.localNat() && opts.natReady) await waitAtMost(opts.natReady, 1000);
  const hint = hintOf(opts.localNat());
  if (isHopelessPair(request.nat, hint)) {
    opts.sendSignal({ k: 'punch-fail', reqId: request.reqId, code: 'DOUBLE_RANDOM', reason: hopelessReason(hint, request.nat) });
    return;
  }
  const token = Buffer.from(request.token, 'hex');
  const theirs = toPunch(request.candidates);
  let reserved: PunchAddress[] = [];
  if (isSequential(hint) && opts.stunServer) {
    try {
      reserved = (await reserveTowards({ udp, token, targets: theirs, server: opts.stunServer, step: stepOf(hint) })).ports;
    } catch (err) {
      opts.log(`punch ${request.reqId}: could not reserve ports: ${(err as Error).message}`);
    }
  }
  const heard = new Set<string>();
  const streamId = newStreamId();
  const stream: UDXStream = udp.udx.createStream(streamId, {
    // Accept the first packet only from where the requester's probes came from,
    // and connect back to it (udx cannot write on a stream that only accepted).
    firewall: (socket, port, host) => {
      if (!heard.has(formatHostPort(host, port))) return true;
      if (!stream.connected) stream.connect(socket, request.streamId, port, host);
      return false;
    },
  });
  stream.on('error', () => {});
  opts.onStream(stream);
  const privateOwn = opts.localCandidates.filter((c) => isPrivateIp(c.ip));
  const candidates = reserved.length ? [...privateOwn, ...dedupe(toAddr(reserved))] : opts.localCandidates;
  opts.sendSignal({
    k: 'punch-ack', reqId: request.reqId, streamId, candidates: candidates.slice(0, 512), ...(hint ? { nat: hint } : {}),
    ...(reserved.length ? { reserved: toAddr(reserved) } : {}),
  });
  opts.waitGo().then(
    async (go) => {
      const g = PunchGoSchema.safeParse(go);
      const peerHint = (g.success ? g.data.nat : undefined) ?? request.nat;
      // We only answer when A sprays (both sequential); otherwise we probe too.
      const mode = g.success && g.data.spray ? 'passive' : punchMode(hint, peerHint, 'responder') === 'passive' ? 'normal' : punchMode(hint, peerHint, 'responder');
      // Same targets in the same order as the reservation, so the same flows; then A's exact ports.
      const targets = [...theirs, ...toPunch(g.success ? g.data.candidates ?? [] : [])];
      opts.log(`udp-punch from request ${request.reqId}: mode ${mode} (ours ${JSON.stringify(hint)}, theirs ${JSON.stringify(peerHint)})`);
      const result = await runPunch(mode, udp, token, targets, undefined, heard);
      if (result.socket !== udp) stream.once('close', () => void result.socket.close());
    },
    () => { throw new EngineError('PUNCH_TIMEOUT', 'no go signal'); },
  ).catch((err: Error) => {
    opts.log(`punch for ${request.reqId} failed: ${err.message}`);
    // A may still have connected on a path we heard; the handshake timeout ends it otherwise.
    if (heard.size === 0) stream.destroy();
  });
}

function dedupe(list: { ip: string; port: number }[]): { ip: string; port: number }[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const k = formatHostPort(a.ip, a.port);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
