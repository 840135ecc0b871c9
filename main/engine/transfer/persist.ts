/**
 * Persists the transfers that must survive an app restart, in one JSON file in
 * the data dir: pending outgoing transfers (source paths + manifest, to re-offer
 * when the peer reconnects) and accepted incoming ones (so the sender's re-offer
 * is accepted into the same folder without asking again). Writes are atomic
 * (temp + fsync + rename) and coalesced; a corrupt file is set aside, not fatal.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isTransferIdHex } from '../../wire/transfer-frames.js';
import type { IncomingRecord } from './receiver.js';
import type { OutgoingRecord } from './sender.js';

export const STATE_FILE = 'transfers.json';

export interface PersistedTransfers {
  v: 1;
  outgoing: OutgoingRecord[];
  incoming: IncomingRecord[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function validOutgoing(r: unknown): r is OutgoingRecord {
  return (
    isObj(r) &&
    isStr(r['id']) &&
    isTransferIdHex(r['id']) &&
    isStr(r['peerId']) &&
    isNum(r['startedAt']) &&
    isNum(r['chunkSize']) &&
    Array.isArray(r['emptyDirs']) &&
    r['emptyDirs'].every(isStr) &&
    Array.isArray(r['warnings']) &&
    (r['state'] === 'paused' || r['state'] === 'failed') &&
    Array.isArray(r['files']) &&
    r['files'].every((f) => isObj(f) && isStr(f['absPath']) && isStr(f['path']) && isNum(f['size']) && isNum(f['mtimeMs']))
  );
}

function validIncoming(r: unknown): r is IncomingRecord {
  return (
    isObj(r) &&
    isStr(r['id']) &&
    isTransferIdHex(r['id']) &&
    isStr(r['peerId']) &&
    isNum(r['startedAt']) &&
    isStr(r['saveDir']) &&
    isObj(r['offer']) &&
    Array.isArray(r['offer']['files']) &&
    Array.isArray(r['offer']['emptyDirs'])
  );
}

export class TransferStateFile {
  readonly file: string;
  private writing: Promise<void> | null = null;
  private pending: (() => PersistedTransfers) | null = null;

  constructor(
    dataDir: string,
    private readonly log: (msg: string) => void = () => undefined,
  ) {
    this.file = path.join(dataDir, STATE_FILE);
  }

  async load(): Promise<PersistedTransfers> {
    const empty: PersistedTransfers = { v: 1, outgoing: [], incoming: [] };
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return empty;
      throw err;
    }
    try {
      const raw: unknown = JSON.parse(text);
      if (!isObj(raw) || raw['v'] !== 1) throw new Error('bad version');
      return {
        v: 1,
        outgoing: Array.isArray(raw['outgoing']) ? raw['outgoing'].filter(validOutgoing) : [],
        incoming: Array.isArray(raw['incoming']) ? raw['incoming'].filter(validIncoming) : [],
      };
    } catch {
      await fsp.rename(this.file, `${this.file}.corrupt-${Date.now()}`).catch(() => undefined);
      return empty;
    }
  }

  /** Schedule a write of `snapshot()` (called lazily, once per coalesced write). */
  save(snapshot: () => PersistedTransfers): void {
    this.pending = snapshot;
    if (!this.writing) this.writing = this.drain();
  }

  /** Resolves when every scheduled write is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const snap = this.pending;
        this.pending = null;
        try {
          await this.write(JSON.stringify(snap()));
        } catch (err) {
          // Not fatal: transfers go on, only restart-resume is affected.
          this.log(`could not save ${this.file}: ${String(err)}`);
        }
      }
    } finally {
      this.writing = null;
    }
  }

  private async write(text: string): Promise<void> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.file);
  }
}
