/**
 * The doctor's inputs from a running PosternNode: what NAT discovery found, the
 * port mapper's state (router facts, probes, mappings with their leases), the
 * rendezvous's view of us, the listening ports, and the reachability check
 * (the rendezvous dials our TCP port and probes our UDP port at the address it
 * observes). Nothing here probes the router: when the node's port mapper is off
 * (POSTERN_PORTMAP=0, a loopback rendezvous), the gateway's address is read from
 * the routing table and this computer's address toward it from the kernel
 * (a connected UDP socket; no packet is sent).
 */
import type { PosternNode } from '../node.js';
import type { ReachabilityResult } from '../../../shared/domain/doctor.js';
import { defaultGateway, localAddressToward } from '../portmap/gateway-address.js';
import { isLoopbackIp, localIPv4Addresses } from '../net/addresses.js';
import { errorCode, errorMessage } from '../errors.js';
import { reachabilityError, reachabilityFromResult, type DoctorInputs } from './report.js';

/** Why the node does not ask the router, in words (null when it does). */
export function portMappingOffReason(node: PosternNode): string | null {
  if (node.portMapper) return null;
  if (process.env.POSTERN_PORTMAP === '0') return 'port mapping is turned off (POSTERN_PORTMAP=0)';
  if (node.opts.portMapping === false) return 'port mapping is turned off';
  const url = node.rendezvous?.url;
  const host = url ? new URL(url).hostname.replace(/^\[|\]$/g, '') : '';
  if (isLoopbackIp(host) || host === 'localhost') return 'the rendezvous runs on this computer (loopback), so there is no router between them to ask';
  return 'port mapping is off';
}

export async function collectInputs(node: PosternNode, o: { fixedPort: boolean; reachability: ReachabilityResult | null; now?: number }): Promise<DoctorInputs> {
  const pm = node.portMapper?.state ?? null;
  let gatewayAddress: string | null = null;
  let lanAddress: string | null = null;
  if (!pm?.gateway) {
    gatewayAddress = await defaultGateway().catch(() => null);
    lanAddress = gatewayAddress ? await localAddressToward(gatewayAddress).catch(() => null) : null;
  }
  lanAddress ??= localIPv4Addresses()[0] ?? null;
  const rv = node.rendezvous;
  const udpPort = node.udp?.port ?? null;
  const tcpPort = node.listenPort;
  const reach = o.reachability && o.reachability.tcp && o.reachability.tcp.port !== tcpPort ? null : o.reachability; // a check of an earlier port says nothing now
  return {
    now: o.now ?? Date.now(),
    device: { name: node.name, shortId: node.identity?.shortId ?? '' },
    rendezvous: { url: rv?.url ?? null, connected: !!rv?.registered, embedded: !!node.embeddedRendezvous, observedIp: rv?.observed?.ip ?? null },
    nat: node.nat,
    natNote: node.nat ? null : !node.udp ? 'UDP is off on this computer, so NAT discovery does not run.' : rv?.stunServers.length === 0 && rv.registered ? 'The rendezvous offers no STUN server, so NAT discovery cannot run.' : 'NAT discovery has not finished yet (it takes up to 3 s after start).',
    portmap: pm,
    routerNote: portMappingOffReason(node),
    gatewayAddress,
    lanAddress,
    listening: { tcpPort, udpPort, fixed: o.fixedPort },
    reachability: reach,
  };
}

/** Ask the rendezvous to dial this node back on its TCP listening port and probe its UDP port. */
export async function checkNodeReachability(node: PosternNode, now: () => number = Date.now): Promise<ReachabilityResult> {
  const rv = node.rendezvous;
  if (!rv?.registered) return reachabilityError('RENDEZVOUS_DISCONNECTED', 'not connected to the rendezvous server', now());
  const ports = { tcpPort: node.listenPort || null, udpPort: node.udp?.port ?? null };
  try {
    const raw = await rv.checkReachability({ ...(ports.tcpPort ? { tcpPort: ports.tcpPort } : {}), ...(ports.udpPort ? { udpPort: ports.udpPort } : {}) }, 15_000);
    return reachabilityFromResult(raw, ports, now());
  } catch (err) {
    return reachabilityError(errorCode(err, 'REACH_FAILED'), errorMessage(err), now());
  }
}
