/**
 * `npm run bench [-- NAME [options]]`: runs one benchmark module from bench/,
 * prints its table and writes its JSON to bench-results/.
 *
 *   npm run bench                       the loopback benchmark (default)
 *   npm run bench -- loopback --runs 5  options go to the module
 *   npm run bench -- list               what there is
 *
 * A benchmark is a module `bench/NAME.ts` exporting a `BenchModule`
 * (description, usage, run(argv) → BenchReport); add it to BENCHES below.
 */
import { formatTable, writeResults, type BenchModule } from './common.js';

const BENCHES: Record<string, () => Promise<BenchModule>> = {
  loopback: async () => (await import('./loopback.js')).default,
  'lab-path': async () => (await import('./lab-path.js')).default,
};

async function main(): Promise<number> {
  const [first, ...rest] = process.argv.slice(2);
  const name = first === undefined || first.startsWith('--') ? 'loopback' : first;
  const argv = first === undefined || first.startsWith('--') ? process.argv.slice(2) : rest;
  if (name === 'list' || name === 'help' || name === '-h') {
    for (const [n, load] of Object.entries(BENCHES)) {
      const m = await load();
      process.stdout.write(`${n}: ${m.description}\n  ${m.usage}\n`);
    }
    return 0;
  }
  const load = BENCHES[name];
  if (!load) {
    process.stderr.write(`Unknown benchmark "${name}". Known: ${Object.keys(BENCHES).join(', ')}.\n`);
    return 2;
  }
  const mod = await load();
  const report = await mod.run(argv);
  process.stdout.write(`\n${formatTable(report.columns, report.rows)}\n`);
  for (const n of report.notes) process.stdout.write(`note: ${n}\n`);
  const file = await writeResults(report);
  process.stdout.write(`results: ${file}\n`);
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  return 1;
});
