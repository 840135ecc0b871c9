/** App slice: this device, the engine's and the rendezvous's status, the link to the engine, the first load. */
import type { AppState, EngineStatus, PlatformInfo } from '../../../shared/domain/app.js';
import type { RendezvousView, SelfView } from '../../../shared/domain/peers.js';
import type { LinkStatus } from '../bridge/index.js';
import type { SliceCreator, Store } from './types.js';
import { call, messageOf } from './call.js';
import { trackConnections } from './peers-slice.js';

export interface AppSlice {
  loaded: boolean;
  loadError: string | null;
  link: LinkStatus;
  self: SelfView;
  engine: EngineStatus;
  rendezvous: RendezvousView;
  platform: PlatformInfo;
  load(): Promise<void>;
  applySnapshot(state: AppState): void;
  setLink(status: LinkStatus): void;
  setEngine(status: EngineStatus): void;
  setRendezvous(view: RendezvousView): void;
}

export const initialApp = {
  loaded: false,
  loadError: null,
  link: 'connecting' as LinkStatus,
  self: { name: '', peerId: '', shortId: '', listenPort: 0 },
  engine: { state: 'starting', error: null } as EngineStatus,
  rendezvous: { url: null, state: 'connecting', embedded: false, observedIp: null, reason: null } as RendezvousView,
  platform: { kind: 'headless', nativeDialogs: false, canReveal: false, uploads: false } as PlatformInfo,
} satisfies Partial<AppSlice>;

export const createAppSlice: SliceCreator<AppSlice> = (bridge) => (set, get) => ({
  ...initialApp,
  async load() {
    try {
      get().applySnapshot(await call(bridge, 'app.getState'));
    } catch (err) {
      set({ loadError: messageOf(err) });
    }
  },
  applySnapshot(s) {
    // An engine restart starts every connection afresh: keep the ladders that were on screen as history.
    set((st) => trackConnections(st, st.peers, s.peers, { full: true, notify: false }));
    set({
      loaded: true, loadError: null, self: s.self, engine: s.engine, rendezvous: s.rendezvous, platform: s.platform,
      peers: s.peers, invite: s.invite, nearbyRequests: s.nearbyRequests, settings: s.settings,
      transfers: Object.fromEntries(s.transfers.map((t) => [t.id, t])),
    });
  },
  setLink: (link) => set({ link }),
  setEngine: (engine) => set({ engine }),
  setRendezvous: (rendezvous) => set({ rendezvous }),
});

export const selectSelf = (s: Store) => s.self;
export const selectEngine = (s: Store) => s.engine;
export const selectRendezvous = (s: Store) => s.rendezvous;
export const selectPlatform = (s: Store) => s.platform;
export const selectLink = (s: Store) => s.link;
export const selectLoaded = (s: Store) => s.loaded;
export const selectLoadError = (s: Store) => s.loadError;
