/**
 * A small HTTP/1.1 client for UPnP (device description GET, SOAP POST) that a
 * hostile gateway cannot hurt: http: only, a timeout over the whole exchange,
 * answers over 64 KiB refused, and the body sent with Content-Length (miniupnpd
 * reads a chunked SOAP body as having no arguments).
 */
import { request } from 'node:http';
import { MAX_XML_BYTES } from '../../wire/upnp.js';
import { PortMapError } from './errors.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** @default 3000 */
  timeoutMs?: number;
  /** @default 64 KiB */
  maxBytes?: number;
  signal?: AbortSignal;
}

export function httpRequest(url: string, o: HttpOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return reject(new PortMapError('PORTMAP_BAD_ANSWER', `the gateway gave a bad URL: ${url.slice(0, 100)}`, 'upnp'));
    }
    if (u.protocol !== 'http:') return reject(new PortMapError('PORTMAP_BAD_ANSWER', `the gateway gave a non-http URL: ${url.slice(0, 100)}`, 'upnp'));
    const maxBytes = o.maxBytes ?? MAX_XML_BYTES;
    const timeoutMs = o.timeoutMs ?? 3000;
    const headers: Record<string, string> = { connection: 'close', ...o.headers };
    if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = request(u, { method: o.method ?? 'GET', headers, ...(o.signal ? { signal: o.signal } : {}) }, (res) => {
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > maxBytes) return fail(new PortMapError('PORTMAP_BAD_ANSWER', `the gateway's answer from ${u.host} is ${declared} bytes, more than the ${maxBytes} allowed`, 'upnp'));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) return fail(new PortMapError('PORTMAP_BAD_ANSWER', `the gateway's answer from ${u.host} is more than the ${maxBytes} bytes allowed`, 'upnp'));
        chunks.push(c);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => fail(err));
    });
    const timer = setTimeout(() => fail(new PortMapError('PORTMAP_TIMEOUT', `the gateway at ${u.host} did not answer ${u.pathname} within ${timeoutMs} ms`, 'upnp')), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => fail(new PortMapError('PORTMAP_UNAVAILABLE', `could not reach the gateway at ${u.host}: ${err.code ?? err.message}`, 'upnp')));
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}
