/**
 * NAT discovery against the lab's real kernel NATs: one topology with a site for
 * every behaviour, the rendezvous on the server with its STUN server on both
 * server addresses (RFC 5780: --alt-address) and IPv6, and `postern doctor
 * --json` on a host of each site, all at once. The classification must match the
 * behaviour the site was built with (e2e/lab/spec.ts, RFC 4787 terms). One more
 * run uses coturn (`turnserver`) on the server instead, a third-party STUN
 * server. Needs root and the lab's tools (skipped otherwise, with the reason).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { waitForLine } from './exec.js';
import { Lab, labCapabilities, labUnavailable, REPO_ROOT } from './lab.js';
import type { SiteSpec } from './spec.js';
import type { NatDiscovery, NatType } from '../../shared/domain/nat.js';

const POSTERN = join(REPO_ROOT, 'bin', 'postern.js');
const COTURN_PORT = 3490;
const skip = await labUnavailable();
if (skip) console.log(`# NAT discovery lab tests skipped: ${skip}`);
const coturn = ['/usr/bin/turnserver', '/usr/local/bin/turnserver'].find(existsSync);
if (!skip && !coturn) console.log('# NAT discovery lab tests: turnserver (coturn) not installed, its test is skipped');
const gateways = !skip && labCapabilities().gateways;
if (!skip && !gateways) console.log('# NAT discovery lab tests: miniupnpd not installed, the router-facts test is skipped');

interface Case {
  site: SiteSpec;
  natType: NatType;
  mapping: NatDiscovery['mapping'];
  filtering: NatDiscovery['filtering'];
  allocation?: NatDiscovery['allocation'];
  cgnat?: boolean;
  ipv6?: 'ok';
}

const CASES: Case[] = [
  { site: { name: 'pub', nat: 'public', ipv6: true }, natType: 'open', mapping: 'endpoint-independent', filtering: 'endpoint-independent', allocation: 'preserving', ipv6: 'ok' },
  { site: { name: 'fc', nat: 'full-cone' }, natType: 'full-cone', mapping: 'endpoint-independent', filtering: 'endpoint-independent', allocation: 'preserving' },
  { site: { name: 'rc', nat: 'restricted-cone' }, natType: 'restricted-cone', mapping: 'endpoint-independent', filtering: 'address-dependent', allocation: 'preserving' },
  { site: { name: 'pr', nat: 'port-restricted', ipv6: true }, natType: 'port-restricted', mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', allocation: 'preserving', ipv6: 'ok' },
  { site: { name: 'sym', nat: 'symmetric' }, natType: 'symmetric', mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', allocation: 'random' },
  { site: { name: 'seq', nat: 'symmetric-sequential' }, natType: 'symmetric-sequential', mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', allocation: 'sequential' },
  { site: { name: 'blk', nat: 'port-restricted', udpBlocked: true }, natType: 'udp-blocked', mapping: 'unknown', filtering: 'unknown' },
  // A full-cone home router behind a port-restricted CGN: the outside sees the CGN (EIM/APDF).
  { site: { name: 'cg', nat: 'full-cone', cgnat: true }, natType: 'port-restricted', mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', cgnat: true },
];

type Report = {
  event: string; nat: NatDiscovery; tcp: { ok: boolean; publicIp: string | null }; ms: number; publicIpv6: string | null; doubleNat: boolean;
  gateway: { externalIp: string | null; protocols: Record<string, { available: boolean }> } | null;
};

async function doctor(lab: Lab, host: string, args: string[], askRouter = false): Promise<Report> {
  const r = await lab.exec(host, process.execPath, [POSTERN, 'doctor', '--json', ...(askRouter ? [] : ['--no-gateway']), ...args], { timeoutMs: 20_000, cwd: REPO_ROOT });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"event":"doctor"'));
  if (!line) throw new Error(`doctor on ${host} printed no report (exit ${r.code}): ${r.stdout.trim()} ${r.stderr.trim()}`);
  return JSON.parse(line) as Report;
}

describe('NAT discovery in the lab', { skip: skip ?? false, concurrency: true }, () => {
  let lab: Lab | undefined;
  let rendezvous: ChildProcess | undefined;
  const url = 'ws://85.10.0.10:443';
  before(async () => {
    const routerSite: SiteSpec[] = gateways ? [{ name: 'gw', nat: 'port-restricted', gateway: ['upnp', 'natpmp'] }] : [];
    lab = await Lab.up({ sites: [...CASES.map((c) => c.site), ...routerSite], reflector: false });
    const [s1, s2] = lab.serverAddresses;
    rendezvous = lab.spawn('server', process.execPath, [POSTERN, 'rendezvous', '--json', '--listen', `${s1}:443`, '--alt-address', s2, '--stun-address', lab.serverAddresses6[0]]);
    await waitForLine(rendezvous, (l) => l.includes('"listening"'), { timeoutMs: 20_000, what: 'rendezvous' });
  });
  after(async () => {
    rendezvous?.kill('SIGTERM');
    await lab?.down();
  });
  const up = (): Lab => {
    if (!lab) throw new Error('lab did not come up');
    return lab;
  };

  for (const c of CASES) {
    test(`${c.site.nat}${c.site.cgnat ? '+cgnat' : ''}${c.site.udpBlocked ? '+udp-blocked' : ''}: classified as ${c.natType}`, async () => {
      const l = up();
      const host = `${c.site.name}1`;
      // What the port mapper would report for the router's external address (behind a CGN: its 100.64 address).
      const gw = c.site.cgnat ? ['--gateway-external', l.routerWan(c.site.name)] : [];
      const r = await doctor(l, host, ['--rendezvous', url, ...gw]);
      const n = r.nat;
      console.log(`# ${host} (${c.site.nat}${c.site.cgnat ? '+cgnat' : ''}${c.site.udpBlocked ? '+udp-blocked' : ''}): ${n.natType}, ${n.rfc}; ports ${n.probePorts.join(',')}${n.portDelta !== undefined ? ` delta ${n.portDelta}` : ''}; ipv6 ${n.ipv6?.publicIp ?? '-'}; ${n.ms} ms`);
      assert.equal(n.natType, c.natType, n.plain);
      assert.equal(n.mapping, c.mapping);
      assert.equal(n.filtering, c.filtering);
      if (c.allocation) assert.equal(n.allocation, c.allocation);
      if (c.site.nat === 'symmetric-sequential') assert.equal(n.portDelta, 1);
      assert.equal(n.cgnat, c.cgnat ?? false, n.cgnatReason ?? '');
      if (c.natType === 'udp-blocked') {
        assert.equal(n.publicIp, null);
        assert.equal(r.tcp.ok, true, 'TCP still gets out');
      } else {
        assert.equal(n.publicIp, c.site.nat === 'public' ? l.hostAddress(host) : l.publicAddress(c.site.name));
        assert.equal(n.rfc5780, true);
      }
      if (c.ipv6) {
        assert.equal(n.ipv6?.udp, 'ok');
        assert.equal(n.ipv6?.publicIp, l.hostAddress6(host));
      } else {
        assert.equal(n.ipv6, null);
      }
      assert.ok(n.ms < 3000, `discovery took ${n.ms} ms`);
    });
  }

  test('with the router asked (UPnP, NAT-PMP): its external address is the public one, no double NAT', { skip: gateways ? false : 'miniupnpd is not installed' }, async () => {
    const l = up();
    const r = await doctor(l, 'gw1', ['--rendezvous', url], true);
    assert.equal(r.nat.natType, 'port-restricted');
    assert.equal(r.gateway?.externalIp, l.publicAddress('gw'));
    assert.equal(r.gateway?.protocols.upnp?.available, true);
    assert.equal(r.nat.cgnat, false);
    assert.equal(r.doubleNat, false);
  });

  test('against coturn, a third-party STUN server', { skip: coturn ? false : 'turnserver (coturn) is not installed' }, async () => {
    const l = up();
    const [s1, s2] = l.serverAddresses;
    const turn = l.spawn('server', coturn as string, [
      '-n', '--stun-only', '--no-cli', '--no-tls', '--no-dtls', '--simple-log', '--log-file=stdout', `--pidfile=${join(l.dir, 'turnserver.pid')}`,
      `--listening-ip=${s1}`, `--listening-ip=${s2}`, `--listening-port=${COTURN_PORT}`, `--alt-listening-port=${COTURN_PORT + 1}`, `--db=${join(l.dir, 'turndb')}`,
    ]);
    try {
      await waitForLine(turn, (line) => /listener opened on|Total General servers|IPv4. UDP listener opened/i.test(line), { timeoutMs: 15_000, what: 'turnserver', streams: ['stdout', 'stderr'] });
      const pr = await doctor(l, 'pr1', ['--stun', `${s1}:${COTURN_PORT}`]);
      console.log(`# pr1 via coturn: ${pr.nat.natType}, ${pr.nat.rfc}, rfc5780 ${pr.nat.rfc5780}, ${pr.nat.ms} ms`);
      assert.equal(pr.nat.publicIp, l.publicAddress('pr'));
      assert.equal(pr.nat.natType, 'port-restricted');
      const fc = await doctor(l, 'fc1', ['--stun', `${s1}:${COTURN_PORT}`]);
      assert.equal(fc.nat.natType, 'full-cone');
      const sym = await doctor(l, 'sym1', ['--stun', `${s1}:${COTURN_PORT}`]);
      assert.equal(sym.nat.natType, 'symmetric');
    } finally {
      turn.kill('SIGTERM');
    }
  });
});
