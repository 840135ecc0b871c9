/**
 * A Link is an authenticated channel to a known peer, after the hello exchange:
 * the initiator says who it is, why it came (session, pairing, nearby) and on
 * which tier; the responder accepts or refuses with a reason.
 */
import type { Duplex } from 'node:stream';
import type { ConnectedTier } from '../../../shared/domain/connection.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import { FrameRouter } from '../channel/frame-router.js';
import { openSecureChannel } from '../channel/secure-channel.js';
import type { Identity } from '../identity/identity.js';
import { peerIdFromPublicKey, publicKeyFromPeerId } from '../identity/peer-id.js';
import { encodeSessionFrame, SESSION_FRAME, type Hello } from '../../wire/session-frames.js';
import { EngineError } from '../errors.js';

export interface Link {
  channel: FramedChannel;
  router: FrameRouter;
  peerId: string;
  remoteName: string;
  tier: ConnectedTier;
  /** What the initiating side said in its hello. */
  hello: Hello;
  /** True when this side sent the hello (dialed, or answered a dial-back request). */
  weGreeted: boolean;
  /** The other device offers to relay for its owner's devices (peer relay). */
  remoteRelays?: boolean;
}

export const HELLO_TIMEOUT_MS = 10_000;

/** Dialing side: secure the stream, say hello, wait for the answer. */
export async function greet(raw: Duplex, identity: Identity, expectedPeerId: string, hello: Omit<Hello, 'v'>, signal?: AbortSignal): Promise<Link> {
  const expectedRemoteKey = Buffer.from(publicKeyFromPeerId(expectedPeerId));
  const onAbort = () => raw.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const channel = await openSecureChannel(raw, true, identity, { expectedRemoteKey });
    const router = new FrameRouter(channel);
    const full: Hello = { v: 1, ...hello };
    channel.write(encodeSessionFrame(SESSION_FRAME.HELLO, full));
    const ack = await router.next(SESSION_FRAME.HELLO_ACK, HELLO_TIMEOUT_MS);
    if (!ack.ok) {
      channel.close();
      throw new EngineError(ack.code ?? 'REFUSED', ack.message ?? 'The other device refused the connection.');
    }
    if (signal?.aborted) {
      channel.close();
      throw new EngineError('CANCELLED', 'cancelled');
    }
    return { channel, router, peerId: expectedPeerId, remoteName: ack.name ?? '', tier: hello.tier, hello: full, weGreeted: true, remoteRelays: ack.relay === true };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}


/** Listening side: secure the stream and read the hello; the caller decides and acks. */
export async function receiveGreeting(raw: Duplex, identity: Identity): Promise<{ channel: FramedChannel; router: FrameRouter; peerId: string; hello: Hello }> {
  const channel = await openSecureChannel(raw, false, identity);
  const router = new FrameRouter(channel);
  try {
    const hello = await router.next(SESSION_FRAME.HELLO, HELLO_TIMEOUT_MS);
    return { channel, router, peerId: peerIdFromPublicKey(channel.remotePublicKey), hello };
  } catch (err) {
    channel.close();
    throw err;
  }
}

export function ackHello(channel: FramedChannel, ok: true, name: string, relay?: boolean): void;
export function ackHello(channel: FramedChannel, ok: false, code: string, message: string): void;
export function ackHello(channel: FramedChannel, ok: boolean, a: string, b?: string | boolean): void {
  channel.write(encodeSessionFrame(SESSION_FRAME.HELLO_ACK, ok ? { ok: true, name: a, ...(b === true ? { relay: true } : {}) } : { ok: false, code: a, message: typeof b === 'string' ? b : '' }));
}
