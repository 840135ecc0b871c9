/** Top bar: app name, views, this device and the rendezvous status. */
import { useApp, actions } from '../store/index.js';
import { selectSelf, selectRendezvous } from '../store/app-slice.js';
import { selectView, type View } from '../store/ui-slice.js';
import { selectOfferIds, selectActiveCount } from '../store/transfers-slice.js';
import { useShallow } from 'zustand/react/shallow';

const VIEWS: { id: View; label: string }[] = [
  { id: 'devices', label: 'Devices' },
  { id: 'transfers', label: 'Transfers' },
  { id: 'doctor', label: 'Doctor' },
  { id: 'settings', label: 'Settings' },
];

export function Header() {
  const view = useApp(selectView);
  const active = useApp(selectActiveCount);
  const offers = useApp(useShallow(selectOfferIds)).length;
  return (
    <header className="topbar">
      <div className="brand"><img src="./icon.svg" alt="" width={28} height={28} /> <span>Postern</span></div>
      <nav aria-label="Main">
        <ul className="tabs">
          {VIEWS.map((v) => (
            <li key={v.id}>
              <button type="button" className="tab" aria-current={view === v.id ? 'page' : undefined} onClick={() => actions().setView(v.id)}>
                {v.label}
                {v.id === 'transfers' && active + offers > 0 && <span className="count" aria-label={`${active + offers} in progress`}>{active + offers}</span>}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <SelfCard />
    </header>
  );
}

function SelfCard() {
  const self = useApp(selectSelf);
  const rv = useApp(selectRendezvous);
  const label = rv.state === 'connected' ? (rv.embedded ? 'Hosting rendezvous' : 'Online') : rv.state === 'connecting' ? 'Connecting…' : 'Offline';
  return (
    <section className="self" aria-label="This device">
      <div className="self-name">{self.name || 'This device'}</div>
      <div className="self-meta">
        {self.shortId && <span className="mono" title={self.peerId}>{self.shortId}</span>}
        <span className={`pill pill-${rv.state}`} role="status" aria-label={`Rendezvous: ${label}`} title={rv.reason ?? rv.url ?? ''}>
          <span className="dot" aria-hidden="true" /> {label}
        </span>
      </div>
    </section>
  );
}
