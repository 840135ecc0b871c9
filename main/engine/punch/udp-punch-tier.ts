/**
 * Tier `udp-punch`: a coordinated UDP hole punch, then a UDX stream (reliable,
 * ordered, congestion-controlled; udx-native, the transport under Hyperswarm) on
 * the punched path, then the secure channel on top.
 *
 * Coordination through the rendezvous, timed as libp2p's DCUtR does:
 *   A → B  punch      { reqId, token, streamId, candidates }
 *   B → A  punch-ack  { reqId, streamId, candidates }       A measures the round trip
 *   A → B  punch-go   { reqId }                            A waits RTT/2, B starts on receipt
 * Both then run punchUdp (udp-punch.ts). A connects its stream to the address that
 * acked; B's stream accepts its first packet only from an address B heard A from.
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
import { isDoubleRandom } from './prediction.js';
import { birthdayHardSide, birthdayTargets } from './birthday.js';
import { isPrivateIp } from '../net/addresses.js';

const Addr = z.object({ ip: z.string().max(64), port: z.number().int().min(1).max(65535) });
/** What each side says about its NAT, so both can tell a hopeless punch at once. */
const NatHint = z.object({ mapping: z.string().max(40), allocation: z.string().max(40) }).optional();
const DOUBLE_RANDOM = 'both routers pick a new random port for every destination, so no hole punch can meet (a relay is needed)';
export const PunchRequestSchema = z.object({
  k: z.literal('punch'), reqId: z.string().max(64), token: z.string().regex(/^[0-9a-f]{32}$/),
  streamId: z.number().int().min(1).max(0xffffffff), candidates: z.array(Addr).max(512),
  purpose: z.enum(['session', 'pair', 'nearby']), nameplate: z.number().int().optional(), nat: NatHint,
});
export const PunchAckSchema = z.object({ k: z.literal('punch-ack'), reqId: z.string(), streamId: z.number().int().min(1).max(0xffffffff), candidates: z.array(Addr).max(512), nat: NatHint });

const hintOf = (nat: NatDiscovery | null) => (nat ? { mapping: nat.mapping, allocation: nat.allocation } : undefined);
type Hint = { mapping: string; allocation: string } | undefined;
const isRandom = (h: Hint | null) => !!h && h.mapping !== 'endpoint-independent' && h.mapping !== 'unknown' && h.allocation === 'random';
const isEim = (h: Hint | null) => h?.mapping === 'endpoint-independent';

/** normal: both probe each other's candidates; hard/easy: birthday probing (birthday.ts). */
export function punchMode(own: Hint, peer: Hint): 'normal' | 'hard' | 'easy' {
  if (isRandom(own) && isEim(peer)) return 'hard';
  if (isRandom(peer) && isEim(own)) return 'easy';
  return 'normal';
}

async function runPunch(mode: 'normal' | 'hard' | 'easy', udp: UdpSocket, token: Buffer, peer: PunchAddress[], signal?: AbortSignal, heard?: Set<string>): Promise<{ socket: UdpSocket; remote: PunchAddress }> {
  const publicPeer = peer.filter((c) => !isPrivateIp(c.host));
  if (mode === 'hard') {
    const r = await birthdayHardSide({ base: udp, token, peer: publicPeer.length ? publicPeer : peer, ...(signal ? { signal } : {}), ...(heard ? { heard } : {}) });
    return { socket: r.socket, remote: r.remote };
  }
  const targets = mode === 'easy' && publicPeer[0] ? birthdayTargets(publicPeer[0].host) : [];
  const r = await punchUdp({
    socket: udp, token, candidates: [...peer, ...targets], ...(signal ? { signal } : {}), ...(heard ? { heard } : {}),
    ...(mode === 'easy' ? { burst: 48, intervalMs: 25, timeoutMs: 6000 } : {}),
  });
  return { socket: udp, remote: r.remote };
}

export function newStreamId(): number {
  return randomBytes(4).readUInt32BE(0) || 1;
}

