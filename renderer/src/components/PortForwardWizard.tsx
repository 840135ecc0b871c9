/**
 * The port-forwarding wizard: opened when a connection fails (or from the
 * doctor). Four steps, each from measured facts (wizard.facts):
 *  1. Your network: this computer's LAN address, the router (address, make and
 *     model from UPnP, admin page), the public address, the port to forward;
 *     a fixed port first (a random one changes at every start); or, behind a
 *     carrier-grade NAT or a second router, why forwarding cannot help and what can.
 *  2. Forward the port: the rule to add, where routers usually keep it, and a
 *     DHCP reservation so the rule keeps pointing at this computer.
 *  3. Test: the rendezvous dials back (as often as needed).
 *  4. Connect: once the port is open, the connection to the peer is tried again.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { routerName, type WizardFacts } from '../../../shared/domain/doctor.js';
import { useApp, actions } from '../store/index.js';
import { selectWizard, WIZARD_STEPS, type WizardState } from '../store/doctor-slice.js';
import type { Store } from '../store/types.js';
import { TierBadge } from './TierBadge.js';
import { ReachLines } from './DoctorView.js';
import type { Tier } from '../../../shared/domain/connection.js';

/** Where routers of a make usually keep port forwarding (menus change between firmware versions). */
function whereOnRouter(make: string | null): string {
  const m = (make ?? '').toLowerCase();
  if (/fritz|avm/.test(m)) return 'On a FRITZ!Box: Internet → Permit Access → Port Sharing → Add Device for Sharing, choose this computer, then New Sharing → Port Sharing.';
  if (/tp-?link/.test(m)) return 'On a TP-Link router: Advanced → NAT Forwarding → Virtual Servers → Add.';
  if (/netgear/.test(m)) return 'On a NETGEAR router: Advanced → Advanced Setup → Port Forwarding / Port Triggering → Add Custom Service.';
  if (/asus/.test(m)) return 'On an ASUS router: WAN → Virtual Server / Port Forwarding → Add profile.';
  if (/linksys/.test(m)) return 'On a Linksys router: Security → Apps and Gaming → Single Port Forwarding.';
  if (/openwrt/.test(m)) return 'On OpenWrt: Network → Firewall → Port Forwards → Add.';
  if (/mikrotik/.test(m)) return 'On MikroTik: IP → Firewall → NAT → add a dstnat rule (action dst-nat).';
  if (/ubiquiti|unifi/.test(m)) return 'On UniFi: Settings → Routing → Port Forwarding (or Firewall & Security → Port Forwarding).';
  return 'Look for “Port forwarding”, “Virtual server”, “Port sharing”, “NAT” or “Applications & gaming”, often under Advanced, Firewall or Internet.';
}

const selectWizardPeerName = (s: Store) => {
  const id = s.wizard?.peerId;
  return id ? (s.peers.find((p) => p.peerId === id)?.name ?? 'the other device') : null;
};

function Steps({ step }: { step: WizardState['step'] }) {
  const at = WIZARD_STEPS.findIndex((s) => s.id === step);
  return (
    <ol className="wizard-steps" aria-label="Steps">
      {WIZARD_STEPS.map((s, i) => (
        <li key={s.id} className={i < at ? 'done' : i === at ? 'current' : ''} aria-current={i === at ? 'step' : undefined}>
          <span className="step-no" aria-hidden="true">{i < at ? '✓' : i + 1}</span> {s.label}
        </li>
      ))}
    </ol>
  );
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return <div className="fact"><dt>{label}</dt><dd>{children}</dd></div>;
}

function FactsList({ f }: { f: WizardFacts }) {
  const name = routerName(f.router);
  return (
    <dl className="facts wizard-facts" aria-label="Measured facts">
      <Fact label="This computer">{f.lanAddress ? <span className="mono" data-fact="lan">{f.lanAddress}</span> : <span className="muted">unknown</span>} <span className="muted">on the local network</span></Fact>
      <Fact label="Router">
        <span className="mono" data-fact="gateway">{f.gateway ?? 'unknown'}</span>
        {' '}{name ? <span data-fact="router-model">— {name}</span> : <span className="muted">— it did not describe itself (no UPnP answer): the make and model are on its label</span>}
      </Fact>
      <Fact label="Admin page">
        {f.router.adminUrl ? <a href={f.router.adminUrl} target="_blank" rel="noreferrer noopener" className="mono">{f.router.adminUrl}</a> : <span className="muted">unknown</span>}
        {f.router.adminUrlGuessed && f.router.adminUrl && <span className="muted"> (usually the router’s address)</span>}
      </Fact>
      <Fact label="Public address">{f.publicIp ? <span className="mono" data-fact="public">{f.publicIp}</span> : <span className="muted">unknown</span>}</Fact>
      <Fact label="Port to forward">
        <span className="mono" data-fact="port">TCP {f.tcpPort}</span>{f.udpPort ? <span className="mono"> and UDP {f.udpPort}</span> : null}
        {' '}<span className="muted">→ {f.lanAddress ?? 'this computer'}, same port{f.fixedPort ? ' (fixed in Settings)' : ''}</span>
      </Fact>
    </dl>
  );
}

