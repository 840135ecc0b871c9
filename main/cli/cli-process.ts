/**
 * Run the `postern` CLI as a child process and follow its JSON lines: used by the
 * integration tests and the benchmarks (and mirrors what the lab does inside
 * namespaces). Waits on events, never on time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const POSTERN_BIN = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'bin', 'postern.js');

export type CliEvent = { event: string } & Record<string, unknown>;

export class CliProcess {
  readonly child: ChildProcess;
  readonly events: CliEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: { match: (e: CliEvent) => boolean; resolve: (e: CliEvent) => void; reject: (err: Error) => void }[] = [];

  constructor(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; command?: string[] } = {}) {
    const [cmd, ...pre] = opts.command ?? [process.execPath, POSTERN_BIN];
    this.child = spawn(cmd as string, [...pre, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let ev: CliEvent;
      try {
        ev = JSON.parse(line) as CliEvent;
      } catch {
        return;
      }
      this.events.push(ev);
      for (const w of [...this.waiters]) {
        if (w.match(ev)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(ev);
        }
      }
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => {
      for (const w of this.waiters.splice(0)) w.reject(new Error(`postern ${args[0]} exited (${code}) before the awaited event; events: ${JSON.stringify(this.events.filter((e) => e.event !== 'progress')).slice(0, 1500)}; stderr: ${this.stderr.join('\n').slice(-1500)}`));
      resolve(code);
    }));
  }

  /** The first event (past or future) that matches. */
  waitFor(match: string | ((e: CliEvent) => boolean)): Promise<CliEvent> {
    const fn = typeof match === 'string' ? (e: CliEvent) => e.event === match : match;
    const seen = this.events.find(fn);
    if (seen) return Promise.resolve(seen);
    if (this.child.exitCode !== null) return Promise.reject(new Error(`process already exited; events: ${JSON.stringify(this.events.filter((e) => e.event !== 'progress')).slice(0, 1500)}; stderr: ${this.stderr.join('\n').slice(-1500)}`));
    return new Promise((resolve, reject) => this.waiters.push({ match: fn, resolve, reject }));
  }

  /** The final `done` event, or a rejection carrying the `error` event. */
  async result(): Promise<CliEvent> {
    const ev = await this.waitFor((e) => e.event === 'done' || e.event === 'error');
    if (ev.event === 'error') throw Object.assign(new Error(`${ev.code}: ${ev.message}`), { code: ev.code });
    return ev;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Start `send` with an invite code and `receive` with that code; resolve both processes. */
export async function sendAndReceive(opts: { rendezvous: string; sendData: string; recvData: string; into: string; paths: string[]; extra?: string[]; env?: NodeJS.ProcessEnv }): Promise<{ sender: CliProcess; receiver: CliProcess }> {
  const common = ['--rendezvous', opts.rendezvous, '--json', '--no-discovery', ...(opts.extra ?? [])];
  const sender = new CliProcess(['send', ...common, '--data', opts.sendData, ...opts.paths], { env: opts.env });
  const code = await sender.waitFor('code');
  const receiver = new CliProcess(['receive', ...common, '--data', opts.recvData, '--into', opts.into, String(code.code)], { env: opts.env });
  return { sender, receiver };
}
