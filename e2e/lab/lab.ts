/**
 * The network lab's API for tests and tools. `Lab.up()` builds a routed
 * internet of network namespaces with real kernel NAT (RFC 4787 behaviours,
 * see nat-rules.ts), real gateways (miniupnpd) and a server with two public
 * addresses; `exec`/`spawn` run programs on its hosts; `down()` removes it all.
 *
 * Lifetime: stale labs of dead owners are removed before a new one is built;
 * a failed bring-up removes what it made; SIGINT/SIGTERM tear down every live
 * lab of this process and then exit; a crash (uncaught exception, process.exit)
 * removes namespaces and kills their processes synchronously on 'exit'.
 */
import { createWriteStream, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { SERVER4, SERVER6 } from './addressing.js';
import { runIn, spawnIn, waitForLine, type ExecOptions, type ExecResult } from './exec.js';
import { deleteNamespacesSync, listNamespaces, listNamespacesSync } from './netns.js';
import { validate, type LabOptions } from './spec.js';
import { claimId, removeLab, removeStale, stateDir } from './state.js';
import { buildTopology, type HostInfo, type SiteInfo, type Topology } from './topology.js';

/** The repository root (this file is e2e/lab/lab.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const AGENT = fileURLToPath(new URL('./agent.ts', import.meta.url));

/** Reflector ports on the server (RFC 5780-style: two addresses x two ports, plus TCP). */
export const REFLECT_UDP = [7000, 7001] as const;
export const REFLECT_TCP = [7000, 443] as const;
/** TCP bulk source on the server's second address (rate measurements). */
export const REFLECT_BULK = 7002;

const live = new Set<Lab>();
let handlersInstalled = false;

function onSignal(sig: NodeJS.Signals): void {
  const labs = [...live];
  process.stderr.write(`\nlab: ${sig}, tearing down ${labs.length} lab(s)\n`);
  void Promise.allSettled(labs.map((l) => l.down())).then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
}

function onExit(): void {
  for (const l of live) l.downSync();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('exit', onExit);
}

function removeHandlers(): void {
  if (!handlersInstalled || live.size > 0) return;
  handlersInstalled = false;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', onExit);
}

export class Lab {
  private readonly children: { what: string; child: ChildProcess }[] = [];
  private topo: Topology | undefined;
  private downing: Promise<void> | undefined;

  private constructor(readonly id: string, readonly options: LabOptions) {}

  static async up(options: LabOptions): Promise<Lab> {
    const sites = validate(options);
    await removeStale(options.log);
    const lab = new Lab(await claimId(), options);
    live.add(lab);
    installHandlers();
    try {
      options.log?.(`lab ${lab.id}: building ${sites.length} site(s)`);
      lab.topo = await buildTopology(lab.id, sites, options, lab.dir, (what, child) => lab.track(what, child));
      if (options.server !== false && options.reflector !== false) await lab.startReflector();
      return lab;
    } catch (err) {
      await lab.down();
      throw err;
    }
  }

  /** The lab's state directory (configs, daemon logs). */
  get dir(): string {
    return stateDir(this.id);
  }

  private get t(): Topology {
    if (!this.topo) throw new Error(`lab ${this.id} is not up`);
    return this.topo;
  }

  private track(what: string, child: ChildProcess): void {
    this.children.push({ what, child });
    const log = createWriteStream(join(this.dir, `${what.replace(/[^a-z0-9-]+/gi, '_')}.log`), { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', () => log.end());
  }

  /** Host names: the sites' hosts (`a1`, `a2`, `b1`, …) and `server`. */
  get hosts(): string[] {
    return [...this.t.hosts.keys(), ...(this.t.serverNs ? ['server'] : [])];
  }

  get sites(): string[] {
    return [...this.t.sites.keys()];
  }

  site(name: string): SiteInfo {
    const s = this.t.sites.get(name);
    if (!s) throw new Error(`no site "${name}" (sites: ${this.sites.join(', ')})`);
    return s;
  }

  host(name: string): HostInfo {
    const h = this.t.hosts.get(name);
    if (!h) throw new Error(`no host "${name}" (hosts: ${this.hosts.join(', ')})`);
    return h;
  }

  /** The namespace a host (or `server`, or `inet`) lives in, for `ip netns exec` by hand. */
  namespace(host: string): string {
    if (host === 'server') {
      if (!this.t.serverNs) throw new Error('this lab has no server');
      return this.t.serverNs;
    }
    if (host === 'inet') return this.t.inetNs;
    return this.host(host).ns;
  }

  /** The server's two public IPv4 addresses. */
  get serverAddresses(): [string, string] {
    return [SERVER4[0], SERVER4[1]];
  }

  get serverAddresses6(): [string, string] {
    return [SERVER6[0], SERVER6[1]];
  }

  hostAddress(host: string): string {
    if (host === 'server') return SERVER4[0];
    return this.host(host).v4;
  }

  hostAddress6(host: string): string | undefined {
    if (host === 'server') return SERVER6[0];
    return this.host(host).v6;
  }

  /** The site router's WAN address (behind a CGN this is its 100.64.x.x address). */
  routerWan(site: string): string {
    return this.site(site).wan4;
  }

  /** The address the internet sees for the site (the CGN's with cgnat). */
  publicAddress(site: string): string {
    return this.site(site).public4;
  }

  /** The site router's LAN address (default gateway, UPnP/NAT-PMP/PCP server). */
  gatewayAddress(site: string): string {
    return this.site(site).addresses.gateway4;
  }

  /** Runs a command on a host and waits for it (default timeout 30 s). */
  exec(host: string, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return runIn(this.namespace(host), cmd, args, opts);
  }

  /** Runs a command in a router's namespace (`site` or `cgn:site`), e.g. nft or conntrack for debugging. */
  execRouter(site: string, cmd: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    const s = site.startsWith('cgn:') ? this.site(site.slice(4)).cgnNs : this.site(site).routerNs;
    if (!s) throw new Error(`site ${site.slice(4)} has no CGN`);
    return runIn(s, cmd, args, opts);
  }

  /** Starts a process on a host; it is killed by down() if still running. */
  spawn(host: string, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    const child = spawnIn(this.namespace(host), cmd, args, { cwd: REPO_ROOT, ...opts });
    this.children.push({ what: `${host}: ${cmd}`, child });
    return child;
  }

  /** Runs a TypeScript program (tsx) with this Node on a host. */
  spawnNode(host: string, script: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    return this.spawn(host, process.execPath, ['--import', 'tsx', script, ...args], opts);
  }

  execNode(host: string, script: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(host, process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, ...opts });
  }

  private async startReflector(): Promise<void> {
    const [s1, s2] = this.serverAddresses;
    const [v1, v2] = this.serverAddresses6;
    const udp = [s1, s2].flatMap((a) => REFLECT_UDP.map((p) => `${a}:${p}`));
    const udp6 = [v1, v2].map((a) => `[${a}]:${REFLECT_UDP[0]}`);
    const tcp = [...REFLECT_TCP.map((p) => `${s2}:${p}`), `[${v2}]:${REFLECT_TCP[0]}`];
    const child = this.spawnNode('server', AGENT, [
      'reflect', '--udp', [...udp, ...udp6].join(','), '--tcp', tcp.join(','), '--bulk', `${s2}:${REFLECT_BULK}`,
    ]);
    this.track('reflector', child);
    await waitForLine(child, (l) => l === 'ready', { timeoutMs: 20_000, what: 'reflector', streams: ['stdout', 'stderr'] });
  }

  /** Removes everything: processes (by pid), namespaces, state. Safe to call twice. */
  down(): Promise<void> {
    this.downing ??= (async () => {
      for (const { child } of this.children) if (child.exitCode === null) child.kill('SIGTERM');
      const mine = (await listNamespaces()).filter((n) => n.startsWith(`pl-${this.id}-`));
      await removeLab(this.id, mine);
      live.delete(this);
      removeHandlers();
    })();
    return this.downing;
  }

  /** Synchronous teardown for the 'exit' handler. */
  downSync(): void {
    for (const { child } of this.children) if (child.exitCode === null) child.kill('SIGKILL');
    deleteNamespacesSync(listNamespacesSync().filter((n) => n.startsWith(`pl-${this.id}-`)));
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

function onPath(tool: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  return dirs.some((d) => d !== '' && existsSync(join(d, tool)));
}

/** Why the lab cannot run here, or undefined when it can (root, ip, nft, conntrack, tc; miniupnpd for gateways). */
export async function labUnavailable(needs: { gateways?: boolean } = {}): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, nftables)';
  const tools = ['ip', 'nft', 'tc', 'conntrack', 'sysctl', 'ss', ...(needs.gateways ? ['miniupnpd'] : [])];
  for (const t of tools) if (!onPath(t)) return `the lab needs ${t}, which is not installed`;
  if (!existsSync('/dev/net/tun')) return 'the lab needs /dev/net/tun';
  return undefined;
}

/** What this machine's lab can do beyond the basics: gateways need miniupnpd, latency needs a C compiler. */
export function labCapabilities(): { gateways: boolean; latency: boolean } {
  return { gateways: onPath('miniupnpd'), latency: ['cc', 'gcc', 'clang'].some(onPath) };
}
