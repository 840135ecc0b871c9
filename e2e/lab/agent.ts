/**
 * The lab's probe agent, run inside lab namespaces (`node --import tsx agent.ts MODE …`).
 *
 * On the server, `reflect` is a tiny RFC 5780-style reflector: UDP sockets on
 * the server's two addresses x two ports answer with the source address they
 * observed (the sender's NAT mapping), can answer from another of their
 * addresses/ports (the CHANGE-REQUEST idea: does the NAT's filter let that in?)
 * and can send an unsolicited datagram to any endpoint (is a port map really
 * open?). TCP listeners answer with the observed address too.
 *
 * On hosts, the client modes send probes and print ONE JSON line with what
 * they saw (negative results are data, exit code 0):
 *   mapping   --targets A,B,…           mapped address seen by each target, one socket
 *   filtering --target T --alts A,B,…   which "reply from another endpoint" gets back in
 *   ttl       --target T --ttl N        does an echo with this TTL get an answer
 *   tcp       --target T                TCP connect, observed address
 *   rtt       --target T --count N      round trips (latency, loss)
 *   listen    --target T --ms N         learn own mapping, print it, then print every datagram received
 *   send      --to E --count N          send datagrams to an endpoint
 *   bulk      --target T --bytes N      TCP download from the reflector's bulk port (rate)
 *   batch     --plan JSON               several of the above in one process (a JSON array)
 *   natpmp | pcp | upnp                 see agent-gateway.ts
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { connect, createServer, type Socket as TcpSocket } from 'node:net';
import { gatewayProbe } from './agent-gateway.js';
import { familyOf, formatEndpoint, nextId, observe, parseEndpoint, send, sleep, udpSocket, type Json } from './agent-udp.js';

// ---- server side -----------------------------------------------------------

/** TCP bulk source: reads the byte count the client asks for (one line), sends that many bytes, closes. */
function bulkServer(c: TcpSocket): void {
  let line = '';
  c.on('data', (d: Buffer) => {
    if (line.includes('\n')) return;
    line += d.toString();
    if (!line.includes('\n')) return;
    let left = Math.min(Number(line.trim()) || 0, 1 << 30);
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!c.write(chunk.subarray(0, n))) return void c.once('drain', pump);
      }
      c.end();
    };
    pump();
  });
}

