/**
 * Server relay on loopback: relayed connections, the relay's view (ciphertext
 * only, bounded), refusals, and a transfer that starts relayed and finishes on a
 * direct tier once one opens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { randomFile, startNodes } from '../test/harness.js';
import type { ConnectedTier } from '../../../shared/domain/connection.js';
import type { TransferInfo } from '../../../shared/domain/transfer.js';

const ALL_BUT_RELAY: ConnectedTier[] = ['lan', 'direct', 'reverse', 'udp-punch', 'tcp-punch'];


test('with every direct tier off, paired nodes connect through the server relay', async () => {
  const knobs = { disabledTiers: new Set(ALL_BUT_RELAY) };
  const pair = await startNodes({ alice: { knobs }, bob: { knobs } });
  try {
    const invite = await pair.alice.createInvite();
    const [bobSide] = await Promise.all([pair.bob.pairWithCode(invite.code), invite.paired]);
    assert.equal(bobSide.tier, 'server-relay');
    assert.equal(pair.rendezvous.relay?.openCircuits, 1);
    const session = pair.bob.session(pair.alice.peerId);
    assert.ok(session);
    await new Promise<void>((resolve) => session.onRtt(() => resolve()));
    assert.ok((pair.rendezvous.relay?.stats.bytesRelayed ?? 0) > 0);
    // Transparency: why it is relayed, the relay's limits, what it carried.
    const relay = pair.bob.connectionInfo(pair.alice.peerId)?.relay;
    assert.ok(relay, 'relay state on the connection');
    assert.match(relay.reason, /disabled by setting|no direct way/);
    assert.equal(relay.limits?.maxBytesPerSec, pair.rendezvous.relay?.limits.maxBytesPerSec);
    assert.ok(relay.bytes > 0);
  } finally {
    await pair.close();
  }
});

test('the relay refuses unknown circuits and wrong tokens', async () => {
  const pair = await startNodes();
  try {
    const url = pair.rendezvous.url.replace(/\/?$/, '/relay/' + 'ab'.repeat(16) + '?token=' + '00'.repeat(32));
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    assert.equal(status, 403);
    assert.equal(pair.rendezvous.relay?.stats.refused.RELAY_UNAUTHORIZED, 1);
  } finally {
    await pair.close();
  }
});

test('a 200 MiB transfer starts on the server relay, a direct path opens, it finishes on lan with the hash intact', async () => {
  const alice = { knobs: { disabledTiers: new Set(ALL_BUT_RELAY), upgradeIntervalMs: 300 } };
  const bob = { knobs: { disabledTiers: new Set(ALL_BUT_RELAY), upgradeIntervalMs: 300 }, autoAccept: () => true };
  const pair = await startNodes({ alice, bob });
  try {
    const invite = await pair.alice.createInvite();
    await Promise.all([pair.bob.pairWithCode(invite.code), invite.paired]);
    const file = join(pair.root, 'big.bin');
    const sha = await randomFile(file, 200 * 1024 * 1024);
    const tiers: string[] = [];
    pair.alice.on('connection', (c) => { if (c.tier && tiers.at(-1) !== c.tier) tiers.push(c.tier); });
    const done = new Promise<TransferInfo>((resolve) => pair.bob.transfers.on('transfer', (t) => { if (t.state === 'completed') resolve(t); }));
    if (process.env.DBG) {
      pair.bob.transfers.on('transfer', (t) => console.error('bob transfer', t.state, t.bytesDone, t.error?.message));
      pair.alice.transfers.on('transfer', (t) => console.error('alice transfer', t.state, t.bytesDone, t.error?.message));
    }
    const started = new Promise<void>((resolve) => pair.bob.transfers.on('progress', (p) => { if (p.bytesDone > 20 * 1024 * 1024) resolve(); }));
    await pair.alice.sendFiles(pair.bob.peerId, [file]);
    await started;
    assert.equal(pair.alice.session(pair.bob.peerId)?.tier, 'server-relay');
    // A direct path opens: the LAN tier is allowed again on both sides.
    for (const node of [pair.alice, pair.bob]) (node.knobs.disabledTiers as Set<ConnectedTier>).delete('lan');
    const t = await done;
    assert.equal(pair.alice.session(pair.bob.peerId)?.tier, 'lan');
    assert.ok(tiers.includes('lan'), `tiers seen: ${tiers.join(' → ')}`);
    // Upgrade attempts that fail while relayed leave the connection as it is (no flicker to failed).
    assert.ok(!tiers.includes('failed'), `tiers seen: ${tiers.join(' → ')}`);
    assert.equal(t.files[0]?.sha256, sha);
    const saved = join(pair.root, 'bob', 'downloads', t.files[0]?.savedPath ?? 'big.bin');
    assert.equal(createHash('sha256').update(await readFile(saved)).digest('hex'), sha);
  } finally {
    await pair.close();
  }
});
