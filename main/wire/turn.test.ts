/**
 * Tests for the TURN codec (turn.ts): the RFC 5769 §2.4 long-term-credential
 * vector (parse, MESSAGE-INTEGRITY, byte-exact re-encoding), real coturn 4.6.1
 * messages captured in the lab (main/engine/relay/turn/fixtures/coturn.json),
 * round trips of every attribute, ChannelData and TCP framing, and hostile input.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { StunParseError, isStunPacket, verifyMessageIntegrity } from './stun.js';
import {
  CHANNEL_MAX, CHANNEL_MIN, TRANSPORT_UDP, TURN_ATTR, TURN_METHOD, appendFingerprint, appendMessageIntegrity,
  appendMessageIntegritySha256, encodeChannelData, encodeTurn, isChannelData, longTermKey, parseChannelData, parseTurn,
  splitTurnStream, tryParseTurn, turnFrameLength, verifyMessageIntegritySha256,
} from './turn.js';

const fx = JSON.parse(readFileSync(new URL('../engine/relay/turn/fixtures/coturn.json', import.meta.url), 'utf8')) as Record<string, string>;
const bytes = (name: string): Buffer => {
  const v = fx[name];
  if (v === undefined) throw new Error(`no fixture ${name}`);
  return Buffer.from(v, 'hex');
};
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const KEY = longTermKey('alice', 'postern.lab', 'wonderland-7');
const SOFTWARE = "Coturn-4.6.1 'Gorst'";

// RFC 5769 §2.4: a request with long-term authentication (no FINGERPRINT).
const RFC5769_LONG_TERM = hex(`
  00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
  00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
  00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
  00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
  00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66`);
const RFC_USER = '\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9';
const RFC_PASSWORD = 'TheMatrIX'; // "TheM\u00AAtr\u2168" after SASLprep

test('RFC 5769 §2.4: long-term credentials parse, verify, and re-encode byte for byte', () => {
  const m = parseTurn(RFC5769_LONG_TERM);
  assert.equal(m.method, 0x001);
  assert.equal(m.cls, 'request');
  assert.equal(m.username, RFC_USER);
  assert.equal(m.nonce, 'f//499k954d6OL34oL9FSTvy64sA');
  assert.equal(m.realm, 'example.org');
  assert.equal(m.hasMessageIntegrity, true);
  const key = longTermKey(RFC_USER, 'example.org', RFC_PASSWORD);
  assert.equal(verifyMessageIntegrity(RFC5769_LONG_TERM, key), true);
  assert.equal(verifyMessageIntegrity(RFC5769_LONG_TERM, longTermKey(RFC_USER, 'example.org', 'TheM\u00AAtr\u2168')), false);
  const again = encodeTurn({
    method: 0x001, cls: 'request', transactionId: m.transactionId, fingerprint: false,
    auth: { username: RFC_USER, realm: 'example.org', nonce: 'f//499k954d6OL34oL9FSTvy64sA', key },
  });
  assert.deepEqual(again, RFC5769_LONG_TERM);
});

test('coturn: Allocate 401 gives REALM and NONCE; the authenticated Allocate succeeds with addresses and lifetime', () => {
  const e = parseTurn(bytes('allocate_401'));
  assert.equal(e.method, TURN_METHOD.ALLOCATE);
  assert.equal(e.cls, 'error');
  assert.deepEqual(e.errorCode, { code: 401, reason: 'Unauthorized' });
  assert.equal(e.realm, 'postern.lab');
  assert.match(e.nonce ?? '', /^[0-9a-f]{16}$/);
  assert.equal(e.software, SOFTWARE);
  assert.equal(e.hasFingerprint, true);
  assert.equal(e.hasMessageIntegrity, false);

  const req = parseTurn(bytes('allocate_request_auth'));
  assert.equal(req.requestedTransport, TRANSPORT_UDP);
  assert.equal(req.username, 'alice');
  assert.equal(verifyMessageIntegrity(bytes('allocate_request_auth'), KEY), true);

  const ok = parseTurn(bytes('allocate_success'));
  assert.equal(ok.cls, 'success');
  assert.equal(ok.transactionId.toString('hex'), req.transactionId.toString('hex'));
  const [rip, rport] = (fx.relayed ?? '').split(':');
  const [mip, mport] = (fx.mapped ?? '').split(':');
  assert.deepEqual(ok.xorRelayedAddress, { family: 'IPv4', ip: rip, port: Number(rport) });
  assert.deepEqual(ok.xorMappedAddress, { family: 'IPv4', ip: mip, port: Number(mport) });
  assert.equal(ok.lifetime, 600);
  assert.equal(ok.unknownRequired.length, 0);
  assert.equal(verifyMessageIntegrity(bytes('allocate_success'), KEY), true);
  assert.equal(verifyMessageIntegrity(bytes('allocate_success'), longTermKey('alice', 'postern.lab', 'wrong')), false);
});

test('coturn: the requests Postern sent re-encode identically from their parsed fields', () => {
  const auth = (name: string) => {
    const m = parseTurn(bytes(name));
    return { m, auth: { username: m.username ?? '', realm: m.realm ?? '', nonce: m.nonce ?? '', key: KEY } };
  };
  let r = auth('allocate_request_auth');
  assert.deepEqual(encodeTurn({ method: TURN_METHOD.ALLOCATE, cls: 'request', transactionId: r.m.transactionId, requestedTransport: TRANSPORT_UDP, auth: r.auth }), bytes('allocate_request_auth'));
  r = auth('channel_bind_request');
  assert.equal(r.m.channelNumber, 0x4001);
  assert.deepEqual(encodeTurn({ method: TURN_METHOD.CHANNEL_BIND, cls: 'request', transactionId: r.m.transactionId, channelNumber: 0x4001, xorPeerAddresses: r.m.xorPeerAddresses, auth: r.auth }), bytes('channel_bind_request'));
  r = auth('refresh_dealloc_request');
  assert.equal(r.m.lifetime, 0);
  assert.deepEqual(encodeTurn({ method: TURN_METHOD.REFRESH, cls: 'request', transactionId: r.m.transactionId, lifetime: 0, auth: r.auth }), bytes('refresh_dealloc_request'));
  assert.deepEqual(encodeTurn({ method: TURN_METHOD.ALLOCATE, cls: 'request', transactionId: parseTurn(bytes('allocate_request_noauth')).transactionId, requestedTransport: TRANSPORT_UDP }), bytes('allocate_request_noauth'));
});

test('coturn: permission, channel, refresh and deallocation answers carry valid integrity', () => {
  for (const name of ['create_permission_success', 'channel_bind_success', 'refresh_success', 'refresh_dealloc_success']) {
    const m = parseTurn(bytes(name));
    assert.equal(m.cls, 'success', name);
    assert.equal(verifyMessageIntegrity(bytes(name), KEY), true, name);
  }
  assert.equal(parseTurn(bytes('create_permission_success')).method, TURN_METHOD.CREATE_PERMISSION);
  assert.equal(parseTurn(bytes('channel_bind_success')).method, TURN_METHOD.CHANNEL_BIND);
  assert.equal(parseTurn(bytes('refresh_success')).lifetime, 600);
  assert.equal(parseTurn(bytes('refresh_dealloc_success')).lifetime, 0);
  const perm = parseTurn(bytes('create_permission_request'));
  assert.equal(perm.xorPeerAddresses[0]?.ip, (fx.mapped ?? '').split(':')[0]);
});

test('coturn: Data indication, ChannelData over UDP and TCP (with padding), our Send indication', () => {
  const d = parseTurn(bytes('data_indication'));
  assert.equal(d.method, TURN_METHOD.DATA);
  assert.equal(d.cls, 'indication');
  assert.equal(d.data?.toString(), 'hello from the peer');
  const [pip, pport] = (fx.peer ?? '').split(':');
  assert.deepEqual(d.xorPeerAddresses, [{ family: 'IPv4', ip: pip, port: Number(pport) }]);

  const udp = bytes('channel_data_udp');
  assert.equal(isChannelData(udp), true);
  assert.equal(isStunPacket(udp), false);
  const cd = parseChannelData(udp);
  assert.equal(cd?.channel, 0x4001);
  assert.equal(cd?.data.toString(), 'hello');
  assert.deepEqual(encodeChannelData(0x4001, Buffer.from('hello')), udp);

  const tcp = bytes('channel_data_tcp');
  assert.equal(tcp.length, 12);
  assert.equal(turnFrameLength(tcp), 12);
  assert.equal(parseChannelData(tcp)?.data.toString(), 'hello');
  const ours = encodeChannelData(0x4002, Buffer.from('hello'), true);
  assert.equal(ours.length, 12);
  assert.deepEqual(ours.subarray(0, 9), tcp.subarray(0, 9));

  const s = parseTurn(bytes('send_indication'));
  assert.equal(s.method, TURN_METHOD.SEND);
  assert.equal(s.data?.toString(), fx.peer_got_from_send);
  assert.equal(s.hasFingerprint, false);
});

test('coturn: error answers 437, 438 (new nonce), 401 for a wrong password, 486, 508', () => {
  const cases: [string, number, RegExp][] = [
    ['allocate_437', 437, /Mismatched allocation/],
    ['refresh_438', 438, /Stale nonce/i],
    ['allocate_401_wrong_password', 401, /Unauthorized/],
    ['allocate_486', 486, /Allocation Quota Reached/],
    ['allocate_508', 508, /Cannot create socket/],
  ];
  for (const [name, code, reason] of cases) {
    const m = parseTurn(bytes(name));
    assert.equal(m.cls, 'error', name);
    assert.equal(m.errorCode?.code, code, name);
    assert.match(m.errorCode?.reason ?? '', reason, name);
  }
  const stale = parseTurn(bytes('refresh_438'));
  assert.ok(stale.nonce && stale.nonce !== parseTurn(bytes('refresh_request')).nonce, 'a new nonce');
  assert.equal(stale.realm, 'postern.lab');
  assert.equal(parseTurn(bytes('allocate_401_wrong_password')).hasMessageIntegrity, false);
  assert.equal(verifyMessageIntegrity(bytes('allocate_486'), KEY), true);
  assert.equal(verifyMessageIntegrity(bytes('allocate_508'), KEY), true);
});

test('TCP stream: frames split at every byte boundary', () => {
  const frames = [bytes('allocate_success'), bytes('channel_data_tcp'), bytes('data_indication'), encodeChannelData(0x4fff, randomBytes(1001), true)];
  const stream = Buffer.concat(frames);
  for (const cut of [1, 3, 7, 20, 33, 100]) {
    const got: Buffer[] = [];
    let pending = Buffer.alloc(0);
    for (let off = 0; off < stream.length; off += cut) {
      pending = Buffer.concat([pending, stream.subarray(off, off + cut)]);
      const r = splitTurnStream(pending);
      got.push(...r.frames.map((f) => Buffer.from(f)));
      pending = Buffer.from(r.rest);
    }
    assert.equal(pending.length, 0);
    assert.deepEqual(got, frames);
  }
  assert.throws(() => splitTurnStream(hex('16030100a5010000a10303')), StunParseError); // a TLS record
  assert.throws(() => splitTurnStream(Buffer.from('POST / HTTP/1.1')), StunParseError);
  assert.throws(() => turnFrameLength(hex('5000 0004 00000000')), StunParseError);
  assert.throws(() => turnFrameLength(hex('0001 0003 2112a442')), StunParseError);
  assert.throws(() => turnFrameLength(hex('0001 0004 deadbeef')), StunParseError);
  assert.equal(turnFrameLength(hex('4000 00')), null);
});

test('round trip: every TURN attribute, IPv4 and IPv6 peers, integrity SHA-1 and SHA-256', () => {
  const transactionId = randomBytes(12);
  const auth = { username: 'u', realm: 'r', nonce: 'n', key: longTermKey('u', 'r', 'p') };
  const buf = encodeTurn({
    method: TURN_METHOD.CREATE_PERMISSION, cls: 'request', transactionId, lifetime: 1234, requestedTransport: TRANSPORT_UDP,
    requestedAddressFamily: 'IPv6', dontFragment: true, channelNumber: 0x4abc,
    xorPeerAddresses: [{ ip: '203.0.113.9', port: 1 }, { ip: '2001:db8::1', port: 65535 }],
    data: Buffer.from([0, 1, 2]), software: 'postern', auth, sha256: true,
  });
  assert.equal(isStunPacket(buf), true);
  const m = parseTurn(buf);
  assert.equal(m.lifetime, 1234);
  assert.equal(m.requestedTransport, 17);
  assert.equal(m.requestedAddressFamily, 'IPv6');
  assert.equal(m.dontFragment, true);
  assert.equal(m.channelNumber, 0x4abc);
  assert.deepEqual(m.xorPeerAddresses.map((a) => `${a.ip}/${a.port}`), ['203.0.113.9/1', '2001:db8::1/65535']);
  assert.deepEqual(m.data, Buffer.from([0, 1, 2]));
  assert.equal(m.username, 'u');
  assert.equal(m.software, 'postern');
  assert.equal(m.hasFingerprint, true);
  assert.equal(m.hasMessageIntegritySha256, true);
  assert.equal(verifyMessageIntegrity(buf, auth.key), true);
  assert.equal(verifyMessageIntegritySha256(buf, auth.key), true);
  assert.equal(verifyMessageIntegritySha256(buf, longTermKey('u', 'r', 'x')), false);
  const tampered = Buffer.from(buf);
  tampered[30] = (tampered[30] as number) ^ 1;
  assert.equal(verifyMessageIntegrity(tampered, auth.key), false);
  assert.equal(verifyMessageIntegritySha256(tampered, auth.key), false);

  const ok = encodeTurn({ method: TURN_METHOD.ALLOCATE, cls: 'success', transactionId, xorRelayedAddress: { ip: '2001:db8::2', port: 3478 }, xorMappedAddress: { ip: '198.51.100.1', port: 9 }, lifetime: 600, auth, integrityOnly: true });
  const p = parseTurn(ok);
  assert.deepEqual(p.xorRelayedAddress, { family: 'IPv6', ip: '2001:db8::2', port: 3478 });
  assert.deepEqual(p.xorMappedAddress, { family: 'IPv4', ip: '198.51.100.1', port: 9 });
  assert.equal(p.username, undefined);
  assert.equal(verifyMessageIntegrity(ok, auth.key), true);

  const err = encodeTurn({ method: TURN_METHOD.REFRESH, cls: 'error', transactionId, errorCode: { code: 438, reason: 'Stale Nonce' }, nonce: 'n2', realm: 'r' });
  assert.deepEqual({ ...parseTurn(err).errorCode, nonce: parseTurn(err).nonce }, { code: 438, reason: 'Stale Nonce', nonce: 'n2' });

  // Building blocks: MI-SHA256 alone, then FINGERPRINT.
  const bare = encodeTurn({ method: TURN_METHOD.REFRESH, cls: 'request', transactionId, lifetime: 0, fingerprint: false });
  const signed = appendFingerprint(appendMessageIntegritySha256(bare, 'k'));
  assert.equal(verifyMessageIntegritySha256(signed, 'k'), true);
  assert.equal(parseTurn(signed).hasFingerprint, true);
  assert.equal(verifyMessageIntegrity(appendMessageIntegrity(bare, 'k'), 'k'), true);
});

test('ChannelData: channel range, padding on UDP accepted, malformed rejected', () => {
  assert.throws(() => encodeChannelData(CHANNEL_MIN - 1, Buffer.alloc(1)), TypeError);
  assert.throws(() => encodeChannelData(CHANNEL_MAX + 1, Buffer.alloc(1)), TypeError);
  assert.equal(encodeChannelData(CHANNEL_MIN, Buffer.alloc(4), true).length, 8);
  assert.equal(encodeChannelData(CHANNEL_MIN, Buffer.alloc(0), true).length, 4);
  assert.equal(parseChannelData(hex('4001 0001 aa 000000'))?.data.length, 1); // padded, as over TCP
  assert.equal(parseChannelData(hex('4001 0001 aa 00000000')), null); // 4 bytes too many
  assert.equal(parseChannelData(hex('4001 0005 aabb')), null); // truncated
  assert.equal(parseChannelData(hex('5001 0001 aa')), null); // reserved channel
  assert.equal(parseChannelData(hex('0001 0000')), null); // STUN
  assert.equal(isChannelData(hex('ff01 0203 04')), false); // UDX packets start with 0xff
});

test('hostile input: bad TURN attributes fail with StunParseError; random bytes never crash', () => {
  const txid = randomBytes(12);
  const withAttr = (type: number, value: Buffer): Buffer => {
    const a = Buffer.alloc(4 + ((value.length + 3) & ~3));
    a.writeUInt16BE(type, 0);
    a.writeUInt16BE(value.length, 2);
    value.copy(a, 4);
    const h = encodeTurn({ method: TURN_METHOD.ALLOCATE, cls: 'success', transactionId: txid, fingerprint: false });
    h.writeUInt16BE(a.length, 2);
    return Buffer.concat([h, a]);
  };
  const bad: [number, Buffer][] = [
    [TURN_ATTR.LIFETIME, Buffer.alloc(3)],
    [TURN_ATTR.CHANNEL_NUMBER, Buffer.alloc(5)],
    [TURN_ATTR.REQUESTED_TRANSPORT, Buffer.alloc(2)],
    [TURN_ATTR.REQUESTED_ADDRESS_FAMILY, hex('03000000')],
    [TURN_ATTR.XOR_RELAYED_ADDRESS, hex('0003 1234 01020304')],
    [TURN_ATTR.XOR_PEER_ADDRESS, hex('0001 1234 010203')],
    [TURN_ATTR.XOR_PEER_ADDRESS, hex('0002 1234 01020304')],
    [TURN_ATTR.EVEN_PORT, Buffer.alloc(2)],
    [TURN_ATTR.RESERVATION_TOKEN, Buffer.alloc(7)],
    [TURN_ATTR.MESSAGE_INTEGRITY_SHA256, Buffer.alloc(12)],
  ];
  for (const [type, value] of bad) {
    const r = tryParseTurn(withAttr(type, value));
    assert.equal(r.ok, false, `attribute 0x${type.toString(16)}`);
    if (!r.ok) assert.equal(r.error.code, 'BAD_ATTRIBUTE');
  }
  // An unknown comprehension-required attribute is reported, not fatal; TURN ones are understood.
  const unk = parseTurn(withAttr(0x0031, Buffer.alloc(4)));
  assert.deepEqual(unk.unknownRequired, [0x0031]);
  assert.deepEqual(parseTurn(withAttr(TURN_ATTR.DONT_FRAGMENT, Buffer.alloc(0))).unknownRequired, []);

  for (let i = 0; i < 3000; i++) {
    const junk = randomBytes(Math.floor(Math.random() * 120));
    if (i % 3 === 0 && junk.length >= 20) { junk.writeUInt32BE(0x2112a442, 4); junk.writeUInt16BE((junk.length - 20) & ~3, 2); junk[0] = (junk[0] as number) & 0x3f; }
    const r = tryParseTurn(junk);
    if (!r.ok) assert.ok(r.error instanceof StunParseError);
    parseChannelData(junk);
    try { splitTurnStream(junk); } catch (err) { assert.ok(err instanceof StunParseError); }
  }
  for (const name of Object.keys(fx).filter((k) => /^[0-9a-f]+$/.test(fx[k] ?? '') && !k.startsWith('channel_data'))) {
    const b = bytes(name);
    for (let cut = 0; cut < b.length; cut += 3) {
      const r = tryParseTurn(b.subarray(0, cut));
      assert.equal(r.ok, false);
    }
  }
});
