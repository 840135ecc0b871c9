/**
 * The port mapper against a fake gateway on 127.0.0.1 (fake-gateway.ts, in
 * miniupnpd's byte formats): each protocol maps, renews at half-life, removes on
 * stop; taken ports move; UPnP 725 gives a permanent mapping removed on exit;
 * leftovers of a crashed run are removed at the next start; hostile answers
 * give clear errors. The same flows against real miniupnpd are in
 * e2e/lab/portmap.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeGateway, type FakeGatewayOptions } from './fake-gateway.js';
import { PortMapper, type PortMapperOptions, type Scheduler } from './port-mapper.js';
import { routerFacts } from './probe.js';
import type { GatewayProtocol } from './errors.js';

/** A scheduler whose timers run only when the test says so. */
class ManualScheduler implements Scheduler {
  t = 1_000_000;
  timers: { at: number; fn: () => void; cancelled: boolean }[] = [];
  now(): number { return this.t; }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, cancelled: false };
    this.timers.push(timer);
    return () => { timer.cancelled = true; };
  }
  get pending(): number[] { return this.timers.filter((x) => !x.cancelled).map((x) => x.at - this.t); }
  /** Advance to the next timer and run it. */
  fire(): void {
    const next = this.timers.filter((x) => !x.cancelled).sort((a, b) => a.at - b.at)[0];
    if (!next) throw new Error('no timer');
    this.t = next.at;
    next.cancelled = true;
    next.fn();
  }
}

