/**
 * Signaling: the JSON messages between a node and the rendezvous server, over a
 * WebSocket. Pure types and parse functions, imported by both the engine's client
 * and the server so the two cannot drift apart.
 *
 * Following Kegel's address server (seed 004) the server records both the addresses
 * a peer reports (private, mapped) and the address it observes on the socket; and
 * following the BitTorrent DHT (seed 003) a peer states its contact ports explicitly,
 * because a NAT rewrites source ports.
 *
 * parse* functions never throw on hostile input; they return `{ ok: false, error }`.
 */
import { z } from 'zod';

export const SIGNALING_VERSION = 1;
/** Largest signaling message either side accepts, in bytes. */
export const MAX_SIGNAL_BYTES = 64 * 1024;
/** What a node signs to prove its key: this prefix, then the server's nonce. */
export const REGISTER_CONTEXT = 'postern-rendezvous-v1\0';

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
const peerId = z.string().regex(/^[a-z2-7]{52}$/);
const ip = z.string().min(2).max(64).regex(/^[0-9a-fA-F.:]+$/);
const port = z.number().int().min(1).max(65535);

export const CandidateSchema = z.object({
  /** host: a private address of the peer; mapped: a gateway port mapping; public: reachable as is. */
  kind: z.enum(['host', 'public', 'mapped', 'srflx', 'relay']),
  proto: z.enum(['tcp', 'udp']),
  ip,
  port,
  /** How a mapped or public candidate came to be (for the tier name). */
  via: z.enum(['upnp', 'natpmp', 'pcp', 'manual', 'stun', 'turn', 'relay']).optional(),
});
export type Candidate = z.infer<typeof CandidateSchema>;

export const EndpointSchema = z.object({
  /** The TCP port the peer listens on (stated, not inferred from a source port). */
  tcpPort: port.nullable(),
  udpPort: port.nullable().optional(),
  candidates: z.array(CandidateSchema).max(64),
});
export type Endpoint = z.infer<typeof EndpointSchema>;

export const ObservedSchema = z.object({ ip, port: z.number().int().min(0).max(65535) });
export type Observed = z.infer<typeof ObservedSchema>;

/** A STUN server (RFC 8489) of the rendezvous, announced in `registered` so nodes need no configuration. */
export const StunEndpointSchema = z.object({ ip, port });
export type StunEndpoint = z.infer<typeof StunEndpointSchema>;

/** What a relay circuit may carry before the server cuts it (shown to the user). */
export const RelayLimitsSchema = z.object({ maxBytes: z.number().int().min(0), maxDurationSec: z.number().int().min(0), maxBytesPerSec: z.number().int().min(0) });
export type RelayLimits = z.infer<typeof RelayLimitsSchema>;

export const PeerInfoSchema = z.object({
  peerId,
  name: z.string().max(64),
  endpoint: EndpointSchema,
  /** The address the server saw this peer's connection come from. */
  observed: ObservedSchema,
});
export type PeerInfo = z.infer<typeof PeerInfoSchema>;

const body = z.record(z.string(), z.unknown());

/** Reachability check results (main/rendezvous/reachability.ts). */
export const ReachStateSchema = z.enum(['reachable', 'filtered', 'no-answer', 'closed']);
export type ReachState = z.infer<typeof ReachStateSchema>;

