/**
 * PCP, the Port Control Protocol (RFC 6887), NAT-PMP's successor on the same
 * UDP port 5351. Pure encode/parse functions for the ANNOUNCE and MAP opcodes;
 * the client is main/engine/portmap/pcp-client.ts.
 *
 * Request header (24 bytes): version 2 | R=0, opcode 7 bits | reserved 2 |
 *   requested lifetime 4 | client IP 16 (IPv4 as ::ffff:a.b.c.d)
 * Response header (24 bytes): version 2 | R=1, opcode | reserved 1 | result 1 |
 *   lifetime 4 | epoch 4 | reserved 12
 * MAP payload (36 bytes, request and response): nonce 12 | protocol 1 |
 *   reserved 3 | internal port 2 | (suggested → assigned) external port 2 |
 *   (suggested → assigned) external IP 16
 * Options (code 1, reserved 1, length 2, data padded to 4) may follow; they are
 * skipped. A MAP with lifetime 0 deletes the mapping; the server only accepts
 * that with the nonce that created it (§11.1), so a client keeps its nonce.
 * A response must echo the nonce of the request: `checkMapResponse` says when
 * it does not (an answer to someone else's request, or forged).
 *
 * parse* never throws on hostile input: it returns `{ ok: false, error }`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { ParseResult } from './signaling.js';
import type { MapProtocol } from './natpmp.js';

export const PCP_PORT = 5351;
export const PCP_VERSION = 2;
export const PCP_OPCODE = { ANNOUNCE: 0, MAP: 1, PEER: 2 } as const;
export const PCP_MAX_BYTES = 1100;
export const PCP_NONCE_BYTES = 12;
const IP_PROTO: Record<MapProtocol, number> = { tcp: 6, udp: 17 };

/** RFC 6887 §7.4 result codes, with what they mean for the user. */
export const PCP_RESULTS: Record<number, { name: string; meaning: string }> = {
  0: { name: 'SUCCESS', meaning: 'success' },
  1: { name: 'UNSUPP_VERSION', meaning: 'the gateway does not speak this version of PCP' },
  2: { name: 'NOT_AUTHORIZED', meaning: 'the gateway refused (mapping not allowed, or the mapping belongs to another nonce)' },
  3: { name: 'MALFORMED_REQUEST', meaning: 'the gateway could not parse the request' },
  4: { name: 'UNSUPP_OPCODE', meaning: 'the gateway does not support this request' },
  5: { name: 'UNSUPP_OPTION', meaning: 'the gateway does not support a mandatory option' },
  6: { name: 'MALFORMED_OPTION', meaning: 'an option was malformed' },
  7: { name: 'NETWORK_FAILURE', meaning: 'the gateway has no usable external address right now' },
  8: { name: 'NO_RESOURCES', meaning: 'the gateway cannot create more mappings (or has no public address to map on)' },
  9: { name: 'UNSUPP_PROTOCOL', meaning: 'the gateway cannot map this protocol' },
  10: { name: 'USER_EX_QUOTA', meaning: 'this device has used up its quota of mappings' },
  11: { name: 'CANNOT_PROVIDE_EXTERNAL', meaning: 'the gateway cannot give the requested external port or address' },
  12: { name: 'ADDRESS_MISMATCH', meaning: 'the gateway sees another source address than this device\'s own (another NAT in between)' },
  13: { name: 'EXCESSIVE_REMOTE_PEERS', meaning: 'too many remote peers' },
};

export function pcpResultText(code: number): string {
  const r = PCP_RESULTS[code];
  return r ? `PCP ${code} ${r.name}: ${r.meaning}` : `PCP ${code}: unknown result code`;
}

