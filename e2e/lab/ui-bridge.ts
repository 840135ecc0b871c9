/**
 * The real UI of a `postern host` running on a lab host, in a browser in the
 * root namespace. The host listens on 127.0.0.1 inside its namespace; a small
 * forwarder there (ui-bridge-agent.ts) accepts on a Unix socket, and this
 * process listens on 127.0.0.1:PORT of the root namespace and pipes each
 * connection to that socket. PORT is the same number on both sides, so the
 * host's Host and Origin checks see their own address. No route is made
 * between the namespaces and nothing listens beyond loopback.
 *
 *   const alice = await openLabHost(lab, 'a1', { name: 'Alice', rendezvous: rv.url, dir });
 *   await page.goto(alice.url);
 *
 * `seedPair` writes two identities and each one's contact of the other, so
 * two devices start paired (pairing itself needs a connection, which the
 * failing scenarios do not have).
 */
import { createServer, connect, type Server, type AddressInfo, type Socket } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { REPO_ROOT, type Lab } from './lab.js';
import { waitForLine } from './exec.js';
import { POSTERN_BIN } from './transfer.js';
import { peerIdFromPublicKey, shortId } from '../../main/engine/identity/peer-id.js';

const AGENT = join(REPO_ROOT, 'e2e', 'lab', 'ui-bridge-agent.ts');

export interface LabHost {
  /** Open this in the browser (root namespace). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly downloadDir: string;
  readonly child: ChildProcess;
  /** The host's stderr and the bridge's, for failure messages. */
  log(): string;
  close(): Promise<void>;
}

export interface LabHostOptions {
  name: string;
  rendezvous: string;
  /** Folder for this device's data and downloads. */
  dir: string;
  /** Listening port (settings); default 0, a random one. */
  listenPort?: number;
  env?: NodeJS.ProcessEnv;
}

function listenLoopback(handler: (c: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(handler);
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** Starts `postern host --json` on a lab host and makes its UI reachable from the root namespace. */
export async function openLabHost(lab: Lab, host: string, o: LabHostOptions): Promise<LabHost> {
  const dataDir = join(o.dir, 'data');
  const downloadDir = join(o.dir, 'Downloads');
  await mkdir(downloadDir, { recursive: true });
  const socketPath = join(o.dir, 'ui.sock');
  let logText = '';
  const keep = (what: string) => (d: Buffer) => { logText = (logText + `[${what}] ${d.toString()}`).slice(-16_000); };
  const logFile = createWriteStream(join(o.dir, 'host.log'));

  // Root side first: it picks the port number the host then uses inside its namespace.
  const server = await listenLoopback((client) => {
    const upstream = connect(socketPath);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  const port = (server.address() as AddressInfo).port;

  const args = ['host', '--json', '--http-port', String(port), '--data', dataDir, '--name', o.name, '--rendezvous', o.rendezvous,
    '--download-dir', downloadDir, '--no-discovery', ...(o.listenPort !== undefined ? ['--port', String(o.listenPort)] : [])];
  const child = lab.spawn(host, process.execPath, [POSTERN_BIN, ...args], { env: { ...process.env, POSTERN_DEBUG: '1', ...o.env } });
  child.stderr?.on('data', keep('host'));
  child.stderr?.pipe(logFile);
  const line = await waitForLine(child, (l) => l.startsWith('{"event":"listening"'), { timeoutMs: 30_000, what: `postern host on ${host}` });
  const url = (JSON.parse(line) as { url: string }).url;

  const agent = lab.spawnNode(host, AGENT, [socketPath, String(port)]);
  agent.stderr?.on('data', keep('bridge'));
  await waitForLine(agent, (l) => l === 'ready', { timeoutMs: 20_000, what: `UI bridge on ${host}` });

  return {
    url, port, dataDir, downloadDir, child,
    log: () => logText,
    async close() {
      server.close();
      const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));
      if (child.exitCode === null) child.kill('SIGTERM');
      if (agent.exitCode === null) agent.kill('SIGTERM');
      await Promise.race([Promise.all([exited(child), exited(agent)]), new Promise((r) => setTimeout(r, 5000))]);
      logFile.end();
    },
  };
}

export interface SeededDevice {
  dir: string;
  name: string;
  peerId: string;
  shortId: string;
}

function newIdentity(): { publicKey: Buffer; secretKey: Buffer } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
  return { publicKey: pub, secretKey: Buffer.concat([seed, pub]) }; // libsodium's layout: seed || public key
}

/** Two devices that are already paired: identity files and each other's contact, under `<dir>/data`. */
export async function seedPair(a: { dir: string; name: string }, b: { dir: string; name: string }): Promise<[SeededDevice, SeededDevice]> {
  const devices = [a, b].map((d) => ({ ...d, key: newIdentity() }));
  const seeded = devices.map((d) => ({ dir: d.dir, name: d.name, peerId: peerIdFromPublicKey(d.key.publicKey), shortId: shortId(d.key.publicKey) })) as [SeededDevice, SeededDevice];
  for (const [i, d] of devices.entries()) {
    const other = seeded[1 - i] as SeededDevice;
    const data = join(d.dir, 'data');
    await mkdir(data, { recursive: true, mode: 0o700 });
    await writeFile(join(data, 'identity.json'), JSON.stringify({ version: 1, publicKey: d.key.publicKey.toString('hex'), secretKey: d.key.secretKey.toString('hex') }), { mode: 0o600 });
    await writeFile(join(data, 'contacts.json'), JSON.stringify([{ peerId: other.peerId, name: other.name, pairedAt: Date.now(), lastSeenAt: null, lastTier: null, pairedBy: 'code' }], null, 2), { mode: 0o600 });
  }
  return seeded;
}
