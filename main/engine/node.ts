/**
 * PosternNode: one device's engine. It owns the identity, contacts, the TCP
 * listener, the rendezvous client (or an embedded rendezvous), LAN discovery,
 * the connection ladder per peer, sessions, pairing and transfers, and reports
 * everything as typed events. The Electron main process, the headless host and
 * the CLI all drive this same class.
 */
import { join } from 'node:path';
import { homedir } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ConnectedTier, ConnectionInfo, TierAttempt } from '../../shared/domain/connection.js';
import type { Endpoint, PeerInfo, Candidate } from '../wire/signaling.js';
import { loadOrCreateIdentity, type Identity } from './identity/identity.js';
import { ContactBook } from './contacts.js';
import { TcpListener, type Incoming } from './listener.js';
import { RendezvousClient } from './signaling/rendezvous-client.js';
import { startRendezvous, type RendezvousServer } from '../rendezvous/server.js';
import { LanDiscovery, type NearbyDevice } from './discovery/lan-discovery.js';
import { isRelayTier, runLadder } from './ladder/ladder.js';
import { serverRelayTier } from './relay/server-relay-tier.js';
import { turnRelayTier, type TurnConfig } from './relay/turn-tier.js';
import { joinCircuit, PeerRelayHost, peerRelayTier, type Addr, type PeerRelayOptions } from './relay/peer-relay.js';
import { encodeSessionFrame, SESSION_FRAME, type SessionFrame } from '../wire/session-frames.js';
import { TIER_RANK, type RelayState } from '../../shared/domain/connection.js';
import { ackHello, type Link } from './ladder/link.js';
import { ReverseHub } from './ladder/reverse-hub.js';
import { DEFAULT_KNOBS, FIRST_TIERS, type DialContext, type Knobs } from './ladder/tiers.js';
import { UdpSocket } from './net/udp-socket.js';
import { SignalResponder } from './signal-responder.js';
import { SignalReplies } from './punch/signals.js';
import { udpPunchTier } from './punch/udp-punch-tier.js';
import { receiveGreeting } from './ladder/link.js';
import { tcpPunchTier } from './punch/tcp-punch-tier.js';
import { Session } from './session.js';
import { pairAsCodeEnterer, pairAsCodeOwner } from './pairing/pair-session.js';
import { generateSecretWords, formatInviteCode, parseInviteCode, codePassword } from './pairing/invite-code.js';
import { verificationString } from './pairing/verification.js';
import { isLoopbackIp, localIPv4Addresses } from './net/addresses.js';
import { Emitter } from './util/emitter.js';
import { TransferManager } from './transfer/transfer-manager.js';
import { scanPaths } from './transfer/scan.js';
import type { IncomingOfferPayload, TransferInfo } from '../../shared/domain/transfer.js';
import { EngineError, errorMessage, toErrorData } from './errors.js';
import { discoverNat } from './nat/discovery.js';
import { StunClient } from './nat/stun-client.js';
import type { NatDiscovery } from '../../shared/domain/nat.js';
import type { PortMapper, PortMapState } from './portmap/port-mapper.js';
import { answerReachProbes, createNodePortMapper, mappedEndpointCandidates, settleWithin, type NodePortMapping } from './portmap/integrate.js';
import { withMappedTiers } from './ladder/mapped-tier.js';

export const DEFAULT_RENDEZVOUS_PORT = 47470;

export interface NodeOptions {
  dataDir: string;
  name?: string;
  /** Rendezvous server URLs. Empty or absent: start one inside this node (or use the one already on this machine). */
  rendezvous?: string[];
  /** Port for the embedded rendezvous. @default 47470 */
  embeddedRendezvousPort?: number;
  /** Interface the embedded rendezvous listens on. @default '0.0.0.0' */
  embeddedRendezvousHost?: string;
  /** TCP port to accept peers on; 0 picks a free one. A fixed port is what a user forwards. @default 0 */
  listenPort?: number;
  /** @default '0.0.0.0' */
  listenHost?: string;
  /** Private addresses to advertise; default: this machine's interfaces (only loopback when the rendezvous is on loopback). */
  hostAddresses?: string[];
  downloadDir?: string;
  /** LAN discovery by multicast. @default true */
  discovery?: boolean | { interfaceAddress?: string; port?: number; intervalMs?: number };
  knobs?: Partial<Knobs>;
  /** Relay for this user's other paired devices when this one is reachable (opt-in). */
  peerRelay?: boolean | PeerRelayOptions;
  /** A TURN server to relay through when nothing direct works (needs the same on the other side). */
  turn?: TurnConfig;
  /** Open the shared UDP socket (punching, STUN, UDX streams). @default true */
  udp?: boolean;
  /** Ask the gateway for a port (PCP, NAT-PMP, UPnP). @default on, off when the rendezvous is on loopback (main/engine/portmap/integrate.ts) */
  portMapping?: NodePortMapping;
  /** Accept an incoming offer without asking (the CLI's `receive`). */
  autoAccept?: (offer: IncomingOfferPayload) => boolean;
  /** Bytes per transfer chunk. @default 1 MiB */
  chunkSize?: number;
  log?: (line: string) => void;
}

export interface PairedEvent { peerId: string; name: string; tier: ConnectedTier; by: 'code' | 'nearby' }
export interface NearbyRequest { requestId: string; peerId: string; name: string; verification: string }

export interface NodeEvents extends Record<string, unknown> {
  attempt: TierAttempt & { peerId: string };
  connection: ConnectionInfo;
  peers: void;
  paired: PairedEvent;
  'nearby-request': NearbyRequest;
  rendezvous: { url: string; connected: boolean; observedIp: string | null; reason?: string };
  session: { peerId: string; up: boolean; link?: Link };
  nat: NatDiscovery;
  portmap: PortMapState;
}

