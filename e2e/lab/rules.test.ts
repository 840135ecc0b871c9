/**
 * Unit tests of the lab's pure parts (no root needed): the behaviour text
 * form, spec validation, the address plan, the nftables rulesets each RFC 4787
 * behaviour is made of, and the classifiers the self-test uses.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonical6, hostName, labIdOf, ns, siteAddresses } from './addressing.js';
import { classifyFiltering, classifyMapping, expectations } from './expectations.js';
import { internetRuleset, routerRuleset, type RouterRules } from './nat-rules.js';
import { formatBehaviour, parseBehaviour, validate, type Site } from './spec.js';

const site = (s: Partial<Site> & Pick<Site, 'nat'>): Site => ({ name: 's', hosts: 1, hairpin: true, index: 0, ...s });
const rules = (r: Partial<RouterRules> & Pick<RouterRules, 'nat'>): string => routerRuleset({
  wan4: '80.16.1.2', hairpin: true, udpBlocked: false, tcp443Only: false, mappingTimeoutSec: 120, gateway: [], ...r,
});

describe('behaviour text', () => {
  test('parses NAT kind and modifiers, and formats back', () => {
    const b = parseBehaviour('port-restricted+cgnat+upnp+natpmp+udp-timeout=30+latency=20+no-hairpin');
    assert.deepEqual(b, { nat: 'port-restricted', cgnat: true, gateway: ['upnp', 'natpmp'], udpTimeoutSec: 30, latencyMs: 20, hairpin: false });
    assert.equal(formatBehaviour(b), 'port-restricted+cgnat+no-hairpin+upnp+natpmp+udp-timeout=30+latency=20');
  });
  test('rejects unknown kinds and modifiers with the list of valid ones', () => {
    assert.throws(() => parseBehaviour('cone'), /unknown NAT behaviour "cone".*full-cone/);
    assert.throws(() => parseBehaviour('symmetric+fast'), /unknown modifier "fast"/);
    assert.throws(() => parseBehaviour('symmetric+latency=x'), /needs a number/);
  });
  test('validate fills defaults and refuses impossible sites', () => {
    const [s] = validate({ sites: [{ name: 'a', nat: 'symmetric' }] });
    assert.deepEqual(s, { name: 'a', nat: 'symmetric', hosts: 1, hairpin: true, index: 0 });
    assert.throws(() => validate({ sites: [{ name: 'A', nat: 'symmetric' }] }), /site name/);
    assert.throws(() => validate({ sites: [{ name: 'a', nat: 'public', gateway: ['upnp'] }] }), /public site/);
    assert.throws(() => validate({ sites: [{ name: 'a', nat: 'public', cgnat: true }] }), /cgnat/);
    assert.throws(() => validate({ sites: [{ name: 'a', nat: 'full-cone' }, { name: 'a', nat: 'full-cone' }] }), /taken/);
  });
});

describe('address plan', () => {
  test('sites get their own blocks; public sites get public LANs', () => {
    const a = siteAddresses(3, false);
    assert.equal(a.public4, '80.16.3.2');
    assert.equal(a.homeWan4, '100.64.3.2');
    assert.equal(a.host4(2), '192.168.3.102');
    assert.equal(siteAddresses(3, true).host4(1), '90.16.3.101');
    assert.equal(a.host6(1), '2a02:1810:3::101');
    assert.equal(siteAddresses(0, false).host6(1), '2a02:1810::101', 'RFC 5952 form');
    assert.equal(canonical6('2a02:0:0:0::1'), '2a02::1');
  });
  test('nothing in the plan is 192.0.2.0/24 or another documentation range', () => {
    const all = JSON.stringify([0, 1, 200].map((i) => siteAddresses(i, i === 1)));
    assert.doesNotMatch(all, /192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|2001:db8/);
  });
  test('names carry the prefix and the lab id', () => {
    assert.equal(ns.host('ab12', 'a1'), 'pl-ab12-h-a1');
    assert.equal(labIdOf('pl-ab12-h-a1'), 'ab12');
    assert.equal(labIdOf('plx-ab12'), undefined);
    assert.equal(hostName('a', 2), 'a2');
    assert.equal(hostName('x1', 2), 'x1-2');
  });
});

describe('router rulesets', () => {
  test('port-restricted is plain conntrack NAT: no inbound DNAT from the WAN', () => {
    const r = rules({ nat: 'port-restricted' });
    assert.match(r, /oifname "wan" meta l4proto \{ tcp, udp \} counter snat ip to 80\.16\.1\.2 comment "EIM/);
    assert.doesNotMatch(r, /iifname "wan" ip daddr 80\.16\.1\.2 .*dnat/);
    assert.match(r, /policy drop;\n\s+ct state established,related accept/);
  });
  test('full-cone DNATs any inbound packet that hits a recorded mapping', () => {
    const r = rules({ nat: 'full-cone' });
    assert.match(r, /iifname "wan" ip daddr 80\.16\.1\.2 .*dnat ip to meta l4proto \. th dport map @map_addr/);
    assert.match(r, /update @map_port \{ meta l4proto \. udp sport : ct original proto-src \}/);
  });
  test('restricted-cone admits only remote addresses the mapping sent to', () => {
    const r = rules({ nat: 'restricted-cone' });
    assert.match(r, /meta l4proto \. th dport \. ip saddr @adf_peers counter dnat/);
    assert.match(r, /update @adf_peers \{ meta l4proto \. udp sport \. ip daddr \}/);
  });
  test('symmetric draws random ports; sequential counts up from 20000', () => {
    assert.match(rules({ nat: 'symmetric' }), /snat ip to 80\.16\.1\.2 fully-random/);
    assert.match(rules({ nat: 'symmetric-sequential' }), /snat ip to 80\.16\.1\.2 : numgen inc mod 512 map \{ 0 : 20000, 1 : 20001,/);
  });
  test('public routes without NAT or firewall', () => {
    const r = rules({ nat: 'public' });
    assert.doesNotMatch(r, /snat|dnat/);
    assert.match(r, /iifname "wan" accept comment "public: no firewall"/);
  });
  test('modifiers: hairpin marks and SNATs, no-hairpin drops, udp-blocked, tcp-443-only, one of NAT-PMP/PCP', () => {
    assert.match(rules({ nat: 'full-cone' }), /oifname "lan" meta mark 0x4850 counter snat ip to 80\.16\.1\.2/);
    assert.match(rules({ nat: 'full-cone', hairpin: false }), /iifname "lan" ip daddr 80\.16\.1\.2 counter drop comment "no-hairpin"/);
    assert.match(rules({ nat: 'full-cone', udpBlocked: true }), /policy drop;\n\s+meta l4proto udp counter drop/);
    const t = rules({ nat: 'port-restricted', tcp443Only: true });
    assert.match(t, /iifname "lan" tcp dport 443 accept comment "tcp-443-only"\n\s+iifname "lan" counter drop/);
    assert.doesNotMatch(t, /ct status dnat accept/);
    assert.match(rules({ nat: 'full-cone', gateway: ['natpmp'] }), /udp dport 5351 @th,64,8 2 counter drop/);
    assert.match(rules({ nat: 'full-cone', gateway: ['pcp'] }), /udp dport 5351 @th,64,8 0 counter drop/);
    assert.doesNotMatch(rules({ nat: 'full-cone', gateway: ['natpmp', 'pcp'] }), /5351/);
  });
  test('the internet router drops short TTLs and applies per-link loss', () => {
    const r = internetRuleset({ minTtl: 8, lossPermille: new Map([['s-2', 15]]) });
    assert.match(r, /priority raw;.*\n\s+ip ttl < 8 counter drop/);
    assert.match(r, /iifname "s-2" numgen random mod 1000 < 15 counter drop/);
    assert.match(r, /oifname "s-2" numgen random mod 1000 < 15 counter drop/);
  });
});

describe('expectations and classifiers', () => {
  test('a CGN in front makes filtering address-and-port-dependent and refuses port maps', () => {
    const e = expectations(site({ nat: 'full-cone', cgnat: true, gateway: ['upnp'] }));
    assert.equal(e.mapping, 'endpoint-independent');
    assert.equal(e.filtering, 'address-and-port-dependent');
    assert.equal(e.gateways.upnp, 'refused');
    assert.equal(e.gateways.natpmp, 'unchecked');
  });
  test('udp-blocked and tcp-443-only block UDP; hairpin needs two hosts', () => {
    assert.equal(expectations(site({ nat: 'symmetric', udpBlocked: true })).mapping, 'blocked');
    assert.equal(expectations(site({ nat: 'symmetric', tcp443Only: true })).tcpAnyPort, false);
    assert.equal(expectations(site({ nat: 'symmetric' })).hairpin, 'unchecked');
    assert.equal(expectations(site({ nat: 'symmetric', hosts: 2, hairpin: false })).hairpin, 'blocked');
  });
  test('mapping classifier', () => {
    const m = (...e: (string | null)[]): string => classifyMapping('0.0.0.0:5000', e, '192.168.0.101');
    assert.equal(m('1.2.3.4:5000', '1.2.3.4:5000', '1.2.3.4:5000'), 'endpoint-independent');
    assert.equal(m('1.2.3.4:20000', '1.2.3.4:20001', '1.2.3.4:20002'), 'sequential');
    assert.equal(m('1.2.3.4:31000', '1.2.3.4:20001', '1.2.3.4:4000'), 'address-and-port-dependent');
    assert.equal(m('192.168.0.101:5000', '192.168.0.101:5000', '192.168.0.101:5000'), 'no-nat');
    assert.equal(m(null, null, null), 'blocked');
    assert.equal(m('1.2.3.4:5000', null, '1.2.3.4:5000'), 'inconsistent');
  });
  test('filtering classifier', () => {
    assert.equal(classifyFiltering('x', true, true, true), 'endpoint-independent');
    assert.equal(classifyFiltering('x', true, false, false), 'address-dependent');
    assert.equal(classifyFiltering('x', false, false, false), 'address-and-port-dependent');
    assert.equal(classifyFiltering(null, false, false, false), 'blocked');
    assert.equal(classifyFiltering('x', false, true, false), 'inconsistent');
  });
});
