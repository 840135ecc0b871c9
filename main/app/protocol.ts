/**
 * The renderer's build is served from a privileged custom scheme
 * (`postern-app://app/…`) instead of file://, so the page has a real origin (ES
 * modules load, the CSP's 'self' means something, IPC can check the origin) and
 * can read nothing but its own folder.
 */
import { protocol } from 'electron';
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { RENDERER_CSP } from '../host/static-files.js';

export const APP_SCHEME = 'postern-app';
export const APP_ORIGIN = `${APP_SCHEME}://app`;
export const APP_URL = `${APP_ORIGIN}/index.html`;

/** Whether a URL is one of our pages. (Not `new URL(url).origin`: Node's URL gives a custom scheme the opaque origin "null".) */
export function isAppUrl(url: string): boolean {
  return url.toLowerCase().startsWith(`${APP_ORIGIN}/`);
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.map': 'application/json' };

/** Must run before `app.whenReady()`. */
export function registerSchemeAsPrivileged(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

export function serveRenderer(rendererDir: string): void {
  const root = resolve(rendererDir);
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html';
    const file = resolve(root, rel);
    if (url.host !== 'app' || !file.startsWith(root + sep)) return new Response('Not found', { status: 404 });
    try {
      const body = await readFile(file);
      return new Response(body, { headers: { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': RENDERER_CSP } });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}
