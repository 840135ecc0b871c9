/**
 * The connection doctor: what this computer's network allows, from measured
 * facts (main/engine/doctor): public addresses, whether UDP gets out, the NAT in
 * plain words with its RFC name, CGNAT or double NAT, the router and which
 * port-mapping protocols it answers, the mappings and their leases, and the
 * rendezvous's dial-back test. "Copy report" copies a redacted report for support.
 */
import { useEffect, type ReactNode } from 'react';
import { GATEWAY_PROTOCOL_LABEL, reachStateLabel, routerName, type DoctorReport, type ReachabilityResult } from '../../../shared/domain/doctor.js';
import { useApp, actions } from '../store/index.js';
import { selectCopied, selectCopyError, selectDoctor, selectDoctorError, selectDoctorLoading, selectReachBusy } from '../store/doctor-slice.js';
import { selectEngine } from '../store/app-slice.js';
import { formatAgo } from '../format.js';

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

const ALLOCATION: Record<string, string> = {
  preserving: 'kept: the public port is the local port',
  sequential: 'a new port per destination, counting up',
  random: 'a new random port per destination',
  unknown: 'not measured',
};

function leaseText(leaseSec: number, expiresAt: number | null): string {
  if (!leaseSec) return 'permanent (removed when Postern exits)';
  const left = expiresAt ? Math.max(0, Math.round((expiresAt - Date.now()) / 60_000)) : null;
  return `${Math.round(leaseSec / 60)} min lease${left !== null ? `, ${left} min left` : ''}, renewed while Postern runs`;
}

export function ReachLines({ reach }: { reach: ReachabilityResult | null }) {
  if (!reach) return <p className="muted">Not checked yet. The rendezvous server can try to connect to this computer from outside.</p>;
  if (reach.error) return <p className="warn-text">The check did not run: {reach.error.message}.</p>;
  return (
    <ul className="reach-lines">
      {reach.tcp && (
        <li className={`reach reach-${reach.tcp.state}`} data-proto="tcp">
          <strong>TCP {reach.tcp.port}: {reachStateLabel(reach.tcp.state)}</strong> — {reach.tcp.plain}
        </li>
      )}
      {reach.udp && (
        <li className={`reach reach-${reach.udp.state}`} data-proto="udp">
          <strong>UDP {reach.udp.port}: {reachStateLabel(reach.udp.state)}</strong> — {reach.udp.plain}
        </li>
      )}
      <li className="muted small">Checked {formatAgo(reach.at)}{reach.from ? ` from ${reach.from}` : ''}.</li>
    </ul>
  );
}

function Internet({ r }: { r: DoctorReport }) {
  const nat = r.nat;
  return (
    <section className="card doctor-card" aria-labelledby="d-internet">
      <h3 id="d-internet">Internet</h3>
      <dl className="facts">
        <Row label="Public IPv4"><span className="mono">{r.publicIpv4 ?? 'unknown'}</span></Row>
        <Row label="Public IPv6">{r.publicIpv6 ? <span className="mono">{r.publicIpv6}</span> : <span className="muted">none</span>}</Row>
        <Row label="UDP">{r.udp === 'ok' ? 'gets out' : r.udp === 'blocked' ? <strong className="bad-text">blocked: no STUN answer came back</strong> : <span className="muted">not measured yet</span>}</Row>
        <Row label="NAT">
          {nat ? (
            <>
              {nat.natType === 'udp-blocked' ? <span className="muted">cannot be measured without UDP</span> : <><strong>{nat.natType}</strong> <span className="muted">— {nat.rfc}</span></>}
              <p className="plain">{nat.plain}</p>
            </>
          ) : <span className="muted">{r.natNote}</span>}
        </Row>
        {nat && nat.natType !== 'udp-blocked' && <Row label="Ports">{nat.allocation === 'sequential' ? `a new port per destination, +${nat.portDelta ?? 1} each time` : ALLOCATION[nat.allocation]}</Row>}
        <Row label="CGNAT">{r.cgnat.detected ? <strong className="bad-text">yes: {r.cgnat.reason}</strong> : 'not detected'}</Row>
        <Row label="Double NAT">{r.doubleNat.detected ? <strong className="bad-text">yes: {r.doubleNat.reason}</strong> : 'not detected'}</Row>
        <Row label="Rendezvous"><span className="mono">{r.rendezvous.url ?? 'none'}</span> {r.rendezvous.connected ? '' : <span className="warn-text">(not connected)</span>}</Row>
      </dl>
    </section>
  );
}

