/** Peers slice: paired contacts and nearby devices, their connections and ladders, the selected one. */
import type { ConnectionInfo } from '../../../shared/domain/connection.js';
import type { PeerView } from '../../../shared/domain/peers.js';
import type { SliceCreator, Store } from './types.js';
import { call, messageOf } from './call.js';
import { BridgeError } from '../../../shared/ipc/bridge.js';

/** Codes of a whole failed ladder: the ladder and the failure box explain it; no raw message on top. */
const LADDER_FAILURES = ['ALL_TIERS_FAILED', 'DOUBLE_RANDOM'];

/** A finished ladder run, kept so an earlier failure stays visible after the next attempt starts. */
export interface LadderRun {
  ladderId: string;
  attempts: ConnectionInfo['attempts'];
  state: ConnectionInfo['state'];
  tier: ConnectionInfo['tier'];
  error: ConnectionInfo['error'];
  /** When the next run replaced it. */
  endedAt: number;
}

const HISTORY = 3;

/** The previous run, when `next` starts a new one (or clears the attempts, or is gone after an engine restart). */
function finishedRun(prev: ConnectionInfo | null | undefined, next: ConnectionInfo | null): LadderRun | null {
  const id = prev?.attempts[0]?.ladderId;
  if (!prev || !id || next?.attempts[0]?.ladderId === id) return null;
  return { ladderId: id, attempts: prev.attempts, state: prev.state, tier: prev.tier, error: prev.error, endedAt: Date.now() };
}

export interface PeersSlice {
  peers: PeerView[];
  /** Earlier ladder runs per peer, newest first. */
  ladderHistory: Record<string, LadderRun[]>;
  selectedPeerId: string | null;
  /** Last error per peer (connect, forget, send), shown in its detail. */
  peerErrors: Record<string, string>;
  connectingPeerIds: string[];
  selectPeer(peerId: string | null): void;
  connectPeer(peerId: string): Promise<void>;
  forgetPeer(peerId: string): Promise<void>;
  setPeers(peers: PeerView[]): void;
  applyConnection(info: ConnectionInfo): void;
  setPeerError(peerId: string, message: string | null): void;
}

export const initialPeers = { peers: [] as PeerView[], ladderHistory: {}, selectedPeerId: null, peerErrors: {}, connectingPeerIds: [] as string[] } satisfies Partial<PeersSlice>;

/**
 * History and wizard bookkeeping for connections that changed from `before` to
 * `after` (null: no connection any more). With `full`, `after` is the whole
 * list: a peer missing from it (the engine restarting) ends its run too.
 */
export function trackConnections(s: Store, before: PeerView[], after: { peerId: string; connection: ConnectionInfo | null }[], o: { full: boolean; notify: boolean }): Partial<Store> {
  const history = { ...s.ladderHistory };
  let changed = false;
  const changes = o.full ? [...after, ...before.filter((b) => !after.some((a) => a.peerId === b.peerId)).map((b) => ({ peerId: b.peerId, connection: null }))] : after;
  for (const { peerId, connection: next } of changes) {
    const prev = before.find((p) => p.peerId === peerId)?.connection;
    const run = finishedRun(prev, next);
    if (run && !history[peerId]?.some((r) => r.ladderId === run.ladderId)) {
      history[peerId] = [run, ...(history[peerId] ?? [])].slice(0, HISTORY);
      changed = true;
    }
    if (next && o.notify) queueMicrotask(() => s.noteConnection(prev, next));
  }
  return changed ? { ladderHistory: history } : {};
}

export const createPeersSlice: SliceCreator<PeersSlice> = (bridge) => (set, get) => ({
  ...initialPeers,
  selectPeer: (selectedPeerId) => set({ selectedPeerId, view: 'devices', pairingMode: null }),
  async connectPeer(peerId) {
    get().setPeerError(peerId, null);
    get().clearWizardDismissal(peerId);
    set((s) => ({ connectingPeerIds: [...s.connectingPeerIds, peerId] }));
    try {
      get().applyConnection(await call(bridge, 'peers.connect', { peerId }));
    } catch (err) {
      if (!(err instanceof BridgeError && LADDER_FAILURES.includes(err.code))) get().setPeerError(peerId, messageOf(err));
    } finally {
      set((s) => ({ connectingPeerIds: s.connectingPeerIds.filter((id) => id !== peerId) }));
    }
  },
  async forgetPeer(peerId) {
    try {
      await call(bridge, 'peers.forget', { peerId });
      set((s) => ({ peers: s.peers.filter((p) => p.peerId !== peerId || p.nearby), selectedPeerId: s.selectedPeerId === peerId ? null : s.selectedPeerId }));
    } catch (err) {
      get().setPeerError(peerId, messageOf(err));
    }
  },
  setPeers: (peers) => set((s) => ({ ...trackConnections(s, s.peers, peers, { full: true, notify: true }), peers })),
  applyConnection: (info) => set((s) => ({
    ...trackConnections(s, s.peers, [{ peerId: info.peerId, connection: info }], { full: false, notify: true }),
    peers: s.peers.map((p) => (p.peerId === info.peerId ? { ...p, connection: info, online: p.online || info.state === 'connected' } : p)),
  })),
  setPeerError: (peerId, message) => set((s) => {
    const peerErrors = { ...s.peerErrors };
    if (message) peerErrors[peerId] = message;
    else delete peerErrors[peerId];
    return { peerErrors };
  }),
});

export const selectPeers = (s: Store) => s.peers;
export const selectPeerIds = (s: Store) => s.peers.map((p) => p.peerId);
export const selectPairedPeerIds = (s: Store) => s.peers.filter((p) => p.paired).map((p) => p.peerId);
export const selectNearbyPeerIds = (s: Store) => s.peers.filter((p) => !p.paired).map((p) => p.peerId);
export const selectPeer = (peerId: string | null) => (s: Store) => s.peers.find((p) => p.peerId === peerId);
export const selectSelectedPeerId = (s: Store) => s.selectedPeerId;
export const selectPeerError = (peerId: string) => (s: Store) => s.peerErrors[peerId];
export const selectIsConnecting = (peerId: string) => (s: Store) => s.connectingPeerIds.includes(peerId);
export const selectLadderHistory = (peerId: string) => (s: Store) => s.ladderHistory[peerId];
export const selectPeerName = (peerId: string) => (s: Store) => s.peers.find((p) => p.peerId === peerId)?.name ?? 'Unknown device';
