/**
 * Wire format of the transfer protocol (frame types 0x20–0x3f on a FramedChannel).
 * Pure encode/parse functions, no I/O. Parsing never throws anything but
 * `WireError` (with a stable `code`) however hostile the input.
 *
 * Every frame starts with: type (u8) | version (u8) | transfer id (16 bytes).
 *   Control frames then carry a UTF-8 JSON body (size-limited, validated field by field).
 *   DATA:      ... | file index u32 | chunk index u32 | chunk hash 32 | payload
 *   FILE_END:  ... | file index u32 | file hash 32
 *   ACK:       ... | bytes written u64 (cumulative for the current attempt)
 *   RESEND:    ... | file index u32 | chunk index u32
 *   FILE_DONE: ... | file index u32 | sha256(content) 32   (receiver → sender, blake3 only)
 * Integers are big-endian.
 *
 * Every frame fits MAX_FRAME_BYTES (below the secure channel's 16 MiB message
 * limit). OFFER and ACCEPT lists can be longer: they are then split into up to
 * MAX_PARTS frames carrying `part`/`parts`, sent back to back, and reassembled
 * with `PartCollector`.
 *
 * Hashes: the OFFER may propose faster chunk hashes (`chunkHashes`, e.g. ["blake3"]);
 * the ACCEPT names the one picked (`chunkHash`). Without both, every attempt uses
 * `sha256`: chunk hash = SHA-256(payload), file hash = SHA-256(content) (the
 * original protocol, so older peers interoperate). With `blake3`: chunk hash =
 * BLAKE3-256(payload), file hash = BLAKE3 of the file's chunk hashes concatenated
 * in order (its root). ACCEPT's `hashes` of chunks already held use the same one.
 * Then the sender never computes the content SHA-256: the receiver does, and
 * tells it in FILE_DONE once the file is verified and in place.
 *
 * Flow: sender OFFER → receiver ACCEPT (with the verified chunks it already has) or
 * DECLINE → sender DATA.../FILE_END per file (receiver ACKs written bytes: flow
 * control; RESENDs corrupt chunks) → receiver COMPLETE. CANCEL / ERROR from either side.
 */

export const WIRE_VERSION = 1;

export const FrameType = {
  OFFER: 0x20,
  ACCEPT: 0x21,
  DECLINE: 0x22,
  DATA: 0x23,
  FILE_END: 0x24,
  ACK: 0x25,
  RESEND: 0x26,
  COMPLETE: 0x27,
  CANCEL: 0x28,
  ERROR: 0x29,
  FILE_DONE: 0x2a,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

export const TRANSFER_ID_BYTES = 16;
export const SHA256_BYTES = 32;
/** type + version + transfer id */
export const COMMON_HEADER_SIZE = 2 + TRANSFER_ID_BYTES;
export const DATA_HEADER_SIZE = COMMON_HEADER_SIZE + 4 + 4 + SHA256_BYTES;
export const FILE_END_SIZE = COMMON_HEADER_SIZE + 4 + SHA256_BYTES;
export const ACK_SIZE = COMMON_HEADER_SIZE + 8;
export const RESEND_SIZE = COMMON_HEADER_SIZE + 4 + 4;
export const FILE_DONE_SIZE = COMMON_HEADER_SIZE + 4 + SHA256_BYTES;

/** Largest frame we write or accept (the secure channel's limit is 16 MiB - 1 minus overhead). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024 - 64 * 1024;
export const MIN_CHUNK_SIZE = 16 * 1024;
export const MAX_CHUNK_SIZE = 8 * 1024 * 1024;
/** OFFER and ACCEPT parts can list many files / chunk hashes. */
export const MAX_LARGE_JSON = MAX_FRAME_BYTES - COMMON_HEADER_SIZE;
/** An OFFER or ACCEPT is split into at most this many frames. */
export const MAX_PARTS = 16;
export const MAX_SMALL_JSON = 64 * 1024;
export const MAX_FILES = 1_000_000;
export const MAX_PATH_CHARS = 4096;
export const MAX_TEXT_CHARS = 2000;
/** Chunk hash algorithms a receiver may pick (each 32 bytes). */
export const CHUNK_HASHES = ['sha256', 'blake3'] as const;
export type ChunkHashName = (typeof CHUNK_HASHES)[number];
const MAX_PROPOSED_HASHES = 8;
const MAX_U32 = 0xffff_ffff;

export type WireErrorCode =
  | 'truncated'
  | 'bad-type'
  | 'bad-version'
  | 'oversized'
  | 'bad-json'
  | 'bad-field'
  | 'chunk-out-of-range'
  | 'file-out-of-range'
  | 'bad-length';

export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly code: WireErrorCode,
    message: string,
    /** Set when the header was readable, so the caller can fail that transfer. */
    readonly transferId?: string,
  ) {
    super(message);
  }
}

