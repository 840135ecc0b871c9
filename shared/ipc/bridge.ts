/**
 * What crosses the boundary: the result envelope (errors as data), the bridge
 * object the preload exposes and the headless WebSocket client implements, the
 * Electron channel names and the WebSocket frames. All derived from contract.ts.
 */
import type { ErrorData } from '../domain/peers.js';
import type { CommandName, CommandRequest, CommandResponse, EventName, EventPayload } from './contract.js';

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorData };

/** Requests whose fields are all optional may be omitted. */
export type RequestArgs<K extends CommandName> = Partial<CommandRequest<K>> extends CommandRequest<K> ? [request?: CommandRequest<K>] : [request: CommandRequest<K>];

/** The one object the renderer talks to, whichever side it runs on. */
export interface PosternBridge {
  invoke<K extends CommandName>(name: K, ...args: RequestArgs<K>): Promise<Result<CommandResponse<K>>>;
  on<K extends EventName>(name: K, handler: (payload: EventPayload<K>) => void): () => void;
}

/** Enough of a DOM `File` to name it here (shared/ has no DOM types). */
export interface FileLike {
  readonly name: string;
  readonly size: number;
}

/** What the Electron preload exposes as `window.postern`. */
export interface PreloadApi extends PosternBridge {
  readonly kind: 'electron';
  /** The real path of a dropped file or folder (Electron's webUtils). */
  pathForFile(file: FileLike): string;
}

/** Electron: commands on `postern:cmd:<name>` (ipcMain.handle), all events on one channel. */
export const ELECTRON_COMMAND_PREFIX = 'postern:cmd:';
export const ELECTRON_EVENT_CHANNEL = 'postern:event';
export const commandChannel = (name: CommandName): string => `${ELECTRON_COMMAND_PREFIX}${name}`;

/** Headless host: frames on the WebSocket, JSON text. */
export type WsClientFrame = { t: 'call'; id: number; name: string; request: unknown };
export type WsServerFrame =
  | { t: 'result'; id: number; result: Result<unknown> }
  | { t: 'event'; name: EventName; payload: unknown };

export class BridgeError extends Error implements ErrorData {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'BridgeError';
  }
}

/** Unwrap a result: the value, or a BridgeError carrying its code. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new BridgeError(result.error.code, result.error.message);
}
