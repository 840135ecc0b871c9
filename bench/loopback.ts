/**
 * Loopback benchmark: one file (1 GiB by default) sent over 127.0.0.1 by
 *  - postern: the real CLI, `postern send` and `postern receive` as two processes
 *    paired through a rendezvous (secure channel, chunk and file hashes, disk
 *    writes, fsync and rename: everything a user gets);
 *  - scp:    OpenSSH's scp to a throwaway sshd on 127.0.0.1 (own host key,
 *    authorized key and config in a temp dir), default cipher;
 *  - socat:  an unencrypted file-to-file TCP copy (the floor: disk + loopback).
 * Rounds are interleaved (postern, scp, socat, postern, …) so the tools share
 * the machine's noise; medians are reported with ratios against the baselines
 * of the same run. A baseline whose tool is missing is skipped with a note.
 *
 * Postern's time is its data phase: from the receiver's `offer` event to its
 * `done` event (the file verified, fsynced and renamed). Pairing and process
 * start are reported separately (`wall`). scp's time includes its SSH handshake
 * (~0.1 s on loopback); socat's is the whole copy.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { chmod, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRendezvous, type RendezvousServer } from '../main/rendezvous/server.js';
import { CliProcess, POSTERN_BIN } from '../main/cli/cli-process.js';
import { MiB, exec, flags, median, round, start, waitForStderr, watchProc, which, type BenchModule, type BenchReport, type Run } from './common.js';

type Tool = 'postern' | 'scp' | 'socat';
/** A postern run under extra environment variables (`--variants`), e.g. to compare protocol options. */
interface Variant {
  label: string;
  env: Record<string, string>;
}
const TOOLS: Tool[] = ['postern', 'scp', 'socat'];
/** Target: receiver peak RSS below this. */
const RSS_TARGET = 250 * MiB;

interface Sample {
  tool: Tool;
  /** Postern variant label ('' for the default). */
  variant?: string;
  round: number;
  seconds: number;
  /** Postern: spawn of the sender to both processes done (start, pairing, transfer). */
  wallSeconds?: number;
  recvPeakRss?: number;
  sendPeakRss?: number;
  recvCpuSec?: number;
  sendCpuSec?: number;
  detail?: Record<string, unknown>;
}

