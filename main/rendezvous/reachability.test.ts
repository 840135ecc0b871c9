/**
 * The rendezvous's reachability check on loopback: a node asks, the server dials
 * its TCP port and probes its UDP port from its second address (127.0.0.2),
 * and reports reachable / closed / no-answer; only the requester's own observed
 * address is checked; checks are rate-limited. Filtered ports (a router that
 * drops) are checked in the lab: e2e/lab/portmap.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import WebSocket from 'ws';
import { startRendezvous, type RendezvousServer } from './server.js';
import { checkUdp } from './reachability.js';
import { RendezvousClient } from '../engine/signaling/rendezvous-client.js';
import { generateIdentity } from '../engine/identity/identity.js';
import { encodeMessage, reachProbeAnswer, encodeReachProbe, isReachAnswer, REGISTER_CONTEXT, SIGNALING_VERSION } from '../wire/signaling.js';
import { sign } from '../engine/identity/identity.js';

let rv: RendezvousServer;
let client: RendezvousClient;
let tcp: Server;
let udp: Socket;
let silentUdp: Socket;
const tcpFrom: string[] = [];
const identity = generateIdentity();

before(async () => {
  rv = await startRendezvous({ host: '127.0.0.1', port: 0, stunPort: null, checkFromAddress: '127.0.0.2', reachability: { perClientPerMinute: 5, tcpTimeoutMs: 1000, udpTimeoutMs: 1200 } });
  client = new RendezvousClient({ url: rv.url, identity, name: 'reach', endpoint: { tcpPort: null, candidates: [] } });
  await client.start();
  tcp = createServer((s) => { tcpFrom.push(s.remoteAddress ?? ''); s.destroy(); });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  udp = createSocket('udp4');
  udp.on('message', (m, r) => { const a = reachProbeAnswer(m); if (a) udp.send(a, r.port, r.address); });
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  silentUdp = createSocket('udp4');
  await new Promise<void>((r) => silentUdp.bind(0, '127.0.0.1', r));
});

after(async () => {
  client.close();
  tcp.close();
  udp.close();
  silentUdp.close();
  await rv.close();
});

const tcpPort = () => (tcp.address() as { port: number }).port;

test('probe format: answer only to a probe, same size, token echoed', () => {
  const token = Buffer.alloc(16, 7);
  const probe = encodeReachProbe(token);
  assert.equal(probe.length, 20);
  const answer = reachProbeAnswer(probe);
  assert.ok(answer);
  assert.equal(answer.length, 20);
  assert.ok(isReachAnswer(answer, token));
  assert.equal(isReachAnswer(answer, Buffer.alloc(16, 8)), false);
  assert.equal(reachProbeAnswer(answer), null, 'an answer is not answered');
  assert.equal(reachProbeAnswer(Buffer.alloc(20)), null);
  assert.equal(reachProbeAnswer(Buffer.concat([probe, Buffer.alloc(1)])), null);
});

test('open TCP and UDP ports are reachable, checked from the second address', async () => {
  const r = await client.checkReachability({ tcpPort: tcpPort(), udpPort: udp.address().port });
  assert.equal(r.observedIp, '127.0.0.1');
  assert.equal(r.tcp, 'reachable');
  assert.equal(r.udp, 'reachable');
  assert.equal(r.from, '127.0.0.2');
  assert.ok(tcpFrom.includes('127.0.0.2'), 'the dial-back came from the other address');
});

test('closed ports: TCP RST and ICMP port unreachable', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const closedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const r = await client.checkReachability({ tcpPort: closedPort, udpPort: closedPort });
  assert.equal(r.tcp, 'closed');
  assert.equal(r.udp, 'closed');
  assert.match(r.tcpDetail ?? '', /RST/);
});

test('a UDP port that does not answer: no-answer', async () => {
  const r = await client.checkReachability({ udpPort: silentUdp.address().port });
  assert.equal(r.udp, 'no-answer');
  assert.equal(r.tcp, undefined);
});

test('only the requester\'s own address is checked; extra fields are ignored', async () => {
  const ws = new WebSocket(rv.url);
  const msgs: Record<string, unknown>[] = [];
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as Record<string, unknown>;
    msgs.push(m);
    if (m.t === 'challenge') {
      const other = generateIdentity();
      const sig = sign(other, Buffer.concat([Buffer.from(REGISTER_CONTEXT), Buffer.from(String(m.nonce), 'hex')]));
      ws.send(encodeMessage({ t: 'register', v: SIGNALING_VERSION, publicKey: other.publicKey.toString('hex'), sig: sig.toString('hex'), name: 'x', endpoint: { tcpPort: null, candidates: [] } }));
    }
    if (m.t === 'registered') ws.send(JSON.stringify({ t: 'reach-check', id: 'r1', tcpPort: tcpPort(), ip: '10.1.2.3', observedIp: '10.1.2.3' }));
  });
  const deadline = Date.now() + 5000;
  while (!msgs.some((m) => m.t === 'reach-result') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  ws.close();
  const res = msgs.find((m) => m.t === 'reach-result');
  assert.equal(res?.observedIp, '127.0.0.1');
  assert.equal(res?.tcp, 'reachable');
});

test('rate limit: a client gets a clear error past its checks per minute', async () => {
  let err: unknown;
  for (let i = 0; i < 6 && !err; i++) {
    try {
      await client.checkReachability({ tcpPort: tcpPort() });
    } catch (e) {
      err = e;
    }
  }
  assert.equal((err as { code?: string }).code, 'RATE_LIMITED');
  assert.match((err as Error).message, /wait a minute/);
});

test('checkUdp by itself: only the right token counts as an answer', async () => {
  const liar = createSocket('udp4');
  liar.on('message', (m, r) => liar.send(Buffer.concat([Buffer.from('PRCA'), Buffer.alloc(16)]), r.port, r.address));
  await new Promise<void>((r) => liar.bind(0, '127.0.0.1', r));
  const r = await checkUdp('127.0.0.1', liar.address().port, undefined, 800);
  liar.close();
  assert.equal(r.state, 'no-answer');
});
