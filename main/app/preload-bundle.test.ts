// The preload runs sandboxed: it must bundle to CommonJS that requires nothing but
// `electron`, and must not pull the contract's schemas (zod) into the page's process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

test('the preload bundles to CommonJS that requires only electron', async () => {
  const entry = fileURLToPath(new URL('./preload.ts', import.meta.url));
  const out = await build({ entryPoints: [entry], bundle: true, format: 'cjs', platform: 'node', external: ['electron'], write: false, logLevel: 'silent' });
  const code = out.outputFiles[0]?.text ?? '';
  const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(required)], ['electron']);
  assert.ok(!/\bimport\s*\(|\bimport\s+[{*\w]/.test(code), 'no ESM imports left');
  assert.ok(code.length < 10_000, `small preload (${code.length} bytes): no zod, no engine`);
  assert.match(code, /exposeInMainWorld\("postern"/);
});
