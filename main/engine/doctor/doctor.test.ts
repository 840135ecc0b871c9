import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatDiscovery } from '../../../shared/domain/nat.js';
import type { TierAttempt } from '../../../shared/domain/connection.js';
import { explainAttempt, explainFailure, ladderRows, reachWords } from '../../../shared/domain/doctor.js';
import type { PortMapState } from '../portmap/port-mapper.js';
import { describeNat } from '../nat/discovery.js';
import { assembleReport, forwardingVerdict, probeWords, reachabilityError, reachabilityFromResult, wizardFacts, type DoctorInputs } from './report.js';
import { formatReportText, redactReport, scrubText, supportReport, REDACTION_NOTE } from './redact.js';

const PEER = 'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst';

function nat(o: Partial<NatDiscovery> & Pick<NatDiscovery, 'udp' | 'mapping' | 'filtering' | 'allocation'>): NatDiscovery {
  const natted = o.natted ?? (o.udp === 'ok' ? true : null);
  const d = describeNat({ udp: o.udp, natted, mapping: o.mapping, filtering: o.filtering, allocation: o.allocation, cgnat: !!o.cgnat });
  return {
    publicIp: o.udp === 'ok' ? '80.16.0.2' : null, publicPort: o.udp === 'ok' ? 40123 : null, local: { ip: '192.168.0.101', port: 41000 },
    natted, probePorts: [], cgnat: false, cgnatReason: null, gatewayExternalIp: null, ipv6: null, servers: ['85.10.0.10:3478'], rfc5780: true, ms: 1800,
    ...d, ...o,
  };
}

