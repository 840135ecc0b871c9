/**
 * NAT-PMP client (RFC 6886): ask the default gateway on UDP 5351 for its
 * external address and for TCP/UDP port mappings, renew them by asking again,
 * delete them with lifetime 0. Lifetimes are in seconds on the wire (a known
 * library sends milliseconds there: 1,000 times too long). The suggested
 * external port is sent as asked; the gateway may give another one.
 */
import {
  encodeDeleteRequest, encodeExternalAddressRequest, encodeMapRequest, natPmpResultText, NATPMP_PORT, parseNatPmpResponse,
  type MapProtocol, type NatPmpResponse,
} from '../../wire/natpmp.js';
import { udpExchange } from './udp-request.js';
import { gatewayError, PortMapError } from './errors.js';

export interface PmpTarget {
  gateway: string;
  /** @default 5351 */
  port?: number;
  /** Sends in total (250 ms, doubling). @default 3 */
  tries?: number;
  initialWaitMs?: number;
  signal?: AbortSignal;
}

export interface PmpMapping {
  protocol: MapProtocol;
  internalPort: number;
  externalPort: number;
  lifetimeSec: number;
  epoch: number;
}

async function ask<T extends NatPmpResponse>(t: PmpTarget, request: Buffer, match: (r: NatPmpResponse) => r is T, what: string): Promise<T> {
  let bad: string | undefined;
  const answer = await udpExchange<T>({
    host: t.gateway, port: t.port ?? NATPMP_PORT, request,
    ...(t.tries !== undefined ? { tries: t.tries } : {}), ...(t.initialWaitMs !== undefined ? { initialWaitMs: t.initialWaitMs } : {}),
    ...(t.signal ? { signal: t.signal } : {}),
    accept: (msg) => {
      const r = parseNatPmpResponse(msg);
      if (!r.ok) {
        bad = r.error;
        return undefined;
      }
      return match(r.value) ? r.value : undefined;
    },
  });
  if (!answer) {
    if (bad) throw new PortMapError('PORTMAP_BAD_ANSWER', `NAT-PMP: no valid answer from the gateway ${t.gateway} to the ${what}: ${bad}`, 'natpmp');
    throw new PortMapError('PORTMAP_TIMEOUT', `NAT-PMP: no answer from the gateway ${t.gateway} to the ${what}`, 'natpmp');
  }
  return answer;
}

/** The gateway's external IPv4 address (opcode 0). A non-zero result throws NATPMP_<code>. */
export async function natPmpExternalAddress(t: PmpTarget): Promise<{ externalIp: string; epoch: number }> {
  const r = await ask(t, encodeExternalAddressRequest(), (x): x is Extract<NatPmpResponse, { op: 'external-address' }> => x.op === 'external-address', 'external-address request');
  if (r.result !== 0 || !r.externalIp) throw gatewayError('natpmp', r.result, natPmpResultText(r.result), { externalIp: r.externalIp });
  return { externalIp: r.externalIp, epoch: r.epoch };
}

/** Map (or renew) a port; the answer's external port may differ from the suggestion. */
export async function natPmpMap(t: PmpTarget, req: { protocol: MapProtocol; internalPort: number; suggestedExternalPort: number; lifetimeSec: number }): Promise<PmpMapping> {
  const r = await ask(t, encodeMapRequest(req), (x): x is Extract<NatPmpResponse, { op: 'map' }> =>
    x.op === 'map' && x.protocol === req.protocol && (x.result !== 0 || x.internalPort === req.internalPort), `${req.protocol.toUpperCase()} map request for port ${req.internalPort}`);
  if (r.result !== 0) throw gatewayError('natpmp', r.result, natPmpResultText(r.result));
  if (r.lifetimeSec === 0 || r.externalPort === 0) throw new PortMapError('PORTMAP_BAD_ANSWER', `NAT-PMP: the gateway answered the map request with external port ${r.externalPort} for ${r.lifetimeSec} s`, 'natpmp');
  return { protocol: r.protocol, internalPort: r.internalPort, externalPort: r.externalPort, lifetimeSec: r.lifetimeSec, epoch: r.epoch };
}

/** Delete the mapping of an internal port (RFC 6886 §3.4: lifetime 0, external port 0). */
export async function natPmpUnmap(t: PmpTarget, protocol: MapProtocol, internalPort: number): Promise<void> {
  const r = await ask(t, encodeDeleteRequest(protocol, internalPort), (x): x is Extract<NatPmpResponse, { op: 'map' }> =>
    x.op === 'map' && x.protocol === protocol && (x.result !== 0 || x.internalPort === internalPort), `${protocol.toUpperCase()} delete request for port ${internalPort}`);
  if (r.result !== 0) throw gatewayError('natpmp', r.result, natPmpResultText(r.result));
}