function Router({ r }: { r: DoctorReport }) {
  const g = r.gateway;
  const name = routerName(g.router);
  return (
    <section className="card doctor-card" aria-labelledby="d-router">
      <h3 id="d-router">Router</h3>
      <dl className="facts">
        <Row label="Address"><span className="mono">{g.router.address ?? 'unknown'}</span>{g.lanAddress && <span className="muted"> (this computer: <span className="mono">{g.lanAddress}</span>)</span>}</Row>
        <Row label="Make and model">{name ?? <span className="muted">unknown: the router did not describe itself over UPnP</span>}</Row>
        <Row label="Admin page">{g.router.adminUrl ? <><a href={g.router.adminUrl} target="_blank" rel="noreferrer noopener" className="mono">{g.router.adminUrl}</a>{g.router.adminUrlGuessed && <span className="muted"> (a guess)</span>}</> : <span className="muted">unknown</span>}</Row>
        {g.router.externalIp && <Row label="Its external address"><span className="mono">{g.router.externalIp}</span> <span className="muted">({g.router.externalIpKind})</span></Row>}
        {g.asked
          ? g.protocols.map((p) => (
            <Row key={p.protocol} label={p.label}>
              <span className={!p.answered ? 'muted' : /refuse/.test(p.plain) ? 'warn-text' : 'ok-text'}>{p.plain}</span>
            </Row>
          ))
          : <Row label="Port mapping"><span className="muted">not asked: {g.note}</span></Row>}
      </dl>
    </section>
  );
}

function Mappings({ r }: { r: DoctorReport }) {
  return (
    <section className="card doctor-card" aria-labelledby="d-mappings">
      <h3 id="d-mappings">Port mappings</h3>
      {r.mappings.length ? (
        <table className="ladder mappings">
          <thead><tr><th scope="col">By</th><th scope="col">Public</th><th scope="col">To</th><th scope="col">Lease</th></tr></thead>
          <tbody>
            {r.mappings.map((m) => (
              <tr key={`${m.protocol}-${m.proto}-${m.externalPort}`}>
                <td>{GATEWAY_PROTOCOL_LABEL[m.protocol]} {m.proto.toUpperCase()}</td>
                <td className="mono">{m.externalIp ?? '?'}:{m.externalPort}</td>
                <td className="mono">{m.internalClient}:{m.internalPort}</td>
                <td>{leaseText(m.leaseSec, m.expiresAt)}{m.lastError && <div className="warn-text">{m.lastError}</div>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">None. {r.gateway.asked ? 'The router opened no port for Postern.' : 'Postern did not ask the router.'} Listening on TCP <span className="mono">{r.listening.tcpPort}</span>{r.listening.udpPort ? <> and UDP <span className="mono">{r.listening.udpPort}</span></> : null} ({r.listening.fixed ? 'fixed in Settings' : 'a random port: it changes at every start'}).</p>
      )}
    </section>
  );
}

export function DoctorView() {
  const report = useApp(selectDoctor);
  const loading = useApp(selectDoctorLoading);
  const error = useApp(selectDoctorError);
  const reachBusy = useApp(selectReachBusy);
  const copied = useApp(selectCopied);
  const copyError = useApp(selectCopyError);
  const engine = useApp(selectEngine);
  useEffect(() => {
    if (engine.state === 'running') void actions().loadDoctor();
  }, [engine.state]);
  const worst = report?.findings[0]?.level ?? 'info';
  return (
    <section className="panel doctor" aria-labelledby="doctor-title">
      <header className="doctor-head">
        <div>
          <h2 id="doctor-title">Connection doctor</h2>
          <p className="muted">What this computer’s network allows, as Postern measured it.</p>
        </div>
        <div className="actions">
          <button type="button" className="primary" disabled={reachBusy || engine.state !== 'running'} onClick={() => void actions().checkReachability()}>
            {reachBusy ? 'Checking…' : 'Check reachability'}
          </button>
          <button type="button" onClick={() => actions().openWizard(null, 'manual')} disabled={engine.state !== 'running'}>Port-forwarding wizard…</button>
          <button type="button" onClick={() => void actions().copyReport()} disabled={!report}>Copy report</button>
        </div>
      </header>
      {error && <p className="error" role="alert">{error}</p>}
      {!report && loading && <p role="status" className="muted">Measuring…</p>}
      {report && (
        <>
          <p className={`verdict verdict-${report.reachability?.ok ? 'ok' : worst}`} role="status" aria-label="Verdict">{report.summary}</p>
          <div className="doctor-grid">
            <Internet r={report} />
            <Router r={report} />
            <section className="card doctor-card" aria-labelledby="d-reach">
              <h3 id="d-reach">Reachable from outside?</h3>
              <ReachLines reach={report.reachability} />
              <p className={report.forwarding.helps ? 'muted small' : 'bad-text small'}>
                <strong>{report.forwarding.helps ? 'Forwarding a port can help.' : 'Forwarding a port cannot help here.'}</strong> {report.forwarding.why}
              </p>
            </section>
            <Mappings r={report} />
          </div>
          <section aria-labelledby="d-findings">
            <h3 id="d-findings">Findings</h3>
            <ul className="findings">
              {report.findings.map((f) => <li key={f.key + f.text} className={`finding finding-${f.level}`}><span className="finding-level">{f.level === 'bad' ? 'Problem' : f.level === 'warn' ? 'Note' : f.level === 'ok' ? 'Good' : 'Info'}</span> {f.text}</li>)}
            </ul>
          </section>
        </>
      )}
      {copyError && <p className="warn-text" role="alert">{copyError}</p>}
      {copied && (
        <details className="copied" open={!!copyError}>
          <summary>The copied report (redacted: no names, keys or file names; IP addresses kept)</summary>
          <textarea readOnly aria-label="Report for support" className="mono" rows={12} value={copied.text} onFocus={(e) => e.currentTarget.select()} />
        </details>
      )}
    </section>
  );
}
