/**
 * The one place engine events reach the store, bound once at startup (never in
 * components: no stale or duplicated handlers). A link that comes back after a
 * drop reloads the whole state, since events were missed meanwhile.
 */
import type { StoreApi } from 'zustand';
import type { RendererBridge } from '../bridge/index.js';
import type { Store } from './types.js';

export function bindEvents(bridge: RendererBridge, store: StoreApi<Store>): () => void {
  const s = () => store.getState();
  let wasClosed = false;
  const offs = [
    bridge.on('app.snapshot', (state) => s().applySnapshot(state)),
    bridge.on('app.engine', (status) => s().setEngine(status)),
    bridge.on('settings.changed', (settings) => s().setSettings(settings)),
    bridge.on('peers.changed', (peers) => s().setPeers(peers)),
    bridge.on('connectivity.connection', (info) => s().applyConnection(info)),
    bridge.on('connectivity.rendezvous', (view) => s().setRendezvous(view)),
    bridge.on('pairing.invite', (invite) => s().applyInvite(invite)),
    bridge.on('pairing.paired', (paired) => s().applyPaired(paired)),
    bridge.on('pairing.nearbyRequest', (req) => s().addNearbyRequest(req)),
    bridge.on('pairing.nearbyClosed', ({ requestId }) => s().removeNearbyRequest(requestId)),
    bridge.on('pairing.codeFromLink', ({ code }) => s().showEnterCode(code)),
    bridge.on('transfers.updated', (t) => s().applyTransfer(t)),
    bridge.on('transfers.progress', (p) => s().applyProgress(p)),
    bridge.on('transfers.offer', (offer) => s().applyTransfer(offer.transfer)),
    bridge.on('doctor.report', (report) => s().setDoctor(report)),
    bridge.onStatus((status) => {
      s().setLink(status);
      if (status === 'closed') wasClosed = true;
      if (status === 'open' && wasClosed) {
        wasClosed = false;
        void s().load();
      }
    }),
  ];
  return () => offs.forEach((off) => off());
}