interface PendingInvite { nameplate: number; password: string; expiresAt: number; resolve: (p: PairedEvent) => void; reject: (e: Error) => void }

export class PosternNode extends Emitter<NodeEvents> {
  identity!: Identity;
  contacts!: ContactBook;
  transfers!: TransferManager;
  readonly knobs: Knobs;
  name: string;
  private listener: TcpListener | undefined;
  rendezvous: RendezvousClient | null = null;
  embeddedRendezvous: RendezvousServer | null = null;
  discovery: LanDiscovery | null = null;
  private reverse = new ReverseHub();
  peerRelayHost: PeerRelayHost | null = null;
  private replies = new SignalReplies();
  private readonly responder: SignalResponder;
  udp: UdpSocket | null = null;
  /** Gateway port mappings (null when off); its `state` and `change` events are for the UI. */
  portMapper: PortMapper | null = null;
  /** Our public UDP address(es) as STUN saw them (server-reflexive candidates). */
  srflx: { ip: string; port: number }[] = [];
  /** What NAT discovery found (null until it has run, or when it could not). */
  nat: NatDiscovery | null = null;
  /** Settles when the first NAT discovery has finished (or was skipped). */
  natReady: Promise<void> = Promise.resolve();
  /** Settles when one STUN answer told us our public UDP address (one round trip). */
  srflxReady: Promise<void> = Promise.resolve();
  private sessions = new Map<string, Session>();
  private connecting = new Map<string, Promise<Session>>();
  private connections = new Map<string, ConnectionInfo>();
  private peerInfo = new Map<string, PeerInfo>();
  private online = new Set<string>();
  private invite: PendingInvite | undefined;
  private nearbyDecisions = new Map<string, (accept: boolean) => void>();
  private log: (line: string) => void;
  private stopped = false;

  constructor(readonly opts: NodeOptions) {
    super();
    this.name = opts.name ?? `Postern on ${process.env.HOSTNAME ?? 'this computer'}`;
    this.knobs = { ...DEFAULT_KNOBS, ...opts.knobs, disabledTiers: new Set(opts.knobs?.disabledTiers ?? []) };
    this.log = opts.log ?? (() => {});
    this.responder = new SignalResponder({
      identity: () => this.identity,
      knobs: this.knobs,
      log: (line) => this.log(line),
      rendezvous: () => this.rendezvous,
      udp: () => this.udp,
      nat: () => this.nat,
      natReady: () => this.natReady,
      turn: () => this.opts.turn,
      isContact: (peerId) => this.contacts.has(peerId),
      openInvite: () => this.invite?.nameplate,
      reverse: this.reverse,
      replies: this.replies,
      hostAddresses: () => this.hostAddresses(),
      udpCandidates: () => this.udpCandidates(),
      dialContext: (target, purpose, nameplate) => this.dialContext(target, purpose, nameplate),
      adopt: (link) => this.adopt(link),
      onIncoming: (incoming) => this.onIncoming(incoming),
    });
  }

  get peerId(): string {
    return this.identity.peerId;
  }

  get listenPort(): number {
    return this.listener?.port ?? 0;
  }

  get downloadDir(): string {
    return this.opts.downloadDir ?? join(homedir(), 'Downloads');
  }

  async start(): Promise<void> {
    this.identity = await loadOrCreateIdentity(this.opts.dataDir);
    this.contacts = await ContactBook.open(this.opts.dataDir);
    this.transfers = new TransferManager({
      dataDir: this.opts.dataDir, downloadDir: this.downloadDir, log: this.log,
      ...(this.opts.chunkSize ? { chunkSize: this.opts.chunkSize } : {}),
      ...(this.opts.autoAccept ? { autoAccept: this.opts.autoAccept } : {}),
    });
    await this.transfers.ready();
    this.listener = new TcpListener(this.identity, (incoming) => this.onIncoming(incoming), this.log);
    await this.listener.listen(this.opts.listenPort ?? 0, this.opts.listenHost ?? '0.0.0.0');
    if (this.opts.udp !== false) this.udp = this.bindUdp();
    if (this.opts.peerRelay) this.peerRelayHost = new PeerRelayHost(this.opts.peerRelay === true ? {} : this.opts.peerRelay, this.log);
    const url = await this.resolveRendezvousUrl();
    this.rendezvousHost = new URL(url).hostname.replace(/^\[|\]$/g, '');
    this.portMapper = createNodePortMapper({ dataDir: this.opts.dataDir, peerId: this.peerId, tcpPort: this.listenPort, udpPort: this.udp?.port ?? null, rendezvousHost: this.rendezvousHost, option: this.opts.portMapping, log: this.log });
    this.portMapper?.on('change', (s) => { this.emit('portmap', s); if (this.rendezvous?.registered) this.rendezvous.update(this.name, this.endpoint()); });
    const mapping = this.portMapper?.start();
    if (this.udp) answerReachProbes(this.udp);
    this.rendezvous = new RendezvousClient({ url, identity: this.identity, name: this.name, endpoint: this.endpoint() });
    this.rendezvous.on('registered', ({ observed }) => {
      this.rendezvous?.watch(this.contacts.list().map((c) => c.peerId));
      this.emit('rendezvous', { url, connected: true, observedIp: observed.ip });
      if (this.portMapper?.state.mappings.length) this.rendezvous?.update(this.name, this.endpoint()); // the double-NAT check needs the observed address
    });
    this.rendezvous.on('disconnected', ({ reason }) => {
      this.online.clear();
      this.emit('rendezvous', { url, connected: false, observedIp: null, reason });
      this.emit('peers', undefined);
    });
    this.rendezvous.on('presence', ({ peer, online }) => this.onPresence(peer, online));
    this.rendezvous.on('signal', ({ from, body }) => this.responder.onSignal(from, body));
    this.rendezvous.on('relay-offer', ({ from, circuit, token }) => this.responder.onRelayOffer(from, circuit, token));
    const t0 = performance.now();
    await this.rendezvous.start();
    this.log(`rendezvous registered in ${Math.round(performance.now() - t0)} ms`);
    // Port mapping goes on in the background: a mapping is advertised when it comes
    // (a gateway on the LAN answers within milliseconds; waiting for one that never
    // answers held up every connection by a second or more).
    void settleWithin(mapping, 2500).then(() => {
      this.log(`port mapping settled (${this.portMapper?.state.mappings.length ?? 0} mappings) ${Math.round(performance.now() - t0)} ms after connecting`);
    });
    this.srflxReady = this.quickBinding();
    this.natReady = this.discoverNat();
    if (this.opts.discovery !== false) await this.startDiscovery(url);
  }

