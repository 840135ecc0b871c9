/**
 * STUN (RFC 8489, Session Traversal Utilities for NAT) as pure encode/parse
 * functions: the 20-byte header with the magic cookie and a 96-bit transaction
 * ID, and the attributes NAT discovery needs: XOR-MAPPED-ADDRESS and
 * MAPPED-ADDRESS, ERROR-CODE, UNKNOWN-ATTRIBUTES, SOFTWARE, FINGERPRINT
 * (CRC-32 XOR 0x5354554e), and from RFC 5780 (NAT behaviour discovery)
 * CHANGE-REQUEST, RESPONSE-ORIGIN and OTHER-ADDRESS.
 *
 * `isStunPacket` lets the node's one UDP socket route datagrams (first two bits
 * zero, magic cookie, consistent length). `parseStun` never throws anything but
 * a `StunParseError` (with a code) on hostile input; `tryParseStun` returns it.
 * Comprehension-required attributes this codec does not understand are listed
 * in `unknownRequired`, so a server can answer 420 (Unknown Attribute).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isIPv4 } from 'node:net';
import * as zlib from 'node:zlib';

export const MAGIC_COOKIE = 0x2112a442;
export const STUN_HEADER_BYTES = 20;
export const FINGERPRINT_XOR = 0x5354554e;
export const BINDING = 0x001;

export const STUN_ATTR = {
  MAPPED_ADDRESS: 0x0001,
  CHANGE_REQUEST: 0x0003,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  XOR_MAPPED_ADDRESS: 0x0020,
  PADDING: 0x0026,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  RESPONSE_ORIGIN: 0x802b,
  OTHER_ADDRESS: 0x802c,
} as const;

/** Comprehension-required attributes (type < 0x8000) this codec understands. */
const UNDERSTOOD_REQUIRED = new Set<number>([
  STUN_ATTR.MAPPED_ADDRESS, STUN_ATTR.CHANGE_REQUEST, STUN_ATTR.ERROR_CODE, STUN_ATTR.UNKNOWN_ATTRIBUTES,
  STUN_ATTR.XOR_MAPPED_ADDRESS, STUN_ATTR.PADDING,
]);

export type StunClass = 'request' | 'indication' | 'success' | 'error';
const CLASS_BITS: Record<StunClass, number> = { request: 0, indication: 1, success: 2, error: 3 };
const CLASSES: StunClass[] = ['request', 'indication', 'success', 'error'];

export interface StunAddress {
  family: 'IPv4' | 'IPv6';
  ip: string;
  port: number;
}

export interface StunAttribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  method: number;
  cls: StunClass;
  /** 12 bytes. */
  transactionId: Buffer;
  /** Every attribute in order, raw (values without padding). */
  attributes: StunAttribute[];
  xorMappedAddress?: StunAddress;
  mappedAddress?: StunAddress;
  responseOrigin?: StunAddress;
  otherAddress?: StunAddress;
  changeRequest?: { changeIp: boolean; changePort: boolean };
  software?: string;
  errorCode?: { code: number; reason: string };
  unknownAttributes?: number[];
  /** Comprehension-required attribute types this codec does not understand (a server answers 420). */
  unknownRequired: number[];
  hasMessageIntegrity: boolean;
  /** A FINGERPRINT was present (it is always checked: a wrong one is a parse error). */
  hasFingerprint: boolean;
}

export type StunErrorCode =
  | 'TRUNCATED' | 'NOT_STUN' | 'BAD_COOKIE' | 'BAD_LENGTH' | 'ATTRIBUTE_OVERRUN' | 'BAD_ATTRIBUTE' | 'BAD_FINGERPRINT';

export class StunParseError extends Error {
  constructor(readonly code: StunErrorCode, message: string) {
    super(message);
    this.name = 'StunParseError';
  }
}

// ---- CRC-32 (zlib's when this Node has it: 20.15+) ---------------------------

