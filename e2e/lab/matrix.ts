/**
 * The matrix: postern send -> postern receive between every ordered pair of
 * site behaviours (so both directions), one transfer per cell, each with a
 * timeout. Reports the connection tier reached, the connect time, the
 * throughput of the transfer, and the failure reason; prints a markdown table
 * and writes it and the JSON into .lab-results/ (gitignored).
 *
 * Each behaviour gets two sites (x<i> and y<i>) so a behaviour can meet itself
 * across two different NATs. Conntrack tables are flushed between cells so no
 * cell inherits another's mappings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { Lab, REPO_ROOT } from './lab.js';
import { formatBehaviour, parseBehaviour, type LinkShape, type SiteSpec } from './spec.js';
import { startRendezvous, transfer, type Rendezvous } from './transfer.js';

export const DEFAULT_BEHAVIOURS = [
  'public',
  'full-cone',
  'restricted-cone',
  'port-restricted',
  'symmetric',
  'port-restricted+cgnat',
  'port-restricted+upnp+natpmp+pcp',
  'port-restricted+udp-blocked',
];

export interface MatrixOptions extends LinkShape {
  behaviours: string[];
  /** Bytes per transfer (default 20 MiB). */
  bytes?: number;
  /** Per cell (default 60 s). */
  timeoutMs?: number;
  outDir?: string;
  /** The postern command (default: this Node running bin/postern.js). */
  cli?: string[];
  rendezvousPort?: number;
  /** The rendezvous relays (`postern rendezvous --relay`). */
  relay?: boolean;
  log?: (line: string) => void;
}

export interface MatrixCell {
  sender: string;
  receiver: string;
  tier: string;
  connectMs?: number;
  ms?: number;
  bytesPerSec?: number;
  reason?: string;
  /** On failure: the last tier announced before it (e.g. paired over direct, then the transfer failed). */
  tierSeen?: string;
}

export interface MatrixReport {
  startedAt: string;
  finishedAt: string;
  commit?: string;
  behaviours: string[];
  bytes: number;
  timeoutMs: number;
  link: LinkShape;
  rendezvous?: string;
  /** Each time the rendezvous had died and was restarted before a cell: why. */
  rendezvousRestarts?: string[];
  cells: MatrixCell[];
}

const mb = (bps: number): string => `${(bps / 1e6).toFixed(1)} MB/s`;
const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function cellText(c: MatrixCell | undefined): string {
  if (!c) return '';
  if (c.tier === 'failed') {
    return `failed${c.tierSeen ? ` (after ${c.tierSeen})` : ''}: ${esc((c.reason ?? 'unknown').slice(0, 60))}`;
  }
  const parts = [`**${c.tier}**`];
  if (c.connectMs !== undefined) parts.push(`${c.connectMs} ms`);
  if (c.bytesPerSec !== undefined) parts.push(mb(c.bytesPerSec));
  if (c.reason) parts.push(esc(c.reason));
  return parts.join(' · ');
}

export function toMarkdown(r: MatrixReport): string {
  const lines = [
    `# Postern lab matrix, ${r.startedAt}`,
    '',
    `${(r.bytes / (1 << 20)).toFixed(1)} MiB per transfer, ${r.timeoutMs / 1000} s timeout per cell`
      + `${r.commit ? `, commit ${r.commit}` : ''}; link: latency ${r.link.latencyMs ?? 0} ms, `
      + `rate ${r.link.rateMbit ?? 'unlimited'}${r.link.rateMbit ? ' Mbit/s' : ''}, loss ${r.link.lossPct ?? 0}%.`,
    'Rows send, columns receive. A cell: tier reached · connect time · throughput of the data phase.',
    '',
    `| sender \\ receiver | ${r.behaviours.join(' | ')} |`,
    `|---|${r.behaviours.map(() => '---').join('|')}|`,
  ];
  for (const s of r.behaviours) {
    const row = r.behaviours.map((d) => cellText(r.cells.find((c) => c.sender === s && c.receiver === d)));
    lines.push(`| ${s} | ${row.join(' | ')} |`);
  }
  if (r.rendezvousRestarts?.length) {
    lines.push('', '## Rendezvous restarts', '', ...r.rendezvousRestarts.map((w) => `- ${esc(w)}`));
  }
  const failures = r.cells.filter((c) => c.tier === 'failed');
  if (failures.length > 0) {
    lines.push('', '## Failure reasons', '');
    for (const c of failures) {
      lines.push(`- ${c.sender} → ${c.receiver}${c.tierSeen ? ` (reached ${c.tierSeen})` : ''}: ${esc(c.reason ?? 'unknown')}`);
    }
  }
  return lines.join('\n') + '\n';
}

