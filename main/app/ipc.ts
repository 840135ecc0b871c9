/**
 * Main-process IPC, validated (after VS Code's validatedIpcMain): one handler per
 * contract command and nothing else (the allow-list), each call checked to come
 * from our window's main frame on our own protocol before it reaches dispatch.ts
 * (schema validation, errors as data). Events go to that window only.
 */
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { COMMAND_NAMES, type CommandHandlers } from '../../shared/ipc/contract.js';
import { ELECTRON_EVENT_CHANNEL, commandChannel } from '../../shared/ipc/bridge.js';
import { dispatch } from '../host/dispatch.js';
import type { AppService } from '../host/service.js';
import { isAppUrl } from './protocol.js';

export function registerIpc(service: AppService, handlers: CommandHandlers, getWindow: () => BrowserWindow | null): () => void {
  const trusted = (event: IpcMainInvokeEvent): boolean => {
    const win = getWindow();
    if (!win || win.isDestroyed() || event.sender !== win.webContents) return false;
    const frame = event.senderFrame;
    return !!frame && frame === win.webContents.mainFrame && isAppUrl(frame.url);
  };
  for (const name of COMMAND_NAMES) {
    ipcMain.handle(commandChannel(name), (event, request: unknown) => {
      if (!trusted(event)) return { ok: false, error: { code: 'FORBIDDEN', message: 'This window may not use Postern commands.' } };
      return dispatch(handlers, name, request);
    });
  }
  const offSink = service.addSink((name, payload) => {
    const win = getWindow();
    if (win && !win.isDestroyed()) win.webContents.send(ELECTRON_EVENT_CHANNEL, name, payload);
  });
  return () => {
    offSink();
    for (const name of COMMAND_NAMES) ipcMain.removeHandler(commandChannel(name));
  };
}