/** An address as the 16 bytes PCP carries: IPv6 as is, IPv4 as ::ffff:a.b.c.d. */
export function ipTo16(ip: string): Buffer {
  const out = Buffer.alloc(16);
  if (isIPv4(ip)) {
    out.writeUInt16BE(0xffff, 10);
    Buffer.from(ip.split('.').map(Number)).copy(out, 12);
    return out;
  }
  if (!isIPv6(ip)) throw new RangeError(`${ip} is not an IP address`);
  const [head = '', tail = ''] = ip.split('::') as [string?, string?];
  const groups = (s: string) => (s ? s.split(':') : []);
  let h = groups(head);
  let t = groups(tail);
  const last = (t.length ? t : h).at(-1) ?? '';
  const v4tail = isIPv4(last) ? last : undefined;
  if (v4tail) {
    const [a = 0, b = 0, c = 0, d = 0] = v4tail.split('.').map(Number);
    const extra = [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    if (t.length) t = [...t.slice(0, -1), ...extra];
    else h = [...h.slice(0, -1), ...extra];
  }
  const all = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The 16 bytes back to text: a.b.c.d for IPv4-mapped, else a normalised IPv6 address. */
export function ipFrom16(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, 16);
  if (buf.subarray(0, 10).every((x) => x === 0) && buf.readUInt16BE(10) === 0xffff) return [...buf.subarray(12, 16)].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(i).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.replace(/^\[|\]$/g, '');
}

function header(opcode: number, lifetimeSec: number, clientIp: string, payloadBytes: number): Buffer {
  if (!Number.isInteger(lifetimeSec) || lifetimeSec < 0 || lifetimeSec > 0xffffffff) throw new RangeError(`lifetime ${lifetimeSec} s is out of range`);
  const b = Buffer.alloc(24 + payloadBytes);
  b[0] = PCP_VERSION;
  b[1] = opcode & 0x7f;
  b.writeUInt32BE(lifetimeSec, 4);
  ipTo16(clientIp).copy(b, 8);
  return b;
}

/** ANNOUNCE (§14.1): a 24-byte request that only asks "do you speak PCP?" (and the epoch). */
export function encodeAnnounceRequest(clientIp: string): Buffer {
  return header(PCP_OPCODE.ANNOUNCE, 0, clientIp, 0);
}

export interface PcpMapRequest {
  nonce: Uint8Array;
  protocol: MapProtocol;
  internalPort: number;
  /** 0: let the gateway choose. */
  suggestedExternalPort: number;
  /** Absent: any (::ffff:0.0.0.0, as RFC 6887 §11.1 asks for IPv4). */
  suggestedExternalIp?: string;
  /** Seconds; 0 deletes the mapping. */
  lifetimeSec: number;
  /** This device's address on the gateway's network (the source address of the request). */
  clientIp: string;
}

export function encodeMapRequest(req: PcpMapRequest): Buffer {
  if (req.nonce.byteLength !== PCP_NONCE_BYTES) throw new RangeError(`a PCP nonce has ${PCP_NONCE_BYTES} bytes, not ${req.nonce.byteLength}`);
  for (const [name, p] of [['internal port', req.internalPort], ['suggested external port', req.suggestedExternalPort]] as const) {
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new RangeError(`${name} ${p} is not a port number`);
  }
  const b = header(PCP_OPCODE.MAP, req.lifetimeSec, req.clientIp, 36);
  Buffer.from(req.nonce).copy(b, 24);
  b[36] = IP_PROTO[req.protocol];
  b.writeUInt16BE(req.internalPort, 40);
  b.writeUInt16BE(req.suggestedExternalPort, 42);
  ipTo16(req.suggestedExternalIp ?? '0.0.0.0').copy(b, 44);
  return b;
}

export interface PcpMapPayload {
  nonce: Buffer;
  /** IANA protocol number (6 TCP, 17 UDP, 0 all). */
  protocolNumber: number;
  protocol: MapProtocol | null;
  internalPort: number;
  externalPort: number;
  externalIp: string;
}

export interface PcpResponse {
  opcode: number;
  result: number;
  /** On success the granted lifetime; on an error how long the error is expected to last (§7.4). */
  lifetimeSec: number;
  epoch: number;
  map?: PcpMapPayload;
}

export function parsePcpResponse(data: Uint8Array): ParseResult<PcpResponse> {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 1) return { ok: false, error: 'empty PCP answer' };
  const version = b[0] as number;
  if (version === 0) return { ok: false, error: 'the gateway answered with NAT-PMP (version 0), not PCP' };
  if (version !== PCP_VERSION) return { ok: false, error: `not a PCP answer (version ${version})` };
  if (b.length < 24) return { ok: false, error: `PCP answer of ${b.length} bytes is too short (at least 24)` };
  if (b.length > PCP_MAX_BYTES) return { ok: false, error: `PCP answer of ${b.length} bytes is longer than ${PCP_MAX_BYTES}` };
  if (b.length % 4 !== 0) return { ok: false, error: `PCP answer of ${b.length} bytes is not a multiple of 4` };
  const opByte = b[1] as number;
  if ((opByte & 0x80) === 0) return { ok: false, error: 'not a PCP answer (the R bit is 0: a request)' };
  const res: PcpResponse = { opcode: opByte & 0x7f, result: b[3] as number, lifetimeSec: b.readUInt32BE(4), epoch: b.readUInt32BE(8) };
  if (res.opcode === PCP_OPCODE.MAP) {
    if (b.length < 60) {
      if (res.result !== 0) return { ok: true, value: res };
      return { ok: false, error: `PCP MAP answer of ${b.length} bytes is too short (60)` };
    }
    const protocolNumber = b[36] as number;
    res.map = {
      nonce: Buffer.from(b.subarray(24, 36)),
      protocolNumber,
      protocol: protocolNumber === 6 ? 'tcp' : protocolNumber === 17 ? 'udp' : null,
      internalPort: b.readUInt16BE(40),
      externalPort: b.readUInt16BE(42),
      externalIp: ipFrom16(b.subarray(44, 60)),
    };
  }
  return { ok: true, value: res };
}

/** Null when `res` answers our MAP request; otherwise why it does not (and must be ignored). */
export function checkMapResponse(res: PcpResponse, req: { nonce: Uint8Array; protocol: MapProtocol; internalPort: number }): string | null {
  if (res.opcode !== PCP_OPCODE.MAP) return `answer to opcode ${res.opcode}, not MAP`;
  if (!res.map) return res.result === 0 ? 'MAP answer without its payload' : null;
  if (!res.map.nonce.equals(Buffer.from(req.nonce))) return 'the nonce does not match our request (an answer to someone else, or forged)';
  if (res.map.protocol !== req.protocol) return `answer for protocol ${res.map.protocolNumber}, not ${req.protocol}`;
  if (res.map.internalPort !== req.internalPort) return `answer for internal port ${res.map.internalPort}, not ${req.internalPort}`;
  return null;
}