let table: Uint32Array | undefined;
function crc32Fallback(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = (table[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
export const crc32: (data: Uint8Array) => number = typeof zlibCrc32 === 'function' ? (d) => zlibCrc32(d) >>> 0 : crc32Fallback;

// ---- IP text <-> bytes ---------------------------------------------------------

/** IPv4 or IPv6 text to 4 or 16 bytes; null when it is neither. */
export function ipToBytes(ip: string): Buffer | null {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  let text = ip.replace(/%.*$/, '').toLowerCase();
  let tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [, prefix = '', dotted = ''] = v4;
    if (!isIPv4(dotted)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
    tail = [(a << 8) | b, (c << 8) | d];
    text = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  const head = parse(halves[0] as string);
  const rest = halves.length === 2 ? parse(halves[1] as string) : [];
  if (![...head, ...rest].every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  const groups = [...head, ...rest].length + tail.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return null;
  const words = [...head.map((g) => parseInt(g, 16)), ...Array<number>(8 - groups).fill(0), ...rest.map((g) => parseInt(g, 16)), ...tail];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** 4 or 16 bytes to text (IPv6 per RFC 5952: lower case, longest zero run as "::", v4-mapped as ::ffff:a.b.c.d). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] as number) << 8) | (b[i + 1] as number));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return `::ffff:${Array.from(b.subarray(12)).join('.')}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

// ---- message type ----------------------------------------------------------------

function messageType(method: number, cls: StunClass): number {
  const c = CLASS_BITS[cls];
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((c & 1) << 4) | ((c & 2) << 7);
}

function splitType(t: number): { method: number; cls: StunClass } {
  const c = ((t >> 4) & 1) | ((t >> 7) & 2);
  return { method: (t & 0x000f) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0f80), cls: CLASSES[c] as StunClass };
}

// ---- routing ---------------------------------------------------------------------

/** A datagram that looks like STUN: two zero bits, the magic cookie, and a length that fits exactly. */
export function isStunPacket(buf: Uint8Array): boolean {
  if (buf.length < STUN_HEADER_BYTES || ((buf[0] as number) & 0xc0) !== 0) return false;
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.readUInt16BE(2);
  return view.readUInt32BE(4) === MAGIC_COOKIE && length % 4 === 0 && STUN_HEADER_BYTES + length === buf.length;
}

/** For stream transports (TCP): the whole message's length from its header, or null when this is no STUN header. */
export function stunFrameLength(buf: Uint8Array): number | null {
  if (buf.length < STUN_HEADER_BYTES || ((buf[0] as number) & 0xc0) !== 0) return null;
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.readUInt32BE(4) !== MAGIC_COOKIE) return null;
  const length = view.readUInt16BE(2);
  return length % 4 === 0 ? STUN_HEADER_BYTES + length : null;
}

export function newTransactionId(): Buffer {
  return randomBytes(12);
}

// ---- parse -----------------------------------------------------------------------

function decodeAddress(type: number, v: Buffer, txid: Buffer | null): StunAddress {
  const name = `attribute 0x${type.toString(16).padStart(4, '0')}`;
  if (v.length < 4) throw new StunParseError('BAD_ATTRIBUTE', `${name}: ${v.length} bytes is too short for an address`);
  const family = v[1];
  const size = family === 1 ? 4 : family === 2 ? 16 : 0;
  if (!size) throw new StunParseError('BAD_ATTRIBUTE', `${name}: unknown address family ${family}`);
  if (v.length !== 4 + size) throw new StunParseError('BAD_ATTRIBUTE', `${name}: ${v.length} bytes for an IPv${size === 4 ? 4 : 6} address`);
  let port = v.readUInt16BE(2);
  const addr = Buffer.from(v.subarray(4, 4 + size));
  if (txid) {
    port ^= MAGIC_COOKIE >>> 16;
    const key = Buffer.alloc(16);
    key.writeUInt32BE(MAGIC_COOKIE, 0);
    txid.copy(key, 4);
    for (let i = 0; i < size; i++) addr[i] = (addr[i] as number) ^ (key[i] as number);
  }
  return { family: size === 4 ? 'IPv4' : 'IPv6', ip: bytesToIp(addr), port };
}

/** Parses one STUN message (a whole datagram, or a whole TCP frame). Throws only StunParseError. */
export function parseStun(input: Uint8Array): StunMessage {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < STUN_HEADER_BYTES) throw new StunParseError('TRUNCATED', `${buf.length} bytes is shorter than a STUN header`);
  if (((buf[0] as number) & 0xc0) !== 0) throw new StunParseError('NOT_STUN', 'the first two bits are not zero');
  if (buf.readUInt32BE(4) !== MAGIC_COOKIE) throw new StunParseError('BAD_COOKIE', 'no magic cookie (RFC 3489 STUN is not supported)');
  const length = buf.readUInt16BE(2);
  if (length % 4 !== 0) throw new StunParseError('BAD_LENGTH', `message length ${length} is not a multiple of 4`);
  if (STUN_HEADER_BYTES + length > buf.length) throw new StunParseError('TRUNCATED', `the header says ${length} bytes of attributes, ${buf.length - STUN_HEADER_BYTES} arrived`);
  if (STUN_HEADER_BYTES + length < buf.length) throw new StunParseError('BAD_LENGTH', `${buf.length - STUN_HEADER_BYTES - length} bytes after the message`);
  const { method, cls } = splitType(buf.readUInt16BE(0));
  const transactionId = Buffer.from(buf.subarray(8, 20));
  const msg: StunMessage = { method, cls, transactionId, attributes: [], unknownRequired: [], hasMessageIntegrity: false, hasFingerprint: false };

  let off = STUN_HEADER_BYTES;
  while (off < buf.length) {
    if (buf.length - off < 4) throw new StunParseError('ATTRIBUTE_OVERRUN', `attribute header at byte ${off} runs past the end`);
    const type = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    const padded = (len + 3) & ~3;
    if (off + 4 + padded > buf.length) throw new StunParseError('ATTRIBUTE_OVERRUN', `attribute 0x${type.toString(16)} (${len} bytes) runs past the end`);
    if (msg.hasFingerprint) throw new StunParseError('BAD_FINGERPRINT', 'an attribute follows FINGERPRINT');
    const value = Buffer.from(buf.subarray(off + 4, off + 4 + len));
    msg.attributes.push({ type, value });
    if (type === STUN_ATTR.FINGERPRINT) {
      if (len !== 4) throw new StunParseError('BAD_FINGERPRINT', `FINGERPRINT of ${len} bytes`);
      const want = (crc32(buf.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0;
      if (value.readUInt32BE(0) !== want) throw new StunParseError('BAD_FINGERPRINT', 'FINGERPRINT does not match the message');
      msg.hasFingerprint = true;
    } else if (msg.hasMessageIntegrity && type !== STUN_ATTR.MESSAGE_INTEGRITY_SHA256) {
      // RFC 8489 section 14.5: attributes after MESSAGE-INTEGRITY (but FINGERPRINT) are ignored.
    } else {
      decodeAttribute(msg, type, value, transactionId);
    }
    off += 4 + padded;
  }
  return msg;
}

function decodeAttribute(msg: StunMessage, type: number, value: Buffer, txid: Buffer): void {
  switch (type) {
    case STUN_ATTR.XOR_MAPPED_ADDRESS: msg.xorMappedAddress ??= decodeAddress(type, value, txid); return;
    case STUN_ATTR.MAPPED_ADDRESS: msg.mappedAddress ??= decodeAddress(type, value, null); return;
    case STUN_ATTR.RESPONSE_ORIGIN: msg.responseOrigin ??= decodeAddress(type, value, null); return;
    case STUN_ATTR.OTHER_ADDRESS: msg.otherAddress ??= decodeAddress(type, value, null); return;
    case STUN_ATTR.CHANGE_REQUEST: {
      if (value.length !== 4) throw new StunParseError('BAD_ATTRIBUTE', `CHANGE-REQUEST of ${value.length} bytes`);
      const flags = value.readUInt32BE(0);
      msg.changeRequest = { changeIp: (flags & 4) !== 0, changePort: (flags & 2) !== 0 };
      return;
    }
    case STUN_ATTR.SOFTWARE: msg.software = value.toString('utf8'); return;
    case STUN_ATTR.ERROR_CODE: {
      if (value.length < 4) throw new StunParseError('BAD_ATTRIBUTE', `ERROR-CODE of ${value.length} bytes`);
      const hundreds = (value[2] as number) & 7;
      const number = value[3] as number;
      if (hundreds < 3 || hundreds > 6 || number > 99) throw new StunParseError('BAD_ATTRIBUTE', `ERROR-CODE class ${hundreds} number ${number}`);
      msg.errorCode = { code: hundreds * 100 + number, reason: value.subarray(4).toString('utf8').replace(/\0+$/, '') };
      return;
    }
    case STUN_ATTR.UNKNOWN_ATTRIBUTES: {
      if (value.length % 2) throw new StunParseError('BAD_ATTRIBUTE', `UNKNOWN-ATTRIBUTES of ${value.length} bytes`);
      msg.unknownAttributes = [];
      for (let i = 0; i < value.length; i += 2) msg.unknownAttributes.push(value.readUInt16BE(i));
      return;
    }
    case STUN_ATTR.MESSAGE_INTEGRITY: msg.hasMessageIntegrity = true; return;
    default:
      if (type < 0x8000 && !UNDERSTOOD_REQUIRED.has(type) && !msg.unknownRequired.includes(type)) msg.unknownRequired.push(type);
  }
}

export type StunParseResult = { ok: true; message: StunMessage } | { ok: false; error: StunParseError };

export function tryParseStun(buf: Uint8Array): StunParseResult {
  try {
    return { ok: true, message: parseStun(buf) };
  } catch (err) {
    if (err instanceof StunParseError) return { ok: false, error: err };
    return { ok: false, error: new StunParseError('BAD_ATTRIBUTE', String(err)) }; // not reached; belt and braces
  }
}

// ---- encode ----------------------------------------------------------------------

export interface StunEncodeInput {
  /** @default BINDING */
  method?: number;
  cls: StunClass;
  transactionId: Uint8Array;
  xorMappedAddress?: { ip: string; port: number };
  mappedAddress?: { ip: string; port: number };
  responseOrigin?: { ip: string; port: number };
  otherAddress?: { ip: string; port: number };
  changeRequest?: { changeIp?: boolean; changePort?: boolean };
  software?: string;
  errorCode?: { code: number; reason: string };
  unknownAttributes?: number[];
  /** More attributes, written as given (before SOFTWARE and FINGERPRINT). */
  extra?: StunAttribute[];
  /** Append FINGERPRINT. @default true */
  fingerprint?: boolean;
}

function encodeAddress(a: { ip: string; port: number }, txid: Uint8Array | null): Buffer {
  const addr = ipToBytes(a.ip);
  if (!addr) throw new TypeError(`not an IP address: ${a.ip}`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new TypeError(`not a port: ${a.port}`);
  const v = Buffer.alloc(4 + addr.length);
  v[1] = addr.length === 4 ? 1 : 2;
  v.writeUInt16BE(txid ? a.port ^ (MAGIC_COOKIE >>> 16) : a.port, 2);
  if (txid) {
    const key = Buffer.alloc(16);
    key.writeUInt32BE(MAGIC_COOKIE, 0);
    Buffer.from(txid).copy(key, 4);
    for (let i = 0; i < addr.length; i++) addr[i] = (addr[i] as number) ^ (key[i] as number);
  }
  addr.copy(v, 4);
  return v;
}

function attr(type: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + ((value.length + 3) & ~3));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}

export function encodeStun(m: StunEncodeInput): Buffer {
  if (m.transactionId.length !== 12) throw new TypeError('a STUN transaction ID is 12 bytes');
  const parts: Buffer[] = [];
  if (m.errorCode) {
    const { code, reason } = m.errorCode;
    const v = Buffer.concat([Buffer.from([0, 0, Math.floor(code / 100) & 7, code % 100]), Buffer.from(reason.slice(0, 127), 'utf8')]);
    parts.push(attr(STUN_ATTR.ERROR_CODE, v));
  }
  if (m.unknownAttributes?.length) {
    const v = Buffer.alloc(m.unknownAttributes.length * 2);
    m.unknownAttributes.forEach((t, i) => v.writeUInt16BE(t, i * 2));
    parts.push(attr(STUN_ATTR.UNKNOWN_ATTRIBUTES, v));
  }
  if (m.xorMappedAddress) parts.push(attr(STUN_ATTR.XOR_MAPPED_ADDRESS, encodeAddress(m.xorMappedAddress, m.transactionId)));
  if (m.mappedAddress) parts.push(attr(STUN_ATTR.MAPPED_ADDRESS, encodeAddress(m.mappedAddress, null)));
  if (m.responseOrigin) parts.push(attr(STUN_ATTR.RESPONSE_ORIGIN, encodeAddress(m.responseOrigin, null)));
  if (m.otherAddress) parts.push(attr(STUN_ATTR.OTHER_ADDRESS, encodeAddress(m.otherAddress, null)));
  if (m.changeRequest) {
    const v = Buffer.alloc(4);
    v.writeUInt32BE((m.changeRequest.changeIp ? 4 : 0) | (m.changeRequest.changePort ? 2 : 0));
    parts.push(attr(STUN_ATTR.CHANGE_REQUEST, v));
  }
  for (const a of m.extra ?? []) parts.push(attr(a.type, a.value));
  if (m.software) parts.push(attr(STUN_ATTR.SOFTWARE, Buffer.from(m.software.slice(0, 127), 'utf8')));
  const body = Buffer.concat(parts);
  const withFp = m.fingerprint !== false;
  const header = Buffer.alloc(STUN_HEADER_BYTES);
  header.writeUInt16BE(messageType(m.method ?? BINDING, m.cls), 0);
  header.writeUInt16BE(body.length + (withFp ? 8 : 0), 2);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  Buffer.from(m.transactionId).copy(header, 8);
  const msg = Buffer.concat([header, body]);
  if (!withFp) return msg;
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((crc32(msg) ^ FINGERPRINT_XOR) >>> 0);
  return Buffer.concat([msg, attr(STUN_ATTR.FINGERPRINT, fp)]);
}

/** A Binding request, optionally with CHANGE-REQUEST (RFC 5780) flags. */
export function encodeBindingRequest(transactionId: Uint8Array, o: { changeIp?: boolean; changePort?: boolean; software?: string } = {}): Buffer {
  return encodeStun({
    cls: 'request', transactionId,
    ...(o.changeIp || o.changePort ? { changeRequest: { changeIp: !!o.changeIp, changePort: !!o.changePort } } : {}),
    ...(o.software ? { software: o.software } : {}),
  });
}

/**
 * Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 section 14.5) with a key (the
 * password for short-term credentials). False when absent or wrong. Postern's
 * Binding requests carry none; this exists to check captured messages.
 */
export function verifyMessageIntegrity(input: Uint8Array, key: Uint8Array | string): boolean {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < STUN_HEADER_BYTES) return false;
  let off = STUN_HEADER_BYTES;
  while (off + 4 <= buf.length) {
    const type = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    if (type === STUN_ATTR.MESSAGE_INTEGRITY) {
      if (len !== 20 || off + 24 > buf.length) return false;
      const copy = Buffer.from(buf.subarray(0, off));
      copy.writeUInt16BE(off + 24 - STUN_HEADER_BYTES, 2);
      const mac = createHmac('sha1', key).update(copy).digest();
      return mac.equals(buf.subarray(off + 4, off + 24));
    }
    off += 4 + ((len + 3) & ~3);
  }
  return false;
}