const dirs: string[] = [];
const gateways: FakeGateway[] = [];
after(async () => {
  for (const g of gateways) await g.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function setup(gw: FakeGatewayOptions, opts: Partial<PortMapperOptions> = {}, protocols?: GatewayProtocol[]) {
  const g = await FakeGateway.start(gw);
  gateways.push(g);
  const dataDir = opts.dataDir ?? await mkdtemp(join(tmpdir(), 'postern-portmap-'));
  dirs.push(dataDir);
  const sched = new ManualScheduler();
  const make = (extra: Partial<PortMapperOptions> = {}) => new PortMapper({
    ...g.target, ports: [{ proto: 'tcp', internalPort: 41000 }, { proto: 'udp', internalPort: 41001 }],
    description: 'Postern TEST-ABCD', dataDir, scheduler: sched, mapWaitMs: 30, ...(protocols ? { protocols } : {}), ...opts, ...extra,
  });
  return { g, sched, dataDir, make };
}

const waitFor = async (cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

for (const [name, gw, protocol] of [
  ['NAT-PMP', { natpmp: true }, 'natpmp'],
  ['PCP', { pcp: true }, 'pcp'],
  ['UPnP IGD v1', { upnp: 1 }, 'upnp'],
  ['UPnP IGD v2', { upnp: 2 }, 'upnp'],
] as const) {
  describe(`${name}: map, renew at half-life, remove on stop`, () => {
    test('lifecycle', async () => {
      const { g, sched, dataDir, make } = await setup(gw);
      const m = make();
      const changes: string[] = [];
      m.on('change', (s) => changes.push(s.status));
      const s = await m.start();
      assert.equal(s.status, 'mapped', JSON.stringify(s.errors));
      assert.equal(s.mappings.length, 2);
      const tcp = s.mappings.find((x) => x.proto === 'tcp');
      assert.ok(tcp);
      assert.equal(tcp.protocol, protocol);
      assert.equal(tcp.externalIp, '80.16.9.2');
      assert.equal(tcp.externalPort, 41000);
      assert.equal(tcp.internalPort, 41000);
      assert.equal(tcp.leaseSec, 7200);
      assert.equal(tcp.expiresAt, sched.t + 7200_000);
      assert.equal(tcp.nextRenewalAt, sched.t + 3600_000);
      assert.equal(s.externalIpKind, 'public');
      assert.deepEqual(changes, ['probing', 'mapped']);
      assert.deepEqual(sched.pending, [3600_000, 3600_000]);
      assert.equal(g.mappings.size, 2);
      const rec = JSON.parse(await readFile(join(dataDir, 'portmap.json'), 'utf8')) as { mappings: { protocol: string; nonce?: string }[] };
      assert.equal(rec.mappings.length, 2);
      assert.equal(rec.mappings[0]?.protocol, protocol);
      if (protocol === 'pcp') assert.match(rec.mappings[0]?.nonce ?? '', /^[0-9a-f]{24}$/);

      // Half-life: the renewal extends the lease.
      const seenBefore = g.seen.length;
      sched.fire();
      await waitFor(() => m.state.mappings.some((x) => x.lastRenewedAt === sched.t));
      const renewed = m.state.mappings.find((x) => x.lastRenewedAt === sched.t);
      assert.ok(renewed);
      assert.equal(renewed.expiresAt, sched.t + 7200_000);
      assert.ok(g.seen.slice(seenBefore).some((l) => /renew|AddPortMapping/.test(l)), g.seen.slice(seenBefore).join('\n'));

      await m.stop();
      assert.equal(m.state.status, 'stopped');
      assert.equal(g.mappings.size, 0, 'removed on stop');
      const after = JSON.parse(await readFile(join(dataDir, 'portmap.json'), 'utf8')) as { mappings: unknown[] };
      assert.equal(after.mappings.length, 0);
    });
  });
}

test('preference: PCP over NAT-PMP over UPnP when a gateway speaks all three', async () => {
  const { make } = await setup({ natpmp: true, pcp: true, upnp: 2 });
  const m = make();
  const s = await m.start();
  assert.deepEqual(s.mappings.map((x) => x.protocol), ['pcp', 'pcp']);
  assert.deepEqual(s.probes.map((p) => [p.protocol, p.available]), [['pcp', true], ['natpmp', true], ['upnp', true]]);
  assert.equal(s.router?.upnp?.friendlyName, 'Postern lab router');
  await m.stop();
});

test('a taken port leads to another port (NAT-PMP, PCP, IGD v2 by the gateway; IGD v1 after 718)', async () => {
  for (const gw of [{ natpmp: true }, { pcp: true }, { upnp: 2 as const }, { upnp: 1 as const }]) {
    const { g, make } = await setup({ ...gw, taken: [41000] });
    const m = make({ ports: [{ proto: 'tcp', internalPort: 41000 }] });
    const s = await m.start();
    assert.equal(s.status, 'mapped', JSON.stringify(gw));
    assert.notEqual(s.mappings[0]?.externalPort, 41000, JSON.stringify(gw));
    if (gw.upnp === 1) assert.ok(g.seen.some((l) => l === 'upnp AddPortMapping 41000 7200'));
    await m.stop();
    assert.equal(g.mappings.size, 0);
  }
});

test('UPnP 725 OnlyPermanentLeasesSupported: a permanent mapping, not renewed, removed on exit', async () => {
  const { g, sched, make } = await setup({ upnp: 1, onlyPermanent: true });
  const m = make({ ports: [{ proto: 'tcp', internalPort: 41000 }] });
  const s = await m.start();
  assert.equal(s.mappings[0]?.permanent, true);
  assert.equal(s.mappings[0]?.leaseSec, 0);
  assert.equal(s.mappings[0]?.expiresAt, null);
  assert.equal(s.mappings[0]?.nextRenewalAt, null);
  assert.deepEqual(sched.pending, []);
  assert.deepEqual(g.seen.filter((l) => l.startsWith('upnp Add')), ['upnp AddPortMapping 41000 7200', 'upnp AddPortMapping 41000 0']);
  await m.stop();
  assert.equal(g.mappings.size, 0);
});

test('crash: the next start removes what the last run left (record, and UPnP by description)', async () => {
  for (const gw of [{ natpmp: true }, { pcp: true }, { upnp: 2 as const }]) {
    const { g, make } = await setup(gw);
    const first = make({ ports: [{ proto: 'tcp', internalPort: 41000 }] });
    await first.start();
    assert.equal(g.mappings.size, 1);
    // "Crash": first is never stopped. The next run listens on another port.
    const second = make({ ports: [{ proto: 'tcp', internalPort: 42000 }] });
    const s = await second.start();
    assert.equal(s.cleanedUp, 1, JSON.stringify(gw));
    assert.deepEqual([...g.mappings.values()].map((x) => x.internalPort), [42000], JSON.stringify(gw));
    await second.stop();
  }
  // UPnP without a record (say it could not be written): found by description and our address.
  const { g, make } = await setup({ upnp: 2 });
  await make({ ports: [{ proto: 'tcp', internalPort: 41000 }], dataDir: undefined as unknown as string }).start();
  g.mappings.set('tcp:5555', { proto: 'tcp', externalPort: 5555, internalPort: 5555, client: '127.0.0.1', lifetime: 0, description: 'someone else' });
  const again = make({ ports: [{ proto: 'tcp', internalPort: 43000 }] });
  const s = await again.start();
  assert.equal(s.cleanedUp, 1);
  assert.deepEqual([...g.mappings.keys()].sort(), ['tcp:43000', 'tcp:5555']);
  await again.stop();
});

test('a failed renewal is retried and reported; a lease that runs out is dropped', async () => {
  const { g, sched, make } = await setup({ natpmp: true }, { leaseSec: 120, retryMs: 10_000 });
  const m = make({ ports: [{ proto: 'tcp', internalPort: 41000 }] });
  await m.start();
  g.o.failRenewals = 4; // OUT_OF_RESOURCES
  sched.fire(); // at 60 s
  await waitFor(() => m.state.mappings[0]?.lastError !== null);
  assert.match(m.state.mappings[0]?.lastError?.message ?? '', /NAT-PMP 4 OUT_OF_RESOURCES/);
  assert.equal(m.state.mappings[0]?.lastError?.code, 'NATPMP_4');
  assert.deepEqual(sched.pending, [10_000]);
  for (let i = 0; i < 10 && m.state.mappings.length; i++) {
    const before = m.state.errors.length;
    sched.fire();
    await waitFor(() => m.state.errors.length > before);
  }
  assert.equal(m.state.mappings.length, 0);
  // The status follows the last mapping's removal a moment later.
  await waitFor(() => m.state.status !== 'mapped');
  assert.equal(m.state.status, 'failed');
  g.o.failRenewals = undefined;
  await m.stop();
});

test('behind a CGN: PCP NO_RESOURCES names a 100.64 address; reported as cgnat, nothing mapped', async () => {
  const { make } = await setup({ pcp: true, resultCode: 8, externalIp: '100.64.3.2' });
  const s = await make().start();
  assert.equal(s.status, 'failed');
  assert.equal(s.externalIp, '100.64.3.2');
  assert.equal(s.externalIpKind, 'cgnat');
  assert.match(s.errors[0]?.message ?? '', /^PCP 8 NO_RESOURCES/);
  assert.equal(s.errors[0]?.code, 'PCP_8');
});

test('hostile gateways: clear errors, never a crash', async () => {
  const cases: [FakeGatewayOptions, GatewayProtocol[], RegExp][] = [
    [{ pcp: true, pcpWrongNonce: true }, ['pcp'], /PCP: no valid answer .*nonce does not match/],
    [{ pcp: true, truncate: 40 }, ['pcp'], /PCP: no valid answer .*(too short|multiple of 4)/],
    [{ natpmp: true, truncate: 10 }, ['natpmp'], /NAT-PMP: no valid answer .*too short/],
    [{ natpmp: true, resultCode: 2 }, ['natpmp'], /NAT-PMP 2 NOT_AUTHORIZED/],
    [{ upnp: 2, soapOverride: { status: 500, body: '<html>Internal error</html>' } }, ['upnp'], /unreadable \(HTTP 500\): not a SOAP answer/],
    [{ upnp: 2, soapOverride: { status: 500, body: '<s:Envelope><s:Body><s:Fault>' } }, ['upnp'], /unreadable \(HTTP 500\): bad XML/],
    [{ upnp: 1, soapOverride: { status: 500, body: '<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError><errorCode>606</errorCode><errorDescription>Action not authorized</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>' } }, ['upnp'], /UPnP 606 Action not authorized/],
  ];
  for (const [gw, protocols, re] of cases) {
    const { make } = await setup(gw, {}, protocols);
    const s = await make({ ports: [{ proto: 'tcp', internalPort: 41000 }] }).start();
    assert.ok(s.status === 'failed' || s.status === 'unavailable', JSON.stringify(gw));
    assert.equal(s.mappings.length, 0);
    assert.match([...s.errors.map((e) => e.message), ...s.probes.map((p) => p.detail)].join('\n'), re, JSON.stringify(gw));
  }
  // Descriptions: oversized, broken, hostile.
  for (const [gw, re] of [
    [{ upnp: 2 as const, descriptionBytes: 70_000 }, /more than the 65536 bytes allowed/],
    [{ upnp: 2 as const, descriptionText: '<root><device>' }, /unreadable: bad XML/],
    [{ upnp: 2 as const, descriptionText: '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><root/>' }, /DOCTYPE/],
    [{ upnp: 2 as const, descriptionText: '<root><device><friendlyName>Printer</friendlyName></device></root>' }, /Printer has no WANIPConnection/],
  ] as const) {
    const { make } = await setup(gw, {}, ['upnp']);
    const s = await make().start();
    assert.equal(s.status, 'unavailable', JSON.stringify(gw).slice(0, 80));
    assert.match(s.probes[0]?.detail ?? '', re);
  }
});

test('no gateway answers: unavailable within about a second, with the reasons', async () => {
  const { make } = await setup({});
  const t0 = Date.now();
  const s = await make().start();
  assert.ok(Date.now() - t0 < 1500);
  assert.equal(s.status, 'unavailable');
  assert.deepEqual(s.probes.map((p) => p.errorCode), ['PORTMAP_TIMEOUT', 'PORTMAP_TIMEOUT', 'PORTMAP_TIMEOUT']);
});

test('router facts for the wizard', async () => {
  const { g } = await setup({ upnp: 2, natpmp: true });
  const f = await routerFacts(g.target);
  assert.equal(f.gateway, '127.0.0.1');
  assert.equal(f.upnp?.manufacturer, 'Debian');
  assert.equal(f.upnp?.modelName, 'Debian router');
  assert.equal(f.upnp?.modelNumber, '1');
  assert.equal(f.upnp?.friendlyName, 'Postern lab router');
  assert.equal(f.upnp?.presentationURL, 'http://127.0.0.1/admin');
  assert.equal(f.upnp?.igdVersion, 2);
  assert.match(f.upnp?.server ?? '', /FakeGateway/);
  assert.equal(f.protocols.natpmp.available, true);
  assert.equal(f.protocols.pcp.available, false);
  assert.equal(f.externalIp, '80.16.9.2');
  assert.equal(f.externalIpKind, 'public');
  assert.doesNotThrow(() => JSON.stringify(f));
});
