/**
 * The port mapper: asks the gateway to open ports for this device (PCP,
 * NAT-PMP or UPnP IGD, probed in parallel, preferred in that order) and keeps
 * them open while Postern runs:
 *  - a lease (default 2 h, or what the gateway grants), renewed at half-life;
 *    a failed renewal is retried, and a mapping whose lease ran out is dropped;
 *  - removed on `stop()` (also permanent ones, from gateways that only offer
 *    those: UPnP 725);
 *  - after a crash, the next `start()` removes what the last run left: the
 *    mappings in the JSON record in the data directory, and UPnP mappings with
 *    our description (`Postern <shortId>`) to this device's address;
 *  - a taken port leads to another port (the gateway's choice for NAT-PMP, PCP
 *    and IGD v2; random ones after 718 for IGD v1).
 * Every change is reported as a `change` event with the whole state, as plain
 * data for the UI: each mapping's protocol, external address and port, internal
 * port, lease expiry, last renewal and last error, and the gateway's external
 * address kind (a CGNAT or private address means another NAT in front).
 * See docs/portmap.md.
 */
import { errorCode, errorMessage } from '../errors.js';
import { Emitter } from '../util/emitter.js';
import type { MapProtocol } from '../../wire/natpmp.js';
import type { GatewayProtocol } from './errors.js';
import { natPmpDriver, pcpDriver, upnpDriver, type Driver, type Held } from './drivers.js';
import { addressKind, ALL_PROTOCOLS, factsFromProbe, probeGateways, type AddressKind, type ProbeOptions, type ProbeReport, type RouterFacts } from './probe.js';
import { readRecord, writeRecord, type RecordedMapping } from './record.js';
import { UpnpGateway } from './upnp-client.js';
import type { PmpTarget } from './natpmp-client.js';

export interface PortRequest {
  proto: MapProtocol;
  internalPort: number;
  /** External port to ask for. @default internalPort */
  externalPort?: number;
}

export interface Scheduler {
  now(): number;
  /** Run `fn` after `ms`; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface PortMapperOptions extends Omit<ProbeOptions, 'protocols' | 'signal'> {
  ports: PortRequest[];
  /** Recognises our mappings on the gateway, e.g. `Postern ABCD-EFGH`. */
  description: string;
  /** Where `portmap.json` is kept; without it, crash cleanup relies on UPnP descriptions only. */
  dataDir?: string;
  /** Requested lease. @default 7200 */
  leaseSec?: number;
  /** Protocols to use, in order of preference. @default ['pcp', 'natpmp', 'upnp'] */
  protocols?: readonly GatewayProtocol[];
  /** First wait before resending a NAT-PMP/PCP map request (RFC 6886: 250 ms, doubling). @default 250 */
  mapWaitMs?: number;
  /** Retry a failed renewal after this long (capped by half the time left). @default 60000 */
  retryMs?: number;
  scheduler?: Scheduler;
  log?: (line: string) => void;
}

export interface MappingInfo {
  protocol: GatewayProtocol;
  proto: MapProtocol;
  internalPort: number;
  internalClient: string;
  externalIp: string | null;
  externalPort: number;
  /** Granted lease in seconds (0: permanent, removed on exit). */
  leaseSec: number;
  permanent: boolean;
  createdAt: number;
  lastRenewedAt: number;
  expiresAt: number | null;
  nextRenewalAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
}

export type PortMapStatus = 'idle' | 'probing' | 'mapped' | 'failed' | 'unavailable' | 'stopped';

export interface PortMapState {
  status: PortMapStatus;
  gateway: string | null;
  localAddress: string | null;
  probes: ProbeReport[];
  /** The gateway's external address (from its answers), and what kind of address that is. */
  externalIp: string | null;
  externalIpKind: AddressKind | null;
  mappings: MappingInfo[];
  /** Recent errors, newest last (at most 20). */
  errors: { at: number; protocol: GatewayProtocol | null; code: string; message: string }[];
  router: RouterFacts | null;
  /** Leftovers of an earlier run that were removed at start. */
  cleanedUp: number;
}

