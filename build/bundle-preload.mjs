// Bundles the Electron preload into one CommonJS file (dist/main/app/preload.cjs):
// a sandboxed preload cannot load ES modules and may require only `electron`, so
// the shared contract it imports is bundled in.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  entryPoints: [`${root}main/app/preload.ts`],
  outfile: `${root}dist/main/app/preload.cjs`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'chrome130',
  external: ['electron'],
  logLevel: 'warning',
});
