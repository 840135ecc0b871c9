/**
 * The connection doctor and the port-forwarding wizard, as plain data: what
 * this computer's network allows (measured by NAT discovery, the port mapper
 * and the rendezvous's reachability check), and the plain words for every
 * ladder attempt. Assembled by main/engine/doctor (report.ts), shown by the
 * renderer (DoctorView, PortForwardWizard, LadderTable) and printed by
 * `postern doctor`. No runtime-specific imports.
 */
import { TIER_LABEL, type ConnectedTier, type TierAttempt } from './connection.js';
import type { FilteringBehaviour, MappingBehaviour, NatType, PortAllocation } from './nat.js';

// ---- reachability (the rendezvous dials back) --------------------------------

/** main/wire/signaling.ts ReachState: what the rendezvous saw when it dialed back. */
export type ReachState = 'reachable' | 'filtered' | 'no-answer' | 'closed';

export interface ReachProbe {
  port: number;
  state: ReachState;
  ms: number | null;
  /** The server's own words ("no answer within 3000 ms"). */
  detail: string;
  /** What it means, for people. */
  plain: string;
}

export interface ReachabilityResult {
  /** Epoch ms of the check. */
  at: number;
  /** The address the rendezvous dialed: ours as it observes it. */
  checkedIp: string | null;
  /** The server address the check came from. */
  from: string | null;
  tcp: ReachProbe | null;
  udp: ReachProbe | null;
  /** True when the TCP port is reachable from the internet (what `direct` needs). */
  ok: boolean;
  /** The check could not run (no rendezvous, rate limited, the server does not check): code and words. */
  error: { code: string; message: string } | null;
}

// ---- the router -------------------------------------------------------------

export type GatewayProtocol = 'pcp' | 'natpmp' | 'upnp';
export const GATEWAY_PROTOCOL_LABEL: Record<GatewayProtocol, string> = { pcp: 'PCP', natpmp: 'NAT-PMP', upnp: 'UPnP' };

export interface GatewayProtocolView {
  protocol: GatewayProtocol;
  label: string;
  /** The gateway speaks it (it may still refuse to map). */
  answered: boolean;
  /** "answered", "no gateway answered NAT-PMP in 750 ms", "answers, but refused: …". */
  plain: string;
  ms: number | null;
}

export interface RouterView {
  /** The router's LAN address (default gateway). */
  address: string | null;
  /** From UPnP's device description, when it answered. */
  manufacturer: string | null;
  model: string | null;
  friendlyName: string | null;
  /** The admin page: UPnP's presentationURL, else http://<gateway>/ (guessed). */
  adminUrl: string | null;
  adminUrlGuessed: boolean;
  /** The external address the router reports, and what kind it is. */
  externalIp: string | null;
  externalIpKind: 'public' | 'cgnat' | 'private' | null;
}

export interface MappingView {
  protocol: GatewayProtocol;
  proto: 'tcp' | 'udp';
  externalIp: string | null;
  externalPort: number;
  internalClient: string;
  internalPort: number;
  /** Granted lease in seconds; 0 = permanent (removed when Postern exits). */
  leaseSec: number;
  expiresAt: number | null;
  nextRenewalAt: number | null;
  lastRenewedAt: number;
  lastError: string | null;
}

// ---- the report ----------------------------------------------------------------

export type FindingLevel = 'ok' | 'info' | 'warn' | 'bad';
export interface Finding {
  level: FindingLevel;
  /** Stable key (tests, icons): `udp-blocked`, `cgnat`, `reachable`, … */
  key: string;
  text: string;
}

export interface ForwardingVerdict {
  /** Would forwarding a port on this router make this computer reachable? */
  helps: boolean;
  /** Why (plain words). */
  why: string;
  /** What can help instead (or as well). */
  alternatives: { kind: 'relay' | 'ipv6' | 'isp' | 'other-side'; text: string }[];
}

