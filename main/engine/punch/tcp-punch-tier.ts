/**
 * Tier `tcp-punch` (see tcp-punch.ts), coordinated like udp-punch:
 *   A → B  tcp-punch      { reqId, candidates }   (A's mapping, then private addresses)
 *   B → A  tcp-punch-ack  { reqId, candidates }   A measures the round trip
 *   A → B  tcp-punch-go   { reqId }               A waits RTT/2, B starts on receipt
 * The connection that opens is one TCP connection seen from both sides: A runs
 * the initiator's handshake and hello on it, B the responder's.
 *
 * Behind a NAT that gives every new destination the next port (sequential.ts),
 * the mapping the rendezvous saw is not the one the peer will see: the next
 * flow, our SYN to the peer, takes a later port. So such a side offers the
 * ports after the observed one instead (TCP_PREDICTIONS of them, for flows other
 * tiers open meanwhile); the other side's SYNs go to all of them from its one port.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { z } from 'zod';
import type { TierStrategy } from '../ladder/ladder.js';
import type { DialContext } from '../ladder/tiers.js';
import { greet, type Link } from '../ladder/link.js';
import { observeTcpMapping, punchTcp, type TcpMapping } from './tcp-punch.js';
import { EngineError } from '../errors.js';
import { formatHostPort } from '../net/addresses.js';
import { isSequential, stepOf, type NatHint } from './sequential.js';

const Addr = z.object({ ip: z.string().max(64), port: z.number().int().min(1).max(65535) });
export const TcpPunchRequestSchema = z.object({
  k: z.literal('tcp-punch'), reqId: z.string().max(64), candidates: z.array(Addr).max(64),
  purpose: z.enum(['session', 'pair', 'nearby']), nameplate: z.number().int().optional(),
});
const TcpPunchAckSchema = z.object({ k: z.literal('tcp-punch-ack'), reqId: z.string(), candidates: z.array(Addr).min(1).max(64) });

/** Ports offered after the observed one by a sequential NAT. */
export const TCP_PREDICTIONS = 16;

export function mappingCandidates(m: TcpMapping, hostAddresses: string[], nat?: NatHint): { ip: string; port: number }[] {
  const step = stepOf(nat);
  const out = isSequential(nat)
    ? Array.from({ length: TCP_PREDICTIONS }, (_, i) => ({ ip: m.observed.ip, port: m.observed.port + (i + 1) * step })).filter((c) => c.port > 0 && c.port <= 65535)
    : [m.observed];
  for (const ip of hostAddresses) if (ip !== m.observed.ip) out.push({ ip, port: m.localPort });
  return out;
}

export const tcpPunchTier: TierStrategy<DialContext, Link> = {
  tier: 'tcp-punch',
  headStartMs: 1000,
  skipReason(ctx) {
    if (ctx.knobs.disabledTiers.has('tcp-punch')) return 'disabled by setting';
    if (!ctx.rendezvous?.registered) return 'not connected to a rendezvous server to coordinate a punch';
    return null;
  },
  async attempt(ctx, signal, report) {
    const rendezvous = ctx.rendezvous;
    if (!rendezvous) throw new EngineError('NO_RENDEZVOUS', 'no rendezvous');
    // Whether our NAT hands out ports in sequence decides what we offer (see above).
    if (!ctx.localNat() && !ctx.portPreserved()) await Promise.race([ctx.natReady, new Promise((r) => setTimeout(r, 2500))]);
    const mapping = await observeTcpMapping(rendezvous.url);
    try {
      const reqId = randomBytes(8).toString('hex');
      const started = performance.now();
      const reply = ctx.replies.wait(ctx.target.peerId, reqId, 5000, signal);
      const body: Record<string, unknown> = { k: 'tcp-punch', reqId, candidates: mappingCandidates(mapping, ctx.hostAddresses(), ctx.localNat()), purpose: ctx.purpose };
      if (ctx.nameplate !== undefined) body.nameplate = ctx.nameplate;
      rendezvous.signal(ctx.target.peerId, body);
      const raw = await reply;
      if (raw.k === 'punch-fail') throw new EngineError('PUNCH_REFUSED', String(raw.reason ?? 'the other device cannot punch'));
      const ack = TcpPunchAckSchema.safeParse(raw);
      if (!ack.success) throw new EngineError('PROTOCOL_ERROR', 'the other device answered the TCP punch request with nonsense');
      const rtt = performance.now() - started;
      rendezvous.signal(ctx.target.peerId, { k: 'tcp-punch-go', reqId });
      await new Promise((r) => setTimeout(r, rtt / 2));
      report(ack.data.candidates.map((c) => formatHostPort(c.ip, c.port)).join(', '));
      const socket = await punchTcp({ localPort: mapping.localPort, candidates: ack.data.candidates, signal });
      report(`${socket.remoteAddress}:${socket.remotePort}`);
      return await greet(socket, ctx.identity, ctx.target.peerId, {
        name: ctx.name, purpose: ctx.purpose, tier: 'tcp-punch',
        ...(ctx.nameplate !== undefined ? { nameplate: ctx.nameplate } : {}),
      }, signal);
    } finally {
      mapping.release();
    }
  },
};

/** B's side: learn our mapping, answer, punch on `go`, hand the socket over. */
export async function answerTcpPunch(opts: {
  rendezvousUrl: string;
  request: z.infer<typeof TcpPunchRequestSchema>;
  hostAddresses: string[];
  /** What NAT discovery found about our network (a sequential NAT offers its next ports). */
  nat?: NatHint;
  sendSignal: (body: Record<string, unknown>) => void;
  waitGo: () => Promise<unknown>;
  onSocket: (socket: Socket) => void;
}): Promise<void> {
  let mapping: TcpMapping;
  try {
    mapping = await observeTcpMapping(opts.rendezvousUrl);
  } catch (err) {
    opts.sendSignal({ k: 'punch-fail', reqId: opts.request.reqId, reason: (err as Error).message });
    return;
  }
  try {
    opts.sendSignal({ k: 'tcp-punch-ack', reqId: opts.request.reqId, candidates: mappingCandidates(mapping, opts.hostAddresses, opts.nat) });
    await opts.waitGo();
    opts.onSocket(await punchTcp({ localPort: mapping.localPort, candidates: opts.request.candidates }));
  } finally {
    mapping.release();
  }
}
