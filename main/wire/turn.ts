/**
 * TURN (RFC 8656, Traversal Using Relays around NAT) as pure encode/parse
 * functions on top of the STUN codec (stun.ts, RFC 8489):
 *
 * - methods (RFC 8656 §18): Allocate, Refresh, Send, Data, CreatePermission,
 *   ChannelBind;
 * - attributes (§18, §14): CHANNEL-NUMBER, LIFETIME, XOR-PEER-ADDRESS, DATA,
 *   XOR-RELAYED-ADDRESS, REQUESTED-ADDRESS-FAMILY, EVEN-PORT,
 *   REQUESTED-TRANSPORT, DONT-FRAGMENT, RESERVATION-TOKEN, and from STUN
 *   (RFC 8489 §14) USERNAME, REALM, NONCE, MESSAGE-INTEGRITY,
 *   MESSAGE-INTEGRITY-SHA256, ERROR-CODE, SOFTWARE, FINGERPRINT;
 * - long-term credentials (RFC 8489 §9.2): key = MD5(username ":" realm ":"
 *   password), HMAC-SHA1 for MESSAGE-INTEGRITY (§14.5), HMAC-SHA256 for
 *   MESSAGE-INTEGRITY-SHA256 (§14.6). Strings are used as given (UTF-8, no
 *   SASLprep/OpaqueString mapping; coturn does none either);
 * - ChannelData framing (RFC 8656 §12.4-12.5): 4-byte header, channel numbers
 *   0x4000-0x4FFF, padded to a multiple of 4 over TCP (§12.5), optional padding
 *   accepted over UDP;
 * - splitting a TCP byte stream into STUN messages and ChannelData (§12.5:
 *   the first two bits tell them apart: 0b00 STUN, 0b01 ChannelData).
 *
 * `parseTurn` never throws anything but a `StunParseError`; `tryParseTurn`
 * returns it. Encoders throw TypeError only on the caller's own bad input.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  MAGIC_COOKIE, STUN_ATTR, STUN_HEADER_BYTES, StunParseError, bytesToIp, crc32, encodeStun, ipToBytes, parseStun,
  FINGERPRINT_XOR, type StunAttribute, type StunClass, type StunMessage,
} from './stun.js';

export const TURN_METHOD = {
  ALLOCATE: 0x003,
  REFRESH: 0x004,
  SEND: 0x006,
  DATA: 0x007,
  CREATE_PERMISSION: 0x008,
  CHANNEL_BIND: 0x009,
} as const;

export const TURN_ATTR = {
  USERNAME: STUN_ATTR.USERNAME,
  MESSAGE_INTEGRITY: STUN_ATTR.MESSAGE_INTEGRITY,
  ERROR_CODE: STUN_ATTR.ERROR_CODE,
  CHANNEL_NUMBER: 0x000c,
  LIFETIME: 0x000d,
  XOR_PEER_ADDRESS: 0x0012,
  DATA: 0x0013,
  REALM: STUN_ATTR.REALM,
  NONCE: STUN_ATTR.NONCE,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_ADDRESS_FAMILY: 0x0017,
  EVEN_PORT: 0x0018,
  REQUESTED_TRANSPORT: 0x0019,
  DONT_FRAGMENT: 0x001a,
  MESSAGE_INTEGRITY_SHA256: STUN_ATTR.MESSAGE_INTEGRITY_SHA256,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: STUN_ATTR.XOR_MAPPED_ADDRESS,
  RESERVATION_TOKEN: 0x0022,
  PASSWORD_ALGORITHMS: 0x8002,
  SOFTWARE: STUN_ATTR.SOFTWARE,
  FINGERPRINT: STUN_ATTR.FINGERPRINT,
} as const;

/** Error codes a TURN client acts on (RFC 8656 §19, RFC 8489 §14.8). */
export const TURN_ERROR = {
  TRY_ALTERNATE: 300,
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  UNKNOWN_ATTRIBUTE: 420,
  ALLOCATION_MISMATCH: 437,
  STALE_NONCE: 438,
  ADDRESS_FAMILY_NOT_SUPPORTED: 440,
  WRONG_CREDENTIALS: 441,
  UNSUPPORTED_TRANSPORT: 442,
  PEER_ADDRESS_FAMILY_MISMATCH: 443,
  ALLOCATION_QUOTA_REACHED: 486,
  SERVER_ERROR: 500,
  INSUFFICIENT_CAPACITY: 508,
} as const;

