/** The bridge inside the desktop app: the object the preload exposed as `window.postern`. */
import type { PreloadApi } from '../../../shared/ipc/bridge.js';
import type { RendererBridge } from './types.js';

export function electronBridge(api: PreloadApi): RendererBridge {
  return {
    kind: 'electron',
    invoke: (name, ...args) => api.invoke(name, ...args),
    on: (name, handler) => api.on(name, handler),
    pathsForDrop: async (items) => items.map((i) => api.pathForFile(i.file)).filter(Boolean),
    onStatus: (handler) => {
      handler('open');
      return () => {};
    },
  };
}
