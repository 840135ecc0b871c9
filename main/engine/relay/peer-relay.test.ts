/**
 * Peer relay on loopback: Carol relays for her owner's devices; Alice and Bob
 * can reach Carol but (forced by a debug knob) not each other, and the server
 * relay is off. They pair through Carol and a file moves through her intact;
 * Carol carries only 0x40 frames (ciphertext of Alice and Bob's own channel).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PosternNode } from '../node.js';
import { startRendezvous } from '../../rendezvous/server.js';
import { tempDir } from '../test/harness.js';
import type { TransferInfo } from '../../../shared/domain/transfer.js';

test('two devices that cannot reach each other pair and transfer through their own third device', async () => {
  const dir = await tempDir();
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0, relay: false });
  const make = (name: string, extra: Partial<ConstructorParameters<typeof PosternNode>[0]> = {}) => new PosternNode({
    dataDir: join(dir.path, name, 'data'), downloadDir: join(dir.path, name, 'downloads'), name, rendezvous: [rv.url], discovery: false, ...extra,
  });
  const carol = make('carol', { peerRelay: true });
  const alice = make('alice');
  const bob = make('bob', { autoAccept: () => true });
  try {
    await Promise.all([carol.start(), alice.start(), bob.start()]);
    for (const node of [alice, bob]) {
      const invite = await carol.createInvite();
      await Promise.all([node.pairWithCode(invite.code), invite.paired]);
    }
    alice.knobs.relayOnlyPeers = new Set([bob.peerId]);
    bob.knobs.relayOnlyPeers = new Set([alice.peerId]);
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
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
    await rv.close();
    await dir.remove();
  }
});