  /** The UDP socket takes the TCP listening port's number when it is free (one port to forward). */
  private bindUdp(): UdpSocket {
    const host = this.opts.listenHost ?? '0.0.0.0';
    for (const port of [this.listenPort, 0]) {
      const udp = new UdpSocket();
      try {
        udp.bind(port, host);
        return udp;
      } catch {
        void udp.close();
      }
    }
    throw new EngineError('UDP_BIND_FAILED', 'Could not open a UDP port.');
  }

  /** One STUN binding: our public UDP address in a round trip, before the full discovery ends. */
  private async quickBinding(): Promise<void> {
    const primary = this.rendezvous?.stunServers.find((x) => !x.ip.includes(':'));
    if (!this.udp || !primary) return;
    const client = new StunClient(this.udp);
    try {
      const r = await client.request(primary, { timeoutMs: 1500 });
      const local = this.udp.port;
      if (r?.mapped && !(this.hostAddresses().includes(r.mapped.ip) && r.mapped.port === local) && this.srflx.length === 0) {
        this.srflx = [{ ip: r.mapped.ip, port: r.mapped.port }];
        this.rendezvous?.update(this.name, this.endpoint());
      }
    } catch (err) {
      this.log(`STUN binding failed: ${errorMessage(err)}`);
    } finally {
      client.close();
    }
  }

  /** RFC 5780-style NAT discovery against the rendezvous's STUN servers (bounded to ~3 s). */
  private async discoverNat(): Promise<void> {
    const servers = this.rendezvous?.stunServers ?? [];
    if (!this.udp || servers.length === 0) return;
    try {
      this.nat = await discoverNat({ socket: this.udp, servers, software: 'Postern', budgetMs: 2000, filteringWindowMs: 900 });
      if (this.nat.publicIp && this.nat.publicPort && this.nat.natted) this.srflx = [{ ip: this.nat.publicIp, port: this.nat.publicPort }];
      this.rendezvous?.update(this.name, this.endpoint());
      this.emit('nat', this.nat);
    } catch (err) {
      this.log(`NAT discovery failed: ${errorMessage(err)}`);
    }
  }

  udpCandidates(): { ip: string; port: number }[] {
    if (!this.udp) return [];
    const port = this.udp.port;
    const host = this.hostAddresses().map((ip) => ({ ip, port }));
    return [...host, ...this.srflx];
  }

  private async resolveRendezvousUrl(): Promise<string> {
    const configured = this.opts.rendezvous?.filter(Boolean) ?? [];
    if (configured.length) return configured[0] as string;
    const port = this.opts.embeddedRendezvousPort ?? DEFAULT_RENDEZVOUS_PORT;
    try {
      this.embeddedRendezvous = await startRendezvous({ host: this.opts.embeddedRendezvousHost ?? '0.0.0.0', port, log: this.log });
      return `ws://127.0.0.1:${this.embeddedRendezvous.port}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return `ws://127.0.0.1:${port}`; // another node on this machine hosts it
      throw err;
    }
  }

  private async startDiscovery(rendezvousUrl: string): Promise<void> {
    const cfg = typeof this.opts.discovery === 'object' ? this.opts.discovery : {};
    this.discovery = new LanDiscovery({
      self: () => ({ peerId: this.peerId, name: this.name, tcpPort: this.listenPort, ...(this.embeddedRendezvous ? {} : { rendezvous: rendezvousUrl }) }),
      ...(cfg.interfaceAddress ? { interfaceAddress: cfg.interfaceAddress } : {}),
      ...(cfg.port ? { port: cfg.port } : {}),
      ...(cfg.intervalMs ? { intervalMs: cfg.intervalMs } : {}),
    });
    this.discovery.on('nearby', () => this.emit('peers', undefined));
    this.discovery.on('lost', () => this.emit('peers', undefined));
    try {
      await this.discovery.start();
    } catch (err) {
      this.log(`LAN discovery is off: ${errorMessage(err)}`);
      this.discovery = null;
    }
  }

