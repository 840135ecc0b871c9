/**
 * Hole-punch probes: the small datagrams two nodes fire at each other's candidate
 * addresses on their shared UDP socket. They only open NAT mappings and find a
 * path; nothing in them is trusted (the secure channel authenticates the peer).
 *
 *   magic "PSTP" (4) | type u8 | token (16)
 *   type 1 = probe, 2 = ack (answer to a probe, sent to where the probe came from)
 */
export const PUNCH_MAGIC = Buffer.from('PSTP');
export const PUNCH_TOKEN_BYTES = 16;
export const PUNCH_PACKET_BYTES = 4 + 1 + PUNCH_TOKEN_BYTES;
export const PunchType = { PROBE: 1, ACK: 2 } as const;
export type PunchTypeCode = (typeof PunchType)[keyof typeof PunchType];

export function encodePunch(type: PunchTypeCode, token: Uint8Array): Buffer {
  if (token.length !== PUNCH_TOKEN_BYTES) throw new RangeError('punch token must be 16 bytes');
  const buf = Buffer.allocUnsafe(PUNCH_PACKET_BYTES);
  PUNCH_MAGIC.copy(buf, 0);
  buf[4] = type;
  buf.set(token, 5);
  return buf;
}

export function isPunchPacket(data: Uint8Array): boolean {
  return data.length === PUNCH_PACKET_BYTES && data[0] === 0x50 && data[1] === 0x53 && data[2] === 0x54 && data[3] === 0x50;
}

/** Returns null for anything that is not a well-formed punch packet. */
export function parsePunch(data: Uint8Array): { type: PunchTypeCode; token: Buffer } | null {
  if (!isPunchPacket(data)) return null;
  const type = data[4];
  if (type !== PunchType.PROBE && type !== PunchType.ACK) return null;
  return { type, token: Buffer.from(data.subarray(5, 5 + PUNCH_TOKEN_BYTES)) };
}
