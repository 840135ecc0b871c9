/**
 * `postern host`: the app's engine serving the app's UI to a browser on this
 * machine (http://127.0.0.1:PORT/t/TOKEN/), for machines without a display and for
 * the end-to-end tests. Flags that set something the UI also sets (name, ports,
 * rendezvous, download folder) are saved to the settings, as if changed there.
 * With --json it prints one line `{"event":"listening","url":…}` and then
 * nothing more on stdout; it stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SettingsPatch } from '../../shared/domain/settings.js';
import { TIERS, type ConnectedTier } from '../../shared/domain/connection.js';
import { openHeadless } from '../host/host.js';
import { ensureRendererBuilt } from '../host/renderer-build.js';
import { createOutput } from './output.js';
import { errorCode, errorMessage } from '../engine/errors.js';

const USAGE = `Usage: postern host [options]
  --http-port N      port of the UI on 127.0.0.1 (default: any free port)
  --data DIR         data folder (default: $POSTERN_HOME or ~/.local/share/postern)
  --name NAME        this device's name
  --port N           TCP port peers connect to (0: any free port)
  --rendezvous URL   rendezvous server (repeatable; none: host one on this computer)
  --download-dir DIR where accepted files are saved
  --no-discovery     do not look for devices on the local network
  --disable-tier T   never try ladder tier T (debug; repeatable)
  --json             print the URL as one JSON line
`;

/** Same default as the other commands (main.ts). */
export function defaultDataDir(): string {
  return process.env.POSTERN_HOME ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'postern');
}

export function settingsFromFlags(v: { name?: string; port?: string; rendezvous?: string[]; 'download-dir'?: string; 'no-discovery'?: boolean; 'disable-tier'?: string[] }): SettingsPatch {
  const patch: SettingsPatch = {};
  if (v.name) patch.name = v.name;
  if (v.port !== undefined) patch.listenPort = Number(v.port);
  if (v.rendezvous?.length) patch.rendezvous = v.rendezvous;
  if (v['download-dir']) patch.downloadDir = resolve(v['download-dir']);
  if (v['no-discovery']) patch.discovery = false;
  if (v['disable-tier']?.length) {
    for (const t of v['disable-tier']) if (!(TIERS as readonly string[]).includes(t) || t === 'failed') throw Object.assign(new Error(`Unknown tier "${t}". Tiers: ${TIERS.join(', ')}.`), { code: 'BAD_ARGUMENT' });
    patch.disabledTiers = v['disable-tier'] as ConnectedTier[];
  }
  return patch;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'http-port': { type: 'string' }, data: { type: 'string' }, name: { type: 'string' }, port: { type: 'string' },
      rendezvous: { type: 'string', multiple: true }, 'download-dir': { type: 'string' }, 'no-discovery': { type: 'boolean' },
      'disable-tier': { type: 'string', multiple: true }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { process.stdout.write(USAGE); return 0; }
  const out = createOutput(v.json);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const httpPort = v['http-port'] === undefined ? 0 : Number(v['http-port']);
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) { out.error('BAD_ARGUMENT', `--http-port must be a number from 0 to 65535, not "${v['http-port']}".`); return 2; }
  try {
    await ensureRendererBuilt(log);
    const host = await openHeadless({ dataDir: resolve(v.data ?? defaultDataDir()), httpPort, settings: settingsFromFlags(v), log: process.env.POSTERN_DEBUG ? log : () => {} });
    const state = host.service.state();
    out.event('listening', { url: host.url, port: host.port, peerId: state.self.peerId, shortId: state.self.shortId, name: state.self.name, engine: state.engine.state },
      `Postern is running for ${state.self.name} (${state.self.shortId}).\nOpen ${host.url} in a browser on this computer.\n(The address contains a secret token; it changes at each start. Ctrl+C stops.)`);
    if (state.engine.error) log(`Engine not running: ${state.engine.error.message}`);
    await new Promise<void>((res) => {
      process.once('SIGINT', res);
      process.once('SIGTERM', res);
    });
    await host.close();
    return 0;
  } catch (err) {
    out.error(errorCode(err, 'HOST_FAILED'), errorMessage(err));
    return 1;
  }
}