const symmetric = nat({ udp: 'ok', mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', allocation: 'random' });
const blocked = nat({ udp: 'blocked', mapping: 'unknown', filtering: 'unknown', allocation: 'unknown' });

function portmap(o: Partial<PortMapState> = {}): PortMapState {
  return {
    status: 'unavailable', gateway: '192.168.0.1', localAddress: '192.168.0.101',
    probes: [
      { protocol: 'pcp', available: false, ms: 751, detail: 'PCP: no answer from the gateway 192.168.0.1 to the ANNOUNCE', errorCode: 'PORTMAP_TIMEOUT' },
      { protocol: 'natpmp', available: false, ms: 750, detail: 'NAT-PMP: no answer from the gateway 192.168.0.1 to the external address request', errorCode: 'PORTMAP_TIMEOUT' },
      { protocol: 'upnp', available: false, ms: 1002, detail: 'UPnP: no answer to SSDP', errorCode: 'PORTMAP_TIMEOUT' },
    ],
    externalIp: null, externalIpKind: null, mappings: [], errors: [], router: null, cleanedUp: 0, ...o,
  };
}

function inputs(o: Partial<DoctorInputs> = {}): DoctorInputs {
  return {
    now: Date.UTC(2025, 0, 2, 3, 4, 5),
    device: { name: 'Alice at home', shortId: 'ABCD-EFGH' },
    rendezvous: { url: 'wss://rv.example.org:443/secret/path?x=1', connected: true, embedded: false, observedIp: '80.16.0.2' },
    nat: symmetric,
    portmap: portmap(),
    listening: { tcpPort: 41000, udpPort: 41000, fixed: false },
    reachability: null,
    ...o,
  };
}

const reachOk = reachabilityFromResult({ observedIp: '80.16.0.2', from: '85.10.0.20', tcp: 'reachable', tcpMs: 12, tcpDetail: 'connected', udp: 'no-answer', udpMs: 2500, udpDetail: 'no answer within 2500 ms' }, { tcpPort: 41000, udpPort: 41000 }, 1);
const reachFiltered = reachabilityFromResult({ observedIp: '80.16.0.2', tcp: 'filtered', tcpMs: 3000, tcpDetail: 'no answer within 3000 ms' }, { tcpPort: 41000 }, 1);

test('a symmetric NAT, no gateway answer, not checked: forwarding helps, the port is random, words for every protocol', () => {
  const r = assembleReport(inputs());
  assert.equal(r.publicIpv4, '80.16.0.2');
  assert.equal(r.udp, 'ok');
  assert.equal(r.nat?.natType, 'symmetric');
  assert.match(r.nat?.rfc ?? '', /address-and-port-dependent mapping/);
  assert.equal(r.cgnat.detected, false);
  assert.equal(r.doubleNat.detected, false);
  assert.equal(r.forwarding.helps, true);
  assert.deepEqual(r.gateway.protocols.map((p) => p.plain), ['no gateway answered PCP in 751 ms', 'no gateway answered NAT-PMP in 750 ms', 'no gateway answered UPnP in 1002 ms']);
  assert.equal(r.gateway.router.adminUrl, 'http://192.168.0.1/');
  assert.equal(r.gateway.router.adminUrlGuessed, true);
  assert.equal(r.gateway.lanAddress, '192.168.0.101');
  assert.ok(r.findings.some((f) => f.key === 'port-random' && f.level === 'warn'));
  assert.ok(r.findings.some((f) => f.key === 'reach-unknown'));
  assert.match(r.summary, /symmetric NAT and cannot be reached from outside/);
  const w = wizardFacts(r);
  assert.deepEqual([w.lanAddress, w.gateway, w.tcpPort, w.udpPort, w.fixedPort, w.suggestedPort, w.publicIp], ['192.168.0.101', '192.168.0.1', 41000, 41000, false, 41000, '80.16.0.2']);
});

test('reachable after forwarding: the summary says so, findings put problems first', () => {
  const r = assembleReport(inputs({ nat: blocked, reachability: reachOk, listening: { tcpPort: 41000, udpPort: 41000, fixed: true } }));
  assert.equal(r.reachability?.ok, true);
  assert.match(r.summary, /can connect straight to this computer: TCP port 41000 is open at 80\.16\.0\.2/);
  assert.equal(r.findings[0]?.key, 'udp-blocked');
  assert.ok(r.findings.some((f) => f.key === 'reachable' && f.level === 'ok'));
  assert.ok(!r.findings.some((f) => f.key === 'port-random'));
  assert.equal(r.forwarding.helps, true);
  assert.match(r.forwarding.why, /already reachable/);
  assert.equal(r.publicIpv4, '80.16.0.2', 'from the rendezvous when UDP is blocked');
});

test('CGNAT (the router reports a 100.64/10 address): forwarding cannot help, alternatives offered', () => {
  const r = assembleReport(inputs({
    nat: nat({ udp: 'ok', mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', allocation: 'preserving' }),
    portmap: portmap({
      status: 'failed', externalIp: '100.64.2.2', externalIpKind: 'cgnat',
      probes: [
        { protocol: 'pcp', available: true, ms: 20, detail: 'PCP 8 NO_RESOURCES', errorCode: 'PCP_8' },
        { protocol: 'natpmp', available: true, ms: 20, detail: 'NAT-PMP 3 NETWORK_FAILURE', errorCode: 'NATPMP_3', externalIp: '100.64.2.2' },
        { protocol: 'upnp', available: true, ms: 300, detail: 'answered: MiniUPnPd router, IGD v2' },
      ],
      router: {
        gateway: '192.168.2.1', localAddress: '192.168.2.101', externalIp: '100.64.2.2', externalIpKind: 'cgnat',
        protocols: { pcp: { available: true, detail: 'x' }, natpmp: { available: true, detail: 'x' }, upnp: { available: true, detail: 'x' } },
        upnp: { friendlyName: 'Smith family router', manufacturer: 'MiniUPnP', modelName: 'MiniUPnPd', modelNumber: '2.3.1', modelDescription: '', presentationURL: 'http://192.168.2.1/admin', server: 'x', location: 'http://192.168.2.1:5000/rootDesc.xml', igdVersion: 2 },
      },
    }),
  }));
  assert.equal(r.cgnat.detected, true);
  assert.match(r.cgnat.reason ?? '', /100\.64/);
  assert.equal(r.forwarding.helps, false);
  assert.deepEqual(r.forwarding.alternatives.map((a) => a.kind), ['relay', 'ipv6', 'isp', 'other-side']);
  assert.equal(r.findings[0]?.key, 'cgnat');
  assert.deepEqual(r.gateway.protocols.map((p) => p.plain), ['answers, but refuses: PCP 8 NO_RESOURCES', 'answers, but refuses: NAT-PMP 3 NETWORK_FAILURE', 'answered: MiniUPnPd router, IGD v2']);
  assert.equal(r.gateway.router.manufacturer, 'MiniUPnP');
  assert.equal(r.gateway.router.model, 'MiniUPnPd 2.3.1');
  assert.equal(r.gateway.router.adminUrl, 'http://192.168.2.1/admin');
  assert.equal(r.gateway.router.adminUrlGuessed, false);
  assert.match(r.summary, /carrier-grade NAT/);
});

test('double NAT: a private external address on the router; a public one that differs from what the internet sees', () => {
  const priv = assembleReport(inputs({ portmap: portmap({ externalIp: '192.168.178.20', externalIpKind: 'private' }) }));
  assert.equal(priv.doubleNat.detected, true);
  assert.equal(priv.forwarding.helps, false);
  assert.match(priv.forwarding.alternatives[0]?.text ?? '', /both.*192\.168\.178\.20/);
  const other = assembleReport(inputs({ portmap: portmap({ externalIp: '81.1.1.1', externalIpKind: 'public' }) }));
  assert.equal(other.doubleNat.detected, true);
  assert.match(other.doubleNat.reason ?? '', /81\.1\.1\.1.*80\.16\.0\.2/);
  const same = assembleReport(inputs({ portmap: portmap({ externalIp: '80.16.0.2', externalIpKind: 'public' }) }));
  assert.equal(same.doubleNat.detected, false);
});

test('port mappings are listed with their leases; the router mapped the port by itself', () => {
  const r = assembleReport(inputs({
    portmap: portmap({
      status: 'mapped', externalIp: '80.16.0.2', externalIpKind: 'public',
      mappings: [{ protocol: 'upnp', proto: 'tcp', internalPort: 41000, internalClient: '192.168.0.101', externalIp: '80.16.0.2', externalPort: 41000, leaseSec: 7200, permanent: false, createdAt: 1, lastRenewedAt: 1, expiresAt: 7_200_001, nextRenewalAt: 3_600_001, lastError: null }],
    }),
  }));
  assert.equal(r.mappings.length, 1);
  assert.equal(r.mappings[0]?.leaseSec, 7200);
  assert.ok(r.findings.some((f) => f.key === 'mapping-tcp' && /lease 120 min/.test(f.text)));
  assert.match(r.summary, /opened port 41000 by UPnP/);
  assert.equal(wizardFacts(r).mappedByRouter, true);
  assert.match(formatReportText(r), /UPnP TCP 80\.16\.0\.2:41000 → 192\.168\.0\.101:41000, lease 7200 s/);
});

test('no port mapper: the router was not asked, and the report says why', () => {
  const r = assembleReport(inputs({ portmap: null, routerNote: 'port mapping is turned off (POSTERN_PORTMAP=0)', gatewayAddress: '10.0.0.1', lanAddress: '10.0.0.5' }));
  assert.equal(r.gateway.asked, false);
  assert.equal(r.gateway.status, 'off');
  assert.match(r.gateway.note, /POSTERN_PORTMAP=0/);
  assert.equal(r.gateway.router.address, '10.0.0.1');
  assert.equal(r.gateway.lanAddress, '10.0.0.5');
  assert.deepEqual(r.gateway.protocols.map((p) => p.plain), ['not asked', 'not asked', 'not asked']);
});

test('NAT discovery not done yet: a note instead of the NAT', () => {
  const r = assembleReport(inputs({ nat: null, natNote: 'NAT discovery has not finished yet.' }));
  assert.equal(r.nat, null);
  assert.equal(r.udp, 'unknown');
  assert.equal(r.natNote, 'NAT discovery has not finished yet.');
  assert.equal(r.publicIpv4, '80.16.0.2');
});

test('reachability results and errors in words', () => {
  assert.equal(reachOk.ok, true);
  assert.equal(reachOk.tcp?.state, 'reachable');
  assert.match(reachOk.tcp?.plain ?? '', /connected to 80\.16\.0\.2:41000 from outside/);
  assert.match(reachOk.udp?.plain ?? '', /drops unsolicited UDP/);
  assert.equal(reachFiltered.ok, false);
  assert.equal(reachFiltered.udp, null);
  assert.match(reachFiltered.tcp?.plain ?? '', /nothing answered at/);
  assert.match(reachWords('tcp', 'closed', '80.16.0.2', 41000), /forwards the port, but not to this computer/);
  assert.match(reachWords('tcp', 'reachable', '2a02:1810::5', 41000), /\[2a02:1810::5\]:41000/);
  const limited = reachabilityError('RATE_LIMITED', 'Too many checks', 5);
  assert.equal(limited.ok, false);
  assert.match(limited.error?.message ?? '', /a few checks a minute/);
  const r = assembleReport(inputs({ reachability: limited }));
  assert.ok(r.findings.some((f) => f.key === 'reach-error'));
  assert.equal(assembleReport(inputs({ reachability: reachFiltered })).findings.find((f) => f.key === 'not-reachable')?.level, 'warn');
});

test('probe words', () => {
  assert.equal(probeWords({ protocol: 'natpmp', available: false, ms: 750, detail: 'x', errorCode: 'PORTMAP_TIMEOUT' }), 'no gateway answered NAT-PMP in 750 ms');
  assert.equal(probeWords({ protocol: 'pcp', available: true, ms: 20, detail: 'answered' }), 'answered');
  assert.equal(probeWords({ protocol: 'upnp', available: false, ms: 0, detail: 'not probed' }), 'not asked');
});

test('forwarding verdict: public address with a firewall, IPv6 named when there is one', () => {
  const none = { detected: false, reason: null };
  assert.match(forwardingVerdict({ cgnat: none, doubleNat: none, natted: false, publicIpv6: null, reachable: false, mapped: false, routerExternalIp: null }).why, /firewall/);
  const cg = forwardingVerdict({ cgnat: { detected: true, reason: 'x' }, doubleNat: none, natted: true, publicIpv6: '2a02:1810:1::101', reachable: false, mapped: false, routerExternalIp: null });
  assert.match(cg.alternatives.find((a) => a.kind === 'ipv6')?.text ?? '', /2a02:1810:1::101/);
});

test('redaction: no device name, short IDs, URL origin only, no router friendly name, no paths, hex or tokens; IPs stay', () => {
  const base = assembleReport(inputs({ reachability: reachOk }));
  base.findings.push({ level: 'info', key: 'x', text: `peer ${PEER} key ${'ab'.repeat(32)} file /home/alice/Secret Plans/q3.pdf url http://127.0.0.1:5000/t/${'Q'.repeat(32)}/ and http://192.168.0.1:5000/rootDesc.xml C:\\Users\\alice\\x.txt` });
  base.gateway.router.friendlyName = 'Smith family router';
  const red = redactReport(base);
  const json = JSON.stringify(red);
  assert.equal(red.device.name, '(removed)');
  assert.equal(red.device.shortId, 'ABCD-…');
  assert.equal(red.rendezvous.url, 'wss://rv.example.org');
  assert.equal(red.gateway.router.friendlyName, null);
  for (const secret of [PEER, 'ab'.repeat(32), '/home/alice', 'Secret Plans', 'Q'.repeat(32), 'Alice at home', 'secret/path', 'Smith', 'C:\\Users', 'EFGH']) {
    assert.ok(!json.includes(secret), `leaked ${secret}`);
  }
  assert.ok(json.includes('abcd…'), 'peer IDs shortened');
  assert.ok(json.includes('http://192.168.0.1:5000/rootDesc.xml'), 'URLs of the router stay');
  assert.ok(json.includes('80.16.0.2') && json.includes('192.168.0.101'), 'IP addresses stay');
  assert.equal(base.device.name, 'Alice at home', 'the original is untouched');
  const sr = supportReport(base);
  assert.ok(sr.text.includes(REDACTION_NOTE));
  assert.ok(sr.combined.includes('--- JSON ---'));
  const parsed = JSON.parse(sr.json) as { kind: string; report: { device: { name: string } } };
  assert.equal(parsed.kind, 'postern-doctor-report');
  assert.equal(parsed.report.device.name, '(removed)');
  assert.ok(!sr.combined.includes('Alice at home'));
  assert.match(sr.text, /Public IPv4 {5}80\.16\.0\.2/);
  assert.match(sr.text, /TCP 41000: open \(reachable, 12 ms\)/);
});

test('scrubText leaves ordinary words and addresses alone', () => {
  const s = 'TCP/UDP 80.16.0.2:41000 and/or [2a02::1]:5 — 1/2 of NAT-PMP answers; http://192.168.0.1/';
  assert.equal(scrubText(s), s);
});

// ---- the ladder in plain words ----------------------------------------------------

const at = (tier: TierAttempt['tier'], state: TierAttempt['state'], reason: string, ms: number, target?: string): TierAttempt => ({ ladderId: 'l1', tier, state, reason, startedAt: 0, ms, ...(target ? { target } : {}) });

test('every reason the engine gives for a failed tier has plain words', () => {
  const cases: [TierAttempt, RegExp][] = [
    [at('lan', 'failed', '192.168.1.101:41000 did not answer within 1500 ms (filtered or not there)', 1500), /Not on the same network: Bob's local address did not answer within 1\.5 s/],
    [at('lan', 'failed', '192.168.1.101:41000 unreachable from here', 3), /cannot be reached from here/],
    [at('direct', 'failed', '80.16.1.2:41000 did not answer within 4000 ms (filtered or not there)', 4200), /No answer within 4 s at Bob's public address: its router lets nothing in/],
    [at('direct', 'failed', '80.16.1.2:41000 refused (nothing listening, or a firewall rejected it)', 30), /refused the connection: nothing is forwarded/],
    [at('upnp', 'failed', '80.16.1.2:41000 did not answer within 4000 ms (filtered or not there)', 4000), /port Bob's router opened/],
    [at('reverse', 'failed', 'the other device did not dial back within 8 s (it cannot reach us either)', 8500), /Bob did not connect back within 8 s/],
    [at('reverse', 'failed', 'it could not reach us: 80.16.0.2:41000 did not answer within 4000 ms (filtered or not there)', 4500), /Bob tried to connect back but could not reach this computer/],
    [at('udp-punch', 'failed', 'both routers pick a new random port for every destination, so no hole punch can meet (a relay is needed)', 900), /Both routers pick a new port for every destination/],
    [at('udp-punch', 'failed', 'UDP does not get out of this network (no STUN answer)', 10), /UDP is blocked on this network/],
    [at('udp-punch', 'failed', 'no packet got through either router within 6 s', 7000), /No packet got through either router within 6 s/],
    [at('udp-punch', 'failed', 'heard the other device but our packets did not reach it within 6 s (its router filters them)', 7000), /Bob's packets arrived, but its router dropped ours/],
    [at('udp-punch', 'failed', 'none of 256 mappings was found by the other side within 6 s', 7000), /found none of 256 open ports/],
    [at('udp-punch', 'failed', 'the other device did not answer through the rendezvous within 4 s', 4000), /Bob did not answer through the rendezvous within 4 s/],
    [at('udp-punch', 'failed', 'UDP punching is off on the other device', 4), /UDP hole punching is off on Bob/],
    [at('tcp-punch', 'failed', 'no simultaneous open after 5 rounds (last: 80.16.1.2:3000 refused)', 5000), /No simultaneous TCP open after 5 tries/],
    [at('tcp-punch', 'failed', 'the rendezvous did not tell us our TCP mapping (timeout)', 5000), /public TCP port from the rendezvous/],
    [at('server-relay', 'failed', 'This rendezvous server does not relay. Ask its operator to start it with --relay, or configure a relay in settings.', 20), /does not relay/],
    [at('server-relay', 'failed', 'could not reach the relay: ECONNREFUSED', 20), /Could not reach the relay/],
    [at('lan', 'failed', 'cancelled', 20), /^Stopped\.$/],
    [at('peer-relay', 'failed', 'via abcdefgh: could not reach the relaying device (x)', 20), /Could not reach your device that relays/],
  ];
  for (const [a, re] of cases) assert.match(explainAttempt(a, 'Bob'), re, a.reason);
});

test('skipped, trying and worked in plain words', () => {
  const cases: [TierAttempt, RegExp][] = [
    [at('lan', 'skipped', 'the other device reported no private address', 0), /Bob has no address on a local network/],
    [at('direct', 'skipped', 'the other device has no public address (it is behind NAT on a private network)', 0), /Bob has no public address: it is behind a router/],
    [at('direct', 'skipped', "its public address is open through its gateway's port mapping (tried as upnp)", 0), /tried as that tier instead/],
    [at('udp-punch', 'skipped', 'UDP does not get out of this network (no STUN answer)', 0), /UDP is blocked/],
    [at('server-relay', 'skipped', 'not connected to a rendezvous server', 0), /Not connected to the rendezvous server/],
    [at('pcp', 'skipped', 'the other device has no PCP port mapping', 0), /Bob's router did not open a port by PCP/],
    [at('tcp-punch', 'skipped', 'disabled by setting', 0), /Turned off in Settings/],
    [at('tcp-punch', 'skipped', 'stopped: udp-punch connected first', 0), /Not needed: UDP punch connected first/],
    [at('reverse', 'trying', 'trying', 500), /Asking Bob, through the rendezvous, to connect back/],
    [at('udp-punch', 'ok', 'connected to 80.16.1.2:40111', 900, '80.16.1.2:40111'), /Hole punched: a UDP path through both routers \(80\.16\.1\.2:40111\)/],
    [at('direct', 'ok', 'upgraded from server-relay: connected to 80.16.1.2:41000', 9000, '80.16.1.2:41000'), /Upgraded from Server relay: now connected without a relay/],
    [at('reverse', 'ok', 'connected', 600), /Bob connected back to this computer/],
    [at('direct', 'failed', 'something entirely new', 1), /^Something entirely new\.$/],
    [at('peer-relay', 'skipped', 'none of your devices that relay is connected', 0), /None of your devices that can relay is online/],
    [at('server-relay', 'skipped', 'no TURN server configured', 0), /No TURN server is configured/],
  ];
  for (const [a, re] of cases) assert.match(explainAttempt(a, 'Bob'), re, a.reason);
});

test('ladder rows: one per tier in the order tried, latest state, timing, the tier in use and upgrades', () => {
  const attempts = [
    at('lan', 'skipped', 'the other device reported no private address', 0),
    at('direct', 'trying', 'trying', 0),
    at('reverse', 'trying', 'trying', 250),
    at('direct', 'failed', '80.16.1.2:41000 did not answer within 4000 ms (filtered or not there)', 4000, '80.16.1.2:41000'),
    at('udp-punch', 'trying', 'trying', 500),
    at('server-relay', 'trying', 'trying', 2000),
    at('server-relay', 'ok', 'connected to 85.10.0.10:443', 2100, '85.10.0.10:443'),
    at('udp-punch', 'ok', 'upgraded from server-relay: connected to 80.16.1.2:40111', 2600, '80.16.1.2:40111'),
  ];
  const rows = ladderRows(attempts, 'udp-punch', 'Bob');
  assert.deepEqual(rows.map((r) => r.tier), ['lan', 'direct', 'reverse', 'udp-punch', 'server-relay']);
  assert.deepEqual(rows.map((r) => r.state), ['skipped', 'failed', 'trying', 'ok', 'ok']);
  const direct = rows[1];
  assert.equal(direct?.startMs, 0);
  assert.equal(direct?.tookMs, 4000);
  assert.equal(direct?.target, '80.16.1.2:41000');
  assert.equal(rows[0]?.tookMs, null, 'skipped at once: no time');
  assert.equal(rows[2]?.tookMs, null, 'still trying');
  const punch = rows[3];
  assert.equal(punch?.inUse, true);
  assert.equal(punch?.upgrade, true);
  assert.equal(punch?.tookMs, 2100);
  assert.equal(rows[4]?.replaced, true, 'the relay was replaced by the upgrade');
  assert.equal(rows[4]?.inUse, false);
  // The session came from the other side on another tier: our worked row is not the one in use.
  const theirs = ladderRows([at('reverse', 'trying', 'trying', 0), at('reverse', 'ok', 'connected', 500)], 'direct', 'Bob');
  assert.equal(theirs[0]?.inUse, false);
  assert.equal(theirs[0]?.replaced, true);
});

test('ladder rows: a second strategy of the same tier does not hide the first one\'s result', () => {
  const rows = ladderRows([
    at('server-relay', 'trying', 'trying', 100),
    at('server-relay', 'failed', 'This rendezvous server does not relay.', 120),
    at('server-relay', 'skipped', 'no TURN server configured', 120),
  ], null, 'Bob');
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.state, 'failed');
  assert.match(rows[0]?.words ?? '', /does not relay/);
  const both = ladderRows([at('server-relay', 'failed', 'could not reach the relay: x', 50), at('server-relay', 'failed', 'TURN: allocation failed', 90)], null, 'Bob');
  assert.match(both[0]?.words ?? '', /Could not reach the relay server\. TURN: allocation failed\./);
});

test('failure summaries', () => {
  assert.match(explainFailure({ code: 'DOUBLE_RANDOM', message: 'x' }, 'Bob'), /Forwarding a port on either router lets Bob connect directly/);
  assert.match(explainFailure({ code: 'ALL_TIERS_FAILED', message: 'x' }, 'Bob'), /Every way to reach Bob failed/);
  assert.match(explainFailure(null, 'Bob'), /Every way to reach Bob failed/);
});

test('a protocol that answers but refuses the mapping says so', () => {
  const r = assembleReport(inputs({
    portmap: portmap({
      status: 'failed',
      probes: [{ protocol: 'pcp', available: true, ms: 20, detail: 'answered' }],
      errors: [{ at: 1, protocol: 'pcp', code: 'PCP_8', message: 'PCP 8 NO_RESOURCES: the gateway cannot create more mappings' }],
    }),
  }));
  assert.equal(r.gateway.protocols[0]?.plain, 'answered; mapping refused: PCP 8 NO_RESOURCES: the gateway cannot create more mappings');
});
