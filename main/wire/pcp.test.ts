/**
 * PCP codec (pcp.ts): answers captured from miniupnpd 2.3.1 in the lab
 * (main/engine/portmap/fixtures/pcp.json), request bytes, nonce checks and
 * hostile input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  checkMapResponse, encodeAnnounceRequest, encodeMapRequest, ipFrom16, ipTo16, parsePcpResponse, pcpResultText,
} from './pcp.js';

const fx = JSON.parse(readFileSync(new URL('../engine/portmap/fixtures/pcp.json', import.meta.url), 'utf8')) as Record<string, string>;
const hex = (k: string) => Buffer.from(fx[k] ?? '', 'hex');
const nonce = hex('nonce');

test('addresses as 16 bytes', () => {
  assert.equal(ipTo16('192.168.2.101').toString('hex'), '00000000000000000000ffffc0a80265');
  assert.equal(ipFrom16(ipTo16('192.168.2.101')), '192.168.2.101');
  for (const ip of ['2a02:1810:1::101', '::1', 'fe80::1:2', '2001:db8::', '::', '1:2:3:4:5:6:7:8', '::ffff:1.2.3.4', '64:ff9b::1.2.3.4']) {
    const back = ipFrom16(ipTo16(ip));
    assert.deepEqual(ipTo16(back), ipTo16(ip), ip);
  }
  assert.equal(ipFrom16(ipTo16('2a02:1810:1::101')), '2a02:1810:1::101');
  assert.equal(ipTo16('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
  assert.throws(() => ipTo16('not an ip'), RangeError);
});

test('requests: ANNOUNCE and MAP', () => {
  assert.equal(encodeAnnounceRequest('192.168.2.101').toString('hex'), '0200000000000000' + '00000000000000000000ffffc0a80265');
  const req = encodeMapRequest({ nonce, protocol: 'tcp', internalPort: 42000, suggestedExternalPort: 42000, lifetimeSec: 7200, clientIp: '192.168.2.101' });
  assert.equal(req.length, 60);
  assert.equal(req.toString('hex'),
    '02010000' + '00001c20' + '00000000000000000000ffffc0a80265' + nonce.toString('hex') + '06000000' + 'a410a410' + '00000000000000000000ffff00000000');
  const del = encodeMapRequest({ nonce, protocol: 'udp', internalPort: 42001, suggestedExternalPort: 0, lifetimeSec: 0, clientIp: '192.168.2.101' });
  assert.equal(del.readUInt32BE(4), 0);
  assert.equal(del[36], 17);
  assert.throws(() => encodeMapRequest({ nonce: Buffer.alloc(8), protocol: 'tcp', internalPort: 1, suggestedExternalPort: 0, lifetimeSec: 1, clientIp: '1.2.3.4' }), RangeError);
});

test('miniupnpd: ANNOUNCE, TCP and UDP maps', () => {
  const a = parsePcpResponse(hex('announce'));
  assert.deepEqual(a, { ok: true, value: { opcode: 0, result: 0, lifetimeSec: 0, epoch: 33 } });
  const tcp = parsePcpResponse(hex('mapTcp_42000_7200s'));
  assert.ok(tcp.ok);
  assert.equal(tcp.value.result, 0);
  assert.equal(tcp.value.lifetimeSec, 7200);
  assert.equal(tcp.value.map?.externalIp, '80.16.2.2');
  assert.equal(tcp.value.map?.externalPort, 42000);
  assert.equal(checkMapResponse(tcp.value, { nonce, protocol: 'tcp', internalPort: 42000 }), null);
  const udp = parsePcpResponse(hex('mapUdp_42001_120s'));
  assert.ok(udp.ok && udp.value.map?.protocol === 'udp' && udp.value.lifetimeSec === 120);
  assert.equal(checkMapResponse(udp.value, { nonce, protocol: 'udp', internalPort: 42001 }), null);
});

test('a response with another nonce, protocol or port is not ours', () => {
  const other = parsePcpResponse(hex('mapTcp_otherNonce'));
  assert.ok(other.ok);
  assert.match(checkMapResponse(other.value, { nonce, protocol: 'tcp', internalPort: 42000 }) ?? '', /nonce/);
  const tcp = parsePcpResponse(hex('mapTcp_42000_7200s'));
  assert.ok(tcp.ok);
  assert.match(checkMapResponse(tcp.value, { nonce, protocol: 'udp', internalPort: 42000 }) ?? '', /protocol/);
  assert.match(checkMapResponse(tcp.value, { nonce, protocol: 'tcp', internalPort: 1 }) ?? '', /internal port/);
  const a = parsePcpResponse(hex('announce'));
  assert.ok(a.ok);
  assert.match(checkMapResponse(a.value, { nonce, protocol: 'tcp', internalPort: 1 }) ?? '', /not MAP/);
});

test('miniupnpd: error answers with their codes', () => {
  const expect: [string, number, RegExp][] = [
    ['delete_otherNonce_notAuthorized', 2, /NOT_AUTHORIZED/],
    ['unsupportedOpcode_9', 4, /UNSUPP_OPCODE/],
    ['unsupportedVersion_3', 1, /UNSUPP_VERSION/],
    ['addressMismatch', 12, /ADDRESS_MISMATCH.*another NAT/],
    ['cgnat_mapTcp_noResources', 8, /NO_RESOURCES/],
  ];
  for (const [k, code, re] of expect) {
    const r = parsePcpResponse(hex(k));
    assert.ok(r.ok, k);
    assert.equal(r.value.result, code, k);
    assert.match(pcpResultText(r.value.result), re);
  }
  // Behind a CGN miniupnpd still says which external address it has: 100.64.3.2.
  const cg = parsePcpResponse(hex('cgnat_mapTcp_noResources'));
  assert.ok(cg.ok && cg.value.map?.externalIp === '100.64.3.2');
  assert.equal(checkMapResponse(cg.value, { nonce: hex('cgnat_nonce'), protocol: 'tcp', internalPort: 42000 }), null);
  // A 4-byte request got a NAT-PMP-style answer.
  const t = parsePcpResponse(hex('truncatedRequest_answer'));
  assert.equal(t.ok, false);
  if (!t.ok) assert.match(t.error, /NAT-PMP/);
});

test('hostile input: never throws, says why', () => {
  const cases: [Buffer, RegExp][] = [
    [Buffer.alloc(0), /empty/],
    [Buffer.from('02', 'hex'), /too short/],
    [Buffer.from('0281000000', 'hex'), /too short/],
    [Buffer.concat([Buffer.from('02010000', 'hex'), Buffer.alloc(20)]), /request/],
    [Buffer.concat([Buffer.from('02810000', 'hex'), Buffer.alloc(21)]), /multiple of 4/],
    [Buffer.concat([Buffer.from('02810000', 'hex'), Buffer.alloc(1200)]), /longer than 1100/],
    [Buffer.concat([Buffer.from('02810000', 'hex'), Buffer.alloc(28)]), /too short \(60\)/],
    [Buffer.from('09810000', 'hex'), /version 9/],
  ];
  for (const [b, re] of cases) {
    const r = parsePcpResponse(b);
    assert.equal(r.ok, false, b.toString('hex'));
    if (!r.ok) assert.match(r.error, re);
  }
  for (let i = 0; i < 3000; i++) {
    const len = 4 * Math.floor(Math.random() * 20);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = Math.floor(Math.random() * 256);
    if (len) b[0] = 2;
    if (len > 1) b[1] = 0x80 | (i % 3);
    const r = parsePcpResponse(b);
    if (r.ok) checkMapResponse(r.value, { nonce, protocol: 'tcp', internalPort: 1 });
  }
});
