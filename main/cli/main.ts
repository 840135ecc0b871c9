/**
 * The `postern` command: send, receive, rendezvous, contacts (and host, demo,
 * doctor in their own modules). It drives the same engine as the app.
 */
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { PosternNode, type NodeOptions } from '../engine/node.js';
import { startRendezvous } from '../rendezvous/server.js';
import { shortId } from '../engine/identity/peer-id.js';
import { TIERS, type ConnectedTier } from '../../shared/domain/connection.js';
import type { TransferInfo } from '../../shared/domain/transfer.js';
import { createOutput, formatBytes, type Output } from './output.js';
import { resolvePeer } from './peers.js';
import { parseTurnServer } from '../engine/relay/turn-tier.js';
import { errorCode, errorMessage } from '../engine/errors.js';

const USAGE = `Usage:
  postern send [--to PEER] [--rendezvous URL] [--json] PATH...
  postern receive [--into DIR] [--rendezvous URL] [--json] CODE
  postern receive --from PEER [--into DIR]        wait for a paired device to send (or resume)
  postern contacts [--json]                        list paired devices
  postern rendezvous --listen HOST:PORT [--relay]  run a rendezvous server (and relay)
      [--stun-port N] [--alt-address IP] [--stun-address IP]... [--no-stun]
                                                   with STUN on N (3478); a second IP for NAT behaviour tests (RFC 5780)
  postern host [--port N]                          serve the app's UI on localhost
  postern demo                                     two nodes (Alice, Bob) in two browser tabs
  postern doctor [--json]                          what this network allows

Common options:
  --data DIR         where identity, contacts and transfer state live (default: $POSTERN_HOME or ~/.local/share/postern)
  --name NAME        this device's display name
  --port N           TCP port to accept peers on (forward it on your router for tier "direct")
  --disable-tier T   never try tier T (debug; repeatable)
  --turn HOST:PORT[/tcp] --turn-user U --turn-pass P   relay through a TURN server when nothing direct works
  --peer-relay       relay for your other paired devices while this one runs (when it is reachable)
`;

const common = {
  rendezvous: { type: 'string', multiple: true },
  json: { type: 'boolean', default: false },
  data: { type: 'string' },
  name: { type: 'string' },
  port: { type: 'string' },
  'disable-tier': { type: 'string', multiple: true },
  'host-address': { type: 'string', multiple: true },
  'no-discovery': { type: 'boolean', default: false },
  'peer-relay': { type: 'boolean', default: false },
  turn: { type: 'string' },
  'turn-user': { type: 'string' },
  'turn-pass': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function defaultDataDir(): string {
  return process.env.POSTERN_HOME ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'postern');
}

type CommonValues = { 'peer-relay'?: boolean; turn?: string; 'turn-user'?: string; 'turn-pass'?: string; rendezvous?: string[]; data?: string; name?: string; port?: string; 'disable-tier'?: string[]; 'host-address'?: string[]; 'no-discovery'?: boolean };

function nodeOptions(v: CommonValues, extra: Partial<NodeOptions> = {}): NodeOptions {
  const disabled = [...(v['disable-tier'] ?? []), ...(process.env.POSTERN_DISABLE_TIERS?.split(',').filter(Boolean) ?? [])];
  for (const t of disabled) if (!(TIERS as readonly string[]).includes(t)) throw Object.assign(new Error(`Unknown tier "${t}". Tiers: ${TIERS.join(', ')}.`), { code: 'BAD_ARGUMENT' });
  const port = v.port === undefined ? 0 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw Object.assign(new Error(`--port must be a number from 0 to 65535, not "${v.port}".`), { code: 'BAD_ARGUMENT' });
  return {
    dataDir: resolve(v.data ?? defaultDataDir()),
    ...(v.name ? { name: v.name } : {}),
    ...(v.rendezvous?.length ? { rendezvous: v.rendezvous } : {}),
    ...(v['host-address']?.length ? { hostAddresses: v['host-address'] } : {}),
    listenPort: port,
    discovery: !v['no-discovery'],
    knobs: { disabledTiers: new Set(disabled as ConnectedTier[]) },
    ...(v['peer-relay'] ? { peerRelay: true } : {}),
    ...(v.turn ? { turn: { server: parseTurnServer(v.turn), credentials: { username: v['turn-user'] ?? process.env.POSTERN_TURN_USER ?? '', password: v['turn-pass'] ?? process.env.POSTERN_TURN_PASSWORD ?? '' } } } : {}),
    ...(process.env.POSTERN_DEBUG ? { log: (line: string) => process.stderr.write(`[postern +${Math.round(performance.now())}ms] ${line}\n`) } : {}),
    ...extra,
  };
}

