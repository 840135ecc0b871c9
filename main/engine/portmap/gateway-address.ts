/**
 * Where the gateway is: the default route's next hop (Linux: /proc/net/route;
 * macOS/BSD: `route -n get default`; Windows: `route print -4 0.0.0.0`), and
 * this machine's address toward it (the source address the kernel picks for a
 * UDP socket connected to it; nothing is sent). NAT-PMP and PCP talk to that
 * gateway; UPnP's NewInternalClient and PCP's client address are that address.
 */
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';

/** Parse /proc/net/route: the IPv4 default route with the lowest metric, or null. */
export function parseProcNetRoute(text: string): { iface: string; gateway: string } | null {
  let best: { iface: string; gateway: string; metric: number } | null = null;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface = '', dest = '', gw = '', flags = '', , , metric = '0', mask = ''] = f;
    if (dest !== '00000000' || mask !== '00000000' || !/^[0-9A-Fa-f]{8}$/.test(gw)) continue;
    if ((parseInt(flags, 16) & 0x3) !== 0x3) continue; // RTF_UP | RTF_GATEWAY
    const n = parseInt(gw, 16);
    const ip = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.'); // little-endian
    const m = Number(metric) || 0;
    if (!best || m < best.metric) best = { iface, gateway: ip, metric: m };
  }
  return best ? { iface: best.iface, gateway: best.gateway } : null;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 2000, windowsHide: true }, (err, stdout) => resolve(err ? '' : String(stdout)));
  });
}

/** The default gateway's IPv4 address, or null when there is no default route (or it cannot be read). */
export async function defaultGateway(platform: NodeJS.Platform = process.platform): Promise<string | null> {
  if (platform === 'linux' || platform === 'android') {
    try {
      return parseProcNetRoute(await readFile('/proc/net/route', 'utf8'))?.gateway ?? null;
    } catch {
      return null;
    }
  }
  if (platform === 'win32') {
    const out = await run('route', ['print', '-4', '0.0.0.0']);
    const m = /^\s*0\.0\.0\.0\s+0\.0\.0\.0\s+(\d+\.\d+\.\d+\.\d+)/m.exec(out);
    return m?.[1] && isIPv4(m[1]) ? m[1] : null;
  }
  const out = await run('route', ['-n', 'get', 'default']);
  const m = /gateway:\s*(\d+\.\d+\.\d+\.\d+)/.exec(out);
  return m?.[1] && isIPv4(m[1]) ? m[1] : null;
}

/** This machine's address toward `gateway` (no packet is sent), or null. */
export function localAddressToward(gateway: string, port = 5351): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createSocket(isIPv4(gateway) ? 'udp4' : 'udp6');
    s.on('error', () => { s.close(); resolve(null); });
    s.connect(port, gateway, () => {
      let addr: string | null = null;
      try {
        addr = s.address().address;
      } catch {
        addr = null;
      }
      s.close();
      resolve(addr);
    });
  });
}
