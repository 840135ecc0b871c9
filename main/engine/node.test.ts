import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNodes } from './test/harness.js';
import { formatInviteCode, generateSecretWords } from './pairing/invite-code.js';

test('two nodes pair with an invite code over a loopback rendezvous and connect on lan', async () => {
  const pair = await startNodes();
  try {
    const { alice, bob } = pair;
    const invite = await alice.createInvite();
    assert.match(invite.code, /^\d+-[a-z]+-[a-z]+-[a-z]+$/);
    const [bobSide, aliceSide] = await Promise.all([bob.pairWithCode(invite.code), invite.paired]);
    assert.equal(bobSide.peerId, alice.peerId);
    assert.equal(aliceSide.peerId, bob.peerId);
    assert.equal(bobSide.tier, 'lan');
    assert.ok(alice.contacts.has(bob.peerId));
    assert.ok(bob.contacts.has(alice.peerId));
    assert.equal(bob.connectionInfo(alice.peerId)?.state, 'connected');
    const attempts = bob.connectionInfo(alice.peerId)?.attempts ?? [];
    assert.deepEqual(attempts.map((a) => `${a.tier}:${a.state}`).slice(0, 2), ['lan:trying', 'lan:ok']);
  } finally {
    await pair.close();
  }
});

test('a wrong code fails pairing on both sides and burns the invite', async () => {
  const pair = await startNodes();
  try {
    const { alice, bob } = pair;
    const invite = await alice.createInvite();
    const [nameplate, ...words] = invite.code.split('-');
    let wrongWords = generateSecretWords();
    while (wrongWords.join() === words.join()) wrongWords = generateSecretWords();
    await assert.rejects(bob.pairWithCode(formatInviteCode(Number(nameplate), wrongWords)), (err: Error & { code?: string }) => err.code === 'WRONG_CODE');
    await assert.rejects(invite.paired, (err: Error & { code?: string }) => err.code === 'WRONG_CODE');
    assert.equal(alice.contacts.has(bob.peerId), false);
    assert.equal(bob.contacts.has(alice.peerId), false);
    await assert.rejects(bob.pairWithCode(invite.code), (err: Error & { code?: string }) => err.code === 'INVITE_NOT_FOUND');
  } finally {
    await pair.close();
  }
});

test('with the TCP tiers disabled, paired nodes connect by UDP punch and a UDX stream', async () => {
  const disabled = { disabledTiers: new Set(['lan', 'direct', 'reverse'] as const) };
  const pair = await startNodes({ alice: { knobs: disabled }, bob: { knobs: disabled } });
  try {
    const { alice, bob } = pair;
    const invite = await alice.createInvite();
    const [bobSide] = await Promise.all([bob.pairWithCode(invite.code), invite.paired]);
    assert.equal(bobSide.tier, 'udp-punch');
    const attempts = (bob.connectionInfo(alice.peerId)?.attempts ?? []).map((a) => `${a.tier}:${a.state}`);
    assert.deepEqual(attempts, ['lan:skipped', 'direct:skipped', 'reverse:skipped', 'udp-punch:trying', 'udp-punch:ok']);
    const session = bob.session(alice.peerId);
    assert.ok(session);
    await new Promise<void>((resolve) => session.onRtt(() => resolve()));
    assert.ok((session.rttMs ?? -1) >= 0);
  } finally {
    await pair.close();
  }
});
