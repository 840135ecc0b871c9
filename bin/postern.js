#!/usr/bin/env node
// Entry point of the `postern` command. Runs the TypeScript sources through tsx
// when no compiled build is present, so the CLI works straight from a checkout.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const built = join(root, 'dist', 'main', 'cli', 'main.js');
if (existsSync(built) && !process.env.POSTERN_FROM_SOURCE) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'main', 'cli', 'main.ts')).href);
}
