/** The desktop side of the Platform interface: native open dialogs and the system file manager. */
import { dialog, shell, type BrowserWindow } from 'electron';
import type { Platform } from '../host/platform.js';

export function electronPlatform(getWindow: () => BrowserWindow | null): Platform {
  const pick = async (properties: ('openFile' | 'openDirectory' | 'multiSelections')[], title: string) => {
    const win = getWindow();
    const options = { title, properties };
    const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return result.canceled ? [] : result.filePaths;
  };
  return {
    info: { kind: 'electron', nativeDialogs: true, canReveal: true, uploads: false },
    pickFiles: () => pick(['openFile', 'multiSelections'], 'Choose files to send'),
    pickFolder: () => pick(['openDirectory', 'multiSelections'], 'Choose folders to send'),
    reveal: async (path) => {
      shell.showItemInFolder(path);
      return true;
    },
  };
}
