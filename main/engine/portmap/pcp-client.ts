/**
 * PCP client (RFC 6887): ANNOUNCE to learn whether the gateway speaks PCP, and
 * MAP requests for TCP and UDP ports, each with a random 12-byte nonce that the
 * answer must echo (answers with another nonce, protocol or port are ignored,
 * as forged or someone else's). Renewal repeats the MAP with the same nonce;
 * deletion is a MAP with lifetime 0 and the same nonce — the gateway refuses
 * others (NOT_AUTHORIZED), which is why the port mapper records the nonce.
 */
import { randomBytes } from 'node:crypto';
import {
  checkMapResponse, encodeAnnounceRequest, encodeMapRequest, parsePcpResponse, pcpResultText, PCP_NONCE_BYTES, PCP_OPCODE, PCP_PORT,
  type PcpResponse,
} from '../../wire/pcp.js';
import type { MapProtocol } from '../../wire/natpmp.js';
import { udpExchange } from './udp-request.js';
import { gatewayError, PortMapError } from './errors.js';
import type { PmpTarget } from './natpmp-client.js';

export interface PcpMapping {
  protocol: MapProtocol;
  internalPort: number;
  externalPort: number;
  externalIp: string;
  lifetimeSec: number;
  epoch: number;
  nonce: Buffer;
}

export function newPcpNonce(): Buffer {
  return randomBytes(PCP_NONCE_BYTES);
}

/** `match` returns null for our answer, or why an answer is not ours (reported if no other comes). */
async function ask(t: PmpTarget, request: Buffer, match: (r: PcpResponse) => string | null, what: string): Promise<PcpResponse> {
  let bad: string | undefined;
  const answer = await udpExchange<PcpResponse>({
    host: t.gateway, port: t.port ?? PCP_PORT, request,
    ...(t.tries !== undefined ? { tries: t.tries } : {}), ...(t.initialWaitMs !== undefined ? { initialWaitMs: t.initialWaitMs } : {}),
    ...(t.signal ? { signal: t.signal } : {}),
    accept: (msg) => {
      const r = parsePcpResponse(msg);
      if (!r.ok) {
        bad = r.error;
        return undefined;
      }
      const notOurs = match(r.value);
      if (notOurs) {
        bad = `an answer not for our request (${notOurs})`;
        return undefined;
      }
      return r.value;
    },
  });
  if (!answer) {
    if (bad) throw new PortMapError('PORTMAP_BAD_ANSWER', `PCP: no valid answer from the gateway ${t.gateway} to the ${what}: ${bad}`, 'pcp');
    throw new PortMapError('PORTMAP_TIMEOUT', `PCP: no answer from the gateway ${t.gateway} to the ${what}`, 'pcp');
  }
  return answer;
}

/** Resolves when the gateway speaks PCP (any valid PCP answer to ANNOUNCE, even UNSUPP_OPCODE). */
export async function pcpAnnounce(t: PmpTarget, clientIp: string): Promise<{ epoch: number; result: number }> {
  const r = await ask(t, encodeAnnounceRequest(clientIp), (x) => (x.opcode === PCP_OPCODE.ANNOUNCE ? null : `opcode ${x.opcode}`), 'ANNOUNCE');
  return { epoch: r.epoch, result: r.result };
}

export interface PcpMapRequest {
  nonce: Buffer;
  protocol: MapProtocol;
  internalPort: number;
  suggestedExternalPort: number;
  lifetimeSec: number;
  clientIp: string;
}

/** MAP (create, renew, or delete with lifetime 0). A non-zero result throws PCP_<code>. */
export async function pcpMap(t: PmpTarget, req: PcpMapRequest): Promise<PcpMapping> {
  const r = await ask(t, encodeMapRequest(req), (x) => checkMapResponse(x, req),
    `MAP ${req.protocol.toUpperCase()} request for port ${req.internalPort}${req.lifetimeSec === 0 ? ' (delete)' : ''}`);
  if (r.result !== 0) {
    const extra = r.result === 12 ? ` (this device sent ${req.clientIp})` : r.lifetimeSec ? ` (for the next ${r.lifetimeSec} s)` : '';
    throw gatewayError('pcp', r.result, `${pcpResultText(r.result)}${extra}`, { externalIp: r.map && r.map.externalIp !== '0.0.0.0' && r.map.externalIp !== '::' ? r.map.externalIp : null });
  }
  const m = r.map;
  if (!m) throw new PortMapError('PORTMAP_BAD_ANSWER', 'PCP: MAP answer without its payload', 'pcp');
  if (req.lifetimeSec > 0 && (m.externalPort === 0 || r.lifetimeSec === 0)) {
    throw new PortMapError('PORTMAP_BAD_ANSWER', `PCP: the gateway answered the MAP request with external port ${m.externalPort} for ${r.lifetimeSec} s`, 'pcp');
  }
  return { protocol: req.protocol, internalPort: m.internalPort, externalPort: m.externalPort, externalIp: m.externalIp, lifetimeSec: r.lifetimeSec, epoch: r.epoch, nonce: req.nonce };
}

export async function pcpUnmap(t: PmpTarget, req: Omit<PcpMapRequest, 'lifetimeSec' | 'suggestedExternalPort'>): Promise<void> {
  await pcpMap(t, { ...req, lifetimeSec: 0, suggestedExternalPort: 0 });
}
