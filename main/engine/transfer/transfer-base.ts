/**
 * What outgoing and incoming transfers share: the TransferInfo snapshot, state
 * changes (reported to the manager, which emits and persists), and progress with
 * a smoothed rate and ETA, throttled to one event per PROGRESS_INTERVAL_MS plus a
 * final one. `attempt` guards async work: every (re)start/stop bumps it, and work
 * started under an older attempt quietly stops.
 */
import type {
  TransferError,
  TransferInfo,
  TransferProgressPayload,
  TransferState,
} from '../../../shared/domain/transfer.js';
import type { FramedChannel } from '../channel/framed-channel.js';
import { TransferFailure } from './errors.js';

export const PROGRESS_INTERVAL_MS = 200;
/** Weight of the newest sample in the rate's exponential moving average. */
const RATE_ALPHA = 0.3;

export interface TransferHost {
  /** State or snapshot changed: emit `transfer` and persist if relevant. */
  changed(t: TransferBase): void;
  progress(p: TransferProgressPayload): void;
  /** Something worth persisting changed without a state change (throttled). */
  persistSoon(): void;
  /** Diagnostics for dropped/hostile input; never user-facing. */
  log(msg: string): void;
}

const FINAL_STATES: ReadonlySet<TransferState> = new Set(['completed', 'declined', 'cancelled', 'failed']);

export class RateMeter {
  rate = 0;
  private lastAt = 0;
  private lastBytes = 0;
  private primed = false;

  reset(now: number, bytes: number): void {
    this.lastAt = now;
    this.lastBytes = bytes;
    this.primed = false;
    this.rate = 0;
  }

  /** Feed the cumulative transferred byte count; returns the smoothed rate (bytes/s). */
  sample(now: number, bytes: number): number {
    const dt = (now - this.lastAt) / 1000;
    // Later samples need 10 ms to mean something; the first only needs bytes to have
    // moved, so a transfer that is over in a few events still shows a rate.
    if (dt < (this.primed ? 0.01 : 0.001)) return this.rate;
    const inst = Math.max(0, bytes - this.lastBytes) / dt;
    this.rate = this.primed ? RATE_ALPHA * inst + (1 - RATE_ALPHA) * this.rate : inst;
    this.primed = true;
    this.lastAt = now;
    this.lastBytes = bytes;
    return this.rate;
  }
}

export abstract class TransferBase {
  readonly info: TransferInfo;
  protected attempt = 0;
  protected channel: FramedChannel | null = null;
  /** Bytes actually moved over the wire (drives the rate; skipped bytes excluded). */
  protected wireBytes = 0;
  private readonly meter = new RateMeter();
  private progressTimer: NodeJS.Timeout | null = null;
  private lastProgressAt = 0;

  constructor(
    protected readonly host: TransferHost,
    info: TransferInfo,
  ) {
    this.info = info;
  }

  get id(): string {
    return this.info.id;
  }
  get peerId(): string {
    return this.info.peerId;
  }
  get state(): TransferState {
    return this.info.state;
  }
  get isFinal(): boolean {
    return FINAL_STATES.has(this.info.state);
  }
  /** Is this transfer currently running on `ch`? */
  usesChannel(ch: FramedChannel): boolean {
    return this.channel === ch;
  }

  snapshot(): TransferInfo {
    const s: TransferInfo = {
      ...this.info,
      files: this.info.files.map((f) => ({ ...f })),
      emptyDirs: [...this.info.emptyDirs],
    };
    if (this.info.error) s.error = { ...this.info.error };
    if (this.info.warnings) s.warnings = this.info.warnings.map((w) => ({ ...w }));
    return s;
  }

  protected setState(state: TransferState, error?: TransferError): void {
    const was = this.info.state;
    this.info.state = state;
    if (error) this.info.error = { code: error.code, message: error.message };
    else delete this.info.error;
    if (state === 'active' && was !== 'active') this.meter.reset(Date.now(), this.wireBytes);
    if (state !== 'active') {
      this.info.rate = 0;
      this.info.etaSec = state === 'completed' ? 0 : null;
    }
    if (FINAL_STATES.has(state)) this.info.finishedAt = Date.now();
    else this.info.finishedAt = null;
    if (state === 'completed') this.info.bytesDone = this.info.totalBytes;
    if (state !== 'active') this.emitProgressNow();
    this.host.changed(this);
  }

  /** Write a frame on the current channel if it is still ours. */
  protected send(frame: Uint8Array, attempt = this.attempt): boolean {
    const ch = this.channel;
    if (!ch || ch.closed || attempt !== this.attempt) return false;
    return ch.write(frame);
  }

  protected toFailure(err: unknown, fallback: (e: unknown) => TransferFailure): TransferFailure {
    return err instanceof TransferFailure ? err : fallback(err);
  }

  /** Call whenever bytesDone/bytesSkipped/wireBytes change. Throttled. */
  protected progressChanged(): void {
    if (this.progressTimer) return;
    const wait = Math.max(0, this.lastProgressAt + PROGRESS_INTERVAL_MS - Date.now());
    this.progressTimer = setTimeout(() => {
      this.progressTimer = null;
      this.emitProgressNow();
    }, wait);
    this.progressTimer.unref?.();
  }

  protected emitProgressNow(): void {
    if (this.progressTimer) {
      clearTimeout(this.progressTimer);
      this.progressTimer = null;
    }
    const now = Date.now();
    this.lastProgressAt = now;
    const i = this.info;
    if (i.state === 'active') {
      i.rate = Math.round(this.meter.sample(now, this.wireBytes));
      const left = Math.max(0, i.totalBytes - i.bytesDone);
      i.etaSec = left === 0 ? 0 : i.rate > 0 ? Math.ceil(left / i.rate) : null;
    }
    this.host.progress({ id: i.id, bytesDone: i.bytesDone, bytesSkipped: i.bytesSkipped, rate: i.rate, etaSec: i.etaSec });
  }

  /** Stop timers (manager shutdown). */
  dispose(): void {
    if (this.progressTimer) clearTimeout(this.progressTimer);
    this.progressTimer = null;
  }
}
