/** Problems that stop everything, with what to do: the link to the engine, the engine itself, the rendezvous. */
import { useApp, actions } from '../store/index.js';
import { selectEngine, selectLink, selectRendezvous } from '../store/app-slice.js';

export function Banners() {
  const link = useApp(selectLink);
  const engine = useApp(selectEngine);
  const rv = useApp(selectRendezvous);
  return (
    <>
      {link === 'closed' && (
        <div className="banner banner-error" role="alert">
          <strong>Lost the link to Postern.</strong> Check that <code>postern host</code> is still running; this page reconnects by itself.
        </div>
      )}
      {engine.state === 'restarting' && <div className="banner" role="status">Restarting the connection engine with the new settings…</div>}
      {engine.state === 'error' && (
        <div className="banner banner-error" role="alert">
          <strong>The connection engine is not running.</strong> {engine.error?.message}{' '}
          <button type="button" className="link" onClick={() => actions().setView('settings')}>Open Settings</button>
        </div>
      )}
      {engine.state === 'running' && rv.state === 'disconnected' && (
        <div className="banner banner-warn" role="status">
          Not connected to the rendezvous server{rv.url ? ` (${rv.url})` : ''}: {rv.reason ?? 'retrying'}. Devices on this network still work; others appear when it comes back.
        </div>
      )}
    </>
  );
}
