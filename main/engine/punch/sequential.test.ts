import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHopelessPair, hopelessReason } from './prediction.js';
import { isSequential, sprayTargets, stepOf, SEQ_PREDICTIONS, SPRAY_FLOWS } from './sequential.js';
import { punchMode } from './udp-punch-tier.js';

const eim = { mapping: 'endpoint-independent', allocation: 'preserving' };
const seq = { mapping: 'address-and-port-dependent', allocation: 'sequential', portDelta: 1 };
const rnd = { mapping: 'address-and-port-dependent', allocation: 'random' };

test('hopeless pairs: random facing any per-destination NAT; never when one side is endpoint-independent', () => {
  assert.equal(isHopelessPair(rnd, rnd), true);
  assert.equal(isHopelessPair(rnd, seq), true);
  assert.equal(isHopelessPair(seq, rnd), true);
  assert.equal(isHopelessPair(seq, seq), false);
  assert.equal(isHopelessPair(rnd, eim), false);
  assert.equal(isHopelessPair(eim, rnd), false);
  assert.equal(isHopelessPair(rnd, undefined), false);
  assert.equal(isHopelessPair(rnd, { mapping: 'unknown', allocation: 'unknown' }), false);
  assert.match(hopelessReason(rnd, rnd), /both routers pick a new random port/);
  assert.match(hopelessReason(seq, rnd), /one of them at random/);
});

test('punch modes by the two NATs and the role', () => {
  assert.equal(punchMode(eim, eim), 'normal');
  assert.equal(punchMode(seq, eim), 'normal');
  assert.equal(punchMode(eim, seq), 'normal');
  assert.equal(punchMode(rnd, eim), 'hard');
  assert.equal(punchMode(eim, rnd), 'easy');
  assert.equal(punchMode(seq, seq, 'requester'), 'spray');
  assert.equal(punchMode(seq, seq, 'responder'), 'passive');
});

test('sequential hints and steps', () => {
  assert.equal(isSequential(seq), true);
  assert.equal(isSequential(eim), false);
  assert.equal(isSequential({ mapping: 'endpoint-independent', allocation: 'sequential' }), false);
  assert.equal(stepOf(seq), 1);
  assert.equal(stepOf({ ...seq, portDelta: 2 }), 2);
  assert.equal(stepOf({ ...seq, portDelta: 0 }), 1);
  assert.equal(stepOf(undefined), 1);
});

/**
 * A model of two sequential NATs (each hands the next port to every new
 * destination, step `step`) running the protocol of sequential.ts: A measures and
 * predicts, opens `extra` other flows, B reserves towards A's predictions, A
 * sprays. A flow pair meets when A's flow goes to B's port that faces exactly A's
 * port of that flow.
 */
function meets(extra: number, step: number): boolean {
  let aNext = 30000; // A's counter: the port the next new flow gets
  let bNext = 41000;
  const aMeasured = aNext; aNext += step; // the fresh binding takes one
  const predictions = Array.from({ length: SEQ_PREDICTIONS }, (_, i) => aMeasured + (i + 1) * step);
  aNext += extra * step; // other tiers' flows in between
  // B reserves towards each prediction in order: its port facing A's port p.
  const facing = new Map<number, number>();
  const reserved = predictions.map((p) => { const port = bNext; bNext += step; facing.set(p, port); return { host: 'b', port }; });
  const spray = sprayTargets(reserved);
  for (const t of spray) {
    const aPort = aNext; aNext += step;
    if (facing.get(aPort) === t.port) return true;
  }
  return false;
}

test('the spray meets a reservation for every number of flows opened in between, up to SPRAY_FLOWS − 1', () => {
  for (const step of [1, 2, -1]) {
    for (let extra = 0; extra < SPRAY_FLOWS; extra++) assert.equal(meets(extra, step), true, `step ${step}, ${extra} extra flows`);
    assert.equal(meets(SPRAY_FLOWS + 1, step), false, 'beyond the window nothing can line up');
  }
  assert.equal(sprayTargets([]).length, 0);
  assert.equal(sprayTargets(Array.from({ length: SEQ_PREDICTIONS }, (_, i) => ({ host: 'b', port: i + 1 }))).length, SPRAY_FLOWS);
});

test('tcp-punch candidates: the observed mapping, or behind a sequential NAT the ports after it', async () => {
  const { mappingCandidates, TCP_PREDICTIONS } = await import('./tcp-punch-tier.js');
  const m = { localPort: 40000, observed: { ip: '80.16.0.2', port: 20100 }, release: () => undefined };
  assert.deepEqual(mappingCandidates(m, ['192.168.0.101'], eim), [{ ip: '80.16.0.2', port: 20100 }, { ip: '192.168.0.101', port: 40000 }]);
  const s = mappingCandidates(m, ['192.168.0.101'], { ...seq, portDelta: 2 });
  assert.equal(s.length, TCP_PREDICTIONS + 1);
  assert.deepEqual(s.slice(0, 3), [{ ip: '80.16.0.2', port: 20102 }, { ip: '80.16.0.2', port: 20104 }, { ip: '80.16.0.2', port: 20106 }]);
  assert.deepEqual(s.at(-1), { ip: '192.168.0.101', port: 40000 });
});
