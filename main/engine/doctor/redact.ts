/**
 * The doctor's report as text, and the support report: redacted text + JSON
 * for pasting into a bug report or a support chat. Pure functions.
 *
 * Redaction: the device's name is removed, peer IDs are cut to their first
 * four characters, anything that looks like a key, token or long hex string
 * is removed, file-system paths are removed, the rendezvous URL keeps only its
 * scheme, host and port, and the router's friendly name (often set by its
 * owner) is dropped. The report holds no file names and no keys to begin with;
 * scrubbing every string is the second line of defence. IP addresses stay:
 * they are what the report is about, and the report says so at the top.
 */
import { GATEWAY_PROTOCOL_LABEL, reachStateLabel, routerName, type DoctorReport, type ReachabilityResult } from '../../../shared/domain/doctor.js';

export const REDACTION_NOTE = 'Redacted for support: no file names, no keys, no device names; peer IDs shortened. IP addresses are kept because they are what this report is about; remove them before posting publicly if you prefer.';

const PEER_ID = /\b[a-z2-7]{52}\b/g;
const SHORT_ID = /\b([A-Z2-7]{4})-[A-Z2-7]{4}\b/g;
const LONG_HEX = /\b[0-9a-fA-F]{32,}\b/g;
const TOKEN_PATH = /\/t\/[A-Za-z0-9_-]{16,}/g;
// Absolute paths (POSIX with two or more segments, Windows drive paths), not the path part of a URL.
const POSIX_PATH = /(?<![\w:/.\]])\/(?:[\w .@+-]+\/)+[\w .@+-]*/g;
const WINDOWS_PATH = /\b[A-Za-z]:\\[^\s"'<>|]*/g;

/** Removes what could identify a person or a secret from free text; keeps IP addresses. */
export function scrubText(text: string): string {
  return text
    .replace(PEER_ID, (id) => `${id.slice(0, 4)}…`)
    .replace(TOKEN_PATH, '/t/(token removed)')
    .replace(LONG_HEX, '(removed)')
    .replace(WINDOWS_PATH, '(path removed)')
    .replace(POSIX_PATH, '(path removed)')
    .replace(SHORT_ID, (_m, head: string) => `${head}-…`);
}

function scrubDeep<T>(value: T): T {
  if (typeof value === 'string') return scrubText(value) as T;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrubDeep(v);
    return out as T;
  }
  return value;
}

function originOf(url: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(unparsable address removed)';
  }
}

/** The report with names, IDs, secrets and paths removed (IP addresses kept). */
export function redactReport(r: DoctorReport): DoctorReport {
  const copy: DoctorReport = structuredClone(r);
  copy.device = { name: '(removed)', shortId: r.device.shortId ? `${r.device.shortId.slice(0, 4)}-…` : '' };
  copy.rendezvous = { ...copy.rendezvous, url: originOf(r.rendezvous.url) };
  copy.gateway.router = { ...copy.gateway.router, friendlyName: null };
  return scrubDeep(copy);
}

const yesNo = (b: boolean, reason: string | null) => (b ? `yes: ${reason ?? ''}` : 'not detected');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function reachLines(reach: ReachabilityResult | null): string[] {
  if (!reach) return ['  not checked'];
  if (reach.error) return [`  could not check: ${reach.error.message}`];
  const lines = [`  checked ${reach.checkedIp ?? '?'}${reach.from ? ` from ${reach.from}` : ''} at ${iso(reach.at)}`];
  if (reach.tcp) lines.push(`  TCP ${reach.tcp.port}: ${reachStateLabel(reach.tcp.state)} (${reach.tcp.state}${reach.tcp.ms !== null ? `, ${reach.tcp.ms} ms` : ''}) — ${reach.tcp.plain}`);
  if (reach.udp) lines.push(`  UDP ${reach.udp.port}: ${reachStateLabel(reach.udp.state)} (${reach.udp.state}${reach.udp.ms !== null ? `, ${reach.udp.ms} ms` : ''}) — ${reach.udp.plain}`);
  return lines;
}

