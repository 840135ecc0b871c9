/**
 * A file transfer as the UI and CLI see it: plain, serializable data (no Node
 * imports: this module is shared with the React renderer). The engine
 * (main/engine/transfer) produces these snapshots and the event payloads below;
 * everything here survives JSON / structured clone unchanged.
 */

export type TransferDirection = 'send' | 'receive';

export type TransferState =
  /** Receiver: an offer arrived and waits for the user to accept or decline. */
  | 'offered'
  /** Sender: the offer was sent, the receiver has not answered yet. */
  | 'waiting-accept'
  | 'active'
  /** The peer is not connected; resumes when it reconnects (sender re-offers). */
  | 'paused'
  | 'completed'
  | 'declined'
  | 'cancelled'
  | 'failed';

/** States a transfer never leaves (except `failed`, which the sender can `resume`). */
export const TERMINAL_TRANSFER_STATES: readonly TransferState[] = ['completed', 'declined', 'cancelled', 'failed'];

/** Stable error codes; `message` is human text that says what to do. */
export type TransferErrorCode =
  /** Receiver's disk is full (ENOSPC/EDQUOT). Partial data is kept for resume. */
  | 'disk-full'
  /** Cannot write (receiver) or read (sender): EACCES/EPERM/EROFS. Partial data kept. */
  | 'no-permission'
  /** Other I/O error. */
  | 'io-error'
  /** A path given to `send` does not exist. */
  | 'not-found'
  /** Nothing readable to send in the given paths. */
  | 'nothing-to-send'
  /** The file list is too long for one transfer (split it, or archive it). */
  | 'too-many-files'
  /** A source file changed (size/mtime/length) after it was offered. */
  | 'source-changed'
  /** The peer offered a path that would escape the save folder. */
  | 'unsafe-path'
  /** A received path clashes with an existing non-directory on disk. */
  | 'path-conflict'
  /** The reassembled file's SHA-256 differs from the sender's. */
  | 'file-hash-mismatch'
  /** A chunk kept arriving corrupted. */
  | 'chunk-corrupt'
  /** The peer sent malformed or out-of-protocol frames. */
  | 'protocol-error'
  /** The peer is not connected (used with state `paused`). */
  | 'disconnected'
  /** The peer reported an error we have no specific code for. */
  | 'peer-error';

export interface TransferError {
  code: TransferErrorCode;
  message: string;
}

export interface TransferFile {
  /** Relative path, '/'-separated; the root folder's name is the first segment. */
  path: string;
  bytes: number;
  /** Hex SHA-256 of the whole file, known once the file is complete. */
  sha256?: string;
  /** Receiver: path relative to `saveDir` it was finally saved as (may carry a ` (1)` suffix). */
  savedPath?: string;
}

/** Something `send` skipped while scanning (unreadable entry, symlink leaving the folder...). */
export interface TransferWarning {
  path: string;
  code: string;
  message: string;
}

export interface TransferInfo {
  /** 32 hex chars (128-bit random), chosen by the sender; the same across resumes. */
  id: string;
  direction: TransferDirection;
  /** The other side. */
  peerId: string;
  files: TransferFile[];
  /** Empty folders that are part of the transfer ('/'-separated relative paths). */
  emptyDirs: string[];
  totalBytes: number;
  /** Bytes present at the receiver, including `bytesSkipped`. */
  bytesDone: number;
  /** Bytes the receiver already had from an earlier attempt (not sent again). */
  bytesSkipped: number;
  /** Smoothed transfer rate in bytes/s (skipped bytes excluded). */
  rate: number;
  /** Estimated seconds left, or null when unknown. */
  etaSec: number | null;
  state: TransferState;
  error?: TransferError;
  /** Epoch ms when the transfer was created (offer sent or received). */
  startedAt: number;
  /** Epoch ms when it reached completed/declined/cancelled/failed; null while live. */
  finishedAt: number | null;
  /** Receiver: the folder files are saved into (absolute path on the receiver). */
  saveDir?: string;
  /** Sender: entries skipped while scanning. */
  warnings?: TransferWarning[];
}

// ---- Event payloads -------------------------------------------------------

/** `transfer-updated`: full snapshot, on every state change (and on creation). */
export type TransferUpdatedPayload = TransferInfo;

/** `transfer-progress`: throttled (~every 200 ms) plus a final one. */
export interface TransferProgressPayload {
  id: string;
  bytesDone: number;
  bytesSkipped: number;
  rate: number;
  etaSec: number | null;
}

/** `incoming-offer`: a peer wants to send us files; accept or decline by `transfer.id`. */
export interface IncomingOfferPayload {
  transfer: TransferInfo;
  fileCount: number;
  totalBytes: number;
}

export interface TransferEventMap {
  'transfer-updated': TransferUpdatedPayload;
  'transfer-progress': TransferProgressPayload;
  'incoming-offer': IncomingOfferPayload;
}

export type TransferEvent = {
  [K in keyof TransferEventMap]: { type: K; payload: TransferEventMap[K] };
}[keyof TransferEventMap];
