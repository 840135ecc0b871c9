/** Peers slice: paired contacts and nearby devices, their connections and ladders, the selected one. */
import type { ConnectionInfo } from '../../../shared/domain/connection.js';
import type { PeerView } from '../../../shared/domain/peers.js';
import type { SliceCreator, Store } from './types.js';
import { call, messageOf } from './call.js';

export interface PeersSlice {
  peers: PeerView[];
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

export const initialPeers = { peers: [] as PeerView[], selectedPeerId: null, peerErrors: {}, connectingPeerIds: [] as string[] } satisfies Partial<PeersSlice>;

export const createPeersSlice: SliceCreator<PeersSlice> = (bridge) => (set, get) => ({
  ...initialPeers,
  selectPeer: (selectedPeerId) => set({ selectedPeerId, view: 'devices', pairingMode: null }),
  async connectPeer(peerId) {
    get().setPeerError(peerId, null);
    set((s) => ({ connectingPeerIds: [...s.connectingPeerIds, peerId] }));
    try {
      get().applyConnection(await call(bridge, 'peers.connect', { peerId }));
    } catch (err) {
      get().setPeerError(peerId, messageOf(err));
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
  setPeers: (peers) => set({ peers }),
  applyConnection: (info) => set((s) => ({
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
export const selectPeerName = (peerId: string) => (s: Store) => s.peers.find((p) => p.peerId === peerId)?.name ?? 'Unknown device';
