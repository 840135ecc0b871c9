/**
 * Doctor slice: this computer's connection report (main/engine/doctor), the
 * reachability check, the redacted report for support, and the port-forwarding
 * wizard: opened when a connection fails (once per peer until the user acts on
 * that peer again) or on demand; it walks through the measured facts, a fixed
 * port, the router's rule, the dial-back test (as often as needed) and then
 * connects to the peer again.
 */
import type { DoctorReport, ReachabilityResult, WizardFacts } from '../../../shared/domain/doctor.js';
import type { ConnectionInfo } from '../../../shared/domain/connection.js';
import type { SliceCreator, Store } from './types.js';
import { call, messageOf } from './call.js';

export type WizardStep = 'facts' | 'forward' | 'test' | 'connect';
export const WIZARD_STEPS: { id: WizardStep; label: string }[] = [
  { id: 'facts', label: 'Your network' },
  { id: 'forward', label: 'Forward the port' },
  { id: 'test', label: 'Test' },
  { id: 'connect', label: 'Connect' },
];

export interface WizardState {
  /** The peer whose connection failed (null: opened from the doctor). */
  peerId: string | null;
  reason: 'failed' | 'manual';
  step: WizardStep;
  facts: WizardFacts | null;
  loading: boolean;
  error: string | null;
  portBusy: boolean;
  testing: boolean;
  /** Tests run in this wizard (it loops until one passes). */
  tests: number;
  lastTest: ReachabilityResult | null;
  connecting: boolean;
  connected: { tier: string } | null;
  connectError: string | null;
}

export interface DoctorSlice {
  doctor: DoctorReport | null;
  doctorLoading: boolean;
  doctorError: string | null;
  reachBusy: boolean;
  copied: { text: string; at: number } | null;
  copyError: string | null;
  wizard: WizardState | null;
  /** Peers whose wizard the user closed: it does not open again by itself until they act on that peer. */
  wizardDismissed: string[];
  loadDoctor(): Promise<void>;
  checkReachability(): Promise<void>;
  copyReport(): Promise<void>;
  setDoctor(report: DoctorReport): void;
  openWizard(peerId: string | null, reason?: WizardState['reason']): void;
  closeWizard(): void;
  wizardGo(step: WizardStep): void;
  loadWizardFacts(): Promise<void>;
  setFixedPort(port: number): Promise<void>;
  testPort(): Promise<void>;
  retryConnection(): Promise<void>;
  clearWizardDismissal(peerId: string): void;
  /** A peer's connection changed: open the wizard when a ladder run just failed. */
  noteConnection(prev: ConnectionInfo | null | undefined, next: ConnectionInfo): void;
}

export const initialDoctor = {
  doctor: null, doctorLoading: false, doctorError: null, reachBusy: false, copied: null, copyError: null,
  wizard: null, wizardDismissed: [] as string[],
} satisfies Partial<DoctorSlice>;

const freshWizard = (peerId: string | null, reason: WizardState['reason']): WizardState => ({
  peerId, reason, step: 'facts', facts: null, loading: true, error: null, portBusy: false, testing: false, tests: 0, lastTest: null,
  connecting: false, connected: null, connectError: null,
});

const ladderOf = (c: ConnectionInfo | null | undefined) => c?.attempts[0]?.ladderId ?? null;