  /** What we tell the rendezvous about ourselves: stated ports and private addresses. */
  private endpoint(): Endpoint {
    const port = this.listenPort;
    const candidates: Candidate[] = this.hostAddresses().map((ip) => ({ kind: 'host', proto: 'tcp', ip, port }));
    for (const c of this.udpCandidates()) candidates.push({ kind: this.srflx.includes(c) ? 'srflx' : 'host', proto: 'udp', ip: c.ip, port: c.port });
    candidates.push(...mappedEndpointCandidates(this.portMapper?.state ?? null, this.rendezvous?.observed?.ip).candidates);
    return { tcpPort: port, udpPort: this.udp?.port ?? null, candidates };
  }

  private rendezvousHost = '';

  /** Private addresses we advertise: configured, else this machine's (only loopback when the rendezvous is on loopback). */
  private hostAddresses(): string[] {
    if (this.opts.hostAddresses) return this.opts.hostAddresses;
    const host = this.rendezvousHost;
    return isLoopbackIp(host) || host === 'localhost' ? ['127.0.0.1'] : localIPv4Addresses();
  }

  // ---- presence and signals ------------------------------------------------

  private onPresence(peer: PeerInfo, online: boolean): void {
    if (!this.contacts.has(peer.peerId)) return;
    this.peerInfo.set(peer.peerId, peer);
    if (online) this.online.add(peer.peerId);
    else this.online.delete(peer.peerId);
    this.emit('peers', undefined);
    if (online && this.hasPendingOutgoing(peer.peerId)) this.connect(peer.peerId).catch((err) => this.log(`reconnect to ${peer.peerId.slice(0, 8)} failed: ${errorMessage(err)}`));
  }

  private dialContext(target: PeerInfo, purpose: DialContext['purpose'], nameplate?: number): DialContext {
    return {
      identity: this.identity, name: this.name, target, purpose,
      ...(nameplate !== undefined ? { nameplate } : {}),
      rendezvous: this.rendezvous, reverse: this.reverse, listening: this.listenPort > 0, knobs: this.knobs,
      udp: this.udp, udpCandidates: () => this.udpCandidates(), replies: this.replies, localNat: () => this.nat, natReady: this.natReady, srflxReady: this.srflxReady,
      log: this.log,
      turn: this.opts.turn ?? null,
      ...(purpose === 'session' ? { onExtraLink: (link: Link) => this.adopt(link) } : {}),
      peerRelays: () => [...this.sessions.values()].filter((x) => !x.closed && x.remoteRelays && x.peerId !== target.peerId),
      onRelayLimits: (limits) => this.relayLimits.set(target.peerId, limits),
      portPreserved: () => !this.srflx[0] || !this.udp || this.srflx[0].port === this.udp.port,
      hostAddresses: () => this.hostAddresses(),
    };
  }

  // ---- incoming connections ------------------------------------------------

  private onIncoming(incoming: Incoming): void {
    const { channel, router, peerId, hello } = incoming;
    const link: Link = { channel, router, peerId, remoteName: hello.name, tier: hello.tier, hello, weGreeted: false };
    if (hello.purpose === 'relay') {
      if (this.peerRelayHost?.attach(link)) ackHello(channel, true, this.name);
      else refuse(channel, 'NO_CIRCUIT', 'No such relay circuit here, or its token is wrong.');
      return;
    }
    if (hello.reverseOf) {
      if (this.reverse.deliver(hello.reverseOf, link)) ackHello(channel, true, this.name);
      else refuse(channel, 'UNEXPECTED', 'No dial-back was requested.');
      return;
    }
    if (hello.purpose === 'pair') {
      if (!this.invite || this.invite.nameplate !== hello.nameplate) return refuse(channel, 'INVITE_NOT_FOUND', 'This invite is no longer open on the sender. Ask for a new code.');
      ackHello(channel, true, this.name);
      this.adopt(link);
      return;
    }
    if (this.contacts.has(peerId)) {
      ackHello(channel, true, this.name);
      this.adopt(link);
      return;
    }
    if (hello.purpose === 'nearby') {
      void this.askNearby(link).then((accepted) => {
        if (!accepted) return refuse(channel, 'DECLINED', 'The other device declined the connection.');
        ackHello(channel, true, this.name);
        this.adopt(link);
      });
      return;
    }
    refuse(channel, 'NOT_PAIRED', 'This device is not paired with you. Pair with an invite code first.');
  }

  private async askNearby(link: Link): Promise<boolean> {
    const requestId = randomBytes(6).toString('hex');
    const decision = new Promise<boolean>((resolve) => {
      this.nearbyDecisions.set(requestId, resolve);
      setTimeout(() => resolve(false), 120_000).unref();
    });
    this.emit('nearby-request', { requestId, peerId: link.peerId, name: link.remoteName, verification: verificationString(link.channel.handshakeHash) });
    const accepted = await decision;
    this.nearbyDecisions.delete(requestId);
    if (accepted) await this.contacts.add({ peerId: link.peerId, name: link.remoteName, pairedAt: Date.now(), lastSeenAt: Date.now(), lastTier: link.tier, pairedBy: 'nearby' });
    return accepted;
  }

  decideNearby(requestId: string, accept: boolean): void {
    this.nearbyDecisions.get(requestId)?.(accept);
  }

  /** onLink for links nobody awaits: failures are logged (and reported through the invite promise). */
  private adopt(link: Link): void {
    this.onLink(link).catch((err) => this.log(`link with ${link.peerId.slice(0, 8)} ended: ${errorMessage(err)}`));
  }

