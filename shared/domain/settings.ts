/**
 * User settings: what they are, their limits and which ones restart the engine.
 * The schema is shared so the main side validates what it stores and receives,
 * and the renderer can check a form before sending it. The store itself is
 * main/engine/settings.ts.
 */
import { z } from 'zod';
import { TIERS } from './connection.js';

const CONNECTED_TIERS = TIERS.filter((t) => t !== 'failed') as [Exclude<(typeof TIERS)[number], 'failed'>, ...Exclude<(typeof TIERS)[number], 'failed'>[]];

export const RendezvousUrlSchema = z.string().trim()
  .regex(/^wss?:\/\/[^\s/]+(\/\S*)?$/, 'A rendezvous address starts with ws:// or wss://, for example wss://rendezvous.example.org');

export const SettingsSchema = z.object({
  /** Shown to paired devices and nearby ones. */
  name: z.string().trim().min(1, 'Give this device a name.').max(64, 'Keep the name under 64 characters.'),
  /** Absolute folder accepted files are saved into. */
  downloadDir: z.string().trim().min(1, 'Choose a download folder.').max(4096),
  /** Rendezvous servers; empty: this device hosts one itself (fine on one network). */
  rendezvous: z.array(RendezvousUrlSchema).max(4, 'Up to 4 rendezvous servers.'),
  /** TCP port peers connect to; 0 picks a free one. A fixed port is what you forward on a router. */
  listenPort: z.number().int('The port is a whole number.').min(0, 'Ports go from 0 to 65535.').max(65535, 'Ports go from 0 to 65535.'),
  /** Find devices on the local network by multicast. */
  discovery: z.boolean(),
  /** Debug knob: ladder tiers never tried (forces a fallback path). */
  disabledTiers: z.array(z.enum(CONNECTED_TIERS)),
  /**
   * Relay for this user's other paired devices when this one is reachable (tier peer-relay). Opt-in.
   * No `.default()` here: zod 4 applies defaults inside `.partial()`, so every patch (`{ listenPort }`
   * from the port wizard) would turn it back off. The default lives in defaultSettings(), which the
   * store merges under what it reads.
   */
  peerRelay: z.boolean(),
});

export type Settings = z.infer<typeof SettingsSchema>;

export const SettingsPatchSchema = SettingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;

/** Changing these stops and starts the engine (connections drop and come back). */
export const RESTART_KEYS = ['rendezvous', 'listenPort', 'discovery', 'disabledTiers', 'peerRelay'] as const satisfies readonly (keyof Settings)[];

export function needsRestart(before: Settings, after: Settings): boolean {
  return RESTART_KEYS.some((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}
