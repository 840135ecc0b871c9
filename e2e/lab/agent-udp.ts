/**
 * UDP helpers shared by the lab's probe agent (agent.ts) and its gateway
 * probes (agent-gateway.ts): endpoints, sockets, request/reply with retries,
 * and the two reflector requests the probes use (echo: "what is my mapped
 * address?", send-to: "send an unsolicited datagram to this endpoint").
 */
import { createSocket, type Socket } from 'node:dgram';

export type Json = Record<string, unknown>;

export function parseEndpoint(text: string): { address: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m?.[1] || !m[2]) throw new Error(`bad endpoint "${text}" (ip:port or [ip6]:port)`);
  return { address: m[1], port: Number(m[2]) };
}

export function formatEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function udpSocket(family: 4 | 6, port = 0, address?: string): Promise<Socket> {
  const s = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => {
      s.off('error', reject);
      s.on('error', () => undefined); // ICMP errors on an unconnected socket are not fatal
      resolve(s);
    });
  });
}

export const familyOf = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function send(s: Socket, to: string, msg: Json): void {
  const e = parseEndpoint(to);
  s.send(JSON.stringify(msg), e.port, e.address);
}

/** Sends `msg` to `to` until a reply with the same id comes (or `tries` run out). */
export async function request(s: Socket, to: string, msg: Json, tries = 4, gapMs = 400): Promise<Json | undefined> {
  return new Promise((resolve) => {
    let left = tries;
    let timer: NodeJS.Timeout | undefined;
    const onMessage = (buf: Buffer): void => {
      try {
        const reply = JSON.parse(buf.toString()) as Json;
        if (reply.id === msg.id && reply.op === msg.op) finish(reply);
      } catch {
        // not ours
      }
    };
    const finish = (r: Json | undefined): void => {
      clearTimeout(timer);
      s.off('message', onMessage);
      resolve(r);
    };
    const attempt = (): void => {
      if (left-- <= 0) return finish(undefined);
      send(s, to, msg);
      timer = setTimeout(attempt, gapMs);
    };
    s.on('message', onMessage);
    attempt();
  });
}

let seq = 0;
export const nextId = (): string => `${process.pid}-${++seq}`;

/** The mapped endpoint `target` observes for this socket (undefined when no answer). */
export async function observe(s: Socket, target: string, tries = 4): Promise<string | undefined> {
  const r = await request(s, target, { op: 'echo', id: nextId() }, tries);
  return typeof r?.observed === 'string' ? r.observed : undefined;
}

/** Asks the reflector at `via` to send an unsolicited datagram from `from` to `to`; resolves when it acknowledged. */
export async function unsolicited(s: Socket, via: string, from: string, to: string, id: string): Promise<boolean> {
  const ack = await request(s, via, { op: 'send-to', id, from, to });
  return ack !== undefined;
}

