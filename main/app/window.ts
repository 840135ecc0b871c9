/**
 * The one window, locked down: context isolation, sandbox, no Node integration,
 * no webview; the CSP on every response; navigation away from our origin and new
 * windows refused (links open in the system browser only if they are https);
 * permission requests (camera, notifications, …) denied.
 */
import { BrowserWindow, session, shell } from 'electron';
import { RENDERER_CSP } from '../host/static-files.js';
import { APP_URL, isAppUrl } from './protocol.js';

export function createMainWindow(preloadPath: string): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    minWidth: 420,
    minHeight: 480,
    title: 'Postern',
    backgroundColor: '#f5f6f4',
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  win.webContents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  win.webContents.on('will-attach-webview', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  void win.loadURL(APP_URL);
  return win;
}

/** Once per session: CSP header on everything, and no permissions for anything. */
export function hardenSession(): void {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [RENDERER_CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
}
