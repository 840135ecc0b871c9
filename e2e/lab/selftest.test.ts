/**
 * The lab's self-test as a test suite: one topology with a site for every
 * behaviour (RFC 4787 NAT kinds, modifiers, gateways, IPv6, link shape), brought
 * up once; each site's checks run as their own test, side by side. Needs root
 * and the lab's tools; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Lab, labUnavailable } from './lab.js';
import { SELFTEST_SITES as SITES, selfTestInternet, selfTestSite, type Check } from './selftest.js';

const skip = await labUnavailable({ gateways: true });
if (skip) console.log(`# lab self-test skipped: ${skip}`);

function assertChecks(checks: Check[]): void {
  assert.ok(checks.length > 0, 'no checks ran');
  const failed = checks.filter((c) => !c.ok);
  assert.deepEqual(failed.map((c) => `${c.site} ${c.name}: ${c.detail}`), []);
}

describe('network lab self-test', { skip: skip ?? false, concurrency: true }, () => {
  let lab: Lab | undefined;
  before(async () => {
    lab = await Lab.up({ sites: SITES });
  });
  after(async () => {
    await lab?.down();
  });
  const up = (): Lab => {
    if (!lab) throw new Error('lab did not come up');
    return lab;
  };

  test('internet: packets with a short TTL die at the internet router', async () => {
    assertChecks(await selfTestInternet(up()));
  });
  for (const site of SITES) {
    test(`${site.name}: behaves as specified`, async () => {
      assertChecks(await selfTestSite(up(), site.name));
    });
  }
  test('lab API: addresses', () => {
    const l = up();
    assert.deepEqual(l.serverAddresses, ['85.10.0.10', '85.10.0.20']);
    assert.equal(l.routerWan('cgnat'), '100.64.6.2');
    assert.equal(l.publicAddress('cgnat'), '80.16.6.2');
    assert.equal(l.hostAddress('full-cone2'), '192.168.1.102');
    assert.equal(l.hostAddress('public1'), '90.16.0.101');
    assert.equal(l.hostAddress6('port-restricted1'), '2a02:1810:3::101');
    assert.equal(l.gatewayAddress('port-restricted'), '192.168.3.1');
  });
  test('lab API: exec reports output and exit code', async () => {
    const r = await up().exec('symmetric1', 'sh', ['-c', 'ip -4 -o addr show dev eth0; exit 3']);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /192\.168\.4\.101\/24/);
  });
});
