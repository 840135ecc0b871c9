import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startRendezvous } from '../rendezvous/server.js';
import { tempDir } from '../engine/test/harness.js';
import { openHeadless } from './host.js';
import type { CommandName, CommandResponse, EventName, EventPayload } from '../../shared/ipc/contract.js';
import type { Result, WsServerFrame } from '../../shared/ipc/bridge.js';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

function post(port: number, path: string, body: string, origin?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: origin ? { Origin: origin } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A minimal client of the contract over the host's WebSocket (the renderer has its own). */
async function connect(url: string) {
  const u = new URL(url);
  const ws = new WebSocket(`ws://${u.host}${u.pathname}ws`, { origin: `http://${u.host}` });
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  let next = 1;
  const pending = new Map<number, (r: Result<unknown>) => void>();
  const seen: { name: string; payload: unknown }[] = [];
  const waiters: { name: string; match: (p: never) => boolean; resolve: (p: unknown) => void }[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as WsServerFrame;
    if (frame.t === 'result') pending.get(frame.id)?.(frame.result);
    else {
      seen.push(frame);
      for (const w of [...waiters]) if (w.name === frame.name && w.match(frame.payload as never)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(frame.payload); }
    }
  });
  return {
    call<K extends CommandName>(name: K, req: unknown = {}): Promise<Result<CommandResponse<K>>> {
      const id = next++;
      ws.send(JSON.stringify({ t: 'call', id, name, request: req }));
      return new Promise((res) => pending.set(id, res as (r: Result<unknown>) => void));
    },
    async ok<K extends CommandName>(name: K, req: unknown = {}): Promise<CommandResponse<K>> {
      const r = await this.call(name, req);
      if (!r.ok) throw new Error(`${name}: ${r.error.code} ${r.error.message}`);
      return r.value;
    },
    event<K extends EventName>(name: K, match: (p: EventPayload<K>) => boolean = () => true): Promise<EventPayload<K>> {
      const old = seen.find((e) => e.name === name && match(e.payload as EventPayload<K>));
      if (old) return Promise.resolve(old.payload as EventPayload<K>);
      return new Promise((resolve) => waiters.push({ name, match: match as (p: never) => boolean, resolve: resolve as (p: unknown) => void }));
    },
    close: () => ws.close(),
  };
}

test('the host refuses requests without the token, with a foreign Host, and WebSockets from another origin', async () => {
  const dir = await tempDir();
  const host = await openHeadless({ dataDir: dir.path, settings: { rendezvous: ['ws://127.0.0.1:1'], discovery: false } });
  try {
    assert.equal((await get(host.port, '/')).status, 403);
    assert.equal((await get(host.port, `/t/${'x'.repeat(host.token.length)}/`)).status, 403);
    assert.equal((await get(host.port, `/t/${host.token}/`, { Host: `evil.example:${host.port}` })).status, 421);
    const ok = await get(host.port, `/t/${host.token}/`);
    assert.ok(ok.status === 200 || ok.status === 503, `status ${ok.status}`);
    const u = new URL(host.url);
    for (const origin of [undefined, 'http://evil.example']) {
      const ws = new WebSocket(`ws://${u.host}${u.pathname}ws`, origin ? { origin } : {});
      const err = await new Promise<Error>((res) => ws.once('error', res));
      assert.match(err.message, /403/);
    }
    // Uploads (dropped files): our origin only, safe relative paths only, streamed to staging.
    const upload = (path: string, origin?: string) => post(host.port, `/t/${host.token}/upload?batch=0123456789abcdef&path=${encodeURIComponent(path)}`, 'dropped\n', origin);
    assert.equal((await upload('pics/a.txt')).status, 403);
    assert.equal((await upload('../escape.txt', `http://127.0.0.1:${host.port}`)).status, 400);
    const ok2 = await upload('pics/a.txt', `http://127.0.0.1:${host.port}`);
    assert.equal(ok2.status, 200);
    const staged = (JSON.parse(ok2.body) as { value: { path: string } }).value.path;
    assert.equal(staged, join(dir.path, 'staging', '0123456789abcdef', 'pics'));
    assert.equal(await readFile(join(staged, 'a.txt'), 'utf8'), 'dropped\n');
    // The engine could not reach the rendezvous: the host stays up and says what to do.
    const client = await connect(host.url);
    const state = await client.ok('app.getState');
    assert.equal(state.engine.state, 'error');
    assert.match(state.engine.error?.message ?? '', /rendezvous/i);
    const r = await client.call('pairing.createInvite');
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'NOT_RUNNING');
    client.close();
  } finally {
    await host.close();
    await dir.remove();
  }
});

test('two hosts pair, send, accept and complete through the contract; errors come back as data', async () => {
  const dir = await tempDir();
  const rendezvous = await startRendezvous({ host: '127.0.0.1', port: 0 });
  const open = (name: string) => openHeadless({
    dataDir: join(dir.path, name, 'data'),
    settings: { name, rendezvous: [rendezvous.url], discovery: false, downloadDir: join(dir.path, name, 'downloads') },
  });
  const [alice, bob] = [await open('Alice'), await open('Bob')];
  const [a, b] = [await connect(alice.url), await connect(bob.url)];
  try {
    const bad = await a.call('transfers.send', { peerId: 'nope', paths: [] });
    assert.deepEqual(bad.ok ? null : bad.error.code, 'BAD_REQUEST');
    const unknown = await a.call('nope' as CommandName);
    assert.deepEqual(unknown.ok ? null : unknown.error.code, 'UNKNOWN_COMMAND');

    const invite = await a.ok('pairing.createInvite');
    assert.equal(invite.link, `postern://pair/${invite.code}`);
    const paired = await b.ok('pairing.pairWithCode', { code: invite.link });
    assert.equal(paired.name, 'Alice');
    const inviteDone = await a.event('pairing.invite', (i) => i.state === 'paired');
    assert.equal(inviteDone.pairedWith?.name, 'Bob');
    const peers = await a.event('peers.changed', (p) => p.some((x) => x.name === 'Bob' && x.paired));
    assert.equal(peers[0]?.connection?.state, 'connected');

    const src = join(dir.path, 'src');
    await mkdir(src);
    await writeFile(join(src, 'hello.txt'), 'hello bob\n');
    const sent = await a.ok('transfers.send', { peerId: bob.service.state().self.peerId, paths: [src] });
    const offer = await b.event('transfers.offer', (o) => o.transfer.id === sent.id);
    assert.equal(offer.fileCount, 1);
    await b.ok('transfers.accept', { id: sent.id });
    await b.event('transfers.updated', (t) => t.id === sent.id && t.state === 'completed');
    const got = await readFile(join(dir.path, 'Bob', 'downloads', 'src', 'hello.txt'));
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update('hello bob\n').digest('hex'));
    const shown = await b.ok('transfers.showInFolder', { id: sent.id });
    assert.deepEqual(shown, { opened: false, path: join(dir.path, 'Bob', 'downloads', 'src') });

    const set = await b.ok('settings.set', { name: 'Bobby' });
    assert.equal(set.restarted, false);
    const badPort = await b.call('settings.set', { listenPort: 99999 });
    assert.equal(!badPort.ok && badPort.error.code, 'BAD_REQUEST');
  } finally {
    a.close();
    b.close();
    await Promise.all([alice.close(), bob.close()]);
    await rendezvous.close();
    await dir.remove();
  }
});