/** IANA protocol number for UDP in REQUESTED-TRANSPORT (RFC 8656 §18.7). */
export const TRANSPORT_UDP = 17;
export const CHANNEL_MIN = 0x4000;
export const CHANNEL_MAX = 0x4fff;
export const CHANNEL_DATA_HEADER_BYTES = 4;

/** The attributes below 0x8000 this codec understands (comprehension-required). */
const UNDERSTOOD = new Set<number>([
  STUN_ATTR.MAPPED_ADDRESS, STUN_ATTR.USERNAME, STUN_ATTR.MESSAGE_INTEGRITY, STUN_ATTR.ERROR_CODE, STUN_ATTR.UNKNOWN_ATTRIBUTES,
  STUN_ATTR.REALM, STUN_ATTR.NONCE, STUN_ATTR.MESSAGE_INTEGRITY_SHA256, STUN_ATTR.XOR_MAPPED_ADDRESS, STUN_ATTR.PADDING,
  STUN_ATTR.CHANGE_REQUEST,
  TURN_ATTR.CHANNEL_NUMBER, TURN_ATTR.LIFETIME, TURN_ATTR.XOR_PEER_ADDRESS, TURN_ATTR.DATA, TURN_ATTR.XOR_RELAYED_ADDRESS,
  TURN_ATTR.REQUESTED_ADDRESS_FAMILY, TURN_ATTR.EVEN_PORT, TURN_ATTR.REQUESTED_TRANSPORT, TURN_ATTR.DONT_FRAGMENT,
  TURN_ATTR.RESERVATION_TOKEN, TURN_ATTR.PASSWORD_ALGORITHM, TURN_ATTR.USERHASH,
]);

export interface TurnAddress {
  family: 'IPv4' | 'IPv6';
  ip: string;
  port: number;
}

export interface TurnMessage extends StunMessage {
  username?: string;
  realm?: string;
  nonce?: string;
  lifetime?: number;
  xorRelayedAddress?: TurnAddress;
  /** Every XOR-PEER-ADDRESS (CreatePermission may carry several). */
  xorPeerAddresses: TurnAddress[];
  data?: Buffer;
  channelNumber?: number;
  /** Protocol number from REQUESTED-TRANSPORT (17 = UDP). */
  requestedTransport?: number;
  requestedAddressFamily?: 'IPv4' | 'IPv6';
  dontFragment: boolean;
  evenPort?: { reserve: boolean };
  reservationToken?: Buffer;
  hasMessageIntegritySha256: boolean;
}

// ---- addresses -----------------------------------------------------------------

function xorKey(txid: Uint8Array): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(MAGIC_COOKIE, 0);
  Buffer.from(txid).copy(key, 4);
  return key;
}

/** The value of an XOR-*-ADDRESS attribute (RFC 8489 §14.2). */
export function encodeXorAddress(a: { ip: string; port: number }, txid: Uint8Array): Buffer {
  const addr = ipToBytes(a.ip);
  if (!addr) throw new TypeError(`not an IP address: ${a.ip}`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new TypeError(`not a port: ${a.port}`);
  const key = xorKey(txid);
  const v = Buffer.alloc(4 + addr.length);
  v[1] = addr.length === 4 ? 1 : 2;
  v.writeUInt16BE(a.port ^ (MAGIC_COOKIE >>> 16), 2);
  for (let i = 0; i < addr.length; i++) v[4 + i] = (addr[i] as number) ^ (key[i] as number);
  return v;
}

export function decodeXorAddress(type: number, v: Buffer, txid: Uint8Array): TurnAddress {
  const name = `attribute 0x${type.toString(16).padStart(4, '0')}`;
  if (v.length < 4) throw new StunParseError('BAD_ATTRIBUTE', `${name}: ${v.length} bytes is too short for an address`);
  const size = v[1] === 1 ? 4 : v[1] === 2 ? 16 : 0;
  if (!size) throw new StunParseError('BAD_ATTRIBUTE', `${name}: unknown address family ${v[1]}`);
  if (v.length !== 4 + size) throw new StunParseError('BAD_ATTRIBUTE', `${name}: ${v.length} bytes for an IPv${size === 4 ? 4 : 6} address`);
  const key = xorKey(txid);
  const addr = Buffer.alloc(size);
  for (let i = 0; i < size; i++) addr[i] = (v[4 + i] as number) ^ (key[i] as number);
  return { family: size === 4 ? 'IPv4' : 'IPv6', ip: bytesToIp(addr), port: v.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16) };
}

