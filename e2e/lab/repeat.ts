/**
 * First-attempt statistics: the same transfer between two sites N times
 * (`npm run lab -- repeat --pair port-restricted,symmetric --runs 30`). A run
 * succeeds on the first attempt when it connects on its first ladder climb,
 * without a tier being tried twice, and the file arrives intact. Conntrack is
 * flushed between runs, so every run starts from cold NATs. Writes a JSON and
 * a markdown summary into .lab-results/ (gitignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, REPO_ROOT } from './lab.js';
import { formatBehaviour, parseBehaviour, type LinkShape } from './spec.js';
import { startRendezvous, transfer, type TransferResult } from './transfer.js';

export interface RepeatOptions extends LinkShape {
  sender: string;
  receiver: string;
  runs: number;
  bytes?: number;
  timeoutMs?: number;
  relay?: boolean;
  outDir?: string;
  log?: (line: string) => void;
}

export interface RepeatRun {
  ok: boolean;
  firstAttempt: boolean;
  tier: string;
  connectMs?: number;
  reason?: string;
}

export interface RepeatReport {
  startedAt: string;
  sender: string;
  receiver: string;
  link: LinkShape;
  runs: RepeatRun[];
  summary: { runs: number; ok: number; firstAttempt: number; firstAttemptRate: number; tiers: Record<string, number>; medianConnectMs: number | null };
}

/** Whether a tier was tried more than once in one run (a retry, not a first attempt). */
function retried(r: TransferResult): boolean {
  const tries = new Map<string, number>();
  for (const e of r.receive.events) {
    if (e.event !== 'attempt' || e.state !== 'trying' || typeof e.tier !== 'string') continue;
    tries.set(e.tier, (tries.get(e.tier) ?? 0) + 1);
  }
  return [...tries.values()].some((n) => n > 1);
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : Math.round(((s[m - 1] as number) + (s[m] as number)) / 2);
}

export function summarize(runs: RepeatRun[]): RepeatReport['summary'] {
  const tiers: Record<string, number> = {};
  for (const r of runs) tiers[r.tier] = (tiers[r.tier] ?? 0) + 1;
  const firstAttempt = runs.filter((r) => r.firstAttempt).length;
  return {
    runs: runs.length,
    ok: runs.filter((r) => r.ok).length,
    firstAttempt,
    firstAttemptRate: runs.length ? firstAttempt / runs.length : 0,
    tiers,
    medianConnectMs: median(runs.filter((r) => r.ok && r.connectMs !== undefined).map((r) => r.connectMs as number)),
  };
}

export async function runRepeat(o: RepeatOptions): Promise<{ report: RepeatReport; markdown: string; jsonPath: string }> {
  const log = o.log ?? (() => undefined);
  const link: LinkShape = {
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
    ...(o.rateMbit !== undefined ? { rateMbit: o.rateMbit } : {}),
    ...(o.lossPct !== undefined ? { lossPct: o.lossPct } : {}),
  };
  const a = parseBehaviour(o.sender);
  const b = parseBehaviour(o.receiver);
  const report: RepeatReport = {
    startedAt: new Date().toISOString(), sender: formatBehaviour(a), receiver: formatBehaviour(b), link, runs: [],
    summary: summarize([]),
  };
  const lab = await Lab.up({ sites: [{ name: 'a', ...a }, { name: 'b', ...b }], reflector: false, ...link, log });
  try {
    const rv = await startRendezvous(lab, o.relay ? { relay: true } : {});
    const routers = ['a', 'b'].flatMap((s) => [s, ...(lab.site(s).cgnNs ? [`cgn:${s}`] : [])]);
    try {
      for (let i = 0; i < o.runs; i++) {
        await Promise.all(routers.map((r) => lab.execRouter(r, 'conntrack', ['-F'])));
        const t = await transfer(lab, { from: 'a1', to: 'b1', rendezvous: rv.url, bytes: o.bytes ?? 1 << 20, timeoutMs: o.timeoutMs ?? 45_000 });
        const ok = t.ok && t.tier !== 'failed';
        const run: RepeatRun = {
          ok, firstAttempt: ok && !retried(t), tier: t.tier,
          ...(t.connectMs !== undefined ? { connectMs: t.connectMs } : {}),
          ...(t.reason ? { reason: t.reason } : {}),
        };
        report.runs.push(run);
        log(`run ${i + 1}/${o.runs}: ${run.tier}${run.connectMs !== undefined ? ` ${run.connectMs} ms` : ''}${run.firstAttempt ? '' : ' (not first attempt)'}${run.reason ? `: ${run.reason.slice(0, 160)}` : ''}`);
      }
    } finally {
      rv.stop();
    }
  } finally {
    await lab.down();
  }
  report.summary = summarize(report.runs);
  const s = report.summary;
  const markdown = [
    `# ${report.sender} → ${report.receiver}, ${s.runs} runs (${report.startedAt})`,
    '',
    `- first-attempt success: ${s.firstAttempt}/${s.runs} (${(100 * s.firstAttemptRate).toFixed(1)}%)`,
    `- succeeded at all: ${s.ok}/${s.runs}`,
    `- tiers: ${Object.entries(s.tiers).map(([t, n]) => `${t} ×${n}`).join(', ')}`,
    `- median connect: ${s.medianConnectMs ?? '–'} ms`,
    ...report.runs.filter((r) => !r.firstAttempt).map((r) => `- not first attempt: ${r.tier}${r.reason ? `: ${r.reason}` : ''}`),
  ].join('\n') + '\n';
  const outDir = o.outDir ?? join(REPO_ROOT, '.lab-results');
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, `repeat-${report.sender}-${report.receiver}-${report.startedAt.replace(/[:.]/g, '-')}.json`.replace(/\+/g, '_'));
  writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  return { report, markdown, jsonPath };
}