  /** Every authenticated link ends here: pairing if asked, then a session. */
  private async onLink(link: Link): Promise<Session | undefined> {
    let paired: { event: PairedEvent; invite?: PendingInvite } | undefined;
    try {
      if (link.hello.purpose === 'pair') {
        // Links for pairing reach here only on the side that showed the code;
        // the side that typed it runs the PAKE in pairWithCode.
        paired = await this.pairAsOwner(link);
      } else if (link.hello.purpose === 'nearby' && !this.contacts.has(link.peerId)) {
        await this.contacts.add({ peerId: link.peerId, name: link.remoteName, pairedAt: Date.now(), lastSeenAt: Date.now(), lastTier: link.tier, pairedBy: 'nearby' });
        paired = { event: { peerId: link.peerId, name: link.remoteName, tier: link.tier, by: 'nearby' } };
      }
    } catch (err) {
      link.channel.close();
      throw err;
    }
    const session = this.adoptSession(link);
    if (paired) {
      this.emit('paired', paired.event);
      paired.invite?.resolve(paired.event);
    }
    return session;
  }

  private async pairAsOwner(link: Link): Promise<{ event: PairedEvent; invite: PendingInvite }> {
    const open = this.invite;
    if (!open) throw new EngineError('INVITE_NOT_FOUND', 'This invite is no longer open.');
    let claimed: PendingInvite | undefined;
    const t0 = performance.now();
    this.log(`pairing (owner): ${link.tier} link up, waiting for the PAKE`);
    try {
      await pairAsCodeOwner(link, this.peerId, open.password, () => {
        this.log(`pairing (owner): first PAKE message after ${Math.round(performance.now() - t0)} ms`);
        // Single use: the first PAKE attempt, right or wrong, closes the invite.
        if (this.invite !== open) throw new EngineError('INVITE_NOT_FOUND', 'This invite is no longer open.');
        claimed = open;
        this.invite = undefined;
        this.rendezvous?.closeInvite(claimed.nameplate);
      });
    } catch (err) {
      claimed?.reject(err as Error);
      throw err;
    }
    const invite = claimed as PendingInvite;
    this.log(`pairing (owner): PAKE done ${Math.round(performance.now() - t0)} ms after the link`);
    await this.contacts.add({ peerId: link.peerId, name: link.remoteName, pairedAt: Date.now(), lastSeenAt: Date.now(), lastTier: link.tier, pairedBy: 'code' });
    this.rendezvous?.watch(this.contacts.list().map((c) => c.peerId));
    return { event: { peerId: link.peerId, name: link.remoteName, tier: link.tier, by: 'code' }, invite };
  }

  private adoptSession(link: Link): Session {
    const existing = this.sessions.get(link.peerId);
    if (existing && !existing.closed) {
      // Two links at once: keep the better tier (LAN > WAN > relay); on a tie, the one
      // whose greeter has the lower peer ID. Both sides decide the same way.
      const greeterOf = (l: Link) => (l.weGreeted ? this.peerId : l.peerId);
      const rank = (l: Link) => TIER_RANK[l.tier];
      const keepExisting = rank(existing.link) < rank(link) || (rank(existing.link) === rank(link) && greeterOf(existing.link) <= greeterOf(link));
      if (keepExisting) {
        link.channel.close();
        return existing;
      }
      this.log(`connection to ${link.peerId.slice(0, 8)} moves from ${existing.tier} to ${link.tier}`);
      this.nudgeResumes(link.peerId);
      // The transfer manager moves transfers to the new channel (they resume from verified chunks).
      this.sessions.delete(link.peerId);
      setTimeout(() => existing.close(`moved to ${link.tier}`), 1000).unref();
    }
    const session = new Session(link, this.log);
    this.sessions.set(link.peerId, session);
    this.log(`session with ${link.peerId.slice(0, 8)} up on ${link.tier} (${link.weGreeted ? 'we dialed' : 'they dialed'})`);
    this.setConnection(link.peerId, { state: 'connected', tier: link.tier, connectedAt: Date.now(), error: null, relay: this.relayState(link) });
    session.onRtt((rttMs) => this.setConnection(link.peerId, { rttMs, ...(isRelayTier(link.tier) ? { relay: this.relayState(link) } : {}) }));
    session.onClose((reason) => {
      this.log(`session with ${link.peerId.slice(0, 8)} on ${link.tier} closed: ${reason}`);
      if (this.sessions.get(link.peerId) !== session) return;
      this.sessions.delete(link.peerId);
      this.setConnection(link.peerId, { state: 'idle', tier: null, rttMs: null });
      this.emit('session', { peerId: link.peerId, up: false });
      this.emit('peers', undefined);
      this.scheduleReconnect(link.peerId);
    });

    void this.contacts.update(link.peerId, { lastSeenAt: Date.now(), lastTier: link.tier, ...(link.remoteName ? { name: link.remoteName } : {}) });
    if (isRelayTier(link.tier)) this.scheduleUpgrade(link.peerId);
    session.on('control', (frame) => this.onControl(session, frame));
    if (this.peerRelayHost) link.channel.write(encodeSessionFrame(SESSION_FRAME.CAPS, { relay: true }));
    this.emit('session', { peerId: link.peerId, up: true, link });
    // After the event, so listeners can prepare (e.g. the CLI's auto-accept) before offers flow.
    this.transfers.attachChannel(link.peerId, session.transferChannel);
    this.emit('peers', undefined);
    return session;
  }

