/**
 * The connection doctor, the ladder on screen and the port-forwarding wizard,
 * through the real UI, across the network lab's real kernel NATs (e2e/lab,
 * docs/lab.md). Each device is `postern host` on a lab host; its UI reaches
 * the browser in the root namespace through a Unix-socket bridge
 * (e2e/lab/ui-bridge.ts), so no lab namespace is routed to this machine.
 *
 *  1. Two symmetric NATs that drop UDP, a rendezvous without relay: Alice's
 *     connection to Bob fails with a reason for every tier, and the wizard
 *     opens with her LAN address, router and port. She fixes the port, the test
 *     adds her router's forwarding rule (an nft DNAT, as she would on hers),
 *     Test now fails first and then passes, and Bob's waiting transfer arrives
 *     over `direct` (Bob dials the forwarded port).
 *  2. Two port-restricted NATs: the ladder ends on `udp-punch`, with the
 *     earlier tiers' reasons.
 *  3. A carrier-grade NAT whose router answers UPnP: the doctor names the router
 *     and CGNAT, and the wizard says forwarding cannot help and what can.
 *
 * Needs root and the lab's tools (miniupnpd for case 3); skipped otherwise.
 * Screenshots go to docs/screenshots (11–20).
 */
import { test, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, labUnavailable } from './lab/lab.js';
import { POSTERN_BIN, startRendezvous, type Rendezvous } from './lab/transfer.js';
import { openLabHost, seedPair, type LabHost } from './lab/ui-bridge.js';
import { peerButton, screenshot, sha256, writeRandomFile } from './fixtures/flows.js';

const unavailable = await labUnavailable({ gateways: true });

test.describe.configure({ mode: 'serial' });

