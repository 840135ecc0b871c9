/**
 * The rendezvous's reachability check ("can the internet reach me?", the port
 * check qBittorrent and Syncthing users asked for): on a node's `reach-check`
 * the server dials the node's TCP port back at the address it observes for that
 * node, and sends a UDP probe (main/wire/signaling.ts encodeReachProbe) to its
 * UDP port, then answers with `reach-result`:
 *   reachable  TCP connect succeeded / the UDP probe was answered
 *   closed     TCP RST / ICMP port unreachable: the packet got in, nothing listens
 *   filtered   TCP: no answer at all or ICMP unreachable (a firewall or NAT dropped it)
 *   no-answer  UDP: no answer (filtered, or nothing there that answers probes)
 * Both go out from `checkFromAddress` when set (a second address of the
 * server), an address the node has not contacted, so a NAT's filtering cannot
 * pass them as replies to the node's own traffic.
 *
 * Safety: only the requester's own observed IP is ever dialed (never an address
 * from the message), each check sends at most one TCP SYN (plus the kernel's
 * retries) and three 20-byte UDP probes, and checks are rate-limited per client,
 * per IP and in total.
 */
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { randomBytes } from 'node:crypto';
import { encodeReachProbe, isReachAnswer, type ReachState } from '../wire/signaling.js';

export interface ReachabilityOptions {
  /** Source address for the dial-back and the probe (a second address of this server). */
  checkFromAddress?: string;
  /** @default 3000 */
  tcpTimeoutMs?: number;
  /** @default 2500 */
  udpTimeoutMs?: number;
  /** @default 6 */
  perClientPerMinute?: number;
  /** @default 20 */
  perIpPerMinute?: number;
  /** @default 32 */
  maxConcurrent?: number;
}

export interface ReachOutcome {
  state: ReachState;
  ms: number;
  detail: string;
}

const sameFamily = (a: string, b: string) => (isIPv4(a) && isIPv4(b)) || (isIPv6(a) && isIPv6(b));

/** Dial ip:port once: reachable (connected), closed (RST), filtered (timeout or ICMP unreachable). */
export function checkTcp(ip: string, port: number, from: string | undefined, timeoutMs: number): Promise<ReachOutcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, ...(from && sameFamily(from, ip) ? { localAddress: from } : {}) });
    const done = (state: ReachState, detail: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ state, ms: Math.round(performance.now() - t0), detail });
    };
    const timer = setTimeout(() => done('filtered', `no answer within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done('reachable', 'connected'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('closed', 'refused (RST): nothing listens on that port there');
      else done('filtered', `${err.code ?? err.message}`);
    });
  });
}

/** Send the probe (three times) to ip:port; reachable when answered, closed on ICMP port unreachable. */
export function checkUdp(ip: string, port: number, from: string | undefined, timeoutMs: number): Promise<ReachOutcome> {
  const t0 = performance.now();
  const token = randomBytes(16);
  const probe = encodeReachProbe(token);
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(ip) ? 'udp6' : 'udp4');
    const timers: NodeJS.Timeout[] = [];
    let finished = false;
    const done = (state: ReachState, detail: string) => {
      if (finished) return;
      finished = true;
      timers.forEach(clearTimeout);
      try { socket.close(); } catch { /* closed */ }
      resolve({ state, ms: Math.round(performance.now() - t0), detail });
    };
    socket.on('message', (msg) => { if (isReachAnswer(msg, token)) done('reachable', 'answered'); });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('closed', 'port unreachable (ICMP): nothing listens on that port there');
      else if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') done('filtered', err.code);
      else done('no-answer', err.code ?? err.message);
    });
    socket.bind({ port: 0, ...(from && sameFamily(from, ip) ? { address: from } : {}) }, () => {
      socket.connect(port, ip, () => {
        for (const at of [0, 500, 1000]) timers.push(setTimeout(() => { if (!finished) socket.send(probe); }, at));
        timers.push(setTimeout(() => done('no-answer', `no answer within ${timeoutMs} ms`), timeoutMs));
      });
    });
  });
}

export class ReachabilityChecker {
  private perClient = new WeakMap<object, number[]>();
  private perIp = new Map<string, number[]>();
  private running = 0;

  constructor(private readonly opts: ReachabilityOptions = {}) {}

  private within(stamps: number[], limit: number): boolean {
    const now = Date.now();
    while (stamps.length && (stamps[0] as number) < now - 60_000) stamps.shift();
    if (stamps.length >= limit) return false;
    stamps.push(now);
    return true;
  }

  /** Null when `client` (any object identifying the connection) may run a check from `ip` now, else why not. */
  admit(client: object, ip: string): string | null {
    if (this.running >= (this.opts.maxConcurrent ?? 32)) return 'The server is busy with other reachability checks; try again in a few seconds.';
    const c = this.perClient.get(client) ?? [];
    this.perClient.set(client, c);
    if (!this.within(c, this.opts.perClientPerMinute ?? 6)) return 'Too many reachability checks; wait a minute and try again.';
    let p = this.perIp.get(ip);
    if (!p) {
      if (this.perIp.size > 10_000) this.perIp.clear();
      this.perIp.set(ip, (p = []));
    }
    if (!this.within(p, this.opts.perIpPerMinute ?? 20)) return 'Too many reachability checks from this address; wait a minute and try again.';
    return null;
  }

  /** Check the requester's own address (`observedIp`, never one from the message). Call admit() first. */
  async check(observedIp: string, req: { tcpPort?: number; udpPort?: number }): Promise<{ tcp?: ReachOutcome; udp?: ReachOutcome; from: string | undefined }> {
    this.running++;
    try {
      const from = this.opts.checkFromAddress;
      const [tcp, udp] = await Promise.all([
        req.tcpPort ? checkTcp(observedIp, req.tcpPort, from, this.opts.tcpTimeoutMs ?? 3000) : undefined,
        req.udpPort ? checkUdp(observedIp, req.udpPort, from, this.opts.udpTimeoutMs ?? 2500) : undefined,
      ]);
      return { ...(tcp ? { tcp } : {}), ...(udp ? { udp } : {}), from: from && sameFamily(from, observedIp) ? from : undefined };
    } finally {
      this.running--;
    }
  }
}
