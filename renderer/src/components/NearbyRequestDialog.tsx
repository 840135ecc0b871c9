/** A device on this network asks to connect: compare the words on both screens, then accept or decline. */
import { useEffect, useRef } from 'react';
import { useApp, actions } from '../store/index.js';
import { selectFirstNearbyRequest } from '../store/pairing-slice.js';

export function NearbyRequestDialog() {
  const req = useApp(selectFirstNearbyRequest);
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    first.current?.focus();
  }, [req?.requestId]);
  if (!req) return null;
  return (
    <div className="backdrop">
      <div className="dialog card" role="dialog" aria-modal="true" aria-labelledby="nearby-title" aria-describedby="nearby-desc">
        <h2 id="nearby-title">{req.name} wants to connect</h2>
        <div id="nearby-desc">
          <p><span className="mono">{req.shortId}</span> is on this network and asks to pair with this device. Check that the other screen shows the same words:</p>
          <p className="verification" aria-label="Verification words">{req.verification}</p>
          <p className="muted">If the words differ, someone may be in between: decline.</p>
        </div>
        <div className="actions">
          <button type="button" ref={first} className="primary" onClick={() => void actions().decideNearby(req.requestId, true)}>Accept</button>
          <button type="button" onClick={() => void actions().decideNearby(req.requestId, false)}>Decline</button>
        </div>
      </div>
    </div>
  );
}
