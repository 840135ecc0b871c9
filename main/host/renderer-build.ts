/**
 * The headless host serves renderer/dist. From a fresh checkout it is not built
 * yet, so `postern host` and `postern demo` build it once with Vite (a dev
 * dependency) instead of serving an error page.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRendererDir } from './static-files.js';

export async function ensureRendererBuilt(log: (line: string) => void): Promise<string | null> {
  const found = findRendererDir();
  if (found) return found;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const config = join(root, 'vite.config.ts');
  if (!existsSync(config)) return null;
  log('Building the UI once (vite build)…');
  try {
    const vite = await import('vite');
    await vite.build({ configFile: config, root, logLevel: 'warn' });
  } catch (err) {
    log(`Could not build the UI: ${String(err)}. Run \`npm run build:renderer\`.`);
    return null;
  }
  return findRendererDir();
}
