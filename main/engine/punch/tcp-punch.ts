/**
 * TCP hole punching by simultaneous open (DC++'s NAT-T, seed 000): for networks
 * that drop UDP. Each side opens a TCP connection from a local port P to the
 * rendezvous (`GET /observed`) to learn its NAT's mapping for P, and keeps that
 * connection open so the mapping stays. Then both sides, at a synchronized moment,
 * repeatedly connect from P to the other's mapping. When the two SYNs cross, each
 * NAT already holds the outbound entry the other's SYN matches, and the kernel
 * completes a simultaneous open: one TCP connection, seen from both ends.
 * Works through NATs with endpoint-independent mapping (cone, port-restricted),
 * and through a sequential one facing those (it offers its next ports;
 * tcp-punch-tier.ts); not through a random one, whose port for the peer is unknowable.
 */
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { dialTcp } from '../ladder/tcp-dial.js';
import { EngineError, errorMessage } from '../errors.js';

export interface TcpMapping {
  localPort: number;
  observed: { ip: string; port: number };
  /** Closes the connection that holds the mapping open. */
  release(): void;
}

/** Learn our NAT's TCP mapping for a fresh local port from the rendezvous. */
export async function observeTcpMapping(rendezvousUrl: string, timeoutMs = 3000): Promise<TcpMapping> {
  const url = new URL(rendezvousUrl.replace(/^ws/, 'http'));
  url.pathname = '/observed';
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  // Bind explicitly (libuv then sets SO_REUSEADDR), so the punch can bind the same port again.
  const localPort = await freePort();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, timeout: timeoutMs, localPort, headers: { connection: 'keep-alive' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 4096) body += d; });
      res.on('end', () => {
        try {
          const observed = JSON.parse(body) as { ip: string; port: number };
          if (typeof observed.ip !== 'string' || typeof observed.port !== 'number') throw new Error('bad answer');
          resolve({ localPort, observed, release: () => agent.destroy() });
        } catch (err) {
          agent.destroy();
          reject(new EngineError('OBSERVE_FAILED', `the rendezvous did not tell us our TCP mapping (${errorMessage(err)})`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      agent.destroy();
      reject(new EngineError('OBSERVE_FAILED', `could not ask the rendezvous for our TCP mapping: ${err.message}`));
    });
    req.end();
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Connect from `localPort` to each candidate again and again until one connects
 * (simultaneous open) or time runs out.
 */
export async function punchTcp(opts: { localPort: number; candidates: { ip: string; port: number }[]; timeoutMs?: number; attemptMs?: number; signal?: AbortSignal }): Promise<Socket> {
  const deadline = performance.now() + (opts.timeoutMs ?? 6000);
  const attemptMs = opts.attemptMs ?? 400;
  let last = 'no attempt';
  let rounds = 0;
  while (performance.now() < deadline) {
    if (opts.signal?.aborted) throw new EngineError('CANCELLED', 'cancelled');
    rounds++;
    const round = opts.candidates.map((c) => dialTcp(c.ip, c.port, attemptMs, opts.signal, opts.localPort));
    try {
      const socket = await Promise.any(round);
      // Close any other attempt of this round that connected too.
      void Promise.allSettled(round).then((all) => all.forEach((r) => { if (r.status === 'fulfilled' && r.value !== socket) r.value.destroy(); }));
      return socket;
    } catch (err) {
      last = err instanceof AggregateError ? errorMessage(err.errors[0]) : errorMessage(err);
      // Refused at once: pace the retries so the peer's SYN has a chance to leave.
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new EngineError('TCP_PUNCH_TIMEOUT', `no simultaneous open after ${rounds} rounds (last: ${last})`);
}
