/**
 * STUN server, client and NAT discovery on loopback (127.0.0.1 with 127.0.0.2
 * as the RFC 5780 alternate address), plus the classification rules on
 * synthetic measurements. The real NAT behaviours are checked in the lab
 * (e2e/lab/nat-discovery.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerBinding, startStunServer, type StunServer } from '../../rendezvous/stun-server.js';
import { startRendezvous } from '../../rendezvous/server.js';
import { encodeBindingRequest, encodeStun, newTransactionId, parseStun, STUN_ATTR } from '../../wire/stun.js';
import { UdpSocket } from '../net/udp-socket.js';
import { classifyAllocation, classifyMapping, describeNat, discoverNat } from './discovery.js';
import { openProbeSocket, StunClient, stunOverTcp, type HostPort, type StunTransport } from './stun-client.js';
import { stunServersFromRendezvous } from './rendezvous-stun.js';

async function withServer(fn: (s: StunServer) => Promise<void>, alt = true): Promise<void> {
  const s = await startStunServer({ host: '127.0.0.1', port: 0, ...(alt ? { altAddress: '127.0.0.2' } : {}) });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

test('server: Binding answer carries XOR-MAPPED, MAPPED, RESPONSE-ORIGIN, OTHER-ADDRESS; CHANGE-REQUEST answers from elsewhere', async () => {
  await withServer(async (s) => {
    assert.ok(s.alternate);
    assert.equal(s.alternate.ip, '127.0.0.2');
    const sock = await openProbeSocket(4, '127.0.0.1');
    const client = new StunClient(sock);
    try {
      const plain = await client.request(s.primary, { timeoutMs: 1000 });
      assert.ok(plain);
      assert.deepEqual(plain.mapped, { ip: '127.0.0.1', port: sock.port });
      assert.deepEqual(plain.message.mappedAddress, { family: 'IPv4', ip: '127.0.0.1', port: sock.port });
      assert.deepEqual(plain.message.responseOrigin, { family: 'IPv4', ...s.primary });
      assert.deepEqual(plain.message.otherAddress, { family: 'IPv4', ...s.alternate });
      assert.equal(plain.message.software, 'postern');
      const both = await client.request(s.primary, { changeIp: true, changePort: true, timeoutMs: 1000 });
      assert.deepEqual(both?.from, s.alternate);
      const port = await client.request(s.primary, { changePort: true, timeoutMs: 1000 });
      assert.deepEqual(port?.from, { ip: '127.0.0.1', port: s.alternate.port });
      const ip = await client.request(s.primary, { changeIp: true, timeoutMs: 1000 });
      assert.deepEqual(ip?.from, { ip: '127.0.0.2', port: s.primary.port });
      // The alternate answers too, naming the primary as its other address.
      const fromAlt = await client.request(s.alternate, { timeoutMs: 1000 });
      assert.deepEqual(fromAlt?.message.otherAddress, { family: 'IPv4', ...s.primary });
    } finally {
      client.close();
      await sock.close();
    }
  });
});

test('server: 420 for unknown comprehension-required attributes and for CHANGE-REQUEST without an alternate; 400 over TCP', () => {
  const src = { ip: '10.0.0.1', port: 1234 };
  const ctx = { transport: 'udp' as const, origin: () => ({ ip: '10.0.0.9', port: 3478 }), other: null };
  const unknown = encodeStun({ cls: 'request', transactionId: newTransactionId(), extra: [{ type: 0x0024, value: Buffer.alloc(4) }] });
  const a = answerBinding(unknown, src, ctx);
  assert.ok(a);
  const m = parseStun(a.bytes);
  assert.equal(m.cls, 'error');
  assert.equal(m.errorCode?.code, 420);
  assert.deepEqual(m.unknownAttributes, [0x0024]);
  const change = answerBinding(encodeBindingRequest(newTransactionId(), { changePort: true }), src, ctx);
  assert.deepEqual(parseStun(change?.bytes ?? Buffer.alloc(0)).unknownAttributes, [STUN_ATTR.CHANGE_REQUEST]);
  const tcp = answerBinding(encodeBindingRequest(newTransactionId(), { changeIp: true }), src, { ...ctx, transport: 'tcp', other: { ip: '10.0.0.8', port: 3479 } });
  assert.equal(parseStun(tcp?.bytes ?? Buffer.alloc(0)).errorCode?.code, 400);
  // Garbage, responses and indications are dropped.
  assert.equal(answerBinding(Buffer.from('hello world, not stun'), src, ctx), null);
  assert.equal(answerBinding(encodeStun({ cls: 'success', transactionId: newTransactionId() }), src, ctx), null);
  assert.equal(answerBinding(encodeStun({ cls: 'indication', transactionId: newTransactionId() }), src, ctx), null);
});

test('server: STUN over TCP', async () => {
  await withServer(async (s) => {
    const r = await stunOverTcp(s.primary, 2000);
    assert.ok(r);
    assert.deepEqual(r.mapped, r.local);
  });
});

test('client: retransmits until answered, and gives up at the deadline', async () => {
  await withServer(async (s) => {
    const sock = await openProbeSocket(4, '127.0.0.1');
    let sends = 0;
    // Drop the first two transmissions.
    const lossy: StunTransport = { handle: (c, h) => sock.handle(c, h), send: (d, p, h) => (++sends <= 2 ? Promise.resolve(true) : sock.send(d, p, h)) };
    const client = new StunClient(lossy);
    try {
      const r = await client.request(s.primary, { rtoMs: 50, timeoutMs: 2000 });
      assert.ok(r);
      assert.equal(r.transmissions, 3);
      const black: StunTransport = { handle: (c, h) => sock.handle(c, h), send: () => Promise.resolve(true) };
      const c2 = new StunClient(black);
      const started = performance.now();
      assert.equal(await c2.request(s.primary, { rtoMs: 20, timeoutMs: 300 }), null);
      assert.ok(performance.now() - started < 600);
      c2.close();
    } finally {
      client.close();
      await sock.close();
    }
  }, false);
});

test('discovery on loopback: no NAT, RFC 5780 server, on the node\'s UdpSocket', async () => {
  await withServer(async (s) => {
    const sock = new UdpSocket();
    sock.bind(0, '127.0.0.1');
    try {
      const d = await discoverNat({ socket: sock, servers: [s.primary], localAddresses: ['127.0.0.1'], openSocket: (f) => openProbeSocket(f, f === 4 ? '127.0.0.1' : '::1') });
      assert.equal(d.udp, 'ok');
      assert.equal(d.publicIp, '127.0.0.1');
      assert.equal(d.publicPort, sock.port);
      assert.equal(d.natted, false);
      assert.equal(d.mapping, 'endpoint-independent');
      assert.equal(d.filtering, 'endpoint-independent');
      assert.equal(d.natType, 'open');
      assert.equal(d.rfc5780, true);
      assert.equal(d.cgnat, false);
      assert.ok(d.ms < 3000, `took ${d.ms} ms`);
    } finally {
      await sock.close();
    }
  });
});

test('discovery: nothing answers → udp-blocked within the budget', async () => {
  const sock = await openProbeSocket(4, '127.0.0.1');
  const silent = await openProbeSocket(4, '127.0.0.1'); // a bound port that never answers
  try {
    const d = await discoverNat({ socket: sock, servers: [{ ip: '127.0.0.1', port: silent.port }], localAddresses: ['127.0.0.1'], budgetMs: 800 });
    assert.equal(d.udp, 'blocked');
    assert.equal(d.natType, 'udp-blocked');
    assert.ok(d.ms < 1000, `took ${d.ms} ms`);
  } finally {
    await sock.close();
    await silent.close();
  }
});

test('discovery: a gateway external address that differs from the public one means CGNAT', async () => {
  await withServer(async (s) => {
    const sock = await openProbeSocket(4, '127.0.0.1');
    try {
      const d = await discoverNat({ socket: sock, servers: [s.primary], localAddresses: ['127.0.0.1'], gatewayExternalIp: '100.64.3.2', budgetMs: 1500, filteringWindowMs: 300 });
      assert.equal(d.cgnat, true);
      assert.match(d.cgnatReason ?? '', /100\.64\.3\.2/);
      assert.match(d.plain, /carrier-grade/);
    } finally {
      await sock.close();
    }
  });
});

test('rendezvous announces its STUN server in registered; nodes find it without configuration', async () => {
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0, altAddress: '127.0.0.2' });
  try {
    assert.ok(rv.stun);
    const found = await stunServersFromRendezvous(rv.url);
    assert.deepEqual(found.stun, [rv.stun.primary]);
    assert.equal(found.observed?.ip, '127.0.0.1');
  } finally {
    await rv.close();
  }
  const off = await startRendezvous({ host: '127.0.0.1', port: 0, stunPort: null });
  try {
    assert.equal(off.stun, null);
    assert.deepEqual((await stunServersFromRendezvous(off.url)).stun, []);
  } finally {
    await off.close();
  }
});

const ep = (port: number, ip = '80.16.0.2'): HostPort => ({ ip, port });

test('classification: mapping (RFC 5780 tests II and III) and allocation', () => {
  assert.equal(classifyMapping([ep(5000), ep(5000), ep(5000), ep(5000)], true), 'endpoint-independent');
  assert.equal(classifyMapping([ep(5000), ep(5000), ep(6000), ep(6000)], true), 'address-dependent');
  assert.equal(classifyMapping([ep(5000), ep(5001), ep(5002), ep(5003)], true), 'address-and-port-dependent');
  assert.equal(classifyMapping([null, null, null, null], true), 'unknown');
  assert.equal(classifyMapping([ep(1), ep(1)], false), 'endpoint-independent');
  assert.equal(classifyMapping([ep(1), ep(2)], false), 'address-and-port-dependent');
  assert.deepEqual(classifyAllocation('address-and-port-dependent', false, [ep(5000), ep(5001), ep(5002), ep(5003)]), { allocation: 'sequential', portDelta: 1, probePorts: [5000, 5001, 5002, 5003] });
  assert.equal(classifyAllocation('address-and-port-dependent', false, [ep(5000), null, ep(5004), ep(5006)]).portDelta, 2);
  assert.equal(classifyAllocation('address-and-port-dependent', false, [ep(40000), ep(1234), ep(61000), ep(5003)]).allocation, 'random');
  assert.equal(classifyAllocation('endpoint-independent', true, [ep(5000)]).allocation, 'preserving');
});

test('classification: NAT type names and plain words', () => {
  const base = { udp: 'ok' as const, natted: true, allocation: 'preserving' as const, cgnat: false };
  assert.equal(describeNat({ ...base, mapping: 'endpoint-independent', filtering: 'endpoint-independent' }).natType, 'full-cone');
  assert.equal(describeNat({ ...base, mapping: 'endpoint-independent', filtering: 'address-dependent' }).natType, 'restricted-cone');
  const pr = describeNat({ ...base, mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' });
  assert.equal(pr.natType, 'port-restricted');
  assert.match(pr.rfc, /endpoint-independent mapping, address-and-port-dependent filtering \(RFC 4787\)/);
  assert.equal(describeNat({ ...base, mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', allocation: 'random' }).natType, 'symmetric');
  assert.equal(describeNat({ ...base, mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', allocation: 'sequential', portDelta: 1 }).natType, 'symmetric-sequential');
  assert.equal(describeNat({ ...base, natted: false, mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' }).natType, 'firewalled');
  assert.equal(describeNat({ ...base, udp: 'blocked', natted: null, mapping: 'unknown', filtering: 'unknown' }).natType, 'udp-blocked');
});
