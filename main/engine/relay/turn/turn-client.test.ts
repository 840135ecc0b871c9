/**
 * The TURN client against the test server on 127.0.0.1 (test-turn-server.ts):
 * the 401 → credentials flow over UDP and TCP, wrong passwords, 438 retries,
 * responses with bad integrity ignored, UDP retransmission, error codes,
 * refresh/permission/channel timers, deallocation, a dropped TCP connection,
 * and REST-API credentials.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { TURN_METHOD } from '../../../wire/turn.js';
import { restCredentials, restExpiry, restPassword } from './credentials.js';
import { TestTurnServer } from './test-turn-server.js';
import { TurnClient, TurnError, type TurnClientOptions } from './turn-client.js';

let server: TestTurnServer;
const creds = { username: 'alice', password: 'pw' };
before(async () => {
  server = await new TestTurnServer({ alice: 'pw' }).start();
});
after(async () => {
  await server.stop();
});

const opts = (transport: 'udp' | 'tcp', extra: Partial<TurnClientOptions> = {}): TurnClientOptions => ({
  server: { host: '127.0.0.1', port: transport === 'udp' ? server.udpPort : server.tcpPort, transport },
  credentials: creds, rtoMs: 50, maxTransmits: 4, lastWaitFactor: 4, tcpTimeoutMs: 1000, ...extra,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const transport of ['udp', 'tcp'] as const) {
  test(`${transport}: allocate after a 401, relayed and mapped addresses, deallocate on close`, async () => {
    const before = server.allocations.size;
    const c = await TurnClient.allocate(opts(transport));
    assert.equal(c.transportKind, transport);
    assert.equal(c.relayed.ip, '127.0.0.1');
    assert.ok(c.relayed.port > 0);
    assert.equal(c.mapped?.ip, '127.0.0.1');
    assert.equal(c.lifetimeSec, 600);
    assert.equal(server.allocations.size, before + 1);
    await c.close();
    assert.equal(c.isClosed, true);
    const last = server.requests(TURN_METHOD.REFRESH).at(-1);
    assert.equal(last?.lifetime, 0);
    assert.equal(server.allocations.size, before);
  });
}

test('a wrong password: TURN_UNAUTHORIZED after exactly one authenticated try', async () => {
  const n = server.log.length;
  await assert.rejects(TurnClient.allocate({ ...opts('udp'), credentials: { username: 'alice', password: 'nope' } }), (err: TurnError) => {
    assert.equal(err.code, 'TURN_UNAUTHORIZED');
    assert.equal(err.status, 401);
    return true;
  });
  // One without credentials (401 with the nonce), one with the wrong key (401 again with the same nonce), no third.
  assert.equal(server.log.slice(n).filter((l) => l.method === TURN_METHOD.ALLOCATE).length, 2);
});

test('438 Stale Nonce is retried with the new nonce, even twice in a row', async () => {
  const c = await TurnClient.allocate(opts('udp'));
  server.staleNext = 2;
  await c.createPermission(['127.0.0.2']);
  assert.equal(server.staleNext, 0);
  assert.deepEqual(server.requests(TURN_METHOD.CREATE_PERMISSION).at(-1)?.peers, ['127.0.0.2|0']);
  await c.close();
});

test('lost requests are retransmitted over UDP', async () => {
  server.dropNext = 2;
  const c = await TurnClient.allocate(opts('udp'));
  assert.equal(server.dropNext, 0);
  await c.close();
});

test('a response with a wrong MESSAGE-INTEGRITY is treated as not received', async () => {
  const c = await TurnClient.allocate(opts('udp'));
  server.corruptIntegrity = true;
  try {
    await assert.rejects(c.createPermission(['127.0.0.3']), /TURN_TIMEOUT|did not answer/);
  } finally {
    server.corruptIntegrity = false;
  }
  await c.close();
});

test('error codes become TURN_* errors with the status: 486 quota, 508 capacity, 403', async () => {
  for (const [code, name] of [[486, 'TURN_QUOTA'], [508, 'TURN_CAPACITY'], [403, 'TURN_FORBIDDEN']] as const) {
    server.failMethod = { method: TURN_METHOD.ALLOCATE, code, reason: 'injected' };
    try {
      await assert.rejects(TurnClient.allocate(opts('tcp')), (err: TurnError) => err.code === name && err.status === code && /injected/.test(err.message));
    } finally {
      server.failMethod = undefined;
    }
  }
});

test('refresh at half the lifetime; permissions and channels refreshed on their timers', async () => {
  server.maxLifetime = 2;
  try {
    const c = await TurnClient.allocate(opts('udp', { permissionRefreshMs: 300, channelRefreshMs: 400 }));
    assert.equal(c.lifetimeSec, 2);
    const start = Date.now();
    await c.createPermission(['127.0.0.4']);
    const ch = await c.bindChannel('127.0.0.4', 9999);
    assert.ok(ch >= 0x4000 && ch <= 0x4fff);
    assert.equal(c.channelFor('127.0.0.4', 9999), ch);
    assert.equal(await c.bindChannel('127.0.0.4', 9999), ch, 'binding the same peer twice gives the same channel');
    await sleep(2300);
    const since = (m: number) => server.requests(m).filter((l) => l.at >= start);
    assert.ok(since(TURN_METHOD.REFRESH).length >= 2, `refreshes: ${since(TURN_METHOD.REFRESH).length}`);
    assert.ok(since(TURN_METHOD.CREATE_PERMISSION).length >= 6, `permission refreshes: ${since(TURN_METHOD.CREATE_PERMISSION).length}`);
    assert.ok(since(TURN_METHOD.CHANNEL_BIND).filter((l) => l.channel === ch).length >= 5);
    assert.equal(c.isClosed, false);
    await c.close();
  } finally {
    server.maxLifetime = 600;
  }
});

test('a refresh answered with 437 (without integrity, as coturn sends it) ends the client with TURN_ALLOCATION_MISMATCH', async () => {
  server.maxLifetime = 1;
  try {
    const c = await TurnClient.allocate(opts('udp'));
    const closed = c.events.waitFor('closed', () => true, 3000);
    server.failMethod = { method: TURN_METHOD.REFRESH, code: 437, reason: 'gone', unsigned: true };
    const { error } = await closed;
    assert.equal(error?.code, 'TURN_ALLOCATION_MISMATCH');
  } finally {
    server.failMethod = undefined;
    server.maxLifetime = 600;
  }
});

test('a dropped TCP connection closes the client (the allocation is gone with it)', async () => {
  const c = await TurnClient.allocate(opts('tcp'));
  const closed = c.events.waitFor('closed', () => true, 3000);
  server.dropTcp();
  const { error } = await closed;
  assert.equal(error?.code, 'TURN_CLOSED');
  assert.equal(c.send('127.0.0.1', 1, Buffer.from('x')), false);
});

test('REST-API credentials: expiry:user, base64 HMAC-SHA1 of the username', () => {
  const now = Date.UTC(2030, 0, 1);
  const c = restCredentials('s3cret', 'bob', 3600, now);
  assert.equal(c.username, `${now / 1000 + 3600}:bob`);
  assert.equal(c.password, createHmac('sha1', 's3cret').update(c.username).digest('base64'));
  assert.equal(c.password, restPassword('s3cret', c.username));
  assert.equal(c.expiresAt, now / 1000 + 3600);
  assert.equal(restCredentials('s3cret', '', 60, now).username, String(now / 1000 + 60));
  assert.equal(restExpiry(c.username), now / 1000 + 3600);
  assert.equal(restExpiry('alice'), undefined);
});