interface Active extends Held {
  info: MappingInfo;
  driver: Driver;
  cancelTimer?: () => void;
  controlURL?: string;
}

export class PortMapper extends Emitter<{ change: PortMapState }> {
  private readonly sched: Scheduler;
  private readonly leaseSec: number;
  private readonly log: (line: string) => void;
  private active: Active[] = [];
  private drivers = new Map<GatewayProtocol, Driver>();
  private st: PortMapState = { status: 'idle', gateway: null, localAddress: null, probes: [], externalIp: null, externalIpKind: null, mappings: [], errors: [], router: null, cleanedUp: 0 };
  private stopping = false;
  private starting: Promise<PortMapState> | undefined;

  constructor(private readonly opts: PortMapperOptions) {
    super();
    this.sched = opts.scheduler ?? realScheduler;
    this.leaseSec = opts.leaseSec ?? 7200;
    this.log = opts.log ?? (() => {});
  }

  /** A copy of the current state. */
  get state(): PortMapState {
    return structuredClone({ ...this.st, mappings: this.active.map((a) => a.info) });
  }

  private changed(patch: Partial<PortMapState> = {}): void {
    this.st = { ...this.st, ...patch };
    this.emit('change', this.state);
  }

  private error(protocol: GatewayProtocol | null, err: unknown): void {
    const e = { at: this.sched.now(), protocol, code: errorCode(err, 'PORTMAP_FAILED'), message: errorMessage(err) };
    this.st.errors = [...this.st.errors, e].slice(-20);
    this.log(`port mapping${protocol ? ` (${protocol})` : ''}: ${e.message}`);
  }

  private noteExternalIp(ip: string | null | undefined): void {
    if (!ip || ip === '0.0.0.0') return;
    this.st.externalIp = ip;
    this.st.externalIpKind = addressKind(ip);
  }

  /** Probe, clean up an earlier run's leftovers, and map every requested port. Resolves with the state; never rejects. */
  start(): Promise<PortMapState> {
    this.starting ??= this.run().catch((err) => {
      this.error(null, err);
      this.changed({ status: this.stopping ? 'stopped' : this.active.length ? 'mapped' : 'failed' });
      return this.state;
    });
    return this.starting;
  }

  private async run(): Promise<PortMapState> {
    this.changed({ status: 'probing' });
    const order = this.opts.protocols ?? ALL_PROTOCOLS;
    const probe = await probeGateways({ ...this.opts, protocols: order });
    if (this.stopping) return this.state;
    const { gateway, localAddress } = probe;
    this.st.gateway = gateway;
    this.st.localAddress = localAddress;
    this.st.probes = order.map((p) => probe.reports[p]).filter((r): r is ProbeReport => !!r);
    this.st.router = factsFromProbe(probe);
    for (const r of this.st.probes) this.noteExternalIp(r.externalIp);
    if (gateway && localAddress) {
      const target: PmpTarget = { gateway, ...(this.opts.pmpPort ? { port: this.opts.pmpPort } : {}), ...(this.opts.mapWaitMs ? { initialWaitMs: this.opts.mapWaitMs } : {}) };
      if (probe.reports.natpmp?.available) this.drivers.set('natpmp', natPmpDriver(target, probe.reports.natpmp.externalIp ?? null));
      if (probe.reports.pcp?.available) this.drivers.set('pcp', pcpDriver(target, localAddress));
      if (probe.igd) this.drivers.set('upnp', upnpDriver(new UpnpGateway(probe.igd), localAddress, this.opts.description, probe.reports.upnp?.externalIp ?? null));
      await this.cleanUp(gateway, localAddress, target);
    }
    for (const req of this.opts.ports) {
      if (this.stopping) break;
      await this.mapOne(req, order);
    }
    await this.save();
    const anyAvailable = this.drivers.size > 0;
    this.changed({ status: this.stopping ? 'stopped' : this.active.length ? 'mapped' : anyAvailable ? 'failed' : 'unavailable' });
    return this.state;
  }