// ---- Frame shapes ---------------------------------------------------------

export type Role = 'sender' | 'receiver';

export interface OfferFile {
  path: string;
  size: number;
  mtimeMs: number;
  chunkSize: number;
}
export interface OfferBody {
  files: OfferFile[];
  emptyDirs: string[];
  /** Chunk hashes the sender proposes besides sha256, best first (unknown names are ignored). */
  chunkHashes?: string[];
}
export interface AcceptFile {
  /** File index in the offer. */
  index: number;
  /** Chunk indices the receiver already has, verified. */
  have: number[];
  /** Hash of each chunk in `have` (the accepted chunk hash), same order. */
  hashes: Uint8Array[];
  /**
   * The receiver already completed this file in an earlier attempt of the same
   * transfer (verified by its whole-file hash): the sender skips it entirely.
   */
  done?: boolean;
}
export interface AcceptBody {
  /** The same file index may appear in several entries (long lists are split). */
  files: AcceptFile[];
  /** The chunk hash picked from the offer's proposals; absent means sha256. */
  chunkHash?: ChunkHashName;
}
export interface ErrorBody {
  role: Role;
  code: string;
  message: string;
}

export type TransferFrame =
  | { type: typeof FrameType.OFFER; transferId: string; body: OfferBody; part: number; parts: number }
  | { type: typeof FrameType.ACCEPT; transferId: string; body: AcceptBody; part: number; parts: number }
  | { type: typeof FrameType.DECLINE; transferId: string; body: { reason?: string } }
  | {
      type: typeof FrameType.DATA;
      transferId: string;
      fileIndex: number;
      chunkIndex: number;
      /** Views into the frame (no copy). `sha256` is the chunk hash (of the accepted algorithm). */
      sha256: Uint8Array;
      payload: Uint8Array;
    }
  /** `sha256` is the file hash: SHA-256 of the content, or the BLAKE3 root (see top). */
  | { type: typeof FrameType.FILE_END; transferId: string; fileIndex: number; sha256: Uint8Array }
  | { type: typeof FrameType.ACK; transferId: string; bytes: number }
  | { type: typeof FrameType.RESEND; transferId: string; fileIndex: number; chunkIndex: number }
  | { type: typeof FrameType.COMPLETE; transferId: string }
  | { type: typeof FrameType.CANCEL; transferId: string; body: { role: Role; reason?: string } }
  | { type: typeof FrameType.ERROR; transferId: string; body: ErrorBody }
  | { type: typeof FrameType.FILE_DONE; transferId: string; fileIndex: number; sha256: Uint8Array };

// ---- Helpers ----------------------------------------------------------------

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) throw new WireError('bad-field', 'bad hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function isTransferIdHex(id: string): boolean {
  return id.length === TRANSFER_ID_BYTES * 2 && /^[0-9a-f]+$/.test(id);
}

/** Number of chunks in a file of `size` bytes (0 for an empty file). */
export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Byte length of chunk `chunkIndex` (the last one may be shorter). */
export function chunkLength(size: number, chunkSize: number, chunkIndex: number): number {
  return Math.min(chunkSize, size - chunkIndex * chunkSize);
}

/**
 * Check a DATA frame's indices and payload length against the offer.
 * Throws WireError `file-out-of-range`, `chunk-out-of-range` or `bad-length`.
 */
export function checkDataAgainstOffer(
  files: readonly Pick<OfferFile, 'size' | 'chunkSize'>[],
  fileIndex: number,
  chunkIndex: number,
  payloadLength: number,
): void {
  const f = files[fileIndex];
  if (!f) throw new WireError('file-out-of-range', `file index ${fileIndex} out of range (offer has ${files.length})`);
  const n = chunkCount(f.size, f.chunkSize);
  if (chunkIndex >= n) throw new WireError('chunk-out-of-range', `chunk index ${chunkIndex} out of range (file has ${n})`);
  const expected = chunkLength(f.size, f.chunkSize, chunkIndex);
  if (payloadLength !== expected) {
    throw new WireError('bad-length', `chunk ${chunkIndex} has ${payloadLength} bytes, expected ${expected}`);
  }
}

