/**
 * Which labs exist on this machine and who owns them. Every lab has a 4-hex
 * id; its namespaces are named `pl-<id>-…` and its state directory
 * (/run/postern-lab/<id>: owner pid, miniupnpd configs, pid files) records the
 * owning process. A lab whose owner is gone (crash, SIGKILL) is stale: the next
 * lab to start removes it, processes first, then namespaces, then the state.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PREFIX, labIdOf } from './addressing.js';
import { deleteNamespaces, listNamespaces } from './netns.js';

export const STATE_ROOT = '/run/postern-lab';

interface Owner {
  pid: number;
  /** The owner's start time (jiffies since boot, /proc/pid/stat field 22): guards against pid reuse. */
  start: string;
  created: string;
  argv: string[];
}

export interface LabRecord {
  id: string;
  namespaces: string[];
  owner?: Owner;
  alive: boolean;
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; starttime is field 22 overall.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function youngerThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < ms;
  } catch {
    return false;
  }
}

export function stateDir(id: string): string {
  return join(STATE_ROOT, id);
}

/** Picks an unused id and records this process as its owner. */
export async function claimId(): Promise<string> {
  const taken = new Set((await listNamespaces()).map(labIdOf));
  for (;;) {
    const id = randomBytes(2).toString('hex');
    if (taken.has(id) || existsSync(stateDir(id))) continue;
    mkdirSync(stateDir(id), { recursive: true });
    const owner: Owner = {
      pid: process.pid,
      start: processStart(process.pid) ?? '',
      created: new Date().toISOString(),
      argv: process.argv.slice(1),
    };
    writeFileSync(join(stateDir(id), 'owner.json'), JSON.stringify(owner));
    return id;
  }
}

async function readOwner(id: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir(id), 'owner.json'), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

export async function listLabs(): Promise<LabRecord[]> {
  const byId = new Map<string, string[]>();
  for (const n of await listNamespaces()) {
    const id = labIdOf(n);
    if (id) byId.set(id, [...(byId.get(id) ?? []), n]);
  }
  if (existsSync(STATE_ROOT)) {
    for (const d of readdirSync(STATE_ROOT)) if (/^[0-9a-f]{4}$/.test(d) && !byId.has(d)) byId.set(d, []);
  }
  const labs: LabRecord[] = [];
  for (const [id, namespaces] of byId) {
    const owner = await readOwner(id);
    // A directory without its owner file yet is a lab being claimed right now by another process.
    const claiming = owner === undefined && youngerThan(stateDir(id), 30_000);
    const alive = claiming || (owner !== undefined && owner.start !== '' && processStart(owner.pid) === owner.start);
    labs.push({ id, namespaces: namespaces.sort(), ...(owner ? { owner } : {}), alive });
  }
  return labs.sort((a, b) => a.id.localeCompare(b.id));
}

/** Removes one lab entirely: processes in its namespaces, the namespaces, its state directory. */
export async function removeLab(id: string, namespaces: readonly string[]): Promise<void> {
  await deleteNamespaces(namespaces);
  rmSync(stateDir(id), { recursive: true, force: true });
}

/** Removes every lab whose owner process is gone. Returns the ids removed. */
export async function removeStale(log?: (l: string) => void): Promise<string[]> {
  const removed: string[] = [];
  for (const lab of await listLabs()) {
    if (lab.alive) continue;
    log?.(`removing stale lab ${lab.id} (${lab.namespaces.length} namespaces, owner ${lab.owner?.pid ?? 'unknown'} gone)`);
    await removeLab(lab.id, lab.namespaces);
    removed.push(lab.id);
  }
  return removed;
}

/** Namespaces with the lab prefix that do not follow the naming scheme (left by hand); listed, never touched. */
export async function strayNamespaces(): Promise<string[]> {
  return (await listNamespaces()).filter((n) => n.startsWith(PREFIX) && labIdOf(n) === undefined);
}
