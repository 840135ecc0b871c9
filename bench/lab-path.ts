/**
 * `npm run bench -- lab-path`: Postern on a shaped internet path in the network
 * lab (root only), against baselines measured on the same path in the same run:
 *  - goodput of tier `direct` (TCP), tier `udp-punch` (UDX over UDP) and the
 *    server relay, on a path shaped to RATE Mbit/s with a 50 ms round trip
 *    (13 + 12 ms on the two access links), against the shaped rate and a raw
 *    TCP stream; the same again with about 1% loss;
 *  - the relay server's CPU seconds per relayed GiB;
 *  - the median time from `receive` start to an authenticated channel for the
 *    easy-NAT cells (25 ms one way per access link, as the lab matrix).
 */
import { Lab, labUnavailable } from '../e2e/lab/lab.js';
import { startRendezvous, transfer, type TransferResult } from '../e2e/lab/transfer.js';
import type { ConnectedTier } from '../shared/domain/connection.js';
import { median, readProc, round, MiB, type BenchModule, type BenchReport } from './common.js';

const ALL_BUT = (keep: ConnectedTier[]): string => (['lan', 'direct', 'reverse', 'udp-punch', 'tcp-punch', 'server-relay'] as ConnectedTier[]).filter((t) => !keep.includes(t)).join(',');

/** A raw TCP stream of `bytes` from one host to another on the lab path (the baseline). */
async function rawTcp(lab: Lab, from: string, to: string, bytes: number): Promise<number> {
  const port = 5201;
  const server = lab.spawn(to, process.execPath, ['-e', `
    const net = require('node:net'); let n = 0, t0 = 0;
    net.createServer((s) => { s.on('data', (d) => { if (!t0) t0 = performance.now(); n += d.length; });
      s.on('end', () => { console.log(JSON.stringify({ bytes: n, ms: performance.now() - t0 })); process.exit(0); }); })
      .listen(${port}, () => console.log('ready'));`]);
  await new Promise<void>((resolve, reject) => {
    server.stdout?.once('data', () => resolve());
    server.once('exit', (c) => reject(new Error(`raw TCP server exited ${c}`)));
  });
  const out = new Promise<string>((resolve) => { let s = ''; server.stdout?.on('data', (d: Buffer) => { s += d.toString(); if (s.includes('}')) resolve(s); }); });
  await lab.exec(from, process.execPath, ['-e', `
    const s = require('node:net').connect(${port}, '${lab.hostAddress(to)}'); const buf = Buffer.alloc(1 << 20, 7); let left = ${bytes};
    const pump = () => { while (left > 0) { left -= buf.length; if (!s.write(buf)) return s.once('drain', pump); } s.end(); };
    s.on('connect', pump);`], { timeoutMs: 180_000 });
  const res = JSON.parse((await out).trim().split('\n').pop() as string) as { bytes: number; ms: number };
  return res.bytes / (res.ms / 1000);
}

async function goodput(lab: Lab, rv: string, tiers: ConnectedTier[], bytes: number): Promise<TransferResult> {
  return transfer(lab, { from: 'p1', to: 'q1', rendezvous: rv, bytes, timeoutMs: 240_000, env: { POSTERN_DISABLE_TIERS: ALL_BUT(tiers) } });
}

const mbit = (bytesPerSec: number | undefined) => (bytesPerSec ? round((bytesPerSec * 8) / 1e6, 1) : null);

async function shapedPath(rate: number, lossPct: number, bytes: number, rows: BenchReport['rows'], data: Record<string, unknown>): Promise<void> {
  const lab = await Lab.up({ sites: [{ name: 'p', nat: 'public', latencyMs: 13, rateMbit: rate, lossPct: lossPct / 2 }, { name: 'q', nat: 'public', latencyMs: 12, rateMbit: rate, lossPct: lossPct / 2 }], reflector: false });
  const rv = await startRendezvous(lab, { relay: true });
  try {
    const label = `${rate} Mbit/s, 50 ms RTT${lossPct ? `, ~${lossPct}% loss` : ''}`;
    const tcp = await rawTcp(lab, 'p1', 'q1', bytes);
    rows.push({ path: label, what: 'raw TCP stream (baseline)', tier: '-', mbit: mbit(tcp), 'of rate': round((tcp * 8) / 1e6 / rate, 2), 'vs TCP': 1 });
    const results: Record<string, unknown> = { rawTcpBytesPerSec: tcp };
    for (const tier of ['direct', 'udp-punch', 'server-relay'] as ConnectedTier[]) {
      const before = rv.child.pid ? readProc(rv.child.pid)?.cpuSec ?? 0 : 0;
      const r = await goodput(lab, rv.url, [tier], bytes);
      const after = rv.child.pid ? readProc(rv.child.pid)?.cpuSec ?? 0 : 0;
      const bps = r.bytesPerSec ?? 0;
      results[tier] = { tier: r.tier, bytesPerSec: bps, reason: r.reason, relayCpuSec: after - before };
      rows.push({
        path: label, what: `postern, tier forced`, tier: r.tier, mbit: mbit(bps), 'of rate': round((bps * 8) / 1e6 / rate, 2), 'vs TCP': round(bps / tcp, 2),
        ...(tier === 'server-relay' ? { 'relay CPU s/GiB': round(((after - before) / bytes) * 1024 * MiB, 2) } : {}),
      });
    }
    data[label] = results;
  } finally {
    rv.stop();
    await lab.down();
  }
}

