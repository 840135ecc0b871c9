/**
 * Low-level building blocks for the lab: network namespaces, veth pairs created
 * directly between two lab namespaces (nothing is ever created in, or linked
 * to, this machine's own namespace), bridges, addresses, routes, sysctls,
 * nftables rulesets, tbf rate limits, and removal of a namespace together with
 * every process still running in it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { must, mustIn, run } from './exec.js';

export async function listNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n.length > 0);
}

export function listNamespacesSync(): string[] {
  try {
    const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

export async function createNs(name: string): Promise<void> {
  await must('ip', ['netns', 'add', name]);
  await must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** A veth pair with one end in each namespace (created inside nsA, peer moved straight to nsB). */
export async function veth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
  await must('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
}

export async function bridge(nsName: string, name: string): Promise<void> {
  await must('ip', ['-n', nsName, 'link', 'add', name, 'type', 'bridge', 'mcast_snooping', '0']);
}

export async function setMaster(nsName: string, dev: string, master: string): Promise<void> {
  await must('ip', ['-n', nsName, 'link', 'set', dev, 'master', master]);
}

export async function linkUp(nsName: string, dev: string): Promise<void> {
  await must('ip', ['-n', nsName, 'link', 'set', dev, 'up']);
}

/** Adds an address; IPv6 addresses skip duplicate address detection so they are usable at once. */
export async function addr(nsName: string, dev: string, cidr: string): Promise<void> {
  const v6 = cidr.includes(':');
  await must('ip', ['-n', nsName, ...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
}

export async function route(nsName: string, dest: string, via: string): Promise<void> {
  const v6 = via.includes(':');
  await must('ip', ['-n', nsName, ...(v6 ? ['-6'] : []), 'route', 'add', dest, 'via', via]);
}

export async function sysctl(nsName: string, settings: Record<string, string | number>): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  await mustIn(nsName, 'sysctl', ['-qw', ...args]);
}

export async function nftLoad(nsName: string, ruleset: string): Promise<void> {
  await mustIn(nsName, 'nft', ['-f', '-'], { input: ruleset });
}

/** Token-bucket rate limit on a device's egress. The burst holds ~5 ms at the rate (at least 10 frames). */
export async function tbf(nsName: string, dev: string, mbit: number): Promise<void> {
  const burstBytes = Math.max(15_140, Math.round((mbit * 1e6) / 8 / 200));
  await must('tc', ['-n', nsName, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf',
    'rate', `${mbit}mbit`, 'burst', String(burstBytes), 'latency', '100ms']);
}

export async function nsPids(nsName: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', nsName]);
  return r.stdout.split('\n').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** True while the process exists and is not a zombie (a zombie has ended; only its parent's reaping is left). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Ends every process left in the namespaces (by pid; SIGTERM, then SIGKILL after a grace period) and deletes them. */
export async function deleteNamespaces(names: readonly string[], graceMs = 1500): Promise<void> {
  const pidLists = await Promise.all(names.map((n) => nsPids(n)));
  const pids = pidLists.flat();
  for (const p of pids) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let alive = pids;
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    alive = alive.filter(isRunning);
  }
  for (const p of alive) signal(p, 'SIGKILL');
  // A second look catches anything started while we were stopping the first batch.
  for (const p of (await Promise.all(names.map((n) => nsPids(n)))).flat()) signal(p, 'SIGKILL');
  await Promise.all(names.map((n) => run('ip', ['netns', 'del', n])));
}

/** Synchronous last-resort removal, for process 'exit' handlers where nothing async can run. */
export function deleteNamespacesSync(names: readonly string[]): void {
  for (const n of names) {
    try {
      const out = execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
      for (const s of out.split('\n')) {
        const p = Number(s.trim());
        if (Number.isInteger(p) && p > 0 && p !== process.pid) signal(p, 'SIGKILL');
      }
    } catch {
      // namespace already gone
    }
    try {
      execFileSync('ip', ['netns', 'del', n], { timeout: 5000, stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
