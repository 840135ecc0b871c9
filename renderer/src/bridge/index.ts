/**
 * Which bridge this renderer runs on: the desktop app's preload object when it is
 * there, otherwise the headless host's WebSocket. Nothing else in the renderer
 * knows the difference.
 */
import type { PreloadApi } from '../../../shared/ipc/bridge.js';
import { electronBridge } from './electron-bridge.js';
import { wsBridge } from './ws-bridge.js';
import type { RendererBridge } from './types.js';

declare global {
  interface Window {
    postern?: PreloadApi;
  }
}

export function pickBridge(): RendererBridge {
  if (window.postern) return electronBridge(window.postern);
  return wsBridge(new URL('./', window.location.href));
}

export type { RendererBridge, DroppedItem, LinkStatus } from './types.js';
