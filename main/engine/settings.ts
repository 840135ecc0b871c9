/**
 * Settings store: `settings.json` in the data directory, validated by the shared
 * schema (shared/domain/settings.ts), written atomically. Missing or unreadable
 * fields fall back to defaults so a hand-edited file never stops the app; the
 * reasons are kept for the UI. `nodeOptions` turns settings into PosternNode options.
 */
import { readFile, writeFile, rename, mkdir } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { SettingsPatchSchema, SettingsSchema, type Settings, type SettingsPatch } from '../../shared/domain/settings.js';
import type { NodeOptions } from './node.js';
import { EngineError } from './errors.js';

export const SETTINGS_FILE = 'settings.json';

export function defaultSettings(): Settings {
  const host = hostname().replace(/\.local$/, '') || 'this computer';
  return {
    name: host.slice(0, 64),
    downloadDir: join(homedir(), 'Downloads'),
    rendezvous: [],
    listenPort: 0,
    discovery: true,
    disabledTiers: [],
    peerRelay: false,
  };
}

export class SettingsStore {
  private current: Settings;
  private writing: Promise<void> = Promise.resolve();
  /** Fields of the file on disk that were invalid and replaced by defaults. */
  readonly problems: string[] = [];

  private constructor(readonly file: string, initial: Settings) {
    this.current = initial;
  }

  /** Reads the store; fields missing or invalid take their defaults (and `problems` says which). */
  static async open(dataDir: string, defaults: Settings = defaultSettings()): Promise<SettingsStore> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, SETTINGS_FILE);
    let raw: unknown = {};
    const problems: string[] = [];
    try {
      raw = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') problems.push(`${file} could not be read (${(err as Error).message}); using defaults.`);
    }
    const merged: Record<string, unknown> = { ...defaults };
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      for (const [key, value] of Object.entries(raw)) {
        if (!(key in defaults)) continue;
        const field = SettingsSchema.shape[key as keyof Settings].safeParse(value);
        if (field.success) merged[key] = field.data;
        else problems.push(`"${key}" in ${file} is invalid (${field.error.issues[0]?.message ?? 'bad value'}); using the default.`);
      }
    }
    const store = new SettingsStore(file, SettingsSchema.parse(merged));
    store.problems.push(...problems);
    return store;
  }

  get(): Settings {
    return structuredClone(this.current);
  }

  /** Validates and saves a patch; throws EngineError BAD_SETTINGS with the first problem. */
  async update(patch: SettingsPatch): Promise<Settings> {
    const parsedPatch = SettingsPatchSchema.safeParse(patch);
    if (!parsedPatch.success) throw badSettings(parsedPatch.error.issues);
    const parsed = SettingsSchema.safeParse({ ...this.current, ...parsedPatch.data });
    if (!parsed.success) throw badSettings(parsed.error.issues);
    const next = parsed.data;
    if (!isAbsolute(next.downloadDir)) throw new EngineError('BAD_SETTINGS', `The download folder must be a full path (like ${join(homedir(), 'Downloads')}), not "${next.downloadDir}".`);
    next.downloadDir = resolve(next.downloadDir);
    next.rendezvous = [...new Set(next.rendezvous)];
    next.disabledTiers = [...new Set(next.disabledTiers)];
    this.current = next;
    await this.save();
    return this.get();
  }

  private save(): Promise<void> {
    const data = `${JSON.stringify(this.current, null, 2)}\n`;
    this.writing = this.writing.catch(() => {}).then(async () => {
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, data, { mode: 0o600 });
      await rename(tmp, this.file);
    });
    return this.writing;
  }
}

function badSettings(issues: readonly { path: readonly PropertyKey[]; message: string }[]): EngineError {
  const first = issues[0];
  const where = first?.path.length ? `${first.path.map(String).join('.')}: ` : '';
  return new EngineError('BAD_SETTINGS', `${where}${first?.message ?? 'invalid settings'}`);
}

/** PosternNode options from settings; `extra` (tests, the demo) wins. */
export function nodeOptions(dataDir: string, settings: Settings, extra: Partial<NodeOptions> = {}): NodeOptions {
  return {
    dataDir,
    name: settings.name,
    downloadDir: settings.downloadDir,
    ...(settings.rendezvous.length ? { rendezvous: settings.rendezvous } : {}),
    listenPort: settings.listenPort,
    discovery: settings.discovery,
    knobs: { disabledTiers: new Set(settings.disabledTiers) },
    ...(settings.peerRelay ? { peerRelay: true } : {}),
    ...extra,
  };
}
