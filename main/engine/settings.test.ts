import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SettingsStore, defaultSettings, nodeOptions } from './settings.js';
import { needsRestart, SettingsPatchSchema } from '../../shared/domain/settings.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-settings-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a fresh data dir gets the defaults, and an update is saved and read back', () => withDir(async (dir) => {
  const store = await SettingsStore.open(dir);
  assert.deepEqual(store.get(), defaultSettings());
  await store.update({ name: 'Alice', listenPort: 41000, rendezvous: ['ws://127.0.0.1:47470', 'ws://127.0.0.1:47470'] });
  const again = await SettingsStore.open(dir);
  assert.equal(again.get().name, 'Alice');
  assert.equal(again.get().listenPort, 41000);
  assert.deepEqual(again.get().rendezvous, ['ws://127.0.0.1:47470'], 'duplicates dropped');
  assert.deepEqual(again.problems, []);
}));

test('invalid values are refused with a message that says what to fix', () => withDir(async (dir) => {
  const store = await SettingsStore.open(dir);
  await assert.rejects(store.update({ listenPort: 70000 }), (err: Error & { code?: string }) => err.code === 'BAD_SETTINGS' && /65535/.test(err.message));
  await assert.rejects(store.update({ rendezvous: ['http://example.org'] }), /ws:\/\//);
  await assert.rejects(store.update({ name: '  ' }), /name/);
  await assert.rejects(store.update({ downloadDir: 'relative/dir' }), /full path/);
  await assert.rejects(store.update({ bogus: 1 } as never), (err: Error & { code?: string }) => err.code === 'BAD_SETTINGS');
  assert.deepEqual(store.get(), defaultSettings(), 'nothing was saved');
}));

test('a damaged file keeps its valid fields and reports the rest', () => withDir(async (dir) => {
  await writeFile(join(dir, 'settings.json'), JSON.stringify({ name: 'Bob', listenPort: 'eighty', discovery: false, unknown: 1 }));
  const store = await SettingsStore.open(dir);
  assert.equal(store.get().name, 'Bob');
  assert.equal(store.get().discovery, false);
  assert.equal(store.get().listenPort, 0);
  assert.equal(store.problems.length, 1);
  assert.match(store.problems[0] ?? '', /listenPort/);
  await writeFile(join(dir, 'settings.json'), '{ not json');
  const broken = await SettingsStore.open(dir);
  assert.deepEqual(broken.get(), defaultSettings());
  assert.match(broken.problems[0] ?? '', /could not be read/);
}));

test('node options follow the settings; port, rendezvous, discovery and tiers need a restart', () => withDir(async (dir) => {
  const store = await SettingsStore.open(dir);
  const s = await store.update({ disabledTiers: ['lan'], rendezvous: ['ws://127.0.0.1:1'] });
  const opts = nodeOptions(dir, s, { discovery: false });
  assert.deepEqual([...(opts.knobs?.disabledTiers ?? [])], ['lan']);
  assert.deepEqual(opts.rendezvous, ['ws://127.0.0.1:1']);
  assert.equal(opts.discovery, false);
  assert.equal(needsRestart(s, { ...s, name: 'x', downloadDir: '/tmp' }), false);
  assert.equal(needsRestart(s, { ...s, listenPort: 1 }), true);
  assert.ok(JSON.parse(await readFile(join(dir, 'settings.json'), 'utf8')).disabledTiers.includes('lan'));
}));

test('peer relay is off by default, persists when turned on, and survives patches of other settings', () => withDir(async (dir) => {
  // A settings.json from before the setting existed.
  await writeFile(join(dir, 'settings.json'), JSON.stringify({ name: 'Carol' }));
  const store = await SettingsStore.open(dir);
  assert.equal(store.get().peerRelay, false);
  assert.deepEqual(store.problems, []);
  assert.equal(nodeOptions(dir, store.get()).peerRelay, undefined);

  const before = store.get();
  // What the settings.set command does with a request: parse it with the contract's schema, then update.
  const on = await store.update(SettingsPatchSchema.parse({ peerRelay: true }));
  assert.equal(on.peerRelay, true);
  assert.equal(needsRestart(before, on), true, 'the engine restarts to start or stop relaying');
  assert.equal(JSON.parse(await readFile(join(dir, 'settings.json'), 'utf8')).peerRelay, true);

  // A patch that does not mention it (the port wizard saves only the port) leaves it on.
  await store.update(SettingsPatchSchema.parse({ listenPort: 41000 }));
  const again = await SettingsStore.open(dir);
  assert.equal(again.get().peerRelay, true);
  assert.equal(again.get().listenPort, 41000);
  assert.equal(nodeOptions(dir, again.get()).peerRelay, true);

  await again.update(SettingsPatchSchema.parse({ peerRelay: false }));
  assert.equal((await SettingsStore.open(dir)).get().peerRelay, false);
}));
