/**
 * Transfer errors with stable codes (shared/domain/transfer.ts TransferErrorCode)
 * and messages that tell the user what to do; mapping of Node fs errors
 * (ENOSPC, EACCES, ...) onto them.
 */
import type { TransferError, TransferErrorCode } from '../../../shared/domain/transfer.js';
import { printable } from './safe-names.js';

export class TransferFailure extends Error {
  override readonly name = 'TransferFailure';
  constructor(
    readonly code: TransferErrorCode,
    message: string,
  ) {
    super(message);
  }
  toJSON(): TransferError {
    return { code: this.code, message: this.message };
  }
}

const KNOWN_CODES: ReadonlySet<string> = new Set<TransferErrorCode>([
  'disk-full',
  'no-permission',
  'io-error',
  'not-found',
  'nothing-to-send',
  'too-many-files',
  'source-changed',
  'unsafe-path',
  'path-conflict',
  'file-hash-mismatch',
  'chunk-corrupt',
  'protocol-error',
  'disconnected',
  'peer-error',
]);

export function isTransferErrorCode(code: string): code is TransferErrorCode {
  return KNOWN_CODES.has(code);
}

/**
 * Map an fs error to a TransferFailure. `op` says whether we were reading (sender)
 * or writing (receiver), which changes the advice.
 */
export function describeFsError(err: unknown, where: string, op: 'read' | 'write'): TransferFailure {
  if (err instanceof TransferFailure) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const p = printable(where, 200);
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new TransferFailure(
        'disk-full',
        `Not enough disk space to save into "${p}". Free up space (or choose another folder) and send again: the part already received is kept and will not be sent twice.`,
      );
    case 'EACCES':
    case 'EPERM':
      return op === 'write'
        ? new TransferFailure(
            'no-permission',
            `No permission to write into "${p}". Choose another folder or fix its permissions, then send again: the part already received is kept.`,
          )
        : new TransferFailure('no-permission', `No permission to read "${p}". Check its permissions and try again.`);
    case 'EROFS':
      return new TransferFailure(
        'no-permission',
        `"${p}" is on a read-only disk. Choose another folder, then send again: the part already received is kept.`,
      );
    case 'ENOENT':
      return op === 'read'
        ? new TransferFailure('source-changed', `"${p}" no longer exists. Send it again if it moved.`)
        : new TransferFailure('io-error', `The folder "${p}" disappeared while saving. Check the save folder and send again.`);
    case 'ENOTDIR':
    case 'EEXIST':
    case 'EISDIR': {
      // Name the path that is in the way (without our partial-file suffix), not just the folder.
      const at = (err as NodeJS.ErrnoException).path?.replace(/\.[0-9a-f]{12}\.postern-part(\.json)?$/, '');
      return new TransferFailure(
        'path-conflict',
        `Cannot create "${printable(at ?? where, 200)}": something with that name is in the way. Rename or move it and send again.`,
      );
    }
    case 'EMFILE':
    case 'ENFILE':
      return new TransferFailure('io-error', `Too many open files while accessing "${p}". Close some applications and try again.`);
    default: {
      const detail = err instanceof Error ? err.message : String(err);
      return new TransferFailure('io-error', `Could not ${op} "${p}": ${printable(detail, 300)}`);
    }
  }
}

/**
 * The text sent to the peer in an ERROR frame: local details (absolute paths of
 * this machine) stay here; the peer gets a generic, actionable sentence.
 */
export function messageForPeer(err: TransferFailure, role: 'sender' | 'receiver'): string {
  switch (err.code) {
    case 'disk-full':
      return 'The receiving computer ran out of disk space. Once space is freed, resume the transfer: what was received is kept.';
    case 'no-permission':
      return role === 'receiver'
        ? 'The receiving computer cannot write into its save folder. Once that is fixed, resume the transfer: what was received is kept.'
        : 'The sending computer cannot read one of the files.';
    case 'path-conflict':
      return 'On the receiving computer, an existing file is in the way of a folder of this transfer.';
    case 'io-error':
      return `A disk error on the ${role === 'receiver' ? 'receiving' : 'sending'} computer stopped the transfer.`;
    default:
      return err.message;
  }
}

/** A peer-reported error, turned into ours (unknown codes become `peer-error`). */
export function fromPeerError(code: string, message: string): TransferFailure {
  const text = `The other computer reported: ${printable(message, 500)}`;
  return new TransferFailure(isTransferErrorCode(code) ? code : 'peer-error', text);
}

export function protocolError(detail: string): TransferFailure {
  return new TransferFailure(
    'protocol-error',
    `The other computer sent invalid transfer data (${printable(detail, 300)}). Make sure both sides run an up-to-date Postern.`,
  );
}
