/**
 * Turns the PATH arguments of `send` (files and folders) into an offer manifest:
 * '/'-separated relative paths (a folder's own name is the root segment), sizes,
 * mtimes, and the empty folders. Folders are walked iteratively (deep trees and
 * thousands of small files are fine). Symlinks inside a folder are followed only
 * when they point to a file inside that folder (links to folders are skipped: their
 * target is inside and sent anyway, and following them could loop); others are
 * skipped with a warning, as are unreadable entries and special files (sockets, FIFOs, devices).
 * A missing top-level path is an error (`not-found`): the user mistyped it.
 */
import { promises as fsp, constants as fsc, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import type { TransferWarning } from '../../../shared/domain/transfer.js';
import { TransferFailure, describeFsError } from './errors.js';
import { dedupePaths, sanitizeRelativePath } from './safe-names.js';

export interface ScannedFile {
  /** Absolute path on this machine (never sent to the peer). */
  absPath: string;
  /** Relative '/'-separated path as offered. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface ScanResult {
  files: ScannedFile[];
  emptyDirs: string[];
  warnings: TransferWarning[];
  totalBytes: number;
}

const STAT_CONCURRENCY = 64;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function rootName(abs: string): string {
  return path.basename(abs) || 'root';
}

function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

interface Walk {
  files: ScannedFile[];
  emptyDirs: string[];
  warnings: TransferWarning[];
}

function warn(w: Walk, rel: string, code: string, message: string): void {
  w.warnings.push({ path: rel, code, message });
}

async function readable(abs: string): Promise<unknown> {
  try {
    await fsp.access(abs, fsc.R_OK);
    return undefined;
  } catch (err) {
    return err;
  }
}

async function addFile(w: Walk, abs: string, rel: string, st: Stats): Promise<void> {
  const safe = sanitizeRelativePath(rel);
  if (!safe.ok) {
    warn(w, rel, 'unsafe-name', `Skipped "${rel}": its name cannot be sent safely (${safe.reason}).`);
    return;
  }
  const err = await readable(abs);
  if (err) {
    warn(w, rel, 'unreadable', `Skipped "${rel}": ${describeFsError(err, abs, 'read').message}`);
    return;
  }
  w.files.push({ absPath: abs, path: rel, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) });
}

/** Walk one folder given on the command line. */
async function walkDir(w: Walk, rootAbs: string, rootRel: string): Promise<void> {
  const rootReal = await fsp.realpath(rootAbs);
  const stack: { abs: string; rel: string }[] = [{ abs: rootAbs, rel: rootRel }];
  while (stack.length > 0) {
    const { abs, rel } = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(abs, { withFileTypes: true });
    } catch (err) {
      warn(w, rel, 'unreadable', `Skipped folder "${rel}": ${describeFsError(err, abs, 'read').message}`);
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let children = 0;
    const subdirs: { abs: string; rel: string }[] = [];
    const fileJobs: { abs: string; rel: string }[] = [];
    for (const e of entries) {
      const cAbs = path.join(abs, e.name);
      const cRel = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        subdirs.push({ abs: cAbs, rel: cRel });
      } else if (e.isFile() || e.isSymbolicLink()) {
        fileJobs.push({ abs: cAbs, rel: cRel });
      } else {
        warn(w, cRel, 'special-file', `Skipped "${cRel}": not a regular file (socket, FIFO or device).`);
      }
    }
    const results = await mapLimit(fileJobs, STAT_CONCURRENCY, async (j) => {
      try {
        const lst = await fsp.lstat(j.abs);
        if (!lst.isSymbolicLink()) return { j, st: lst };
        let target: string;
        try {
          target = await fsp.realpath(j.abs);
        } catch {
          warn(w, j.rel, 'broken-symlink', `Skipped "${j.rel}": it is a symbolic link to something that does not exist.`);
          return null;
        }
        if (!isInside(rootReal, target)) {
          warn(w, j.rel, 'symlink-outside', `Skipped "${j.rel}": it is a symbolic link pointing outside "${rootRel}".`);
          return null;
        }
        const st = await fsp.stat(j.abs);
        if (st.isDirectory()) {
          // Its target is inside the folder, so it is sent anyway under its real path;
          // following it would only duplicate it (or loop).
          warn(w, j.rel, 'symlink-dir', `Skipped "${j.rel}": symbolic link to a folder that is already included.`);
          return null;
        }
        if (!st.isFile()) {
          warn(w, j.rel, 'special-file', `Skipped "${j.rel}": not a regular file.`);
          return null;
        }
        return { j, st };
      } catch (err) {
        warn(w, j.rel, 'unreadable', `Skipped "${j.rel}": ${describeFsError(err, j.abs, 'read').message}`);
        return null;
      }
    });
    for (const r of results) {
      if (!r) continue;
      const before = w.files.length;
      await addFile(w, r.j.abs, r.j.rel, r.st);
      if (w.files.length > before) children++;
    }
    children += subdirs.length;
    if (children === 0) w.emptyDirs.push(rel);
    // Reverse so the stack pops them in name order.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}

/** Scan `paths` into an offer manifest. Throws TransferFailure (`not-found`, `nothing-to-send`). */
export async function scanPaths(paths: readonly string[]): Promise<ScanResult> {
  const w: Walk = { files: [], emptyDirs: [], warnings: [] };
  for (const p of paths) {
    const abs = path.resolve(p);
    let st: Stats;
    try {
      st = await fsp.stat(abs); // a symlink named explicitly is followed
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') {
        throw new TransferFailure('not-found', `"${p}" does not exist. Check the path and try again.`);
      }
      throw new TransferFailure('no-permission', describeFsError(err, abs, 'read').message);
    }
    const name = rootName(abs);
    if (st.isDirectory()) await walkDir(w, abs, name);
    else if (st.isFile()) await addFile(w, abs, name, st);
    else warn(w, name, 'special-file', `Skipped "${p}": not a regular file or folder.`);
  }
  if (w.files.length === 0 && w.emptyDirs.length === 0) {
    const why = w.warnings.length > 0 ? ` ${w.warnings.map((x) => x.message).slice(0, 3).join(' ')}` : '';
    throw new TransferFailure('nothing-to-send', `Nothing to send in ${paths.map((p) => `"${p}"`).join(', ')}.${why}`);
  }
  // Two arguments with the same name (a/x.txt, b/x.txt) must not collide at the receiver.
  const unique = dedupePaths(
    w.files.map((f) => f.path),
    w.emptyDirs,
  );
  const files = w.files.map((f, i) => ({ ...f, path: unique.files[i]! }));
  return {
    files,
    emptyDirs: unique.emptyDirs,
    warnings: w.warnings,
    totalBytes: files.reduce((s, f) => s + f.size, 0),
  };
}