  /** Session control frames beyond ping and bye: the peer relay's. */
  private onControl(session: Session, frame: SessionFrame): void {
    if (frame.type === SESSION_FRAME.RELAY_REQ) {
      const { reqId, to } = frame.body;
      if (!this.peerRelayHost || !this.contacts.has(to)) {
        session.link.channel.write(encodeSessionFrame(SESSION_FRAME.RELAY_FAIL, { reqId, reason: this.peerRelayHost ? 'the relay device is not paired with that device' : 'this device does not relay' }));
        return;
      }
      this.peerRelayHost.open(session, to, this.session(to), this.reachableAddrs(), reqId);
      return;
    }
    if (frame.type === SESSION_FRAME.RELAY_OFFER) {
      const { from, circuit, token, addrs } = frame.body;
      // Only our own relaying device may offer, and only for a device we are paired with.
      if ((!this.contacts.has(from) && !this.invite) || this.knobs.disabledTiers.has('peer-relay')) return;
      joinCircuit(this.identity, this.name, session.peerId, addrs, circuit, token)
        .then((stream) => receiveGreeting(stream, this.identity))
        .then(
          ({ channel, router, peerId, hello }) => this.onIncoming({ channel, router, peerId, hello, remoteAddress: `peer relay ${session.peerId.slice(0, 8)}` }),
          (err: Error) => this.log(`peer relay offer from ${session.peerId.slice(0, 8)} failed: ${err.message}`),
        );
    }
  }

  /** Where others can dial us: private addresses, then the public one with our port, then mapped ports. */
  private reachableAddrs(): Addr[] {
    const port = this.listenPort;
    const out: Addr[] = this.hostAddresses().map((ip) => ({ ip, port }));
    const observed = this.rendezvous?.observed?.ip;
    if (observed && !out.some((a) => a.ip === observed)) out.push({ ip: observed, port });
    for (const c of this.endpoint().candidates) if (c.kind === 'mapped' && c.proto === 'tcp') out.push({ ip: c.ip, port: c.port });
    return out.slice(0, 16);
  }

  private relayLimits = new Map<string, RelayState['limits']>();

  /** Why and how a relayed link is relayed (null for direct ones). */
  private relayState(link: Link): RelayState | null {
    if (!isRelayTier(link.tier)) return null;
    const info = this.connections.get(link.peerId);
    const failed = (info?.attempts ?? []).filter((a) => (a.state === 'failed' || (a.state === 'skipped' && !a.reason.startsWith('stopped'))) && !isRelayTier(a.tier)).map((a) => `${a.tier}: ${a.reason}`);
    const reason = info?.relay?.reason ?? (failed.length ? `no direct way worked (${failed.join('; ')})` : link.weGreeted ? 'the direct tiers had not connected yet' : 'the other device connected through the relay');
    const upgrade = this.upgradeAt.get(link.peerId) ?? null;
    return { reason, limits: this.relayLimits.get(link.peerId) ?? null, bytes: link.router.bytesIn + link.router.bytesOut, nextUpgradeAt: upgrade };
  }

  private upgradeAt = new Map<string, number>();
  private upgradeTimers = new Map<string, NodeJS.Timeout>();

  /** While relayed, keep trying the direct tiers (every `upgradeIntervalMs`). */
  private scheduleUpgrade(peerId: string, delayMs = this.knobs.upgradeIntervalMs): void {
    if (this.stopped || this.upgradeTimers.has(peerId)) return;
    const timer = setTimeout(async () => {
      this.upgradeTimers.delete(peerId);
      const session = this.session(peerId);
      if (this.stopped || !session || !isRelayTier(session.tier)) return;
      const target = this.targetInfo(peerId);
      try {
        if (!target) throw new Error('no address known');
        const link = await this.climb(target, 'session', undefined, { noRelay: true, upgrade: true });
        this.adopt(link);
      } catch {
        // Still relayed: the session goes on; try again later.
        this.scheduleUpgrade(peerId);
      }
    }, delayMs);
    timer.unref();
    this.upgradeTimers.set(peerId, timer);
    this.upgradeAt.set(peerId, Date.now() + delayMs);
  }

  /**
   * An offer that got no answer is offered again on the link in use (after 3, 6,
   * 12 and 24 s, so a receiver re-checking a large partial is not restarted often): after a move to a new link the re-offer may have gone down a link the
   * other side dropped. (A first offer once went unanswered about one run in ten:
   * the transfer manager subscribed to a channel before registering it and dropped
   * frames queued before the attach; fixed in attachChannel, first-offer.test.ts.) The receiver treats a
   * repeated offer of the same transfer as a resume, or asks its user again.
   */
  private nudgeResumes(peerId: string, tries = 4, delayMs = 3000): void {
    const timer = setTimeout(() => {
      if (this.stopped) return;
      const waiting = this.transfers.list().filter((t) => t.direction === 'send' && t.peerId === peerId && t.state === 'waiting-accept');
      if (!waiting.length || !this.session(peerId)) return;
      for (const t of waiting) this.transfers.resume(t.id);
      if (tries > 1) this.nudgeResumes(peerId, tries - 1, delayMs * 2);
    }, delayMs);
    timer.unref();
  }

  private hasPendingOutgoing(peerId: string): boolean {
    return this.transfers.list().some((t) => t.peerId === peerId && t.direction === 'send' && (t.state === 'paused' || t.state === 'waiting-accept' || t.state === 'active'));
  }

  private reconnectTimers = new Map<string, NodeJS.Timeout>();

  /** While we have something to send to a peer, keep trying to reach it (2 s, 4 s, … 30 s). */
  private scheduleReconnect(peerId: string, delayMs = 2000): void {
    if (this.stopped || this.reconnectTimers.has(peerId) || !this.hasPendingOutgoing(peerId)) return;
    const timer = setTimeout(() => {
      this.reconnectTimers.delete(peerId);
      if (this.stopped || this.session(peerId) || !this.hasPendingOutgoing(peerId)) return;
      this.connect(peerId).catch(() => this.scheduleReconnect(peerId, Math.min(delayMs * 2, 30_000)));
    }, delayMs);
    timer.unref();
    this.reconnectTimers.set(peerId, timer);
  }

