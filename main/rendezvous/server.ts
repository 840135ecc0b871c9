/**
 * The rendezvous server: WebSocket signaling between Postern nodes. A node proves
 * its identity key by signing a nonce, states its endpoint (listening ports and
 * private addresses), and the server adds the address it observes (seed 004). It
 * tells paired contacts about each other's presence (only when both watch each
 * other), resolves invite nameplates, and forwards signals such as "dial me back".
 *
 * Runs standalone (`postern rendezvous --listen HOST:PORT`) or embedded in a node.
 * It never sees file data, keys other than public ones, or the invite words.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  encodeMessage, parseClientMessage, MAX_SIGNAL_BYTES, REGISTER_CONTEXT, SIGNALING_VERSION,
  type ClientMessage, type Endpoint, type Observed, type PeerInfo, type ServerMessage,
} from '../wire/signaling.js';
import { verify } from '../engine/identity/identity.js';
import { peerIdFromPublicKey } from '../engine/identity/peer-id.js';
import { InviteBook } from './invites.js';
import { Relay, type RelayOptions } from './relay.js';
import { startRendezvousStun, type StunServer } from './stun-server.js';
import { ReachabilityChecker, type ReachabilityOptions } from './reachability.js';

export interface RendezvousOptions {
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
  /** Close connections that have not registered after this long. @default 10000 */
  registerTimeoutMs?: number;
  /** Most invite resolutions one connection may make per minute (stops scanning). @default 30 */
  resolvesPerMinute?: number;
  /** STUN (RFC 8489) on UDP and TCP: 0 = a free port, null = off. @default 3478, a free port when host is loopback or port is 0 */
  stunPort?: number | null;
  /** A second IP of this server: STUN answers RFC 5780 OTHER-ADDRESS and CHANGE-REQUEST from it. */
  altAddress?: string;
  /** More addresses to answer STUN on (this server's IPv6), announced to nodes. */
  stunAddresses?: string[];
  log?: (line: string) => void;
  /** Relay circuits between peers (off unless asked for; `true` for defaults). */
  relay?: boolean | RelayOptions;
  /** Where reachability checks (`reach-check`) come from: a second address of this server that nodes do not contact. @default altAddress */
  checkFromAddress?: string;
  /** Reachability checks: rate limits and timeouts, or false to refuse them. @default on */
  reachability?: false | ReachabilityOptions;
}

export interface RendezvousServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Peers registered right now. */
  readonly online: number;
  /** The relay, when enabled. */
  readonly relay: Relay | null;
  /** The STUN server, when one runs (nodes learn it from `registered`). */
  readonly stun: StunServer | null;
  close(): Promise<void>;
}

interface Client {
  ws: WebSocket;
  nonce: Buffer;
  observed: Observed;
  /** Our address on this connection: the STUN address to announce when listening on a wildcard. */
  localIp: string;
  peerId?: string;
  name: string;
  endpoint: Endpoint;
  watching: Set<string>;
  resolves: number[];
  signals: number[];
  /** Peers whose invite this one resolved (or who resolved its invite): they may relay before pairing completes. */
  resolvedInvites: Set<string>;
}

function observedOf(req: IncomingMessage): Observed {
  const raw = req.socket.remoteAddress ?? '0.0.0.0';
  return { ip: raw.startsWith('::ffff:') ? raw.slice(7) : raw, port: req.socket.remotePort ?? 0 };
}

