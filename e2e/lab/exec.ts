/**
 * Process helpers for the network lab: run a command (optionally inside a
 * network namespace through `ip netns exec`) with a timeout, feed it stdin,
 * and collect its output; wait for a readiness line from a long-running child.
 * Everything is async (execFile/spawn); nothing here sleeps.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; -1 when the process was killed (timeout) or could not start. */
  code: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a command to completion; never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        let code = 0;
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
          code = typeof e.code === 'number' ? e.code : -1;
          if (!stderr && typeof e.code === 'string') stderr = `${e.code}: ${err.message}`;
          if (e.killed) stderr = `${String(stderr)}\n(killed after ${opts.timeoutMs ?? 30_000} ms)`.trim();
        }
        resolve({ stdout: String(stdout), stderr: String(stderr), code });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Like run(), but throws with the command line and stderr when the exit code is not 0. */
export async function must(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** `ip netns exec NS cmd args…` as argv for execFile/spawn. */
export function inNs(ns: string, cmd: string, args: readonly string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

export function runIn(ns: string, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [c, a] = inNs(ns, cmd, args);
  return run(c, a, opts);
}

export function mustIn(ns: string, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const [c, a] = inNs(ns, cmd, args);
  return must(c, a, opts);
}

export function spawnIn(ns: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const [c, a] = inNs(ns, cmd, args);
  return spawn(c, a, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}

/**
 * Resolves with the first line of `stream` (stdout or stderr of `child`) that
 * matches; rejects when the child exits first or the deadline passes. Lines
 * seen are kept in `seen` for error messages.
 */
export function waitForLine(
  child: ChildProcess,
  match: (line: string) => boolean,
  opts: { timeoutMs: number; what: string; streams?: ('stdout' | 'stderr')[] },
): Promise<string> {
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const rls = (opts.streams ?? ['stdout']).flatMap((s) => {
      const stream = child[s];
      return stream ? [createInterface({ input: stream })] : [];
    });
    const done = (f: () => void): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      for (const rl of rls) rl.off('line', onLine);
      f();
    };
    const onLine = (line: string): void => {
      seen.push(line);
      if (seen.length > 50) seen.shift();
      if (match(line)) done(() => resolve(line));
    };
    const onExit = (code: number | null, sig: string | null): void =>
      done(() => reject(new Error(`${opts.what} exited (${code ?? sig}) before ready:\n${seen.join('\n')}`)));
    const timer = setTimeout(
      () => done(() => reject(new Error(`${opts.what} not ready after ${opts.timeoutMs} ms:\n${seen.join('\n')}`))),
      opts.timeoutMs,
    );
    for (const rl of rls) rl.on('line', onLine);
    child.once('exit', onExit);
  });
}

/** Polls `check` until it returns true or the deadline passes (for daemons with no readiness output). */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
