/**
 * `postern demo`: everything for a first look on one computer. A rendezvous on
 * 127.0.0.1 and two devices, Alice and Bob, each with its own data and download
 * folder in a temporary directory (removed on exit), LAN discovery off, each
 * serving the UI; open both addresses in two browser tabs, pair them with a code
 * and send a file from one to the other.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRendezvous } from '../rendezvous/server.js';
import { openHeadless } from '../host/host.js';
import { ensureRendererBuilt } from '../host/renderer-build.js';
import { createOutput } from './output.js';
import { errorCode, errorMessage } from '../engine/errors.js';

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } } });
  const out = createOutput(v.json);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const root = await mkdtemp(join(tmpdir(), 'postern-demo-'));
  const closers: (() => Promise<void>)[] = [];
  try {
    await ensureRendererBuilt(log);
    const rendezvous = await startRendezvous({ host: '127.0.0.1', port: 0 });
    closers.push(() => rendezvous.close());
    const open = async (name: string) => {
      const host = await openHeadless({
        dataDir: join(root, name.toLowerCase(), 'data'),
        settings: { name, rendezvous: [rendezvous.url], downloadDir: join(root, name.toLowerCase(), 'Downloads'), discovery: false },
      });
      closers.unshift(() => host.close());
      return host;
    };
    const [alice, bob] = [await open('Alice'), await open('Bob')];
    out.event('demo', { rendezvous: rendezvous.url, alice: alice.url, bob: bob.url, root }, [
      'Postern demo: two devices on this computer.',
      '',
      `  Alice: ${alice.url}`,
      `  Bob:   ${bob.url}`,
      '',
      'Open each address in its own browser tab. In Alice\'s tab choose "Send to a new device",',
      'type the code in Bob\'s tab under "Enter a code", then send a file (type its path, e.g. /etc/hostname).',
      `Bob's downloads go to ${join(root, 'bob', 'Downloads')}. Ctrl+C stops and removes ${root}.`,
    ].join('\n'));
    await new Promise<void>((res) => {
      process.once('SIGINT', res);
      process.once('SIGTERM', res);
    });
    return 0;
  } catch (err) {
    out.error(errorCode(err, 'DEMO_FAILED'), errorMessage(err));
    return 1;
  } finally {
    for (const close of closers) await close().catch(() => {});
    if (!v.keep) await rm(root, { recursive: true, force: true });
  }
}
