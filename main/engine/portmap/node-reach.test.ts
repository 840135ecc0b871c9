/**
 * The node answers the rendezvous's reachability check on its own sockets:
 * the TCP listener takes the dial-back, the UDX socket answers the UDP probe
 * (integrate.ts answerReachProbes). Loopback; the lab checks it through NATs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNodes } from '../test/harness.js';

test('a node\'s TCP listener and UDP socket are reachable to the rendezvous\'s check', async () => {
  const pair = await startNodes();
  try {
    const { alice } = pair;
    assert.ok(alice.rendezvous && alice.udp);
    assert.equal(alice.portMapper, null, 'no port mapping with a loopback rendezvous');
    const r = await alice.rendezvous.checkReachability({ tcpPort: alice.listenPort, udpPort: alice.udp.port });
    assert.equal(r.tcp, 'reachable');
    assert.equal(r.udp, 'reachable');
    assert.equal(r.observedIp, '127.0.0.1');
  } finally {
    await pair.close();
  }
});