export interface DoctorReport {
  generatedAt: number;
  device: { name: string; shortId: string };
  rendezvous: { url: string | null; connected: boolean; embedded: boolean; observedIp: string | null };
  publicIpv4: string | null;
  publicIpv6: string | null;
  /** Did UDP get out (a STUN answer came back)? `unknown` until discovery ran. */
  udp: 'ok' | 'blocked' | 'unknown';
  nat: {
    natType: NatType; rfc: string; plain: string;
    mapping: MappingBehaviour; filtering: FilteringBehaviour; allocation: PortAllocation; portDelta: number | null;
    servers: string[]; rfc5780: boolean; ms: number;
  } | null;
  /** Why there is no NAT section yet. */
  natNote: string | null;
  cgnat: { detected: boolean; reason: string | null };
  doubleNat: { detected: boolean; reason: string | null };
  gateway: {
    /** Whether the router was asked (PCP, NAT-PMP, UPnP): the port mapper ran. */
    asked: boolean;
    note: string;
    /** This computer's address toward the router. */
    lanAddress: string | null;
    router: RouterView;
    protocols: GatewayProtocolView[];
    /** The port mapper's status (`mapped`, `failed`, `unavailable`, `probing`, …) or `off`. */
    status: string;
  };
  mappings: MappingView[];
  listening: { tcpPort: number; udpPort: number | null; fixed: boolean };
  reachability: ReachabilityResult | null;
  forwarding: ForwardingVerdict;
  /** The headline and the list, worst first. */
  summary: string;
  findings: Finding[];
}

/** What the port-forwarding wizard needs, measured. */
export interface WizardFacts {
  lanAddress: string | null;
  gateway: string | null;
  router: RouterView;
  publicIp: string | null;
  /** Forward this: external = internal, TCP (and UDP on `udpPort`). */
  tcpPort: number;
  udpPort: number | null;
  /** The port is set in Settings (a random one changes at every start and cannot be forwarded). */
  fixedPort: boolean;
  /** What to offer when it is not fixed: the port in use now. */
  suggestedPort: number;
  forwarding: ForwardingVerdict;
  /** The last reachability check. */
  reachability: ReachabilityResult | null;
  /** Port mappings the router made by itself (UPnP/NAT-PMP/PCP): then no manual rule is needed. */
  mappedByRouter: boolean;
}

// ---- plain words --------------------------------------------------------------

/** "AVM FRITZ!Box 7590", "MiniUPnPd 2.3.1" (the maker once), or null when UPnP did not say. */
export function routerName(r: Pick<RouterView, 'manufacturer' | 'model'>): string | null {
  const make = r.manufacturer?.trim() ?? '';
  const model = r.model?.trim() ?? '';
  if (!make && !model) return null;
  if (!model) return make;
  if (!make || model.toLowerCase().startsWith(make.toLowerCase())) return model;
  return `${make} ${model}`;
}

const cap = (s: string) => (s ? s[0]?.toUpperCase() + s.slice(1) : s);
const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`);
const withStop = (s: string) => (/[.!?)]$/.test(s) ? s : `${s}.`);

/** The state of a dial-back in one word: open, closed, blocked, no answer. */
export function reachStateLabel(state: ReachState): string {
  return state === 'reachable' ? 'open' : state === 'filtered' ? 'blocked' : state === 'no-answer' ? 'no answer' : 'closed';
}

/** What the rendezvous's dial-back result means, for people (after its one-word label). */
export function reachWords(proto: 'tcp' | 'udp', state: ReachState, ip: string | null, port: number): string {
  const at = ip ? `${ip.includes(':') ? `[${ip}]` : ip}:${port}` : `port ${port}`;
  if (state === 'reachable') {
    return proto === 'tcp'
      ? `the rendezvous connected to ${at} from outside.`
      : `the rendezvous's UDP probe to ${at} was answered.`;
  }
  if (state === 'closed') {
    return proto === 'tcp'
      ? `something at ${at} answered "nothing listens here": the router forwards the port, but not to this computer (check the internal address), or Postern is not listening on it.`
      : `${at} answered "port unreachable": the router forwards UDP, but not to this computer.`;
  }
  if (state === 'filtered') return `nothing answered at ${at}: the router (or a firewall) drops connections from outside, so no port is forwarded.`;
  return proto === 'udp'
    ? `nothing answered at ${at} over UDP: the router drops unsolicited UDP (no UDP forward), or UDP is blocked on this network.`
    : `nothing answered at ${at}.`;
}

