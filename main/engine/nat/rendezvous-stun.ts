/**
 * Which STUN servers a rendezvous offers: its `registered` message lists them
 * (main/wire/signaling.ts), so a node needs no STUN configuration. A running
 * node reads them from its own registration; this one-shot lookup serves tools
 * that are not a node (`postern doctor`): it registers a throwaway identity
 * (never the device's, which would replace the node's registration), reads the
 * answer and hangs up. Also returns the address the server saw the WebSocket
 * (TCP) come from.
 */
import WebSocket from 'ws';
import {
  encodeMessage, parseServerMessage, REGISTER_CONTEXT, SIGNALING_VERSION, type Observed, type StunEndpoint,
} from '../../wire/signaling.js';
import { generateIdentity, sign } from '../identity/identity.js';

export interface RendezvousStunInfo {
  stun: StunEndpoint[];
  /** The public address and port the rendezvous saw this TCP connection come from. */
  observed: Observed | null;
}

export function stunServersFromRendezvous(url: string, timeoutMs = 5000): Promise<RendezvousStunInfo> {
  return new Promise((resolve, reject) => {
    const identity = generateIdentity();
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, maxPayload: 64 * 1024 });
    let settled = false;
    const done = (err: Error | null, info?: RendezvousStunInfo) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.close();
      if (err) reject(err);
      else resolve(info as RendezvousStunInfo);
    };
    const timer = setTimeout(() => done(new Error(`the rendezvous at ${url} did not answer within ${timeoutMs} ms`)), timeoutMs);
    ws.on('error', (err) => done(new Error(`cannot reach the rendezvous at ${url}: ${err.message}`)));
    ws.on('close', () => done(new Error(`the rendezvous at ${url} closed the connection`)));
    ws.on('message', (data: Buffer) => {
      const parsed = parseServerMessage(data);
      if (!parsed.ok) return;
      const msg = parsed.value;
      if (msg.t === 'challenge') {
        const sig = sign(identity, Buffer.concat([Buffer.from(REGISTER_CONTEXT), Buffer.from(msg.nonce, 'hex')]));
        ws.send(encodeMessage({ t: 'register', v: SIGNALING_VERSION, publicKey: identity.publicKey.toString('hex'), sig: sig.toString('hex'), name: 'postern doctor', endpoint: { tcpPort: null, candidates: [] } }));
      } else if (msg.t === 'registered') {
        done(null, { stun: msg.stun ?? [], observed: msg.observed });
      } else if (msg.t === 'error') {
        done(new Error(`the rendezvous refused: ${msg.message}`));
      }
    });
  });
}
