/** Transfers slice: every transfer by id, sending (paths, pickers, drops), answering offers, progress. */
import type { TransferInfo, TransferProgressPayload } from '../../../shared/domain/transfer.js';
import type { DroppedItem } from '../bridge/index.js';
import type { SliceCreator, Store } from './types.js';
import { call, messageOf } from './call.js';

export interface TransfersSlice {
  transfers: Record<string, TransferInfo>;
  /** Peers with a send being prepared (scanning, uploading dropped files). */
  sendingTo: Record<string, { label: string; doneBytes?: number; totalBytes?: number }>;
  transferErrors: Record<string, string>;
  /** Where "show in folder" pointed when no file manager could open (headless). */
  revealed: Record<string, string>;
  sendPaths(peerId: string, paths: string[]): Promise<boolean>;
  pickAndSend(peerId: string, what: 'files' | 'folder'): Promise<void>;
  sendDropped(peerId: string, items: DroppedItem[]): Promise<void>;
  acceptTransfer(id: string): Promise<void>;
  declineTransfer(id: string): Promise<void>;
  cancelTransfer(id: string): Promise<void>;
  resumeTransfer(id: string): Promise<void>;
  showInFolder(id: string): Promise<void>;
  applyTransfer(t: TransferInfo): void;
  applyProgress(p: TransferProgressPayload): void;
}

export const initialTransfers = { transfers: {}, sendingTo: {}, transferErrors: {}, revealed: {} } satisfies Partial<TransfersSlice>;

export const createTransfersSlice: SliceCreator<TransfersSlice> = (bridge) => (set, get) => {
  const busy = (peerId: string, entry: { label: string; doneBytes?: number; totalBytes?: number } | null) => set((s) => {
    const sendingTo = { ...s.sendingTo };
    if (entry) sendingTo[peerId] = entry;
    else delete sendingTo[peerId];
    return { sendingTo };
  });
  const onTransfer = async (id: string, run: () => Promise<TransferInfo | void>) => {
    set((s) => {
      const transferErrors = { ...s.transferErrors };
      delete transferErrors[id];
      return { transferErrors };
    });
    try {
      const t = await run();
      if (t) get().applyTransfer(t);
    } catch (err) {
      set((s) => ({ transferErrors: { ...s.transferErrors, [id]: messageOf(err) } }));
    }
  };
  return {
    ...initialTransfers,
    async sendPaths(peerId, paths) {
      get().setPeerError(peerId, null);
      get().clearWizardDismissal(peerId);
      busy(peerId, { label: 'Preparing the offer…' });
      try {
        const t = await call(bridge, 'transfers.send', { peerId, paths });
        get().applyTransfer(t);
        const skipped = t.warnings?.length ? ` ${t.warnings.length} item(s) were skipped.` : '';
        get().notify('info', `Offered ${t.files.length} file(s) to ${get().peers.find((p) => p.peerId === peerId)?.name ?? 'the device'}; waiting for them to accept.${skipped}`);
        return true;
      } catch (err) {
        get().setPeerError(peerId, messageOf(err));
        return false;
      } finally {
        busy(peerId, null);
      }
    },
    async pickAndSend(peerId, what) {
      try {
        const { paths } = await call(bridge, what === 'files' ? 'dialog.pickFiles' : 'dialog.pickFolder');
        if (paths.length) await get().sendPaths(peerId, paths);
      } catch (err) {
        get().setPeerError(peerId, messageOf(err));
      }
    },
    async sendDropped(peerId, items) {
      if (!items.length) return;
      busy(peerId, { label: bridge.kind === 'headless' ? 'Copying the dropped files to the host…' : 'Preparing the offer…' });
      let paths: string[];
      try {
        paths = await bridge.pathsForDrop(items, (doneBytes, totalBytes) => busy(peerId, { label: 'Copying the dropped files to the host…', doneBytes, totalBytes }));
      } catch (err) {
        busy(peerId, null);
        get().setPeerError(peerId, `The dropped files could not be read: ${messageOf(err)}`);
        return;
      }
      await get().sendPaths(peerId, paths);
    },
    acceptTransfer: (id) => onTransfer(id, () => call(bridge, 'transfers.accept', { id })),
    declineTransfer: (id) => onTransfer(id, () => call(bridge, 'transfers.decline', { id })),
    cancelTransfer: (id) => onTransfer(id, () => call(bridge, 'transfers.cancel', { id })),
    resumeTransfer: (id) => onTransfer(id, () => call(bridge, 'transfers.resume', { id })),
    showInFolder: (id) => onTransfer(id, async () => {
      const { opened, path } = await call(bridge, 'transfers.showInFolder', { id });
      if (!opened) set((s) => ({ revealed: { ...s.revealed, [id]: path } }));
    }),
    applyTransfer: (t) => set((s) => ({ transfers: { ...s.transfers, [t.id]: t } })),
    applyProgress: (p) => set((s) => {
      const t = s.transfers[p.id];
      return t ? { transfers: { ...s.transfers, [p.id]: { ...t, ...p } } } : {};
    }),
  };
};

const newestFirst = (a: TransferInfo, b: TransferInfo) => b.startedAt - a.startedAt;

export const selectTransfer = (id: string) => (s: Store) => s.transfers[id];
export const selectTransferIds = (s: Store) => Object.values(s.transfers).filter((t) => t.state !== 'offered').sort(newestFirst).map((t) => t.id);
export const selectTransferIdsForPeer = (peerId: string) => (s: Store) =>
  Object.values(s.transfers).filter((t) => t.peerId === peerId && t.state !== 'offered').sort(newestFirst).map((t) => t.id);
export const selectOfferIds = (s: Store) =>
  Object.values(s.transfers).filter((t) => t.direction === 'receive' && t.state === 'offered').sort((a, b) => a.startedAt - b.startedAt).map((t) => t.id);
export const selectActiveCount = (s: Store) => Object.values(s.transfers).filter((t) => t.state === 'active' || t.state === 'waiting-accept' || t.state === 'paused').length;
export const selectSendingTo = (peerId: string) => (s: Store) => s.sendingTo[peerId];
export const selectTransferError = (id: string) => (s: Store) => s.transferErrors[id];
export const selectRevealed = (id: string) => (s: Store) => s.revealed[id];