/** Peek at the frame type without parsing; undefined if not a transfer frame. */
export function isTransferFrame(frame: Uint8Array): boolean {
  const t = frame[0];
  return t !== undefined && t >= 0x20 && t <= 0x3f;
}

function writeHeader(buf: Uint8Array, type: number, transferId: string): void {
  if (!isTransferIdHex(transferId)) throw new WireError('bad-field', 'transfer id must be 32 lowercase hex chars');
  buf[0] = type;
  buf[1] = WIRE_VERSION;
  for (let i = 0; i < TRANSFER_ID_BYTES; i++) buf[2 + i] = parseInt(transferId.slice(i * 2, i * 2 + 2), 16);
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function encodeJson(type: number, transferId: string, body: unknown): Uint8Array {
  const json = encoder.encode(JSON.stringify(body));
  const buf = new Uint8Array(COMMON_HEADER_SIZE + json.length);
  writeHeader(buf, type, transferId);
  buf.set(json, COMMON_HEADER_SIZE);
  return buf;
}

function toBase64(parts: Uint8Array[]): string {
  const all = new Uint8Array(parts.length * SHA256_BYTES);
  parts.forEach((p, i) => all.set(p, i * SHA256_BYTES));
  return Buffer.from(all.buffer, all.byteOffset, all.byteLength).toString('base64');
}

// ---- Encoders -----------------------------------------------------------------

/**
 * Encode JSON lists into one or more frames of at most `maxFrameBytes`, each
 * `{"<list>":[...],...,"part":i,"parts":n}`. Items are never split.
 */
function encodeParts(
  type: number,
  transferId: string,
  lists: Record<string, unknown[]>,
  maxFrameBytes: number,
  /** Scalar fields repeated in every part. */
  extra: Record<string, unknown> = {},
): Uint8Array[] {
  const keys = Object.keys(lists);
  const extraJson = Object.entries(extra)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join('');
  const budget = maxFrameBytes - COMMON_HEADER_SIZE - 64 - Buffer.byteLength(extraJson) - keys.reduce((n, k) => n + k.length + 8, 0);
  const parts: Record<string, string[]>[] = [];
  const fresh = (): Record<string, string[]> => Object.fromEntries(keys.map((k) => [k, [] as string[]]));
  let cur = fresh();
  let size = 0;
  for (const k of keys) {
    for (const item of lists[k]!) {
      const json = JSON.stringify(item);
      const n = Buffer.byteLength(json) + 1;
      if (n > budget) throw new WireError('oversized', `one ${k} entry is larger than a frame`, transferId);
      if (size + n > budget) {
        parts.push(cur);
        cur = fresh();
        size = 0;
      }
      cur[k]!.push(json);
      size += n;
    }
  }
  parts.push(cur);
  if (parts.length > MAX_PARTS) {
    throw new WireError('oversized', `needs ${parts.length} frames, more than ${MAX_PARTS}: too many entries`, transferId);
  }
  return parts.map((p, i) => {
    const body = `{${keys.map((k) => `"${k}":[${p[k]!.join(',')}]`).join(',')}${extraJson},"part":${i},"parts":${parts.length}}`;
    const json = encoder.encode(body);
    const buf = new Uint8Array(COMMON_HEADER_SIZE + json.length);
    writeHeader(buf, type, transferId);
    buf.set(json, COMMON_HEADER_SIZE);
    return buf;
  });
}

/** OFFER frames (usually one; several for very large file lists). Throws WireError `oversized` beyond MAX_PARTS. */
export function encodeOffer(transferId: string, body: OfferBody, maxFrameBytes = MAX_FRAME_BYTES): Uint8Array[] {
  return encodeParts(
    FrameType.OFFER,
    transferId,
    {
      files: body.files.map((f) => ({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, chunkSize: f.chunkSize })),
      emptyDirs: body.emptyDirs,
    },
    maxFrameBytes,
    { chunkHashes: body.chunkHashes?.length ? body.chunkHashes : undefined },
  );
}

/**
 * ACCEPT frames (usually one; several when many chunk hashes are listed). A file
 * with very many chunks is listed in several entries with the same index.
 */
export function encodeAccept(transferId: string, body: AcceptBody, maxFrameBytes = MAX_FRAME_BYTES): Uint8Array[] {
  // ~45 bytes of base64 + up to 11 of index per chunk; keep each entry well inside a frame.
  const perEntry = Math.max(1, Math.floor((maxFrameBytes - COMMON_HEADER_SIZE - 256) / 64));
  const entries: unknown[] = [];
  for (const f of body.files) {
    if (f.done) {
      entries.push({ index: f.index, have: [], hashes: '', done: true });
      continue;
    }
    for (let i = 0; i === 0 || i < f.have.length; i += perEntry) {
      entries.push({ index: f.index, have: f.have.slice(i, i + perEntry), hashes: toBase64(f.hashes.slice(i, i + perEntry)) });
    }
  }
  return encodeParts(FrameType.ACCEPT, transferId, { files: entries }, maxFrameBytes, {
    chunkHash: body.chunkHash && body.chunkHash !== 'sha256' ? body.chunkHash : undefined,
  });
}

/**
 * Reassembles a multi-part OFFER/ACCEPT. Parts must arrive in order (the channel
 * is ordered) and agree on `parts`; anything else is a WireError.
 */
export class PartCollector<B> {
  private readonly bodies: B[] = [];
  private parts = 0;

  /** Add a part; returns all bodies once the last one arrived, else null. */
  add(transferId: string, part: number, parts: number, body: B): B[] | null {
    if (this.bodies.length === 0) this.parts = parts;
    if (parts !== this.parts || part !== this.bodies.length) {
      throw new WireError('bad-field', `part ${part}/${parts} out of order (expected ${this.bodies.length}/${this.parts})`, transferId);
    }
    this.bodies.push(body);
    return this.bodies.length === this.parts ? this.bodies : null;
  }
}

export function encodeDecline(transferId: string, reason?: string): Uint8Array {
  return encodeJson(FrameType.DECLINE, transferId, reason === undefined ? {} : { reason });
}

export function encodeComplete(transferId: string): Uint8Array {
  return encodeJson(FrameType.COMPLETE, transferId, {});
}

export function encodeCancel(transferId: string, role: Role, reason?: string): Uint8Array {
  return encodeJson(FrameType.CANCEL, transferId, reason === undefined ? { role } : { role, reason });
}

export function encodeError(transferId: string, body: ErrorBody): Uint8Array {
  return encodeJson(FrameType.ERROR, transferId, {
    role: body.role,
    code: body.code.slice(0, 64),
    message: body.message.slice(0, MAX_TEXT_CHARS),
  });
}

/**
 * Allocate a DATA frame with room for `payloadLength` bytes at DATA_HEADER_SIZE:
 * read the file straight into it, hash `frame.subarray(DATA_HEADER_SIZE)`, then
 * call `writeDataHeader`. One buffer per chunk, no copy.
 */
export function allocDataFrame(payloadLength: number): Buffer {
  return Buffer.allocUnsafe(DATA_HEADER_SIZE + payloadLength);
}

export function writeDataHeader(
  frame: Uint8Array,
  transferId: string,
  fileIndex: number,
  chunkIndex: number,
  sha256: Uint8Array,
): void {
  if (sha256.length !== SHA256_BYTES) throw new WireError('bad-field', 'sha256 must be 32 bytes');
  writeHeader(frame, FrameType.DATA, transferId);
  const dv = view(frame);
  dv.setUint32(COMMON_HEADER_SIZE, fileIndex);
  dv.setUint32(COMMON_HEADER_SIZE + 4, chunkIndex);
  frame.set(sha256, COMMON_HEADER_SIZE + 8);
}

/** Convenience (copies the payload); the hot path uses allocDataFrame + writeDataHeader. */
export function encodeData(
  transferId: string,
  fileIndex: number,
  chunkIndex: number,
  sha256: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const frame = new Uint8Array(DATA_HEADER_SIZE + payload.length);
  frame.set(payload, DATA_HEADER_SIZE);
  writeDataHeader(frame, transferId, fileIndex, chunkIndex, sha256);
  return frame;
}

export function encodeFileEnd(transferId: string, fileIndex: number, sha256: Uint8Array): Uint8Array {
  if (sha256.length !== SHA256_BYTES) throw new WireError('bad-field', 'sha256 must be 32 bytes');
  const buf = new Uint8Array(FILE_END_SIZE);
  writeHeader(buf, FrameType.FILE_END, transferId);
  view(buf).setUint32(COMMON_HEADER_SIZE, fileIndex);
  buf.set(sha256, COMMON_HEADER_SIZE + 4);
  return buf;
}

/** The receiver verified file `fileIndex` and put it in place; `sha256` is its content SHA-256. */
export function encodeFileDone(transferId: string, fileIndex: number, sha256: Uint8Array): Uint8Array {
  if (sha256.length !== SHA256_BYTES) throw new WireError('bad-field', 'sha256 must be 32 bytes');
  const buf = new Uint8Array(FILE_DONE_SIZE);
  writeHeader(buf, FrameType.FILE_DONE, transferId);
  view(buf).setUint32(COMMON_HEADER_SIZE, fileIndex);
  buf.set(sha256, COMMON_HEADER_SIZE + 4);
  return buf;
}

export function encodeAck(transferId: string, bytes: number): Uint8Array {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new WireError('bad-field', 'ack bytes must be a safe integer');
  const buf = new Uint8Array(ACK_SIZE);
  writeHeader(buf, FrameType.ACK, transferId);
  view(buf).setBigUint64(COMMON_HEADER_SIZE, BigInt(bytes));
  return buf;
}

export function encodeResend(transferId: string, fileIndex: number, chunkIndex: number): Uint8Array {
  const buf = new Uint8Array(RESEND_SIZE);
  writeHeader(buf, FrameType.RESEND, transferId);
  view(buf).setUint32(COMMON_HEADER_SIZE, fileIndex);
  view(buf).setUint32(COMMON_HEADER_SIZE + 4, chunkIndex);
  return buf;
}

// ---- Parsing ------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function parseJsonBody(frame: Uint8Array, max: number, id: string): { [k: string]: Json } {
  const len = frame.length - COMMON_HEADER_SIZE;
  if (len > max) throw new WireError('oversized', `JSON body of ${len} bytes exceeds ${max}`, id);
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(frame.subarray(COMMON_HEADER_SIZE)));
  } catch {
    throw new WireError('bad-json', 'body is not valid UTF-8 JSON', id);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WireError('bad-json', 'body must be a JSON object', id);
  }
  return value as { [k: string]: Json };
}

