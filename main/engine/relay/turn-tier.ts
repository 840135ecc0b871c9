/**
 * Tier `server-relay` through a TURN server (RFC 8656) the user configured —
 * any coturn deployment, with long-term or TURN REST API credentials. Both sides
 * allocate a relayed address, exchange them through the rendezvous, bind a
 * channel to each other's and run a UDX stream through their loopback forwarders
 * (relay/turn/turn-relay.ts); the secure channel runs on top, so the TURN server
 * relays only ciphertext.
 *   A → B  turn      { reqId, relayed, streamId }
 *   B → A  turn-ack  { reqId, relayed, streamId }   (or punch-fail with a reason)
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { UDXStream } from 'udx-native';
import type { TierStrategy } from '../ladder/ladder.js';
import type { DialContext } from '../ladder/tiers.js';
import { greet, type Link } from '../ladder/link.js';
import { openTurnRelay, type TurnCredentials, type TurnRelay, type TurnServerAddress } from './turn/turn-relay.js';
import { newStreamId } from '../punch/udp-punch-tier.js';
import type { UdpSocket } from '../net/udp-socket.js';
import { EngineError } from '../errors.js';

export interface TurnConfig {
  server: TurnServerAddress;
  credentials: TurnCredentials;
}

const Addr = z.object({ ip: z.string().max(64), port: z.number().int().min(1).max(65535) });
export const TurnRequestSchema = z.object({
  k: z.literal('turn'), reqId: z.string().max(64), relayed: Addr, streamId: z.number().int().min(1).max(0xffffffff),
  purpose: z.enum(['session', 'pair', 'nearby']), nameplate: z.number().int().optional(),
});
const TurnAckSchema = z.object({ k: z.literal('turn-ack'), reqId: z.string(), relayed: Addr, streamId: z.number().int().min(1).max(0xffffffff) });

/** Open a stream through our relay to the peer's relayed address; the relay closes with the stream. */
async function streamThrough(relay: TurnRelay, udp: UdpSocket, peer: { ip: string; port: number }, localId: number, remoteId: number): Promise<UDXStream> {
  const local = await relay.addPeer(peer.ip, peer.port);
  const stream = udp.udx.createStream(localId);
  stream.on('error', () => {});
  stream.once('close', () => void relay.close());
  relay.events.on('closed', () => stream.destroy());
  stream.connect(udp.socket, remoteId, local.port, local.host);
  return stream;
}

export const turnRelayTier: TierStrategy<DialContext, Link> = {
  tier: 'server-relay',
  headStartMs: 500,
  skipReason(ctx) {
    if (ctx.knobs.disabledTiers.has('server-relay')) return 'disabled by setting';
    if (!ctx.turn) return 'no TURN server configured';
    if (!ctx.udp) return 'no UDP socket for the TURN stream';
    if (!ctx.rendezvous?.registered) return 'not connected to a rendezvous server to exchange relay addresses';
    return null;
  },
  async attempt(ctx, signal, report) {
    const udp = ctx.udp as UdpSocket;
    const turn = ctx.turn as TurnConfig;
    const relay = await openTurnRelay({ server: turn.server, credentials: turn.credentials, udx: udp });
    let handedOver = false;
    try {
      report(`TURN ${turn.server.host}:${turn.server.port}/${relay.transport}, relayed ${relay.relayedAddress.ip}:${relay.relayedAddress.port}`);
      const reqId = randomBytes(8).toString('hex');
      const streamId = newStreamId();
      const reply = ctx.replies.wait(ctx.target.peerId, reqId, 8000, signal);
      const body: Record<string, unknown> = { k: 'turn', reqId, relayed: relay.relayedAddress, streamId, purpose: ctx.purpose };
      if (ctx.nameplate !== undefined) body.nameplate = ctx.nameplate;
      ctx.rendezvous?.signal(ctx.target.peerId, body);
      const raw = await reply;
      if (raw.k === 'punch-fail') throw new EngineError('TURN_REFUSED', String(raw.reason ?? 'the other device cannot use TURN'));
      const ack = TurnAckSchema.safeParse(raw);
      if (!ack.success) throw new EngineError('PROTOCOL_ERROR', 'the other device answered the TURN request with nonsense');
      const stream = await streamThrough(relay, udp, ack.data.relayed, streamId, ack.data.streamId);
      handedOver = true;
      return await greet(stream, ctx.identity, ctx.target.peerId, {
        name: ctx.name, purpose: ctx.purpose, tier: 'server-relay',
        ...(ctx.nameplate !== undefined ? { nameplate: ctx.nameplate } : {}),
      }, signal);
    } finally {
      if (!handedOver) void relay.close();
    }
  },
};

/** B's side: allocate, answer with our relayed address, and hand the stream over. */
export async function answerTurn(opts: {
  udp: UdpSocket;
  turn: TurnConfig;
  request: z.infer<typeof TurnRequestSchema>;
  sendSignal: (body: Record<string, unknown>) => void;
  onStream: (stream: UDXStream) => void;
}): Promise<void> {
  let relay: TurnRelay;
  try {
    relay = await openTurnRelay({ server: opts.turn.server, credentials: opts.turn.credentials, udx: opts.udp });
  } catch (err) {
    opts.sendSignal({ k: 'punch-fail', reqId: opts.request.reqId, reason: `its TURN server refused: ${(err as Error).message}` });
    return;
  }
  const streamId = newStreamId();
  try {
    const stream = await streamThrough(relay, opts.udp, opts.request.relayed, streamId, opts.request.streamId);
    opts.sendSignal({ k: 'turn-ack', reqId: opts.request.reqId, relayed: relay.relayedAddress, streamId });
    opts.onStream(stream);
  } catch (err) {
    void relay.close();
    opts.sendSignal({ k: 'punch-fail', reqId: opts.request.reqId, reason: `TURN failed: ${(err as Error).message}` });
  }
}

/** Parse `HOST:PORT[/udp|/tcp]` (the CLI's --turn). */
export function parseTurnServer(text: string): TurnServerAddress {
  const m = /^(?:turn:)?\[?([^\]/]+?)\]?:(\d+)(?:\/(udp|tcp))?$/.exec(text.trim());
  if (!m) throw new EngineError('BAD_ARGUMENT', `A TURN server is HOST:PORT or HOST:PORT/tcp, not "${text}".`);
  return { host: m[1] as string, port: Number(m[2]), transport: (m[3] as 'udp' | 'tcp' | undefined) ?? 'udp' };
}
