/**
 * The real postern CLI across the lab's real NATs: two hosts on one bridged LAN
 * connect on `lan` (no server needed to find each other: LAN discovery), a
 * public host and one behind NAT connect on `direct` one way and `reverse` the
 * other. Needs root and the lab's tools (skipped otherwise).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Lab, labUnavailable, REPO_ROOT } from './lab.js';
import { startRendezvous, transfer, type Rendezvous } from './transfer.js';
import { join } from 'node:path';

const skip = await labUnavailable();
if (skip) console.log(`# postern lab tests skipped: ${skip}`);

describe('postern across the lab', { skip: skip ?? false }, () => {
  let lab: Lab | undefined;
  let rv: Rendezvous | undefined;
  before(async () => {
    lab = await Lab.up({
      sites: [
        { name: 'a', nat: 'port-restricted', hosts: 2, hairpin: false },
        { name: 'p', nat: 'public' },
      ],
      reflector: false,
    });
    rv = await startRendezvous(lab);
  });
  after(async () => {
    rv?.stop();
    await lab?.down();
  });
  const up = (): [Lab, Rendezvous] => {
    if (!lab || !rv) throw new Error('lab did not come up');
    return [lab, rv];
  };

  test('two hosts behind the same NAT (no hairpinning) connect on lan', async () => {
    const [l, r] = up();
    const res = await transfer(l, { from: 'a1', to: 'a2', rendezvous: r.url, bytes: 4 << 20, timeoutMs: 45_000 });
    assert.equal(res.reason, undefined);
    assert.equal(res.tier, 'lan');
    assert.equal(res.sha256Match, true);
  });

  test('a public host and a host behind NAT: direct one way, reverse the other', async () => {
    const [l, r] = up();
    const toPublic = await transfer(l, { from: 'p1', to: 'a1', rendezvous: r.url, bytes: 1 << 20, timeoutMs: 45_000 });
    assert.equal(toPublic.reason, undefined);
    // The receiver (a1, behind NAT) dials the sender (p1, public) directly.
    assert.equal(toPublic.tier, 'direct');
    const fromPublic = await transfer(l, { from: 'a1', to: 'p1', rendezvous: r.url, bytes: 1 << 20, timeoutMs: 45_000 });
    assert.equal(fromPublic.reason, undefined);
    // p1 cannot dial a1 behind its NAT: it asks a1 to dial back.
    assert.equal(fromPublic.tier, 'reverse');
    assert.equal(fromPublic.sha256Match, true);
  });

  test('nearby devices find each other on the LAN by multicast, without a server', async () => {
    const [l] = up();
    const script = join(REPO_ROOT, 'e2e', 'lab', 'fixtures', 'nearby.ts');
    const a = l.spawn('a1', process.execPath, ['--import', 'tsx', script, 'alpha']);
    const b = l.spawn('a2', process.execPath, ['--import', 'tsx', script, 'beta']);
    const saw = (child: typeof a, name: string) => new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((x) => x.includes(`"name":"${name}"`));
        if (line) resolve(line);
      });
      child.once('exit', (code) => reject(new Error(`nearby script exited ${code}: ${out}`)));
    });
    try {
      const [aSaw, bSaw] = await Promise.all([saw(a, 'beta'), saw(b, 'alpha')]);
      assert.equal(JSON.parse(aSaw).ip, l.hostAddress('a2'));
      assert.equal(JSON.parse(bSaw).ip, l.hostAddress('a1'));
    } finally {
      a.kill();
      b.kill();
    }
  });
});