function exitOnSignals(cleanup: () => Promise<void>): void {
  const stop = () => { cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Every tier tried, with its result, reason and timing (the ladder, as it happens). */
function reportAttempts(node: PosternNode, out: Output): void {
  node.on('attempt', (a) => {
    if (a.state === 'trying') return;
    out.event('attempt', { tier: a.tier, state: a.state, reason: a.reason, ms: a.ms, ...(a.target ? { target: a.target } : {}) });
  });
  node.on('nat', (n) => out.event('nat', { natType: n.natType, publicIp: n.publicIp, mapping: n.mapping, filtering: n.filtering, allocation: n.allocation, ms: n.ms }));
}

/** Resolves with the transfer once it reaches a final state. Paused transfers wait for the peer to return. */
function waitForTransfer(node: PosternNode, out: Output, match: (t: TransferInfo) => boolean): Promise<TransferInfo> {
  return new Promise((resolvePromise) => {
    let paused = false;
    node.transfers.on('progress', (p) => {
      const t = node.transfers.get(p.id);
      if (t && match(t)) out.progress(p.bytesDone, t.totalBytes, p.rate, p.etaSec);
    });
    node.transfers.on('transfer', (t) => {
      if (!match(t)) return;
      if (t.state === 'paused' && !paused) {
        paused = true;
        out.event('paused', { id: t.id, bytes: t.bytesDone, reason: t.error?.message ?? 'connection lost' }, `Connection lost at ${formatBytes(t.bytesDone)}; waiting for the other device to come back (it resumes where it stopped).`);
      }
      if (t.state === 'active') paused = false;
      if (['completed', 'failed', 'declined', 'cancelled'].includes(t.state)) resolvePromise(t);
    });
  });
}

async function cmdSend(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...common, to: { type: 'string' } } });
  const out = createOutput(v.json);
  if (v.help || positionals.length === 0) { process.stdout.write(USAGE); return positionals.length ? 0 : 2; }
  const started = performance.now();
  const node = new PosternNode(nodeOptions(v));
  reportAttempts(node, out);
  exitOnSignals(() => node.stop());
  try {
    await node.start();
    let peerId: string;
    let connectFrom = started;
    if (v.to) {
      peerId = resolvePeer(node, v.to);
    } else {
      const invite = await node.createInvite();
      connectFrom = performance.now();
      out.event('code', { code: invite.code, expiresAt: invite.expiresAt }, `Code: ${invite.code}\nOn the other computer run:  postern receive ${invite.code}\n(The code works once and expires in 10 minutes.)`);
      const paired = await invite.paired;
      peerId = paired.peerId;
      out.event('paired', { peer: peerId, shortId: shortId(peerId), name: paired.name, tier: paired.tier }, `Paired with ${paired.name || 'the other device'} (${shortId(peerId)}).`);
    }
    const session = await node.connect(peerId);
    const connectMs = Math.round(performance.now() - connectFrom);
    out.event('connected', { peer: peerId, tier: session.tier, connectMs }, `Connected (${session.tier}).`);
    const transferStarted = performance.now();
    const offered = await node.sendFiles(peerId, positionals);
    for (const w of offered.warnings ?? []) out.event('warning', { ...w }, `Skipped ${w.path}: ${w.message}`);
    out.event('offered', { id: offered.id, files: offered.files.length, bytes: offered.totalBytes }, `Offered ${offered.files.length} file(s), ${formatBytes(offered.totalBytes)}. Waiting for the other side…`);
    const final = await waitForTransfer(node, out, (t) => t.id === offered.id);
    const tier = node.session(peerId)?.tier ?? node.connectionInfo(peerId)?.tier ?? session.tier;
    if (final.state !== 'completed') {
      out.error(final.error?.code ?? final.state.toUpperCase(), final.error?.message ?? `The transfer was ${final.state}.`);
      return 1;
    }
    const ms = Math.round(performance.now() - transferStarted);
    const relay = node.connectionInfo(peerId)?.relay ?? null;
    out.event('done', { tier, bytes: final.totalBytes, sentBytes: final.totalBytes - final.bytesSkipped, ms, connectMs, ...(relay ? { relay } : {}) }, `Sent ${formatBytes(final.totalBytes)} in ${(ms / 1000).toFixed(1)} s over ${tier}.`);
    return 0;
  } catch (err) {
    out.error(errorCode(err), errorMessage(err));
    return 1;
  } finally {
    await node.stop().catch(() => {});
  }
}

