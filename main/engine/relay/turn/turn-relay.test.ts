/**
 * openTurnRelay end to end on 127.0.0.1 with the test TURN server: UDX streams
 * through two relays (UDP and TCP transports) with a hash check; one relay and
 * a peer that sends from its own socket (the learned local address); the
 * forwarder's guards (only the UDX socket's datagrams, a size limit).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { after, before, test } from 'node:test';
import UDX, { type UDXStream } from 'udx-native';
import { UdpSocket } from '../../net/udp-socket.js';
import { TestTurnServer } from './test-turn-server.js';
import { openTurnRelay, type TurnRelay } from './turn-relay.js';

let server: TestTurnServer;
before(async () => {
  server = await new TestTurnServer({ alice: 'pw' }).start();
});
after(async () => {
  await server.stop();
});

const credentials = { username: 'alice', password: 'pw' };
const turn = (transport: 'udp' | 'tcp') => ({ host: '127.0.0.1', port: transport === 'udp' ? server.udpPort : server.tcpPort, transport });

async function pump(from: UDXStream, to: UDXStream, bytes: number): Promise<{ sent: string; got: string; n: number }> {
  const hs = createHash('sha256');
  const hr = createHash('sha256');
  let n = 0;
  to.on('data', (d: Buffer) => { hr.update(d); n += d.length; });
  const ended = new Promise<void>((r) => to.once('end', () => r()));
  for (let sent = 0; sent < bytes; sent += 32 * 1024) {
    const c = randomBytes(Math.min(32 * 1024, bytes - sent));
    hs.update(c);
    if (!from.write(c)) await new Promise((r) => from.once('drain', r));
  }
  from.end();
  await ended;
  return { sent: hs.digest('hex'), got: hr.digest('hex'), n };
}

test('a UDX stream through two TURN relays (UDP and TCP transports): 2 MiB, same hash', async () => {
  const na = new UdpSocket();
  na.bind(0);
  const nb = new UdpSocket(na.udx);
  nb.bind(0);
  let ra: TurnRelay | undefined;
  let rb: TurnRelay | undefined;
  try {
    ra = await openTurnRelay({ server: turn('udp'), credentials, udx: na });
    rb = await openTurnRelay({ server: turn('tcp'), credentials, udx: nb.socket });
    assert.equal(ra.transport, 'udp');
    assert.equal(rb.transport, 'tcp');
    assert.equal(ra.localAddress.host, '127.0.0.1');
    const la = await ra.addPeer(rb.relayedAddress.ip, rb.relayedAddress.port);
    const lb = await rb.addPeer(ra.relayedAddress.ip, ra.relayedAddress.port);
    assert.deepEqual(la, ra.localAddress, 'the first peer gets the first local address');
    assert.deepEqual(ra.peerAt(la.port), rb.relayedAddress);
    const a = na.udx.createStream(1);
    const b = nb.udx.createStream(2);
    a.connect(na.socket, 2, la.port, la.host);
    b.connect(nb.socket, 1, lb.port, lb.host);
    b.resume();
    const r = await pump(a, b, 2 << 20);
    assert.equal(r.n, 2 << 20);
    assert.equal(r.got, r.sent);
    b.end();
    a.destroy();
    b.destroy();
  } finally {
    await ra?.close();
    await rb?.close();
    await na.close();
    await nb.close();
  }
  assert.equal(server.allocations.size, 0, 'both allocations freed');
});

test('one relay; the peer sends from its own socket: a learned local address, accepted by the firewall', async () => {
  const udx = new UDX();
  const rs = udx.createSocket();
  rs.bind(0, '0.0.0.0');
  const ps = udx.createSocket();
  ps.bind(0, '127.0.0.1');
  const relay = await openTurnRelay({ server: turn('udp'), credentials, udx: rs });
  try {
    await relay.permit('127.0.0.1');
    const learned = relay.events.waitFor('peer', (p) => p.learned, 5000);
    const acc: UDXStream = udx.createStream(1, {
      firewall: (socket, port, host) => {
        const peer = relay.peerAt(port);
        if (host !== relay.localAddress.host || peer?.ip !== '127.0.0.1') return true;
        if (!acc.connected) acc.connect(socket, 2, port, host);
        return false;
      },
    });
    const dial = udx.createStream(2);
    dial.connect(ps, 1, relay.relayedAddress.port, relay.relayedAddress.ip);
    acc.resume();
    const r = await pump(dial, acc, 256 * 1024);
    assert.equal(r.got, r.sent);
    const p = await learned;
    assert.equal(p.port, ps.address().port);
    acc.end();
    acc.destroy();
    dial.destroy();
  } finally {
    await relay.close();
    await rs.close();
    await ps.close();
  }
});

test('the forwarder forwards only the UDX socket\'s datagrams, up to maxDatagram', async () => {
  const udx = new UDX();
  const mine = udx.createSocket();
  mine.bind(0, '0.0.0.0');
  const relay = await openTurnRelay({ server: turn('udp'), credentials, udx: mine, maxDatagram: 100 });
  const peer = createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
  const got: string[] = [];
  peer.on('message', (m) => got.push(m.toString()));
  try {
    const local = await relay.addPeer('127.0.0.1', peer.address().port);
    const stranger = createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    stranger.send('from a stranger', local.port, local.host);
    await mine.send(Buffer.from('x'.repeat(101)), local.port, local.host);
    await mine.send(Buffer.from('from udx'), local.port, local.host);
    const deadline = Date.now() + 2000;
    while (!got.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, ['from udx']);
    stranger.close();
  } finally {
    peer.close();
    await relay.close();
    await mine.close();
  }
});