export const ClientMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('register'), v: z.literal(SIGNALING_VERSION), publicKey: hex(32), sig: hex(64), name: z.string().max(64), endpoint: EndpointSchema }),
  z.object({ t: z.literal('update'), name: z.string().max(64), endpoint: EndpointSchema }),
  z.object({ t: z.literal('watch'), peers: z.array(peerId).max(1000) }),
  z.object({ t: z.literal('invite-open'), id: z.string().max(64) }),
  z.object({ t: z.literal('invite-close'), nameplate: z.number().int().min(0) }),
  z.object({ t: z.literal('invite-resolve'), id: z.string().max(64), nameplate: z.number().int().min(0).max(1e9) }),
  z.object({ t: z.literal('signal'), id: z.string().max(64).optional(), to: peerId, body }),
  z.object({ t: z.literal('ping'), id: z.string().max(64) }),
  /** Ask the server to dial back our TCP port and probe our UDP port at the address it observes for us. */
  z.object({ t: z.literal('reach-check'), id: z.string().max(64), tcpPort: port.optional(), udpPort: port.optional() }),
  /** Ask the server to relay to a peer (both ends then connect to /relay/<circuit>). */
  z.object({ t: z.literal('relay-open'), id: z.string().max(64), to: peerId }),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export const ServerMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('challenge'), v: z.literal(SIGNALING_VERSION), nonce: hex(32) }),
  z.object({ t: z.literal('registered'), peerId, observed: ObservedSchema, stun: z.array(StunEndpointSchema).max(8).optional() }),
  z.object({ t: z.literal('presence'), peer: PeerInfoSchema, online: z.boolean() }),
  z.object({ t: z.literal('invite-opened'), id: z.string(), nameplate: z.number().int(), expiresAt: z.number() }),
  z.object({ t: z.literal('invite-resolved'), id: z.string(), peer: PeerInfoSchema }),
  z.object({ t: z.literal('signal'), from: PeerInfoSchema, body }),
  z.object({ t: z.literal('pong'), id: z.string() }),
  z.object({
    t: z.literal('reach-result'), id: z.string(), tcp: ReachStateSchema.optional(), udp: ReachStateSchema.optional(),
    /** The address that was checked: the requester's, as the server observes it. */
    observedIp: ip,
    /** The server address the checks came from (one the requester has not contacted, when the server has two). */
    from: ip.optional(),
    tcpMs: z.number().optional(), udpMs: z.number().optional(), tcpDetail: z.string().max(200).optional(), udpDetail: z.string().max(200).optional(),
  }),
  z.object({ t: z.literal('error'), id: z.string().optional(), code: z.string().max(64), message: z.string().max(1000) }),
  z.object({ t: z.literal('relay-opened'), id: z.string(), circuit: z.string().regex(/^[0-9a-f]{32}$/), token: hex(32), limits: RelayLimitsSchema }),
  z.object({ t: z.literal('relay-offer'), from: PeerInfoSchema, circuit: z.string().regex(/^[0-9a-f]{32}$/), token: hex(32), limits: RelayLimitsSchema }),
]);
export type ServerMessage = z.infer<typeof ServerMessageSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

function parseWith<T>(schema: z.ZodType<T>, data: string | Uint8Array): ParseResult<T> {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > MAX_SIGNAL_BYTES) return { ok: false, error: `message of ${size} bytes exceeds ${MAX_SIGNAL_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const result = schema.safeParse(json);
  if (!result.success) return { ok: false, error: result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  return { ok: true, value: result.data };
}

export const parseClientMessage = (data: string | Uint8Array) => parseWith(ClientMessageSchema, data);
export const parseServerMessage = (data: string | Uint8Array) => parseWith(ServerMessageSchema, data);
export const encodeMessage = (msg: ClientMessage | ServerMessage): string => JSON.stringify(msg);

// ---- reachability UDP probe -------------------------------------------------
// The rendezvous sends PROBE (4-byte magic "PRCQ" + 16-byte token) to a node's
// UDP port; the node's UDP socket answers with "PRCA" + the same token to the
// sender. Same size both ways: no amplification.

const REACH_PROBE = Buffer.from('PRCQ');
const REACH_ANSWER = Buffer.from('PRCA');
export const REACH_PROBE_BYTES = 20;

export function encodeReachProbe(token: Uint8Array): Buffer {
  if (token.byteLength !== 16) throw new RangeError('a reachability probe token has 16 bytes');
  return Buffer.concat([REACH_PROBE, token]);
}

/** For a node's UDP socket: the answer to send back when `datagram` is a reachability probe, else null. */
export function reachProbeAnswer(datagram: Uint8Array): Buffer | null {
  if (datagram.byteLength !== REACH_PROBE_BYTES) return null;
  const b = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  if (!b.subarray(0, 4).equals(REACH_PROBE)) return null;
  return Buffer.concat([REACH_ANSWER, b.subarray(4)]);
}

export function isReachAnswer(datagram: Uint8Array, token: Uint8Array): boolean {
  if (datagram.byteLength !== REACH_PROBE_BYTES) return false;
  const b = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  return b.subarray(0, 4).equals(REACH_ANSWER) && b.subarray(4).equals(Buffer.from(token));
}
