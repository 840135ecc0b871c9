/** One device: how it is connected (tier, RTT, the ladder's attempts), sending to it, transfers with it. */
import { useState } from 'react';
import { useApp, actions } from '../store/index.js';
import { selectIsConnecting, selectPeer, selectPeerError } from '../store/peers-slice.js';
import { formatAgo, formatRtt } from '../format.js';
import { explainFailure } from '../../../shared/domain/doctor.js';
import { TierBadge } from './TierBadge.js';
import { LadderTable } from './LadderTable.js';
import { SendPanel } from './SendPanel.js';
import { TransferList } from './TransferList.js';

export function PeerDetail({ peerId }: { peerId: string }) {
  const peer = useApp(selectPeer(peerId));
  const error = useApp(selectPeerError(peerId));
  const connecting = useApp(selectIsConnecting(peerId));
  const [confirmForget, setConfirmForget] = useState(false);
  if (!peer) return <p className="empty-hint">That device is gone. Choose another one on the left.</p>;
  const conn = peer.connection;
  const connected = conn?.state === 'connected';
  const ladder = (
    <section className="ladder-box" aria-labelledby="ladder-title">
      <h3 id="ladder-title">How Postern reaches {peer.name}</h3>
      <LadderTable connection={conn} peerName={peer.name} peerId={peerId} />
    </section>
  );
  const status = connected ? 'Connected' : conn?.state === 'connecting' || connecting ? 'Connecting…' : conn?.state === 'failed' ? 'Could not connect' : peer.online ? 'Online, not connected' : 'Offline';
  return (
    <section className="panel peer-detail" aria-labelledby="peer-title">
      <header className="peer-header">
        <div>
          <h2 id="peer-title">{peer.name}</h2>
          <p className="muted">
            <span className="mono">{peer.shortId}</span>
            {peer.paired ? ` · paired ${formatAgo(peer.pairedAt)}` : ' · on this network, not paired'}
            {peer.address ? ` · ${peer.address}` : ''}
          </p>
        </div>
        <div className="connection-summary" aria-label="Connection">
          <span>{status}</span>
          {connected && <TierBadge tier={conn.tier} />}
          {conn?.state === 'failed' && <TierBadge tier="failed" />}
          {connected && conn.rttMs !== null && <span className="rtt" aria-label="Round-trip time">{formatRtt(conn.rttMs)}</span>}
          {!connected && (
            <button type="button" disabled={connecting || conn?.state === 'connecting'} onClick={() => void actions().connectPeer(peerId)}>
              {conn?.state === 'failed' ? 'Try again' : 'Connect'}
            </button>
          )}
        </div>
      </header>
      {error && <p className="error" role="alert">{error}</p>}
      {conn?.state === 'failed' && (
        <div className="error-box" role="alert">
          <p><strong>Could not reach {peer.name}.</strong> {explainFailure(conn.error, peer.name)}</p>
          <p className="muted">Make sure Postern is open on {peer.name}. If both computers are behind routers, forwarding this computer’s listening port on its router lets {peer.name} connect straight here.</p>
          <div className="actions">
            <button type="button" className="primary" onClick={() => actions().openWizard(peerId, 'failed')}>Port-forwarding wizard…</button>
            <button type="button" className="link" onClick={() => actions().setView('doctor')}>Connection doctor</button>
          </div>
        </div>
      )}
      {!peer.paired && <p className="muted">Sending to a device you have not paired with asks it to accept first; both screens then show the same words to compare.</p>}
      {conn?.state === 'failed' && ladder}
      <SendPanel peerId={peerId} peerName={peer.name} />
      {conn?.state !== 'failed' && ladder}
      <h3>Transfers with {peer.name}</h3>
      <TransferList peerId={peerId} emptyText={`Nothing sent or received with ${peer.name} yet. Drop files here or choose them above.`} />
      {peer.paired && (
        <div className="danger-zone">
          {!confirmForget ? (
            <button type="button" className="link danger" onClick={() => setConfirmForget(true)}>Forget this device…</button>
          ) : (
            <p role="group" aria-label="Confirm forgetting">
              Forget {peer.name}? You will need a new code to pair again.{' '}
              <button type="button" className="danger" onClick={() => void actions().forgetPeer(peerId)}>Forget</button>{' '}
              <button type="button" onClick={() => setConfirmForget(false)}>Keep</button>
            </p>
          )}
        </div>
      )}
    </section>
  );
}
