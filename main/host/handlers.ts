/**
 * The main side of the contract: one function per command, over the app service.
 * Electron's ipcMain and the headless WebSocket bridge both call these through
 * dispatch.ts, so the two surfaces behave the same by construction.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandHandlers } from '../../shared/ipc/contract.js';
import { codeFromText } from '../../shared/domain/peers.js';
import { EngineError } from '../engine/errors.js';
import type { AppService } from './service.js';
import { pairedView } from './views.js';
import { wizardFacts } from '../engine/doctor/report.js';
import { supportReport } from '../engine/doctor/redact.js';

export function createHandlers(service: AppService): CommandHandlers {
  const node = () => service.requireNode();
  const transfer = (id: string) => {
    const t = node().transfers.get(id);
    if (!t) throw new EngineError('UNKNOWN_TRANSFER', 'That transfer is no longer known (it may have been cleared after a restart).');
    return t;
  };
  return {
    'app.getState': async () => service.state(),
    'settings.get': async () => service.settings.get(),
    'settings.set': (patch) => service.updateSettings(patch),

    'pairing.createInvite': () => service.createInvite(),
    'pairing.cancelInvite': async () => {
      service.cancelInvite();
      return null;
    },
    'pairing.pairWithCode': async ({ code }) => pairedView(await node().pairWithCode(codeFromText(code))),
    'pairing.decideNearby': async ({ requestId, accept }) => {
      service.decideNearby(requestId, accept);
      return null;
    },

    'peers.connect': async ({ peerId }) => {
      const n = node();
      await n.connect(peerId);
      const info = n.connectionInfo(peerId);
      if (!info) throw new EngineError('UNEXPECTED', 'Connected, but no connection state was recorded.');
      return info;
    },
    'peers.forget': async ({ peerId }) => {
      await node().forget(peerId);
      return null;
    },

    'transfers.send': ({ peerId, paths }) => node().sendFiles(peerId, paths),
    'transfers.accept': async ({ id }) => {
      const saveDir = service.settings.get().downloadDir;
      await mkdir(saveDir, { recursive: true });
      return node().transfers.accept(id, { saveDir });
    },
    'transfers.decline': async ({ id }) => node().transfers.decline(id),
    'transfers.cancel': async ({ id }) => node().transfers.cancel(id),
    'transfers.resume': async ({ id }) => node().transfers.resume(id),
    'transfers.showInFolder': async ({ id }) => {
      const t = transfer(id);
      if (t.direction !== 'receive' || !t.saveDir) throw new EngineError('NOT_RECEIVED', 'Only received files have a folder to show.');
      const first = t.files[0]?.savedPath ?? t.files[0]?.path;
      const top = first?.split('/')[0];
      const path = top ? join(t.saveDir, top) : t.saveDir;
      return { opened: await service.platform.reveal(path), path };
    },

    'dialog.pickFiles': async () => ({ paths: await service.platform.pickFiles() }),
    'dialog.pickFolder': async () => ({ paths: await service.platform.pickFolder() }),

    'doctor.run': async ({ checkReachability }) => {
      if (checkReachability) await service.checkReachability();
      return service.doctorReport();
    },
    'doctor.checkReachability': () => service.checkReachability(),
    'doctor.copyReport': async () => supportReport(await service.doctorReport()),
    'wizard.facts': async () => wizardFacts(await service.doctorReport()),
  };
}
