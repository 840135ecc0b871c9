/**
 * Shared helpers of the benchmarks: argument parsing, child processes, /proc
 * sampling (peak RSS, CPU time), statistics, the table and the JSON results.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const RESULTS_DIR = join(ROOT, 'bench-results');
export const MiB = 1024 * 1024;

/** What a benchmark module returns: rows for the table, and everything for the JSON. */
export interface BenchReport {
  name: string;
  /** Column order of the printed table. */
  columns: string[];
  rows: Record<string, string | number | null>[];
  /** Lines printed under the table (skipped baselines, caveats). */
  notes: string[];
  /** Goes to the JSON file as is. */
  data: Record<string, unknown>;
}

export interface BenchModule {
  description: string;
  usage: string;
  run(argv: string[]): Promise<BenchReport>;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Absolute path of `cmd` on PATH (or in the sbin folders), or null. */
export function which(cmd: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not there / not readable
    }
  }
  return null;
}

export interface ProcSample {
  /** Peak resident set size (VmHWM), bytes. */
  peakRss: number;
  /** User + system CPU seconds. */
  cpuSec: number;
}

const CLK_TCK = 100;

/** Read VmHWM and CPU time of a live process; null once it is gone. */
export function readProc(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) in parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return { peakRss: m ? Number(m[1]) * 1024 : 0, cpuSec: (utime + stime) / CLK_TCK };
  } catch {
    return null;
  }
}

/**
 * Poll a process's /proc entry until it exits (VmHWM only grows, so the last
 * reading is the peak up to then). `stop()` returns the last sample.
 */
export function watchProc(pid: number, everyMs = 25): { stop(): ProcSample } {
  let last: ProcSample = { peakRss: 0, cpuSec: 0 };
  const tick = () => {
    const s = readProc(pid);
    if (s) last = { peakRss: Math.max(last.peakRss, s.peakRss), cpuSec: Math.max(last.cpuSec, s.cpuSec) };
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      tick();
      clearInterval(timer);
      return last;
    },
  };
}

export interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn a command and collect its output. */
export function start(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    }),
  };
  child.stdout!.on('data', (d: Buffer) => (run.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (run.stderr += d.toString()));
  return run;
}

/** Run to the end; throws with the output when the exit code is not 0. */
export async function exec(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const r = start(cmd, args, opts);
  const { code, signal } = await r.exited;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}: ${r.stderr.slice(-2000)}`);
  return r;
}

/** Resolves when `run`'s stderr matches `re` (rejects if it exits first). */
export function waitForStderr(run: Run, re: RegExp, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (re.test(run.stderr)) {
        cleanup();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re} in stderr: ${run.stderr.slice(-1000)}`));
    }, timeoutMs);
    const onExit = () => {
      cleanup();
      reject(new Error(`process exited before ${re}: ${run.stderr.slice(-1000)}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      run.child.stderr!.off('data', check);
      run.child.off('exit', onExit);
    };
    run.child.stderr!.on('data', check);
    run.child.once('exit', onExit);
    check();
  });
}

export function machineInfo(): Record<string, unknown> {
  const c = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memMiB: Math.round(totalmem() / MiB),
    loadavg: readFileSafe('/proc/loadavg')?.trim() ?? null,
  };
}

function readFileSafe(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

export function formatTable(columns: string[], rows: Record<string, string | number | null>[]): string {
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '—' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** Write the report as JSON into bench-results/; returns the file path. */
export async function writeResults(report: BenchReport): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(RESULTS_DIR, `${report.name}-${stamp}.json`);
  const body = { bench: report.name, date: new Date().toISOString(), machine: machineInfo(), rows: report.rows, notes: report.notes, ...report.data };
  await writeFile(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}

/** Tiny `--flag value` / `--flag` parser for bench modules. */
export function flags(argv: string[], spec: Record<string, 'string' | 'boolean'>): Record<string, string | boolean | undefined> {
  const out: Record<string, string | boolean | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"`);
    const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const kind = spec[k];
    if (!kind) throw new Error(`unknown option --${k}`);
    if (kind === 'boolean') out[k] = true;
    else {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`--${k} needs a value`);
      out[k] = v;
    }
  }
  return out;
}
