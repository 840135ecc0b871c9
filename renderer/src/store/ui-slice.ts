/** UI slice: which view is shown and short notices (the only state no engine event changes). */
import type { SliceCreator, Store } from './types.js';

export type View = 'devices' | 'transfers' | 'doctor' | 'settings';
export interface Notice { id: number; kind: 'info' | 'error'; text: string }

export interface UiSlice {
  view: View;
  notices: Notice[];
  setView(view: View): void;
  notify(kind: Notice['kind'], text: string): void;
  dismiss(id: number): void;
}

let nextNotice = 1;
const MAX_NOTICES = 3;

export const initialUi = { view: 'devices' as View, notices: [] as Notice[] } satisfies Partial<UiSlice>;

const NOTICE_MS = 6000;

export const createUiSlice: SliceCreator<UiSlice> = () => (set, get) => ({
  ...initialUi,
  setView: (view) => set({ view, settingsNotice: null, settingsError: null }),
  notify(kind, text) {
    const id = nextNotice++;
    set((s) => ({ notices: [...s.notices.filter((n) => n.text !== text), { id, kind, text }].slice(-MAX_NOTICES) }));
    // Errors stay until dismissed; information fades.
    if (kind === 'info') setTimeout(() => get().dismiss(id), NOTICE_MS);
  },
  dismiss: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),
});

export const selectView = (s: Store) => s.view;
export const selectNotices = (s: Store) => s.notices;