export async function startRendezvous(opts: RendezvousOptions = {}): Promise<RendezvousServer> {
  const log = opts.log ?? (() => {});
  const registerTimeoutMs = opts.registerTimeoutMs ?? 10_000;
  const resolvesPerMinute = opts.resolvesPerMinute ?? 30;
  const peers = new Map<string, Client>();
  const invites = new InviteBook();
  let stun: StunServer | null = null;

  const http: Server = createServer((req, res) => {
    if (req.url === '/observed') {
      // The address and port this TCP connection came from, after any NATs: the
      // mapping a TCP hole punch reuses (seed 000, DC++'s NAT-T).
      const observed = observedOf(req);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(observed));
      return;
    }
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, service: 'postern-rendezvous', online: peers.size }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('This is a Postern rendezvous server. Point Postern at ws://this-host:port/.\n');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_SIGNAL_BYTES });
  const relay = opts.relay ? new Relay(opts.relay === true ? {} : opts.relay) : null;
  const checkFrom = opts.checkFromAddress ?? opts.altAddress;
  const reach = opts.reachability === false ? null : new ReachabilityChecker({ ...(opts.reachability ?? {}), ...(checkFrom ? { checkFromAddress: checkFrom } : {}) });
  http.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    if (relay?.handleUpgrade(req, socket, head)) return;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/' && path !== '/signal') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const send = (client: Client, msg: ServerMessage) => {
    if (client.ws.readyState === client.ws.OPEN) client.ws.send(encodeMessage(msg));
  };
  const infoOf = (client: Client): PeerInfo => ({ peerId: client.peerId as string, name: client.name, endpoint: client.endpoint, observed: client.observed });
  const mutual = (a: Client, b: Client) => !!a.peerId && !!b.peerId && a.watching.has(b.peerId) && b.watching.has(a.peerId);

  /** Tell every peer that mutually watches `client` about its state. */
  const announce = (client: Client, online: boolean) => {
    for (const other of peers.values()) {
      if (other !== client && mutual(client, other)) send(other, { t: 'presence', peer: infoOf(client), online });
    }
  };

  const withinRate = (stamps: number[], limit: number) => {
    const now = Date.now();
    while (stamps.length && (stamps[0] as number) < now - 60_000) stamps.shift();
    if (stamps.length >= limit) return false;
    stamps.push(now);
    return true;
  };

  const handle = (client: Client, msg: ClientMessage) => {
    if (msg.t === 'register') {
      const publicKey = Buffer.from(msg.publicKey, 'hex');
      const signed = Buffer.concat([Buffer.from(REGISTER_CONTEXT), client.nonce]);
      if (client.peerId || !verify(publicKey, signed, Buffer.from(msg.sig, 'hex'))) {
        send(client, { t: 'error', code: 'AUTH_FAILED', message: 'Registration refused: the signature does not match the key.' });
        client.ws.close(4001, 'auth failed');
        return;
      }
      const peerId = peerIdFromPublicKey(publicKey);
      const previous = peers.get(peerId);
      if (previous) previous.ws.close(4002, 'replaced by a newer connection');
      client.peerId = peerId;
      client.name = msg.name;
      client.endpoint = msg.endpoint;
      peers.set(peerId, client);
      send(client, { t: 'registered', peerId, observed: client.observed, ...(stun ? { stun: stun.endpointsFor(client.localIp) } : {}) });
      log(`registered ${peerId.slice(0, 8)} from ${client.observed.ip}:${client.observed.port}`);
      return;
    }
    if (!client.peerId) {
      send(client, { t: 'error', code: 'NOT_REGISTERED', message: 'Register first.' });
      return;
    }
    switch (msg.t) {
      case 'update':
        client.name = msg.name;
        client.endpoint = msg.endpoint;
        announce(client, true);
        return;
      case 'watch': {
        client.watching = new Set(msg.peers);
        for (const id of client.watching) {
          const other = peers.get(id);
          if (other && mutual(client, other)) {
            send(client, { t: 'presence', peer: infoOf(other), online: true });
            send(other, { t: 'presence', peer: infoOf(client), online: true });
          }
        }
        return;
      }
      case 'invite-open': {
        const { nameplate, expiresAt } = invites.open(client.peerId);
        send(client, { t: 'invite-opened', id: msg.id, nameplate, expiresAt });
        return;
      }
      case 'invite-close':
        invites.close(msg.nameplate, client.peerId);
        return;
      case 'invite-resolve': {
        if (!withinRate(client.resolves, resolvesPerMinute)) {
          send(client, { t: 'error', id: msg.id, code: 'RATE_LIMITED', message: 'Too many invite codes tried; wait a minute and try again.' });
          return;
        }
        const owner = invites.resolve(msg.nameplate);
        const target = owner ? peers.get(owner) : undefined;
        if (!target) {
          send(client, { t: 'error', id: msg.id, code: 'INVITE_NOT_FOUND', message: `No device is waiting with code number ${msg.nameplate}. Codes work once and expire after 10 minutes: ask the sender for a new one.` });
          return;
        }
        client.resolvedInvites.add(owner as string);
        target.resolvedInvites.add(client.peerId);
        send(client, { t: 'invite-resolved', id: msg.id, peer: infoOf(target) });
        return;
      }
      case 'signal': {
        if (!withinRate(client.signals, 600)) {
          send(client, { t: 'error', id: msg.id, code: 'RATE_LIMITED', message: 'Too many signals; slow down.' });
          return;
        }
        const target = peers.get(msg.to);
        if (!target) {
          send(client, { t: 'error', id: msg.id, code: 'PEER_OFFLINE', message: 'That device is not connected to the rendezvous right now.' });
          return;
        }
        send(target, { t: 'signal', from: infoOf(client), body: msg.body });
        return;
      }
      case 'ping':
        send(client, { t: 'pong', id: msg.id });
        return;
      case 'reach-check': {
        // Only ever the requester's own observed address: never one named in the message.
        const refused = reach ? reach.admit(client, client.observed.ip) : 'This rendezvous server does not run reachability checks.';
        if (refused || !reach) {
          send(client, { t: 'error', id: msg.id, code: reach ? 'RATE_LIMITED' : 'REACH_OFF', message: refused ?? '' });
          return;
        }
        const observedIp = client.observed.ip;
        void reach.check(observedIp, { ...(msg.tcpPort ? { tcpPort: msg.tcpPort } : {}), ...(msg.udpPort ? { udpPort: msg.udpPort } : {}) }).then((r) => {
          send(client, {
            t: 'reach-result', id: msg.id, observedIp, ...(r.from ? { from: r.from } : {}),
            ...(r.tcp ? { tcp: r.tcp.state, tcpMs: r.tcp.ms, tcpDetail: r.tcp.detail.slice(0, 200) } : {}),
            ...(r.udp ? { udp: r.udp.state, udpMs: r.udp.ms, udpDetail: r.udp.detail.slice(0, 200) } : {}),
          });
          log(`reach-check ${client.peerId?.slice(0, 8)} ${observedIp}: tcp ${r.tcp?.state ?? '-'} udp ${r.udp?.state ?? '-'}`);
        }, (err: Error) => log(`reach-check failed: ${err.message}`));
        return;
      }
      case 'relay-open': {
        const target = peers.get(msg.to);
        const allowed = target && (mutual(client, target) || client.resolvedInvites.has(msg.to));
        if (!relay) {
          send(client, { t: 'error', id: msg.id, code: 'RELAY_OFF', message: 'This rendezvous server does not relay. Ask its operator to start it with --relay, or configure a relay in settings.' });
          return;
        }
        if (!target || !allowed) {
          send(client, { t: 'error', id: msg.id, code: target ? 'RELAY_NOT_PAIRED' : 'PEER_OFFLINE', message: target ? 'The relay connects only devices that are paired with each other.' : 'That device is not connected to the rendezvous right now.' });
          return;
        }
        const opened = relay.open(client.peerId, msg.to);
        if (!opened.ok) {
          send(client, { t: 'error', id: msg.id, code: opened.code, message: opened.message });
          return;
        }
        send(client, { t: 'relay-opened', id: msg.id, circuit: opened.circuit, token: opened.tokenA, limits: relay.limits });
        send(target, { t: 'relay-offer', from: infoOf(client), circuit: opened.circuit, token: opened.tokenB, limits: relay.limits });
        return;
      }
    }
  };

  wss.on('connection', (ws, req) => {
    const client: Client = { ws, nonce: randomBytes(32), observed: observedOf(req), localIp: req.socket.localAddress ?? '', name: '', endpoint: { tcpPort: null, candidates: [] }, watching: new Set(), resolves: [], signals: [], resolvedInvites: new Set() };
    const timer = setTimeout(() => { if (!client.peerId) ws.close(4003, 'register timeout'); }, registerTimeoutMs);
    send(client, { t: 'challenge', v: SIGNALING_VERSION, nonce: client.nonce.toString('hex') });
    ws.on('message', (data, isBinary) => {
      const parsed = parseClientMessage(isBinary ? (data as Buffer) : data.toString());
      if (!parsed.ok) {
        send(client, { t: 'error', code: 'BAD_MESSAGE', message: `Message not understood: ${parsed.error.slice(0, 300)}` });
        return;
      }
      try {
        handle(client, parsed.value);
      } catch (err) {
        log(`error handling ${parsed.value.t}: ${(err as Error).message}`);
      }
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      clearTimeout(timer);
      if (client.peerId && peers.get(client.peerId) === client) {
        peers.delete(client.peerId);
        invites.closeAllOf(client.peerId);
        announce(client, false);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const stunOpts = { host, httpPort: opts.port ?? 0, ...(opts.stunPort !== undefined ? { stunPort: opts.stunPort } : {}), ...(opts.altAddress ? { altAddress: opts.altAddress } : {}), ...(opts.stunAddresses ? { stunAddresses: opts.stunAddresses } : {}), log };
  stun = await startRendezvousStun(stunOpts).catch((err: unknown) => { http.close(); throw err; });
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `ws://${urlHost}:${address.port}`,
    port: address.port,
    host,
    get online() { return peers.size; },
    relay,
    stun,
    close: async () => { await stun?.close(); await new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.close(() => resolve());
      http.closeAllConnections();
    }); },
  };
}
