/**
 * TURN (RFC 8656) against real coturn in the lab: Postern's TURN client and
 * loopback forwarder (main/engine/relay/turn) carry a UDX stream between two
 * hosts behind NATs, and 8 MiB arrive with the same SHA-256.
 *
 * coturn runs twice on the server (both public addresses):
 *   lt    port 3478  lt-cred-mech, static user (RFC 8489 §9.2 long-term credentials)
 *   rest  port 3490  use-auth-secret (TURN REST API time-limited credentials), with
 *                    short lifetimes (allocation 8 s, permission 8 s, channel 10 s,
 *                    nonce 4 s) so refreshes and 438 Stale Nonce happen during the test
 *
 * Cases: turnutils_uclient as a check of the config; symmetric ↔ symmetric both
 * relayed over UDP (lt); symmetric over UDP ↔ udp-blocked over TCP (rest, idle
 * across refreshes first); one side relayed, the other sending from its own UDP
 * socket behind a symmetric NAT (learned port); a wrong password (401).
 * Needs root and turnserver; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Lab, labUnavailable } from './lab.js';
import { startCoturn, turnserverMissing } from './coturn.js';

const PEER = fileURLToPath(new URL('./fixtures/turn-peer.ts', import.meta.url));
const USER = 'alice';
const PASSWORD = 'wonderland-7';
const SECRET = 'postern-lab-shared-secret';
const MIB8 = 8 << 20;


const skip = (await labUnavailable()) ?? turnserverMissing();
if (skip) console.log(`# TURN lab tests skipped: ${skip}`);

type Ev = Record<string, unknown> & { event: string };

/** A turn-peer.ts process: its JSON-line events, and stdin for the one instruction. */
class Peer {
  private readonly events: Ev[] = [];
  private waiters: (() => void)[] = [];
  readonly stderr: string[] = [];
  constructor(readonly name: string, readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        this.events.push(JSON.parse(l) as Ev);
      } catch {
        this.stderr.push(l);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    createInterface({ input: child.stderr! }).on('line', (l) => this.stderr.push(l));
    child.once('exit', () => { for (const w of this.waiters.splice(0)) w(); });
  }

