/**
 * Test helpers for the transfer layer: temp dirs, two TransferManagers wired
 * through an in-memory channel pair, waiting for states, tree comparison.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TransferInfo, TransferState } from '../../../shared/domain/transfer.js';
import { DATA_HEADER_SIZE, FrameType } from '../../wire/transfer-frames.js';
import { createChannelPair, type ChannelPair, type ChannelPairOptions } from './test-channel-pair.js';
import { TransferManager, type TransferManagerOptions } from './transfer-manager.js';

export const PEER_A = 'a'.repeat(64); // how B sees A
export const PEER_B = 'b'.repeat(64); // how A sees B

export async function tempDir(prefix = 'postern-xfer-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface Duo {
  root: string;
  /** Sender side. */
  a: TransferManager;
  /** Receiver side. */
  b: TransferManager;
  pair: ChannelPair;
  /** DATA payload bytes that went A → B (all attempts). */
  dataBytes(): number;
  /** Connect a new channel pair (after a sever). */
  reconnect(opts?: ChannelPairOptions): ChannelPair;
  downloads: string;
  srcDir: string;
  close(): Promise<void>;
}

export interface DuoOptions {
  a?: Partial<TransferManagerOptions>;
  b?: Partial<TransferManagerOptions>;
  pair?: ChannelPairOptions;
  autoAccept?: boolean;
}

export async function makeDuo(o: DuoOptions = {}): Promise<Duo> {
  const root = await tempDir();
  const downloads = path.join(root, 'downloads');
  const srcDir = path.join(root, 'src');
  await fsp.mkdir(srcDir, { recursive: true });
  const a = new TransferManager({ dataDir: path.join(root, 'data-a'), downloadDir: path.join(root, 'dl-a'), ...o.a });
  const b = new TransferManager({
    dataDir: path.join(root, 'data-b'),
    downloadDir: downloads,
    ...(o.autoAccept === false ? {} : { autoAccept: () => true }),
    ...o.b,
  });
  let data = 0;
  const connect = (opts: ChannelPairOptions = {}): ChannelPair => {
    const userTap = opts.tap ?? o.pair?.tap;
    const p = createChannelPair({
      ...o.pair,
      ...opts,
      tap: (frame, from) => {
        if (from === 'a' && frame[0] === FrameType.DATA) data += frame.length - DATA_HEADER_SIZE;
        return userTap ? userTap(frame, from) : frame;
      },
    });
    a.attachChannel(PEER_B, p.a);
    b.attachChannel(PEER_A, p.b);
    return p;
  };
  const duo: Duo = {
    root,
    a,
    b,
    pair: connect(),
    dataBytes: () => data,
    reconnect(opts) {
      duo.pair = connect(opts);
      return duo.pair;
    },
    downloads,
    srcDir,
    async close() {
      await a.close();
      await b.close();
      await fsp.rm(root, { recursive: true, force: true }).catch(() => undefined);
    },
  };
  return duo;
}

/** Resolve when transfer `id` on `m` reaches one of `states`. */
export function waitState(
  m: TransferManager,
  id: string,
  states: TransferState | TransferState[],
  timeoutMs = 30_000,
): Promise<TransferInfo> {
  const want = Array.isArray(states) ? states : [states];
  return new Promise((resolve, reject) => {
    const now = m.get(id);
    if (now && want.includes(now.state)) return resolve(now);
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timeout waiting for ${id} to be ${want.join('|')}; it is ${m.get(id)?.state} ${JSON.stringify(m.get(id)?.error ?? '')}`));
    }, timeoutMs);
    const off = m.on('transfer', (t) => {
      if (t.id === id && want.includes(t.state)) {
        clearTimeout(timer);
        off();
        resolve(t);
      }
    });
  });
}

/** Resolve once `predicate` holds for a progress event of `id` (or a snapshot). */
export function waitProgress(m: TransferManager, id: string, minBytesDone: number, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timeout waiting for progress ≥ ${minBytesDone} on ${id}`));
    }, timeoutMs);
    const off = m.on('progress', (p) => {
      if (p.id === id && p.bytesDone >= minBytesDone) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Write a file of `size` pseudo-random bytes (fast, deterministic per seed). */
export async function writeRandomFile(file: string, size: number, seed = 1): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const fh = await fsp.open(file, 'w');
  try {
    const block = Buffer.allocUnsafe(4 * 1024 * 1024);
    let x = seed >>> 0 || 1;
    for (let off = 0; off < size; off += block.length) {
      const n = Math.min(block.length, size - off);
      for (let i = 0; i < n; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        block.writeUInt32LE(x >>> 0, i);
      }
      await fh.write(block, 0, n, off);
    }
  } finally {
    await fh.close();
  }
}

/** Relative paths ('/'-separated) → sha256 (files) or 'dir' (directories), recursively. */
export async function treeOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (abs: string, rel: string): Promise<void> => {
    for (const e of await fsp.readdir(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out[r] = 'dir';
        await walk(path.join(abs, e.name), r);
      } else {
        out[r] = createHash('sha256')
          .update(await fsp.readFile(path.join(abs, e.name)))
          .digest('hex');
      }
    }
  };
  await walk(dir, '');
  return out;
}

export function listPartials(tree: Record<string, string>): string[] {
  return Object.keys(tree).filter((p) => p.includes('.postern-part'));
}
