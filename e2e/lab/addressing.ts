/**
 * The lab's address plan and namespace names. Every address here exists only
 * inside the lab's own network namespaces, which have no link to this
 * machine's network. The "public" ranges are ordinary-looking unicast space on
 * purpose: miniupnpd refuses documentation ranges (RFC 5737) as a WAN address,
 * and applications treat documentation/private ranges specially. 192.0.2.0/24
 * is never used (it is this machine's uplink).
 *
 *   server            85.10.0.10 and 85.10.0.20 (two addresses for RFC 5780),
 *                     2a01:4f8:10::10 and ::20; the internet router is .1 / ::1
 *   site i WAN link   80.16.i.0/24 (internet .1, site's outer router .2),
 *                     2a02:1800:i::/64 (::1, ::2)
 *   cgnat inner link  100.64.i.0/24 (CGN .1, home router .2; RFC 6598 space),
 *                     2a02:1820:i::/64
 *   site i LAN        NAT sites 192.168.i.0/24, public sites 90.16.i.0/24;
 *                     router .1, hosts .101, .102, …; IPv6 2a02:1810:i::/64
 */

export const PREFIX = 'pl-';

export const SERVER4 = ['85.10.0.10', '85.10.0.20'] as const;
export const SERVER6 = ['2a01:4f8:10::10', '2a01:4f8:10::20'] as const;
export const SERVER_GW4 = '85.10.0.1';
export const SERVER_GW6 = '2a01:4f8:10::1';

export interface SiteAddresses {
  /** Internet router's address on the site's WAN link. */
  inet4: string;
  inet6: string;
  /** The outer router's WAN address: the site's public address (the CGN's, with cgnat). */
  public4: string;
  public6: string;
  cgnInside4: string;
  homeWan4: string;
  cgnInside6: string;
  homeWan6: string;
  /** LAN side. */
  lanNet4: string;
  gateway4: string;
  lanNet6: string;
  gateway6: string;
  host4: (n: number) => string;
  host6: (n: number) => string;
}

/** RFC 5952 text form (what the kernel and Node print), so addresses compare as strings. */
export function canonical6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

export function siteAddresses(index: number, publicLan: boolean): SiteAddresses {
  if (!Number.isInteger(index) || index < 0 || index > 250) throw new Error(`site index ${index} out of range`);
  const i = index;
  const x = index.toString(16);
  const lan = publicLan ? `90.16.${i}` : `192.168.${i}`;
  return {
    inet4: `80.16.${i}.1`,
    inet6: canonical6(`2a02:1800:${x}::1`),
    public4: `80.16.${i}.2`,
    public6: canonical6(`2a02:1800:${x}::2`),
    cgnInside4: `100.64.${i}.1`,
    homeWan4: `100.64.${i}.2`,
    cgnInside6: canonical6(`2a02:1820:${x}::1`),
    homeWan6: canonical6(`2a02:1820:${x}::2`),
    lanNet4: `${lan}.0/24`,
    gateway4: `${lan}.1`,
    lanNet6: `${canonical6(`2a02:1810:${x}::`)}/64`,
    gateway6: canonical6(`2a02:1810:${x}::1`),
    host4: (n) => `${lan}.${100 + n}`,
    host6: (n) => canonical6(`2a02:1810:${x}::${(0x100 + n).toString(16)}`),
  };
}

/** Host names: `a1`, `a2` for site `a`; `x1-1` for a site whose name ends in a digit. */
export function hostName(site: string, n: number): string {
  return /[0-9]$/.test(site) ? `${site}-${n}` : `${site}${n}`;
}

/** Namespace names carry the prefix and the lab's id, so concurrent labs never collide. */
export const ns = {
  inet: (id: string) => `${PREFIX}${id}-inet`,
  server: (id: string) => `${PREFIX}${id}-server`,
  router: (id: string, site: string) => `${PREFIX}${id}-r-${site}`,
  cgn: (id: string, site: string) => `${PREFIX}${id}-cgn-${site}`,
  host: (id: string, host: string) => `${PREFIX}${id}-h-${host}`,
};

/** The lab id inside a namespace name made by `ns`, or undefined for anything else. */
export function labIdOf(namespace: string): string | undefined {
  const m = /^pl-([0-9a-f]{4})-/.exec(namespace);
  return m?.[1];
}