function CannotHelp({ f }: { f: WizardFacts }) {
  return (
    <div className="callout callout-bad" role="note" aria-label="Forwarding cannot help">
      <p><strong>Forwarding a port cannot help here.</strong> {f.forwarding.why}</p>
      <p>What can:</p>
      <ul>{f.forwarding.alternatives.map((a) => <li key={a.kind}>{a.text}</li>)}</ul>
    </div>
  );
}

function FixedPort({ w, f }: { w: WizardState; f: WizardFacts }) {
  const [custom, setCustom] = useState('');
  const port = custom.trim() ? Number(custom) : f.suggestedPort;
  const valid = Number.isInteger(port) && port >= 1024 && port <= 65535;
  return (
    <div className="callout callout-warn" role="note" aria-label="Fixed port">
      <p><strong>First, a fixed port.</strong> Postern now picks a new port at every start (port {f.tcpPort} this time), so a rule on the router would stop working after a restart.</p>
      <div className="actions">
        <button type="button" className="primary" disabled={w.portBusy || !valid} onClick={() => void actions().setFixedPort(port)}>
          {w.portBusy ? 'Restarting with the new port…' : `Keep port ${valid ? port : '…'} fixed`}
        </button>
        <label className="inline-label" htmlFor="wizard-port">or another port</label>
        <input id="wizard-port" className="mono narrow" inputMode="numeric" placeholder={String(f.suggestedPort)} value={custom} onChange={(e) => setCustom(e.target.value.replace(/\D/g, ''))} />
      </div>
      {!valid && <p className="error">Choose a port from 1024 to 65535.</p>}
      <p className="hint">Saved in Settings → Listening port. The connection engine restarts for a moment.</p>
    </div>
  );
}

function FactsStep({ w, peer }: { w: WizardState; peer: string | null }) {
  const [anyway, setAnyway] = useState(false);
  const f = w.facts;
  if (!f) return <p role="status" className="muted">{w.loading ? 'Measuring…' : w.error}</p>;
  const blocked = !f.forwarding.helps && !anyway;
  return (
    <>
      <p>
        {peer && w.reason === 'failed' ? <>Postern could not reach <strong>{peer}</strong>. </> : null}
        {f.forwarding.helps
          ? <>When this computer accepts connections from the internet, {peer ?? 'your other devices'} can connect straight here. That takes one rule on your router. This is what Postern measured:</>
          : <>This is what Postern measured about this computer’s network:</>}
      </p>
      <FactsList f={f} />
      {f.mappedByRouter && <p className="callout callout-ok">Your router already opened a port for Postern by itself (UPnP, NAT-PMP or PCP). Test it before adding a rule by hand.</p>}
      {!f.forwarding.helps ? <CannotHelp f={f} /> : !f.fixedPort ? <FixedPort w={w} f={f} /> : null}
      <div className="actions wizard-nav">
        {blocked ? (
          <button type="button" className="link" onClick={() => setAnyway(true)}>Show the steps anyway</button>
        ) : (
          <button type="button" className="primary" disabled={!f.fixedPort || w.portBusy} onClick={() => actions().wizardGo(f.mappedByRouter ? 'test' : 'forward')}>
            {f.mappedByRouter ? 'Next: test it' : 'Next: forward the port'}
          </button>
        )}
      </div>
    </>
  );
}

function ForwardStep({ f }: { f: WizardFacts }) {
  const lan = f.lanAddress ?? 'this computer’s address';
  return (
    <>
      <ol className="instructions">
        <li>
          Open your router’s admin page{f.router.adminUrl ? <>: <a href={f.router.adminUrl} target="_blank" rel="noreferrer noopener" className="mono">{f.router.adminUrl}</a></> : null} and log in
          <span className="muted"> (the password is often on a sticker on the router)</span>.
        </li>
        <li>{whereOnRouter(routerName(f.router))}</li>
        <li>
          Add this rule:
          <table className="rule" aria-label="The rule to add">
            <tbody>
              <tr><th scope="row">Name</th><td>Postern</td></tr>
              <tr><th scope="row">Protocol</th><td className="mono">TCP{f.udpPort ? <span className="muted"> (and the same for UDP, if the router asks for one protocol per rule)</span> : null}</td></tr>
              <tr><th scope="row">External (public) port</th><td className="mono" data-rule="external">{f.tcpPort}</td></tr>
              <tr><th scope="row">Internal IP address</th><td className="mono" data-rule="internal-ip">{lan}</td></tr>
              <tr><th scope="row">Internal port</th><td className="mono" data-rule="internal">{f.tcpPort}</td></tr>
            </tbody>
          </table>
          {f.udpPort && f.udpPort !== f.tcpPort && <p className="hint">UDP uses port {f.udpPort}: forward it too if you can (it helps hole punching with other devices).</p>}
        </li>
        <li>
          Reserve <span className="mono">{lan}</span> for this computer <span className="muted">(“DHCP reservation”, “static lease” or “always use this address”, usually next to the list of connected devices)</span>, so the rule keeps pointing here.
        </li>
        <li>Save the rule (and enable it, if it has a switch).</li>
      </ol>
      <div className="actions wizard-nav">
        <button type="button" onClick={() => actions().wizardGo('facts')}>Back</button>
        <button type="button" className="primary" onClick={() => actions().wizardGo('test')}>Next: test it</button>
      </div>
    </>
  );
}

