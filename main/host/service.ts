/**
 * The app service: one PosternNode, its settings, and the state the UI needs
 * beyond the engine's (the open invite, pending nearby requests, the rendezvous and
 * engine status), reported as the contract's events to any number of sinks (the
 * Electron window, WebSocket clients). It starts and stops the node with the app
 * and restarts it when a setting needs it. Electron and the headless host share it.
 */
import { mkdir } from 'node:fs/promises';
import { PosternNode, type NodeOptions } from '../engine/node.js';
import { SettingsStore, nodeOptions } from '../engine/settings.js';
import { EngineError, errorCode, toErrorData } from '../engine/errors.js';
import { needsRestart, type Settings, type SettingsPatch } from '../../shared/domain/settings.js';
import { inviteLink, type InviteView, type NearbyRequestView, type RendezvousView } from '../../shared/domain/peers.js';
import type { AppState, EngineStatus } from '../../shared/domain/app.js';
import type { EventName, EventPayload, EventSink } from '../../shared/ipc/contract.js';
import type { Platform } from './platform.js';
import { nearbyRequestView, pairedView, peerViews, selfView } from './views.js';
import type { DoctorReport, ReachabilityResult } from '../../shared/domain/doctor.js';
import { assembleReport } from '../engine/doctor/report.js';
import { checkNodeReachability, collectInputs } from '../engine/doctor/collect.js';

export interface AppServiceOptions {
  dataDir: string;
  platform: Platform;
  /** Node options that win over settings (tests and the demo: no LAN discovery). */
  nodeOverrides?: Partial<NodeOptions>;
  log?: (line: string) => void;
}

/** How long the engine waits for a nearby decision (PosternNode.askNearby). */
const NEARBY_TIMEOUT_MS = 120_000;

export class AppService {
  node: PosternNode | null = null;
  private engine: EngineStatus = { state: 'stopped', error: null };
  private rendezvous: RendezvousView = { url: null, state: 'connecting', embedded: false, observedIp: null, reason: null };
  private invite: InviteView | null = null;
  private nearby = new Map<string, NearbyRequestView & { timer: NodeJS.Timeout }>();
  private sinks = new Set<EventSink>();
  private unbind: (() => void)[] = [];
  private peersQueued = false;
  /** The last reachability check of the running engine (cleared on restart). */
  private reach: ReachabilityResult | null = null;
  private doctorTimer: NodeJS.Timeout | undefined;
  private lifecycle: Promise<void> = Promise.resolve();
  private readonly log: (line: string) => void;

  private constructor(readonly opts: AppServiceOptions, readonly settings: SettingsStore) {
    this.log = opts.log ?? (() => {});
  }

  static async open(opts: AppServiceOptions): Promise<AppService> {
    const settings = await SettingsStore.open(opts.dataDir);
    for (const p of settings.problems) opts.log?.(p);
    return new AppService(opts, settings);
  }

  get platform(): Platform {
    return this.opts.platform;
  }