export async function runMatrix(o: MatrixOptions): Promise<{ report: MatrixReport; jsonPath: string; mdPath: string; markdown: string }> {
  const log = o.log ?? (() => undefined);
  const behaviours = o.behaviours.map((b) => formatBehaviour(parseBehaviour(b)));
  const bytes = o.bytes ?? 20 << 20;
  const timeoutMs = o.timeoutMs ?? 60_000;
  const link: LinkShape = {
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
    ...(o.rateMbit !== undefined ? { rateMbit: o.rateMbit } : {}),
    ...(o.lossPct !== undefined ? { lossPct: o.lossPct } : {}),
  };
  const sites: SiteSpec[] = behaviours.flatMap((b, i) => [
    { name: `x${i}`, ...parseBehaviour(b) },
    { name: `y${i}`, ...parseBehaviour(b) },
  ]);
  const commit = (await run('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  const report: MatrixReport = {
    startedAt: new Date().toISOString(), finishedAt: '', ...(commit ? { commit } : {}),
    behaviours, bytes, timeoutMs, link, cells: [],
  };

  const lab = await Lab.up({ sites, reflector: false, ...link, log });
  let rv: Rendezvous | undefined;
  let rvError: string | undefined;
  const startRv = async (): Promise<void> => {
    try {
      rv = await startRendezvous(lab, { ...(o.cli ? { cli: o.cli } : {}), port: o.rendezvousPort ?? 443, ...(o.relay ? { relay: true } : {}) });
      report.rendezvous = rv.url;
    } catch (err) {
      rv = undefined;
      rvError = `rendezvous did not start: ${err instanceof Error ? err.message : String(err)}`;
      log(rvError);
    }
  };
  try {
    await startRv();
    const routers = sites.flatMap((s) => [s.name, ...(s.cgnat ? [`cgn:${s.name}`] : [])]);
    for (let i = 0; i < behaviours.length; i++) {
      for (let j = 0; j < behaviours.length; j++) {
        const sender = behaviours[i] ?? '';
        const receiver = behaviours[j] ?? '';
        if (rv && rv.child.exitCode !== null) {
          // A rendezvous that died must not fail every later cell: note it and start a fresh one.
          const why = `rendezvous exited (${rv.child.exitCode}) before ${sender} -> ${receiver}: ${rv.output().trim().split('\n').slice(-3).join(' / ')}`;
          log(why);
          report.rendezvousRestarts = [...(report.rendezvousRestarts ?? []), why];
          await startRv();
        }
        if (!rv) {
          report.cells.push({ sender, receiver, tier: 'failed', reason: rvError ?? 'no rendezvous' });
          continue;
        }
        await Promise.all(routers.map((r) => lab.execRouter(r, 'conntrack', ['-F'])));
        const from = lab.site(`x${i}`).hosts[0]?.name ?? '';
        const to = lab.site(i === j ? `y${j}` : `x${j}`).hosts[0]?.name ?? '';
        const t = await transfer(lab, { from, to, rendezvous: rv.url, bytes, timeoutMs, ...(o.cli ? { cli: o.cli } : {}) });
        const cell: MatrixCell = {
          sender, receiver, tier: t.tier,
          ...(t.connectMs !== undefined ? { connectMs: t.connectMs } : {}),
          ...(t.ms !== undefined ? { ms: t.ms } : {}),
          ...(t.bytesPerSec !== undefined ? { bytesPerSec: t.bytesPerSec } : {}),
          ...(t.reason !== undefined ? { reason: t.reason } : {}),
          ...(t.tierSeen !== undefined ? { tierSeen: t.tierSeen } : {}),
        };
        report.cells.push(cell);
        log(`${sender} -> ${receiver}: ${cellText(cell).replace(/\*\*/g, '')}`);
      }
    }
  } finally {
    rv?.stop();
    await lab.down();
  }
  report.finishedAt = new Date().toISOString();

  const outDir = o.outDir ?? join(REPO_ROOT, '.lab-results');
  mkdirSync(outDir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const markdown = toMarkdown(report);
  const jsonPath = join(outDir, `matrix-${stamp}.json`);
  const mdPath = join(outDir, `matrix-${stamp}.md`);
  writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(mdPath, markdown);
  writeFileSync(join(outDir, 'matrix-latest.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(outDir, 'matrix-latest.md'), markdown);
  return { report, jsonPath, mdPath, markdown };
}
