/**
 * CLI output: with `--json`, one JSON object per line with an `event` field (for
 * scripts, the lab and benchmarks); otherwise short human lines and a progress bar
 * on stderr.
 */
export interface Output {
  json: boolean;
  event(event: string, data?: Record<string, unknown>, human?: string): void;
  progress(done: number, total: number, rate: number, etaSec: number | null): void;
  error(code: string, message: string): void;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function createOutput(json: boolean): Output {
  let lastProgressAt = 0;
  let barShown = false;
  const clearBar = () => {
    if (barShown && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    barShown = false;
  };
  return {
    json,
    event(event, data = {}, human) {
      if (json) process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
      else if (human) {
        clearBar();
        process.stdout.write(`${human}\n`);
      }
    },
    progress(done, total, rate, etaSec) {
      const now = Date.now();
      if (json) {
        if (now - lastProgressAt < 250 && done < total) return;
        lastProgressAt = now;
        process.stdout.write(`${JSON.stringify({ event: 'progress', bytes: done, total, rate: Math.round(rate), etaSec })}\n`);
        return;
      }
      if (!process.stderr.isTTY) return;
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const filled = Math.round(frac * width);
      const eta = etaSec === null ? '' : ` ETA ${Math.ceil(etaSec)}s`;
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(rate)}/s${eta}\x1b[K`);
      barShown = true;
    },
    error(code, message) {
      clearBar();
      if (json) process.stdout.write(`${JSON.stringify({ event: 'error', code, message })}\n`);
      else process.stderr.write(`Error: ${message}\n`);
    },
  };
}
