/**
 * The TURN variant of tier `server-relay` with the real CLI against real coturn:
 * two random symmetric NATs (no hole punch can meet) connect through coturn over
 * UDP, and a host whose network drops UDP reaches the TURN server over TCP. The
 * rendezvous does not relay here, so TURN is the only way through. Needs root,
 * the lab's tools and turnserver (skipped otherwise).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Lab, labUnavailable } from './lab.js';
import { startRendezvous, transfer, type Rendezvous } from './transfer.js';
import { startCoturn, turnserverMissing } from './coturn.js';

const skip = (await labUnavailable()) ?? turnserverMissing();
if (skip) console.log(`# TURN tier lab tests skipped: ${skip}`);
const TURN_PORT = 3490;

describe('server-relay through coturn (TURN)', { skip: skip ?? false }, () => {
  let lab: Lab | undefined;
  let rv: Rendezvous | undefined;
  before(async () => {
    lab = await Lab.up({
      sites: [
        { name: 's', nat: 'symmetric' },
        { name: 't', nat: 'symmetric' },
        { name: 'u', nat: 'port-restricted', udpBlocked: true },
      ],
      reflector: false,
    });
    await startCoturn(lab, 'tier', TURN_PORT, 52000, ['--lt-cred-mech', '--user=postern:lab-secret-1']);
    rv = await startRendezvous(lab);
  });
  after(async () => {
    rv?.stop();
    await lab?.down();
  });
  const turnArgs = (transport: 'udp' | 'tcp') => ['--turn', `${lab?.serverAddresses[1]}:${TURN_PORT}/${transport}`, '--turn-user', 'postern', '--turn-pass', 'lab-secret-1'];

  test('symmetric ↔ symmetric through TURN over UDP', async () => {
    if (!lab || !rv) throw new Error('lab did not come up');
    const res = await transfer(lab, { from: 's1', to: 't1', rendezvous: rv.url, bytes: 4 << 20, timeoutMs: 60_000, sendArgs: turnArgs('udp'), receiveArgs: turnArgs('udp') });
    assert.equal(res.reason, undefined);
    assert.equal(res.tier, 'server-relay');
    assert.equal(res.sha256Match, true);
    const attempts = res.receive.events.filter((e) => e.event === 'attempt' && e.tier === 'server-relay' && e.state === 'ok');
    assert.match(String(attempts[0]?.target ?? attempts[0]?.reason), /TURN|connected/);
  });

  test('UDP blocked: TURN over TCP to the server', async () => {
    if (!lab || !rv) throw new Error('lab did not come up');
    const res = await transfer(lab, { from: 's1', to: 'u1', rendezvous: rv.url, bytes: 2 << 20, timeoutMs: 60_000, sendArgs: turnArgs('udp'), receiveArgs: turnArgs('tcp') });
    assert.equal(res.reason, undefined);
    assert.equal(res.tier, 'server-relay');
    assert.equal(res.sha256Match, true);
  });
});