test.describe('connection doctor and port-forwarding wizard in the lab', () => {
  test.skip(!!unavailable, `lab not available: ${unavailable}`);

  let lab: Lab;
  let rv: Rendezvous;
  let dir: string;
  const hosts: LabHost[] = [];
  const contexts: BrowserContext[] = [];

  test.beforeAll(async () => {
    test.setTimeout(90_000);
    dir = await mkdtemp(join(tmpdir(), 'postern-e2e-lab-'));
    lab = await Lab.up({
      sites: [
        { name: 'a', nat: 'symmetric', udpBlocked: true },
        { name: 'b', nat: 'symmetric', udpBlocked: true },
        { name: 'c', nat: 'port-restricted' },
        { name: 'd', nat: 'port-restricted' },
        { name: 'g', nat: 'port-restricted', cgnat: true, gateway: ['upnp', 'natpmp', 'pcp'] },
      ],
      reflector: false,
    });
    rv = await startRendezvous(lab); // no --relay: nothing falls back on a relay
  });

  test.afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    for (const h of hosts) await h.close().catch(() => {});
    rv?.stop();
    await lab?.down();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(browser: Browser, host: string, name: string, sub: string): Promise<{ h: LabHost; page: Page }> {
    const h = await openLabHost(lab, host, { name, rendezvous: rv.url, dir: join(dir, sub) });
    hosts.push(h);
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    contexts.push(context);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(h.url).origin });
    const page = await context.newPage();
    await page.goto(h.url);
    await expect(page.getByRole('status', { name: /Rendezvous: Online/ })).toBeVisible();
    return { h, page };
  }

  const ladderRow = (page: Page, tier: string) => page.getByRole('table', { name: /^(Connection ladder|Connecting|Failed)/ }).first().locator(`tr[data-tier="${tier}"]`);

  test('symmetric NATs without UDP or relay: failed ladder, wizard, forward, test, direct', async ({ browser }) => {
    test.setTimeout(150_000);
    await seedPair({ dir: join(dir, 'alice'), name: 'Alice' }, { dir: join(dir, 'bob'), name: 'Bob' });
    const [{ h: alice, page: a }, { h: bob, page: b }] = await Promise.all([open(browser, 'a1', 'Alice', 'alice'), open(browser, 'b1', 'Bob', 'bob')]);
    await expect(peerButton(a, 'Bob')).toContainText('Online');
    await expect(peerButton(b, 'Alice')).toContainText('Online');

    // Bob has something for Alice: it waits until she is reachable.
    const outbox = join(dir, 'bob', 'outbox');
    await mkdir(outbox, { recursive: true });
    const file = join(outbox, 'for-alice.bin');
    await writeRandomFile(file, 3 * 1024 * 1024);
    await peerButton(b, 'Alice').click();
    await b.getByLabel(/Files or folders on this computer/).fill(file);
    await b.getByRole('button', { name: 'Send', exact: true }).click();

    // Alice connects to Bob: every tier fails, each with its reason; the wizard opens by itself.
    await peerButton(a, 'Bob').click();
    await a.getByRole('button', { name: 'Connect', exact: true }).click();
    const wizard = a.getByRole('dialog', { name: 'Port forwarding for Bob' });
    await expect(wizard).toBeVisible({ timeout: 40_000 });
    await expect(a.getByLabel('Connection', { exact: true }).getByText('Could not connect')).toBeVisible();
    await expect(ladderRow(a, 'lan')).toContainText(/Failed.*Not on the same network/);
    await expect(ladderRow(a, 'direct')).toContainText(/Failed.*No answer within 4 s at Bob's public address: its router lets nothing in/);
    await expect(ladderRow(a, 'reverse')).toContainText(/Failed.*Bob (tried to connect back but could not reach this computer|did not connect back)/);
    await expect(ladderRow(a, 'udp-punch')).toContainText(/Skipped.*UDP is blocked on this network/);
    await expect(ladderRow(a, 'tcp-punch')).toContainText(/Failed.*(No simultaneous TCP open|did not answer through the rendezvous)/);
    await expect(ladderRow(a, 'server-relay')).toContainText(/Failed.*does not relay/);

    // The facts it needs, measured.
    await expect(wizard.locator('[data-fact="lan"]')).toHaveText(lab.hostAddress('a1'));
    await expect(wizard.locator('[data-fact="gateway"]')).toHaveText(lab.gatewayAddress('a'));
    await expect(wizard.locator('[data-fact="public"]')).toHaveText(lab.publicAddress('a'));
    const randomPort = Number((await wizard.locator('[data-fact="port"]').textContent())?.replace(/\D/g, ''));
    expect(randomPort).toBeGreaterThan(0);
    await screenshot(a, '12-wizard-1-network');

    // The ladder behind it, on demand again afterwards.
    await wizard.getByRole('button', { name: 'Close the wizard' }).click();
    await expect(wizard).toBeHidden();
    await screenshot(a, '11-ladder-failed');
    await a.getByRole('button', { name: 'Port-forwarding wizard…' }).click();
    await expect(wizard).toBeVisible();

    // A fixed port first (the engine restarts on it).
    await wizard.getByRole('button', { name: `Keep port ${randomPort} fixed` }).click();
    const next = wizard.getByRole('button', { name: 'Next: forward the port' });
    await expect(next).toBeEnabled({ timeout: 30_000 });
    await expect(wizard.locator('[data-fact="port"]')).toHaveText(`TCP ${randomPort}`);
    await next.click();
    const rule = wizard.getByRole('table', { name: 'The rule to add' });
    await expect(rule.locator('[data-rule="external"]')).toHaveText(String(randomPort));
    await expect(rule.locator('[data-rule="internal"]')).toHaveText(String(randomPort));
    await expect(rule.locator('[data-rule="internal-ip"]')).toHaveText(lab.hostAddress('a1'));
    await expect(wizard).toContainText(`Reserve ${lab.hostAddress('a1')} for this computer`);
    await screenshot(a, '13-wizard-2-forward');
    await wizard.getByRole('button', { name: 'Next: test it' }).click();

    // Not yet forwarded: the test says so, and the wizard stays on the test.
    await wizard.getByRole('button', { name: 'Test now' }).click();
    const result = wizard.getByRole('status', { name: 'Test result' });
    await expect(result).toContainText('Not reachable yet', { timeout: 20_000 });
    await expect(result.locator('[data-proto="tcp"]')).toContainText(`TCP ${randomPort}: blocked`);
    await screenshot(a, '14-wizard-3-test-failed');

    // What Alice does on her router: forward TCP port → her computer.
    const wan = lab.routerWan('a');
    const add = await lab.execRouter('a', 'nft', ['add', 'rule', 'inet', 'lab', 'dstnat', 'iifname', '"wan"', 'ip', 'daddr', wan, 'tcp', 'dport', String(randomPort),
      'counter', 'dnat', 'ip', 'to', `${lab.hostAddress('a1')}:${randomPort}`, 'comment', '"Postern (added by the user)"']);
    expect(add.code, add.stderr).toBe(0);
    // Bob's own retries run a ladder now and then; test while none is under way, so Bob's next try is the one Alice's opening starts.
    await expect(b.getByLabel('Connection', { exact: true })).not.toContainText('Connecting', { timeout: 30_000 });

    await wizard.getByRole('button', { name: 'Test again' }).click();
    await expect(wizard.getByRole('status', { name: 'Port open' })).toContainText(`Port ${randomPort} is open`, { timeout: 20_000 });
    await expect(wizard.getByRole('status', { name: 'Connection to the device' })).toContainText('Connected to Bob', { timeout: 30_000 });
    await expect(wizard.getByRole('status', { name: 'Connection to the device' })).toContainText('Direct');
    await screenshot(a, '15-wizard-4-connected');
    await wizard.getByRole('button', { name: 'Done' }).click();

    // Bob's transfer, which waited, arrives over the forwarded port.
    const offer = a.getByRole('region', { name: 'Incoming offers' }).getByRole('article', { name: 'Offer from Bob' });
    await offer.getByRole('button', { name: 'Accept' }).click();
    await expect(a.getByRole('status', { name: 'State of for-alice.bin' })).toHaveText('Received from Bob', { timeout: 30_000 });
    expect(await sha256(join(alice.downloadDir, 'for-alice.bin'))).toBe(await sha256(file));
    await expect(a.getByLabel('Connection', { exact: true })).toContainText('Direct');
    await expect(b.getByLabel('Connection', { exact: true })).toContainText('Direct');
    await expect(a.locator('.in-use-line')).toContainText('Direct');
    // The failed ladder stays on screen, folded, under the tier now in use.
    await a.getByText('Earlier attempts (1)').click();
    await expect(a.getByRole('table', { name: /^Failed — started/ })).toContainText('Not on the same network');
    await screenshot(a, '16-ladder-direct');
    const counter = await lab.execRouter('a', 'nft', ['list', 'chain', 'inet', 'lab', 'dstnat']);
    expect(counter.stdout).toMatch(new RegExp(`tcp dport ${randomPort} counter packets [1-9]`));

    // The command line says the same: `postern doctor` on Alice's computer checks the app's port (it holds it).
    const cli = await lab.exec('a1', process.execPath, [POSTERN_BIN, 'doctor', '--json', '--no-gateway', '--rendezvous', rv.url, '--data', alice.dataDir], { timeoutMs: 30_000 });
    const line = JSON.parse(cli.stdout.split('\n').find((l) => l.startsWith('{"event":"doctor"')) ?? '{}') as { reachability?: { ok: boolean; tcp: { port: number } }; udp?: string; natType?: string };
    expect(line.reachability?.ok).toBe(true);
    expect(line.reachability?.tcp.port).toBe(randomPort);
    expect(line.udp).toBe('blocked');

    // The doctor now: reachable, UDP blocked, the router not answering any mapping protocol.
    await a.getByRole('button', { name: 'Doctor', exact: true }).click();
    await expect(a.getByRole('status', { name: 'Verdict' })).toContainText(`TCP port ${randomPort} is open at ${lab.publicAddress('a')}`);
    await expect(a.locator('.finding-bad')).toContainText('UDP does not get out');
    await expect(a.getByRole('region', { name: 'Router' })).toContainText(/no gateway answered PCP in \d+ ms/);
    await screenshot(a, '20-doctor-reachable');
    void bob;
  });

  test('port-restricted NATs: the ladder ends on udp-punch, with the earlier tiers\' reasons', async ({ browser }) => {
    await seedPair({ dir: join(dir, 'carol'), name: 'Carol' }, { dir: join(dir, 'dave'), name: 'Dave' });
    const [{ page: c }] = await Promise.all([open(browser, 'c1', 'Carol', 'carol'), open(browser, 'd1', 'Dave', 'dave')]);
    await expect(peerButton(c, 'Dave')).toContainText('Online');
    await peerButton(c, 'Dave').click();
    await c.getByRole('button', { name: 'Connect', exact: true }).click();
    await expect(c.getByLabel('Connection', { exact: true })).toContainText('UDP punch', { timeout: 30_000 });
    await expect(ladderRow(c, 'udp-punch')).toContainText(/Worked.*in use.*Hole punched: a UDP path through both routers/);
    await expect(ladderRow(c, 'lan')).toContainText(/Failed.*Not on the same network/);
    for (const tier of ['direct', 'reverse']) await expect(ladderRow(c, tier)).toContainText(/(Failed|Skipped).+/);
    await expect(c.getByRole('dialog')).toBeHidden();
    await screenshot(c, '17-ladder-udp-punch');
  });

  test('carrier-grade NAT: the doctor names the router and CGNAT, the wizard says forwarding cannot help', async ({ browser }) => {
    const { page: g } = await open(browser, 'g1', 'Gina', 'gina');
    await g.getByRole('button', { name: 'Doctor', exact: true }).click();
    const router = g.getByRole('region', { name: 'Router' });
    await expect(router).toContainText(/UPnP\s*answered/, { timeout: 20_000 });
    // The make and model UPnP's device description gives (miniupnpd's, in the lab).
    const model = router.locator('.fact', { hasText: 'Make and model' }).locator('dd');
    await expect(model).not.toContainText('unknown');
    const modelText = (await model.textContent())?.trim() ?? '';
    const internet = g.getByRole('region', { name: 'Internet' });
    await expect(internet).toContainText(/CGNAT\s*yes:.*100\.64/);
    await expect(g.getByRole('status', { name: 'Verdict' })).toContainText('carrier-grade NAT');
    await g.getByRole('button', { name: 'Check reachability' }).click();
    await expect(g.getByRole('region', { name: 'Reachable from outside?' })).toContainText(/TCP \d+: blocked/, { timeout: 20_000 });
    await screenshot(g, '18-doctor-cgnat');

    // The report for support: redacted, IPs kept.
    await g.getByRole('button', { name: 'Copy report' }).click();
    await g.getByText('The copied report').click();
    const report = await g.getByLabel('Report for support').inputValue();
    expect(report).toContain('Redacted for support');
    expect(report).toContain(lab.publicAddress('g'));
    expect(report).toContain('carrier-grade NAT');
    expect(report).not.toContain('Gina');
    expect(report).toContain('"kind": "postern-doctor-report"');

    await g.getByRole('button', { name: 'Port-forwarding wizard…' }).click();
    const wizard = g.getByRole('dialog', { name: 'Port forwarding' });
    const cannot = wizard.getByRole('note', { name: 'Forwarding cannot help' });
    await expect(cannot).toContainText('carrier-grade NAT');
    await expect(cannot).toContainText(/relays/);
    await expect(cannot).toContainText(/public IPv4 address/);
    await expect(wizard.locator('[data-fact="router-model"]')).toContainText(modelText);
    await expect(wizard.getByRole('button', { name: 'Next: forward the port' })).toHaveCount(0);
    await screenshot(g, '19-wizard-cgnat');
  });
});