function fieldError(id: string, what: string): WireError {
  return new WireError('bad-field', what, id);
}

function str(v: Json | undefined, id: string, name: string, maxChars: number): string {
  if (typeof v !== 'string') throw fieldError(id, `${name} must be a string`);
  if (v.length > maxChars) throw new WireError('oversized', `${name} longer than ${maxChars} chars`, id);
  return v;
}

function optStr(v: Json | undefined, id: string, name: string, maxChars: number): string | undefined {
  return v === undefined ? undefined : str(v, id, name, maxChars);
}

function uint(v: Json | undefined, id: string, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw fieldError(id, `${name} must be an integer in 0..${max}`);
  }
  return v;
}

function arr(v: Json | undefined, id: string, name: string, maxLen: number): Json[] {
  if (!Array.isArray(v)) throw fieldError(id, `${name} must be an array`);
  if (v.length > maxLen) throw new WireError('oversized', `${name} has more than ${maxLen} entries`, id);
  return v;
}

function obj(v: Json | undefined, id: string, name: string): { [k: string]: Json } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fieldError(id, `${name} must be an object`);
  return v;
}

function role(v: Json | undefined, id: string): Role {
  if (v !== 'sender' && v !== 'receiver') throw fieldError(id, 'role must be "sender" or "receiver"');
  return v;
}

