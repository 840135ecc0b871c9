/** Numbers as people read them: sizes, speeds, time left, durations. */

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(v < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatRate(bytesPerSec: number): string {
  return `${formatBytes(bytesPerSec)}/s`;
}

export function formatEta(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '';
  if (sec < 1) return 'less than a second left';
  if (sec < 60) return `${Math.ceil(sec)} s left`;
  if (sec < 3600) return `${Math.ceil(sec / 60)} min left`;
  return `${(sec / 3600).toFixed(1)} h left`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatRtt(rttMs: number | null | undefined): string {
  return rttMs === null || rttMs === undefined ? '' : `${rttMs < 10 ? rttMs.toFixed(1) : Math.round(rttMs)} ms`;
}

export function formatAgo(at: number | null, now = Date.now()): string {
  if (!at) return 'never';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return new Date(at).toLocaleDateString();
}

/** "holiday-photos (+3 more)" for a transfer's files. */
export function transferTitle(files: { path: string }[]): string {
  const tops = [...new Set(files.map((f) => f.path.split('/')[0] ?? f.path))];
  if (!tops.length) return 'Empty transfer';
  return tops.length === 1 ? (tops[0] as string) : `${tops[0]} and ${tops.length - 1} more`;
}
