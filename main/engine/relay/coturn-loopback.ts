/**
 * Tests: a real coturn (turnserver) on 127.0.0.1 with one long-term user, UDP
 * and TCP on one free port, relaying to loopback peers. The argument choices
 * follow the lab's (e2e/lab/coturn.ts) minus the namespaces. Resolves once both
 * listeners are open (coturn says so on stdout, which `-v` turns on).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where turnserver is: /usr/bin (Debian's coturn package) first, then PATH. */
function turnserverPath(): string | undefined {
  const dirs = ['/usr/bin', '/usr/local/bin', ...(process.env.PATH ?? '').split(':')];
  const dir = dirs.find((d) => d && existsSync(join(d, 'turnserver')));
  return dir ? join(dir, 'turnserver') : undefined;
}

/** Why a coturn test cannot run here, or undefined when it can. */
export function coturnMissing(): string | undefined {
  return turnserverPath() ? undefined : 'coturn (turnserver) is not installed: apt-get install coturn';
}

export interface CoturnLoopback {
  host: string;
  port: number;
  realm: string;
  username: string;
  password: string;
  /** What coturn printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** A port free for both TCP and UDP on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const tcp = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as { port: number }).port));
    });
    const udp = createSocket('udp4');
    const udpOk = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (udpOk) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

export async function startCoturnLoopback(opts: { username?: string; password?: string; realm?: string; timeoutMs?: number } = {}): Promise<CoturnLoopback> {
  const username = opts.username ?? 'u';
  const password = opts.password ?? 'p';
  const realm = opts.realm ?? 'postern.test';
  const bin = turnserverPath();
  if (!bin) throw new Error(coturnMissing());
  const dir = await mkdtemp(join(tmpdir(), 'postern-coturn-'));
  const port = await freePort();
  const args = [
    '-n', '-v', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    `--realm=${realm}`, '--lt-cred-mech', `--user=${username}:${password}`, '--fingerprint',
    '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls',
    '--log-file=stdout', '--simple-log', `--pidfile=${join(dir, 'turnserver.pid')}`, `--db=${join(dir, 'turndb.sqlite')}`,
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // Never outlive the test process, whatever happens to it.
  const killOnExit = () => { child.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { process.off('exit', killOnExit); resolve(); }));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(hard);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`turnserver did not open its listeners on 127.0.0.1:${port} within ${opts.timeoutMs ?? 10_000} ms:\n${out.slice(-4000)}`)), opts.timeoutMs ?? 10_000);
      const onData = (chunk: Buffer) => {
        // Keep the head (startup) and a bounded tail.
        out = (out + chunk.toString('utf8')).slice(-200_000);
        if (out.includes(`UDP listener opened on: 127.0.0.1:${port}`) && out.includes(`TCP listener opened on : 127.0.0.1:${port}`)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (err) => { clearTimeout(timer); reject(err); });
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`turnserver exited (${code ?? signal}) before listening:\n${out.slice(-4000)}`)); });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // Drain its output from here on (a full pipe would stall it); keep only a tail.
  child.stdout?.removeAllListeners('data');
  child.stderr?.removeAllListeners('data');
  const keep = (chunk: Buffer) => { out = (out + chunk.toString('utf8')).slice(-200_000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { host: '127.0.0.1', port, realm, username, password, output: () => out, stop };
}
