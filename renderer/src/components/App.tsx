/** The app's frame: header, banners, incoming offers, the current view, notices and the nearby dialog. */
import { useApp } from '../store/index.js';
import { selectLoadError, selectLoaded } from '../store/app-slice.js';
import { selectView } from '../store/ui-slice.js';
import { Header } from './Header.js';
import { Banners } from './Banners.js';
import { IncomingOffers } from './IncomingOffers.js';
import { DevicesView } from './DevicesView.js';
import { TransferList } from './TransferList.js';
import { SettingsView } from './SettingsView.js';
import { Notices } from './Notices.js';
import { NearbyRequestDialog } from './NearbyRequestDialog.js';
import { DoctorView } from './DoctorView.js';
import { PortForwardWizard } from './PortForwardWizard.js';

export function App() {
  const loaded = useApp(selectLoaded);
  const loadError = useApp(selectLoadError);
  const view = useApp(selectView);
  return (
    <div className="app">
      <Header />
      <main>
        <Banners />
        {!loaded && !loadError && <p className="loading" role="status">Connecting to Postern…</p>}
        {loadError && <p className="banner banner-error" role="alert">Could not load Postern’s state: {loadError}</p>}
        {loaded && (
          <>
            <IncomingOffers />
            {view === 'devices' && <DevicesView />}
            {view === 'transfers' && (
              <section className="panel" aria-labelledby="transfers-title">
                <h2 id="transfers-title">Transfers</h2>
                <TransferList emptyText="No transfers yet. Choose a device under Devices and send it something." />
              </section>
            )}
            {view === 'doctor' && <DoctorView />}
            {view === 'settings' && <SettingsView />}
          </>
        )}
      </main>
      <Notices />
      <NearbyRequestDialog />
      <PortForwardWizard />
    </div>
  );
}
