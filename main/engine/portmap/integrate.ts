/**
 * How PosternNode uses the port mapper (the calls, in order; node.ts does this):
 *
 *   // start(), once the TCP listener (and the UDP socket) are bound:
 *   this.portMapper = createNodePortMapper({ dataDir, peerId, tcpPort: this.listenPort, udpPort: this.udp?.port, log, options });
 *   this.portMapper?.on('change', (s) => { emit('portmap', s); rendezvous.update(name, endpoint()) });
 *   const mapping = this.portMapper?.start();            // probes PCP, NAT-PMP, UPnP in parallel
 *   await rendezvous.start(); await settleWithin(mapping, 2500);
 *   if (udp) answerReachProbes(udp);                      // the rendezvous's UDP reachability probe
 *   // endpoint(): candidates.push(...mappedEndpointCandidates(portMapper.state, rendezvous.observed?.ip).candidates)
 *   // on 'registered' (observed address known or changed): rendezvous.update(name, endpoint())
 *   // climb(): runLadder(ctx, withMappedTiers(tiers), …)   (main/engine/ladder/mapped-tier.ts)
 *   // stop(): await portMapper.stop()                   (removes the mappings)
 *
 * A mapping is advertised only when it makes this device reachable: the
 * gateway's external address must be public, and equal to the address the
 * rendezvous observes when that one is public. Otherwise it is a double NAT
 * (the gateway's WAN is private or 100.64/10 CGNAT space, or another NAT in
 * front rewrites it) and the verdict says so.
 */
import type { Candidate } from '../../wire/signaling.js';
import { reachProbeAnswer } from '../../wire/signaling.js';
import { shortId } from '../identity/peer-id.js';
import { isLoopbackIp, isPrivateIp } from '../net/addresses.js';
import type { UdpSocket } from '../net/udp-socket.js';
import { addressKind } from './probe.js';
import { PortMapper, type PortMapperOptions, type PortMapState, type PortRequest } from './port-mapper.js';

/** What we call our mappings on the gateway: `Postern ABCD-EFGH`. */
export function mappingDescription(peerId: string): string {
  return `Postern ${shortId(peerId)}`;
}

export type NodePortMapping = boolean | Partial<Omit<PortMapperOptions, 'ports' | 'description' | 'dataDir'>>;

/**
 * Whether to map ports: on unless turned off (option false, or POSTERN_PORTMAP=0),
 * and off when the rendezvous is on loopback (a node on its own machine,
 * tests: no gateway to ask, nobody outside to reach us).
 */
export function portMappingWanted(option: NodePortMapping | undefined, rendezvousHost: string): boolean {
  if (option === false || process.env.POSTERN_PORTMAP === '0') return false;
  if (option === undefined && (isLoopbackIp(rendezvousHost) || rendezvousHost === 'localhost')) return false;
  return true;
}

export function createNodePortMapper(o: {
  dataDir: string; peerId: string; tcpPort: number; udpPort?: number | null; rendezvousHost: string;
  option?: NodePortMapping; log?: (line: string) => void;
}): PortMapper | null {
  if (!o.tcpPort || !portMappingWanted(o.option, o.rendezvousHost)) return null;
  const ports: PortRequest[] = [{ proto: 'tcp', internalPort: o.tcpPort }];
  if (o.udpPort) ports.push({ proto: 'udp', internalPort: o.udpPort });
  return new PortMapper({
    ...(typeof o.option === 'object' ? o.option : {}),
    ports, description: mappingDescription(o.peerId), dataDir: o.dataDir, ...(o.log ? { log: o.log } : {}),
  });
}

export type MappingVerdict =
  | { advertised: true; reason: string }
  | { advertised: false; reason: string; doubleNat: boolean };

/**
 * The candidates to advertise for the mapper's current mappings, and why (or
 * why not). `observedIp` is the address the rendezvous sees for us (null when
 * not registered yet).
 */
export function mappedEndpointCandidates(state: PortMapState | null, observedIp: string | null | undefined): { candidates: Candidate[]; verdict: MappingVerdict } {
  const mappings = state?.mappings ?? [];
  if (!mappings.length) return { candidates: [], verdict: { advertised: false, reason: state?.status === 'unavailable' ? 'the gateway does not offer port mapping' : 'no port mapping', doubleNat: false } };
  const ext = mappings[0]?.externalIp ?? state?.externalIp ?? null;
  if (!ext) return { candidates: [], verdict: { advertised: false, reason: 'the gateway did not say its external address', doubleNat: false } };
  const kind = addressKind(ext);
  if (kind !== 'public') {
    return { candidates: [], verdict: { advertised: false, doubleNat: true, reason: `double NAT: the gateway's external address ${ext} is ${kind === 'cgnat' ? 'carrier-grade NAT space (100.64.0.0/10)' : 'a private address'}, so its port mapping does not reach the internet` } };
  }
  if (observedIp && !isPrivateIp(observedIp) && !isLoopbackIp(observedIp) && observedIp !== ext) {
    return { candidates: [], verdict: { advertised: false, doubleNat: true, reason: `double NAT: the gateway says its external address is ${ext}, but the rendezvous sees us at ${observedIp}` } };
  }
  const candidates: Candidate[] = mappings
    .filter((m) => m.externalIp === ext || m.externalIp === null)
    .map((m) => ({ kind: 'mapped', proto: m.proto, ip: ext, port: m.externalPort, via: m.protocol }));
  return { candidates, verdict: { advertised: true, reason: `mapped by ${mappings[0]?.protocol} on ${ext}` } };
}

/** Let the node's UDP socket answer the rendezvous's reachability probe (same size back: no amplification). */
export function answerReachProbes(udp: UdpSocket): () => void {
  return udp.handle((data) => reachProbeAnswer(data) !== null, (d) => {
    const answer = reachProbeAnswer(d.data);
    if (answer) void udp.send(answer, d.port, d.host);
  });
}

/** Wait for `p` at most `ms` (the node does not hold up its start for a slow gateway). */
export function settleWithin(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    p.then(() => { clearTimeout(t); resolve(); }, () => { clearTimeout(t); resolve(); });
  });
}