  private async mapOne(req: PortRequest, order: readonly GatewayProtocol[]): Promise<void> {
    for (const protocol of order) {
      const driver = this.drivers.get(protocol);
      if (!driver) continue;
      try {
        const g = await driver.map({ proto: req.proto, internalPort: req.internalPort, externalPort: req.externalPort ?? req.internalPort, leaseSec: this.leaseSec });
        const now = this.sched.now();
        this.noteExternalIp(g.externalIp);
        const a: Active = {
          ...g, proto: req.proto, internalPort: req.internalPort, driver,
          info: {
            protocol, proto: req.proto, internalPort: req.internalPort, internalClient: this.st.localAddress ?? '', externalIp: g.externalIp,
            externalPort: g.externalPort, leaseSec: g.leaseSec, permanent: g.permanent, createdAt: now, lastRenewedAt: now,
            expiresAt: g.permanent ? null : now + g.leaseSec * 1000, nextRenewalAt: null, lastError: null,
          },
        };
        if (protocol === 'upnp') a.controlURL = this.upnpGateway()?.controlURL;
        if (this.stopping) {
          await driver.unmap(a).catch(() => {});
          return;
        }
        this.active.push(a);
        this.schedule(a);
        this.log(`mapped ${req.proto.toUpperCase()} ${g.externalIp ?? '?'}:${g.externalPort} → :${req.internalPort} by ${protocol}${g.permanent ? ' (permanent: removed on exit)' : ` for ${g.leaseSec} s`}`);
        return;
      } catch (err) {
        this.error(protocol, err);
        const detail = (err as { detail?: { externalIp?: string | null } }).detail;
        this.noteExternalIp(detail?.externalIp);
      }
    }
  }

  /** Renewal at half the lease (at least 1 s from now); permanent mappings need none. */
  private schedule(a: Active, inMs?: number): void {
    a.cancelTimer?.();
    if (a.permanent && inMs === undefined) {
      a.info.nextRenewalAt = null;
      return;
    }
    const delay = Math.max(1000, inMs ?? (a.leaseSec * 1000) / 2);
    a.info.nextRenewalAt = this.sched.now() + delay;
    a.cancelTimer = this.sched.after(delay, () => { void this.renewOne(a); });
  }

  private async renewOne(a: Active): Promise<void> {
    if (this.stopping || !this.active.includes(a)) return;
    try {
      const g = await a.driver.renew(a, this.leaseSec);
      if (this.stopping) return;
      const now = this.sched.now();
      if (g.externalPort !== a.externalPort) this.log(`${a.info.protocol}: external port moved ${a.externalPort} → ${g.externalPort}`);
      Object.assign(a, g);
      this.noteExternalIp(g.externalIp);
      a.info = { ...a.info, externalIp: g.externalIp, externalPort: g.externalPort, leaseSec: g.leaseSec, permanent: g.permanent, lastRenewedAt: now, expiresAt: g.permanent ? null : now + g.leaseSec * 1000, lastError: null };
      this.schedule(a);
    } catch (err) {
      this.error(a.info.protocol, err);
      const now = this.sched.now();
      a.info = { ...a.info, lastError: { code: errorCode(err, 'PORTMAP_FAILED'), message: errorMessage(err), at: now } };
      const left = a.info.expiresAt === null ? Infinity : a.info.expiresAt - now;
      if (left <= 1000) {
        this.active = this.active.filter((x) => x !== a);
        this.log(`${a.info.protocol}: the mapping of port ${a.internalPort} expired without renewal`);
      } else {
        this.schedule(a, Math.min(this.opts.retryMs ?? 60_000, left / 2));
      }
    }
    if (this.stopping) return;
    await this.save();
    this.changed({ status: this.active.length ? 'mapped' : 'failed' });
  }

  /** Renew every mapping now (the UI's "renew" button, and tests). */
  async renew(): Promise<PortMapState> {
    await this.start();
    await Promise.all(this.active.map((a) => this.renewOne(a)));
    return this.state;
  }

