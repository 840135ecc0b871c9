/**
 * Peer relay on loopback: Carol relays for her owner's devices; Alice and Bob
 * can reach Carol but (forced by a debug knob) not each other, and the server
 * relay is off. They pair through Carol and a file moves through her intact;
 * Carol carries only 0x40 frames (ciphertext of Alice and Bob's own channel).
 * A 200 MiB transfer through Carol moves to lan when a direct path opens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PosternNode } from '../node.js';
import { startRendezvous } from '../../rendezvous/server.js';
import { randomFile, sha256File, tempDir } from '../test/harness.js';
import type { TransferInfo } from '../../../shared/domain/transfer.js';



/** Carol relays; Alice and Bob are each paired with her and reach each other only through relays. */
async function threeDevices(knobs: Partial<ConstructorParameters<typeof PosternNode>[0]['knobs']> = {}) {
  const dir = await tempDir();
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0, relay: false });
  const make = (name: string, extra: Partial<ConstructorParameters<typeof PosternNode>[0]> = {}) => new PosternNode({
    dataDir: join(dir.path, name, 'data'), downloadDir: join(dir.path, name, 'downloads'), name, rendezvous: [rv.url], discovery: false,
    knobs: { disabledTiers: new Set(), ...knobs }, ...(process.env.DBG ? { log: (l: string) => console.error(name, l) } : {}), ...extra,
  });
  const carol = make('carol', { peerRelay: true });
  const alice = make('alice');
  const bob = make('bob', { autoAccept: () => true });
  const close = async () => {
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
    await rv.close();
    await dir.remove();
  };
  await Promise.all([carol.start(), alice.start(), bob.start()]);
  for (const node of [alice, bob]) {
    const invite = await carol.createInvite();
    await Promise.all([node.pairWithCode(invite.code), invite.paired]);
  }
  alice.knobs.relayOnlyPeers = new Set([bob.peerId]);
  bob.knobs.relayOnlyPeers = new Set([alice.peerId]);
  return { dir, carol, alice, bob, close };
}

test('two devices that cannot reach each other pair and transfer through their own third device', async () => {
  const { dir, carol, alice, bob, close } = await threeDevices();
  try {
    const invite = await alice.createInvite();
    const [bobSide] = await Promise.all([bob.pairWithCode(invite.code), invite.paired]);
    assert.equal(bobSide.tier, 'peer-relay');
    const attempts = (bob.connectionInfo(alice.peerId)?.attempts ?? []).map((a) => `${a.tier}:${a.state}`);
    assert.ok(attempts.includes('peer-relay:ok'), attempts.join(' '));

    const file = join(dir.path, 'note.bin');
    const payload = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(file, payload);
    const done = new Promise<TransferInfo>((resolve) => bob.transfers.on('transfer', (t) => { if (t.state === 'completed') resolve(t); }));
    await alice.sendFiles(bob.peerId, [file]);
    const t = await done;
    const saved = await readFile(join(dir.path, 'bob', 'downloads', t.files[0]?.savedPath ?? 'note.bin'));
    assert.equal(createHash('sha256').update(saved).digest('hex'), createHash('sha256').update(payload).digest('hex'));
    const stats = carol.peerRelayHost?.stats;
    assert.ok((stats?.bytesRelayed ?? 0) > payload.length, `carol relayed ${stats?.bytesRelayed} bytes`);
    assert.equal(alice.session(bob.peerId)?.tier, 'peer-relay');
  } finally {
    await close();
  }
});

test('a 200 MiB transfer through a peer relay moves to a direct path the moment one opens, with the hash intact', async () => {
  const { dir, alice, bob, close } = await threeDevices({ upgradeIntervalMs: 300 });
  try {
    const invite = await alice.createInvite();
    await Promise.all([bob.pairWithCode(invite.code), invite.paired]);
    const file = join(dir.path, 'movie.bin');
    const sha = await randomFile(file, 200 * 1024 * 1024);
    // The tiers the connection goes through, from the one it is on now.
    const tiers: string[] = [alice.connectionInfo(bob.peerId)?.tier ?? 'none'];
    alice.on('connection', (c) => { if (c.tier && tiers.at(-1) !== c.tier) tiers.push(c.tier); });
    const done = new Promise<TransferInfo>((resolve, reject) => bob.transfers.on('transfer', (t) => {
      if (t.state === 'completed') resolve(t);
      if (t.state === 'failed') reject(new Error(`transfer failed: ${t.error?.message}`));
    }));
    if (process.env.DBG) {
      bob.transfers.on('transfer', (t) => console.error('bob transfer', t.id.slice(0, 6), t.state, t.bytesDone, t.error?.message));
      alice.transfers.on('transfer', (t) => console.error('alice transfer', t.id.slice(0, 6), t.state, t.bytesDone, t.error?.message));
    }
    const started = new Promise<void>((resolve) => bob.transfers.on('progress', (p) => { if (p.bytesDone > 20 * 1024 * 1024) resolve(); }));
    await alice.sendFiles(bob.peerId, [file]);
    await started;
    assert.equal(alice.session(bob.peerId)?.tier, 'peer-relay');
    // The direct path opens.
    alice.knobs.relayOnlyPeers = new Set();
    bob.knobs.relayOnlyPeers = new Set();
    const t = await done;
    assert.equal(alice.session(bob.peerId)?.tier, 'lan');
    const relayAt = tiers.indexOf('peer-relay');
    assert.ok(relayAt >= 0 && tiers.indexOf('lan', relayAt) > relayAt, `tiers seen: ${tiers.join(' → ')}`);
    assert.ok(!tiers.includes('failed'), `tiers seen: ${tiers.join(' → ')}`);
    assert.equal(t.files[0]?.sha256, sha);
    assert.equal(await sha256File(join(dir.path, 'bob', 'downloads', t.files[0]?.savedPath ?? 'movie.bin')), sha);
  } finally {
    await close();
  }
});
