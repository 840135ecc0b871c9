/**
 * The lab's self-test as a test suite: one topology with a site for every
 * behaviour (RFC 4787 NAT kinds, modifiers, gateways, IPv6, link shape), brought
 * up once; each site's checks run as their own test, side by side. Needs root
 * and the lab's tools; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Lab, labCapabilities, labUnavailable } from './lab.js';
import { SELFTEST_SITES, selfTestInternet, selfTestSite, type Check } from './selftest.js';

const skip = await labUnavailable();
if (skip) console.log(`# lab self-test skipped: ${skip}`);
// Sites that need what this machine lacks are left out, with a note (the rest still run).
const caps = labCapabilities();
if (!skip && !caps.gateways) console.log('# lab self-test: miniupnpd not installed, gateway sites left out');
if (!skip && !caps.latency) console.log('# lab self-test: no C compiler for tapdelay, latency left out');
const SITES = SELFTEST_SITES
  .filter((s) => caps.gateways || !s.gateway?.length)
  .map((s) => (caps.latency ? s : { ...s, latencyMs: undefined }));

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
    const cg = l.site('cgnat-full-cone').spec.index;
    const fc = l.site('full-cone').spec.index;
    assert.deepEqual(l.serverAddresses, ['85.10.0.10', '85.10.0.20']);
    assert.equal(l.routerWan('cgnat-full-cone'), `100.64.${cg}.2`);
    assert.equal(l.publicAddress('cgnat-full-cone'), `80.16.${cg}.2`);
    assert.equal(l.hostAddress('full-cone2'), `192.168.${fc}.102`);
    assert.equal(l.gatewayAddress('full-cone'), `192.168.${fc}.1`);
    assert.equal(l.hostAddress('public1'), '90.16.0.101');
    assert.equal(l.hostAddress6('public1'), '2a02:1810::101');
  });
  test('lab API: exec reports output and exit code', async () => {
    const r = await up().exec('symmetric1', 'sh', ['-c', 'ip -4 -o addr show dev eth0; exit 3']);
    assert.equal(r.code, 3);
    assert.match(r.stdout, new RegExp(`${up().hostAddress('symmetric1').replaceAll('.', '\\.')}/24`));
  });
});
