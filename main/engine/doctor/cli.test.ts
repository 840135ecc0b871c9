/**
 * `postern doctor --json` against a loopback rendezvous (no router asked):
 * the reachability check on a free port, on a port another program holds,
 * and turned off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startRendezvous } from '../../rendezvous/server.js';
import { tempDir } from '../test/harness.js';
import type { ReachabilityResult } from '../../../shared/domain/doctor.js';

const BIN = fileURLToPath(new URL('../../../bin/postern.js', import.meta.url));

interface DoctorLine { event: string; reachability: ReachabilityResult | null; reachabilityNote: string; summary: string; forwarding: { helps: boolean }; findings: { key: string }[] }

function doctor(args: string[]): Promise<DoctorLine> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, 'doctor', '--json', '--no-gateway', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{"event":"doctor"'));
      if (!line) return reject(new Error(`no doctor line (${err?.message ?? ''}): ${stdout} ${stderr}`));
      resolve(JSON.parse(line) as DoctorLine);
    });
  });
}

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, '0.0.0.0', () => resolve(s));
  });
}

test('postern doctor checks reachability on the listening port, also when another program holds it', async () => {
  const dir = await tempDir();
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0 });
  const taken = await listen();
  try {
    const free = await listen();
    const freePort = (free.address() as AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    const own = await doctor(['--rendezvous', rv.url, '--data', dir.path, '--port', String(freePort)]);
    assert.equal(own.reachability?.ok, true, JSON.stringify(own.reachability));
    assert.equal(own.reachability?.tcp?.port, freePort);
    assert.equal(own.reachability?.udp?.state, 'reachable');
    assert.match(own.reachabilityNote, new RegExp(`listened on TCP ${freePort} and UDP ${freePort}`));
    assert.match(own.summary, /can connect straight to this computer/);

    const heldPort = (taken.address() as AddressInfo).port;
    const held = await doctor(['--rendezvous', rv.url, '--data', dir.path, '--port', String(heldPort)]);
    assert.equal(held.reachability?.tcp?.state, 'reachable', 'the program holding the port answers');
    assert.match(held.reachabilityNote, /in use by another program/);

    const off = await doctor(['--rendezvous', rv.url, '--data', dir.path, '--no-reachability']);
    assert.equal(off.reachability, null);
    assert.match(off.reachabilityNote, /--no-reachability/);
    assert.ok(off.findings.some((f) => f.key === 'reach-unknown'));
  } finally {
    taken.close();
    await rv.close();
    await dir.remove();
  }
});