  /** Remove every mapping (within about 3 s) and forget the record. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.starting;
    const held = this.active;
    this.active = [];
    for (const a of held) a.cancelTimer?.();
    const removals = held.map((a) => a.driver.unmap(a).then(
      () => this.log(`removed ${a.info.protocol} mapping ${a.info.externalPort}/${a.proto}`),
      (err) => this.error(a.info.protocol, err),
    ));
    await Promise.race([Promise.all(removals), new Promise((r) => this.sched.after(3000, () => r(undefined)))]);
    await this.save([]);
    this.changed({ status: 'stopped' });
    this.removeAll();
  }

  // ---- record and crash cleanup ------------------------------------------------

  private recorded(list: Active[] = this.active): RecordedMapping[] {
    return list.map((a) => ({
      protocol: a.info.protocol, proto: a.proto, internalPort: a.internalPort, externalPort: a.externalPort,
      internalClient: a.info.internalClient, gateway: this.st.gateway ?? '', description: this.opts.description,
      ...(a.nonce ? { nonce: a.nonce } : {}), ...(a.controlURL ? { controlURL: a.controlURL } : {}),
      permanent: a.permanent, expiresAt: a.info.expiresAt,
    }));
  }

  private saving: Promise<void> = Promise.resolve();

  /** Write the record (one write at a time, in order). */
  private save(list?: Active[]): Promise<void> {
    const dir = this.opts.dataDir;
    if (!dir) return Promise.resolve();
    const data = this.recorded(list);
    this.saving = this.saving.then(() => writeRecord(dir, data)).catch((err) => {
      this.log(`could not write the port mapping record: ${errorMessage(err)}`);
    });
    return this.saving;
  }

  /** Remove mappings an earlier run left (crash): from the record, and UPnP ones by description. */
  private async cleanUp(gateway: string, localAddress: string, target: PmpTarget): Promise<void> {
    const stale = this.opts.dataDir ? await readRecord(this.opts.dataDir) : [];
    let removed = 0;
    const upnpDone = new Set<string>();
    for (const r of stale) {
      if (r.gateway !== gateway || r.internalClient !== localAddress) continue; // another network: not ours to touch
      const held: Held = { proto: r.proto, internalPort: r.internalPort, externalPort: r.externalPort, externalIp: null, leaseSec: 0, permanent: !!r.permanent, ...(r.nonce ? { nonce: r.nonce } : {}) };
      try {
        if (r.protocol === 'upnp') {
          const gw = this.upnpGateway();
          if (!gw) continue; // no UPnP gateway answers now: nothing to remove it from
          const entry = await gw.specificEntry(r.proto, r.externalPort);
          if (!entry || entry.internalClient !== localAddress || entry.description !== this.opts.description) continue;
          await gw.deletePortMapping(r.proto, r.externalPort);
          upnpDone.add(`${r.proto}:${r.externalPort}`);
        } else if (r.protocol === 'natpmp') {
          await natPmpDriver({ ...target, tries: 2 }, null).unmap(held);
        } else {
          await pcpDriver({ ...target, tries: 2 }, localAddress).unmap(held);
        }
        removed++;
      } catch (err) {
        this.log(`could not remove a mapping left by an earlier run (${r.protocol} ${r.externalPort}/${r.proto}): ${errorMessage(err)}`);
      }
    }
    const gw = this.upnpGateway();
    if (gw) {
      try {
        for (const e of await gw.listMappings()) {
          const proto = e.protocol === 'TCP' ? 'tcp' : 'udp';
          if (e.description !== this.opts.description || e.internalClient !== localAddress || upnpDone.has(`${proto}:${e.externalPort}`)) continue;
          await gw.deletePortMapping(proto, e.externalPort);
          removed++;
        }
      } catch (err) {
        this.log(`could not list the gateway's UPnP mappings: ${errorMessage(err)}`);
      }
    }
    if (removed) this.log(`removed ${removed} port mapping(s) left by an earlier run`);
    this.st.cleanedUp = removed;
    if (stale.length) await this.save([]);
  }

  private upnpGateway(): UpnpGateway | undefined {
    return this.drivers.get('upnp')?.gateway;
  }
}
