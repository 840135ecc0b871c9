/**
 * Who may talk to the headless host: only a page on this machine that knows the
 * token. The server listens on 127.0.0.1 only; the token is in the URL path
 * (`/t/TOKEN/…`, compared in constant time); the Host header must name loopback
 * and our port, which defeats DNS rebinding (an attacker's name resolving to
 * 127.0.0.1 still sends its own Host); and requests that change state (WebSocket,
 * uploads) must come from our own Origin.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export class HostGuard {
  private readonly tokenBytes: Buffer;

  constructor(readonly token: string, private readonly port: () => number) {
    this.tokenBytes = Buffer.from(token);
  }

  allowedHosts(): string[] {
    const p = this.port();
    return [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`];
  }

  hostOk(req: IncomingMessage): boolean {
    return this.allowedHosts().includes((req.headers.host ?? '').toLowerCase());
  }

  /** Our own origin only; `required` for WebSocket upgrades and uploads. */
  originOk(req: IncomingMessage, required: boolean): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return !required;
    return this.allowedHosts().some((h) => origin.toLowerCase() === `http://${h}`);
  }

  /** The path after `/t/TOKEN`, or null when the token is missing or wrong. */
  stripToken(pathname: string): string | null {
    const m = /^\/t\/([^/]+)(\/.*)?$/.exec(pathname);
    if (!m) return null;
    const given = Buffer.from(m[1] as string);
    if (given.length !== this.tokenBytes.length || !timingSafeEqual(given, this.tokenBytes)) return null;
    return m[2] ?? '/';
  }
}