/** Words for one ladder attempt (result and reason), from the engine's reason text. */
export function explainAttempt(a: Pick<TierAttempt, 'tier' | 'state' | 'reason'> & { target?: string }, peerName = 'the other device'): string {
  const peer = peerName;
  const Peer = cap(peerName);
  const r = a.reason ?? '';
  const tier = a.tier;
  const mapped = tier === 'upnp' || tier === 'natpmp' || tier === 'pcp';
  if (a.state === 'trying') {
    const trying: Record<ConnectedTier, string> = {
      lan: `Trying ${peer}'s addresses on the local network…`,
      direct: `Dialing ${peer}'s public address…`,
      upnp: `Dialing the port ${peer}'s router opened by UPnP…`,
      natpmp: `Dialing the port ${peer}'s router opened by NAT-PMP…`,
      pcp: `Dialing the port ${peer}'s router opened by PCP…`,
      reverse: `Asking ${peer}, through the rendezvous, to connect back to this computer…`,
      'udp-punch': 'Punching a UDP hole through both routers…',
      'tcp-punch': 'Trying a simultaneous TCP open through both routers…',
      'peer-relay': 'Asking one of your devices to relay…',
      'server-relay': 'Asking the rendezvous server to relay…',
    };
    return trying[tier];
  }
  if (a.state === 'ok') {
    const up = /^upgraded from (\S+?)(?::|$)/.exec(r);
    const to = a.target ?? /connected to (.+)$/.exec(r)?.[1];
    const where = to ? ` (${to})` : '';
    if (up) return `Upgraded from ${TIER_LABEL[up[1] as ConnectedTier] ?? up[1]}: now connected without a relay${where}.`;
    if (tier === 'lan') return `Connected over the local network${where}.`;
    if (tier === 'direct') return `Connected straight to ${peer}'s public address${where}.`;
    if (mapped) return `Connected through the port ${peer}'s router opened${where}.`;
    if (tier === 'reverse') return `${Peer} connected back to this computer.`;
    if (tier === 'udp-punch') return `Hole punched: a UDP path through both routers${where}.`;
    if (tier === 'tcp-punch') return `Hole punched: a TCP path through both routers${where}.`;
    if (tier === 'server-relay') return `Relayed through the rendezvous server${where}. Postern keeps trying to upgrade to a direct path.`;
    return `Connected${where}.`;
  }
  if (a.state === 'skipped') {
    if (r === 'disabled by setting') return 'Turned off in Settings (debug).';
    let m = /^stopped: (\S+) connected first/.exec(r);
    if (m) return `Not needed: ${TIER_LABEL[m[1] as ConnectedTier] ?? m[1]} connected first.`;
    if (/^stopped: duplicate/.test(r)) return 'Not needed: already connected this way.';
    if (/reported no private address/.test(r)) return `${Peer} has no address on a local network.`;
    if (/other device is not listening/.test(r)) return `${Peer} does not accept incoming connections.`;
    if (/has no public address/.test(r)) return `${Peer} has no public address: it is behind a router (NAT) and no port is forwarded to it.`;
    if (/not connected to a rendezvous server/.test(r)) return 'Not connected to the rendezvous server, which this needs.';
    if (/this device is not listening/.test(r)) return 'This computer does not accept incoming connections.';
    if (/UDP does not get out/.test(r)) return 'UDP is blocked on this network: the STUN server never answered over UDP.';
    if (/no UDP socket/.test(r)) return 'UDP is off on this computer.';
    m = /has no (UPnP|NAT-PMP|PCP) port mapping/.exec(r);
    if (m) return `${Peer}'s router did not open a port by ${m[1]}.`;
    if (/open through its gateway's port mapping/.test(r)) return `${Peer}'s public address is the port its router opened: tried as that tier instead.`;
    if (/none of your devices that relay is connected/.test(r)) return 'None of your devices that can relay is online.';
    if (/no TURN server configured/.test(r)) return 'No TURN server is configured.';
    return withStop(cap(r));
  }
  // failed
  if (/both routers pick a new random port/.test(r)) {
    return 'Both routers pick a new port for every destination, so a hole punch cannot meet. Only a relay or a forwarded port gets through.';
  }
  let m = /did not dial back within (\d+) s/.exec(r);
  if (m) return `${Peer} did not connect back within ${m[1]} s: it cannot reach this computer either (nothing is forwarded here).`;
  if (/it could not reach us/.test(r)) return `${Peer} tried to connect back but could not reach this computer: this computer's router lets nothing in from outside (no port forwarded here).`;
  if (/requester is not listening/.test(r)) return 'This computer does not accept incoming connections, so it cannot be dialed back.';
  if (r === 'cancelled') return 'Stopped.';
  if (/UDP does not get out/.test(r)) return 'UDP is blocked on this network: the STUN server never answered over UDP.';
  if (/UDP punching is off/.test(r)) return `UDP hole punching is off on ${peer}.`;
  if (/TCP punching is off/.test(r)) return `TCP hole punching is off on ${peer}.`;
  m = /no packet got through either router within ([\d.]+) s/.exec(r);
  if (m) return `No packet got through either router within ${m[1]} s.`;
  m = /heard the other device but our packets did not reach it within ([\d.]+) s/.exec(r);
  if (m) return `${Peer}'s packets arrived, but its router dropped ours (${m[1]} s).`;
  m = /none of (\d+) mappings was found by the other side within ([\d.]+) s/.exec(r);
  if (m) return `Birthday probing: ${peer} found none of ${m[1]} open ports within ${m[2]} s.`;
  m = /did not answer through the rendezvous within ([\d.]+) s/.exec(r);
  if (m) return `${Peer} did not answer through the rendezvous within ${m[1]} s.`;
  m = /no simultaneous open after (\d+) rounds/.exec(r);
  if (m) return `No simultaneous TCP open after ${m[1]} tries: routers that pick a new port for every destination defeat it.`;
  if (/our TCP mapping/.test(r)) return "Could not learn this computer's public TCP port from the rendezvous.";
  if (/does not relay/.test(r)) return 'The rendezvous server does not relay (it runs without --relay), so there is no relay to fall back on.';
  if (/refused the circuit/.test(r)) return 'The relay refused the connection.';
  if (/could not reach the relay:/.test(r)) return 'Could not reach the relay server.';
  if (/only devices that are paired/.test(r)) return 'The relay connects only devices that are paired with each other.';
  if (/could not reach the relaying device/.test(r)) return 'Could not reach your device that relays.';
  if (/relaying device did not answer/.test(r)) return 'Your device that relays did not answer.';
  if (/not paired with you/.test(r)) return `${Peer} does not know this computer (not paired).`;
  if (/no UDP address to punch to/.test(r)) return `${Peer} has no UDP address to punch to.`;
  if (/lost the rendezvous connection/.test(r)) return 'Lost the rendezvous connection before asking.';
  if (/cannot punch/.test(r)) return `${Peer} cannot take part in a hole punch.`;
  // Dial results (lan, direct, mapped): "ip:port did not answer within N ms (…)", "ip:port refused (…)", "ip:port unreachable from here".
  const timeout = /did not answer within (\d+) ms/.exec(r);
  const refused = /refused \(/.test(r);
  const unreachable = /unreachable from here/.test(r);
  if (tier === 'lan' && (timeout || unreachable || refused)) {
    return timeout
      ? `Not on the same network: ${peer}'s local address did not answer within ${seconds(Number(timeout[1]))}.`
      : `Not on the same network: ${peer}'s local address ${unreachable ? 'cannot be reached from here' : 'refused the connection'}.`;
  }
  if ((tier === 'direct' || mapped) && timeout) {
    return mapped
      ? `No answer within ${seconds(Number(timeout[1]))} on the port ${peer}'s router opened: the mapping does not reach it.`
      : `No answer within ${seconds(Number(timeout[1]))} at ${peer}'s public address: its router lets nothing in (no port forwarded).`;
  }
  if ((tier === 'direct' || mapped) && refused) return `${Peer}'s public address refused the connection: nothing is forwarded on that port, or a firewall rejects it.`;
  if ((tier === 'direct' || mapped) && unreachable) return `${Peer}'s public address cannot be reached from here.`;
  return withStop(cap(r));
}

/** One row of the ladder on screen: a tier's latest state, in the order the ladder tried them. */
export interface LadderRow {
  tier: ConnectedTier;
  state: TierAttempt['state'];
  /** Engine's reason, as reported. */
  reason: string;
  /** Plain words. */
  words: string;
  target: string | null;
  /** When the tier started (ms after the ladder began) and how long it took to its result (null while trying or when skipped). */
  startMs: number;
  tookMs: number | null;
  /** This row is the tier the connection runs on now. */
  inUse: boolean;
  /** Worked, but another tier took over (an upgrade from a relay). */
  replaced: boolean;
  /** This row's result was an upgrade from a relay. */
  upgrade: boolean;
}

/** Rows of one ladder run (the attempts of one ladderId, in order of first appearance). */
export function ladderRows(attempts: readonly TierAttempt[], tierInUse: string | null, peerName?: string): LadderRow[] {
  const rows = new Map<ConnectedTier, LadderRow>();
  let upgraded = false;
  for (const a of attempts) {
    const prev = rows.get(a.tier);
    // Two strategies can share a tier (the rendezvous relay and TURN are both `server-relay`):
    // a later one that does not apply must not hide what the earlier one did.
    if (prev && (prev.state === 'failed' || prev.state === 'ok') && a.state === 'skipped' && !a.reason.startsWith('stopped:')) continue;
    if (prev?.state === 'failed' && a.state === 'failed') {
      rows.set(a.tier, { ...prev, reason: `${prev.reason}; ${a.reason}`, words: `${prev.words} ${explainAttempt(a, peerName)}`, tookMs: Math.max(0, a.ms - prev.startMs) });
      continue;
    }
    const startMs = a.state === 'trying' || !prev ? a.ms : prev.startMs;
    const upgrade = a.state === 'ok' && /^upgraded from /.test(a.reason);
    if (upgrade) upgraded = true;
    rows.set(a.tier, {
      tier: a.tier, state: a.state, reason: a.reason, words: explainAttempt(a, peerName), target: a.target ?? prev?.target ?? null,
      startMs, tookMs: a.state === 'trying' || (a.state === 'skipped' && !prev) ? null : Math.max(0, a.ms - startMs),
      inUse: false, replaced: false, upgrade,
    });
  }
  const list = [...rows.values()];
  for (const row of list) {
    row.inUse = row.state === 'ok' && row.tier === tierInUse;
    row.replaced = row.state === 'ok' && !row.inUse && (upgraded || (tierInUse !== null && tierInUse !== 'failed'));
  }
  return list;
}

/** The ladder's failure in one sentence (ConnectionInfo.error). */
export function explainFailure(error: { code: string; message: string } | null, peerName = 'the other device'): string {
  if (!error) return `Every way to reach ${peerName} failed.`;
  if (error.code === 'DOUBLE_RANDOM') return `Both routers pick a new port for every destination, so no hole punch can meet, and there is no relay. Forwarding a port on either router lets ${peerName} connect directly.`;
  if (error.code === 'ALL_TIERS_FAILED') return `Every way to reach ${peerName} failed: see each step below.`;
  if (error.code === 'PEER_OFFLINE') return error.message;
  return error.message;
}
