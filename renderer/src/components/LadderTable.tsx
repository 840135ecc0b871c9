/** The connection ladder of one peer: every tier tried, its result, the reason and when it finished. */
import type { ConnectionInfo } from '../../../shared/domain/connection.js';
import { formatMs } from '../format.js';
import { TierBadge } from './TierBadge.js';

const STATE_LABEL = { trying: 'Trying…', ok: 'Worked', failed: 'Failed', skipped: 'Skipped' } as const;

export function LadderTable({ connection, peerName }: { connection: ConnectionInfo | null; peerName: string }) {
  // The ladder reports each tier as "trying" and then its result: show the latest line per tier.
  const rows = new Map<string, NonNullable<ConnectionInfo['attempts']>[number]>();
  for (const a of connection?.attempts ?? []) rows.set(a.tier, a);
  if (!rows.size && connection?.state === 'connected' && connection.tier) {
    return <p className="muted">{peerName} connected to this device (tier <TierBadge tier={connection.tier} />); the ladder ran on {peerName}’s side.</p>;
  }
  if (!rows.size) return <p className="muted">No connection attempt yet. Postern connects when you send, or press Connect.</p>;
  return (
    <table className="ladder">
      <caption>Connection ladder</caption>
      <thead><tr><th scope="col">Tier</th><th scope="col">Result</th><th scope="col">Why</th><th scope="col">Time</th></tr></thead>
      <tbody>
        {[...rows.values()].map((a) => (
          <tr key={a.tier} className={`attempt-${a.state}`}>
            <td><TierBadge tier={a.tier} /></td>
            <td>{STATE_LABEL[a.state]}</td>
            <td>{a.reason}{a.target && !a.reason.includes(a.target) ? <span className="muted mono"> ({a.target})</span> : null}</td>
            <td className="num">{formatMs(a.ms)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
