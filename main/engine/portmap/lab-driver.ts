/**
 * A JSON-lines control program around the port mapper and the reachability
 * check, run inside the network lab's namespaces by e2e/lab/portmap.test.ts
 * (the test process itself never sends to a lab address), and usable by hand
 * against a real router: `node --import tsx main/engine/portmap/lab-driver.ts facts`.
 *
 *   map     '{"ports":[…],"description":"…","dataDir":"…","listen":true}'
 *           maps, prints {"event":"state",…} on every change; stdin lines:
 *           "renew", "stop" (removes the mappings, exits 0), "crash" (exits 3 at once)
 *   facts   prints routerFacts()
 *   serve   '{"host":"85.10.0.10","port":4443,"checkFrom":"85.10.0.20"}' a rendezvous
 *   reach   '{"url":"ws://…","checks":[{"tcpPort":…,"udpPort":…}],"listenTcp":[…],"listenUdp":[…]}'
 *   connect '{"ip":"80.16.0.2","port":41000,"proto":"tcp"}' prints the greeting it got
 * With "listen", every mapped TCP port greets with "hello from <host>:<port>\n" and
 * every mapped UDP port echoes and answers reachability probes.
 */
import { createServer } from 'node:net';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { hostname } from 'node:os';
import { PortMapper, type PortMapperOptions } from './port-mapper.js';
import { routerFacts } from './probe.js';
import { reachProbeAnswer } from '../../wire/signaling.js';
import { startRendezvous } from '../../rendezvous/server.js';
import { RendezvousClient } from '../signaling/rendezvous-client.js';
import { generateIdentity } from '../identity/identity.js';
import { errorMessage } from '../errors.js';

const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const [mode = '', json = '{}'] = process.argv.slice(2);
const args = JSON.parse(json) as Record<string, unknown>;

function listenTcp(port: number): Promise<void> {
  const server = createServer((s) => { s.end(`hello from ${hostname()}:${port}\n`); s.on('error', () => {}); });
  return new Promise((resolve) => server.listen(port, '0.0.0.0', () => resolve()));
}

function listenUdp(port: number): Promise<void> {
  const s = createSocket('udp4');
  s.on('message', (m, r) => s.send(reachProbeAnswer(m) ?? Buffer.concat([Buffer.from('echo '), m]), r.port, r.address));
  return new Promise((resolve) => s.bind(port, '0.0.0.0', () => resolve()));
}

async function map(): Promise<void> {
  const o = args as unknown as PortMapperOptions & { listen?: boolean };
  if (o.listen) {
    for (const p of o.ports) await (p.proto === 'tcp' ? listenTcp(p.internalPort) : listenUdp(p.internalPort));
  }
  const m = new PortMapper({ ...o, log: (l) => out({ event: 'log', line: l }) });
  m.on('change', (state) => out({ event: 'state', state }));
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'crash') process.exit(3);
    if (cmd === 'renew') void m.renew().then((state) => out({ event: 'renewed', state }));
    if (cmd === 'stop') void m.stop().then(() => { out({ event: 'stopped' }); process.exit(0); });
  });
  const state = await m.start();
  out({ event: 'started', state });
}

async function reach(): Promise<void> {
  for (const p of (args.listenTcp as number[] | undefined) ?? []) await listenTcp(p);
  for (const p of (args.listenUdp as number[] | undefined) ?? []) await listenUdp(p);
  const client = new RendezvousClient({ url: String(args.url), identity: generateIdentity(), name: 'reach', endpoint: { tcpPort: null, candidates: [] } });
  await client.start();
  for (const c of (args.checks as { tcpPort?: number; udpPort?: number }[]) ?? []) {
    try {
      out({ event: 'result', check: c, result: await client.checkReachability(c) });
    } catch (err) {
      out({ event: 'result', check: c, error: errorMessage(err) });
    }
  }
  client.close();
  process.exit(0);
}

async function probeConnect(): Promise<void> {
  const { ip, port, proto } = args as { ip: string; port: number; proto?: string };
  if (proto === 'udp') {
    const s = createSocket('udp4');
    const timer = setTimeout(() => { out({ event: 'error', error: 'no answer' }); process.exit(1); }, 2000);
    s.on('message', (m) => { clearTimeout(timer); out({ event: 'connected', line: m.toString() }); process.exit(0); });
    s.send('ping', port, ip);
    return;
  }
  const s = connect({ host: ip, port });
  let data = '';
  const timer = setTimeout(() => { out({ event: 'error', error: 'timeout' }); process.exit(1); }, 3000);
  s.on('data', (d: Buffer) => { data += d.toString(); });
  s.on('end', () => { clearTimeout(timer); out({ event: 'connected', line: data.trim() }); process.exit(0); });
  s.on('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); out({ event: 'error', error: err.code ?? err.message }); process.exit(1); });
}

async function main(): Promise<void> {
  if (mode === 'map') return map();
  if (mode === 'facts') {
    out({ event: 'facts', facts: await routerFacts() });
    process.exit(0);
  }
  if (mode === 'serve') {
    const rv = await startRendezvous({ host: String(args.host), port: Number(args.port), stunPort: null, ...(args.checkFrom ? { checkFromAddress: String(args.checkFrom) } : {}) });
    out({ event: 'listening', url: rv.url });
    return;
  }
  if (mode === 'reach') return reach();
  if (mode === 'connect') return probeConnect();
  throw new Error(`unknown mode "${mode}" (map, facts, serve, reach, connect)`);
}

main().catch((err) => {
  out({ event: 'fatal', error: errorMessage(err) });
  process.exit(2);
});