function TestStep({ w, f }: { w: WizardState; f: WizardFacts }) {
  const t = w.lastTest;
  const tested = w.tests > 0 && t && !w.testing;
  return (
    <>
      <p>The rendezvous server will try to connect to <span className="mono">{f.publicIp ?? 'this computer’s public address'}:{f.tcpPort}</span> from outside, as {w.peerId ? 'the other device' : 'another device'} would.</p>
      <div className="actions">
        <button type="button" className="primary" disabled={w.testing} onClick={() => void actions().testPort()}>{w.testing ? 'Testing…' : w.tests ? 'Test again' : 'Test now'}</button>
        {w.tests > 0 && <span className="muted">Test {w.tests}</span>}
      </div>
      {w.testing && <p className="waiting" role="status"><span className="spinner" aria-hidden="true" /> The rendezvous is dialing back…</p>}
      {tested && (
        <div className={`callout ${t.ok ? 'callout-ok' : 'callout-warn'}`} role="status" aria-label="Test result">
          {!t.ok && <p><strong>Not reachable yet.</strong></p>}
          <ReachLines reach={t} />
          {!t.ok && !t.error && (
            <>
              <p>Check the rule: protocol TCP, external and internal port {f.tcpPort}, internal address <span className="mono">{f.lanAddress ?? '?'}</span>, saved and enabled. Some routers apply a rule only after a minute. Then test again.</p>
              {!f.forwarding.helps && <p className="bad-text">Remember: {f.forwarding.why}</p>}
            </>
          )}
        </div>
      )}
      {w.error && <p className="error" role="alert">{w.error}</p>}
      <div className="actions wizard-nav">
        <button type="button" onClick={() => actions().wizardGo(f.mappedByRouter ? 'facts' : 'forward')}>Back</button>
      </div>
    </>
  );
}

function ConnectStep({ w, f, peer }: { w: WizardState; f: WizardFacts; peer: string | null }) {
  const t = w.lastTest;
  return (
    <>
      <div className="callout callout-ok" role="status" aria-label="Port open">
        <p><strong>Port {f.tcpPort} is open.</strong> {t?.tcp?.plain}</p>
        <p className="muted">Keep the rule: Postern uses port {f.tcpPort} from now on (Settings → Listening port).</p>
      </div>
      {peer && (
        <div className="connect-result" role="status" aria-label="Connection to the device">
          {w.connecting && <p className="waiting"><span className="spinner" aria-hidden="true" /> Connecting to {peer}…</p>}
          {w.connected && <p className="ok-text"><strong>Connected to {peer}</strong> <TierBadge tier={w.connected.tier as Tier} /></p>}
          {w.connectError && (
            <>
              <p className="error">Still could not reach {peer}: {w.connectError}</p>
              <button type="button" onClick={() => void actions().retryConnection()}>Try again</button>
            </>
          )}
        </div>
      )}
      <div className="actions wizard-nav">
        <button type="button" className="primary" onClick={() => actions().closeWizard()}>Done</button>
      </div>
    </>
  );
}

export function PortForwardWizard() {
  const w = useApp(selectWizard);
  const peer = useApp(selectWizardPeerName);
  const title = useRef<HTMLHeadingElement>(null);
  const open = !!w;
  useEffect(() => {
    if (!open) return;
    title.current?.focus();
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') actions().closeWizard(); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);
  if (!w) return null;
  const f = w.facts;
  return (
    <div className="backdrop">
      <div className="dialog wizard card" role="dialog" aria-modal="true" aria-labelledby="wizard-title">
        <header className="wizard-head">
          <h2 id="wizard-title" tabIndex={-1} ref={title}>Port forwarding{peer ? ` for ${peer}` : ''}</h2>
          <button type="button" className="icon-button" aria-label="Close the wizard" onClick={() => actions().closeWizard()}>×</button>
        </header>
        <Steps step={w.step} />
        <div className="wizard-body" data-step={w.step}>
          {w.step === 'facts' || !f ? <FactsStep w={w} peer={peer} />
            : w.step === 'forward' ? <ForwardStep f={f} />
              : w.step === 'test' ? <TestStep w={w} f={f} />
                : <ConnectStep w={w} f={f} peer={peer} />}
          {w.error && w.step === 'facts' && <p className="error" role="alert">{w.error}</p>}
        </div>
      </div>
    </div>
  );
}
