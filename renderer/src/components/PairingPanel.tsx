/** Pairing: show an invite code ("Send to a new device") or type one ("Enter a code"). */
import { useEffect, useState, type FormEvent } from 'react';
import { useApp, actions } from '../store/index.js';
import { selectCodeDraft, selectInvite, selectInviteBusy, selectInviteError, selectPairBusy, selectPairError, selectPairingMode } from '../store/pairing-slice.js';

export function PairingPanel() {
  const mode = useApp(selectPairingMode);
  if (mode === 'invite') return <InvitePanel />;
  if (mode === 'enter') return <EnterCodePanel />;
  return null;
}

function useNow(intervalMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

function InvitePanel() {
  const invite = useApp(selectInvite);
  const busy = useApp(selectInviteBusy);
  const error = useApp(selectInviteError);
  const now = useNow(1000);
  const [copied, setCopied] = useState(false);
  const minutes = invite ? Math.max(0, Math.ceil((invite.expiresAt - now) / 60_000)) : 0;
  const copy = () => {
    if (!invite) return;
    void navigator.clipboard?.writeText(invite.code).then(() => setCopied(true), () => setCopied(false));
  };
  return (
    <section className="panel" aria-labelledby="invite-title">
      <h2 id="invite-title">Send to a new device</h2>
      {busy && <p role="status">Creating a code…</p>}
      {error && (
        <div className="error-box" role="alert">
          <p>{error}</p>
          <button type="button" onClick={() => void actions().showInvite()}>Try again</button>
        </div>
      )}
      {invite && !busy && invite.state === 'open' && (
        <>
          <p>On the other computer, open Postern, choose <strong>Enter a code</strong> and type:</p>
          <output className="invite-code" aria-label="Invite code">{invite.code}</output>
          <p className="muted">
            Or open the link <a href={invite.link} className="mono">{invite.link}</a> there. The code works once and expires in {minutes} min.
            Nobody else can use it: the devices prove they know it without sending it.
          </p>
          <div className="actions">
            <button type="button" onClick={copy}>{copied ? 'Copied' : 'Copy code'}</button>
            <button type="button" onClick={() => void actions().cancelInvite()}>Cancel</button>
          </div>
          <p className="waiting" role="status"><span className="spinner" aria-hidden="true" /> Waiting for the other device…</p>
        </>
      )}
      {invite && !busy && invite.state !== 'open' && invite.state !== 'paired' && (
        <div className="error-box" role="alert">
          <p>
            {invite.state === 'expired' && 'The code expired before it was used.'}
            {invite.state === 'cancelled' && 'The code was cancelled.'}
            {invite.state === 'failed' && (invite.error?.message ?? 'Pairing failed.')}
            {' '}Create a new code and type it carefully on the other device.
          </p>
          <button type="button" className="primary" onClick={() => void actions().showInvite()}>New code</button>
        </div>
      )}
    </section>
  );
}

function EnterCodePanel() {
  const code = useApp(selectCodeDraft);
  const busy = useApp(selectPairBusy);
  const error = useApp(selectPairError);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void actions().pairWithCode();
  };
  return (
    <section className="panel" aria-labelledby="enter-title">
      <h2 id="enter-title">Enter a code</h2>
      <p>On the other computer, choose <strong>Send to a new device</strong>; it shows a code. Type it here.</p>
      <form onSubmit={submit} className="code-form">
        <label htmlFor="invite-code-input">Invite code</label>
        <div className="row">
          <input id="invite-code-input" className="mono" autoFocus autoComplete="off" spellCheck={false} placeholder="7-guitar-ocean-velvet"
            value={code} onChange={(e) => actions().setCodeDraft(e.target.value)} aria-invalid={error ? true : undefined} aria-describedby={error ? 'pair-error' : undefined} />
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Pairing…' : 'Pair'}</button>
        </div>
      </form>
      {error && <p className="error" id="pair-error" role="alert">{error}</p>}
      <button type="button" className="link" onClick={() => actions().closePairing()}>Cancel</button>
    </section>
  );
}
