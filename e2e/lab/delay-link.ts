/**
 * Latency for lab links. The kernel here has no netem, so a delayed link is
 * two TAP devices joined by tapdelay (tapdelay.c, compiled on first use with
 * the system C compiler): the process runs in the internet router's namespace,
 * creates both TAPs there, and one of them is then moved into the site's
 * router namespace and renamed `wan`. Frames wait the configured one-way delay
 * in each direction. tapdelay exits when its stdin closes, so it dies with the
 * process that started it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { must, run, spawnIn, waitForLine } from './exec.js';
import { STATE_ROOT } from './state.js';

const SOURCE = fileURLToPath(new URL('./tapdelay.c', import.meta.url));

let building: Promise<string> | undefined;

/** Path of the compiled tapdelay, built once per source version (cached under /run/postern-lab/bin). */
export function tapdelayBinary(): Promise<string> {
  building ??= (async () => {
    const src = readFileSync(SOURCE);
    const hash = createHash('sha256').update(src).digest('hex').slice(0, 12);
    const dir = join(STATE_ROOT, 'bin');
    const bin = join(dir, `pl-tapdelay-${hash}`);
    if (existsSync(bin)) return bin;
    mkdirSync(dir, { recursive: true });
    const cc = (await run('sh', ['-c', 'command -v cc || command -v gcc || command -v clang'])).stdout.trim();
    if (!cc) throw new Error('latencyMs needs a C compiler (cc/gcc/clang) to build e2e/lab/tapdelay.c; none found');
    const tmp = `${bin}.${process.pid}.tmp`;
    await must(cc, ['-O2', '-Wall', '-o', tmp, SOURCE], { timeoutMs: 60_000 });
    renameSync(tmp, bin);
    return bin;
  })();
  return building;
}

export interface DelayLink {
  child: ChildProcess;
}

/**
 * Creates the link inetNs:inetIf <-> otherNs:otherIf with `delayMs` one-way delay.
 * The tapdelay process is the link: it must stay running for the link to carry traffic.
 */
export async function delayLink(
  inetNs: string,
  inetIf: string,
  otherNs: string,
  otherIf: string,
  delayMs: number,
): Promise<DelayLink> {
  const bin = await tapdelayBinary();
  const tmpName = `${inetIf}x`;
  const child = spawnIn(inetNs, bin, [inetIf, tmpName, String(Math.round(delayMs * 1000))], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  await waitForLine(child, (l) => l === 'ready', {
    timeoutMs: 10_000,
    what: `tapdelay ${inetIf}`,
    streams: ['stdout', 'stderr'],
  });
  await must('ip', ['-n', inetNs, 'link', 'set', tmpName, 'netns', otherNs]);
  await must('ip', ['-n', otherNs, 'link', 'set', tmpName, 'name', otherIf]);
  return { child };
}
