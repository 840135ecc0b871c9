/**
 * The connection ladder of one peer: every tier tried for the current
 * connection, in the order the ladder tried them, with its result (worked,
 * failed, skipped, still trying), the reason in plain words
 * (shared/domain/doctor.ts explainAttempt; the engine's own words on hover),
 * when it started and how long it took, and the tier in use. An upgrade from a
 * relay shows as it happens. Earlier runs stay below, folded.
 */
import type { ConnectionInfo, TierAttempt } from '../../../shared/domain/connection.js';
import { TIER_LABEL } from '../../../shared/domain/connection.js';
import { ladderRows } from '../../../shared/domain/doctor.js';
import { useApp } from '../store/index.js';
import { selectLadderHistory, type LadderRun } from '../store/peers-slice.js';
import { formatMs } from '../format.js';
import { TierBadge } from './TierBadge.js';

const STATE_LABEL = { trying: 'Trying…', ok: 'Worked', failed: 'Failed', skipped: 'Skipped' } as const;

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function RunTable({ attempts, tierInUse, peerName, caption }: { attempts: TierAttempt[]; tierInUse: string | null; peerName: string; caption: string }) {
  const rows = ladderRows(attempts, tierInUse, peerName);
  return (
    <table className="ladder">
      <caption>{caption}</caption>
      <thead><tr><th scope="col">#</th><th scope="col">Tier</th><th scope="col">Result</th><th scope="col">Why</th><th scope="col" className="num">Time</th></tr></thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={r.tier} className={`attempt-${r.state}${r.inUse ? ' in-use' : ''}`} data-tier={r.tier}>
            <td className="num muted">{i + 1}</td>
            <td><TierBadge tier={r.tier} /></td>
            <td className="result">
              {r.state === 'trying' && <span className="spinner small" aria-hidden="true" />}
              {STATE_LABEL[r.state]}
              {r.inUse && <span className="pill pill-in-use">in use</span>}
              {r.replaced && <span className="pill">replaced</span>}
            </td>
            <td title={r.reason === 'trying' ? undefined : `Engine: ${r.reason}`}>
              {r.words}
              {r.target && !r.words.includes(r.target) && <span className="muted mono target"> {r.target}</span>}
            </td>
            <td className="num">
              {r.tookMs !== null ? formatMs(r.tookMs) : r.state === 'trying' ? '…' : '—'}
              {r.startMs > 0 && <span className="muted started"> at +{formatMs(r.startMs)}</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function runCaption(attempts: TierAttempt[], what: string, running: boolean): string {
  const first = attempts[0];
  if (!first) return what;
  const last = Math.max(...attempts.map((a) => a.ms));
  return `${what} — started ${clock(first.startedAt)}${last > 0 ? `, ${running ? `${formatMs(last)} so far` : `took ${formatMs(last)}`}` : ''}`;
}

function History({ runs, peerName }: { runs: LadderRun[]; peerName: string }) {
  return (
    <details className="ladder-history">
      <summary>Earlier attempts ({runs.length})</summary>
      {runs.map((run) => (
        <RunTable key={run.ladderId} attempts={run.attempts} tierInUse={run.state === 'connected' ? run.tier : null} peerName={peerName}
          caption={`${run.state === 'failed' ? 'Failed' : run.state === 'connected' ? `Connected (${TIER_LABEL[run.tier ?? 'failed']})` : 'Ended'} — started ${clock(run.attempts[0]?.startedAt ?? run.endedAt)}`} />
      ))}
    </details>
  );
}

export function LadderTable({ connection, peerName, peerId }: { connection: ConnectionInfo | null; peerName: string; peerId: string }) {
  const history = useApp(selectLadderHistory(peerId));
  const attempts = connection?.attempts ?? [];
  const connected = connection?.state === 'connected' ? connection.tier : null;
  const ours = attempts.some((a) => a.state === 'ok' && a.tier === connected);
  return (
    <>
      {connected && (
        <p className="in-use-line">
          In use: <TierBadge tier={connected} />{' '}
          {ours ? <span className="muted">reached by this computer’s ladder, below.</span> : <span className="muted">{peerName} connected to this computer{attempts.length ? '; this computer’s own attempts are below' : ' (its ladder ran on its side)'}.</span>}
        </p>
      )}
      {attempts.length
        ? <RunTable attempts={attempts} tierInUse={connected} peerName={peerName} caption={runCaption(attempts, connection?.state === 'connecting' ? 'Connecting' : connection?.state === 'failed' ? 'Failed' : 'Connection ladder', connection?.state === 'connecting')} />
        : !connected && <p className="muted">No connection attempt yet. Postern connects when you send, or press Connect.</p>}
      {history?.length ? <History runs={history} peerName={peerName} /> : null}
    </>
  );
}
