/**
 * Address helpers: which addresses are private (tier `lan`) and which of this
 * machine's addresses a node offers as host candidates (seed 004: private first).
 */
import { networkInterfaces } from 'node:os';
import { isIPv4 } from 'node:net';

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
}

function inV4Range(ip: string, base: string, bits: number): boolean {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (v4ToInt(ip) & mask) === (v4ToInt(base) & mask);
}

/** RFC 1918, loopback, link-local, and IPv6 ULA / link-local / loopback. */
export function isPrivateIp(ip: string): boolean {
  if (isIPv4(ip)) {
    return inV4Range(ip, '10.0.0.0', 8) || inV4Range(ip, '172.16.0.0', 12) || inV4Range(ip, '192.168.0.0', 16)
      || inV4Range(ip, '127.0.0.0', 8) || inV4Range(ip, '169.254.0.0', 16);
  }
  const lower = ip.toLowerCase();
  return lower === '::1' || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80');
}

/** RFC 6598 shared address space, used between a carrier-grade NAT and its customers. */
export function isCgnatIp(ip: string): boolean {
  return isIPv4(ip) && inV4Range(ip, '100.64.0.0', 10);
}

export function isLoopbackIp(ip: string): boolean {
  return (isIPv4(ip) && inV4Range(ip, '127.0.0.0', 8)) || ip === '::1';
}

/** This machine's non-internal IPv4 addresses (what a peer on the same LAN can dial). */
export function localIPv4Addresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) {
      if (addr.family === 'IPv4' && !addr.internal) out.push(addr.address);
    }
  }
  return out;
}

export function formatHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
