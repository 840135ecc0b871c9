/**
 * The headless host: the app service served to a browser on this machine. One
 * HTTP server on 127.0.0.1 serves the renderer's build under `/t/TOKEN/`, the
 * WebSocket bridge at `/t/TOKEN/ws` and uploads at `/t/TOKEN/upload`; guard.ts
 * says who may use them. `openHeadless` wires service, handlers and server for
 * `postern host`, `postern demo` and the end-to-end tests.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CommandHandlers } from '../../shared/ipc/contract.js';
import type { SettingsPatch } from '../../shared/domain/settings.js';
import type { NodeOptions } from '../engine/node.js';
import { toErrorData } from '../engine/errors.js';
import { AppService } from './service.js';
import { createHandlers } from './handlers.js';
import { HostGuard, newToken } from './guard.js';
import { SECURITY_HEADERS, findRendererDir, serveStatic } from './static-files.js';
import { pruneStaging, receiveUpload } from './uploads.js';
import { WsBridge } from './ws-bridge.js';
import { headlessPlatform } from './platform.js';

export interface HostOptions {
  service: AppService;
  handlers?: CommandHandlers;
  /** HTTP port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** The renderer's build; default: renderer/dist found from this module. */
  rendererDir?: string | null;
  token?: string;
}

export interface RunningHost {
  /** Open this in a browser: it carries the token. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  close(): Promise<void>;
}

export async function startHost(opts: HostOptions): Promise<RunningHost> {
  const { service } = opts;
  const handlers = opts.handlers ?? createHandlers(service);
  const rendererDir = opts.rendererDir === undefined ? findRendererDir() : opts.rendererDir;
  const token = opts.token ?? newToken();
  let port = 0;
  const guard = new HostGuard(token, () => port);
  const bridge = new WsBridge(service, handlers);

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => plain(res, 500, `Internal error: ${String(err)}`));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!guard.hostOk(req)) return plain(res, 421, 'This address is only served as 127.0.0.1 or localhost.');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = guard.stripToken(url.pathname);
    if (path === null) return plain(res, 403, 'Open the full address that `postern host` printed: it contains a secret token.');
    if (path === '/upload' && req.method === 'POST') {
      if (!guard.originOk(req, true)) return plain(res, 403, 'Uploads come only from the Postern page itself.');
      try {
        const staged = await receiveUpload(service.opts.dataDir, url.searchParams.get('batch') ?? '', url.searchParams.get('path') ?? '', req);
        return json(res, 200, { ok: true, value: { path: staged } });
      } catch (err) {
        return json(res, 400, { ok: false, error: toErrorData(err, 'UPLOAD_FAILED') });
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Method not allowed.');
    if (!rendererDir) return plain(res, 503, 'The UI is not built yet. Run `npm run build:renderer` in the Postern folder, then reload.');
    if (path === '/' && !url.pathname.endsWith('/')) {
      res.writeHead(308, { Location: `${url.pathname}/`, ...SECURITY_HEADERS });
      return void res.end();
    }
    await serveStatic(rendererDir, path, res);
  }

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!guard.hostOk(req) || !guard.originOk(req, true) || guard.stripToken(url.pathname) !== '/ws') {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    bridge.upgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  void pruneStaging(service.opts.dataDir);

  return {
    url: `http://127.0.0.1:${port}/t/${token}/`,
    port,
    token,
    async close() {
      bridge.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface HeadlessOptions {
  dataDir: string;
  httpPort?: number;
  /** Saved into settings before the engine starts (CLI flags). */
  settings?: SettingsPatch;
  nodeOverrides?: Partial<NodeOptions>;
  log?: (line: string) => void;
}

/** Service + engine + HTTP host; `close` stops all three. */
export async function openHeadless(opts: HeadlessOptions): Promise<RunningHost & { service: AppService }> {
  const service = await AppService.open({
    dataDir: opts.dataDir, platform: headlessPlatform,
    ...(opts.nodeOverrides ? { nodeOverrides: opts.nodeOverrides } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  if (opts.settings && Object.keys(opts.settings).length) await service.settings.update(opts.settings);
  const host = await startHost({ service, ...(opts.httpPort !== undefined ? { port: opts.httpPort } : {}) });
  await service.start();
  return {
    service, url: host.url, port: host.port, token: host.token,
    async close() {
      await host.close();
      await service.stop();
    },
  };
}

function plain(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
  res.end(`${text}\n`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...SECURITY_HEADERS });
  res.end(JSON.stringify(body));
}
