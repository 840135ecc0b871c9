/**
 * Postern transfers across the lab: start the rendezvous on the server, run
 * `postern send` on one host and `postern receive` on another, follow their
 * JSON-lines output (one object per line with an `event` field: `code`, progress,
 * `done` or `error`), and return the outcome: the tier reached, connect time,
 * throughput, and the failure reason when there is one. The received file is
 * checked against the sent one's SHA-256.
 *
 *   const rv = await startRendezvous(lab);            // ws://85.10.0.10:443
 *   const r = await transfer(lab, { from: 'a1', to: 'b1', rendezvous: rv.url, bytes: 20 << 20 });
 *   assert.equal(r.tier, 'udp-punch');
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { until } from './exec.js';
import { REPO_ROOT, type Lab } from './lab.js';

export const POSTERN_BIN = join(REPO_ROOT, 'bin', 'postern.js');
const FAILED_SIDE_GRACE_MS = 5000;

export interface PosternEvent {
  event: string;
  [key: string]: unknown;
}

export interface SideResult {
  events: PosternEvent[];
  done?: PosternEvent;
  error?: PosternEvent;
  exitCode: number | null;
  stderr: string;
}

export interface TransferResult {
  ok: boolean;
  /** The tier of the done event, or `failed`. */
  tier: string;
  connectMs?: number;
  ms?: number;
  bytes?: number;
  /** Payload bytes per second: bytes / ms, where the CLI's `ms` is the transfer after connecting (main/cli). */
  bytesPerSec?: number;
  /** Why it failed: the error event's code and message, `timeout`, or what else went wrong. */
  reason?: string;
  /** On failure: the last tier a paired/connected event announced before things went wrong. */
  tierSeen?: string;
  /** Whether the received file's SHA-256 matches the sent file's (undefined when nothing was received). */
  sha256Match?: boolean;
  send: SideResult;
  receive: SideResult;
}

export interface TransferOptions {
  from: string;
  to: string;
  rendezvous: string;
  /** A file to send, or `bytes` to send a fresh random file of that size (default 1 MiB). */
  file?: string;
  bytes?: number;
  /** Whole transfer, both sides (default 60 s); on expiry both are killed and the result is `timeout`. */
  timeoutMs?: number;
  sendArgs?: string[];
  receiveArgs?: string[];
  /** The command that is postern (default: this Node running bin/postern.js); tests use fake-postern.ts. */
  cli?: string[];
  /** Extra environment for both sides. */
  env?: NodeJS.ProcessEnv;
}

/** Follows a child's stdout as JSON lines; non-JSON lines are ignored (kept in stderr text for reports). */
function follow(child: ChildProcess, side: SideResult, onEvent: (e: PosternEvent) => void): Promise<void> {
  child.stderr?.on('data', (d: Buffer) => { if (side.stderr.length < (process.env.POSTERN_DEBUG ? 1 << 20 : 8192)) side.stderr += d.toString(); });
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let e: PosternEvent;
      try {
        e = JSON.parse(line) as PosternEvent;
      } catch {
        return;
      }
      if (typeof e?.event !== 'string') return;
      side.events.push(e);
      if (e.event === 'done') side.done = e;
      if (e.event === 'error') side.error = e;
      onEvent(e);
    });
  }
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', (code) => { side.exitCode = code; resolve(); });
  });
}

async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = bytes; left > 0;) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    hash.update(chunk);
    left -= chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => { out.once('error', reject); out.end(() => resolve()); });
  return hash.digest('hex');
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function describeFailure(s: SideResult, name: string): string | undefined {
  if (s.error) return `${name}: ${String(s.error.code ?? 'error')}: ${String(s.error.message ?? '')}`;
  if (s.exitCode !== null && s.exitCode !== 0 && !s.done) {
    const last = s.stderr.trim().split('\n').slice(-1)[0] ?? '';
    return `${name} exited ${s.exitCode}${last ? `: ${last.slice(0, 200)}` : ''}`;
  }
  return undefined;
}