// ---- parse -----------------------------------------------------------------------

function u32(type: number, v: Buffer, what: string): number {
  if (v.length !== 4) throw new StunParseError('BAD_ATTRIBUTE', `${what} (0x${type.toString(16)}) of ${v.length} bytes`);
  return v.readUInt32BE(0);
}

/** Parses one STUN/TURN message (a whole datagram or TCP frame). Throws only StunParseError. */
export function parseTurn(input: Uint8Array): TurnMessage {
  const base = parseStun(input);
  const msg: TurnMessage = {
    ...base, xorPeerAddresses: [], dontFragment: false, hasMessageIntegritySha256: false,
    unknownRequired: base.unknownRequired.filter((t) => !UNDERSTOOD.has(t)),
  };
  const txid = base.transactionId;
  let afterIntegrity = false;
  for (const { type, value } of base.attributes) {
    // RFC 8489 §14.5/14.6: only FINGERPRINT (and MI-SHA256 after MI) may follow MESSAGE-INTEGRITY.
    if (afterIntegrity && type !== TURN_ATTR.MESSAGE_INTEGRITY_SHA256) continue;
    switch (type) {
      case TURN_ATTR.MESSAGE_INTEGRITY: afterIntegrity = true; break;
      case TURN_ATTR.MESSAGE_INTEGRITY_SHA256:
        if (value.length < 16 || value.length > 32 || value.length % 4) throw new StunParseError('BAD_ATTRIBUTE', `MESSAGE-INTEGRITY-SHA256 of ${value.length} bytes`);
        msg.hasMessageIntegritySha256 = true;
        afterIntegrity = true;
        break;
      case TURN_ATTR.USERNAME: msg.username ??= value.toString('utf8'); break;
      case TURN_ATTR.REALM: msg.realm ??= value.toString('utf8'); break;
      case TURN_ATTR.NONCE: msg.nonce ??= value.toString('utf8'); break;
      case TURN_ATTR.LIFETIME: msg.lifetime ??= u32(type, value, 'LIFETIME'); break;
      case TURN_ATTR.XOR_RELAYED_ADDRESS: msg.xorRelayedAddress ??= decodeXorAddress(type, value, txid); break;
      case TURN_ATTR.XOR_PEER_ADDRESS: msg.xorPeerAddresses.push(decodeXorAddress(type, value, txid)); break;
      case TURN_ATTR.DATA: msg.data ??= value; break;
      case TURN_ATTR.CHANNEL_NUMBER: msg.channelNumber ??= u32(type, value, 'CHANNEL-NUMBER') >>> 16; break;
      case TURN_ATTR.REQUESTED_TRANSPORT: msg.requestedTransport ??= u32(type, value, 'REQUESTED-TRANSPORT') >>> 24; break;
      case TURN_ATTR.REQUESTED_ADDRESS_FAMILY: {
        const fam = u32(type, value, 'REQUESTED-ADDRESS-FAMILY') >>> 24;
        if (fam !== 1 && fam !== 2) throw new StunParseError('BAD_ATTRIBUTE', `REQUESTED-ADDRESS-FAMILY ${fam}`);
        msg.requestedAddressFamily ??= fam === 1 ? 'IPv4' : 'IPv6';
        break;
      }
      case TURN_ATTR.DONT_FRAGMENT: msg.dontFragment = true; break;
      case TURN_ATTR.EVEN_PORT:
        if (value.length !== 1) throw new StunParseError('BAD_ATTRIBUTE', `EVEN-PORT of ${value.length} bytes`);
        msg.evenPort ??= { reserve: ((value[0] as number) & 0x80) !== 0 };
        break;
      case TURN_ATTR.RESERVATION_TOKEN:
        if (value.length !== 8) throw new StunParseError('BAD_ATTRIBUTE', `RESERVATION-TOKEN of ${value.length} bytes`);
        msg.reservationToken ??= value;
        break;
      default: break;
    }
  }
  return msg;
}

