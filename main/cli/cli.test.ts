/**
 * Integration over loopback: real CLI processes, a real rendezvous, real files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRendezvous } from '../rendezvous/server.js';
import { randomFile, sha256File, tempDir } from '../engine/test/harness.js';
import { CliProcess, sendAndReceive } from './cli-process.js';



test('CLI: a 200 MiB file and a folder move from send to receive, verified by hash', async () => {
  const dir = await tempDir();
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0 });
  try {
    const src = join(dir.path, 'payload');
    await mkdir(join(src, 'nested', 'deeper'), { recursive: true });
    const bigSha = await randomFile(join(src, 'big.bin'), 200 * 1024 * 1024);
    await writeFile(join(src, 'nested', 'note.txt'), 'hello from postern\n');
    await writeFile(join(src, 'nested', 'deeper', 'empty.dat'), '');
    const { sender, receiver } = await sendAndReceive({ rendezvous: rv.url, sendData: join(dir.path, 's'), recvData: join(dir.path, 'r'), into: join(dir.path, 'in'), paths: [src] });
    const [sent, received] = await Promise.all([sender.result(), receiver.result()]);
    assert.equal(sent.tier, 'lan');
    assert.equal(received.tier, 'lan');
    assert.equal(received.bytes, 200 * 1024 * 1024 + 19);
    const files = received.files as { path: string; bytes: number; sha256: string }[];
    assert.deepEqual(files.map((f) => f.path).sort(), ['payload/big.bin', 'payload/nested/deeper/empty.dat', 'payload/nested/note.txt']);
    assert.equal(files.find((f) => f.path === 'payload/big.bin')?.sha256, bigSha);
    assert.equal(await sha256File(join(dir.path, 'in', 'payload', 'big.bin')), bigSha);
    assert.equal(typeof received.connectMs, 'number');
    assert.equal(await sender.exited, 0);
    assert.equal(await receiver.exited, 0);
  } finally {
    await rv.close();
    await dir.remove();
  }
});

test('CLI: the sender killed mid-way and restarted resumes; under 5% of the bytes are sent again', async () => {
  const dir = await tempDir();
  const rv = await startRendezvous({ host: '127.0.0.1', port: 0 });
  const total = 200 * 1024 * 1024;
  try {
    const src = join(dir.path, 'movie.bin');
    const sha = await randomFile(src, total);
    const sendData = join(dir.path, 's');
    const { sender, receiver } = await sendAndReceive({ rendezvous: rv.url, sendData, recvData: join(dir.path, 'r'), into: join(dir.path, 'in'), paths: [src] });
    // Kill the sender once the receiver has about half of the file.
    await receiver.waitFor((e) => e.event === 'progress' && (e.bytes as number) > total / 2);
    await sender.kill('SIGKILL');
    const paused = await receiver.waitFor('paused');
    const receiverId = String((await sender.waitFor('paired')).peer);
    const restarted = new CliProcess(['send', '--rendezvous', rv.url, '--json', '--no-discovery', '--data', sendData, '--to', receiverId, src]);
    const [done, recv] = await Promise.all([restarted.result(), receiver.result()]);
    assert.equal(done.bytes, total);
    const files = recv.files as { sha256: string }[];
    assert.equal(files[0]?.sha256, sha);
    assert.equal(await sha256File(join(dir.path, 'in', 'movie.bin')), sha);
    // Bytes received before the kill that had to be sent again.
    const beforeKill = paused.bytes as number;
    const skipped = total - (recv.receivedBytes as number);
    const resent = beforeKill - skipped;
    assert.ok(beforeKill > total / 2 - 1, `paused at ${beforeKill}`);
    assert.ok(resent < total * 0.05, `resent ${resent} bytes of ${beforeKill} received before the kill`);
    await Promise.all([restarted.exited, receiver.exited]);
  } finally {
    await rv.close();
    await dir.remove();
  }
});
