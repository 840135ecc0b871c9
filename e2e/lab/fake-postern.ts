/**
 * A stand-in for the postern CLI that speaks the same JSON-lines contract,
 * used to test the lab's transfer helper and matrix before (and independently
 * of) the real CLI. Its only "tier" is server-relay: the rendezvous is a plain
 * HTTP relay that pipes the sender's upload into the receiver's download.
 *
 *   fake-postern rendezvous --listen HOST:PORT
 *   fake-postern send --rendezvous ws://HOST:PORT --json --data DIR PATH
 *   fake-postern receive --rendezvous ws://HOST:PORT --json --data DIR --into DIR CODE
 * FAKE_POSTERN_FAIL=1 makes send print an error event and exit 1.
 */
import { createHash, randomInt } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, statSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { basename, join } from 'node:path';

const print = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
const arg = (name: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] ?? '' : '';
};
const base = (): URL => new URL(arg('rendezvous').replace(/^ws/, 'http'));

function rendezvous(): void {
  const [host = '', port = ''] = arg('listen').split(/:(?=\d+$)/);
  const uploads = new Map<string, IncomingMessage>();
  const downloads = new Map<string, ServerResponse>();
  const pair = (code: string): void => {
    const up = uploads.get(code);
    const down = downloads.get(code);
    if (!up || !down) return;
    down.writeHead(200, { 'x-name': String(up.headers['x-name'] ?? 'file') });
    up.pipe(down);
    up.on('end', () => up.socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
  };
  createServer((req, res) => {
    const code = decodeURIComponent((req.url ?? '/').slice(1));
    if (req.method === 'PUT') uploads.set(code, req);
    else downloads.set(code, res);
    pair(code);
  }).listen(Number(port), host);
}

function send(): void {
  const path = process.argv[process.argv.length - 1] ?? '';
  if (process.env.FAKE_POSTERN_FAIL) {
    print({ event: 'error', code: 'E_FAKE', message: 'asked to fail' });
    process.exit(1);
  }
  const code = `${randomInt(1, 99)}-fake-code-${randomInt(1000, 9999)}`;
  print({ event: 'code', code });
  const t0 = Date.now();
  const bytes = statSync(path).size;
  const req = request(new URL(`/${code}`, base()), { method: 'PUT', headers: { 'x-name': basename(path) } }, (res) => {
    res.resume();
    res.on('end', () => {
      print({ event: 'done', tier: 'server-relay', bytes, ms: Date.now() - t0, connectMs: 0 });
      process.exit(0);
    });
  });
  req.on('error', (e) => { print({ event: 'error', code: 'E_RENDEZVOUS', message: e.message }); process.exit(1); });
  createReadStream(path).pipe(req);
}

function receive(): void {
  const code = process.argv[process.argv.length - 1] ?? '';
  const into = arg('into');
  mkdirSync(into, { recursive: true });
  const t0 = Date.now();
  request(new URL(`/${encodeURIComponent(code)}`, base()), (res) => {
    const connectMs = Date.now() - t0;
    const name = String(res.headers['x-name'] ?? 'file');
    const hash = createHash('sha256');
    let bytes = 0;
    res.on('data', (d: Buffer) => { hash.update(d); bytes += d.length; });
    res.pipe(createWriteStream(join(into, name))).on('finish', () => {
      print({ event: 'done', tier: 'server-relay', files: [{ path: name, bytes, sha256: hash.digest('hex') }], bytes, ms: Date.now() - t0, connectMs });
      process.exit(0);
    });
  }).on('error', (e) => { print({ event: 'error', code: 'E_RENDEZVOUS', message: e.message }); process.exit(1); }).end();
}

const cmd = process.argv[2];
if (cmd === 'rendezvous') rendezvous();
else if (cmd === 'send') send();
else if (cmd === 'receive') receive();
else { process.stderr.write(`fake-postern: unknown command ${cmd ?? ''}\n`); process.exit(2); }
