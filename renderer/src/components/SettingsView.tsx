/** Settings: name, download folder, rendezvous servers, listening port, discovery, peer relay; debug tiers. */
import { useEffect, useState, type FormEvent } from 'react';
import { TIERS, TIER_LABEL, type ConnectedTier } from '../../../shared/domain/connection.js';
import { SettingsSchema, type Settings } from '../../../shared/domain/settings.js';
import { useApp, actions } from '../store/index.js';
import { selectSettings, selectSettingsBusy, selectSettingsError, selectSettingsNotice } from '../store/settings-slice.js';
import { selectSelf } from '../store/app-slice.js';

interface Draft { name: string; downloadDir: string; rendezvous: string; listenPort: string; discovery: boolean; disabledTiers: ConnectedTier[]; peerRelay: boolean }

const toDraft = (s: Settings): Draft => ({ ...s, rendezvous: s.rendezvous.join('\n'), listenPort: String(s.listenPort) });

export function SettingsView() {
  const settings = useApp(selectSettings);
  const busy = useApp(selectSettingsBusy);
  const serverError = useApp(selectSettingsError);
  const notice = useApp(selectSettingsNotice);
  const self = useApp(selectSelf);
  const [draft, setDraft] = useState<Draft | null>(settings && toDraft(settings));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (settings) setDraft(toDraft(settings));
  }, [settings]);
  if (!draft) return <p role="status">Loading settings…</p>;
  const change = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft({ ...draft, [key]: value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const candidate = {
      ...draft,
      rendezvous: draft.rendezvous.split(/[\n,]/).map((s) => s.trim()).filter(Boolean),
      listenPort: draft.listenPort.trim() === '' ? 0 : Number(draft.listenPort),
    };
    const parsed = SettingsSchema.safeParse(candidate);
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'Check the values.');
      return;
    }
    setError(null);
    void actions().saveSettings(parsed.data);
  };
  const shown = error ?? serverError;
  return (
    <section className="panel settings" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="s-name">Display name</label>
          <input id="s-name" value={draft.name} onChange={(e) => change('name', e.target.value)} maxLength={64} />
          <p className="hint">Shown to devices you pair with and to devices on this network.</p>
        </div>
        <div className="field">
          <label htmlFor="s-download">Download folder</label>
          <input id="s-download" className="mono" value={draft.downloadDir} onChange={(e) => change('downloadDir', e.target.value)} spellCheck={false} />
          <p className="hint">Accepted files are saved here; a name that exists gets a “(1)” suffix.</p>
        </div>
        <fieldset>
          <legend>Connection</legend>
          <p className="hint">Changing these restarts the connection engine: connections drop for a moment and transfers continue where they stopped.</p>
          <div className="field">
            <label htmlFor="s-rendezvous">Rendezvous servers</label>
            <textarea id="s-rendezvous" className="mono" rows={2} value={draft.rendezvous} onChange={(e) => change('rendezvous', e.target.value)} spellCheck={false} placeholder="wss://rendezvous.example.org" />
            <p className="hint">One per line, ws:// or wss://. Empty: this computer hosts one itself (enough for devices on the same network).</p>
          </div>
          <div className="field">
            <label htmlFor="s-port">Listening port</label>
            <input id="s-port" className="mono narrow" inputMode="numeric" value={draft.listenPort} onChange={(e) => change('listenPort', e.target.value)} />
            <p className="hint">0 picks a free port{self.listenPort ? ` (now ${self.listenPort})` : ''}. Choose a fixed one to forward it on your router: then others connect to you directly.</p>
          </div>
          <div className="field checkbox">
            <input id="s-discovery" type="checkbox" checked={draft.discovery} onChange={(e) => change('discovery', e.target.checked)} />
            <label htmlFor="s-discovery">Find devices on this network</label>
          </div>
          <div className="field">
            <div className="field checkbox">
              <input id="s-peer-relay" type="checkbox" checked={draft.peerRelay} onChange={(e) => change('peerRelay', e.target.checked)} aria-describedby="s-peer-relay-hint" />
              <label htmlFor="s-peer-relay">Relay for my other devices</label>
            </div>
            <p className="hint" id="s-peer-relay-hint">When this computer can be reached from the internet, your other paired devices that cannot connect to each other directly connect through it. It only passes on encrypted data it cannot read, and only for a few connections at a time.</p>
          </div>
          <details>
            <summary>Debug: ladder tiers</summary>
            <p className="hint">Turn a tier off to force the next one (for testing fallbacks).</p>
            <div className="tier-grid">
              {TIERS.filter((t): t is ConnectedTier => t !== 'failed').map((t) => (
                <div key={t} className="field checkbox">
                  <input id={`s-tier-${t}`} type="checkbox" checked={!draft.disabledTiers.includes(t)}
                    onChange={(e) => change('disabledTiers', e.target.checked ? draft.disabledTiers.filter((x) => x !== t) : [...draft.disabledTiers, t])} />
                  <label htmlFor={`s-tier-${t}`}>Try {TIER_LABEL[t]}</label>
                </div>
              ))}
            </div>
          </details>
        </fieldset>
        {shown && <p className="error" role="alert">{shown}</p>}
        {notice && !shown && <p className="ok" role="status">{notice}</p>}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Saving…' : 'Save settings'}</button>
        </div>
      </form>
    </section>
  );
}