async function cmdReceive(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...common, into: { type: 'string' }, from: { type: 'string' } } });
  const out = createOutput(v.json);
  if (v.help || (positionals.length === 0 && !v.from)) { process.stdout.write(USAGE); return v.help ? 0 : 2; }
  const started = performance.now();
  let expected: string | undefined;
  const into = resolve(v.into ?? process.cwd());
  const node = new PosternNode(nodeOptions(v, { downloadDir: into, autoAccept: (offer) => offer.transfer.peerId === expected }));
  reportAttempts(node, out);
  exitOnSignals(() => node.stop());
  try {
    let connectMs: number | null = null;
    node.on('session', ({ peerId, up }) => {
      if (!up) return;
      if (positionals.length && !expected) expected = peerId; // the device we are pairing with right now
      if (peerId === expected && connectMs === null) connectMs = Math.round(performance.now() - started);
    });
    await node.start();
    if (v.from) expected = resolvePeer(node, v.from);
    const done = waitForTransfer(node, out, (t) => t.direction === 'receive' && t.peerId === expected);
    node.transfers.on('offer', (offer) => {
      if (offer.transfer.peerId === expected) out.event('offer', { id: offer.transfer.id, files: offer.fileCount, bytes: offer.totalBytes }, `Receiving ${offer.fileCount} file(s), ${formatBytes(offer.totalBytes)} into ${into}`);
    });
    if (positionals.length) {
      const paired = await node.pairWithCode(positionals.join(' '));
      expected = paired.peerId;
      // An offer that raced ahead of pairing's last step waits as 'offered': take it now.
      for (const t of node.transfers.list()) {
        if (t.direction === 'receive' && t.peerId === expected && t.state === 'offered') {
          out.event('offer', { id: t.id, files: t.files.length, bytes: t.totalBytes }, `Receiving ${t.files.length} file(s), ${formatBytes(t.totalBytes)} into ${into}`);
          await node.transfers.accept(t.id);
        }
      }
      out.event('connected', { peer: paired.peerId, shortId: shortId(paired.peerId), name: paired.name, tier: paired.tier, connectMs }, `Connected to ${paired.name || 'the sender'} (${shortId(paired.peerId)}) over ${paired.tier}.`);
    } else {
      out.event('waiting', { peer: expected }, 'Waiting for the other device to send…');
    }
    const transferStarted = performance.now();
    const final = await done;
    if (final.state !== 'completed') {
      out.error(final.error?.code ?? final.state.toUpperCase(), final.error?.message ?? `The transfer was ${final.state}.`);
      return 1;
    }
    const tier = node.session(final.peerId)?.tier ?? node.connectionInfo(final.peerId)?.tier;
    const ms = Math.round(performance.now() - transferStarted);
    const files = final.files.map((f) => ({ path: f.savedPath ?? f.path, bytes: f.bytes, sha256: f.sha256 }));
    const relay = node.connectionInfo(final.peerId)?.relay ?? null;
    out.event('done', { tier, files, bytes: final.totalBytes, receivedBytes: final.totalBytes - final.bytesSkipped, ms, connectMs, ...(relay ? { relay } : {}) }, `Received ${files.length} file(s), ${formatBytes(final.totalBytes)} into ${into} over ${tier}.`);
    return 0;
  } catch (err) {
    out.error(errorCode(err), errorMessage(err));
    return 1;
  } finally {
    await node.stop().catch(() => {});
  }
}

