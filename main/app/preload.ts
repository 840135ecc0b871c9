/**
 * The sandboxed preload: exposes one object, `window.postern`, through
 * contextBridge (contextIsolation on, no Node in the page). It forwards commands
 * only on `postern:cmd:<name>` channels, where main registered exactly the
 * contract's commands (the allow-list, checked again with the sender in ipc.ts),
 * and hands events to the page without ever exposing ipcRenderer or the IPC
 * event. It imports the contract as types only, so the schemas stay in main.
 * Bundled to CommonJS (build/bundle-preload.mjs): a sandboxed preload cannot load
 * ESM and may require only `electron`.
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { CommandName, EventName } from '../../shared/ipc/contract.js';
import { ELECTRON_EVENT_CHANNEL, commandChannel, type PreloadApi, type Result } from '../../shared/ipc/bridge.js';

const handlers = new Map<EventName, Set<(payload: unknown) => void>>();
const NAME = /^[a-z]+\.[a-zA-Z]+$/;
const isName = (name: unknown): name is CommandName & EventName => typeof name === 'string' && NAME.test(name);

ipcRenderer.on(ELECTRON_EVENT_CHANNEL, (_event, name: unknown, payload: unknown) => {
  if (!isName(name)) return;
  for (const h of handlers.get(name) ?? []) h(payload);
});

const api: PreloadApi = {
  kind: 'electron',
  invoke(name, ...args) {
    if (!isName(name)) return Promise.resolve({ ok: false, error: { code: 'UNKNOWN_COMMAND', message: `"${String(name)}" is not a Postern command.` } }) as never;
    return ipcRenderer.invoke(commandChannel(name), args[0] ?? {}) as Promise<Result<never>>;
  },
  on(name, handler) {
    if (!isName(name)) return () => {};
    let set = handlers.get(name);
    if (!set) handlers.set(name, (set = new Set()));
    const h = handler as (payload: unknown) => void;
    set.add(h);
    return () => set.delete(h);
  },
  pathForFile(file) {
    return webUtils.getPathForFile(file as Parameters<typeof webUtils.getPathForFile>[0]);
  },
};

contextBridge.exposeInMainWorld('postern', api);
