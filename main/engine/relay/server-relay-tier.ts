/**
 * Tier `server-relay`: the rendezvous server pipes a circuit between the two
 * peers (main/rendezvous/relay.ts). Each side connects a WebSocket to its end of
 * the circuit; the secure channel then runs end to end through it, so the relay
 * sees only ciphertext. It is the last rung: it starts after the other tiers had
 * a head start, and a relayed connection keeps trying to upgrade (node.ts).
 */
import type { Duplex } from 'node:stream';
import WebSocket, { createWebSocketStream } from 'ws';
import type { TierStrategy } from '../ladder/ladder.js';
import type { DialContext } from '../ladder/tiers.js';
import { greet, type Link } from '../ladder/link.js';
import { EngineError } from '../errors.js';

/** Open one end of a relay circuit as a byte stream. */
export function connectRelay(url: string, signal?: AbortSignal, timeoutMs = 5000): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs, maxPayload: 4 * 1024 * 1024 });
    const onAbort = () => { ws.terminate(); reject(new EngineError('CANCELLED', 'cancelled')); };
    signal?.addEventListener('abort', onAbort, { once: true });
    ws.once('open', () => {
      signal?.removeEventListener('abort', onAbort);
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {});
      resolve(stream);
    });
    ws.once('unexpected-response', (_req, res) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new EngineError('RELAY_REFUSED', `the relay refused the circuit (HTTP ${res.statusCode})`));
    });
    ws.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new EngineError('RELAY_UNREACHABLE', `could not reach the relay: ${err.message}`));
    });
  });
}

export const serverRelayTier: TierStrategy<DialContext, Link> = {
  tier: 'server-relay',
  skipReason(ctx) {
    if (ctx.knobs.disabledTiers.has('server-relay')) return 'disabled by setting';
    if (!ctx.rendezvous?.registered) return 'not connected to a rendezvous server';
    return null;
  },
  async attempt(ctx, signal, report) {
    const rendezvous = ctx.rendezvous;
    if (!rendezvous) throw new EngineError('NO_RENDEZVOUS', 'no rendezvous');
    const { circuit, token, limits } = await rendezvous.openRelay(ctx.target.peerId);
    const url = rendezvous.relayUrl(circuit, token);
    report(`${new URL(url).host} (limits: ${Math.round(limits.maxBytesPerSec / 1048576)} MiB/s shared, ${Math.round(limits.maxDurationSec / 60)} min)`);
    const stream = await connectRelay(url, signal);
    ctx.onRelayLimits?.(limits);
    return greet(stream, ctx.identity, ctx.target.peerId, {
      name: ctx.name, purpose: ctx.purpose, tier: 'server-relay',
      ...(ctx.nameplate !== undefined ? { nameplate: ctx.nameplate } : {}),
    }, signal);
  },
};
