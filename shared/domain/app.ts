/**
 * The whole app's state in one snapshot (what `app.getState` returns and the
 * renderer's store starts from), plus the engine's lifecycle and what the
 * surface it runs on can do (Electron dialogs, or a browser on the headless host).
 */
import type { Settings } from './settings.js';
import type { ErrorData, InviteView, NearbyRequestView, PeerView, RendezvousView, SelfView } from './peers.js';
import type { TransferInfo } from './transfer.js';

export type EngineState = 'starting' | 'running' | 'restarting' | 'stopped' | 'error';

export interface EngineStatus {
  state: EngineState;
  /** Why it is not running (state `error`): what to fix, usually in Settings. */
  error: ErrorData | null;
}

export interface PlatformInfo {
  /** `electron`: the desktop app; `headless`: the UI served to a browser by `postern host`. */
  kind: 'electron' | 'headless';
  /** Native file/folder pickers exist (otherwise the UI asks for paths as text). */
  nativeDialogs: boolean;
  /** "Show in folder" opens a file manager (otherwise the UI shows the path). */
  canReveal: boolean;
  /** Dropped files are uploaded to a staging folder on the host before sending. */
  uploads: boolean;
}

export interface AppState {
  self: SelfView;
  engine: EngineStatus;
  rendezvous: RendezvousView;
  peers: PeerView[];
  transfers: TransferInfo[];
  invite: InviteView | null;
  nearbyRequests: NearbyRequestView[];
  settings: Settings;
  platform: PlatformInfo;
}
