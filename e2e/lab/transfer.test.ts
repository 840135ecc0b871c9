/**
 * The transfer helper end to end across real NATs, with fake-postern.ts
 * standing in for the CLI (same JSON-lines contract, server-relay only): a
 * done transfer in both directions with the file checked, an error event's
 * reason, and a timeout. Needs root and the lab's tools.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Lab, labUnavailable } from './lab.js';
import { startRendezvous, transfer, type Rendezvous } from './transfer.js';

const FAKE = [process.execPath, '--import', 'tsx', fileURLToPath(new URL('./fake-postern.ts', import.meta.url))];
const skip = await labUnavailable();
if (skip) console.log(`# lab transfer tests skipped: ${skip}`);

describe('lab transfer helper (fake postern)', { skip: skip ?? false }, () => {
  let lab: Lab | undefined;
  let rv: Rendezvous | undefined;
  before(async () => {
    lab = await Lab.up({
      sites: [
        { name: 'a', nat: 'port-restricted' },
        { name: 'b', nat: 'symmetric' },
        { name: 'c', nat: 'port-restricted', tcp443Only: true },
      ],
      reflector: false,
    });
    rv = await startRendezvous(lab, { cli: FAKE });
  });
  after(async () => {
    rv?.stop();
    await lab?.down();
  });
  const up = (): [Lab, Rendezvous] => {
    if (!lab || !rv) throw new Error('lab did not come up');
    return [lab, rv];
  };

  test('a done transfer both ways: tier, timings, throughput, file checked', async () => {
    const [l, r] = up();
    for (const [from, to] of [['a1', 'b1'], ['b1', 'a1']] as const) {
      const res = await transfer(l, { from, to, rendezvous: r.url, bytes: 2 << 20, cli: FAKE, timeoutMs: 30_000 });
      assert.equal(res.reason, undefined);
      assert.equal(res.ok, true);
      assert.equal(res.tier, 'server-relay');
      assert.equal(res.bytes, 2 << 20);
      assert.equal(res.sha256Match, true);
      assert.ok((res.bytesPerSec ?? 0) > 0);
      assert.equal(res.send.events[0]?.event, 'code');
    }
  });

  test('an error event becomes the reason', async () => {
    const [l, r] = up();
    const res = await transfer(l, { from: 'a1', to: 'b1', rendezvous: r.url, cli: FAKE, bytes: 1024,
      timeoutMs: 20_000, env: { FAKE_POSTERN_FAIL: '1' } });
    assert.equal(res.tier, 'failed');
    assert.equal(res.reason, 'send: E_FAKE: asked to fail');
  });

  test('a transfer that cannot connect ends as a timeout', async () => {
    const [l] = up();
    // tcp-443-only cannot reach a rendezvous on another port: the fake CLI hangs connecting.
    const blocked = await startRendezvous(l, { cli: FAKE, port: 8080 });
    try {
      const res = await transfer(l, { from: 'c1', to: 'a1', rendezvous: blocked.url, cli: FAKE, bytes: 1024, timeoutMs: 3000 });
      assert.equal(res.tier, 'failed');
      assert.equal(res.reason, 'timeout');
    } finally {
      blocked.stop();
    }
  });
});
