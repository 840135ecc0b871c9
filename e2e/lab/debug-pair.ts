/**
 * Debugging aid: one transfer between two lab sites with engine logs.
 *   POSTERN_DEBUG=1 node --import tsx e2e/lab/debug-pair.ts SENDER_NAT RECEIVER_NAT [--relay]
 * Prints both sides' stderr (the engine's log) and the result.
 */
import { Lab } from './lab.js';
import { parseBehaviour } from './spec.js';
import { startRendezvous, transfer } from './transfer.js';

const [a = 'port-restricted', b = 'port-restricted'] = process.argv.slice(2).filter((x) => !x.startsWith('--'));
const relay = process.argv.includes('--relay');
const lab = await Lab.up({ sites: [{ name: 'a', ...parseBehaviour(a) }, { name: 'b', ...parseBehaviour(b) }], reflector: false, latencyMs: 25 });
try {
  const rv = await startRendezvous(lab, relay ? { relay: true } : {});
  const r = await transfer(lab, { from: 'a1', to: 'b1', rendezvous: rv.url, bytes: 1 << 20, timeoutMs: 45_000, env: { POSTERN_DEBUG: '1', ...(process.env.POSTERN_USE_DIST ? { POSTERN_USE_DIST: '1' } : {}) } });
  console.log('--- send stderr\n' + r.send.stderr + '\n--- receive stderr\n' + r.receive.stderr);
  console.log(JSON.stringify({ tier: r.tier, connectMs: r.connectMs, reason: r.reason }));
  rv.stop();
} finally {
  await lab.down();
}
