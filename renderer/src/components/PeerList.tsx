/** The device list: paired devices and devices found on this network, each a drop target. */
import { useShallow } from 'zustand/react/shallow';
import { useApp, actions } from '../store/index.js';
import { selectNearbyPeerIds, selectPairedPeerIds, selectPeer, selectSelectedPeerId } from '../store/peers-slice.js';
import { formatRtt } from '../format.js';
import { TierBadge } from './TierBadge.js';
import { useDropToPeer } from './use-drop.js';

export function PeerList() {
  const paired = useApp(useShallow(selectPairedPeerIds));
  const nearby = useApp(useShallow(selectNearbyPeerIds));
  return (
    <aside className="sidebar" aria-label="Devices">
      <div className="pair-buttons">
        <button type="button" className="primary" onClick={() => void actions().showInvite()}>Send to a new device</button>
        <button type="button" onClick={() => actions().showEnterCode()}>Enter a code</button>
      </div>
      <h2 className="list-title" id="paired-title">Paired devices</h2>
      {paired.length === 0 ? (
        <p className="empty-hint">No paired devices yet. Choose <em>Send to a new device</em> here, and <em>Enter a code</em> on the other computer.</p>
      ) : (
        <ul className="peer-list" aria-labelledby="paired-title">{paired.map((id) => <PeerItem key={id} peerId={id} />)}</ul>
      )}
      {nearby.length > 0 && (
        <>
          <h2 className="list-title" id="nearby-title">On this network</h2>
          <ul className="peer-list" aria-labelledby="nearby-title">{nearby.map((id) => <PeerItem key={id} peerId={id} />)}</ul>
        </>
      )}
    </aside>
  );
}

function PeerItem({ peerId }: { peerId: string }) {
  const peer = useApp(selectPeer(peerId));
  const selected = useApp(selectSelectedPeerId) === peerId;
  const { over, handlers } = useDropToPeer(peerId);
  if (!peer) return null;
  const conn = peer.connection;
  const status = conn?.state === 'connected' ? 'Connected' : conn?.state === 'connecting' ? 'Connecting…' : peer.online ? 'Online' : 'Offline';
  return (
    <li {...handlers} className={over ? 'drop-over' : undefined}>
      <button type="button" className="peer-item" aria-current={selected ? 'true' : undefined} onClick={() => actions().selectPeer(peerId)}
        aria-label={`${peer.name}, ${peer.shortId}, ${status}${conn?.tier && conn.state === 'connected' ? `, ${conn.tier}` : ''}`}>
        <span className={`presence ${peer.online ? 'online' : 'offline'}`} aria-hidden="true" />
        <span className="peer-main">
          <span className="peer-name">{peer.name}</span>
          <span className="peer-sub"><span className="mono">{peer.shortId}</span> · {status}</span>
        </span>
        <span className="peer-side">
          {conn?.state === 'connected' && <TierBadge tier={conn.tier} />}
          {conn?.state === 'failed' && <TierBadge tier="failed" />}
          {conn?.state === 'connected' && conn.rttMs !== null && <span className="rtt">{formatRtt(conn.rttMs)}</span>}
        </span>
      </button>
    </li>
  );
}