const log = (msg: string) => process.stderr.write(`[loopback] ${msg}\n`);

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A file of `bytes` random bytes; returns its SHA-256 (hex). */
async function makeFile(path: string, bytes: number): Promise<string> {
  const fh = await open(path, 'w');
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(16 * MiB);
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(buf.length, bytes - done);
      randomFillSync(buf, 0, n);
      hash.update(buf.subarray(0, n));
      await fh.write(buf, 0, n);
      done += n;
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

// ---- postern ------------------------------------------------------------------

async function runPostern(ctx: { dir: string; src: string; sha: string; size: number; rv: RendezvousServer; round: number; cpuProf?: string; variant: Variant }): Promise<Sample> {
  const base = join(ctx.dir, `postern-${ctx.round}`);
  await mkdir(base, { recursive: true });
  const common = ['--rendezvous', ctx.rv.url, '--json', '--no-discovery'];
  // A variant may run another checkout: POSTERN_BENCH_ROOT=/path/to/it (e.g. the previous commit in a worktree).
  const { POSTERN_BENCH_ROOT: otherRoot, ...vars } = ctx.variant.env;
  const bin = otherRoot ? join(otherRoot, 'bin', 'postern.js') : POSTERN_BIN;
  const node = [process.execPath, ...(ctx.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${ctx.cpuProf}`] : []), bin];
  const env = { POSTERN_FROM_SOURCE: '1', ...vars };
  const t0 = performance.now();
  const sender = new CliProcess(['send', ...common, '--data', join(base, 's'), ctx.src], { env, command: node });
  const sendWatch = watchProc(sender.child.pid!);
  let receiver: CliProcess | undefined;
  try {
    const code = await sender.waitFor('code');
    receiver = new CliProcess(['receive', ...common, '--data', join(base, 'r'), '--into', join(base, 'in'), String(code.code)], { env, command: node });
    const recvWatch = watchProc(receiver.child.pid!);
    // Never hang the benchmark: a run gets 2 minutes plus 10 s per 100 MiB.
    const limitMs = 120_000 + (ctx.size / (100 * MiB)) * 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const tail = (p: CliProcess) => JSON.stringify(p.events.filter((e) => e.event !== 'progress').slice(-4)) + p.stderr.slice(-5).join(' | ');
        reject(new Error(`postern run timed out after ${Math.round(limitMs / 1000)} s; sender: ${tail(sender)}; receiver: ${receiver ? tail(receiver) : '-'}`));
      }, limitMs);
    });
    const rx = receiver;
    await Promise.race([rx.waitFor('offer'), timeout]);
    const tOffer = performance.now();
    const [sent, received] = await Promise.race([Promise.all([sender.result(), rx.result()]), timeout]).finally(() => clearTimeout(timer));
    const tDone = performance.now();
    await Promise.all([sender.exited, receiver.exited]);
    const tExit = performance.now();
    const recv = recvWatch.stop();
    const send = sendWatch.stop();
    const files = received.files as { path: string; bytes: number; sha256: string }[];
    if (files[0]?.sha256 !== ctx.sha || received.bytes !== ctx.size) {
      throw new Error(`postern: received ${JSON.stringify(files)}, expected sha256 ${ctx.sha}`);
    }
    const st = await stat(join(base, 'in', files[0].path));
    if (st.size !== ctx.size) throw new Error(`postern: the received file has ${st.size} bytes`);
    return {
      tool: 'postern',
      variant: ctx.variant.label,
      round: ctx.round,
      seconds: (tDone - tOffer) / 1000,
      wallSeconds: (tExit - t0) / 1000,
      recvPeakRss: recv.peakRss,
      sendPeakRss: send.peakRss,
      recvCpuSec: recv.cpuSec,
      sendCpuSec: send.cpuSec,
      detail: { senderMs: sent.ms, receiverMs: received.ms, connectMs: received.connectMs, tier: received.tier },
    };
  } finally {
    await sender.kill();
    await receiver?.kill();
    await rm(base, { recursive: true, force: true });
  }
}

// ---- scp ----------------------------------------------------------------------

interface Sshd {
  port: number;
  key: string;
  scp: string;
  stop(): Promise<void>;
}

async function startSshd(dir: string): Promise<Sshd> {
  const sshd = which('sshd');
  const scp = which('scp');
  const keygen = which('ssh-keygen');
  if (!sshd || !scp || !keygen) throw new Error(`missing ${[!sshd && 'sshd', !scp && 'scp', !keygen && 'ssh-keygen'].filter(Boolean).join(', ')} (apt-get install openssh-server openssh-client)`);
  const d = join(dir, 'sshd');
  await mkdir(d, { recursive: true, mode: 0o700 });
  await exec(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'host_key')]);
  await exec(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'client_key')]);
  await writeFile(join(d, 'authorized_keys'), await readFile(join(d, 'client_key.pub')));
  await chmod(join(d, 'authorized_keys'), 0o600);
  // Privilege separation needs its empty directory (Debian's is /run/sshd).
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => undefined);
  const port = await freePort();
  const user = process.env.USER ?? (process.getuid?.() === 0 ? 'root' : undefined);
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(d, 'host_key')}`,
    `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
    `PidFile ${join(d, 'sshd.pid')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    ...(user ? [`AllowUsers ${user}`] : []),
    'LogLevel ERROR',
  ];
  await writeFile(join(d, 'sshd_config'), `${config.join('\n')}\n`);
  const daemon = start(sshd, ['-D', '-e', '-f', join(d, 'sshd_config')]);
  // Ready when it accepts a connection and says hello.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (daemon.child.exitCode !== null) throw new Error(`sshd exited: ${daemon.stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('data', (b: Buffer) => {
        s.destroy();
        resolve(b.toString().startsWith('SSH-'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`sshd did not start: ${daemon.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    key: join(d, 'client_key'),
    scp,
    async stop() {
      daemon.child.kill('SIGTERM');
      await daemon.exited;
    },
  };
}

function scpArgs(sshd: Sshd, verbose: boolean): string[] {
  return [
    ...(verbose ? ['-v'] : ['-q']),
    '-F', '/dev/null',
    '-i', sshd.key,
    '-P', String(sshd.port),
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=' + (verbose ? 'DEBUG1' : 'ERROR'),
  ];
}

/** The cipher scp negotiates by default (from a tiny verbose copy). */
async function scpCipher(sshd: Sshd, dir: string): Promise<string | null> {
  const small = join(dir, 'cipher-probe');
  await writeFile(small, 'x');
  const r = await exec(sshd.scp, [...scpArgs(sshd, true), small, `127.0.0.1:${small}.out`]);
  const m = /kex: client->server cipher: (\S+)/.exec(r.stderr);
  return m?.[1] ?? null;
}

async function runScp(ctx: { dir: string; src: string; size: number; sshd: Sshd; round: number }): Promise<Sample> {
  const dst = join(ctx.dir, `scp-${ctx.round}.out`);
  try {
    const t0 = performance.now();
    await exec(ctx.sshd.scp, [...scpArgs(ctx.sshd, false), ctx.src, `127.0.0.1:${dst}`]);
    const seconds = (performance.now() - t0) / 1000;
    const st = await stat(dst);
    if (st.size !== ctx.size) throw new Error(`scp: the copy has ${st.size} bytes`);
    return { tool: 'scp', round: ctx.round, seconds };
  } finally {
    await rm(dst, { force: true });
  }
}

// ---- socat --------------------------------------------------------------------

async function runSocat(ctx: { dir: string; src: string; size: number; socat: string; round: number }): Promise<Sample> {
  const dst = join(ctx.dir, `socat-${ctx.round}.out`);
  const port = await freePort();
  let listener: Run | undefined;
  try {
    listener = start(ctx.socat, ['-d', '-d', '-u', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, `OPEN:${dst},creat,trunc,wronly`]);
    await waitForStderr(listener, /listening on/);
    const watch = watchProc(listener.child.pid!);
    const t0 = performance.now();
    const sender = start(ctx.socat, ['-u', `OPEN:${ctx.src},rdonly`, `TCP:127.0.0.1:${port}`]);
    const [s, l] = await Promise.all([sender.exited, listener.exited]);
    const seconds = (performance.now() - t0) / 1000;
    const recv = watch.stop();
    if (s.code !== 0 || l.code !== 0) throw new Error(`socat failed: ${sender.stderr} ${listener.stderr}`);
    const st = await stat(dst);
    if (st.size !== ctx.size) throw new Error(`socat: the copy has ${st.size} bytes`);
    return { tool: 'socat', round: ctx.round, seconds, recvPeakRss: recv.peakRss, recvCpuSec: recv.cpuSec };
  } finally {
    if (listener && listener.child.exitCode === null) listener.child.kill();
    await rm(dst, { force: true });
  }
}

// ---- the benchmark ---------------------------------------------------------------

async function run(argv: string[]): Promise<BenchReport> {
  const f = flags(argv, { size: 'string', runs: 'string', only: 'string', 'cpu-prof': 'string', dir: 'string', variants: 'string' });
  // --variants 'sha256:POSTERN_CHUNK_HASH=sha256;other:A=1,B=2' adds postern rows run under those variables.
  const variants: Variant[] = [{ label: '', env: {} }];
  for (const spec of String(f.variants ?? '').split(';').filter(Boolean)) {
    const [label, vars = ''] = spec.split(':', 2) as [string, string?];
    const env = Object.fromEntries(vars.split(',').filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]));
    variants.push({ label, env });
  }
  const sizeMiB = Number(f.size ?? 1024);
  const runs = Number(f.runs ?? 3);
  if (!Number.isInteger(sizeMiB) || sizeMiB <= 0) throw new Error('--size takes MiB, a positive integer');
  if (!Number.isInteger(runs) || runs <= 0) throw new Error('--runs takes a positive integer');
  const wanted = (f.only ? String(f.only).split(',') : TOOLS) as Tool[];
  for (const t of wanted) if (!TOOLS.includes(t)) throw new Error(`--only takes ${TOOLS.join(',')}`);
  const size = sizeMiB * MiB;
  const notes: string[] = [];
  const skipped: Partial<Record<Tool, string>> = {};

  const dir = await mkdtemp(join(String(f.dir ?? tmpdir()), 'postern-bench-'));
  let rv: RendezvousServer | undefined;
  let sshd: Sshd | undefined;
  const samples: Sample[] = [];
  const failures: { tool: string; round: number; error: string }[] = [];
  let cipher: string | null = null;
  const socat = which('socat');
  try {
    log(`writing a ${sizeMiB} MiB random file in ${dir}`);
    const src = join(dir, 'source.bin');
    const sha = await makeFile(src, size);
    if (wanted.includes('postern')) rv = await startRendezvous({ host: '127.0.0.1', port: 0 });
    if (wanted.includes('scp')) {
      try {
        sshd = await startSshd(dir);
        cipher = await scpCipher(sshd, dir);
      } catch (err) {
        skipped.scp = err instanceof Error ? err.message : String(err);
      }
    }
    if (wanted.includes('socat') && !socat) skipped.socat = 'socat is not installed (apt-get install socat)';
    for (const [t, why] of Object.entries(skipped)) notes.push(`${t} skipped: ${why}`);
    if (f['cpu-prof']) await mkdir(String(f['cpu-prof']), { recursive: true });

    for (let round = 0; round < runs; round++) {
      for (const tool of wanted) {
        if (skipped[tool]) continue;
        await exec('sync', []).catch(() => undefined); // the previous copy's dirty pages are not this one's cost
        for (const variant of tool === 'postern' ? variants : [variants[0]!]) {
          if (variant !== variants[0]) await exec('sync', []).catch(() => undefined);
          let s: Sample;
          try {
            if (tool === 'postern') s = await runPostern({ dir, src, sha, size, rv: rv!, round, variant, ...(f['cpu-prof'] ? { cpuProf: String(f['cpu-prof']) } : {}) });
            else if (tool === 'scp') s = await runScp({ dir, src, size, sshd: sshd!, round });
            else s = await runSocat({ dir, src, size, socat: socat!, round });
          } catch (err) {
            // One failed run is reported, not fatal: the other rounds still count.
            const name = rowName({ tool, variant: variant.label });
            const msg = `${name} round ${round + 1} failed: ${err instanceof Error ? err.message : String(err)}`;
            notes.push(msg.slice(0, 600));
            failures.push({ tool: name, round, error: msg });
            log(msg.slice(0, 300));
            continue;
          }
          samples.push(s);
          const extra = s.recvPeakRss ? `, receiver peak RSS ${Math.round(s.recvPeakRss / MiB)} MiB` : '';
          log(`round ${round + 1}/${runs} ${rowName(s)}: ${s.seconds.toFixed(2)} s, ${(sizeMiB / s.seconds).toFixed(0)} MiB/s${extra}`);
        }
      }
    }
  } finally {
    await sshd?.stop().catch(() => undefined);
    await rv?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }

  const of = (t: string) => samples.filter((s) => rowName(s) === t);
  const med = (t: string, k: keyof Sample) => {
    const xs = of(t).map((s) => s[k]).filter((x): x is number => typeof x === 'number');
    return xs.length ? median(xs) : null;
  };
  const max = (t: string, k: keyof Sample) => {
    const xs = of(t).map((s) => s[k]).filter((x): x is number => typeof x === 'number');
    return xs.length ? Math.max(...xs) : null;
  };
  const pt = med('postern', 'seconds');
  const ratios: Record<string, { time: number; speed: number } | null> = {};
  const rows: BenchReport['rows'] = [];
  const rowKeys = wanted.flatMap((t) => (t === 'postern' ? variants.map((v) => rowName({ tool: t, variant: v.label })) : [t]));
  for (const t of rowKeys) {
    if (skipped[t as Tool]) {
      rows.push({ tool: t, 'time s': null, min: null, max: null, 'MiB/s': null, 'postern÷tool (time)': null, 'recv peak RSS MiB': null, 'recv CPU s': null, 'send CPU s': null });
      continue;
    }
    const secs = of(t).map((s) => s.seconds);
    if (secs.length === 0) {
      rows.push({ tool: t, 'time s': null, min: null, max: null, 'MiB/s': null, 'postern÷tool (time)': null, 'recv peak RSS MiB': null, 'recv CPU s': null, 'send CPU s': null });
      continue;
    }
    const m = median(secs);
    const isPostern = t.startsWith('postern');
    const ratio = pt !== null && !isPostern ? pt / m : null;
    if (!isPostern) {
      ratios[`postern/${t}`] = ratio === null ? null : { time: round(ratio, 3), speed: round(1 / ratio, 3) };
      for (const v of variants.slice(1)) {
        const vt = med(rowName({ tool: 'postern', variant: v.label }), 'seconds');
        if (vt !== null) ratios[`${rowName({ tool: 'postern', variant: v.label })}/${t}`] = { time: round(vt / m, 3), speed: round(m / vt, 3) };
      }
    }
    const rss = max(t, 'recvPeakRss');
    const rc = med(t, 'recvCpuSec');
    const sc = med(t, 'sendCpuSec');
    rows.push({
      tool: t === 'scp' && cipher ? `scp (${cipher})` : t,
      'time s': round(m, 2),
      min: round(Math.min(...secs), 2),
      max: round(Math.max(...secs), 2),
      'MiB/s': Math.round(sizeMiB / m),
      'postern÷tool (time)': ratio === null ? null : round(ratio, 2),
      'recv peak RSS MiB': rss === null ? null : Math.round(rss / MiB),
      'recv CPU s': rc === null ? null : round(rc, 2),
      'send CPU s': sc === null ? null : round(sc, 2),
    });
  }
  if (pt !== null) {
    const wall = med('postern', 'wallSeconds');
    if (wall !== null) notes.push(`postern wall time incl. process start, rendezvous and pairing: ${wall.toFixed(2)} s (median)`);
    const rss = max('postern', 'recvPeakRss');
    if (rss !== null) notes.push(`postern receiver peak RSS ${Math.round(rss / MiB)} MiB (max over runs; target < ${RSS_TARGET / MiB} MiB): ${rss < RSS_TARGET ? 'met' : 'NOT met'}`);
    const scp = ratios['postern/scp'];
    if (scp) notes.push(`postern vs scp: ${scp.time <= 1 ? 'as fast or faster' : 'slower'} (time ratio ${scp.time}; target ≤ 1)`);
  }
  for (const [k, r] of Object.entries(ratios)) if (r && k.includes('[')) notes.push(`${k}: time ratio ${r.time}`);
  notes.push('ratios are Postern time ÷ baseline time in the same run (< 1: Postern faster); postern time is the data phase (offer → verified, fsynced, renamed)');
  return {
    name: 'loopback',
    columns: ['tool', 'time s', 'min', 'max', 'MiB/s', 'postern÷tool (time)', 'recv peak RSS MiB', 'recv CPU s', 'send CPU s'],
    rows,
    notes,
    data: { sizeBytes: size, runs, scpCipher: cipher, variants, skipped, failures, ratios, samples },
  };
}

function rowName(s: Pick<Sample, 'tool' | 'variant'>): string {
  return s.variant ? `${s.tool}[${s.variant}]` : s.tool;
}

const loopback: BenchModule = {
  description: 'a file over 127.0.0.1: the postern CLI (send/receive processes) against scp and socat, same run',
  usage: 'npm run bench -- loopback [--size MiB (1024)] [--runs N (3)] [--only postern,scp,socat] [--cpu-prof DIR] [--dir TMPDIR] [--variants "label:VAR=v,VAR2=w;label2:POSTERN_BENCH_ROOT=/other/checkout"]',
  run,
};
export default loopback;
