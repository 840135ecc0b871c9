/**
 * Port mapping against real miniupnpd in the lab (docs/portmap.md): for UPnP
 * IGD v2, IGD v1 (miniupnpd restarted with force_igd_desc_v1), NAT-PMP and
 * PCP a mapping is made, the server reaches the host through it (TCP and UDP),
 * the rule is on the router (nft and miniupnpd's lease file), renewal extends
 * the lease, stopping removes it. Also: a taken port moves, leftovers of a
 * crashed run are removed at the next start, a router behind a CGN answers with
 * errors that are reported with their codes, router facts, the rendezvous's
 * reachability check (open, closed, filtered), and a transfer from a host
 * behind a UPnP router to one behind a symmetric NAT that ends on tier `upnp`.
 * Everything in the lab runs in its namespaces (main/engine/portmap/lab-driver.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Lab, labUnavailable } from './lab.js';
import { spawnIn, waitForLine } from './exec.js';
import { startRendezvous, transfer, type Rendezvous } from './transfer.js';

const DRIVER = fileURLToPath(new URL('../../main/engine/portmap/lab-driver.ts', import.meta.url));
const skip = await labUnavailable({ gateways: true });
if (skip) console.log(`# port-mapping lab tests skipped: ${skip}`);

type Ev = { event: string; [k: string]: unknown };
type State = { status: string; mappings: { protocol: string; proto: string; externalIp: string; externalPort: number; internalPort: number; leaseSec: number; createdAt: number; lastRenewedAt: number }[]; errors: { code: string; message: string }[]; externalIpKind: string | null; cleanedUp: number; probes: { protocol: string; available: boolean; detail: string }[] };

/** A lab-driver process on a host, its JSON lines collected. */
class Driver {
  readonly events: Ev[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      try { this.events.push(JSON.parse(l) as Ev); } catch { return; }
      for (const w of this.waiters) w();
    });
    child.once('exit', () => { for (const w of this.waiters) w(); });
  }
  async next(event: string, ms = 15_000): Promise<Ev> {
    const end = Date.now() + ms;
    for (;;) {
      const e = this.events.find((x) => x.event === event || x.event === 'fatal');
      if (e) {
        if (e.event === 'fatal') throw new Error(`driver: ${String(e.error)}`);
        this.events.splice(this.events.indexOf(e), 1);
        return e;
      }
      if (this.child.exitCode !== null && event !== 'exit') throw new Error(`driver exited ${this.child.exitCode} before ${event}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${event}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
  }
  send(line: string): void { this.child.stdin?.write(`${line}\n`); }
  exited(): Promise<number | null> {
    return this.child.exitCode !== null ? Promise.resolve(this.child.exitCode) : new Promise((r) => this.child.once('exit', (c) => r(c)));
  }
}

let lab: Lab | undefined;
let rv: Rendezvous | undefined;
const dirs: string[] = [];
const L = (): Lab => { if (!lab) throw new Error('lab did not come up'); return lab; };
const dataDir = () => { const d = mkdtempSync(join(tmpdir(), 'pl-portmap-')); dirs.push(d); return d; };
const drive = (host: string, mode: string, args: object) => new Driver(L().spawnNode(host, DRIVER, [mode, JSON.stringify(args)]));
const runDriver = async (host: string, mode: string, args: object): Promise<Ev[]> => {
  const r = await L().execNode(host, DRIVER, [mode, JSON.stringify(args)], { timeoutMs: 20_000 });
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
};
const rules = async (site: string) => (await L().execRouter(site, 'nft', ['list', 'table', 'inet', 'filter'])).stdout;
const leases = (site: string) => { const f = join(L().dir, `gw-${site}`, 'leases'); return existsSync(f) ? readFileSync(f, 'utf8') : ''; };
const leaseExpiry = (site: string, proto: string, ext: number): number | undefined => {
  const line = leases(site).split('\n').find((l) => l.startsWith(`${proto.toUpperCase()}:${ext}:`));
  return line ? Number(line.split(':')[4]) : undefined;
};
const reach = async (ip: string, port: number, proto = 'tcp') => (await runDriver('server', 'connect', { ip, port, proto }))[0];

/** Restart a site's miniupnpd as an IGD v1 device (force_igd_desc_v1=yes). */
async function makeIgdV1(l: Lab, site: string): Promise<void> {
  const dir = join(l.dir, `gw-${site}`);
  process.kill(Number(readFileSync(join(dir, 'miniupnpd.pid'), 'utf8').trim()), 'SIGTERM');
  const conf = readFileSync(join(dir, 'miniupnpd.conf'), 'utf8').replace(/^uuid=.*$/m, 'uuid=11111111-2222-3333-4444-555555555555');
  writeFileSync(join(dir, 'v1.conf'), `${conf}force_igd_desc_v1=yes\n`);
  await new Promise((r) => setTimeout(r, 300));
  const child = spawnIn(l.site(site).routerNs, join(dir, 'pl-miniupnpd'), ['-d', '-f', join(dir, 'v1.conf'), '-P', join(dir, 'v1.pid')]);
  await waitForLine(child, (x) => /HTTP listening on port/.test(x), { timeoutMs: 10_000, what: 'miniupnpd v1', streams: ['stdout', 'stderr'] });
}

describe('port mapping against miniupnpd', { skip: skip ?? false }, () => {
  before(async () => {
    lab = await Lab.up({
      sites: [
        { name: 'u', nat: 'port-restricted', hosts: 2, gateway: ['upnp'] },
        { name: 'v', nat: 'port-restricted', hosts: 2, gateway: ['upnp'] },
        { name: 'p', nat: 'port-restricted', gateway: ['natpmp'] },
        { name: 'c', nat: 'port-restricted', gateway: ['pcp'] },
        { name: 'g', nat: 'port-restricted', cgnat: true, gateway: ['upnp', 'natpmp', 'pcp'] },
        { name: 's', nat: 'symmetric' },
      ],
      reflector: false,
    });
    await makeIgdV1(lab, 'v');
    rv = await startRendezvous(lab);
  });
  after(async () => {
    rv?.stop();
    await lab?.down();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe('map, reach from outside, rule on the router, renew, remove on stop', { concurrency: true }, () => {
    for (const [name, site, protocol, igd] of [
      ['UPnP IGD v2', 'u', 'upnp', 2], ['UPnP IGD v1', 'v', 'upnp', 1], ['NAT-PMP', 'p', 'natpmp', 0], ['PCP', 'c', 'pcp', 0],
    ] as const) {
      test(name, async () => {
        const l = L();
        const host = `${site}1`;
        const port = 41000;
        const d = drive(host, 'map', { ports: [{ proto: 'tcp', internalPort: port }, { proto: 'udp', internalPort: port + 1 }], description: `Postern LAB-${site.toUpperCase()}`, dataDir: dataDir(), leaseSec: 120, listen: true });
        const s = (await d.next('started')).state as State;
        assert.equal(s.status, 'mapped', JSON.stringify(s.errors));
        if (igd) assert.match(s.probes.find((p) => p.protocol === 'upnp')?.detail ?? '', new RegExp(`IGD v${igd}`));
        const ext = l.publicAddress(site);
        const tcp = s.mappings.find((m) => m.proto === 'tcp');
        const udp = s.mappings.find((m) => m.proto === 'udp');
        assert.ok(tcp && udp);
        assert.equal(tcp.protocol, protocol);
        assert.equal(tcp.externalIp, ext);
        assert.equal(tcp.externalPort, port);
        assert.equal(tcp.leaseSec, 120);

        // On the router: miniupnpd's DNAT rules and its lease file.
        const nft = await rules(site);
        assert.match(nft, new RegExp(`dnat ip to ${l.hostAddress(host).replace(/\./g, '\\.')}:${port}\\b`));
        assert.match(nft, new RegExp(`dnat ip to ${l.hostAddress(host).replace(/\./g, '\\.')}:${port + 1}\\b`));
        const before = leaseExpiry(site, 'tcp', tcp.externalPort);
        assert.ok(before, leases(site));

        // From the internet (the server), through the mapping.
        const greeting = await reach(ext, tcp.externalPort);
        assert.equal(greeting?.event, 'connected', JSON.stringify(greeting));
        assert.match(String(greeting?.line), new RegExp(`^hello from .*:${port}$`));
        assert.deepEqual(await reach(ext, udp.externalPort, 'udp'), { event: 'connected', line: 'echo ping' });

        // Renewal extends the lease on the router.
        await new Promise((r) => setTimeout(r, 1100));
        d.send('renew');
        const r = (await d.next('renewed')).state as State;
        const renewed = r.mappings.find((m) => m.proto === 'tcp');
        assert.ok(renewed && renewed.lastRenewedAt > renewed.createdAt);
        const afterRenew = leaseExpiry(site, 'tcp', tcp.externalPort);
        assert.ok(afterRenew && before && afterRenew > before, `lease ${before} → ${afterRenew}`);

        // Quitting removes it.
        d.send('stop');
        await d.next('stopped');
        assert.equal(await d.exited(), 0);
        assert.doesNotMatch(await rules(site), new RegExp(`:${port}\\b`));
        assert.equal(leaseExpiry(site, 'tcp', tcp.externalPort), undefined);
        assert.equal((await reach(ext, tcp.externalPort))?.event, 'error');
      });
    }
  });

  test('a taken port moves (IGD v2: AddAnyPortMapping; IGD v1: 718 then another port)', async () => {
    for (const site of ['u', 'v']) {
      const first = drive(`${site}2`, 'map', { ports: [{ proto: 'tcp', internalPort: 42000 }], description: 'Postern OTHER', protocols: ['upnp'] });
      assert.equal(((await first.next('started')).state as State).mappings[0]?.externalPort, 42000);
      const second = drive(`${site}1`, 'map', { ports: [{ proto: 'tcp', internalPort: 42000 }], description: 'Postern TAKEN', protocols: ['upnp'] });
      const s = (await second.next('started')).state as State;
      assert.equal(s.status, 'mapped', JSON.stringify(s.errors));
      assert.notEqual(s.mappings[0]?.externalPort, 42000, site);
      assert.match(await rules(site), new RegExp(`dnat ip to ${L().hostAddress(`${site}1`).replace(/\./g, '\\.')}:42000`));
      for (const d of [first, second]) { d.send('stop'); await d.next('stopped'); }
    }
  });

  test('after a crash, the next start removes the leftovers (UPnP by description and record, PCP by its recorded nonce)', async () => {
    for (const site of ['u', 'c']) {
      const dir = dataDir();
      const crashed = drive(`${site}1`, 'map', { ports: [{ proto: 'tcp', internalPort: 43000 }], description: 'Postern CRASH', dataDir: dir });
      await crashed.next('started');
      assert.match(leases(site), /:43000:/);
      crashed.send('crash');
      assert.equal(await crashed.exited(), 3);
      assert.match(await rules(site), /:43000\b/, 'a crash leaves the mapping');
      const next = drive(`${site}1`, 'map', { ports: [{ proto: 'tcp', internalPort: 43100 }], description: 'Postern CRASH', dataDir: dir });
      const s = (await next.next('started')).state as State;
      assert.equal(s.cleanedUp, 1, site);
      assert.doesNotMatch(await rules(site), /:43000\b/);
      next.send('stop');
      await next.next('stopped');
    }
  });

  test('behind a carrier-grade NAT: errors with their codes, reported as cgnat, nothing mapped', async () => {
    const d = drive('g1', 'map', { ports: [{ proto: 'tcp', internalPort: 44000 }], description: 'Postern CGN' });
    const s = (await d.next('started')).state as State;
    assert.equal(s.status, 'failed');
    assert.equal(s.mappings.length, 0);
    const codes = s.errors.map((e) => e.code);
    assert.ok(codes.includes('PCP_8') && codes.includes('NATPMP_3') && codes.includes('UPNP_501'), codes.join(','));
    assert.match(s.errors.map((e) => e.message).join('\n'), /PCP 8 NO_RESOURCES[\s\S]*NAT-PMP 3 NETWORK_FAILURE[\s\S]*UPnP 501 Action Failed/);
    assert.equal(s.externalIpKind, 'cgnat');
    d.send('stop');
    await d.next('stopped');
  });

  test('router facts for the wizard', async () => {
    const [e] = await runDriver('u1', 'facts', {});
    const f = e?.facts as { gateway: string; localAddress: string; upnp: Record<string, unknown>; externalIp: string; externalIpKind: string };
    assert.equal(f.gateway, L().gatewayAddress('u'));
    assert.equal(f.localAddress, L().hostAddress('u1'));
    assert.equal(f.upnp.friendlyName, 'Postern lab router');
    assert.equal(f.upnp.manufacturer, 'Debian');
    assert.equal(f.upnp.modelName, 'Debian router');
    assert.equal(f.upnp.presentationURL, `http://${L().gatewayAddress('u')}/`);
    assert.equal(f.externalIp, L().publicAddress('u'));
    assert.equal(f.externalIpKind, 'public');
  });

  test('reachability check: open, closed and filtered ports, checked from the server\'s second address', async () => {
    if (!rv) throw new Error('no rendezvous');
    const open = drive('u1', 'map', { ports: [{ proto: 'tcp', internalPort: 45000 }, { proto: 'udp', internalPort: 45000 }], description: 'Postern OPEN', listen: true });
    const closed = drive('u1', 'map', { ports: [{ proto: 'tcp', internalPort: 45001 }, { proto: 'udp', internalPort: 45001 }], description: 'Postern CLOSED' });
    await Promise.all([open.next('started'), closed.next('started')]);
    const results = await runDriver('u1', 'reach', { url: rv.url, checks: [{ tcpPort: 45000, udpPort: 45000 }, { tcpPort: 45001, udpPort: 45001 }, { tcpPort: 45002, udpPort: 45002 }] });
    const got = results.map((r) => { const x = r.result as { tcp?: string; udp?: string; observedIp: string; from?: string } | undefined; return x ? [x.tcp, x.udp, x.observedIp, x.from] : [r.error]; });
    const ext = L().publicAddress('u');
    const from = L().serverAddresses[1];
    assert.deepEqual(got, [
      ['reachable', 'reachable', ext, from],
      ['closed', 'closed', ext, from],
      ['filtered', 'no-answer', ext, from],
    ]);
    for (const d of [open, closed]) { d.send('stop'); await d.next('stopped'); }
  });

  test('a transfer from behind a UPnP router to behind a symmetric NAT ends on tier upnp', async () => {
    if (!rv) throw new Error('no rendezvous');
    const r = await transfer(L(), { from: 'u1', to: 's1', rendezvous: rv.url, bytes: 2 << 20, timeoutMs: 40_000 });
    assert.equal(r.reason, undefined, JSON.stringify(r.receive.events.filter((e) => e.event === 'attempt')));
    assert.equal(r.tier, 'upnp');
    assert.equal(r.sha256Match, true);
    // The sender removed its mapping when it quit.
    assert.doesNotMatch(leases('u'), /Postern [A-Z2-7]{4}-[A-Z2-7]{4}/);
  });
});