export const createDoctorSlice: SliceCreator<DoctorSlice> = (bridge) => (set, get) => {
  const patchWizard = (patch: Partial<WizardState>) => set((s) => (s.wizard ? { wizard: { ...s.wizard, ...patch } } : {}));
  return {
    ...initialDoctor,
    async loadDoctor() {
      set({ doctorLoading: true, doctorError: null });
      try {
        set({ doctor: await call(bridge, 'doctor.run') });
      } catch (err) {
        set({ doctorError: messageOf(err) });
      } finally {
        set({ doctorLoading: false });
      }
    },
    async checkReachability() {
      set({ reachBusy: true, doctorError: null });
      try {
        set({ doctor: await call(bridge, 'doctor.run', { checkReachability: true }) });
      } catch (err) {
        set({ doctorError: messageOf(err) });
      } finally {
        set({ reachBusy: false });
      }
    },
    async copyReport() {
      set({ copyError: null });
      try {
        const { combined } = await call(bridge, 'doctor.copyReport');
        set({ copied: { text: combined, at: Date.now() } });
        try {
          await navigator.clipboard.writeText(combined);
          get().notify('info', 'Report copied: paste it into your message to support. Names, keys and file names are removed; IP addresses are kept.');
        } catch {
          set({ copyError: 'The browser did not allow copying: select the text below and copy it.' });
        }
      } catch (err) {
        set({ copyError: messageOf(err) });
      }
    },
    setDoctor: (doctor) => set({ doctor }),

    openWizard(peerId, reason = 'manual') {
      set({ wizard: freshWizard(peerId, reason) });
      void get().loadWizardFacts();
    },
    closeWizard() {
      const w = get().wizard;
      set((s) => ({ wizard: null, wizardDismissed: w?.peerId && !s.wizardDismissed.includes(w.peerId) ? [...s.wizardDismissed, w.peerId] : s.wizardDismissed }));
    },
    wizardGo: (step) => patchWizard({ step, error: null }),
    async loadWizardFacts() {
      patchWizard({ loading: true, error: null });
      try {
        const facts = await call(bridge, 'wizard.facts');
        patchWizard({ facts, lastTest: get().wizard?.lastTest ?? facts.reachability });
      } catch (err) {
        patchWizard({ error: messageOf(err) });
      } finally {
        patchWizard({ loading: false });
      }
    },
    async setFixedPort(port) {
      patchWizard({ portBusy: true, error: null });
      try {
        // Saving the port restarts the engine (the listener moves to a fixed port).
        const { settings } = await call(bridge, 'settings.set', { listenPort: port });
        get().setSettings(settings);
        await get().loadWizardFacts();
      } catch (err) {
        patchWizard({ error: messageOf(err) });
      } finally {
        patchWizard({ portBusy: false });
      }
    },
    async testPort() {
      const w = get().wizard;
      if (!w) return;
      patchWizard({ testing: true, error: null, tests: w.tests + 1 });
      try {
        const result = await call(bridge, 'doctor.checkReachability');
        patchWizard({ lastTest: result });
        if (result.ok) {
          patchWizard({ step: 'connect' });
          await get().retryConnection();
        }
      } catch (err) {
        patchWizard({ error: messageOf(err) });
      } finally {
        patchWizard({ testing: false });
      }
    },
    async retryConnection() {
      const peerId = get().wizard?.peerId;
      if (!peerId) return;
      patchWizard({ connecting: true, connectError: null, connected: null });
      try {
        const info = await call(bridge, 'peers.connect', { peerId });
        get().applyConnection(info);
        // The session may be the peer's own (it dialed our newly open port): report the tier in use now.
        const live = get().peers.find((p) => p.peerId === peerId)?.connection;
        patchWizard({ connected: { tier: (live?.state === 'connected' ? live.tier : info.tier) ?? 'direct' } });
      } catch (err) {
        patchWizard({ connectError: messageOf(err) });
      } finally {
        patchWizard({ connecting: false });
      }
    },
    clearWizardDismissal: (peerId) => set((s) => ({ wizardDismissed: s.wizardDismissed.filter((id) => id !== peerId) })),
    noteConnection(prev, next) {
      if (next.state !== 'failed') return;
      if (prev?.state === 'failed' && ladderOf(prev) === ladderOf(next)) return; // the same failure again
      const s = get();
      if (s.wizard || s.wizardDismissed.includes(next.peerId)) return;
      s.openWizard(next.peerId, 'failed');
    },
  };
};

export const selectDoctor = (s: Store) => s.doctor;
export const selectDoctorLoading = (s: Store) => s.doctorLoading;
export const selectDoctorError = (s: Store) => s.doctorError;
export const selectReachBusy = (s: Store) => s.reachBusy;
export const selectCopied = (s: Store) => s.copied;
export const selectCopyError = (s: Store) => s.copyError;
export const selectWizard = (s: Store) => s.wizard;