export type TurnParseResult = { ok: true; message: TurnMessage } | { ok: false; error: StunParseError };

export function tryParseTurn(buf: Uint8Array): TurnParseResult {
  try {
    return { ok: true, message: parseTurn(buf) };
  } catch (err) {
    if (err instanceof StunParseError) return { ok: false, error: err };
    return { ok: false, error: new StunParseError('BAD_ATTRIBUTE', String(err)) };
  }
}

// ---- credentials and integrity -----------------------------------------------------

/** The long-term credential key (RFC 8489 §9.2.2, MD5 password algorithm): MD5(username:realm:password). */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest();
}

export interface TurnAuth {
  username: string;
  realm: string;
  nonce: string;
  /** longTermKey(username, realm, password). */
  key: Buffer;
}

function findAttribute(buf: Buffer, want: number): number {
  let off = STUN_HEADER_BYTES;
  while (off + 4 <= buf.length) {
    const type = buf.readUInt16BE(off);
    if (type === want) return off;
    off += 4 + ((buf.readUInt16BE(off + 2) + 3) & ~3);
  }
  return -1;
}

function withLength(buf: Buffer, upTo: number, extra: number): Buffer {
  const copy = Buffer.from(buf.subarray(0, upTo));
  copy.writeUInt16BE(upTo - STUN_HEADER_BYTES + extra, 2);
  return copy;
}

/**
 * Checks MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6; HMAC-SHA256, possibly
 * truncated to 16..32 bytes) with a key. False when absent or wrong.
 */
export function verifyMessageIntegritySha256(input: Uint8Array, key: Uint8Array | string): boolean {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < STUN_HEADER_BYTES) return false;
  const off = findAttribute(buf, TURN_ATTR.MESSAGE_INTEGRITY_SHA256);
  if (off < 0) return false;
  const len = buf.readUInt16BE(off + 2);
  if (len < 16 || len > 32 || len % 4 || off + 4 + len > buf.length) return false;
  const mac = createHmac('sha256', key).update(withLength(buf, off, 4 + len)).digest().subarray(0, len);
  return timingSafeEqual(mac, buf.subarray(off + 4, off + 4 + len));
}

function appendAttr(msg: Buffer, type: number, value: Buffer): Buffer {
  const a = Buffer.alloc(4 + ((value.length + 3) & ~3));
  a.writeUInt16BE(type, 0);
  a.writeUInt16BE(value.length, 2);
  value.copy(a, 4);
  const out = Buffer.concat([msg, a]);
  out.writeUInt16BE(out.length - STUN_HEADER_BYTES, 2);
  return out;
}

/** Appends MESSAGE-INTEGRITY (HMAC-SHA1 over the message with its length covering MI). */
export function appendMessageIntegrity(msg: Buffer, key: Uint8Array | string): Buffer {
  const mac = createHmac('sha1', key).update(withLength(msg, msg.length, 24)).digest();
  return appendAttr(msg, TURN_ATTR.MESSAGE_INTEGRITY, mac);
}

/** Appends MESSAGE-INTEGRITY-SHA256 (full 32 bytes). */
export function appendMessageIntegritySha256(msg: Buffer, key: Uint8Array | string): Buffer {
  const mac = createHmac('sha256', key).update(withLength(msg, msg.length, 36)).digest();
  return appendAttr(msg, TURN_ATTR.MESSAGE_INTEGRITY_SHA256, mac);
}

export function appendFingerprint(msg: Buffer): Buffer {
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((crc32(withLength(msg, msg.length, 8)) ^ FINGERPRINT_XOR) >>> 0);
  return appendAttr(msg, TURN_ATTR.FINGERPRINT, fp);
}

