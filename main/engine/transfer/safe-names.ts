/**
 * Makes relative paths received from a peer safe to create under the save
 * folder, on every OS we ship to. Pure functions (no fs).
 *
 * Policy:
 *  - rejected (the offer fails with `unsafe-path`): empty paths, absolute paths
 *    (leading '/' or '\'), drive-letter paths ('C:\...', 'C:/...'; a bare 'c:x' is
 *    sanitized to 'c_x' like any ':'), any '..' segment, over-long paths;
 *    a legitimate sender never produces these.
 *  - sanitized (kept, renamed): backslashes, NUL/control chars and the characters
 *    Windows forbids (<>:"|?*) become '_'; trailing dots/spaces are stripped;
 *    Windows reserved device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or
 *    without extension) get a '_' appended to the stem; names longer than
 *    MAX_NAME_BYTES (UTF-8) are shortened keeping the extension; names that look
 *    like our own partial files get a '_'; '.' and empty segments are dropped.
 *  - collisions inside one offer (case-insensitively, after Unicode NFC, files vs
 *    files and files vs folders) get a ` (n)` suffix: `name (1).ext`.
 */

/** Leaves room for ` (9999)` and the `.xxxxxxxx.postern-part.json` partial-file suffix under 255. */
export const MAX_NAME_BYTES = 200;
export const MAX_PATH_CHARS = 4096;
export const MAX_DEPTH = 128;
export const PART_SUFFIX = '.postern-part';

export type SafePathResult = { ok: true; path: string } | { ok: false; reason: string };

const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;
const BAD_CHARS = /[\u0000-\u001f\u007f<>:"|?*\\]/g;

const utf8 = new TextEncoder();

function byteLength(s: string): number {
  return utf8.encode(s).length;
}

/** Truncate to at most `max` UTF-8 bytes without splitting a code point. */
function truncateBytes(s: string, max: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const b = byteLength(ch);
    if (bytes + b > max) break;
    out += ch;
    bytes += b;
  }
  return out;
}

/** Split 'name.ext' → ['name', '.ext']; dotfiles ('.bashrc') have no extension. */
export function splitExt(name: string): [stem: string, ext: string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

/** Make one path component safe. Never returns '', '.' or '..'. */
export function sanitizeComponent(raw: string): string {
  let name = raw.normalize('NFC').replace(BAD_CHARS, '_');
  name = name.replace(/[. ]+$/u, '');
  if (name === '') return '_';
  // Windows: the device name is checked on the part before the first dot, trimmed.
  const firstDot = name.indexOf('.');
  const base = (firstDot === -1 ? name : name.slice(0, firstDot)).trimEnd();
  if (RESERVED.test(base)) {
    name = firstDot === -1 ? `${name}_` : `${name.slice(0, firstDot)}_${name.slice(firstDot)}`;
  }
  const lower = name.toLowerCase();
  if (lower.endsWith(PART_SUFFIX) || lower.endsWith(`${PART_SUFFIX}.json`) || lower.endsWith('.postern-tmp')) {
    name = `${name}_`;
  }
  if (byteLength(name) > MAX_NAME_BYTES) {
    let [stem, ext] = splitExt(name);
    if (byteLength(ext) > 32) {
      stem = name;
      ext = '';
    }
    name = truncateBytes(stem, MAX_NAME_BYTES - byteLength(ext)).replace(/[. ]+$/u, '') + ext;
    if (name === '' || name === ext) name = `_${ext}`;
  }
  return name;
}

/**
 * Validate and sanitize a relative '/'-separated path received from a peer.
 * Returns the safe path or the reason it was rejected.
 */
export function sanitizeRelativePath(raw: string): SafePathResult {
  if (typeof raw !== 'string' || raw.length === 0) return { ok: false, reason: 'empty path' };
  if (raw.length > MAX_PATH_CHARS) return { ok: false, reason: 'path too long' };
  if (raw.startsWith('/') || raw.startsWith('\\')) return { ok: false, reason: `absolute path "${printable(raw)}"` };
  if (/^[a-zA-Z]:[/\\]/.test(raw)) return { ok: false, reason: `drive-letter path "${printable(raw)}"` };
  // A '..' segment is rejected whichever separator the sender used.
  const segmentsAnySep = raw.split(/[/\\]/);
  if (segmentsAnySep.some((s) => s.replace(/\0/g, '').trim() === '..')) {
    return { ok: false, reason: `path escapes the folder "${printable(raw)}"` };
  }
  const parts = raw
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .map(sanitizeComponent);
  if (parts.length === 0) return { ok: false, reason: `empty path "${printable(raw)}"` };
  if (parts.length > MAX_DEPTH) return { ok: false, reason: 'path too deep' };
  return { ok: true, path: parts.join('/') };
}

/** For messages: no control chars, bounded length. */
export function printable(s: string, max = 120): string {
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** 'dir/name.ext', 1 → 'dir/name (1).ext' (suffix goes on the last segment). */
export function withSuffix(path: string, n: number): string {
  if (n === 0) return path;
  const slash = path.lastIndexOf('/');
  const dir = slash === -1 ? '' : path.slice(0, slash + 1);
  const [stem, ext] = splitExt(path.slice(slash + 1));
  return `${dir}${stem} (${n})${ext}`;
}

/** Case- and normalization-insensitive key (macOS/Windows file systems). */
export function pathKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

/**
 * Give every file a unique path within the offer: a later file that collides
 * (case-insensitively) with an earlier file or with a folder used by any entry gets
 * ` (n)`. Empty dirs that collide with a file are dropped. Order is preserved.
 */
export function dedupePaths(files: readonly string[], emptyDirs: readonly string[] = []): {
  files: string[];
  emptyDirs: string[];
} {
  const dirs = new Set<string>();
  const addAncestors = (p: string, includeSelf: boolean): void => {
    const segs = p.split('/');
    const upTo = includeSelf ? segs.length : segs.length - 1;
    for (let i = 1; i <= upTo; i++) dirs.add(pathKey(segs.slice(0, i).join('/')));
  };
  for (const f of files) addAncestors(f, false);
  for (const d of emptyDirs) addAncestors(d, true);
  const used = new Set<string>();
  const out = files.map((f) => {
    for (let n = 0; ; n++) {
      const candidate = withSuffix(f, n);
      const key = pathKey(candidate);
      if (!used.has(key) && !dirs.has(key)) {
        used.add(key);
        return candidate;
      }
    }
  });
  const seenDirs = new Set<string>();
  const outDirs = emptyDirs.filter((d) => {
    const key = pathKey(d);
    if (used.has(key) || seenDirs.has(key)) return false;
    seenDirs.add(key);
    return true;
  });
  return { files: out, emptyDirs: outDirs };
}

/**
 * Sanitize and dedupe a whole received offer. Fails on the first rejected path.
 */
export function sanitizeOfferPaths(
  files: readonly string[],
  emptyDirs: readonly string[],
): { ok: true; files: string[]; emptyDirs: string[] } | { ok: false; reason: string } {
  const safeFiles: string[] = [];
  for (const f of files) {
    const r = sanitizeRelativePath(f);
    if (!r.ok) return r;
    safeFiles.push(r.path);
  }
  const safeDirs: string[] = [];
  for (const d of emptyDirs) {
    const r = sanitizeRelativePath(d);
    if (!r.ok) return r;
    safeDirs.push(r.path);
  }
  return { ok: true, ...dedupePaths(safeFiles, safeDirs) };
}
