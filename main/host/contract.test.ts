import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_NAMES, EVENT_NAMES, commands, isCommandName } from '../../shared/ipc/contract.js';
import { BridgeError, commandChannel, unwrap } from '../../shared/ipc/bridge.js';

test('names are domain.action, unique, and make the Electron channels', () => {
  for (const name of [...COMMAND_NAMES, ...EVENT_NAMES]) assert.match(name, /^[a-z]+\.[a-zA-Z]+$/);
  assert.equal(new Set(COMMAND_NAMES).size, COMMAND_NAMES.length);
  assert.equal(commandChannel('transfers.send'), 'postern:cmd:transfers.send');
  assert.equal(isCommandName('transfers.send'), true);
  assert.equal(isCommandName('toString'), false, 'prototype keys are not commands');
});

test('request schemas refuse what the UI should never send', () => {
  const peerId = 'a'.repeat(52);
  assert.equal(commands['transfers.send'].request.safeParse({ peerId, paths: ['/tmp/x'] }).success, true);
  assert.equal(commands['transfers.send'].request.safeParse({ peerId, paths: [] }).success, false);
  assert.equal(commands['transfers.send'].request.safeParse({ peerId, paths: ['/x'], extra: 1 }).success, false);
  assert.equal(commands['transfers.accept'].request.safeParse({ id: '../etc' }).success, false);
  assert.equal(commands['app.getState'].request.safeParse({}).success, true);
  assert.equal(commands['app.getState'].request.safeParse({ x: 1 }).success, false);
  assert.equal(commands['settings.set'].request.safeParse({ listenPort: 80 }).success, true);
  assert.equal(commands['settings.set'].request.safeParse({ listenPort: -1 }).success, false);
});

test('unwrap returns the value or throws the error with its code', () => {
  assert.equal(unwrap({ ok: true, value: 3 }), 3);
  assert.throws(() => unwrap({ ok: false, error: { code: 'PEER_OFFLINE', message: 'offline' } }), (err: BridgeError) => err.code === 'PEER_OFFLINE' && err.message === 'offline');
});