  // ---- transfers -----------------------------------------------------------

  /**
   * Offer files and folders to a peer; connects first. If an unfinished transfer
   * of the very same files to this peer exists (say, before a crash or restart),
   * it is resumed instead of starting over. Resolves with the transfer as offered.
   */
  async sendFiles(peerId: string, paths: string[]): Promise<TransferInfo> {
    const existing = await this.unfinishedSendOf(peerId, paths);
    let connectError: unknown;
    try {
      await this.connect(peerId);
    } catch (err) {
      connectError = err;
    }
    const t = existing ? this.transfers.resume(existing.id) : await this.transfers.send(peerId, paths);
    this.nudgeResumes(peerId);
    if (connectError) {
      // Queued: it is offered as soon as the peer can be reached.
      this.scheduleReconnect(peerId);
      this.log(`queued transfer for ${peerId.slice(0, 8)}: ${errorMessage(connectError)}`);
    }
    return t;
  }

  private async unfinishedSendOf(peerId: string, paths: string[]): Promise<TransferInfo | undefined> {
    const candidates = this.transfers.list().filter((t) => t.direction === 'send' && t.peerId === peerId && ['paused', 'waiting-accept', 'failed', 'active'].includes(t.state));
    if (!candidates.length) return undefined;
    let scan;
    try {
      scan = await scanPaths(paths);
    } catch {
      return undefined;
    }
    const key = (files: { path: string; bytes: number }[]) => files.map((f) => `${f.path}\0${f.bytes}`).sort().join('\n');
    const wanted = key(scan.files.map((f) => ({ path: f.path, bytes: f.size })));
    return candidates.reverse().find((t) => key(t.files) === wanted);
  }

  // ---- connection state ----------------------------------------------------

  private setConnection(peerId: string, patch: Partial<ConnectionInfo>): void {
    const prev = this.connections.get(peerId) ?? { peerId, state: 'idle', tier: null, attempts: [], rttMs: null, connectedAt: null, error: null };
    const next = { ...prev, ...patch };
    this.connections.set(peerId, next);
    this.emit('connection', next);
  }

  connectionInfo(peerId: string): ConnectionInfo | undefined {
    return this.connections.get(peerId);
  }

  session(peerId: string): Session | undefined {
    const s = this.sessions.get(peerId);
    return s && !s.closed ? s : undefined;
  }

  isOnline(peerId: string): boolean {
    return this.online.has(peerId) || this.sessions.has(peerId) || !!this.discovery?.get(peerId);
  }

  nearby(): NearbyDevice[] {
    return this.discovery?.list() ?? [];
  }

  /** How we would reach a peer: the rendezvous's view, else what LAN discovery heard. */
  private targetInfo(peerId: string): PeerInfo | undefined {
    const fromRendezvous = this.peerInfo.get(peerId);
    if (fromRendezvous && this.online.has(peerId)) return fromRendezvous;
    const near = this.discovery?.get(peerId);
    if (near) {
      return { peerId, name: near.name, endpoint: { tcpPort: near.tcpPort, candidates: [{ kind: 'host', proto: 'tcp', ip: near.ip, port: near.tcpPort }] }, observed: { ip: near.ip, port: 0 } };
    }
    return fromRendezvous;
  }

  /** Right after start the rendezvous may not have told us yet who is online. */
  private async waitForPresence(peerId: string, timeoutMs: number): Promise<PeerInfo | undefined> {
    if (!this.contacts.has(peerId) || !this.rendezvous?.registered) return undefined;
    try {
      await this.rendezvous.waitFor('presence', (p) => p.peer.peerId === peerId && p.online, timeoutMs);
    } catch {
      return undefined;
    }
    return this.targetInfo(peerId);
  }

  // ---- outgoing: ladder ----------------------------------------------------

  private tiers(noRelay = false, peerId?: string) {
    const direct = [...FIRST_TIERS, udpPunchTier, tcpPunchTier];
    const relays = [peerRelayTier, turnRelayTier, serverRelayTier];
    if (peerId && this.knobs.relayOnlyPeers?.has(peerId)) return noRelay ? [] : relays;
    return [...direct, ...(noRelay ? [] : relays)];
  }

  /**
   * Run the ladder towards `target`. With `upgrade` (a relayed session looking for a
   * direct path) the connection's state stays as it is: the session goes on meanwhile,
   * and only the attempt events tell of the try.
   */
  private async climb(target: PeerInfo, purpose: DialContext['purpose'], nameplate?: number, opts?: { noRelay?: boolean; upgrade?: boolean }): Promise<Link> {
    const peerId = target.peerId;
    const upgrade = opts?.upgrade === true;
    if (!upgrade) this.setConnection(peerId, { state: 'connecting', attempts: [], error: null, tier: null });
    try {
      const result = await runLadder(this.dialContext(target, purpose, nameplate), withMappedTiers(this.tiers(opts?.noRelay, target.peerId), target), (attempt) => {
        const info = upgrade ? undefined : this.connections.get(peerId);
        if (info) this.connections.set(peerId, { ...info, attempts: [...info.attempts, attempt] });
        this.emit('attempt', { ...attempt, peerId });
        this.log(`ladder: ${attempt.tier} ${attempt.state}${attempt.reason ? ` (${attempt.reason.slice(0, 120)})` : ''}`);
        if (info) this.emit('connection', this.connections.get(peerId) as ConnectionInfo);
      }, undefined, {
        // Started on a relay: a direct tier that connects later takes over.
        onUpgrade: (_tier, link) => this.adopt(link),
        onExtraLink: (link) => { if (link.hello.purpose === 'session') this.adopt(link); else link.channel.close(); },
      });
      return result.link;
    } catch (err) {
      if (!upgrade) this.setConnection(peerId, { state: 'failed', tier: 'failed', error: toErrorData(err) });
      throw err;
    }
  }

