/**
 * NAT-PMP codec (natpmp.ts): answers captured from miniupnpd 2.3.1 in the lab
 * (main/engine/portmap/fixtures/natpmp.json), request bytes, and hostile input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  encodeDeleteRequest, encodeExternalAddressRequest, encodeMapRequest, natPmpResultText, parseNatPmpResponse,
} from './natpmp.js';

const fx = JSON.parse(readFileSync(new URL('../engine/portmap/fixtures/natpmp.json', import.meta.url), 'utf8')) as Record<string, string>;
const hex = (k: string) => Buffer.from(fx[k] ?? '', 'hex');

test('requests: external address, map, delete', () => {
  assert.equal(encodeExternalAddressRequest().toString('hex'), '0000');
  assert.equal(encodeMapRequest({ protocol: 'tcp', internalPort: 41000, suggestedExternalPort: 41000, lifetimeSec: 7200 }).toString('hex'), '00020000a028a02800001c20');
  assert.equal(encodeMapRequest({ protocol: 'udp', internalPort: 1, suggestedExternalPort: 0, lifetimeSec: 60 }).toString('hex'), '00010000000100000000003c');
  assert.equal(encodeDeleteRequest('tcp', 41010).toString('hex'), '00020000a032000000000000');
  assert.throws(() => encodeMapRequest({ protocol: 'tcp', internalPort: 70000, suggestedExternalPort: 0, lifetimeSec: 1 }), RangeError);
  assert.throws(() => encodeMapRequest({ protocol: 'tcp', internalPort: 1, suggestedExternalPort: 0, lifetimeSec: -1 }), RangeError);
});

test('miniupnpd: external address', () => {
  const r = parseNatPmpResponse(hex('externalAddress'));
  assert.deepEqual(r, { ok: true, value: { op: 'external-address', result: 0, epoch: 28, externalIp: '80.16.1.2' } });
});

test('miniupnpd: TCP and UDP maps, a moved port, a deletion', () => {
  const tcp = parseNatPmpResponse(hex('mapTcp_41000_7200s'));
  assert.deepEqual(tcp, { ok: true, value: { op: 'map', protocol: 'tcp', result: 0, epoch: 29, internalPort: 41000, externalPort: 41000, lifetimeSec: 7200 } });
  const udp = parseNatPmpResponse(hex('mapUdp_41001_120s'));
  assert.ok(udp.ok && udp.value.op === 'map' && udp.value.protocol === 'udp' && udp.value.lifetimeSec === 120);
  const moved = parseNatPmpResponse(hex('mapTcp_41011_ext80_got1025'));
  assert.ok(moved.ok && moved.value.op === 'map' && moved.value.externalPort === 1025 && moved.value.internalPort === 41011);
  const del = parseNatPmpResponse(hex('deleteTcp_41010'));
  assert.ok(del.ok && del.value.op === 'map' && del.value.externalPort === 0 && del.value.lifetimeSec === 0);
});

test('miniupnpd: errors (unknown opcode in 8 bytes; behind a CGN: NETWORK_FAILURE, 0.0.0.0)', () => {
  const op = parseNatPmpResponse(hex('unsupportedOpcode_9'));
  assert.deepEqual(op, { ok: true, value: { op: 'other', opcode: 9, result: 5, epoch: 32 } });
  const ext = parseNatPmpResponse(hex('cgnat_externalAddress_networkFailure'));
  assert.ok(ext.ok && ext.value.op === 'external-address' && ext.value.result === 3 && ext.value.externalIp === null);
  const map = parseNatPmpResponse(hex('cgnat_mapTcp_networkFailure'));
  assert.ok(map.ok && map.value.op === 'map' && map.value.result === 3);
  assert.match(natPmpResultText(3), /^NAT-PMP 3 NETWORK_FAILURE: .*behind another NAT/);
  assert.match(natPmpResultText(77), /unknown/);
});

test('hostile input: never throws, says why', () => {
  const cases: [string, RegExp][] = [
    ['', /too short/],
    ['00', /too short/],
    ['0002', /request/],
    ['008000', /too short/],
    ['00820000000000', /too short/],
    ['0082000000000001a028', /too short \(16\)/],
    ['00800000000000010a00', /too short \(12\)/],
    ['02810000', /PCP/],
    ['07800000000000000000000000', /version 7/],
  ];
  for (const [h, re] of cases) {
    const r = parseNatPmpResponse(Buffer.from(h, 'hex'));
    assert.equal(r.ok, false, h);
    if (!r.ok) assert.match(r.error, re, h);
  }
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(Math.random() * 40);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = Math.floor(Math.random() * 256);
    if (len > 0 && i % 2) b[0] = 0;
    if (len > 1 && i % 4 === 1) b[1] = 128 + (i % 3);
    parseNatPmpResponse(b);
  }
  // A view into a larger buffer parses only its own bytes.
  const big = Buffer.concat([Buffer.from('ffff', 'hex'), hex('externalAddress'), Buffer.from('ffff', 'hex')]);
  const r = parseNatPmpResponse(big.subarray(2, 14));
  assert.ok(r.ok && r.value.op === 'external-address' && r.value.externalIp === '80.16.1.2');
});
