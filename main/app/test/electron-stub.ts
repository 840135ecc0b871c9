/**
 * Just enough of Electron's main-process API to run main/app/*.ts under plain Node
 * (this machine cannot download Electron's binary): it records IPC handlers,
 * windows and quits so shell.test.ts can drive the real main.ts. Not a fake
 * Electron: only the calls Postern makes, behaving as documented.
 */
import { EventEmitter } from 'node:events';

export const handlers = new Map<string, (event: unknown, ...args: unknown[]) => unknown>();
export const sent: { channel: string; args: unknown[] }[] = [];
export const windows: BrowserWindow[] = [];
export const quits = { quit: 0, exit: [] as number[] };

class App extends EventEmitter {
  private paths = new Map<string, string>([['userData', '/tmp/postern-stub-userdata']]);
  requestSingleInstanceLock(): boolean { return true; }
  setAsDefaultProtocolClient(): boolean { return true; }
  whenReady(): Promise<void> { return Promise.resolve(); }
  getPath(name: string): string { return this.paths.get(name) ?? `/tmp/${name}`; }
  setPath(name: string, value: string): void { this.paths.set(name, value); }
  quit(): void {
    quits.quit++;
    const event = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    this.emit('before-quit', event);
    if (!event.defaultPrevented) this.emit('quit');
  }
  exit(code: number): void { quits.exit.push(code); }
}
export const app = new App();

class WebContents extends EventEmitter {
  readonly mainFrame = { url: 'postern-app://app/index.html' };
  openHandler: ((d: { url: string }) => unknown) | null = null;
  send(channel: string, ...args: unknown[]): void { sent.push({ channel, args }); }
  setWindowOpenHandler(h: (d: { url: string }) => unknown): void { this.openHandler = h; }
}

export class BrowserWindow extends EventEmitter {
  readonly webContents = new WebContents();
  url: string | null = null;
  constructor(readonly options: { webPreferences?: Record<string, unknown> }) {
    super();
    windows.push(this);
  }
  async loadURL(url: string): Promise<void> {
    this.url = url;
    this.webContents.emit('did-finish-load');
  }
  isDestroyed(): boolean { return false; }
  isMinimized(): boolean { return false; }
  restore(): void {}
  focus(): void {}
  show(): void {}
}

export const ipcMain = {
  handle(channel: string, fn: (event: unknown, ...args: unknown[]) => unknown): void {
    if (handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    handlers.set(channel, fn);
  },
  removeHandler(channel: string): void { handlers.delete(channel); },
};

export const protocol = {
  privileged: [] as unknown[],
  handler: null as ((req: Request) => Promise<Response> | Response) | null,
  registerSchemesAsPrivileged(schemes: unknown[]): void { this.privileged.push(...schemes); },
  handle(_scheme: string, fn: (req: Request) => Promise<Response> | Response): void { this.handler = fn; },
};

export const session = {
  defaultSession: {
    webRequest: { onHeadersReceived(): void {} },
    setPermissionRequestHandler(): void {},
  },
};

export const dialog = { showOpenDialog: async () => ({ canceled: true, filePaths: [] as string[] }) };
export const shell = { showItemInFolder(): void {}, openExternal: async () => {} };
export default { app, BrowserWindow, ipcMain, protocol, session, dialog, shell };
