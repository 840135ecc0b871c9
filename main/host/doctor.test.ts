/**
 * The doctor's commands through the contract, on a host with a loopback
 * rendezvous (so the port mapper is off and no router is ever asked): the
 * report, the dial-back, the wizard's facts, the redacted report, the event,
 * and a fixed port from the wizard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startRendezvous } from '../rendezvous/server.js';
import { tempDir } from '../engine/test/harness.js';
import { openHeadless } from './host.js';
import { createHandlers } from './handlers.js';
import { dispatch } from './dispatch.js';
import type { CommandName, CommandResponse, EventName, EventPayload } from '../../shared/ipc/contract.js';

test('doctor.run, doctor.checkReachability, wizard.facts and doctor.copyReport on a running host', async () => {
  const dir = await tempDir();
  const rendezvous = await startRendezvous({ host: '127.0.0.1', port: 0 });
  const host = await openHeadless({ dataDir: join(dir.path, 'data'), settings: { name: 'Alice Example', rendezvous: [rendezvous.url], discovery: false } });
  const handlers = createHandlers(host.service);
  const call = async <K extends CommandName>(name: K, req: unknown = {}): Promise<CommandResponse<K>> => {
    const r = await dispatch(handlers, name, req);
    if (!r.ok) throw new Error(`${name}: ${r.error.code} ${r.error.message}`);
    return r.value as CommandResponse<K>;
  };
  const events: { name: EventName; payload: unknown }[] = [];
  host.service.addSink((name, payload) => events.push({ name, payload }));
  const nextEvent = <K extends EventName>(name: K, match: (p: EventPayload<K>) => boolean) => new Promise<EventPayload<K>>((resolve) => {
    const timer = setInterval(() => {
      const e = events.find((x) => x.name === name && match(x.payload as EventPayload<K>));
      if (e) { clearInterval(timer); resolve(e.payload as EventPayload<K>); }
    }, 20);
  });
  try {
    const node = host.service.requireNode();
    await node.natReady;
    const report = await call('doctor.run');
    assert.equal(report.listening.tcpPort, node.listenPort);
    assert.equal(report.listening.fixed, false);
    assert.equal(report.gateway.asked, false, 'no router is asked with a loopback rendezvous');
    assert.match(report.gateway.note, /loopback/);
    assert.equal(report.rendezvous.connected, true);
    assert.equal(report.reachability, null);
    assert.ok(report.findings.some((f) => f.key === 'port-random'));

    const reach = await call('doctor.checkReachability');
    assert.equal(reach.ok, true, JSON.stringify(reach));
    assert.equal(reach.tcp?.state, 'reachable');
    assert.equal(reach.tcp?.port, node.listenPort);
    assert.equal(reach.udp?.state, 'reachable', 'the node answers the UDP probe');
    const pushed = await nextEvent('doctor.report', (r) => r.reachability?.ok === true);
    assert.match(pushed.summary, /can connect straight to this computer/);

    const facts = await call('wizard.facts');
    assert.equal(facts.fixedPort, false);
    assert.equal(facts.suggestedPort, node.listenPort);
    assert.equal(facts.tcpPort, node.listenPort);
    assert.equal(facts.reachability?.ok, true);

    const copy = await call('doctor.copyReport');
    assert.ok(!copy.combined.includes('Alice Example'), 'no device name');
    assert.ok(!copy.combined.includes(node.peerId), 'no peer ID');
    assert.ok(copy.text.includes('Redacted for support'));
    assert.equal((JSON.parse(copy.json) as { report: { listening: { tcpPort: number } } }).report.listening.tcpPort, node.listenPort);

    // The wizard's "keep this port": the engine restarts on it, and an old check no longer counts.
    const port = node.listenPort;
    const set = await call('settings.set', { listenPort: port });
    assert.equal(set.restarted, true);
    const after = await call('wizard.facts');
    assert.equal(after.fixedPort, true);
    assert.equal(after.tcpPort, port);
    assert.equal(after.reachability, null);
    const checked = await call('doctor.run', { checkReachability: true });
    assert.equal(checked.reachability?.tcp?.port, port);
    assert.equal(checked.reachability?.ok, true);

    const bad = await dispatch(handlers, 'doctor.run', { checkReachability: 'yes' });
    assert.equal(!bad.ok && bad.error.code, 'BAD_REQUEST');
  } finally {
    await host.close();
    await rendezvous.close();
    await dir.remove();
  }
});
