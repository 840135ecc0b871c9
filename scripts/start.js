#!/usr/bin/env node
// `npm start`: the desktop app where Electron can run, otherwise the headless host
// (the same UI in a browser), with one line saying why. Electron needs its binary
// (npm's install scripts are off, so this runs Electron's installer once if it is
// missing) and, on Linux, a display.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);

const electronDir = join(root, 'node_modules', 'electron');

/** The binary's path if it is there (read as electron/index.js does, without its download on require). */
function electronBinary() {
  const pathFile = join(electronDir, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : 'electron';
  const base = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(electronDir, 'dist');
  const bin = join(base, rel);
  return existsSync(pathFile) || process.env.ELECTRON_OVERRIDE_DIST_PATH ? (existsSync(bin) ? bin : null) : null;
}

function whyNotElectron() {
  if (process.env.POSTERN_HEADLESS === '1') return 'POSTERN_HEADLESS=1 is set';
  let bin = electronBinary();
  if (!bin && existsSync(join(electronDir, 'install.js'))) {
    process.stderr.write('Electron\'s binary is missing; trying to download it once…\n');
    const r = spawnSync(process.execPath, [join(electronDir, 'install.js')], { cwd: electronDir, stdio: 'ignore', timeout: 180_000 });
    if (r.status === 0) bin = electronBinary();
  }
  if (!bin) return 'Electron\'s binary is not installed and could not be downloaded';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'there is no display (DISPLAY/WAYLAND_DISPLAY unset)';
  return { bin };
}

const why = whyNotElectron();
if (typeof why === 'object') {
  const built = ['dist/main/app/main.js', 'dist/main/app/preload.cjs', 'renderer/dist/index.html'].every((f) => existsSync(join(root, f)));
  if (!built) {
    process.stderr.write('Building the app once (npm run build)…\n');
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  const child = spawn(why.bin, [root, ...args], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  process.stderr.write(`Starting the headless host instead of the desktop app: ${why}.\n`);
  const child = spawn(process.execPath, [join(root, 'bin', 'postern.js'), 'host', ...args], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code) => process.exit(code ?? 0));
}