// ---- encode ----------------------------------------------------------------------

export interface TurnEncodeInput {
  method: number;
  cls: StunClass;
  transactionId: Uint8Array;
  lifetime?: number;
  requestedTransport?: number;
  requestedAddressFamily?: 'IPv4' | 'IPv6';
  dontFragment?: boolean;
  xorRelayedAddress?: { ip: string; port: number };
  xorMappedAddress?: { ip: string; port: number };
  xorPeerAddresses?: { ip: string; port: number }[];
  channelNumber?: number;
  data?: Uint8Array;
  errorCode?: { code: number; reason: string };
  /** REALM and NONCE without credentials (a server's 401/438). */
  realm?: string;
  nonce?: string;
  software?: string;
  /** Long-term credentials: adds USERNAME, REALM, NONCE and MESSAGE-INTEGRITY (server responses: only MI, pass `integrityOnly`). */
  auth?: TurnAuth;
  integrityOnly?: boolean;
  /** Also add MESSAGE-INTEGRITY-SHA256 after MESSAGE-INTEGRITY (same key). */
  sha256?: boolean;
  /** @default true for requests and responses, false for indications */
  fingerprint?: boolean;
}

const u32buf = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** Encodes a TURN message; attribute order: ERROR-CODE, TURN attributes, credentials, SOFTWARE, MI, MI-SHA256, FINGERPRINT. */
export function encodeTurn(m: TurnEncodeInput): Buffer {
  const extra: StunAttribute[] = [];
  const txid = m.transactionId;
  if (m.requestedTransport !== undefined) extra.push({ type: TURN_ATTR.REQUESTED_TRANSPORT, value: u32buf((m.requestedTransport & 0xff) << 24) });
  if (m.requestedAddressFamily) extra.push({ type: TURN_ATTR.REQUESTED_ADDRESS_FAMILY, value: u32buf((m.requestedAddressFamily === 'IPv4' ? 1 : 2) << 24) });
  if (m.dontFragment) extra.push({ type: TURN_ATTR.DONT_FRAGMENT, value: Buffer.alloc(0) });
  if (m.lifetime !== undefined) extra.push({ type: TURN_ATTR.LIFETIME, value: u32buf(m.lifetime) });
  if (m.channelNumber !== undefined) {
    if (!Number.isInteger(m.channelNumber) || m.channelNumber < 0 || m.channelNumber > 0xffff) throw new TypeError(`not a channel number: ${m.channelNumber}`);
    extra.push({ type: TURN_ATTR.CHANNEL_NUMBER, value: u32buf(m.channelNumber << 16) });
  }
  if (m.xorRelayedAddress) extra.push({ type: TURN_ATTR.XOR_RELAYED_ADDRESS, value: encodeXorAddress(m.xorRelayedAddress, txid) });
  if (m.xorMappedAddress) extra.push({ type: TURN_ATTR.XOR_MAPPED_ADDRESS, value: encodeXorAddress(m.xorMappedAddress, txid) });
  for (const p of m.xorPeerAddresses ?? []) extra.push({ type: TURN_ATTR.XOR_PEER_ADDRESS, value: encodeXorAddress(p, txid) });
  if (m.data) {
    if (m.data.length > 0xffff - 64) throw new TypeError(`DATA of ${m.data.length} bytes does not fit a STUN message`);
    extra.push({ type: TURN_ATTR.DATA, value: Buffer.from(m.data) });
  }
  if (m.auth && !m.integrityOnly) {
    // USERNAME, NONCE, REALM: the order of RFC 5769 §2.4 (any order is valid).
    extra.push({ type: TURN_ATTR.USERNAME, value: Buffer.from(m.auth.username, 'utf8') });
    extra.push({ type: TURN_ATTR.NONCE, value: Buffer.from(m.auth.nonce, 'utf8') });
    extra.push({ type: TURN_ATTR.REALM, value: Buffer.from(m.auth.realm, 'utf8') });
  } else {
    if (m.nonce !== undefined) extra.push({ type: TURN_ATTR.NONCE, value: Buffer.from(m.nonce, 'utf8') });
    if (m.realm !== undefined) extra.push({ type: TURN_ATTR.REALM, value: Buffer.from(m.realm, 'utf8') });
  }
  let msg = encodeStun({
    method: m.method, cls: m.cls, transactionId: txid, extra, fingerprint: false,
    ...(m.errorCode ? { errorCode: m.errorCode } : {}), ...(m.software ? { software: m.software } : {}),
  });
  if (m.auth) {
    msg = appendMessageIntegrity(msg, m.auth.key);
    if (m.sha256) msg = appendMessageIntegritySha256(msg, m.auth.key);
  }
  if (m.fingerprint ?? m.cls !== 'indication') msg = appendFingerprint(msg);
  return msg;
}

