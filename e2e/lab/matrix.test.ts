/** The matrix report's markdown (pure; no root needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toMarkdown, type MatrixReport } from './matrix.js';

test('matrix markdown: one row per sender, reasons listed, pipes escaped', () => {
  const report: MatrixReport = {
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', behaviours: ['public', 'symmetric'],
    bytes: 20 << 20, timeoutMs: 60_000, link: { latencyMs: 10 },
    cells: [
      { sender: 'public', receiver: 'public', tier: 'direct', connectMs: 12, bytesPerSec: 50e6 },
      { sender: 'public', receiver: 'symmetric', tier: 'reverse', connectMs: 40, bytesPerSec: 20e6 },
      { sender: 'symmetric', receiver: 'public', tier: 'failed', reason: 'timeout', tierSeen: 'direct' },
      { sender: 'symmetric', receiver: 'symmetric', tier: 'failed', reason: 'receive: ALL_TIERS_FAILED: a | b' },
    ],
  };
  const md = toMarkdown(report);
  assert.match(md, /20\.0 MiB per transfer, 60 s timeout per cell; link: latency 10 ms/);
  assert.match(md, /\| sender \\ receiver \| public \| symmetric \|\n\|---\|---\|---\|/);
  assert.match(md, /\| public \| \*\*direct\*\* · 12 ms · 50\.0 MB\/s \| \*\*reverse\*\* · 40 ms · 20\.0 MB\/s \|/);
  assert.match(md, /\| symmetric \| failed \(after direct\): timeout \| failed: receive: ALL_TIERS_FAILED: a \\\| b \|/);
  assert.match(md, /- symmetric → public \(reached direct\): timeout/);
});