const toPunch = (list: { ip: string; port: number }[]): PunchAddress[] => list.map((a) => ({ host: a.ip, port: a.port }));

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
    // (for port prediction and the double-random verdict) from discovery, if it is done soon.
    const waitAtMost = (p: Promise<void>, ms: number) => Promise.race([p, new Promise((r) => setTimeout(r, ms))]);
    await waitAtMost(ctx.srflxReady, 1500);
    await waitAtMost(ctx.natReady, 600);
    if (ctx.localNat()?.udp === 'blocked') throw new EngineError('UDP_BLOCKED', 'UDP does not get out of this network (no STUN answer)');
    const reqId = randomBytes(8).toString('hex');
    const token = randomBytes(16);
    const streamId = newStreamId();
    const started = performance.now();
    const reply = ctx.replies.wait(ctx.target.peerId, reqId, 4000, signal);
    const body: Record<string, unknown> = { k: 'punch', reqId, token: token.toString('hex'), streamId, candidates: ctx.udpCandidates(), purpose: ctx.purpose };
    const hint = hintOf(ctx.localNat());
    if (hint) body.nat = hint;
    if (ctx.nameplate !== undefined) body.nameplate = ctx.nameplate;
    ctx.rendezvous?.signal(ctx.target.peerId, body);
    const raw = await reply;
    if (raw.k === 'punch-fail') throw new EngineError(raw.code === 'DOUBLE_RANDOM' ? 'DOUBLE_RANDOM' : 'PUNCH_REFUSED', String(raw.reason ?? 'the other device cannot punch'));
    const ack = PunchAckSchema.safeParse(raw);
    if (!ack.success) throw new EngineError('PROTOCOL_ERROR', 'the other device answered the punch request with nonsense');
    // Facing a random NAT, or when our own NAT does not keep ports, we must know what
    // ours does before choosing how to punch.
    const rtt = performance.now() - started;
    if (!ctx.localNat() && (isRandom(ack.data.nat) || !ctx.portPreserved())) await waitAtMost(ctx.natReady, 2500);
    if (isDoubleRandom(ctx.localNat(), ack.data.nat)) throw new EngineError('DOUBLE_RANDOM', DOUBLE_RANDOM);
    const ownHint = hintOf(ctx.localNat());
    ctx.rendezvous?.signal(ctx.target.peerId, { k: 'punch-go', reqId, ...(ownHint ? { nat: ownHint } : {}) });
    await new Promise((r) => setTimeout(r, rtt / 2));
    const candidates = toPunch(ack.data.candidates);
    const mode = punchMode(ownHint, ack.data.nat);
    ctx.log?.(`udp-punch to ${ctx.target.peerId.slice(0, 8)}: mode ${mode} (ours ${JSON.stringify(ownHint)}, theirs ${JSON.stringify(ack.data.nat)})`);
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
 * responder handshake on it, as for an incoming TCP connection).
 */
export function answerPunch(opts: {
  udp: UdpSocket;
  request: z.infer<typeof PunchRequestSchema>;
  localCandidates: { ip: string; port: number }[];
  localNat: NatDiscovery | null;
  sendSignal: (body: Record<string, unknown>) => void;
  waitGo: () => Promise<Record<string, unknown>>;
  onStream: (stream: UDXStream) => void;
  log: (line: string) => void;
}): void {
  const { udp, request } = opts;
  if (isDoubleRandom(request.nat, opts.localNat)) {
    opts.sendSignal({ k: 'punch-fail', reqId: request.reqId, code: 'DOUBLE_RANDOM', reason: DOUBLE_RANDOM });
    return;
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
  const hint = hintOf(opts.localNat);
  opts.sendSignal({ k: 'punch-ack', reqId: request.reqId, streamId, candidates: opts.localCandidates, ...(hint ? { nat: hint } : {}) });
  const token = Buffer.from(request.token, 'hex');
  opts.waitGo().then(
    async (go) => {
      const peerHint = NatHint.safeParse(go.nat);
      const mode = punchMode(hint, (peerHint.success ? peerHint.data : undefined) ?? request.nat);
      opts.log(`udp-punch from request ${request.reqId}: mode ${mode} (ours ${JSON.stringify(hint)}, theirs ${JSON.stringify(peerHint.success ? peerHint.data : request.nat)})`);
      const result = await runPunch(mode, udp, token, toPunch(request.candidates), undefined, heard);
      if (result.socket !== udp) stream.once('close', () => void result.socket.close());
    },
    () => { throw new EngineError('PUNCH_TIMEOUT', 'no go signal'); },
  ).catch((err: Error) => {
    opts.log(`punch for ${request.reqId} failed: ${err.message}`);
    // A may still have connected on a path we heard; the handshake timeout ends it otherwise.
    if (heard.size === 0) stream.destroy();
  });
}
