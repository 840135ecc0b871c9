/**
 * The store's shape: one zustand store composed of one slice per domain (app,
 * peers, pairing, transfers, settings, ui). Each slice file holds its initial
 * state, its actions (the only code that talks to the bridge) and its selectors
 * (plain functions of the whole state).
 */
import type { StateCreator } from 'zustand';
import type { RendererBridge } from '../bridge/index.js';
import type { AppSlice } from './app-slice.js';
import type { PeersSlice } from './peers-slice.js';
import type { PairingSlice } from './pairing-slice.js';
import type { TransfersSlice } from './transfers-slice.js';
import type { SettingsSlice } from './settings-slice.js';
import type { UiSlice } from './ui-slice.js';
import type { DoctorSlice } from './doctor-slice.js';

export type Store = AppSlice & PeersSlice & PairingSlice & TransfersSlice & SettingsSlice & UiSlice & DoctorSlice;

export type SliceCreator<T> = (bridge: RendererBridge) => StateCreator<Store, [], [], T>;
