/**
 * What differs between the desktop app and the headless host, behind one small
 * interface: native pickers and "show in folder". Electron implements it in
 * main/app/platform.ts; the headless host has no dialogs (the UI asks for paths or
 * takes uploads) and cannot open a file manager on the user's screen.
 */
import type { PlatformInfo } from '../../shared/domain/app.js';
import { EngineError } from '../engine/errors.js';

export interface Platform {
  readonly info: PlatformInfo;
  pickFiles(): Promise<string[]>;
  pickFolder(): Promise<string[]>;
  /** Opens a file manager on `path`; false where that is not possible. */
  reveal(path: string): Promise<boolean>;
}

export const headlessPlatform: Platform = {
  info: { kind: 'headless', nativeDialogs: false, canReveal: false, uploads: true },
  pickFiles: () => Promise.reject(noDialog()),
  pickFolder: () => Promise.reject(noDialog()),
  reveal: () => Promise.resolve(false),
};

function noDialog(): EngineError {
  return new EngineError('NO_NATIVE_DIALOG', 'A browser cannot open the host\'s file picker. Type the full path of a file or folder on the host, or drop files onto a device.');
}
