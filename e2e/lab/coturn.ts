/** Start coturn (turnserver) on the lab server's two public addresses; resolves once it listens. */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Lab } from './lab.js';
import { until } from './exec.js';

export const TURN_REALM = 'postern.lab';

export function turnserverMissing(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin'];
  return dirs.some((d) => d && existsSync(join(d, 'turnserver'))) ? undefined : 'coturn (turnserver) is not installed';
}

export async function startCoturn(l: Lab, name: string, port: number, minPort: number, extra: string[]): Promise<void> {
  const [s1, s2] = l.serverAddresses;
  const args = [
    '-n', `--listening-ip=${s1}`, `--listening-ip=${s2}`, `--listening-port=${port}`, `--alt-listening-port=${port + 1}`,
    `--min-port=${minPort}`, `--max-port=${minPort + 999}`, `--realm=${TURN_REALM}`, '--fingerprint',
    '--no-tls', '--no-dtls', '--no-cli', '--simple-log', `--log-file=${join(l.dir, `coturn-${name}.log`)}`,
    `--pidfile=${join(l.dir, `coturn-${name}.pid`)}`, `--db=${join(l.dir, `coturn-${name}.sqlite`)}`, ...extra,
  ];
  const child = l.spawn('server', 'turnserver', args, { stdio: 'ignore' });
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`turnserver ${name} exited (${child.exitCode}); see ${l.dir}/coturn-${name}.log`);
    const u = await l.exec('server', 'ss', ['-lnu']);
    const t = await l.exec('server', 'ss', ['-lnt']);
    return [s1, s2].every((a) => u.stdout.includes(`${a}:${port} `) && t.stdout.includes(`${a}:${port} `));
  }, 10_000, `turnserver ${name} listening on ${port}`);
}