async function reflect(udp: string[], tcp: string[], bulk: string[]): Promise<void> {
  process.title = 'pl-reflector';
  const sockets = new Map<string, Socket>();
  for (const ep of udp) {
    const e = parseEndpoint(ep);
    const s = await udpSocket(familyOf(e.address), e.port, e.address);
    sockets.set(formatEndpoint(e.address, e.port), s);
  }
  for (const [self, s] of sockets) {
    s.on('message', (buf: Buffer, r: RemoteInfo) => {
      let req: Json;
      try {
        req = JSON.parse(buf.toString()) as Json;
      } catch {
        return;
      }
      const observed = formatEndpoint(r.address, r.port);
      const reply = (from: Socket, via: string, body: Json): void => {
        from.send(JSON.stringify({ ...body, id: req.id, observed, via }), r.port, r.address);
      };
      if (req.op === 'echo') reply(s, self, { op: 'echo' });
      else if (req.op === 'reply-from' && typeof req.from === 'string') {
        const other = sockets.get(req.from);
        if (other) reply(other, req.from, { op: 'reply-from' });
      } else if (req.op === 'send-to' && typeof req.from === 'string' && typeof req.to === 'string') {
        const other = sockets.get(req.from);
        if (!other) return;
        send(other, req.to, { op: 'unsolicited', id: req.id, via: req.from });
        reply(s, self, { op: 'send-to' });
      }
    });
  }
  for (const ep of tcp) {
    const e = parseEndpoint(ep);
    const server = createServer((c) => {
      c.on('error', () => undefined);
      c.end(JSON.stringify({ observed: formatEndpoint(c.remoteAddress ?? '?', c.remotePort ?? 0), via: ep }) + '\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(e.port, e.address, () => resolve());
    });
  }
  for (const ep of bulk) {
    const e = parseEndpoint(ep);
    const server = createServer((c) => { c.on('error', () => undefined); bulkServer(c); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(e.port, e.address, () => resolve());
    });
  }
  process.stdout.write('ready\n');
  // Dies with the lab: the lab holds our stdin open.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

// ---- client probes ---------------------------------------------------------

async function mapping(targets: string[]): Promise<Json> {
  const s = await udpSocket(familyOf(parseEndpoint(targets[0] ?? '0.0.0.0:0').address));
  const mapped: Record<string, string | null> = {};
  for (const t of targets) mapped[t] = (await observe(s, t)) ?? null;
  const local = s.address();
  s.close();
  return { local: formatEndpoint(local.address, local.port), mapped };
}

async function filtering(target: string, alts: string[], windowMs: number): Promise<Json> {
  const s = await udpSocket(familyOf(parseEndpoint(target).address));
  const mapped = await observe(s, target);
  const arrived: Record<string, boolean> = Object.fromEntries(alts.map((a) => [a, false]));
  if (mapped) {
    s.on('message', (buf: Buffer) => {
      try {
        const m = JSON.parse(buf.toString()) as Json;
        if (m.op === 'reply-from' && typeof m.via === 'string' && m.via in arrived) arrived[m.via] = true;
      } catch {
        // ignore
      }
    });
    // Ask a few times (loss); the alternative endpoints never send before this, so nothing they send is solicited.
    // Then wait out the rest of the window for answers that are slow rather than dropped (a busy machine).
    for (let i = 0; i < 3; i++) {
      for (const a of alts) send(s, target, { op: 'reply-from', id: nextId(), from: a });
      await sleep(250);
    }
    await sleep(Math.max(0, windowMs - 750));
  }
  s.close();
  return { mapped: mapped ?? null, arrived };
}

async function ttlProbe(target: string, ttl: number): Promise<Json> {
  const s = await udpSocket(familyOf(parseEndpoint(target).address));
  s.setTTL(ttl);
  const observed = await observe(s, target, 3);
  s.close();
  return { ttl, replied: observed !== undefined };
}

function tcpProbe(target: string, timeoutMs: number): Promise<Json> {
  const e = parseEndpoint(target);
  return new Promise((resolve) => {
    const c = connect({ host: e.address, port: e.port });
    let data = '';
    const timer = setTimeout(() => { c.destroy(); resolve({ connected: false, error: 'timeout' }); }, timeoutMs);
    c.on('data', (d: Buffer) => { data += d.toString(); });
    c.on('end', () => {
      clearTimeout(timer);
      let observed: unknown;
      try { observed = (JSON.parse(data) as Json).observed; } catch { observed = undefined; }
      resolve({ connected: true, observed });
    });
    c.on('error', (err) => { clearTimeout(timer); resolve({ connected: false, error: err.message }); });
  });
}

async function rtt(target: string, count: number, intervalMs: number): Promise<Json> {
  const s = await udpSocket(familyOf(parseEndpoint(target).address));
  const sentAt = new Map<string, number>();
  const rtts: number[] = [];
  s.on('message', (buf: Buffer) => {
    try {
      const m = JSON.parse(buf.toString()) as Json;
      const t = typeof m.id === 'string' ? sentAt.get(m.id) : undefined;
      if (t !== undefined) rtts.push(Number(process.hrtime.bigint() / 1000n) / 1000 - t);
    } catch {
      // ignore
    }
  });
  for (let i = 0; i < count; i++) {
    const id = nextId();
    sentAt.set(id, Number(process.hrtime.bigint() / 1000n) / 1000);
    send(s, target, { op: 'echo', id });
    await sleep(intervalMs);
  }
  await sleep(Math.max(500, intervalMs * 2));
  s.close();
  rtts.sort((a, b) => a - b);
  return { sent: count, received: rtts.length, minMs: rtts[0] ?? null, medianMs: rtts[Math.floor(rtts.length / 2)] ?? null };
}

/** Downloads `bytes` from a bulk endpoint; the rate a host sees through its access link. */
function bulk(target: string, bytes: number, timeoutMs: number): Promise<Json> {
  const e = parseEndpoint(target);
  return new Promise((resolve) => {
    const c = connect({ host: e.address, port: e.port });
    let got = 0;
    let t0 = 0;
    const timer = setTimeout(() => { c.destroy(); resolve({ bytes: got, error: 'timeout' }); }, timeoutMs);
    c.on('connect', () => { t0 = performance.now(); c.write(`${bytes}\n`); });
    c.on('data', (d: Buffer) => { got += d.length; });
    c.on('end', () => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      resolve({ bytes: got, ms: Math.round(ms), mbit: Math.round(((got * 8) / (ms / 1000) / 1e6) * 10) / 10 });
    });
    c.on('error', (err) => { clearTimeout(timer); resolve({ bytes: got, error: err.message }); });
  });
}

async function listen(target: string, ms: number): Promise<void> {
  const s = await udpSocket(familyOf(parseEndpoint(target).address));
  const local = s.address();
  s.on('message', (buf: Buffer, r: RemoteInfo) => {
    let body: unknown = buf.toString();
    try { body = JSON.parse(buf.toString()); } catch { /* plain text */ }
    if ((body as Json | null)?.op === 'echo') return; // our own mapping probe's answer
    process.stdout.write(JSON.stringify({ from: formatEndpoint(r.address, r.port), body }) + '\n');
    if (body === 'hairpin?') s.send('hairpin!', r.port, r.address);
  });
  const mapped = await observe(s, target);
  process.stdout.write(JSON.stringify({ local: formatEndpoint(local.address, local.port), mapped: mapped ?? null }) + '\n');
  await sleep(ms);
  s.close();
}

async function sendTo(to: string, count: number, waitMs: number): Promise<Json> {
  const e = parseEndpoint(to);
  const s = await udpSocket(familyOf(e.address));
  const replies: string[] = [];
  s.on('message', (buf: Buffer, r: RemoteInfo) => replies.push(`${formatEndpoint(r.address, r.port)} ${buf.toString()}`));
  for (let i = 0; i < count; i++) {
    s.send('hairpin?', e.port, e.address);
    await sleep(waitMs / count);
  }
  const local = s.address();
  s.close();
  return { local: formatEndpoint(local.address, local.port), replies };
}

// ---- entry -----------------------------------------------------------------

function flags(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k?.startsWith('--')) m.set(k.slice(2), argv[i + 1] ?? '');
  }
  return m;
}

