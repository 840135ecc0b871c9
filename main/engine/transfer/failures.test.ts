/** Disk errors (EACCES, ENOSPC), corruption in transit, sanitized names. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { FrameType, DATA_HEADER_SIZE } from '../../wire/transfer-frames.js';
import type { PartHandle, PartialIo } from './partial-store.js';
import { PEER_B, listPartials, makeDuo, sha256File, treeOf, waitState, writeRandomFile } from './test-util.js';

const MiB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;

function failingIo(opts: { openError?: string; writeBudget?: { bytes: number } }): PartialIo {
  return {
    async open(file, flags) {
      if (opts.openError) throw Object.assign(new Error(`${opts.openError}: injected, open '${file}'`), { code: opts.openError });
      const h = await fsp.open(file, flags);
      const budget = opts.writeBudget;
      const wrapped: PartHandle = {
        read: (b, o, l, p) => h.read(b, o, l, p),
        async write(b, o, l, p) {
          if (budget) {
            if (budget.bytes < l) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
            budget.bytes -= l;
          }
          return h.write(b, o, l, p);
        },
        truncate: (l) => h.truncate(l),
        sync: () => h.sync(),
        close: () => h.close(),
      };
      return wrapped;
    },
  };
}

test('no permission to write the save folder → failed with a clear message on both sides', async (t) => {
  // As root a read-only folder is still writable, so inject EACCES instead.
  const duo = await makeDuo(isRoot ? { b: { io: failingIo({ openError: 'EACCES' }) } } : {});
  t.after(async () => {
    await fsp.chmod(duo.downloads, 0o755).catch(() => undefined);
    await duo.close();
  });
  await fsp.mkdir(duo.downloads, { recursive: true });
  if (!isRoot) await fsp.chmod(duo.downloads, 0o555);
  await writeRandomFile(path.join(duo.srcDir, 'a.bin'), 3 * MiB, 1);
  const sent = await duo.a.send(PEER_B, [path.join(duo.srcDir, 'a.bin')]);
  const b = await waitState(duo.b, sent.id, 'failed');
  const a = await waitState(duo.a, sent.id, 'failed');
  assert.equal(b.error?.code, 'no-permission');
  assert.match(b.error!.message, /No permission to write into/);
  assert.match(b.error!.message, /Choose another folder/);
  assert.equal(a.error?.code, 'no-permission');
  assert.match(a.error!.message, /other computer reported: The receiving computer cannot write/);
  assert.ok(!a.error!.message.includes(duo.downloads), 'no local paths of the receiver leak to the sender');
});

test('disk full mid-way → failed (disk-full), partial kept; after freeing space, resume sends only the rest', async (t) => {
  const budget = { bytes: 10 * MiB };
  const duo = await makeDuo({ b: { io: failingIo({ writeBudget: budget }) }, pair: { highWaterMark: MiB, lowWaterMark: 256 * 1024 } });
  t.after(() => duo.close());
  const size = 32 * MiB;
  const file = path.join(duo.srcDir, 'big.iso');
  await writeRandomFile(file, size, 2);
  const sent = await duo.a.send(PEER_B, [file]);
  const b = await waitState(duo.b, sent.id, 'failed');
  const a = await waitState(duo.a, sent.id, 'failed');
  assert.equal(b.error?.code, 'disk-full');
  assert.match(b.error!.message, /Not enough disk space/);
  assert.match(b.error!.message, /kept/);
  assert.equal(a.error?.code, 'disk-full');
  await duo.b.whenIdle();
  const partials = listPartials(await treeOf(duo.downloads));
  assert.equal(partials.length, 2, `partial + sidecar kept: ${partials.join(', ')}`);

  budget.bytes = Infinity; // the user freed space
  const before = duo.dataBytes();
  duo.a.resume(sent.id);
  const done = await waitState(duo.b, sent.id, 'completed');
  await waitState(duo.a, sent.id, 'completed');
  assert.equal(await sha256File(path.join(duo.downloads, 'big.iso')), await sha256File(file));
  const second = duo.dataBytes() - before;
  t.diagnostic(`resume after disk full sent ${(second / MiB).toFixed(1)} MiB of ${size / MiB}`);
  assert.ok(second <= size - 10 * MiB + MiB, `second attempt sent ${second}`);
  assert.ok(done.bytesSkipped >= 9 * MiB);
});

test('a chunk corrupted in transit is detected and sent again', async (t) => {
  let corrupted = 0;
  const duo = await makeDuo({
    a: { chunkSize: 64 * 1024 },
    pair: {
      tap: (frame, from) => {
        if (from === 'a' && frame[0] === FrameType.DATA && corrupted === 0 && frame.length > DATA_HEADER_SIZE + 100) {
          const copy = Uint8Array.from(frame);
          copy[DATA_HEADER_SIZE + 50]! ^= 0xff;
          corrupted++;
          return copy;
        }
        return frame;
      },
    },
  });
  t.after(() => duo.close());
  const file = path.join(duo.srcDir, 'doc.pdf');
  await writeRandomFile(file, 1 * MiB + 5, 8);
  const sent = await duo.a.send(PEER_B, [file]);
  await waitState(duo.b, sent.id, 'completed');
  assert.equal(corrupted, 1);
  assert.equal(await sha256File(path.join(duo.downloads, 'doc.pdf')), await sha256File(file));
  assert.equal(duo.dataBytes(), 1 * MiB + 5 + 64 * 1024, 'exactly one chunk resent');
});

test('a chunk that is always corrupted fails the transfer clearly', async (t) => {
  const duo = await makeDuo({
    a: { chunkSize: 64 * 1024 },
    pair: {
      tap: (frame, from) => {
        if (from === 'a' && frame[0] === FrameType.DATA && new DataView(frame.buffer, frame.byteOffset).getUint32(22) === 2) {
          const copy = Uint8Array.from(frame);
          copy[DATA_HEADER_SIZE]! ^= 1;
          return copy;
        }
        return frame;
      },
    },
  });
  t.after(() => duo.close());
  const file = path.join(duo.srcDir, 'x.bin');
  await writeRandomFile(file, 512 * 1024, 4);
  const sent = await duo.a.send(PEER_B, [file]);
  const b = await waitState(duo.b, sent.id, 'failed');
  assert.equal(b.error?.code, 'chunk-corrupt');
  assert.match(b.error!.message, /kept arriving corrupted/);
  assert.equal((await waitState(duo.a, sent.id, 'failed')).error?.code, 'chunk-corrupt');
});

test('unsafe but plausible names are sanitized on the receiver', async (t) => {
  const duo = await makeDuo();
  t.after(() => duo.close());
  const dir = path.join(duo.srcDir, 'Odd');
  await fsp.mkdir(dir);
  const names = ['CON.txt', 'a:b?.txt', 'trailing. ', 'back\\slash.txt', 'nul', 'ok.txt'];
  for (const n of names) await fsp.writeFile(path.join(dir, n), n);
  const sent = await duo.a.send(PEER_B, [dir]);
  const done = await waitState(duo.b, sent.id, 'completed');
  const saved = (await fsp.readdir(path.join(duo.downloads, 'Odd'))).sort();
  assert.deepEqual(saved, ['CON_.txt', 'a_b_.txt', 'back_slash.txt', 'nul_', 'ok.txt', 'trailing'].sort());
  assert.equal(await fsp.readFile(path.join(duo.downloads, 'Odd', 'CON_.txt'), 'utf8'), 'CON.txt');
  assert.ok(done.files.some((f) => f.path === 'Odd/back_slash.txt'));
});

test('the sender stops cleanly when a source file changes after the offer', async (t) => {
  const duo = await makeDuo({ autoAccept: false });
  t.after(() => duo.close());
  const file = path.join(duo.srcDir, 'log.txt');
  await fsp.writeFile(file, 'v1');
  const offered = new Promise<string>((r) => duo.b.on('offer', (o) => r(o.transfer.id)));
  const sent = await duo.a.send(PEER_B, [file]);
  await offered;
  await fsp.writeFile(file, 'version two');
  await duo.b.accept(sent.id);
  const a = await waitState(duo.a, sent.id, 'failed');
  assert.equal(a.error?.code, 'source-changed');
  assert.match(a.error!.message, /changed since it was offered/);
  assert.equal((await waitState(duo.b, sent.id, 'failed')).error?.code, 'source-changed');
});
