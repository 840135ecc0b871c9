/**
 * The desktop app's main process: one instance, one window, the engine started
 * with the app and stopped (listeners closed, port mappings removed) before it
 * quits. Everything the window can do goes through the contract (ipc.ts) to the
 * same app service the headless host uses. `postern://pair/CODE` links open the
 * "Enter a code" view with the code filled in.
 *
 * Environment (for tests and portable installs): POSTERN_HOME (data folder),
 * POSTERN_NAME, POSTERN_RENDEZVOUS (comma-separated), POSTERN_DOWNLOAD_DIR,
 * POSTERN_DISCOVERY=0; given values are saved to the settings.
 */
import { app, BrowserWindow } from 'electron';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SettingsPatch } from '../../shared/domain/settings.js';
import { codeFromText } from '../../shared/domain/peers.js';
import { AppService } from '../host/service.js';
import { createHandlers } from '../host/handlers.js';
import { findRendererDir } from '../host/static-files.js';
import { registerIpc } from './ipc.js';
import { registerSchemeAsPrivileged, serveRenderer } from './protocol.js';
import { electronPlatform } from './platform.js';
import { createMainWindow, hardenSession } from './window.js';

const here = dirname(fileURLToPath(import.meta.url));
const home = process.env.POSTERN_HOME ? resolve(process.env.POSTERN_HOME) : null;
// One data folder, one instance: a second POSTERN_HOME is a second device (tests run two).
if (home) app.setPath('userData', join(home, 'electron'));
const dataDir = home ?? join(app.getPath('userData'), 'data');

registerSchemeAsPrivileged();

function envSettings(): SettingsPatch {
  const e = process.env;
  const patch: SettingsPatch = {};
  if (e.POSTERN_NAME) patch.name = e.POSTERN_NAME;
  if (e.POSTERN_RENDEZVOUS) patch.rendezvous = e.POSTERN_RENDEZVOUS.split(',').map((s) => s.trim()).filter(Boolean);
  if (e.POSTERN_DOWNLOAD_DIR) patch.downloadDir = resolve(e.POSTERN_DOWNLOAD_DIR);
  if (e.POSTERN_DISCOVERY === '0') patch.discovery = false;
  return patch;
}

function linkCode(argv: readonly string[]): string | null {
  const link = argv.find((a) => a.toLowerCase().startsWith('postern://pair/'));
  return link ? codeFromText(link) : null;
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.setAsDefaultProtocolClient('postern');
  let win: BrowserWindow | null = null;
  const getWindow = () => win;
  let pendingCode = linkCode(process.argv);

  await app.whenReady();
  const service = await AppService.open({ dataDir, platform: electronPlatform(getWindow), log: (l) => console.log(l) });
  const patch = envSettings();
  if (Object.keys(patch).length) await service.settings.update(patch);
  const unregister = registerIpc(service, createHandlers(service), getWindow);

  const rendererDir = process.env.POSTERN_RENDERER_DIR ?? findRendererDir(here);
  if (!rendererDir) throw new Error('renderer/dist is missing: run `npm run build` first.');
  serveRenderer(rendererDir);
  hardenSession();

  const openCode = (code: string | null) => {
    if (!code) return;
    if (win) service.emit('pairing.codeFromLink', { code });
    else pendingCode = code;
  };
  const showWindow = () => {
    if (win && !win.isDestroyed()) {
      if (win.isMinimized()) win.restore();
      win.focus();
      return;
    }
    win = createMainWindow(join(here, 'preload.cjs'));
    win.on('closed', () => { win = null; });
    win.webContents.once('did-finish-load', () => {
      openCode(pendingCode);
      pendingCode = null;
    });
  };

  app.on('second-instance', (_event, argv) => {
    showWindow();
    openCode(linkCode(argv));
  });
  app.on('open-url', (event, url) => {
    event.preventDefault();
    openCode(codeFromText(url));
  });
  app.on('activate', showWindow);
  app.on('window-all-closed', () => app.quit());

  let stopped = false;
  app.on('before-quit', (event) => {
    if (stopped) return;
    event.preventDefault();
    unregister();
    void service.stop().finally(() => {
      stopped = true;
      app.quit();
    });
  });

  showWindow();
  await service.start();
}

main().catch((err) => {
  console.error(err);
  app.exit(1);
});
