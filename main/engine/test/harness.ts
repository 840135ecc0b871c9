/** Test helpers: temp data dirs and nodes wired to one loopback rendezvous. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PosternNode, type NodeOptions } from '../node.js';
import { startRendezvous, type RendezvousOptions, type RendezvousServer } from '../../rendezvous/server.js';
export { sha256File } from '../transfer/test-util.js';

export async function tempDir(prefix = 'postern-test-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface Pair {
  rendezvous: RendezvousServer;
  alice: PosternNode;
  bob: PosternNode;
  root: string;
  close(): Promise<void>;
}

export async function startNodes(opts: { alice?: Partial<NodeOptions>; bob?: Partial<NodeOptions>; rendezvous?: Partial<RendezvousOptions> } = {}): Promise<Pair> {
  const dir = await tempDir();
  const rendezvous = await startRendezvous({ host: '127.0.0.1', port: 0, relay: true, ...opts.rendezvous });
  const make = (name: string, extra: Partial<NodeOptions> = {}) => new PosternNode({
    dataDir: join(dir.path, name, 'data'), downloadDir: join(dir.path, name, 'downloads'), name,
    rendezvous: [rendezvous.url], discovery: false, ...(process.env.DBG ? { log: (l: string) => console.error(name, l) } : {}), ...extra,
  });
  const alice = make('alice', opts.alice);
  const bob = make('bob', opts.bob);
  await Promise.all([alice.start(), bob.start()]);
  return {
    rendezvous, alice, bob, root: dir.path,
    async close() {
      await Promise.all([alice.stop(), bob.stop()]);
      await rendezvous.close();
      await dir.remove();
    },
  };
}

/** Write `bytes` random bytes to `file` (8 MiB at a time) and return their SHA-256. */
export async function randomFile(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'w');
  const hash = createHash('sha256');
  try {
    for (let done = 0; done < bytes; done += 8 << 20) {
      const buf = randomBytes(Math.min(8 << 20, bytes - done));
      hash.update(buf);
      await fh.write(buf);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}
