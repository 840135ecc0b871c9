/**
 * The TURN variant of `server-relay` against a real coturn on loopback (skipped
 * when turnserver is not installed): a 200 MiB transfer starts relayed through
 * coturn — over UDP, then over TCP to the server — while every direct tier is
 * held back and the rendezvous does not relay, a direct path opens, the transfer
 * finishes on `lan` and the saved file's SHA-256 matches.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomFile, sha256File, startNodes } from '../test/harness.js';
import { coturnMissing, startCoturnLoopback, type CoturnLoopback } from './coturn-loopback.js';
import type { TurnConfig } from './turn-tier.js';
import type { ConnectedTier, TierAttempt } from '../../../shared/domain/connection.js';
import type { TransferInfo } from '../../../shared/domain/transfer.js';

const ALL_BUT_RELAY: ConnectedTier[] = ['lan', 'direct', 'reverse', 'udp-punch', 'tcp-punch', 'peer-relay'];
const SIZE = 200 * 1024 * 1024;



const skip = coturnMissing();
if (skip) console.log(`# coturn tests skipped: ${skip}`);

describe('server-relay through a real coturn on loopback', { skip: skip ?? false }, () => {
  let coturn: CoturnLoopback | undefined;
  before(async () => { coturn = await startCoturnLoopback(); });
  after(async () => { await coturn?.stop(); });

  for (const transport of ['udp', 'tcp'] as const) {
    test(`a 200 MiB transfer starts through TURN over ${transport.toUpperCase()}, a direct path opens, it finishes on lan with the hash intact`, { timeout: 240_000 }, async (ctx) => {
      if (!coturn) throw new Error('coturn did not start');
      const turn: TurnConfig = { server: { host: coturn.host, port: coturn.port, transport }, credentials: { username: coturn.username, password: coturn.password } };
      const knobs = () => ({ disabledTiers: new Set(ALL_BUT_RELAY), upgradeIntervalMs: 300 });
      // The rendezvous does not relay: the TURN server is the only relay there is.
      const pair = await startNodes({ alice: { knobs: knobs(), turn }, bob: { knobs: knobs(), turn, autoAccept: () => true }, rendezvous: { relay: false } });
      try {
        const attempts: TierAttempt[] = [];
        for (const node of [pair.alice, pair.bob]) node.on('attempt', (a) => attempts.push(a));
        const tiers: string[] = [];
        pair.alice.on('connection', (c) => { if (c.tier && tiers.at(-1) !== c.tier) tiers.push(c.tier); });

        const invite = await pair.alice.createInvite();
        const [bobSide] = await Promise.all([pair.bob.pairWithCode(invite.code), invite.paired]);
        assert.equal(bobSide.tier, 'server-relay');

        const file = join(pair.root, 'big.bin');
        const sha = await randomFile(file, SIZE);
        const done = new Promise<TransferInfo>((resolve, reject) => pair.bob.transfers.on('transfer', (t) => {
          if (t.state === 'completed') resolve(t);
          if (t.state === 'failed') reject(new Error(`transfer failed: ${t.error?.message}`));
        }));
        const started = new Promise<void>((resolve) => pair.bob.transfers.on('progress', (p) => { if (p.bytesDone > 20 * 1024 * 1024) resolve(); }));
        const t0 = performance.now();
        await pair.alice.sendFiles(pair.bob.peerId, [file]);
        await started;
        const relayedMs = performance.now() - t0;

        // Relayed, and by coturn over the transport asked for (the rendezvous refused to relay).
        assert.equal(pair.alice.session(pair.bob.peerId)?.tier, 'server-relay');
        assert.equal(pair.bob.session(pair.alice.peerId)?.tier, 'server-relay');
        const viaTurn = attempts.filter((a) => a.tier === 'server-relay' && a.state === 'ok');
        assert.ok(viaTurn.length > 0, 'a server-relay attempt connected');
        for (const a of viaTurn) assert.match(a.target ?? '', new RegExp(`^TURN 127\\.0\\.0\\.1:${coturn.port}/${transport}, relayed 127\\.0\\.0\\.1:\\d+`));
        assert.equal(pair.rendezvous.relay, null, 'the rendezvous does not relay');
        const relay = pair.alice.connectionInfo(pair.bob.peerId)?.relay;
        assert.ok(relay, 'relay state on the connection');
        assert.ok(relay.bytes > 0, `relayed ${relay.bytes} bytes`);

        // A direct path opens: the LAN tier is allowed again on both sides.
        for (const node of [pair.alice, pair.bob]) (node.knobs.disabledTiers as Set<ConnectedTier>).delete('lan');
        const t = await done;
        const totalMs = performance.now() - t0;
        ctx.diagnostic(`TURN/${transport}: 20 MiB relayed in ${Math.round(relayedMs)} ms, 200 MiB done in ${Math.round(totalMs)} ms`);

        assert.equal(pair.alice.session(pair.bob.peerId)?.tier, 'lan');
        const relayAt = tiers.indexOf('server-relay');
        assert.ok(relayAt >= 0 && tiers.indexOf('lan', relayAt) > relayAt, `tiers seen: ${tiers.join(' → ')}`);
        // Upgrade attempts that fail while relayed leave the connection as it is (no flicker to failed).
        assert.ok(!tiers.includes('failed'), `tiers seen: ${tiers.join(' → ')}`);
        assert.ok(attempts.some((a) => a.tier === 'lan' && a.state === 'ok'), 'the lan tier connected');
        assert.equal(t.files[0]?.sha256, sha);
        const saved = join(pair.root, 'bob', 'downloads', t.files[0]?.savedPath ?? 'big.bin');
        assert.equal(await sha256File(saved), sha);
      } finally {
        await pair.close();
      }
    });
  }
});