async function connectTimes(runs: number, rows: BenchReport['rows'], data: Record<string, unknown>): Promise<void> {
  const lab = await Lab.up({
    sites: [
      { name: 'p', nat: 'public' }, { name: 'f', nat: 'full-cone' }, { name: 'a', nat: 'port-restricted' }, { name: 'b', nat: 'port-restricted' },
      { name: 'q', nat: 'symmetric-sequential' }, { name: 'r', nat: 'symmetric-sequential' }, { name: 's', nat: 'symmetric' }, { name: 'c', nat: 'port-restricted', cgnat: true },
    ],
    reflector: false, latencyMs: 25,
  });
  const rv = await startRendezvous(lab);
  try {
    const cells = [
      ['p1', 'a1', 'public → port-restricted'], ['a1', 'p1', 'port-restricted → public'], ['f1', 'a1', 'full-cone → port-restricted'],
      ['a1', 'b1', 'port-restricted ↔ port-restricted'], ['c1', 'a1', 'port-restricted+cgnat → port-restricted'],
      ['s1', 'a1', 'symmetric → port-restricted'], ['q1', 'a1', 'symmetric-sequential → port-restricted'], ['q1', 'r1', 'symmetric-sequential ↔ symmetric-sequential'],
    ] as const;
    for (const [from, to, name] of cells) {
      const ms: number[] = [];
      const tiers = new Set<string>();
      for (let i = 0; i < runs; i++) {
        const r = await transfer(lab, { from, to, rendezvous: rv.url, bytes: 64 * 1024, timeoutMs: 60_000, env: { POSTERN_USE_DIST: '1' } });
        tiers.add(r.tier);
        if (r.connectMs !== undefined) ms.push(r.connectMs);
      }
      rows.push({ path: '25 ms one way per link', what: `connect: ${name}`, tier: [...tiers].join('/'), 'median connect ms': Math.round(median(ms)), runs });
      data[`connect ${name}`] = { ms, tiers: [...tiers] };
    }
  } finally {
    rv.stop();
    await lab.down();
  }
}

const mod: BenchModule = {
  description: 'Goodput by tier on a shaped lab path (vs the rate and raw TCP), relay CPU per GiB, connect times per easy cell (root)',
  usage: 'npm run bench -- lab-path [--rate 100] [--mib 48] [--runs 5]',
  async run(argv) {
    const arg = (name: string, def: number) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? Number(argv[i + 1]) : def; };
    const rate = arg('rate', 100);
    const bytes = arg('mib', 48) * MiB;
    const runs = arg('runs', 5);
    const rows: BenchReport['rows'] = [];
    const data: Record<string, unknown> = { rateMbit: rate, bytes };
    const notes: string[] = [];
    const skip = await labUnavailable();
    if (skip) {
      notes.push(`skipped: ${skip}`);
    } else {
      await shapedPath(rate, 0, bytes, rows, data);
      await shapedPath(rate, 1, bytes, rows, data);
      await connectTimes(runs, rows, data);
      notes.push('connect times run the compiled CLI (POSTERN_USE_DIST=1) when dist/ exists (npm run build), else the sources through tsx, whose start-up is included.');
    }
    return { name: 'lab-path', columns: ['path', 'what', 'tier', 'mbit', 'of rate', 'vs TCP', 'relay CPU s/GiB', 'median connect ms', 'runs'], rows, notes, data };
  },
};
export default mod;
