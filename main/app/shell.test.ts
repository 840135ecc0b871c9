// The Electron shell (main.ts, ipc.ts, window.ts, protocol.ts) run under plain Node
// against a recording stub of Electron's API: the window is locked down, every
// contract command has exactly one handler, calls from anything but our window are
// refused, the renderer is served only from its folder, and quitting stops the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'node:module';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRendezvous } from '../rendezvous/server.js';
import { COMMAND_NAMES } from '../../shared/ipc/contract.js';
import type { Result } from '../../shared/ipc/bridge.js';
import type { AppState } from '../../shared/domain/app.js';

register('./test/stub-hooks.mjs', import.meta.url);

/** main.ts runs on its own after import: wait for what it does (bounded by the test's timeout). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 5));
}

test('main.ts starts the engine behind a locked-down window and validated IPC, and stops it on quit', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postern-shell-'));
  const rendezvous = await startRendezvous({ host: '127.0.0.1', port: 0 });
  const rendererDir = join(dir, 'renderer');
  await mkdir(rendererDir);
  await writeFile(join(rendererDir, 'index.html'), '<!doctype html><title>Postern</title>');
  Object.assign(process.env, {
    POSTERN_HOME: join(dir, 'home'), POSTERN_NAME: 'Shell', POSTERN_RENDEZVOUS: rendezvous.url,
    POSTERN_DOWNLOAD_DIR: join(dir, 'dl'), POSTERN_DISCOVERY: '0', POSTERN_RENDERER_DIR: rendererDir,
  });
  const stub = await import('./test/electron-stub.js');
  try {
    await import('./main.js');
    await until(() => stub.windows.length > 0);
    const win = stub.windows[0];
    assert.ok(win, 'one window');
    assert.deepEqual(
      { contextIsolation: win.options.webPreferences?.contextIsolation, sandbox: win.options.webPreferences?.sandbox, nodeIntegration: win.options.webPreferences?.nodeIntegration },
      { contextIsolation: true, sandbox: true, nodeIntegration: false },
    );
    assert.match(String(win.options.webPreferences?.preload), /preload\.cjs$/);
    assert.equal(win.url, 'postern-app://app/index.html');
    assert.deepEqual([...stub.handlers.keys()].sort(), COMMAND_NAMES.map((n) => `postern:cmd:${n}`).sort());

    const fromWindow = { sender: win.webContents, senderFrame: win.webContents.mainFrame };
    const call = (event: unknown, name: string, req: unknown = {}) => stub.handlers.get(`postern:cmd:${name}`)?.(event, req) as Promise<Result<unknown>>;
    const getState = async () => {
      const r = await call(fromWindow, 'app.getState');
      assert.ok(r.ok, 'our window may call');
      return r.value as AppState;
    };
    await until(async () => (await getState()).engine.state === 'running');
    const state = await getState();
    assert.equal(state.self.name, 'Shell');
    assert.equal(state.platform.kind, 'electron');

    const strangers = [
      { sender: {}, senderFrame: win.webContents.mainFrame },
      { sender: win.webContents, senderFrame: { url: 'https://evil.example/' } },
      { sender: win.webContents, senderFrame: null },
    ];
    for (const event of strangers) assert.deepEqual(await call(event, 'app.getState'), { ok: false, error: { code: 'FORBIDDEN', message: 'This window may not use Postern commands.' } });
    const bad = await call(fromWindow, 'transfers.send', { peerId: 'x', paths: [] });
    assert.equal(!bad.ok && bad.error.code, 'BAD_REQUEST');

    // Navigation and new windows are refused.
    let prevented = false;
    win.webContents.emit('will-navigate', { preventDefault: () => { prevented = true; } }, 'https://evil.example/');
    assert.equal(prevented, true);
    assert.deepEqual(win.webContents.openHandler?.({ url: 'https://example.org/' }), { action: 'deny' });

    // The app protocol serves the renderer folder with the CSP, and nothing outside it.
    const page = await stub.protocol.handler!(new Request('postern-app://app/index.html'));
    assert.equal(page.status, 200);
    assert.match(page.headers.get('Content-Security-Policy') ?? '', /default-src 'none'/);
    assert.equal((await stub.protocol.handler!(new Request('postern-app://app/..%2F..%2Fetc%2Fpasswd'))).status, 404);
    assert.equal((await stub.protocol.handler!(new Request('postern-app://other/index.html'))).status, 404);

    // Events reach the window on the one event channel.
    assert.ok(stub.sent.some((s) => s.channel === 'postern:event' && s.args[0] === 'app.engine'));

    // Quit: the engine stops first, then the app quits for real.
    assert.equal(rendezvous.online, 1);
    stub.app.quit();
    await until(() => stub.quits.quit >= 2);
    assert.equal(stub.handlers.size, 0, 'IPC handlers removed');
    await until(() => rendezvous.online === 0);
    assert.equal(rendezvous.online, 0, 'the engine left the rendezvous');
  } finally {
    await rendezvous.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 }).catch(() => {});
  }
});
