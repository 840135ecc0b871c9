/**
 * Hole punching and relaying with the real CLI across real kernel NATs, on a lab
 * path with 25 ms of latency per link (round trips as on the internet):
 * port-restricted ↔ port-restricted and a sequential symmetric NAT connect by UDP
 * punch; a network that drops UDP connects by TCP punch; two random symmetric NATs
 * fail fast with the double-random verdict, and connect through the server relay
 * when the rendezvous relays. Needs root and the lab's tools (skipped otherwise).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Lab, labUnavailable } from './lab.js';
import { startRendezvous, transfer, type Rendezvous } from './transfer.js';

const skip = await labUnavailable();
if (skip) console.log(`# punch lab tests skipped: ${skip}`);

describe('hole punching and relays across the lab', { skip: skip ?? false }, () => {
  let lab: Lab | undefined;
  let plain: Rendezvous | undefined;
  let relaying: Rendezvous | undefined;
  before(async () => {
    lab = await Lab.up({
      sites: [
        { name: 'a', nat: 'port-restricted' },
        { name: 'b', nat: 'port-restricted' },
        { name: 'c', nat: 'symmetric-sequential' },
        { name: 'd', nat: 'symmetric-sequential' },
        { name: 's', nat: 'symmetric' },
        { name: 't', nat: 'symmetric' },
        { name: 'u', nat: 'port-restricted', udpBlocked: true },
      ],
      reflector: false,
      latencyMs: 25,
    });
    plain = await startRendezvous(lab);
    relaying = await startRendezvous(lab, { port: 8443, relay: true, args: ['--no-stun'] });
  });
  after(async () => {
    plain?.stop();
    relaying?.stop();
    await lab?.down();
  });
  const up = (): [Lab, Rendezvous, Rendezvous] => {
    if (!lab || !plain || !relaying) throw new Error('lab did not come up');
    return [lab, plain, relaying];
  };

  test('port-restricted ↔ port-restricted: udp-punch, both directions', async () => {
    const [l, r] = up();
    for (const [from, to] of [['a1', 'b1'], ['b1', 'a1']] as const) {
      const res = await transfer(l, { from, to, rendezvous: r.url, bytes: 2 << 20, timeoutMs: 45_000 });
      assert.equal(res.reason, undefined, `${from}→${to}`);
      assert.equal(res.tier, 'udp-punch', `${from}→${to}`);
      assert.equal(res.sha256Match, true);
    }
  });

  test('symmetric-sequential ↔ port-restricted: udp-punch by measured port reservation, both directions', async () => {
    const [l, r] = up();
    for (const [from, to] of [['c1', 'a1'], ['a1', 'c1']] as const) {
      const res = await transfer(l, { from, to, rendezvous: r.url, bytes: 1 << 20, timeoutMs: 45_000 });
      assert.equal(res.reason, undefined, `${from}→${to}`);
      assert.equal(res.tier, 'udp-punch', `${from}→${to}`);
      assert.equal(res.sha256Match, true);
    }
  });

  test('symmetric-sequential ↔ symmetric-sequential: udp-punch (prediction, reservation, spray)', async () => {
    const [l, r] = up();
    const res = await transfer(l, { from: 'c1', to: 'd1', rendezvous: r.url, bytes: 1 << 20, timeoutMs: 45_000 });
    assert.equal(res.reason, undefined);
    assert.equal(res.tier, 'udp-punch');
    assert.equal(res.sha256Match, true);
  });

  test('symmetric-sequential ↔ symmetric: hopeless, said at once with the double-random verdict', async () => {
    const [l, r] = up();
    const res = await transfer(l, { from: 'c1', to: 's1', rendezvous: r.url, bytes: 1 << 20, timeoutMs: 60_000 });
    assert.equal(res.tier, 'failed');
    assert.match(res.reason ?? '', /DOUBLE_RANDOM/);
    assert.match(res.reason ?? '', /one of them at random/);
  });

  test('UDP blocked on one side: tcp-punch', async () => {
    const [l, r] = up();
    const res = await transfer(l, { from: 'u1', to: 'a1', rendezvous: r.url, bytes: 1 << 20, timeoutMs: 60_000 });
    assert.equal(res.reason, undefined);
    assert.equal(res.tier, 'tcp-punch');
  });

  test('UDP blocked ↔ symmetric-sequential: tcp-punch to the predicted ports, both directions', async () => {
    const [l, r] = up();
    for (const [from, to] of [['u1', 'c1'], ['c1', 'u1']] as const) {
      const res = await transfer(l, { from, to, rendezvous: r.url, bytes: 1 << 20, timeoutMs: 60_000 });
      assert.equal(res.reason, undefined, `${from}→${to}`);
      assert.equal(res.tier, 'tcp-punch', `${from}→${to}`);
    }
  });

  test('symmetric ↔ symmetric: fails with the double-random verdict, and connects through the server relay', async () => {
    const [l, r, relay] = up();
    const failed = await transfer(l, { from: 's1', to: 't1', rendezvous: r.url, bytes: 1 << 20, timeoutMs: 60_000 });
    assert.equal(failed.tier, 'failed');
    assert.match(failed.reason ?? '', /DOUBLE_RANDOM/);
    const relayed = await transfer(l, { from: 's1', to: 't1', rendezvous: relay.url, bytes: 2 << 20, timeoutMs: 60_000 });
    assert.equal(relayed.reason, undefined);
    assert.equal(relayed.tier, 'server-relay');
    assert.equal(relayed.sha256Match, true);
  });
});