type Flags = Map<string, string>;

/** One client probe; returns its JSON result. */
async function probe(mode: string, f: Flags): Promise<Json> {
  const get = (k: string): string => {
    const v = f.get(k);
    if (v === undefined || v === '') throw new Error(`${mode}: --${k} is required`);
    return v;
  };
  const num = (k: string, d: number): number => (f.has(k) ? Number(f.get(k)) : d);
  const list = (k: string): string[] => get(k).split(',').filter(Boolean);
  switch (mode) {
    case 'mapping': return mapping(list('targets'));
    case 'filtering': return filtering(get('target'), list('alts'), num('window', 1800));
    case 'ttl': return ttlProbe(get('target'), num('ttl', 64));
    case 'tcp': return tcpProbe(get('target'), num('timeout', 3000));
    case 'rtt': return rtt(get('target'), num('count', 10), num('interval', 20));
    case 'bulk': return bulk(get('target'), num('bytes', 1 << 20), num('timeout', 20_000));
    case 'send': return sendTo(get('to'), num('count', 3), num('wait', 1500));
    case 'natpmp': case 'pcp': case 'upnp':
      return gatewayProbe(mode, { gateway: f.get('gw') ?? '', reflector: get('reflector'), unsolicitedFrom: get('from') });
    default: throw new Error(`unknown mode "${mode}"`);
  }
}

async function main(): Promise<void> {
  const [mode = '', ...rest] = process.argv.slice(2);
  const f = flags(rest);
  const list = (k: string): string[] => (f.get(k) ?? '').split(',').filter(Boolean);
  if (mode === 'reflect') return reflect(list('udp'), list('tcp'), list('bulk'));
  if (mode === 'listen') return listen(f.get('target') ?? '', Number(f.get('ms') ?? 5000));
  let out: unknown;
  if (mode === 'batch') {
    // --plan '[["mapping","--targets","…"],["tcp","--target","…"]]': several probes, one process, a JSON array.
    const plan = JSON.parse(f.get('plan') ?? '[]') as string[][];
    const results: Json[] = [];
    for (const [m = '', ...args] of plan) results.push(await probe(m, flags(args)));
    out = results;
  } else {
    out = await probe(mode, f);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('agent.ts') || entry.endsWith('agent.js')) {
  main().catch((err: unknown) => {
    process.stderr.write(`agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
