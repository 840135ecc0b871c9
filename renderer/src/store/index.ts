/**
 * The store: slices composed into one zustand store, created once with the
 * bridge. Components read it with `useApp(selector)` (smallest piece they need;
 * `useShallow` for derived lists) and call actions; they never touch the bridge.
 */
import { createStore, useStore, type StoreApi } from 'zustand';
import type { RendererBridge } from '../bridge/index.js';
import type { Store } from './types.js';
import { createAppSlice } from './app-slice.js';
import { createPeersSlice } from './peers-slice.js';
import { createPairingSlice } from './pairing-slice.js';
import { createTransfersSlice } from './transfers-slice.js';
import { createSettingsSlice } from './settings-slice.js';
import { createUiSlice } from './ui-slice.js';
import { createDoctorSlice } from './doctor-slice.js';

let store: StoreApi<Store> | null = null;

export function createAppStore(bridge: RendererBridge): StoreApi<Store> {
  return createStore<Store>()((...a) => ({
    ...createAppSlice(bridge)(...a),
    ...createPeersSlice(bridge)(...a),
    ...createPairingSlice(bridge)(...a),
    ...createTransfersSlice(bridge)(...a),
    ...createSettingsSlice(bridge)(...a),
    ...createUiSlice(bridge)(...a),
    ...createDoctorSlice(bridge)(...a),
  }));
}

export function initStore(bridge: RendererBridge): StoreApi<Store> {
  store = createAppStore(bridge);
  return store;
}

export function useApp<T>(selector: (s: Store) => T): T {
  if (!store) throw new Error('initStore() must run before rendering');
  return useStore(store, selector);
}

/** Actions are stable: components take them without subscribing to state. */
export function actions(): Store {
  if (!store) throw new Error('initStore() must run before rendering');
  return store.getState();
}

export type { Store } from './types.js';