function partOf(body: { [k: string]: Json }, id: string): { part: number; parts: number } {
  const parts = uint(body['parts'] ?? 1, id, 'parts', MAX_PARTS);
  const part = uint(body['part'] ?? 0, id, 'part', MAX_PARTS - 1);
  if (parts < 1 || part >= parts) throw fieldError(id, `part ${part} of ${parts}`);
  return { part, parts };
}

function parseOffer(frame: Uint8Array, id: string): { body: OfferBody; part: number; parts: number } {
  const body = parseJsonBody(frame, MAX_LARGE_JSON, id);
  const files = arr(body['files'], id, 'files', MAX_FILES).map((raw, i): OfferFile => {
    const f = obj(raw, id, `files[${i}]`);
    const size = uint(f['size'], id, `files[${i}].size`);
    const chunkSize = uint(f['chunkSize'], id, `files[${i}].chunkSize`, MAX_CHUNK_SIZE);
    if (chunkSize < MIN_CHUNK_SIZE) throw fieldError(id, `files[${i}].chunkSize below ${MIN_CHUNK_SIZE}`);
    if (chunkCount(size, chunkSize) > MAX_U32) throw fieldError(id, `files[${i}] has too many chunks`);
    const mtimeMs = f['mtimeMs'];
    if (typeof mtimeMs !== 'number' || !Number.isFinite(mtimeMs)) throw fieldError(id, `files[${i}].mtimeMs must be a number`);
    return { path: str(f['path'], id, `files[${i}].path`, MAX_PATH_CHARS), size, mtimeMs, chunkSize };
  });
  const emptyDirs = arr(body['emptyDirs'] ?? [], id, 'emptyDirs', MAX_FILES).map((d, i) =>
    str(d, id, `emptyDirs[${i}]`, MAX_PATH_CHARS),
  );
  const proposed = body['chunkHashes'];
  const chunkHashes =
    proposed === undefined
      ? undefined
      : arr(proposed, id, 'chunkHashes', MAX_PROPOSED_HASHES).map((h, i) => str(h, id, `chunkHashes[${i}]`, 32));
  return { body: chunkHashes ? { files, emptyDirs, chunkHashes } : { files, emptyDirs }, ...partOf(body, id) };
}

