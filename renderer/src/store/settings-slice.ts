/** Settings slice: the saved settings and the outcome of the last save. */
import type { Settings, SettingsPatch } from '../../../shared/domain/settings.js';
import type { SliceCreator, Store } from './types.js';
import { call, messageOf } from './call.js';

export interface SettingsSlice {
  settings: Settings | null;
  settingsBusy: boolean;
  settingsError: string | null;
  settingsNotice: string | null;
  saveSettings(patch: SettingsPatch): Promise<boolean>;
  setSettings(settings: Settings): void;
}

export const initialSettings = { settings: null, settingsBusy: false, settingsError: null, settingsNotice: null } satisfies Partial<SettingsSlice>;

export const createSettingsSlice: SliceCreator<SettingsSlice> = (bridge) => (set) => ({
  ...initialSettings,
  async saveSettings(patch) {
    set({ settingsBusy: true, settingsError: null, settingsNotice: null });
    try {
      const { settings, restarted } = await call(bridge, 'settings.set', patch);
      set({ settings, settingsNotice: restarted ? 'Saved. The connection engine restarted with the new settings; transfers in progress continue where they stopped.' : 'Saved.' });
      return true;
    } catch (err) {
      set({ settingsError: messageOf(err) });
      return false;
    } finally {
      set({ settingsBusy: false });
    }
  },
  setSettings: (settings) => set({ settings }),
});

export const selectSettings = (s: Store) => s.settings;
export const selectSettingsBusy = (s: Store) => s.settingsBusy;
export const selectSettingsError = (s: Store) => s.settingsError;
export const selectSettingsNotice = (s: Store) => s.settingsNotice;
