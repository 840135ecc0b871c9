/**
 * What NAT discovery learned about this device's network, as plain serializable
 * data: for the ladder (which punching strategy, port prediction, birthday
 * probing), the UI and `postern doctor`. Vocabulary from RFC 4787 (NAT
 * behavioural requirements for UDP: mapping and filtering behaviour) and the
 * tests of RFC 5780 (NAT behaviour discovery using STUN). Produced by
 * main/engine/nat/discovery.ts.
 */

/** RFC 4787 section 4.1: how the NAT picks the external endpoint for new destinations. */
export type MappingBehaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';

/** RFC 4787 section 5: which outside endpoints may send in through a mapping. */
export type FilteringBehaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';

/** How new external ports are chosen: the local port kept, +delta per new mapping, or no pattern. */
export type PortAllocation = 'preserving' | 'sequential' | 'random' | 'unknown';

/**
 * The classic names, as the lab and most people use them:
 * - open: no NAT, no filtering (a public address, or a port that is forwarded)
 * - firewalled: no NAT, but unsolicited packets are dropped (IPv4 public address behind a stateful firewall)
 * - full-cone / restricted-cone / port-restricted: EIM with EIF / ADF / APDF
 * - symmetric: a new, unpredictable external port per destination
 * - symmetric-sequential: a new port per destination, predictable (+portDelta)
 * - udp-blocked: no UDP answer at all
 * - unknown: the server could not run the tests (no RFC 5780 support, answers lost)
 */
export type NatType =
  | 'open' | 'firewalled' | 'full-cone' | 'restricted-cone' | 'port-restricted'
  | 'symmetric' | 'symmetric-sequential' | 'udp-blocked' | 'unknown';

export interface NatEndpoint {
  ip: string;
  port: number;
}

export interface Ipv6Facts {
  /** The global IPv6 address this host used. */
  localIp: string;
  /** What the STUN server saw, or null when nothing came back. */
  publicIp: string | null;
  udp: 'ok' | 'blocked';
  /** The server saw another address than ours (NPTv6/NAT66): rare, and bad for direct connections. */
  translated: boolean;
}

export interface NatDiscovery {
  /** Did any STUN answer come back over UDP? */
  udp: 'ok' | 'blocked';
  /** The public (server-reflexive) endpoint of the socket discovery ran on; null when UDP is blocked. */
  publicIp: string | null;
  publicPort: number | null;
  /** The local endpoint that mapping belongs to (the node's one UDP socket). */
  local: NatEndpoint | null;
  /** True when the public endpoint is the local one (no NAT on the path). */
  natted: boolean | null;
  mapping: MappingBehaviour;
  filtering: FilteringBehaviour;
  allocation: PortAllocation;
  /** With sequential allocation: the step between consecutive new mappings. */
  portDelta?: number;
  /** External ports the probe socket got for successive new destinations, in send order (for port prediction). */
  probePorts: number[];
  /** Behind a carrier-grade NAT (RFC 6598 address seen, or the gateway's external address differs from the public one). */
  cgnat: boolean;
  /** Why cgnat is true, in plain words; null when it is false. */
  cgnatReason: string | null;
  /** The gateway's external address as the port mapper reported it (UPnP/NAT-PMP/PCP), when it was given. */
  gatewayExternalIp: string | null;
  /** IPv6 over UDP, or null when not tested (no IPv6 STUN server, or no global IPv6 address here). */
  ipv6: Ipv6Facts | null;
  natType: NatType;
  /** The behaviour in RFC 4787 terms ("endpoint-independent mapping, address-dependent filtering (RFC 4787)"). */
  rfc: string;
  /** One or two sentences in plain words for people. */
  plain: string;
  /** The STUN server(s) used, `ip:port`. */
  servers: string[];
  /** Whether the server could run the RFC 5780 tests (OTHER-ADDRESS and CHANGE-REQUEST). */
  rfc5780: boolean;
  /** How long discovery took. */
  ms: number;
}

/** True when a peer can expect to reach this device by a plain hole punch (not symmetric-random). */
export function punchFriendly(nat: Pick<NatDiscovery, 'natType'>): boolean {
  return ['open', 'firewalled', 'full-cone', 'restricted-cone', 'port-restricted', 'symmetric-sequential'].includes(nat.natType);
}