function parseAccept(frame: Uint8Array, id: string): { body: AcceptBody; part: number; parts: number } {
  const body = parseJsonBody(frame, MAX_LARGE_JSON, id);
  const files = arr(body['files'], id, 'files', MAX_FILES).map((raw, i): AcceptFile => {
    const f = obj(raw, id, `files[${i}]`);
    const index = uint(f['index'], id, `files[${i}].index`, MAX_U32);
    const have = arr(f['have'], id, `files[${i}].have`, MAX_U32).map((c, j) =>
      uint(c, id, `files[${i}].have[${j}]`, MAX_U32),
    );
    const b64 = str(f['hashes'], id, `files[${i}].hashes`, MAX_LARGE_JSON);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw fieldError(id, `files[${i}].hashes must be base64`);
    const raw32 = Buffer.from(b64, 'base64');
    if (raw32.length !== have.length * SHA256_BYTES) {
      throw fieldError(id, `files[${i}].hashes must hold ${have.length} 32-byte hashes`);
    }
    const hashes = have.map((_, j) => new Uint8Array(raw32.buffer, raw32.byteOffset + j * SHA256_BYTES, SHA256_BYTES));
    const done = f['done'];
    if (done !== undefined && typeof done !== 'boolean') throw fieldError(id, `files[${i}].done must be a boolean`);
    return done ? { index, have, hashes, done } : { index, have, hashes };
  });
  const picked = body['chunkHash'];
  if (picked !== undefined && !(CHUNK_HASHES as readonly Json[]).includes(picked)) {
    throw fieldError(id, `chunkHash must be one of ${CHUNK_HASHES.join(', ')}`);
  }
  const chunkHash = picked as ChunkHashName | undefined;
  return { body: chunkHash && chunkHash !== 'sha256' ? { files, chunkHash } : { files }, ...partOf(body, id) };
}

/**
 * Parse one transfer frame. Throws only `WireError`; `transferId` is set on it
 * whenever the common header was readable.
 */
