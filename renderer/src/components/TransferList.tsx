/** Transfers with progress, speed and time left; cancel, retry, show in folder; how each one ended and why. */
import { useShallow } from 'zustand/react/shallow';
import type { TransferInfo } from '../../../shared/domain/transfer.js';
import { TERMINAL_TRANSFER_STATES } from '../../../shared/domain/transfer.js';
import { useApp, actions } from '../store/index.js';
import { selectRevealed, selectTransfer, selectTransferError, selectTransferIds, selectTransferIdsForPeer } from '../store/transfers-slice.js';
import { selectPeerName } from '../store/peers-slice.js';
import { selectPlatform } from '../store/app-slice.js';
import { formatBytes, formatEta, formatRate, transferTitle } from '../format.js';

export function TransferList({ peerId, emptyText }: { peerId?: string; emptyText: string }) {
  const ids = useApp(useShallow(peerId ? selectTransferIdsForPeer(peerId) : selectTransferIds));
  if (!ids.length) return <p className="empty-hint">{emptyText}</p>;
  return <ul className="transfers" aria-label="Transfers">{ids.map((id) => <TransferItem key={id} id={id} />)}</ul>;
}

function stateText(t: TransferInfo, peer: string): string {
  const pct = t.totalBytes ? Math.floor((t.bytesDone / t.totalBytes) * 100) : 100;
  switch (t.state) {
    case 'offered': return `Waiting for your answer`;
    case 'waiting-accept': return `Waiting for ${peer} to accept`;
    case 'active': return `${t.direction === 'send' ? 'Sending' : 'Receiving'} · ${pct}%`;
    case 'paused': return `Paused: ${t.error?.message ?? `${peer} is not connected`}. It continues when ${peer} is back.`;
    case 'completed': return t.direction === 'send' ? `Sent to ${peer}` : `Received from ${peer}`;
    case 'declined': return t.direction === 'send' ? `${peer} declined` : 'You declined';
    case 'cancelled': return 'Cancelled';
    case 'failed': return `Failed: ${t.error?.message ?? 'unknown error'}`;
  }
}

function TransferItem({ id }: { id: string }) {
  const t = useApp(selectTransfer(id));
  const peer = useApp(selectPeerName(t?.peerId ?? ''));
  const error = useApp(selectTransferError(id));
  const revealed = useApp(selectRevealed(id));
  const canReveal = useApp(selectPlatform).canReveal;
  if (!t) return null;
  const title = transferTitle(t.files);
  const pct = t.totalBytes ? Math.min(100, Math.floor((t.bytesDone / t.totalBytes) * 100)) : 100;
  const live = !TERMINAL_TRANSFER_STATES.includes(t.state);
  const files = t.files.length === 1 ? '1 file' : `${t.files.length} files`;
  return (
    <li className={`card transfer transfer-${t.state}`} aria-label={`Transfer ${title}`}>
      <div className="transfer-head">
        <span className={`direction direction-${t.direction}`} aria-hidden="true">{t.direction === 'send' ? '↑' : '↓'}</span>
        <div className="transfer-title">
          <strong className="path">{title}</strong>
          <span className="muted">{t.direction === 'send' ? `to ${peer}` : `from ${peer}`} · {files} · {formatBytes(t.totalBytes)}</span>
        </div>
        <span className={`state state-${t.state}`} role="status" aria-label={`State of ${title}`}>{stateText(t, peer)}</span>
      </div>
      {(live || t.state === 'completed') && (
        <div className="progress" role="progressbar" aria-label={`Progress of ${title}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}
          aria-valuetext={`${formatBytes(t.bytesDone)} of ${formatBytes(t.totalBytes)}`}>
          <div className="progress-fill" style={{ width: `${pct}%` }} />
        </div>
      )}
      <div className="transfer-foot">
        <span className="muted">
          {t.state === 'active' && `${formatBytes(t.bytesDone)} of ${formatBytes(t.totalBytes)} · ${formatRate(t.rate)} · ${formatEta(t.etaSec)}`}
          {t.state === 'completed' && t.saveDir && `Saved in ${t.saveDir}`}
          {t.bytesSkipped > 0 && ` · ${formatBytes(t.bytesSkipped)} resumed from before`}
        </span>
        <span className="actions">
          {t.direction === 'receive' && t.state === 'completed' && (
            <button type="button" onClick={() => void actions().showInFolder(id)}>{canReveal ? 'Show in folder' : 'Show folder path'}</button>
          )}
          {t.direction === 'send' && (t.state === 'failed' || t.state === 'paused') && (
            <button type="button" onClick={() => void actions().resumeTransfer(id)}>Try again</button>
          )}
          {live && t.state !== 'offered' && (
            <button type="button" aria-label={`Cancel ${title}`} onClick={() => void actions().cancelTransfer(id)}>Cancel</button>
          )}
        </span>
      </div>
      {revealed && <p className="muted">Folder: <span className="path mono">{revealed}</span></p>}
      {error && <p className="error" role="alert">{error}</p>}
    </li>
  );
}
