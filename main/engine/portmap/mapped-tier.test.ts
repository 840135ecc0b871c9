/**
 * The mapped tiers (main/engine/ladder/mapped-tier.ts) and what the node
 * advertises (integrate.ts): which candidates are dialed as upnp/natpmp/pcp,
 * `direct` leaving the mapped endpoint to them, the ladder order, and the
 * double-NAT verdicts. Dialing through a real gateway is in the lab
 * (e2e/lab/portmap.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerInfo } from '../../wire/signaling.js';
import { directTierBesideMapped, mappedCandidates, mappedTier, withMappedTiers } from '../ladder/mapped-tier.js';
import { FIRST_TIERS, DEFAULT_KNOBS, type DialContext } from '../ladder/tiers.js';
import { mappedEndpointCandidates, mappingDescription, portMappingWanted } from './integrate.js';
import type { MappingInfo, PortMapState } from './port-mapper.js';

const peer = (candidates: PeerInfo['endpoint']['candidates'], tcpPort = 41000, observed = '80.16.0.2'): PeerInfo => ({
  peerId: 'a'.repeat(52), name: 'b', endpoint: { tcpPort, candidates }, observed: { ip: observed, port: 5555 },
});
const ctx = (target: PeerInfo) => ({ target, knobs: { ...DEFAULT_KNOBS, disabledTiers: new Set() } }) as unknown as DialContext;

test('mapped candidates: TCP, public, by via, deduplicated', () => {
  const t = peer([
    { kind: 'host', proto: 'tcp', ip: '192.168.0.101', port: 41000 },
    { kind: 'mapped', proto: 'tcp', ip: '80.16.0.2', port: 41000, via: 'upnp' },
    { kind: 'mapped', proto: 'tcp', ip: '80.16.0.2', port: 41000, via: 'upnp' },
    { kind: 'mapped', proto: 'udp', ip: '80.16.0.2', port: 41000, via: 'upnp' },
    { kind: 'mapped', proto: 'tcp', ip: '100.64.1.2', port: 41000, via: 'pcp' },
    { kind: 'mapped', proto: 'tcp', ip: '10.0.0.2', port: 41000, via: 'natpmp' },
    { kind: 'mapped', proto: 'tcp', ip: '85.1.1.1', port: 1, via: 'manual' },
  ]);
  assert.deepEqual(mappedCandidates(t), [{ ip: '80.16.0.2', port: 41000, via: 'upnp' }]);
  assert.equal(mappedTier('upnp').skipReason(ctx(t)), null);
  assert.match(mappedTier('pcp').skipReason(ctx(t)) ?? '', /no PCP port mapping/);
  const off = ctx(t);
  off.knobs = { ...off.knobs, disabledTiers: new Set(['upnp']) };
  assert.equal(mappedTier('upnp').skipReason(off), 'disabled by setting');
});

test('direct leaves the mapped endpoint to the mapped tier', () => {
  const same = peer([{ kind: 'mapped', proto: 'tcp', ip: '80.16.0.2', port: 41000, via: 'natpmp' }]);
  assert.match(directTierBesideMapped.skipReason(ctx(same)) ?? '', /open through its gateway's port mapping \(tried as natpmp\)/);
  const moved = peer([{ kind: 'mapped', proto: 'tcp', ip: '80.16.0.2', port: 51000, via: 'natpmp' }]);
  assert.equal(directTierBesideMapped.skipReason(ctx(moved)), null, 'observed:tcpPort is still worth a direct try');
  const none = peer([], 41000, '192.168.0.5');
  assert.match(directTierBesideMapped.skipReason(ctx(none)) ?? '', /no public address/);
});

test('ladder order: lan, direct, mapped tiers, reverse; only tiers with candidates when the target is given', () => {
  assert.deepEqual(withMappedTiers(FIRST_TIERS).map((t) => t.tier), ['lan', 'direct', 'upnp', 'natpmp', 'pcp', 'reverse']);
  const t = peer([{ kind: 'mapped', proto: 'tcp', ip: '80.16.0.2', port: 41000, via: 'pcp' }]);
  assert.deepEqual(withMappedTiers(FIRST_TIERS, t).map((x) => x.tier), ['lan', 'direct', 'pcp', 'reverse']);
  assert.deepEqual(withMappedTiers(FIRST_TIERS, peer([])).map((x) => x.tier), ['lan', 'direct', 'reverse']);
  const twice = withMappedTiers(withMappedTiers(FIRST_TIERS));
  assert.equal(twice.filter((x) => x.tier === 'upnp').length, 1);
});

const mapping = (over: Partial<MappingInfo> = {}): MappingInfo => ({
  protocol: 'upnp', proto: 'tcp', internalPort: 41000, internalClient: '192.168.0.101', externalIp: '80.16.0.2', externalPort: 41000,
  leaseSec: 7200, permanent: false, createdAt: 0, lastRenewedAt: 0, expiresAt: 7_200_000, nextRenewalAt: 3_600_000, lastError: null, ...over,
});
const state = (mappings: MappingInfo[], extra: Partial<PortMapState> = {}): PortMapState => ({
  status: mappings.length ? 'mapped' : 'failed', gateway: '192.168.0.1', localAddress: '192.168.0.101', probes: [], externalIp: mappings[0]?.externalIp ?? null,
  externalIpKind: null, mappings, errors: [], router: null, cleanedUp: 0, ...extra,
});

test('advertised only when reachable: public gateway address that matches what the rendezvous sees', () => {
  const ok = mappedEndpointCandidates(state([mapping(), mapping({ proto: 'udp', externalPort: 41001, internalPort: 41001 })]), '80.16.0.2');
  assert.equal(ok.verdict.advertised, true);
  assert.deepEqual(ok.candidates, [
    { kind: 'mapped', proto: 'tcp', ip: '80.16.0.2', port: 41000, via: 'upnp' },
    { kind: 'mapped', proto: 'udp', ip: '80.16.0.2', port: 41001, via: 'upnp' },
  ]);
  assert.equal(mappedEndpointCandidates(state([mapping()]), null).verdict.advertised, true, 'not registered yet: the gateway address alone');
  assert.equal(mappedEndpointCandidates(state([mapping()]), '127.0.0.1').verdict.advertised, true, 'a loopback/LAN rendezvous cannot tell');

  const cgnat = mappedEndpointCandidates(state([mapping({ externalIp: '100.64.1.2' })]), '80.16.1.2');
  assert.deepEqual(cgnat.candidates, []);
  assert.ok(!cgnat.verdict.advertised && cgnat.verdict.doubleNat);
  assert.match(cgnat.verdict.reason, /double NAT: .*100\.64\.1\.2 is carrier-grade NAT space/);
  const priv = mappedEndpointCandidates(state([mapping({ externalIp: '192.168.178.20' })]), '80.16.1.2');
  assert.match(priv.verdict.reason, /double NAT: .*a private address/);
  const differs = mappedEndpointCandidates(state([mapping({ externalIp: '85.1.2.3' })]), '80.16.1.2');
  assert.deepEqual(differs.candidates, []);
  assert.match(differs.verdict.reason, /double NAT: the gateway says its external address is 85\.1\.2\.3, but the rendezvous sees us at 80\.16\.1\.2/);
  assert.match(mappedEndpointCandidates(state([], { status: 'unavailable' }), null).verdict.reason, /does not offer/);
});

test('description and when to map', () => {
  assert.match(mappingDescription('abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst'), /^Postern [A-Z2-7]{4}-[A-Z2-7]{4}$/);
  assert.equal(portMappingWanted(undefined, '127.0.0.1'), false);
  assert.equal(portMappingWanted(undefined, '85.10.0.10'), true);
  assert.equal(portMappingWanted(false, '85.10.0.10'), false);
  assert.equal(portMappingWanted(true, '127.0.0.1'), true);
});