  async next(event: string, timeoutMs = 20_000): Promise<Ev> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const err = this.events.find((e) => e.event === 'error');
      if (err) throw new Error(`${this.name}: ${String(err.code)}: ${String(err.message)}`);
      const e = this.events.find((x) => x.event === event);
      if (e) return e;
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited (${this.child.exitCode}) before "${event}": ${this.stderr.slice(-10).join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no "${event}" after ${timeoutMs} ms; stderr: ${this.stderr.slice(-10).join('\n')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  tell(body: Record<string, unknown>): void {
    this.child.stdin?.write(`${JSON.stringify(body)}\n`);
  }
}

describe('TURN relay through coturn', { skip: skip ?? false, timeout: 90_000 }, () => {
  let lab: Lab | undefined;
  const up = (): Lab => {
    if (!lab) throw new Error('lab did not come up');
    return lab;
  };

  const coturn = startCoturn;

  before(async () => {
    lab = await Lab.up({
      sites: [
        { name: 'a', nat: 'symmetric' },
        { name: 'b', nat: 'symmetric' },
        { name: 'c', nat: 'port-restricted', udpBlocked: true },
      ],
      reflector: false,
    });
    await Promise.all([
      coturn(lab, 'lt', 3478, 49152, ['--lt-cred-mech', `--user=${USER}:${PASSWORD}`]),
      coturn(lab, 'rest', 3490, 50200, ['--use-auth-secret', `--static-auth-secret=${SECRET}`,
        '--max-allocate-lifetime=8', '--permission-lifetime=8', '--channel-lifetime=10', '--stale-nonce=4']),
    ]);
  });
  after(async () => {
    await lab?.down();
  });

  function peer(l: Lab, host: string, name: string, args: string[]): Peer {
    return new Peer(name, l.spawnNode(host, PEER, args));
  }

  /** Both sides allocate, learn each other's relayed address, connect through their relays, move `bytes`. */
  async function relayedPair(l: Lab, a: { host: string; args: string[] }, b: { host: string; args: string[] }, bytes = MIB8, timeoutMs = 30_000) {
    const pa = peer(l, a.host, `${a.host} (send)`, [...a.args, '--role', 'send', '--bytes', String(bytes), '--stream-id', '1', '--remote-stream-id', '2']);
    const pb = peer(l, b.host, `${b.host} (recv)`, [...b.args, '--role', 'recv', '--stream-id', '2', '--remote-stream-id', '1']);
    const [aa, ab] = await Promise.all([pa.next('allocated'), pb.next('allocated')]);
    pa.tell({ peer: ab.relayed });
    pb.tell({ peer: aa.relayed });
    const [da, db] = await Promise.all([pa.next('done', timeoutMs), pb.next('done', timeoutMs)]);
    await Promise.all([pa.next('closed'), pb.next('closed')]);
    return { allocated: [aa, ab] as const, done: [da, db] as const };
  }

  const mibps = (done: Ev): number => Number(done.bytes) / 1048576 / (Number(done.ms) / 1000);

  test('turnutils_uclient relays through both coturn configs (sanity check)', async () => {
    const l = up();
    const [s1] = l.serverAddresses;
    const common = ['-y', '-c', '-n', '10', '-m', '1', '-l', '200', '-z', '5'];
    const runs = await Promise.all([
      l.exec('a1', 'turnutils_uclient', [...common, '-u', USER, '-w', PASSWORD, '-p', '3478', s1], { timeoutMs: 20_000 }),
      l.exec('b1', 'turnutils_uclient', [...common, '-u', 'uclient', '-W', SECRET, '-p', '3490', s1], { timeoutMs: 20_000 }),
    ]);
    for (const r of runs) {
      assert.match(r.stdout + r.stderr, /tot_send_msgs=20, tot_recv_msgs=20/, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /Total lost packets 0 /);
    }
  });

  test('UDP transport, static credentials: symmetric ↔ symmetric, both relayed, 8 MiB', async () => {
    const l = up();
    const [s1] = l.serverAddresses;
    const args = ['--server', `${s1}:3478`, '--transport', 'udp', '--user', USER, '--password', PASSWORD];
    const r = await relayedPair(l, { host: 'a1', args }, { host: 'b1', args });
    const [aa, ab] = r.allocated;
    assert.equal((aa.mapped as { ip: string }).ip, l.publicAddress('a'));
    assert.equal((ab.mapped as { ip: string }).ip, l.publicAddress('b'));
    const [da, db] = r.done;
    assert.equal(db.bytes, MIB8);
    assert.equal(db.sha256, da.sha256);
    const wire = db.wire as Record<string, number>;
    assert.ok((wire['in ChannelData'] ?? 0) > 1000, `data came as ChannelData: ${JSON.stringify(wire)}`);
    assert.equal(wire['in Allocate error 401'], 1);
    console.log(`# UDP relay↔relay: ${mibps(db).toFixed(1)} MiB/s (${db.ms} ms), stats ${JSON.stringify(da.stats)}`);
  });

  test('TCP transport with REST credentials (udp-blocked) ↔ UDP (symmetric), across refreshes and stale nonces, 8 MiB', async () => {
    const l = up();
    const [, s2] = l.serverAddresses;
    const common = ['--secret', SECRET, '--idle-ms', '9000', '--perm-refresh-ms', '3000', '--chan-refresh-ms', '3000', '--lifetime', '8'];
    const r = await relayedPair(l,
      { host: 'c1', args: ['--server', `${s2}:3490`, '--transport', 'tcp', ...common] },
      { host: 'a1', args: ['--server', `${s2}:3490`, '--transport', 'udp', ...common] }, MIB8, 45_000);
    const [ac, aa] = r.allocated;
    assert.equal(ac.transport, 'tcp');
    assert.equal(aa.transport, 'udp');
    assert.equal(ac.lifetime, 8);
    const [dc, da] = r.done;
    assert.equal(da.bytes, MIB8);
    assert.equal(da.sha256, dc.sha256);
    for (const d of [dc, da]) {
      const wire = d.wire as Record<string, number>;
      assert.ok((wire['in Refresh success'] ?? 0) >= 1, `allocation refreshed: ${JSON.stringify(wire)}`);
      assert.ok((wire['in CreatePermission success'] ?? 0) >= 3, `permissions refreshed: ${JSON.stringify(wire)}`);
      assert.ok((wire['in ChannelBind success'] ?? 0) >= 3, `channels refreshed: ${JSON.stringify(wire)}`);
      assert.ok(Object.keys(wire).some((k) => k.endsWith(' error 438')), `a stale nonce was retried: ${JSON.stringify(wire)}`);
    }
    console.log(`# TCP(c1)↔UDP(a1) relay: ${mibps(da).toFixed(1)} MiB/s (${da.ms} ms), stats ${JSON.stringify(dc.stats)}`);
  });

  test('one side relayed, the other sends from its own socket behind a symmetric NAT (learned port), 8 MiB', async () => {
    const l = up();
    const [s1] = l.serverAddresses;
    const pr = peer(l, 'a1', 'a1 (relay, recv)', ['--server', `${s1}:3478`, '--transport', 'udp', '--user', USER, '--password', PASSWORD,
      '--role', 'recv', '--stream-id', '1', '--remote-stream-id', '2']);
    const pd = peer(l, 'b1', 'b1 (direct, send)', ['--mode', 'direct', '--role', 'send', '--bytes', String(MIB8), '--stream-id', '2', '--remote-stream-id', '1']);
    const [ar] = await Promise.all([pr.next('allocated'), pd.next('bound')]);
    pr.tell({ permit: l.publicAddress('b'), accept: true });
    await pr.next('ready');
    pd.tell({ peer: ar.relayed });
    const [dr, dd] = await Promise.all([pr.next('done', 30_000), pd.next('done', 30_000)]);
    assert.equal(dr.bytes, MIB8);
    assert.equal(dr.sha256, dd.sha256);
    await pr.next('closed');
    console.log(`# relay↔direct: ${mibps(dr).toFixed(1)} MiB/s (${dr.ms} ms)`);
  });

  test('a wrong password ends in TURN_UNAUTHORIZED after one retry', async () => {
    const l = up();
    const [s1] = l.serverAddresses;
    const p = peer(l, 'b1', 'b1 (bad password)', ['--server', `${s1}:3478`, '--user', USER, '--password', 'not-it']);
    await assert.rejects(p.next('allocated', 15_000), /TURN_UNAUTHORIZED/);
  });
});
