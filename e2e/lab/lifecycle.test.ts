/**
 * The lab never outlives its run: SIGINT tears it down, an uncaught exception
 * removes it on exit, and a lab whose owner was SIGKILLed (nothing could run)
 * is removed, daemons included, by the next lab that starts. Each case runs a
 * real lab in a child process. Needs root and the lab's tools.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { waitForLine } from './exec.js';
import { Lab, REPO_ROOT, labUnavailable } from './lab.js';
import { isRunning, listNamespaces, nsPids } from './netns.js';
import { stateDir } from './state.js';

const skip = await labUnavailable({ gateways: true });
if (skip) console.log(`# lab lifecycle tests skipped: ${skip}`);

/** A child process that brings a lab up, prints "UP <id>", then does what `then` says. */
function childLab(then: 'wait' | 'throw'): ChildProcess {
  const code = [
    "import { Lab } from './e2e/lab/lab.ts';",
    "const lab = await Lab.up({ sites: [{ name: 'a', nat: 'port-restricted', gateway: ['natpmp'] }] });",
    'console.log(`UP ${lab.id}`);',
    then === 'throw' ? "setTimeout(() => { throw new Error('boom'); }, 10);" : 'setInterval(() => undefined, 1000);',
  ].join('\n');
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function upId(child: ChildProcess): Promise<string> {
  const line = await waitForLine(child, (l) => l.startsWith('UP '), { timeoutMs: 30_000, what: 'child lab' });
  return line.slice(3).trim();
}

const exitOf = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => child.once('exit', (code) => resolve(code)));

async function labNamespaces(id: string): Promise<string[]> {
  return (await listNamespaces()).filter((n) => n.startsWith(`pl-${id}-`));
}

describe('network lab lifecycle', { skip: skip ?? false }, () => {
  test('SIGINT tears the lab down and exits 130', async () => {
    const child = childLab('wait');
    const exited = exitOf(child);
    const id = await upId(child);
    assert.ok((await labNamespaces(id)).length >= 4, 'lab namespaces exist while it runs');
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.deepEqual(await labNamespaces(id), []);
    assert.equal(existsSync(stateDir(id)), false);
  });

  test('an uncaught exception still removes the lab', async () => {
    const child = childLab('throw');
    const exited = exitOf(child);
    const id = await upId(child);
    assert.equal(await exited, 1);
    assert.deepEqual(await labNamespaces(id), []);
  });

  test('a SIGKILLed lab (daemons left running) is removed by the next one', async () => {
    const child = childLab('wait');
    const exited = exitOf(child);
    const id = await upId(child);
    child.kill('SIGKILL');
    await exited;
    const left = await labNamespaces(id);
    assert.ok(left.length >= 4, 'a killed owner leaves its namespaces');
    const routerNs = left.find((n) => n.includes('-r-a'));
    assert.ok(routerNs);
    const daemons = await nsPids(routerNs);
    assert.ok(daemons.length > 0, 'miniupnpd is still running in the stale lab');

    const lab = await Lab.up({ sites: [{ name: 'b', nat: 'public' }], server: false });
    try {
      assert.deepEqual(await labNamespaces(id), []);
      for (const pid of daemons) assert.equal(isRunning(pid), false, `stale daemon ${pid} was ended`);
      assert.equal(existsSync(stateDir(id)), false);
    } finally {
      await lab.down();
    }
    assert.deepEqual(await labNamespaces(lab.id), []);
  });
});
