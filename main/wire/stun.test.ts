/**
 * Tests for the STUN codec (stun.ts): the RFC 5769 test vectors, answers
 * captured from coturn 4.6.1 in the lab, round trips, and hostile input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesToIp, crc32, encodeBindingRequest, encodeStun, ipToBytes, isStunPacket, newTransactionId, parseStun,
  STUN_ATTR, StunParseError, stunFrameLength, tryParseStun, verifyMessageIntegrity, type StunErrorCode,
} from './stun.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5769 section 2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT).
const RFC5769_REQUEST = hex(`
  000100582112a442b7e7a701bc34d686fa87dfae
  80220010 5354554e 20746573 7420636c 69656e74
  00240004 6e0001ff
  80290008 932ff9b1 51263b36
  00060009 6576746a 3a683676 59202020
  00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  80280004 e57a3bcf`);
// RFC 5769 section 2.2: sample IPv4 response, 192.0.2.1:32853.
const RFC5769_RESPONSE_V4 = hex(`
  0101003c2112a442b7e7a701bc34d686fa87dfae
  8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643
  00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  80280004 c07d4c96`);
// RFC 5769 section 2.3: sample IPv6 response, [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const RFC5769_RESPONSE_V6 = hex(`
  010100482112a442b7e7a701bc34d686fa87dfae
  8022000b 74657374 20766563 746f7220
  00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  80280004 c8fb0b4c`);
const RFC5769_PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';

test('RFC 5769 sample request: attributes, fingerprint, integrity, unknown comprehension-required', () => {
  assert.ok(isStunPacket(RFC5769_REQUEST));
  const m = parseStun(RFC5769_REQUEST);
  assert.equal(m.cls, 'request');
  assert.equal(m.method, 1);
  assert.equal(m.transactionId.toString('hex'), 'b7e7a701bc34d686fa87dfae');
  assert.equal(m.software, 'STUN test client');
  assert.equal(m.hasFingerprint, true);
  assert.equal(m.hasMessageIntegrity, true);
  // PRIORITY (0x0024) and USERNAME (0x0006) are ICE/auth attributes a Binding-only server does not understand.
  assert.deepEqual(m.unknownRequired, [0x0024, 0x0006]);
  assert.equal(verifyMessageIntegrity(RFC5769_REQUEST, RFC5769_PASSWORD), true);
  assert.equal(verifyMessageIntegrity(RFC5769_REQUEST, 'wrong'), false);
});

test('RFC 5769 sample IPv4 and IPv6 responses decode to the documented addresses', () => {
  const v4 = parseStun(RFC5769_RESPONSE_V4);
  assert.equal(v4.cls, 'success');
  assert.equal(v4.software, 'test vector');
  assert.deepEqual(v4.xorMappedAddress, { family: 'IPv4', ip: '192.0.2.1', port: 32853 });
  assert.equal(verifyMessageIntegrity(RFC5769_RESPONSE_V4, RFC5769_PASSWORD), true);
  const v6 = parseStun(RFC5769_RESPONSE_V6);
  assert.deepEqual(v6.xorMappedAddress, { family: 'IPv6', ip: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
  assert.equal(verifyMessageIntegrity(RFC5769_RESPONSE_V6, RFC5769_PASSWORD), true);
});

test('re-encoding the RFC 5769 IPv4 response body gives the same XOR-MAPPED-ADDRESS bytes', () => {
  const txid = hex('b7e7a701bc34d686fa87dfae');
  const ours = encodeStun({ cls: 'success', transactionId: txid, xorMappedAddress: { ip: '192.0.2.1', port: 32853 }, fingerprint: false });
  assert.equal(ours.subarray(20).toString('hex'), '002000080001a147e112a643');
  const ours6 = encodeStun({ cls: 'success', transactionId: txid, xorMappedAddress: { ip: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 }, fingerprint: false });
  assert.equal(ours6.subarray(20).toString('hex'), '002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9');
});

test('round trip: a response with every attribute, IPv4 and IPv6', () => {
  const txid = newTransactionId();
  const bytes = encodeStun({
    cls: 'success', transactionId: txid,
    xorMappedAddress: { ip: '80.16.3.2', port: 40001 },
    mappedAddress: { ip: '80.16.3.2', port: 40001 },
    responseOrigin: { ip: '85.10.0.20', port: 3479 },
    otherAddress: { ip: '2a01:4f8:10::20', port: 3479 },
    software: 'postern',
  });
  assert.ok(isStunPacket(bytes));
  assert.equal(stunFrameLength(bytes), bytes.length);
  const m = parseStun(bytes);
  assert.deepEqual(m.transactionId, txid);
  assert.deepEqual(m.xorMappedAddress, { family: 'IPv4', ip: '80.16.3.2', port: 40001 });
  assert.deepEqual(m.mappedAddress, { family: 'IPv4', ip: '80.16.3.2', port: 40001 });
  assert.deepEqual(m.responseOrigin, { family: 'IPv4', ip: '85.10.0.20', port: 3479 });
  assert.deepEqual(m.otherAddress, { family: 'IPv6', ip: '2a01:4f8:10::20', port: 3479 });
  assert.equal(m.software, 'postern');
  assert.equal(m.hasFingerprint, true);
  assert.deepEqual(m.unknownRequired, []);
});

test('binding request with CHANGE-REQUEST; error response with UNKNOWN-ATTRIBUTES', () => {
  const txid = newTransactionId();
  const req = parseStun(encodeBindingRequest(txid, { changeIp: true, changePort: true }));
  assert.equal(req.cls, 'request');
  assert.deepEqual(req.changeRequest, { changeIp: true, changePort: true });
  const portOnly = parseStun(encodeBindingRequest(txid, { changePort: true }));
  assert.deepEqual(portOnly.changeRequest, { changeIp: false, changePort: true });
  assert.equal(parseStun(encodeBindingRequest(txid)).changeRequest, undefined);
  const err = parseStun(encodeStun({ cls: 'error', transactionId: txid, errorCode: { code: 420, reason: 'Unknown Attribute' }, unknownAttributes: [0x0024, 0x7fff] }));
  assert.equal(err.cls, 'error');
  assert.deepEqual(err.errorCode, { code: 420, reason: 'Unknown Attribute' });
  assert.deepEqual(err.unknownAttributes, [0x0024, 0x7fff]);
});

test('unknown comprehension-optional attributes are ignored; attributes after MESSAGE-INTEGRITY are not decoded', () => {
  const txid = newTransactionId();
  const m = parseStun(encodeStun({ cls: 'request', transactionId: txid, extra: [{ type: 0xc001, value: Buffer.from('x') }, { type: 0x7777, value: Buffer.alloc(0) }] }));
  assert.deepEqual(m.unknownRequired, [0x7777]);
  const after = parseStun(encodeStun({ cls: 'request', transactionId: txid, extra: [{ type: STUN_ATTR.MESSAGE_INTEGRITY, value: Buffer.alloc(20) }, { type: 0x7777, value: Buffer.alloc(4) }] }));
  assert.deepEqual(after.unknownRequired, []);
});

test('IP text and bytes', () => {
  const cases: [string, string][] = [
    ['1.2.3.4', '1.2.3.4'], ['::', '::'], ['::1', '::1'], ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['2001:0:0:1::1', '2001:0:0:1::1'], ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['fe80::1%eth0', 'fe80::1'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['2001:db8::', '2001:db8::'],
  ];
  for (const [input, want] of cases) {
    const b = ipToBytes(input);
    assert.ok(b, input);
    assert.equal(bytesToIp(b), want, input);
  }
  for (const bad of ['', '1.2.3', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4:5:6:7', ':1:2:3:4:5:6:7', '::1.2.3.256']) {
    assert.equal(ipToBytes(bad), null, bad);
  }
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

// Captured in the lab from coturn 4.6.1 (turnserver --stun-only, two listening IPs: RFC 5780), for
// Binding requests from 90.16.0.101:49994 to 85.10.0.10:3490 (e2e/lab/nat-discovery.test.ts runs the same setup).
const COTURN = {
  binding: hex('010100502112a442b7e7a701bc34d686fa87df01002000080001e2587b02a427000100080001c34a5a100065802b000800010da2550a000a802c000800010da3550a001480220014436f7475726e2d342e362e312027476f72737427802800049b76d887'),
  changePort: hex('010100482112a442b7e7a701bc34d686fa87df02002000080001e2587b02a427000100080001c34a5a100065802b000800010da3550a000a802c000800010da3550a001480220014436f7475726e2d342e362e312027476f72737427'),
  changeBoth: hex('010100482112a442b7e7a701bc34d686fa87df03002000080001e2587b02a427000100080001c34a5a100065802b000800010da3550a0014802c000800010da3550a001480220014436f7475726e2d342e362e312027476f72737427'),
  unknownAttribute: hex('011100442112a442b7e7a701bc34d686fa87df040009001800000414556e6b6e6f776e20417474726962757465000000000a00027777000080220014436f7475726e2d342e362e312027476f72737427802800041a1645d7'),
};

test('coturn answers: XOR-MAPPED, MAPPED, RESPONSE-ORIGIN, OTHER-ADDRESS, SOFTWARE, FINGERPRINT; 420 with UNKNOWN-ATTRIBUTES', () => {
  const seen = { family: 'IPv4', ip: '90.16.0.101', port: 49994 };
  const b = parseStun(COTURN.binding);
  assert.equal(b.cls, 'success');
  assert.deepEqual(b.xorMappedAddress, seen);
  assert.deepEqual(b.mappedAddress, seen);
  assert.deepEqual(b.responseOrigin, { family: 'IPv4', ip: '85.10.0.10', port: 3490 });
  assert.deepEqual(b.otherAddress, { family: 'IPv4', ip: '85.10.0.20', port: 3491 });
  assert.equal(b.software, "Coturn-4.6.1 'Gorst'");
  assert.equal(b.hasFingerprint, true);
  // Answers to CHANGE-REQUEST come from elsewhere and say so in RESPONSE-ORIGIN (coturn leaves out FINGERPRINT here).
  assert.deepEqual(parseStun(COTURN.changePort).responseOrigin, { family: 'IPv4', ip: '85.10.0.10', port: 3491 });
  assert.deepEqual(parseStun(COTURN.changeBoth).responseOrigin, { family: 'IPv4', ip: '85.10.0.20', port: 3491 });
  assert.equal(isStunPacket(COTURN.changeBoth), true);
  const e = parseStun(COTURN.unknownAttribute);
  assert.equal(e.cls, 'error');
  assert.deepEqual(e.errorCode, { code: 420, reason: 'Unknown Attribute' });
  assert.deepEqual(e.unknownAttributes, [0x7777]);
});

// ---- hostile input ---------------------------------------------------------------

function rejects(buf: Buffer, code: StunErrorCode): void {
  assert.throws(() => parseStun(buf), (err: unknown) => err instanceof StunParseError && err.code === code, `want ${code}`);
  const r = tryParseStun(buf);
  assert.equal(r.ok, false);
}

test('malformed packets: truncated, bad length, overrun, bad cookie, bad fingerprint, bad attributes', () => {
  const good = Buffer.from(RFC5769_RESPONSE_V4);
  rejects(good.subarray(0, 19), 'TRUNCATED');
  rejects(good.subarray(0, 40), 'TRUNCATED');
  rejects(Buffer.concat([good, Buffer.alloc(4)]), 'BAD_LENGTH');
  const odd = Buffer.from(good);
  odd.writeUInt16BE(0x3d, 2);
  rejects(odd, 'BAD_LENGTH');
  const cookie = Buffer.from(good);
  cookie[4] = 0x22;
  rejects(cookie, 'BAD_COOKIE');
  assert.equal(isStunPacket(cookie), false);
  const notStun = Buffer.from(good);
  notStun[0] = 0x41;
  rejects(notStun, 'NOT_STUN');
  const fp = Buffer.from(good);
  fp[fp.length - 1] = (fp[fp.length - 1] as number) ^ 1;
  rejects(fp, 'BAD_FINGERPRINT');
  const flipped = Buffer.from(good);
  flipped[30] = (flipped[30] as number) ^ 1; // a byte of SOFTWARE: the fingerprint no longer matches
  rejects(flipped, 'BAD_FINGERPRINT');

  const txid = newTransactionId();
  const header = (len: number) => Buffer.concat([hex('0101'), Buffer.from([len >> 8, len & 0xff]), hex('2112a442'), txid]);
  // attribute claims 16 bytes, 4 present
  rejects(Buffer.concat([header(8), hex('00200010 00010000')]), 'ATTRIBUTE_OVERRUN');
  // attribute header cut after 2 bytes (length says 4: a lone type field plus 2 bytes)
  rejects(Buffer.concat([header(4), hex('0020 00ff')]), 'ATTRIBUTE_OVERRUN');
  // address with an unknown family / wrong size
  rejects(Buffer.concat([header(12), hex('00200008 00030000 01020304')]), 'BAD_ATTRIBUTE');
  rejects(Buffer.concat([header(12), hex('00200008 00020000 01020304')]), 'BAD_ATTRIBUTE');
  rejects(Buffer.concat([header(8), hex('00200002 00010000')]), 'BAD_ATTRIBUTE');
  // ERROR-CODE with number 120, CHANGE-REQUEST of 2 bytes, odd UNKNOWN-ATTRIBUTES
  rejects(Buffer.concat([header(8), hex('00090004 00000478')]), 'BAD_ATTRIBUTE');
  rejects(Buffer.concat([header(8), hex('00030002 00000000')]), 'BAD_ATTRIBUTE');
  rejects(Buffer.concat([header(8), hex('000a0003 00240000')]), 'BAD_ATTRIBUTE');
  // something after FINGERPRINT
  const withFp = encodeStun({ cls: 'success', transactionId: txid });
  const tail = Buffer.concat([withFp, hex('80220000')]);
  tail.writeUInt16BE(tail.length - 20, 2);
  rejects(tail, 'BAD_FINGERPRINT');
});

test('random garbage only ever fails with StunParseError', () => {
  const txid = newTransactionId();
  const base = encodeStun({ cls: 'success', transactionId: txid, xorMappedAddress: { ip: '1.2.3.4', port: 5 }, otherAddress: { ip: '::1', port: 7 }, software: 'x', fingerprint: false });
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(base.subarray(0, Math.floor(Math.random() * (base.length + 1))));
    for (let k = 0; k < 3; k++) if (b.length) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
    if (b.length >= 8 && Math.random() < 0.7) { b.writeUInt32BE(0x2112a442, 4); b[0] = (b[0] as number) & 0x3f; }
    if (b.length >= 4 && Math.random() < 0.5) b.writeUInt16BE(Math.max(0, b.length - 20) & ~3, 2);
    try {
      parseStun(b);
    } catch (err) {
      assert.ok(err instanceof StunParseError, String(err));
    }
  }
});

test('isStunPacket tells STUN from punch probes and UDX packets', () => {
  assert.equal(isStunPacket(Buffer.from('PSTP\x01aaaaaaaaaaaaaaaa')), false);
  assert.equal(isStunPacket(Buffer.from([0xff, 1, 0, 0, ...Array<number>(16).fill(0)])), false);
  assert.equal(isStunPacket(encodeBindingRequest(newTransactionId())), true);
  assert.equal(isStunPacket(Buffer.alloc(0)), false);
});