/** Runs one transfer; never throws for a failed transfer (the result says why). */
export async function transfer(lab: Lab, o: TransferOptions): Promise<TransferResult> {
  const send: SideResult = { events: [], exitCode: null, stderr: '' };
  const receive: SideResult = { events: [], exitCode: null, stderr: '' };
  const failed = (reason: string): TransferResult => {
    // The last tier a side announced (paired/connected events) before it failed: where the ladder got to.
    const seen = [...receive.events, ...send.events].reverse().find((e) => typeof e.tier === 'string')?.tier;
    return { ok: false, tier: 'failed', reason, ...(typeof seen === 'string' ? { tierSeen: seen } : {}), send, receive };
  };
  if (!o.cli && !existsSync(POSTERN_BIN)) return failed(`postern CLI not found (${POSTERN_BIN})`);
  const [cmd = process.execPath, ...cliArgs] = o.cli ?? [process.execPath, POSTERN_BIN];

  const work = mkdtempSync(join(tmpdir(), 'pl-transfer-'));
  const children: ChildProcess[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    let file = o.file;
    let sha256: string | undefined;
    if (!file) {
      file = join(work, 'payload.bin');
      sha256 = await writeRandomFile(file, o.bytes ?? 1 << 20);
    } else {
      sha256 = createHash('sha256').update(await readFile(file)).digest('hex');
    }
    const spawnOpts = o.env ? { env: { ...process.env, ...o.env } } : {};
    const timedOut = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), o.timeoutMs ?? 60_000); });

    let gotCode: (code: string) => void = () => undefined;
    const codeEvent = new Promise<string>((r) => { gotCode = r; });
    const sender = lab.spawn(o.from, cmd, [...cliArgs, 'send', '--rendezvous', o.rendezvous, '--json',
      '--data', join(work, 'send-data'), ...(o.sendArgs ?? []), file], spawnOpts);
    children.push(sender);
    const sendEnded = follow(sender, send, (e) => { if (e.event === 'code' && typeof e.code === 'string') gotCode(e.code); });

    const code = await Promise.race([codeEvent, sendEnded.then(() => 'ended' as const), timedOut]);
    if (code === 'timeout') return failed('timeout (no code from the sender)');
    if (code === 'ended') return failed(describeFailure(send, 'send') ?? 'send ended without a code');

    const into = join(work, 'into');
    const receiver = lab.spawn(o.to, cmd, [...cliArgs, 'receive', '--rendezvous', o.rendezvous, '--json',
      '--data', join(work, 'recv-data'), '--into', into, ...(o.receiveArgs ?? []), code], spawnOpts);
    children.push(receiver);
    const receiveEnded = follow(receiver, receive, () => undefined);
    // When one side gives up, the other gets a short grace period instead of the whole timeout.
    const oneFailed = (side: SideResult, ended: Promise<void>): Promise<'ended'> => ended.then(() =>
      new Promise<'ended'>((resolve) => { if (!side.done) setTimeout(() => resolve('ended'), FAILED_SIDE_GRACE_MS).unref(); }));
    const outcome = await Promise.race([
      Promise.all([sendEnded, receiveEnded]).then(() => 'ended' as const),
      oneFailed(send, sendEnded), oneFailed(receive, receiveEnded), timedOut,
    ]);

    const done = receive.done ?? send.done;
    if (outcome === 'timeout' && !receive.done) {
      return failed(describeFailure(receive, 'receive') ?? describeFailure(send, 'send') ?? 'timeout');
    }
    const reason = describeFailure(receive, 'receive') ?? describeFailure(send, 'send');
    if (!done || reason) return failed(reason ?? 'no done event');

    const files = Array.isArray(receive.done?.files) ? (receive.done.files as { path?: unknown; sha256?: unknown }[]) : [];
    const sha256Match = files.length > 0 ? files.some((f) => f.sha256 === sha256) : undefined;
    const connectMs = num(done.connectMs);
    const ms = num(done.ms);
    const bytes = num(done.bytes);
    return {
      ok: sha256Match !== false,
      tier: typeof done.tier === 'string' ? done.tier : 'failed',
      ...(connectMs !== undefined ? { connectMs } : {}),
      ...(ms !== undefined ? { ms } : {}),
      ...(bytes !== undefined ? { bytes } : {}),
      ...(bytes !== undefined && ms ? { bytesPerSec: Math.round((bytes * 1000) / ms) } : {}),
      ...(sha256Match === false ? { reason: 'received file does not match the sent file (sha256)' } : {}),
      ...(sha256Match !== undefined ? { sha256Match } : {}),
      send,
      receive,
    };
  } finally {
    clearTimeout(timer);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}

export interface Rendezvous {
  url: string;
  child: ChildProcess;
  /** The last few KiB of its stdout and stderr (why it died, when it did). */
  output(): string;
  stop(): void;
}

export interface RendezvousOptions {
  port?: number;
  address?: string;
  cli?: string[];
  /** Relay circuits between peers (`postern rendezvous --relay`). @default false */
  relay?: boolean;
  /** Extra arguments for `postern rendezvous`. */
  args?: string[];
}

/** Starts `postern rendezvous --listen ADDR:PORT` on the server (first public address, port 443 by default). */
export async function startRendezvous(lab: Lab, o: RendezvousOptions = {}): Promise<Rendezvous> {
  const port = o.port ?? 443;
  const address = o.address ?? lab.serverAddresses[0];
  if (!o.cli && !existsSync(POSTERN_BIN)) throw new Error(`postern CLI not found (${POSTERN_BIN})`);
  const [cmd = process.execPath, ...cliArgs] = o.cli ?? [process.execPath, POSTERN_BIN];
  // The server's second address answers RFC 5780 STUN tests (NAT discovery).
  const alt = o.cli ? [] : lab.serverAddresses.filter((a) => a !== address).slice(0, 1).flatMap((a) => ['--alt-address', a]);
  const child = lab.spawn('server', cmd, [...cliArgs, 'rendezvous', '--listen', `${address}:${port}`, ...alt, ...(o.relay ? ['--relay'] : []), ...(o.args ?? [])]);
  let stderr = '';
  const keep = (d: Buffer): void => { stderr = (stderr + d.toString()).slice(-8192); };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  // No readiness line in the contract: wait until the port listens (or the process dies).
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`rendezvous exited ${child.exitCode}: ${stderr.trim().slice(-500)}`);
    const r = await lab.exec('server', 'ss', ['-Hltn', `sport = :${port}`]);
    return r.stdout.includes(`:${port}`);
  }, 15_000, `the rendezvous to listen on ${address}:${port}`);
  return { url: `ws://${address}:${port}`, child, output: () => stderr, stop: () => { child.kill('SIGTERM'); } };
}
