/**
 * The network lab's command line (`npm run lab -- …`):
 *   up       [--site NAME=BEHAVIOUR]… [--latency MS] [--rate MBIT] [--loss PCT] [--check]
 *            build a lab, print its hosts, keep it until Ctrl-C (then tear it down)
 *   selftest [--site NAME=BEHAVIOUR]…   build, prove every behaviour (selftest.ts), tear down; exit 1 on a failed check
 *   matrix   [--behaviours B,B,…] [--size MIB] [--timeout S] [--latency MS] [--rate MBIT] [--loss PCT] [--fake] [--relay]
 *            postern send/receive between every pair of behaviours; results in .lab-results/
 *   repeat   --pair SENDER,RECEIVER [--runs N] [--size MIB] [--timeout S] [--latency MS] [--relay]
 *            the same transfer N times from cold NATs: first-attempt success rate, tiers, median connect
 *   status   list labs on this machine (live or stale)
 *   down     [--all]   remove stale labs (owner gone); --all also live ones
 * BEHAVIOUR is "nat[+modifier…]" (spec.ts), e.g. symmetric+cgnat, port-restricted+upnp+natpmp.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Lab, labUnavailable } from './lab.js';
import { DEFAULT_BEHAVIOURS, runMatrix } from './matrix.js';
import { runRepeat } from './repeat.js';
import { nsPids } from './netns.js';
import { SELFTEST_SITES, selfTestInternet, selfTestSite, type Check } from './selftest.js';
import { formatBehaviour, parseBehaviour, type SiteSpec } from './spec.js';
import { listLabs, removeLab, removeStale } from './state.js';

const USAGE = `usage: lab up|selftest|matrix|repeat|status|down [options]  (see e2e/lab/cli.ts, docs/lab.md)`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    site: { type: 'string', multiple: true },
    behaviours: { type: 'string' },
    pair: { type: 'string' },
    runs: { type: 'string' },
    latency: { type: 'string' },
    rate: { type: 'string' },
    loss: { type: 'string' },
    size: { type: 'string' },
    timeout: { type: 'string' },
    out: { type: 'string' },
    check: { type: 'boolean' },
    fake: { type: 'boolean' },
    relay: { type: 'boolean' },
    all: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

const log = (l: string): void => { process.stderr.write(`${l}\n`); };
const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const shape = {
  ...(values.latency !== undefined ? { latencyMs: Number(values.latency) } : {}),
  ...(values.rate !== undefined ? { rateMbit: Number(values.rate) } : {}),
  ...(values.loss !== undefined ? { lossPct: Number(values.loss) } : {}),
};

function sitesFromArgs(fallback: SiteSpec[]): SiteSpec[] {
  if (!values.site?.length) return fallback;
  return values.site.map((s) => {
    const [name, behaviour] = s.split('=');
    if (!name || !behaviour) throw new Error(`--site wants NAME=BEHAVIOUR, got "${s}"`);
    return { name, ...parseBehaviour(behaviour) };
  });
}

function describeLab(lab: Lab): string {
  const rows: string[] = [`lab ${lab.id} is up (state in ${lab.dir})`];
  if (lab.hosts.includes('server')) {
    rows.push(`  server      ${lab.serverAddresses.join(', ')} / ${lab.serverAddresses6.join(', ')}   ns ${lab.namespace('server')}`);
  }
  for (const name of lab.sites) {
    const s = lab.site(name);
    rows.push(`  site ${name}: ${formatBehaviour(s.spec)}, public ${s.public4}, router WAN ${s.wan4}, gateway ${s.addresses.gateway4}, router ns ${s.routerNs}${s.cgnNs ? `, CGN ns ${s.cgnNs}` : ''}`);
    for (const h of s.hosts) rows.push(`    ${h.name.padEnd(10)} ${h.v4}${h.v6 ? ` ${h.v6}` : ''}   ns ${h.ns}`);
  }
  const first = lab.hosts[0] ?? 'a1';
  rows.push('', `  a shell on a host:   ip netns exec ${lab.namespace(first)} bash`);
  if (lab.sites[0]) {
    const r = lab.site(lab.sites[0]).routerNs;
    rows.push(`  a router's rules:    ip netns exec ${r} nft list ruleset`, `  its NAT table:       ip netns exec ${r} conntrack -L`);
  }
  return rows.join('\n');
}

function printChecks(checks: Check[]): boolean {
  for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.site.padEnd(16)} ${c.name.padEnd(20)} ${c.detail}`);
  const failed = checks.filter((c) => !c.ok).length;
  console.log(`${checks.length - failed} passed, ${failed} failed`);
  return failed === 0;
}

async function main(): Promise<number> {
  const cmd = positionals[0];
  if (values.help || !cmd) { console.log(USAGE); return cmd ? 0 : 2; }
  if (cmd === 'status') {
    const labs = await listLabs();
    if (labs.length === 0) console.log('no labs');
    for (const l of labs) {
      const pids = (await Promise.all(l.namespaces.map(nsPids))).flat();
      console.log(`lab ${l.id}: ${l.alive ? `live, owner pid ${l.owner?.pid}` : 'STALE (owner gone)'}, ${l.namespaces.length} namespaces, ${pids.length} processes in them${l.owner ? `, started ${l.owner.created} by ${l.owner.argv.join(' ')}` : ''}`);
    }
    return 0;
  }
  if (cmd === 'down') {
    const removed = await removeStale(log);
    if (values.all) {
      for (const l of await listLabs()) {
        log(`removing live lab ${l.id} (owner ${l.owner?.pid ?? '?'})`);
        await removeLab(l.id, l.namespaces);
        removed.push(l.id);
      }
    }
    console.log(removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove');
    return 0;
  }
  const why = await labUnavailable({ gateways: true });
  if (why) { console.error(`lab: ${why}`); return 1; }

  if (cmd === 'up') {
    const lab = await Lab.up({ sites: sitesFromArgs([{ name: 'a', nat: 'port-restricted' }, { name: 'b', nat: 'symmetric' }]), ...shape, log });
    console.log(describeLab(lab));
    if (values.check) printChecks((await Promise.all([selfTestInternet(lab), ...lab.sites.map((s) => selfTestSite(lab, s))])).flat());
    console.log('\nCtrl-C tears the lab down.');
    setInterval(() => undefined, 1 << 30); // the lab's SIGINT/SIGTERM handler removes it and exits
    return new Promise<number>(() => undefined);
  }
  if (cmd === 'selftest') {
    const t0 = Date.now();
    const lab = await Lab.up({ sites: sitesFromArgs(SELFTEST_SITES), ...shape, log });
    try {
      const ok = printChecks((await Promise.all([selfTestInternet(lab), ...lab.sites.map((s) => selfTestSite(lab, s))])).flat());
      log(`self-test took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return ok ? 0 : 1;
    } finally {
      await lab.down();
    }
  }
  if (cmd === 'matrix') {
    const fake = [process.execPath, '--import', 'tsx', fileURLToPath(new URL('./fake-postern.ts', import.meta.url))];
    const size = num(values.size);
    const timeout = num(values.timeout);
    const { markdown, jsonPath, mdPath } = await runMatrix({
      behaviours: values.behaviours ? values.behaviours.split(',') : DEFAULT_BEHAVIOURS,
      ...(size !== undefined ? { bytes: Math.round(size * (1 << 20)) } : {}),
      ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
      ...(values.out ? { outDir: values.out } : {}),
      ...(values.fake ? { cli: fake } : {}),
      ...(values.relay ? { relay: true } : {}),
      ...shape,
      log,
    });
    console.log(markdown);
    log(`wrote ${jsonPath}\nwrote ${mdPath}`);
    return 0;
  }
  if (cmd === 'repeat') {
    const [sender, receiver] = (values.pair ?? '').split(',');
    if (!sender || !receiver) { console.error('repeat wants --pair SENDER,RECEIVER'); return 2; }
    const size = num(values.size);
    const timeout = num(values.timeout);
    const { markdown, jsonPath, report } = await runRepeat({
      sender, receiver, runs: num(values.runs) ?? 30,
      ...(size !== undefined ? { bytes: Math.round(size * (1 << 20)) } : {}),
      ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
      ...(values.out ? { outDir: values.out } : {}),
      ...(values.relay ? { relay: true } : {}),
      ...shape,
      log,
    });
    console.log(markdown);
    log(`wrote ${jsonPath}`);
    return report.summary.ok === report.summary.runs ? 0 : 1;
  }
  console.error(USAGE);
  return 2;
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`lab: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
