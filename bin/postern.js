#!/usr/bin/env node
// Entry point of the `postern` command. In a checkout it runs the TypeScript
// sources through tsx, so what runs is always what is in the tree; a compiled
// build (`npm run build`, dist/) is used only where the sources are absent (an
// installed package) or when POSTERN_USE_DIST=1 asks for it (faster start-up,
// e.g. for benchmarks).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const source = join(root, 'main', 'cli', 'main.ts');
const built = join(root, 'dist', 'main', 'cli', 'main.js');
const useBuilt = existsSync(built) && (process.env.POSTERN_USE_DIST === '1' || !existsSync(source));
if (useBuilt) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
}