  /** Subscribe to every contract event; returns the unsubscribe function. */
  addSink(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  emit<K extends EventName>(name: K, payload: EventPayload<K>): void {
    for (const sink of [...this.sinks]) {
      try {
        sink(name, payload);
      } catch (err) {
        this.log(`event sink failed on ${name}: ${String(err)}`);
      }
    }
  }

  state(): AppState {
    const node = this.running();
    return {
      self: selfView(node, this.settings.get().name),
      engine: this.engine,
      rendezvous: this.rendezvous,
      peers: peerViews(node),
      transfers: node?.transfers.list() ?? [],
      invite: this.invite,
      nearbyRequests: [...this.nearby.values()].map(({ timer: _t, ...view }) => view),
      settings: this.settings.get(),
      platform: this.platform.info,
    };
  }

  /** The node, or NOT_RUNNING with what to do. */
  requireNode(): PosternNode {
    const node = this.running();
    if (!node) {
      const why = this.engine.error ? ` ${this.engine.error.message}` : '';
      throw new EngineError('NOT_RUNNING', `Postern's engine is not running.${why} Check Settings (rendezvous address, port) and save them to try again.`);
    }
    return node;
  }

  private running(): PosternNode | null {
    return this.engine.state === 'running' ? this.node : null;
  }

  // ---- lifecycle -------------------------------------------------------------

  /** Starts the engine. A failure is reported as engine state `error` (the UI stays up to fix settings). */
  start(): Promise<void> {
    return this.serial(() => this.startNode('starting'));
  }

  stop(): Promise<void> {
    return this.serial(async () => {
      await this.stopNode();
      this.setEngine({ state: 'stopped', error: null });
    });
  }

  async updateSettings(patch: SettingsPatch): Promise<{ settings: Settings; restarted: boolean }> {
    const before = this.settings.get();
    const settings = await this.settings.update(patch);
    this.emit('settings.changed', settings);
    const restart = needsRestart(before, settings) || this.engine.state === 'error';
    if (restart) {
      await this.serial(async () => {
        await this.stopNode();
        await this.startNode('restarting');
      });
      this.emit('app.snapshot', this.state());
    } else if (settings.name !== before.name && this.node) {
      await this.node.setName(settings.name);
      this.emit('app.snapshot', this.state());
    }
    return { settings, restarted: restart };
  }

  private serial(step: () => Promise<void>): Promise<void> {
    this.lifecycle = this.lifecycle.catch(() => {}).then(step);
    return this.lifecycle;
  }

  private async startNode(state: 'starting' | 'restarting'): Promise<void> {
    this.setEngine({ state, error: null });
    this.reach = null;
    const settings = this.settings.get();
    await mkdir(settings.downloadDir, { recursive: true }).catch(() => {});
    const node = new PosternNode(nodeOptions(this.opts.dataDir, settings, { log: this.log, ...this.opts.nodeOverrides }));
    this.node = node;
    this.rendezvous = { url: settings.rendezvous[0] ?? null, state: 'connecting', embedded: false, observedIp: null, reason: null };
    this.bindNode(node);
    try {
      await node.start();
    } catch (err) {
      this.log(`engine failed to start: ${String(err)}`);
      await node.stop().catch(() => {});
      this.unbindNode();
      this.node = null;
      const code = errorCode(err);
      const data = code === 'EADDRINUSE'
        ? { code: 'PORT_IN_USE', message: `Port ${settings.listenPort} is already used by another program. Choose another listening port in Settings, or 0 for any free port.` }
        : toErrorData(err, 'ENGINE_FAILED');
      this.rendezvous = { ...this.rendezvous, state: 'disconnected', reason: data.message };
      this.setEngine({ state: 'error', error: data });
      return;
    }
    this.bindTransfers(node);
    const url = node.rendezvous?.url ?? null;
    this.rendezvous = { ...this.rendezvous, url, embedded: !!node.embeddedRendezvous };
    this.setEngine({ state: 'running', error: null });
    this.emit('connectivity.rendezvous', this.rendezvous);
    this.emit('app.snapshot', this.state());
  }

  private async stopNode(): Promise<void> {
    const node = this.node;
    if (!node) return;
    this.node = null;
    this.unbindNode();
    for (const req of this.nearby.values()) clearTimeout(req.timer);
    this.nearby.clear();
    if (this.invite?.state === 'open') this.invite = null;
    await node.stop().catch((err) => this.log(`engine stop failed: ${String(err)}`));
  }

  private setEngine(status: EngineStatus): void {
    this.engine = status;
    this.emit('app.engine', status);
  }

  // ---- engine events → contract events ----------------------------------------

  private bindNode(node: PosternNode): void {
    this.unbind.push(
      node.on('peers', () => this.queuePeers()),
      node.on('connection', (info) => this.emit('connectivity.connection', info)),
      node.on('paired', (ev) => {
        this.emit('pairing.paired', pairedView(ev));
        this.queuePeers();
      }),
      node.on('rendezvous', ({ url, connected, observedIp, reason }) => {
        this.rendezvous = { url, state: connected ? 'connected' : 'disconnected', embedded: !!node.embeddedRendezvous, observedIp, reason: reason ?? null };
        this.emit('connectivity.rendezvous', this.rendezvous);
        this.queueDoctor();
      }),
      node.on('nat', () => this.queueDoctor()),
      node.on('portmap', () => this.queueDoctor()),
      node.on('nearby-request', (req) => {
        const expiresAt = Date.now() + NEARBY_TIMEOUT_MS;
        const timer = setTimeout(() => this.closeNearby(req.requestId), NEARBY_TIMEOUT_MS);
        timer.unref();
        const view = nearbyRequestView(req, expiresAt);
        this.nearby.set(req.requestId, { ...view, timer });
        this.emit('pairing.nearbyRequest', view);
      }),
    );
  }

  private bindTransfers(node: PosternNode): void {
    this.unbind.push(
      node.transfers.on('transfer', (t) => this.emit('transfers.updated', t)),
      node.transfers.on('progress', (p) => this.emit('transfers.progress', p)),
      node.transfers.on('offer', (offer) => this.emit('transfers.offer', offer)),
    );
  }

  private unbindNode(): void {
    for (const off of this.unbind.splice(0)) off();
  }

  /** Several engine changes in one tick become one `peers.changed`. */
  private queuePeers(): void {
    if (this.peersQueued) return;
    this.peersQueued = true;
    queueMicrotask(() => {
      this.peersQueued = false;
      this.emit('peers.changed', peerViews(this.running()));
    });
  }

  // ---- the connection doctor ------------------------------------------------------

  /** The doctor's report from what the engine has measured (no probing, no check). */
  async doctorReport(): Promise<DoctorReport> {
    const node = this.requireNode();
    return assembleReport(await collectInputs(node, { fixedPort: this.settings.get().listenPort !== 0, reachability: this.reach }));
  }

  /**
   * The rendezvous dials us back. When the TCP port turns out reachable, the
   * node re-announces its endpoint: the rendezvous then tells the devices that
   * watch us, and those with something to send try again (and dial us directly).
   */
  async checkReachability(): Promise<ReachabilityResult> {
    const node = this.requireNode();
    const result = await checkNodeReachability(node);
    if (this.node !== node) return result; // restarted meanwhile
    this.reach = result;
    if (result.ok) await node.setName(node.name).catch(() => {});
    this.queueDoctor(0);
    return result;
  }

  /** Several changes in a row become one `doctor.report` (only computed when someone listens). */
  private queueDoctor(delayMs = 250): void {
    if (!this.sinks.size) return;
    clearTimeout(this.doctorTimer);
    this.doctorTimer = setTimeout(() => {
      if (!this.running()) return;
      this.doctorReport().then((r) => this.emit('doctor.report', r), (err) => this.log(`doctor report failed: ${String(err)}`));
    }, delayMs);
    this.doctorTimer.unref();
  }

  // ---- pairing state the engine does not keep ------------------------------------

  async createInvite(): Promise<InviteView> {
    const node = this.requireNode();
    const { code, expiresAt, paired } = await node.createInvite();
    const view: InviteView = { code, link: inviteLink(code), expiresAt, state: 'open', error: null, pairedWith: null };
    this.invite = view;
    const settle = (patch: Partial<InviteView>) => {
      if (this.invite?.code !== code) return; // replaced by a newer invite
      this.invite = { ...view, ...patch };
      this.emit('pairing.invite', this.invite);
    };
    paired.then(
      (ev) => settle({ state: 'paired', pairedWith: { peerId: ev.peerId, name: ev.name } }),
      (err) => {
        const c = errorCode(err);
        settle(c === 'INVITE_EXPIRED' ? { state: 'expired' } : c === 'INVITE_CANCELLED' ? { state: 'cancelled' } : { state: 'failed', error: toErrorData(err) });
      },
    );
    return view;
  }

  cancelInvite(): void {
    this.node?.cancelInvite();
  }

  decideNearby(requestId: string, accept: boolean): void {
    if (!this.nearby.has(requestId)) throw new EngineError('REQUEST_GONE', 'That request is no longer waiting (it expired after 2 minutes, or the other device gave up). Ask the other device to try again.');
    this.requireNode().decideNearby(requestId, accept);
    this.closeNearby(requestId);
  }

  private closeNearby(requestId: string): void {
    const req = this.nearby.get(requestId);
    if (!req) return;
    clearTimeout(req.timer);
    this.nearby.delete(requestId);
    this.emit('pairing.nearbyClosed', { requestId });
  }
}
