/** Offers waiting for an answer: who sends what, how big, Accept or Decline. Shown above every view. */
import { useShallow } from 'zustand/react/shallow';
import { useApp, actions } from '../store/index.js';
import { selectOfferIds, selectTransfer, selectTransferError } from '../store/transfers-slice.js';
import { selectPeerName } from '../store/peers-slice.js';
import { selectSettings } from '../store/settings-slice.js';
import { formatBytes, transferTitle } from '../format.js';

const SHOWN_FILES = 4;

export function IncomingOffers() {
  const ids = useApp(useShallow(selectOfferIds));
  if (!ids.length) return null;
  return (
    <section className="offers" aria-label="Incoming offers">
      {ids.map((id) => <Offer key={id} id={id} />)}
    </section>
  );
}

function Offer({ id }: { id: string }) {
  const t = useApp(selectTransfer(id));
  const from = useApp(selectPeerName(t?.peerId ?? ''));
  const error = useApp(selectTransferError(id));
  const saveDir = useApp(selectSettings)?.downloadDir;
  if (!t) return null;
  const files = t.files.length;
  return (
    <article className="card offer" aria-label={`Offer from ${from}`}>
      <div className="offer-head">
        <h2>{from} wants to send you {files === 1 ? '1 file' : `${files} files`} ({formatBytes(t.totalBytes)})</h2>
        <p className="muted">“{transferTitle(t.files)}” will be saved in <span className="path">{saveDir}</span></p>
      </div>
      <ul className="file-list" aria-label="Offered files">
        {t.files.slice(0, SHOWN_FILES).map((f) => (
          <li key={f.path}><span className="path">{f.path}</span> <span className="muted">{formatBytes(f.bytes)}</span></li>
        ))}
        {files > SHOWN_FILES && <li className="muted">and {files - SHOWN_FILES} more</li>}
      </ul>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="actions">
        <button type="button" className="primary" onClick={() => void actions().acceptTransfer(id)}>Accept</button>
        <button type="button" onClick={() => void actions().declineTransfer(id)}>Decline</button>
      </div>
    </article>
  );
}