  /** Reach a paired contact (or a nearby device, asking it to accept) and return the session. */
  connect(peerId: string): Promise<Session> {
    const live = this.session(peerId);
    if (live) return Promise.resolve(live);
    const inflight = this.connecting.get(peerId);
    if (inflight) return inflight;
    const attempt = (async () => {
      const target = this.targetInfo(peerId) ?? await this.waitForPresence(peerId, 3000);
      if (!target) throw new EngineError('PEER_OFFLINE', 'That device is offline: it is not connected to the rendezvous server and not on this network. Open Postern on it and try again.');
      const purpose = this.contacts.has(peerId) ? 'session' : 'nearby';
      const link = await this.climb(target, purpose);
      const session = await this.onLink(link);
      if (!session) throw new EngineError('UNEXPECTED', 'no session');
      return session;
    })();
    this.connecting.set(peerId, attempt);
    attempt.then(() => this.connecting.delete(peerId), () => this.connecting.delete(peerId));
    return attempt;
  }

  // ---- pairing -------------------------------------------------------------

  /** Show-a-code side: opens an invite and resolves when a device paired with it. */
  async createInvite(): Promise<{ code: string; expiresAt: number; paired: Promise<PairedEvent> }> {
    if (!this.rendezvous) throw new EngineError('NOT_STARTED', 'The node is not running.');
    if (this.invite) this.cancelInvite();
    const { nameplate, expiresAt } = await this.rendezvous.openInvite();
    const code = formatInviteCode(nameplate, generateSecretWords());
    const password = codePassword(parseInviteCode(code));
    let resolve!: (p: PairedEvent) => void;
    let reject!: (e: Error) => void;
    const paired = new Promise<PairedEvent>((res, rej) => { resolve = res; reject = rej; });
    paired.catch(() => {});
    this.invite = { nameplate, password, expiresAt, resolve, reject };
    const timer = setTimeout(() => {
      if (this.invite?.nameplate === nameplate) {
        this.invite = undefined;
        reject(new EngineError('INVITE_EXPIRED', 'The invite code expired after 10 minutes without being used. Create a new one.'));
      }
    }, Math.max(0, expiresAt - Date.now()));
    timer.unref();
    return { code, expiresAt, paired };
  }

  cancelInvite(): void {
    if (!this.invite) return;
    this.rendezvous?.closeInvite(this.invite.nameplate);
    this.invite.reject(new EngineError('INVITE_CANCELLED', 'The invite was cancelled.'));
    this.invite = undefined;
  }

  /** Enter-a-code side: find the device, connect, prove the code, remember each other. */
  async pairWithCode(code: string): Promise<PairedEvent> {
    if (!this.rendezvous) throw new EngineError('NOT_STARTED', 'The node is not running.');
    const parsed = parseInviteCode(code);
    const target = await this.rendezvous.resolveInvite(parsed.nameplate);
    if (target.peerId === this.peerId) throw new EngineError('OWN_CODE', 'That is this device\'s own invite code. Enter it on the other device.');
    {
      const t0 = performance.now();
      const link = await this.climb(target, 'pair', parsed.nameplate);
      this.log(`pairing: ${link.tier} link up in ${Math.round(performance.now() - t0)} ms`);
      await pairAsCodeEnterer(link, this.peerId, codePassword(parsed)).catch((err) => {
        link.channel.close();
        throw err;
      });
      this.log(`pairing: PAKE done ${Math.round(performance.now() - t0)} ms after resolving the code`);
      await this.contacts.add({ peerId: target.peerId, name: link.remoteName || target.name, pairedAt: Date.now(), lastSeenAt: Date.now(), lastTier: link.tier, pairedBy: 'code' });
      this.peerInfo.set(target.peerId, target);
      this.online.add(target.peerId);
      this.rendezvous.watch(this.contacts.list().map((c) => c.peerId));
      this.adoptSession(link);
      const ev: PairedEvent = { peerId: target.peerId, name: link.remoteName || target.name, tier: link.tier, by: 'code' };
      this.emit('paired', ev);
      return ev;
    }
  }

  async forget(peerId: string): Promise<void> {
    this.sessions.get(peerId)?.close('unpaired');
    await this.contacts.remove(peerId);
    this.rendezvous?.watch(this.contacts.list().map((c) => c.peerId));
    this.emit('peers', undefined);
  }

  async setName(name: string): Promise<void> {
    this.name = name;
    if (this.rendezvous) this.rendezvous.update(name, this.endpoint());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelInvite();
    for (const t of this.reconnectTimers.values()) clearTimeout(t);
    for (const t of this.upgradeTimers.values()) clearTimeout(t);
    await this.transfers?.close();
    for (const s of this.sessions.values()) s.close('shutting down');
    this.discovery?.stop();
    this.rendezvous?.close();
    await this.portMapper?.stop();
    this.peerRelayHost?.closeAll();
    await this.listener?.close();
    await this.udp?.close();
    await this.embeddedRendezvous?.close();
    this.removeAll();
  }
}

function refuse(channel: Link['channel'], code: string, message: string): void {
  ackHello(channel, false, code, message);
  setTimeout(() => channel.close(), 100).unref();
}