// ---- ChannelData (RFC 8656 §12.4) and TCP framing (§12.5) ------------------------------

/** A ChannelData message; `pad` (TCP) pads it to a multiple of 4 bytes. */
export function encodeChannelData(channel: number, data: Uint8Array, pad = false): Buffer {
  if (!Number.isInteger(channel) || channel < CHANNEL_MIN || channel > CHANNEL_MAX) throw new TypeError(`not a TURN channel: ${channel}`);
  if (data.length > 0xffff) throw new TypeError(`ChannelData of ${data.length} bytes`);
  const total = CHANNEL_DATA_HEADER_BYTES + data.length;
  const out = Buffer.alloc(pad ? (total + 3) & ~3 : total);
  out.writeUInt16BE(channel, 0);
  out.writeUInt16BE(data.length, 2);
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 4);
  return out;
}

export function isChannelData(buf: Uint8Array): boolean {
  return buf.length >= CHANNEL_DATA_HEADER_BYTES && ((buf[0] as number) & 0xc0) === 0x40;
}

/** Parses a ChannelData message (trailing padding up to 3 bytes allowed); null when it is not one. */
export function parseChannelData(input: Uint8Array): { channel: number; data: Buffer } | null {
  if (!isChannelData(input)) return null;
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const channel = buf.readUInt16BE(0);
  const len = buf.readUInt16BE(2);
  if (channel > CHANNEL_MAX) return null; // 0x5000-0x7FFF are reserved
  if (CHANNEL_DATA_HEADER_BYTES + len > buf.length || buf.length - CHANNEL_DATA_HEADER_BYTES - len > 3) return null;
  return { channel, data: buf.subarray(4, 4 + len) };
}

/**
 * The length of the next frame in a TCP stream (STUN message, or ChannelData
 * with its padding); null when not enough bytes have arrived to tell; throws
 * StunParseError when the stream is not TURN (the connection must be closed).
 */
export function turnFrameLength(buf: Uint8Array): number | null {
  if (buf.length < 4) return null;
  const first = (buf[0] as number) & 0xc0;
  const len = ((buf[2] as number) << 8) | (buf[3] as number);
  if (first === 0x40) {
    if ((((buf[0] as number) << 8) | (buf[1] as number)) > CHANNEL_MAX) throw new StunParseError('NOT_STUN', 'ChannelData on a reserved channel number');
    return (CHANNEL_DATA_HEADER_BYTES + len + 3) & ~3;
  }
  if (first !== 0) throw new StunParseError('NOT_STUN', 'neither STUN nor ChannelData on the TURN stream');
  if (len % 4) throw new StunParseError('BAD_LENGTH', `STUN message length ${len} is not a multiple of 4`);
  if (buf.length >= 8 && Buffer.from(buf.buffer, buf.byteOffset, 8).readUInt32BE(4) !== MAGIC_COOKIE) {
    throw new StunParseError('BAD_COOKIE', 'no magic cookie on the TURN stream');
  }
  return STUN_HEADER_BYTES + len;
}

/**
 * Splits a TCP stream buffer into whole frames; returns them and the unused
 * tail. Throws StunParseError when the stream is not TURN.
 */
export function splitTurnStream(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let off = 0;
  for (;;) {
    const len = turnFrameLength(buf.subarray(off));
    if (len === null || off + len > buf.length) break;
    frames.push(buf.subarray(off, off + len));
    off += len;
  }
  return { frames, rest: buf.subarray(off) };
}
