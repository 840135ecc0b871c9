/**
 * Port-mapping gateways on a site router: miniupnpd answering UPnP IGD
 * (SSDP + SOAP), NAT-PMP (RFC 6886) and PCP (RFC 6887). Debian's miniupnpd
 * 2.3.1 uses its nftables backend; the packaged nft_init.sh sources an
 * iptables helper and does not work, so the lab loads the table and chains the
 * backend writes into itself (nat-rules.ts, miniupnpdSkeleton). miniupnpd has
 * one switch for NAT-PMP and PCP together (enable_natpmp); offering only one
 * of them is done by the lab ruleset dropping the other's requests.
 *
 * The daemon runs in debug mode (-d: foreground, logs to stderr) from a
 * per-lab config, pid file and lease file, started through a symlink named
 * pl-miniupnpd so it is recognisable in `ps`; the lab stops it by pid.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { run, spawnIn, waitForLine } from './exec.js';
import type { GatewayKind } from './spec.js';

export const UPNP_HTTP_PORT = 5000;

export interface GatewayConfig {
  ns: string;
  dir: string;
  lanNet4: string;
  kinds: GatewayKind[];
}

export function miniupnpdConfig(c: GatewayConfig): string {
  const upnp = c.kinds.includes('upnp');
  const pmp = c.kinds.includes('natpmp') || c.kinds.includes('pcp');
  return [
    'ext_ifname=wan',
    'listening_ip=lan',
    `http_port=${UPNP_HTTP_PORT}`,
    `enable_upnp=${upnp ? 'yes' : 'no'}`,
    `enable_natpmp=${pmp ? 'yes' : 'no'}`,
    'secure_mode=yes',
    'system_uptime=no',
    'ipv6_disable=yes',
    'notify_interval=60',
    'min_lifetime=30',
    'max_lifetime=86400',
    `uuid=${randomUUID()}`,
    `lease_file=${join(c.dir, 'leases')}`,
    'friendly_name=Postern lab router',
    `allow 1024-65535 ${c.lanNet4} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    '',
  ].join('\n');
}

export async function startMiniupnpd(c: GatewayConfig): Promise<ChildProcess> {
  const bin = (await run('sh', ['-c', 'command -v miniupnpd'])).stdout.trim() || '/usr/sbin/miniupnpd';
  mkdirSync(c.dir, { recursive: true });
  const conf = join(c.dir, 'miniupnpd.conf');
  writeFileSync(conf, miniupnpdConfig(c));
  const link = join(c.dir, 'pl-miniupnpd');
  try {
    symlinkSync(bin, link);
  } catch {
    // exists from an earlier start in the same lab
  }
  const child = spawnIn(c.ns, link, ['-d', '-f', conf, '-P', join(c.dir, 'miniupnpd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const want = c.kinds.includes('natpmp') || c.kinds.includes('pcp') ? /Listening for NAT-PMP\/PCP/ : /HTTP listening on port/;
  await waitForLine(child, (l) => want.test(l), {
    timeoutMs: 10_000,
    what: `miniupnpd in ${c.ns}`,
    streams: ['stdout', 'stderr'],
  });
  return child;
}