async function cmdContacts(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, options: common });
  const out = createOutput(v.json);
  const { ContactBook } = await import('../engine/contacts.js');
  const book = await ContactBook.open(resolve(v.data ?? defaultDataDir()));
  for (const c of book.list()) out.event('contact', { ...c, shortId: shortId(c.peerId) }, `${shortId(c.peerId)}  ${c.name}  (paired ${new Date(c.pairedAt).toISOString().slice(0, 10)}, last tier ${c.lastTier ?? '-'})`);
  if (!book.list().length && !v.json) process.stdout.write('No paired devices yet. Pair with: postern send PATH\n');
  return 0;
}

async function cmdRendezvous(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, options: { listen: { type: 'string', default: '127.0.0.1:47470' }, json: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false }, 'stun-port': { type: 'string' }, 'alt-address': { type: 'string' }, 'stun-address': { type: 'string', multiple: true }, 'no-stun': { type: 'boolean', default: false }, relay: { type: 'boolean', default: false }, 'relay-max-mbps': { type: 'string' }, 'relay-max-circuits': { type: 'string' } } });
  const out = createOutput(v.json);
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(v.listen);
  if (!m) { out.error('BAD_ARGUMENT', `--listen takes HOST:PORT (for example 0.0.0.0:47470), not "${v.listen}".`); return 2; }
  const stunPort = v['no-stun'] ? null : v['stun-port'] === undefined ? undefined : Number(v['stun-port']);
  if (stunPort !== null && stunPort !== undefined && !(Number.isInteger(stunPort) && stunPort >= 0 && stunPort <= 65535)) { out.error('BAD_ARGUMENT', `--stun-port takes a port number (0: any free port), not "${v['stun-port']}".`); return 2; }
  const stunOpts = { ...(stunPort !== undefined ? { stunPort } : {}), ...(v['alt-address'] ? { altAddress: v['alt-address'] } : {}), ...(v['stun-address'] ? { stunAddresses: v['stun-address'] } : {}) };
  const relay = v.relay ? {
    ...(v['relay-max-mbps'] ? { maxBytesPerSec: Math.round(Number(v['relay-max-mbps']) * 1e6 / 8) } : {}),
    ...(v['relay-max-circuits'] ? { maxCircuitsPerPeer: Number(v['relay-max-circuits']) } : {}),
  } : false;
  const server = await startRendezvous({ host: m[1] as string, port: Number(m[2]), ...stunOpts, relay, log: v.verbose ? (l) => process.stderr.write(`${l}\n`) : () => {} });
  const stun = server.stun ? { primary: server.stun.primary, alternate: server.stun.alternate } : null;
  out.event('listening', { url: server.url, host: server.host, port: server.port, stun, relay: !!server.relay }, `Rendezvous listening on ${server.host}:${server.port} (${server.url})${stun ? `; STUN on UDP/TCP ${stun.primary.port}${stun.alternate ? ` (RFC 5780 alternate ${stun.alternate.ip}:${stun.alternate.port})` : ''}` : ''}`);
  await new Promise<void>((res) => {
    const stop = () => res();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  try {
    switch (cmd) {
      case 'send': return await cmdSend(rest);
      case 'receive': return await cmdReceive(rest);
      case 'contacts': return await cmdContacts(rest);
      case 'rendezvous': return await cmdRendezvous(rest);
      case 'host': case 'demo': case 'doctor': {
        const mod = await import(`./${cmd}.js`) as { run(argv: string[]): Promise<number> };
        return await mod.run(rest);
      }
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(USAGE);
        return cmd ? 0 : 2;
      default:
        process.stderr.write(`Unknown command "${cmd}".\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    const json = rest.includes('--json');
    createOutput(json).error(errorCode(err, 'BAD_ARGUMENT'), errorMessage(err));
    return 2;
  }
}

process.exitCode = await main();
// Sockets and timers of a stopped node may linger for a moment; the command is done.
setTimeout(() => process.exit(process.exitCode ?? 0), 50).unref();