/** The report as text, for people (the copy-report button, the CLI). */
export function formatReportText(r: DoctorReport): string {
  const row = (k: string, v: string) => `  ${k.padEnd(16)}${v}`;
  const router = r.gateway.router;
  const make = routerName(router);
  const nat = r.nat;
  const alloc = nat ? (nat.allocation === 'sequential' ? `sequential (+${nat.portDelta ?? 1} per destination)` : nat.allocation) : 'not measured';
  const lines = [
    `Postern connection report — ${iso(r.generatedAt)}`,
    `Summary: ${r.summary}`,
    '',
    'Internet',
    row('Public IPv4', r.publicIpv4 ?? 'unknown'),
    row('Public IPv6', r.publicIpv6 ?? 'none'),
    row('UDP', r.udp === 'ok' ? 'gets out' : r.udp === 'blocked' ? 'BLOCKED: no STUN answer came back' : 'not measured yet'),
    row('NAT', nat ? `${nat.natType} — ${nat.rfc}` : (r.natNote ?? 'not measured')),
    ...(nat ? [row('', nat.plain)] : []),
    row('Port allocation', alloc),
    row('CGNAT', yesNo(r.cgnat.detected, r.cgnat.reason)),
    row('Double NAT', yesNo(r.doubleNat.detected, r.doubleNat.reason)),
    row('Rendezvous', `${r.rendezvous.url ?? 'none'} (${r.rendezvous.connected ? 'connected' : 'not connected'}${r.rendezvous.embedded ? ', hosted by this computer' : ''})`),
    '',
    'Router',
    row('Address', `${router.address ?? 'unknown'}${r.gateway.lanAddress ? ` (this computer: ${r.gateway.lanAddress})` : ''}`),
    row('Make and model', make || 'unknown (UPnP did not describe it)'),
    row('Admin page', router.adminUrl ? `${router.adminUrl}${router.adminUrlGuessed ? ' (guessed)' : ''}` : 'unknown'),
    row('External addr.', router.externalIp ? `${router.externalIp} (${router.externalIpKind})` : 'not reported'),
    row('Asked', r.gateway.asked ? `yes (${r.gateway.status})` : `no: ${r.gateway.note}`),
    ...r.gateway.protocols.map((p) => row(p.label, p.plain)),
    '',
    'Port mappings',
    ...(r.mappings.length ? r.mappings.map((m) => `  ${GATEWAY_PROTOCOL_LABEL[m.protocol]} ${m.proto.toUpperCase()} ${m.externalIp ?? '?'}:${m.externalPort} → ${m.internalClient}:${m.internalPort}, ${m.leaseSec ? `lease ${m.leaseSec} s${m.expiresAt ? `, expires ${iso(m.expiresAt)}` : ''}` : 'permanent (removed on exit)'}${m.lastError ? `, last error: ${m.lastError}` : ''}`) : ['  none']),
    '',
    'Listening',
    row('TCP', `${r.listening.tcpPort} (${r.listening.fixed ? 'fixed in Settings' : 'random: changes at every start'})`),
    row('UDP', r.listening.udpPort ? String(r.listening.udpPort) : 'off'),
    '',
    'Reachability (the rendezvous dials back)',
    ...reachLines(r.reachability),
    '',
    `Forwarding a port ${r.forwarding.helps ? 'can help' : 'cannot help'}: ${r.forwarding.why}`,
    ...r.forwarding.alternatives.map((a) => `  - ${a.text}`),
    '',
    'Findings',
    ...r.findings.map((f) => `  [${f.level}] ${f.text}`),
  ];
  return lines.join('\n');
}

export interface SupportReport {
  /** Redacted text. */
  text: string;
  /** Redacted JSON (pretty). */
  json: string;
  /** Both, as copied: the note, the text, then the JSON. */
  combined: string;
}

/** What "Copy report" copies: the redacted report as text and JSON, with a note on what was removed. */
export function supportReport(r: DoctorReport): SupportReport {
  const redacted = redactReport(r);
  const text = `${formatReportText(redacted)}\n\n${REDACTION_NOTE}`;
  const json = JSON.stringify({ kind: 'postern-doctor-report', version: 1, note: REDACTION_NOTE, report: redacted }, null, 2);
  return { text, json, combined: `${text}\n\n--- JSON ---\n${json}\n` };
}
