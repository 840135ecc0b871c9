/**
 * Devices as the UI sees them: this device, paired contacts, devices heard on the
 * LAN, invites and pairing requests. Plain serializable data shared by the engine's
 * adapters (main/host) and the renderer; no runtime-specific imports.
 */
import type { ConnectedTier, ConnectionInfo } from './connection.js';

export interface ErrorData {
  /** Stable code (`PEER_OFFLINE`, `WRONG_CODE`, …) for tests and explanations. */
  code: string;
  /** What happened and what to do next, in plain words. */
  message: string;
}

export interface SelfView {
  name: string;
  /** Full peer ID (52 base32 chars). */
  peerId: string;
  /** `ABCD-EFGH`: what people compare. */
  shortId: string;
  /** TCP port peers reach us on (0 while the engine is not running). */
  listenPort: number;
}

export interface PeerView {
  peerId: string;
  shortId: string;
  name: string;
  /** A contact this device paired with (pinned key). */
  paired: boolean;
  /** Heard on the local network right now (LAN discovery). */
  nearby: boolean;
  /** Reachable now: on the rendezvous, on the LAN, or connected. */
  online: boolean;
  /** Nearby devices: the address the announcement came from. */
  address: string | null;
  /** Live connection and the ladder's last run; null before any attempt. */
  connection: ConnectionInfo | null;
  /** Tier of the last successful connection (contacts only). */
  lastTier: ConnectedTier | null;
  lastSeenAt: number | null;
  pairedAt: number | null;
}

export type RendezvousState = 'connecting' | 'connected' | 'disconnected';

export interface RendezvousView {
  /** Server in use; null before the engine started. */
  url: string | null;
  state: RendezvousState;
  /** True when this device hosts the rendezvous itself (no URL configured). */
  embedded: boolean;
  /** Our address as the server sees it. */
  observedIp: string | null;
  /** Why it is disconnected. */
  reason: string | null;
}

export type InviteState = 'open' | 'paired' | 'expired' | 'cancelled' | 'failed';

export interface InviteView {
  code: string;
  /** `postern://pair/CODE`: opens the app on the other device with the code filled in. */
  link: string;
  expiresAt: number;
  state: InviteState;
  /** Set when state is `failed` (e.g. the other side typed a wrong code). */
  error: ErrorData | null;
  /** Set when state is `paired`. */
  pairedWith: { peerId: string; name: string } | null;
}

export interface PairedView {
  peerId: string;
  shortId: string;
  name: string;
  tier: ConnectedTier;
  by: 'code' | 'nearby';
}

/** A device on the LAN asks to connect; the user compares `verification` on both screens. */
export interface NearbyRequestView {
  requestId: string;
  peerId: string;
  shortId: string;
  name: string;
  /** Words derived from the channel's handshake: equal on both screens when nobody is in between. */
  verification: string;
  expiresAt: number;
}

export function inviteLink(code: string): string {
  return `postern://pair/${encodeURIComponent(code)}`;
}

/** The code in a `postern://pair/CODE` link (or the text itself when it is not a link). */
export function codeFromText(text: string): string {
  const m = /^postern:\/\/pair\/(.+)$/i.exec(text.trim());
  return m ? decodeURIComponent(m[1] as string).trim() : text.trim();
}
