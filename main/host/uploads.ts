/**
 * Drag-and-drop on the headless host: the browser cannot give the host real paths,
 * so dropped files are streamed, one request per file, into a staging folder
 * (`<dataDir>/staging/<batch>/<relative path>`) and then sent from there. The
 * relative path is checked like a received one: no absolute paths, no `..`.
 * Batches older than a week are removed at start-up (a transfer that resumes
 * after a restart still needs its files).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import { EngineError } from '../engine/errors.js';

const KEEP_MS = 7 * 24 * 3600_000;

export function stagingDir(dataDir: string): string {
  return join(dataDir, 'staging');
}

/** Checks a '/'-separated relative path from the browser; returns its segments. */
export function safeSegments(relPath: string): string[] {
  const segments = relPath.split('/');
  const bad = relPath.length > 4096 || segments.length > 64 || segments.some((s) => !s || s === '.' || s === '..' || s.length > 255 || /[\\\0]/.test(s));
  if (bad) throw new EngineError('BAD_UPLOAD_PATH', `The dropped file "${relPath}" has a name Postern cannot stage. Rename it or type its path instead.`);
  return segments;
}

/** Streams one request body into the batch; resolves with the staged top-level entry's absolute path. */
export async function receiveUpload(dataDir: string, batch: string, relPath: string, req: IncomingMessage): Promise<string> {
  if (!/^[0-9a-f]{8,64}$/.test(batch)) throw new EngineError('BAD_UPLOAD_PATH', 'Bad upload batch.');
  const segments = safeSegments(relPath);
  const root = join(stagingDir(dataDir), batch);
  const file = join(root, ...segments);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await pipeline(req, createWriteStream(file, { flags: 'wx', mode: 0o600 })).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new EngineError('BAD_UPLOAD_PATH', `"${relPath}" was dropped twice.`);
    throw err;
  });
  return join(root, segments[0] as string);
}

export async function pruneStaging(dataDir: string, now = Date.now()): Promise<void> {
  const root = stagingDir(dataDir);
  const entries = await readdir(root).catch(() => [] as string[]);
  for (const name of entries) {
    const info = await stat(join(root, name)).catch(() => null);
    if (info && now - info.mtimeMs > KEEP_MS) await rm(join(root, name), { recursive: true, force: true });
  }
}
