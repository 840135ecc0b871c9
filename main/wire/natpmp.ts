/**
 * NAT-PMP (RFC 6886): the NAT Port Mapping Protocol that Apple routers and
 * miniupnpd speak on UDP port 5351 of the default gateway. Pure encode/parse
 * functions; the client that sends them is main/engine/portmap/natpmp-client.ts.
 *
 * Requests (client → gateway:5351), all fields big-endian:
 *   external address  version 0 | opcode 0                                         (2 bytes)
 *   map               version 0 | opcode 1 (UDP) or 2 (TCP) | reserved 2 |
 *                     internal port 2 | suggested external port 2 | lifetime 4     (12 bytes)
 * Responses (gateway → client): version 0 | 128 + opcode | result 2 | epoch 4 | …
 *   external address  … | external IPv4 4                                           (12 bytes)
 *   map               … | internal port 2 | mapped external port 2 | lifetime 4    (16 bytes)
 * A map request with lifetime 0 deletes the mapping (§3.4). An error answer may
 * be only 8 bytes long (miniupnpd answers an unknown opcode that way).
 *
 * parse* never throws on hostile input: it returns `{ ok: false, error }`.
 */
import type { ParseResult } from './signaling.js';

export const NATPMP_PORT = 5351;
export const NATPMP_VERSION = 0;
export type MapProtocol = 'udp' | 'tcp';

/** RFC 6886 §3.5 result codes, with what they mean for the user. */
export const NATPMP_RESULTS: Record<number, { name: string; meaning: string }> = {
  0: { name: 'SUCCESS', meaning: 'success' },
  1: { name: 'UNSUPPORTED_VERSION', meaning: 'the gateway does not speak this version of NAT-PMP' },
  2: { name: 'NOT_AUTHORIZED', meaning: 'the gateway refused (port mapping is switched off or not allowed for this port)' },
  3: { name: 'NETWORK_FAILURE', meaning: 'the gateway has no usable external address (not connected, or itself behind another NAT)' },
  4: { name: 'OUT_OF_RESOURCES', meaning: 'the gateway has no free ports or mapping slots left' },
  5: { name: 'UNSUPPORTED_OPCODE', meaning: 'the gateway does not support this request' },
};

/** "NAT-PMP 3 NETWORK_FAILURE: the gateway has no usable external address …" */
export function natPmpResultText(code: number): string {
  const r = NATPMP_RESULTS[code];
  return r ? `NAT-PMP ${code} ${r.name}: ${r.meaning}` : `NAT-PMP ${code}: unknown result code`;
}

export function encodeExternalAddressRequest(): Buffer {
  return Buffer.from([NATPMP_VERSION, 0]);
}

export interface NatPmpMapRequest {
  protocol: MapProtocol;
  internalPort: number;
  /** 0: let the gateway choose. */
  suggestedExternalPort: number;
  /** Seconds; 0 deletes the mapping. RFC 6886 recommends 7200. */
  lifetimeSec: number;
}

function checkPort(name: string, port: number, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) throw new RangeError(`${name} ${port} is not a port number`);
}

export function encodeMapRequest(req: NatPmpMapRequest): Buffer {
  checkPort('internal port', req.internalPort, req.lifetimeSec === 0);
  checkPort('suggested external port', req.suggestedExternalPort, true);
  if (!Number.isInteger(req.lifetimeSec) || req.lifetimeSec < 0 || req.lifetimeSec > 0xffffffff) throw new RangeError(`lifetime ${req.lifetimeSec} s is out of range`);
  const b = Buffer.alloc(12);
  b[0] = NATPMP_VERSION;
  b[1] = req.protocol === 'udp' ? 1 : 2;
  b.writeUInt16BE(req.internalPort, 4);
  b.writeUInt16BE(req.suggestedExternalPort, 6);
  b.writeUInt32BE(req.lifetimeSec, 8);
  return b;
}

/** A map deletion (lifetime 0, suggested external port 0), RFC 6886 §3.4. */
export function encodeDeleteRequest(protocol: MapProtocol, internalPort: number): Buffer {
  return encodeMapRequest({ protocol, internalPort, suggestedExternalPort: 0, lifetimeSec: 0 });
}

export type NatPmpResponse =
  | { op: 'external-address'; result: number; epoch: number; externalIp: string | null }
  | { op: 'map'; protocol: MapProtocol; result: number; epoch: number; internalPort: number; externalPort: number; lifetimeSec: number }
  | { op: 'other'; opcode: number; result: number; epoch: number };

export function parseNatPmpResponse(data: Uint8Array): ParseResult<NatPmpResponse> {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 2) return { ok: false, error: `NAT-PMP answer of ${b.length} bytes is too short` };
  const version = b[0] as number;
  if (version === 2) return { ok: false, error: 'the gateway answered with PCP (version 2), not NAT-PMP' };
  if (version !== NATPMP_VERSION) return { ok: false, error: `not a NAT-PMP answer (version ${version})` };
  const opByte = b[1] as number;
  if (opByte < 128) return { ok: false, error: `not a NAT-PMP answer (opcode ${opByte} is a request)` };
  if (b.length < 8) return { ok: false, error: `NAT-PMP answer of ${b.length} bytes is too short (at least 8)` };
  const opcode = opByte - 128;
  const result = b.readUInt16BE(2);
  const epoch = b.readUInt32BE(4);
  if (opcode === 0) {
    if (result !== 0 && b.length < 12) return { ok: true, value: { op: 'external-address', result, epoch, externalIp: null } };
    if (b.length < 12) return { ok: false, error: `NAT-PMP external-address answer of ${b.length} bytes is too short (12)` };
    const ip = [...b.subarray(8, 12)].join('.');
    return { ok: true, value: { op: 'external-address', result, epoch, externalIp: result === 0 ? ip : ip === '0.0.0.0' ? null : ip } };
  }
  if (opcode === 1 || opcode === 2) {
    const protocol: MapProtocol = opcode === 1 ? 'udp' : 'tcp';
    if (b.length < 16) {
      if (result !== 0) return { ok: true, value: { op: 'map', protocol, result, epoch, internalPort: 0, externalPort: 0, lifetimeSec: 0 } };
      return { ok: false, error: `NAT-PMP map answer of ${b.length} bytes is too short (16)` };
    }
    return { ok: true, value: { op: 'map', protocol, result, epoch, internalPort: b.readUInt16BE(8), externalPort: b.readUInt16BE(10), lifetimeSec: b.readUInt32BE(12) } };
  }
  return { ok: true, value: { op: 'other', opcode, result, epoch } };
}
