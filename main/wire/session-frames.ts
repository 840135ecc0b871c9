/**
 * Session frames: the control messages two nodes exchange inside the secure
 * channel before and besides transfers (hello, pairing, keep-alive RTT probes).
 * One type byte (0x01–0x1f, see framed-channel.ts) followed by a JSON body.
 * Parsing never throws: hostile frames come back as `{ ok: false }`.
 */
import { z } from 'zod';

export const SESSION_FRAME = {
  HELLO: 0x01,
  HELLO_ACK: 0x02,
  PAKE_A: 0x03,
  PAKE_B: 0x04,
  PAKE_CONFIRM: 0x05,
  PAKE_RESULT: 0x06,
  PING: 0x07,
  PONG: 0x08,
  BYE: 0x09,
  /** Peer relay (a user's own reachable device relays for their others). */
  RELAY_REQ: 0x0a,
  RELAY_OK: 0x0b,
  RELAY_FAIL: 0x0c,
  RELAY_OFFER: 0x0d,
  /** What this device offers its peer (today: whether it relays for the owner's devices). */
  CAPS: 0x0e,
} as const;

/** Frames a peer relay carries between the two ends of a circuit, untouched: 0x40 | bytes of the inner stream. */
export const RELAYED_DATA = 0x40;

const TIER = z.enum(['lan', 'direct', 'upnp', 'natpmp', 'pcp', 'reverse', 'udp-punch', 'tcp-punch', 'peer-relay', 'server-relay']);
const hexBytes = z.string().regex(/^[0-9a-f]{2,512}$/);
const name = z.string().max(64);

const schemas = {
  [SESSION_FRAME.HELLO]: z.object({
    v: z.literal(1),
    name,
    /** session: paired contacts; pair: invite-code pairing follows; nearby: unpaired device on the LAN. */
    purpose: z.enum(['session', 'pair', 'nearby', 'relay']),
    tier: TIER,
    /** Set when this connection answers a reverse (dial-back) request. */
    reverseOf: z.string().max(64).optional(),
    nameplate: z.number().int().min(0).optional(),
    /** This device relays for its owner's other devices. */
    relay: z.boolean().optional(),
    /** purpose relay: the circuit and this end's one-time token. */
    circuit: z.string().regex(/^[0-9a-f]{32}$/).optional(),
    token: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  }),
  [SESSION_FRAME.HELLO_ACK]: z.object({ ok: z.boolean(), name: name.optional(), code: z.string().max(64).optional(), message: z.string().max(500).optional(), relay: z.boolean().optional() }),
  [SESSION_FRAME.PAKE_A]: z.object({ msg: hexBytes }),
  [SESSION_FRAME.PAKE_B]: z.object({ msg: hexBytes, confirm: hexBytes }),
  [SESSION_FRAME.PAKE_CONFIRM]: z.object({ confirm: hexBytes }),
  [SESSION_FRAME.PAKE_RESULT]: z.object({ ok: z.boolean(), code: z.string().max(64).optional(), message: z.string().max(500).optional() }),
  [SESSION_FRAME.PING]: z.object({ n: z.number().int() }),
  [SESSION_FRAME.PONG]: z.object({ n: z.number().int() }),
  [SESSION_FRAME.BYE]: z.object({ reason: z.string().max(200) }),
  [SESSION_FRAME.RELAY_REQ]: z.object({ reqId: z.string().max(64), to: z.string().regex(/^[a-z2-7]{52}$/) }),
  [SESSION_FRAME.RELAY_OK]: z.object({ reqId: z.string().max(64), circuit: z.string().regex(/^[0-9a-f]{32}$/), token: z.string().regex(/^[0-9a-f]{64}$/), addrs: z.array(z.object({ ip: z.string().max(64), port: z.number().int().min(1).max(65535) })).max(16) }),
  [SESSION_FRAME.CAPS]: z.object({ relay: z.boolean() }),
  [SESSION_FRAME.RELAY_FAIL]: z.object({ reqId: z.string().max(64), reason: z.string().max(300) }),
  [SESSION_FRAME.RELAY_OFFER]: z.object({ from: z.string().regex(/^[a-z2-7]{52}$/), circuit: z.string().regex(/^[0-9a-f]{32}$/), token: z.string().regex(/^[0-9a-f]{64}$/), addrs: z.array(z.object({ ip: z.string().max(64), port: z.number().int().min(1).max(65535) })).max(16) }),
} as const;

type Schemas = typeof schemas;
export type SessionFrameType = keyof Schemas;
export type SessionBody<T extends SessionFrameType> = z.infer<Schemas[T]>;
export type Hello = SessionBody<typeof SESSION_FRAME.HELLO>;
export type SessionFrame = { [T in SessionFrameType]: { type: T; body: SessionBody<T> } }[SessionFrameType];

export const MAX_SESSION_FRAME = 8 * 1024;

export function encodeSessionFrame<T extends SessionFrameType>(type: T, body: SessionBody<T>): Uint8Array {
  const json = Buffer.from(JSON.stringify(body));
  const frame = Buffer.allocUnsafe(1 + json.length);
  frame[0] = type;
  json.copy(frame, 1);
  return frame;
}

export function isSessionFrame(frame: Uint8Array): boolean {
  return frame.length > 0 && (frame[0] as number) >= 0x01 && (frame[0] as number) <= 0x1f;
}

export function parseSessionFrame(frame: Uint8Array): { ok: true; frame: SessionFrame } | { ok: false; error: string } {
  if (frame.length < 2) return { ok: false, error: 'truncated session frame' };
  if (frame.length > MAX_SESSION_FRAME) return { ok: false, error: 'oversized session frame' };
  const type = frame[0] as number;
  const schema = (schemas as Record<number, z.ZodType>)[type];
  if (!schema) return { ok: false, error: `unknown session frame type 0x${type.toString(16)}` };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(frame.buffer, frame.byteOffset + 1, frame.length - 1).toString('utf8'));
  } catch {
    return { ok: false, error: 'session frame body is not JSON' };
  }
  const result = schema.safeParse(json);
  if (!result.success) return { ok: false, error: `bad session frame 0x${type.toString(16)}: ${result.error.issues[0]?.message ?? 'invalid'}` };
  return { ok: true, frame: { type, body: result.data } as SessionFrame };
}