export function parseTransferFrame(frame: Uint8Array): TransferFrame {
  if (!(frame instanceof Uint8Array)) throw new WireError('bad-type', 'frame must be bytes');
  if (frame.length < 1) throw new WireError('truncated', 'empty frame');
  const type = frame[0]!;
  if (type < FrameType.OFFER || type > FrameType.FILE_DONE) {
    throw new WireError('bad-type', `unknown transfer frame type 0x${type.toString(16).padStart(2, '0')}`);
  }
  if (frame.length < COMMON_HEADER_SIZE) throw new WireError('truncated', `frame shorter than ${COMMON_HEADER_SIZE}-byte header`);
  const transferId = bytesToHex(frame.subarray(2, COMMON_HEADER_SIZE));
  if (frame[1] !== WIRE_VERSION) {
    throw new WireError('bad-version', `unsupported transfer wire version ${frame[1]}`, transferId);
  }
  const dv = view(frame);
  const need = (n: number, exact: boolean): void => {
    if (frame.length < n) throw new WireError('truncated', `frame of ${frame.length} bytes, need ${n}`, transferId);
    if (exact && frame.length !== n) throw new WireError('bad-length', `frame of ${frame.length} bytes, expected ${n}`, transferId);
  };
  switch (type) {
    case FrameType.OFFER:
      return { type, transferId, ...parseOffer(frame, transferId) };
    case FrameType.ACCEPT:
      return { type, transferId, ...parseAccept(frame, transferId) };
    case FrameType.DECLINE: {
      const b = parseJsonBody(frame, MAX_SMALL_JSON, transferId);
      const reason = optStr(b['reason'], transferId, 'reason', MAX_TEXT_CHARS);
      return { type, transferId, body: reason === undefined ? {} : { reason } };
    }
    case FrameType.DATA: {
      need(DATA_HEADER_SIZE, false);
      const payloadLength = frame.length - DATA_HEADER_SIZE;
      if (payloadLength > MAX_CHUNK_SIZE) {
        throw new WireError('oversized', `chunk payload of ${payloadLength} bytes exceeds ${MAX_CHUNK_SIZE}`, transferId);
      }
      return {
        type,
        transferId,
        fileIndex: dv.getUint32(COMMON_HEADER_SIZE),
        chunkIndex: dv.getUint32(COMMON_HEADER_SIZE + 4),
        sha256: frame.subarray(COMMON_HEADER_SIZE + 8, DATA_HEADER_SIZE),
        payload: frame.subarray(DATA_HEADER_SIZE),
      };
    }
    case FrameType.FILE_END:
      need(FILE_END_SIZE, true);
      return {
        type,
        transferId,
        fileIndex: dv.getUint32(COMMON_HEADER_SIZE),
        sha256: frame.subarray(COMMON_HEADER_SIZE + 4, FILE_END_SIZE),
      };
    case FrameType.FILE_DONE:
      need(FILE_DONE_SIZE, true);
      return {
        type,
        transferId,
        fileIndex: dv.getUint32(COMMON_HEADER_SIZE),
        sha256: frame.subarray(COMMON_HEADER_SIZE + 4, FILE_DONE_SIZE),
      };
    case FrameType.ACK: {
      need(ACK_SIZE, true);
      const big = dv.getBigUint64(COMMON_HEADER_SIZE);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw fieldError(transferId, 'ack bytes out of range');
      return { type, transferId, bytes: Number(big) };
    }
    case FrameType.RESEND:
      need(RESEND_SIZE, true);
      return {
        type,
        transferId,
        fileIndex: dv.getUint32(COMMON_HEADER_SIZE),
        chunkIndex: dv.getUint32(COMMON_HEADER_SIZE + 4),
      };
    case FrameType.COMPLETE:
      parseJsonBody(frame, MAX_SMALL_JSON, transferId);
      return { type, transferId };
    case FrameType.CANCEL: {
      const b = parseJsonBody(frame, MAX_SMALL_JSON, transferId);
      const reason = optStr(b['reason'], transferId, 'reason', MAX_TEXT_CHARS);
      const r = role(b['role'], transferId);
      return { type, transferId, body: reason === undefined ? { role: r } : { role: r, reason } };
    }
    case FrameType.ERROR: {
      const b = parseJsonBody(frame, MAX_SMALL_JSON, transferId);
      return {
        type,
        transferId,
        body: {
          role: role(b['role'], transferId),
          code: str(b['code'], transferId, 'code', 64),
          message: str(b['message'], transferId, 'message', MAX_TEXT_CHARS),
        },
      };
    }
    default:
      throw new WireError('bad-type', `unknown transfer frame type 0x${type.toString(16)}`, transferId);
  }
}

export type ParseResult = { ok: true; frame: TransferFrame } | { ok: false; error: WireError };

/** Non-throwing variant of `parseTransferFrame`. */
export function tryParseTransferFrame(frame: Uint8Array): ParseResult {
  try {
    return { ok: true, frame: parseTransferFrame(frame) };
  } catch (err) {
    if (err instanceof WireError) return { ok: false, error: err };
    return { ok: false, error: new WireError('bad-field', `unparseable frame: ${String(err)}`) };
  }
}
