/** The main view: the device list beside pairing, the selected device, or a first-run explanation. */
import { useApp, actions } from '../store/index.js';
import { selectSelectedPeerId } from '../store/peers-slice.js';
import { selectPairingMode } from '../store/pairing-slice.js';
import { selectPeers } from '../store/peers-slice.js';
import { PeerList } from './PeerList.js';
import { PairingPanel } from './PairingPanel.js';
import { PeerDetail } from './PeerDetail.js';

export function DevicesView() {
  const selected = useApp(selectSelectedPeerId);
  const mode = useApp(selectPairingMode);
  return (
    <div className="devices">
      <PeerList />
      <div className="content">
        {mode ? <PairingPanel /> : selected ? <PeerDetail peerId={selected} /> : <Welcome />}
      </div>
    </div>
  );
}

function Welcome() {
  const count = useApp(selectPeers).length;
  return (
    <section className="panel welcome" aria-labelledby="welcome-title">
      <h2 id="welcome-title">{count ? 'Choose a device' : 'Send files straight to another computer'}</h2>
      {count ? (
        <p>Pick a device on the left to send it files, or drop files onto it.</p>
      ) : (
        <>
          <p>Postern connects two computers directly, even behind home routers, and sends files end-to-end encrypted. First pair the two devices once:</p>
          <ol>
            <li>Here, choose <strong>Send to a new device</strong>. A short code appears.</li>
            <li>On the other computer, open Postern, choose <strong>Enter a code</strong> and type it.</li>
            <li>Then pick files for the new device, or drop them onto it.</li>
          </ol>
          <div className="actions">
            <button type="button" className="primary" onClick={() => void actions().showInvite()}>Send to a new device</button>
            <button type="button" onClick={() => actions().showEnterCode()}>Enter a code</button>
          </div>
        </>
      )}
    </section>
  );
}
