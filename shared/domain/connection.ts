/**
 * The connection ladder's vocabulary, shared by the engine, the IPC contract, the
 * UI and the CLI's JSON. Each connection ends on exactly one tier; every attempt on
 * the way is reported with its result and reason (MISSION.md, "The connection ladder").
 */
export const TIERS = [
  'lan', 'direct', 'upnp', 'natpmp', 'pcp', 'reverse',
  'udp-punch', 'tcp-punch', 'peer-relay', 'server-relay', 'failed',
] as const;
export type Tier = (typeof TIERS)[number];
/** Tiers that a transport can end on (everything but `failed`). */
export type ConnectedTier = Exclude<Tier, 'failed'>;

export type AttemptState = 'trying' | 'ok' | 'failed' | 'skipped';

export interface TierAttempt {
  /** Which connection attempt (ladder run) this belongs to. */
  ladderId: string;
  tier: ConnectedTier;
  state: AttemptState;
  /** Plain words: why it failed or was skipped, or what worked. */
  reason: string;
  /** Address tried, when there is one (`192.168.1.7:41000`). */
  target?: string;
  startedAt: number;
  /** Time from the ladder's start to this result. */
  ms: number;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'failed';

export interface ConnectionInfo {
  peerId: string;
  state: ConnectionState;
  tier: Tier | null;
  attempts: TierAttempt[];
  rttMs: number | null;
  connectedAt: number | null;
  /** Set when state is `failed`: the summary of why. */
  error: { code: string; message: string } | null;
  /** Set while the connection runs through a relay: why, its limits, what it carried. */
  relay?: RelayState | null;
}

export interface RelayState {
  /** Why the connection is relayed, in plain words (what the direct tiers reported). */
  reason: string;
  /** The relay's limits, when it told us. */
  limits: { maxBytes: number; maxDurationSec: number; maxBytesPerSec: number } | null;
  /** Bytes through the relay on this connection, both directions. */
  bytes: number;
  /** When the node last tried to move off the relay, and will again. */
  nextUpgradeAt: number | null;
}

/** Human label for a tier badge. */
export const TIER_LABEL: Record<Tier, string> = {
  lan: 'LAN', direct: 'Direct', upnp: 'UPnP', natpmp: 'NAT-PMP', pcp: 'PCP', reverse: 'Reverse',
  'udp-punch': 'UDP punch', 'tcp-punch': 'TCP punch', 'peer-relay': 'Peer relay', 'server-relay': 'Server relay',
  failed: 'Failed',
};

/** Lower is better: used to prefer one working path over another (LAN > WAN > relay). */
export const TIER_RANK: Record<Tier, number> = {
  lan: 0, direct: 1, upnp: 2, natpmp: 2, pcp: 2, reverse: 3, 'udp-punch': 4, 'tcp-punch': 4,
  'peer-relay': 8, 'server-relay': 9, failed: 99,
};
