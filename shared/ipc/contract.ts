/**
 * The IPC contract between the UI and the engine, written once. Every command
 * names its request schema (validated on the main side, where the renderer is not
 * trusted) and its response type; every event names its payload type. The
 * Electron preload, the main-side handlers (main/host/dispatch.ts), the headless
 * WebSocket bridge and the renderer's client are all typed from these two maps,
 * and channel names are their keys (like VS Code's ProxyChannel: one interface,
 * proxied). Errors cross as data: `{ ok: false, error: { code, message } }`.
 */
import { z } from 'zod';
import type { AppState, EngineStatus } from '../domain/app.js';
import type { ConnectionInfo } from '../domain/connection.js';
import type { InviteView, NearbyRequestView, PairedView, PeerView, RendezvousView } from '../domain/peers.js';
import { SettingsPatchSchema, type Settings } from '../domain/settings.js';
import type { IncomingOfferPayload, TransferInfo, TransferProgressPayload } from '../domain/transfer.js';
import type { DoctorReport, ReachabilityResult, WizardFacts } from '../domain/doctor.js';

/** A command: `request` is a runtime schema; the response exists only as a type. */
export interface CommandSpec<Req, Res> {
  readonly request: z.ZodType<Req>;
  /** Phantom: never set, carries the response type. */
  readonly response?: Res;
}
/** An event: the payload exists only as a type. */
export interface EventSpec<P> {
  readonly payload?: P;
}

const command = <Res>() => <S extends z.ZodType>(request: S): CommandSpec<z.infer<S>, Res> => ({ request: request as z.ZodType<z.infer<S>> });
const event = <P>(): EventSpec<P> => ({});

/** Commands without arguments: `{}` on the wire, optional for callers. */
export type NoRequest = Record<never, never>;
const none = z.object({}).strict() as unknown as z.ZodType<NoRequest>;
const peerId = z.string().regex(/^[a-z2-7]{52}$/, 'Not a peer ID.');
const transferId = z.string().regex(/^[0-9a-f]{32}$/, 'Not a transfer ID.');
const path = z.string().min(1).max(4096);

export const commands = {
  /** Everything at once: the renderer starts from this and follows events. */
  'app.getState': command<AppState>()(none),

  'settings.get': command<Settings>()(none),
  /** Saves a validated patch; `restarted` when the engine had to restart (port, rendezvous, discovery, tiers). */
  'settings.set': command<{ settings: Settings; restarted: boolean }>()(SettingsPatchSchema),

  /** Opens an invite (replacing an open one): show the code, the other device enters it. */
  'pairing.createInvite': command<InviteView>()(none),
  'pairing.cancelInvite': command<null>()(none),
  /** Accepts a bare code or a `postern://pair/CODE` link. */
  'pairing.pairWithCode': command<PairedView>()(z.object({ code: z.string().trim().min(3).max(300) }).strict()),
  /** Answer a nearby device's request to connect (after comparing the verification words). */
  'pairing.decideNearby': command<null>()(z.object({ requestId: z.string().regex(/^[0-9a-f]{1,64}$/), accept: z.boolean() }).strict()),

  /** Connect now (the ladder runs; watch `connectivity.connection`). */
  'peers.connect': command<ConnectionInfo>()(z.object({ peerId }).strict()),
  /** Unpair: the device must pair again to send to us. */
  'peers.forget': command<null>()(z.object({ peerId }).strict()),

  /** Offer files and folders (absolute paths on the engine's machine) to a peer. */
  'transfers.send': command<TransferInfo>()(z.object({ peerId, paths: z.array(path).min(1).max(1000) }).strict()),
  'transfers.accept': command<TransferInfo>()(z.object({ id: transferId }).strict()),
  'transfers.decline': command<TransferInfo>()(z.object({ id: transferId }).strict()),
  'transfers.cancel': command<TransferInfo>()(z.object({ id: transferId }).strict()),
  /** Re-offer a failed or paused outgoing transfer; it continues where it stopped. */
  'transfers.resume': command<TransferInfo>()(z.object({ id: transferId }).strict()),
  /** Opens the file manager on a received transfer (`opened: false` where there is none: the UI shows `path`). */
  'transfers.showInFolder': command<{ opened: boolean; path: string }>()(z.object({ id: transferId }).strict()),

  /** Native pickers; empty when cancelled. Headless hosts answer NO_NATIVE_DIALOG (the UI asks for paths instead). */
  'dialog.pickFiles': command<{ paths: string[] }>()(none),
  'dialog.pickFolder': command<{ paths: string[] }>()(none),

  /** The connection doctor: what this computer's network allows, from measured facts (no probing); `checkReachability` runs the dial-back first. */
  'doctor.run': command<DoctorReport>()(z.object({ checkReachability: z.boolean().optional() }).strict()),
  /** The rendezvous dials our TCP port back and probes our UDP port (a few per minute at most). */
  'doctor.checkReachability': command<ReachabilityResult>()(none),
  /** The report for support, redacted (no file names, keys or device names; IP addresses kept): text, JSON, and both. */
  'doctor.copyReport': command<{ text: string; json: string; combined: string }>()(none),
  /** What the port-forwarding wizard shows: LAN and gateway addresses, router, ports, whether forwarding can help. */
  'wizard.facts': command<WizardFacts>()(none),
} as const;

export const events = {
  /** A full resync: after an engine restart or a reconnect. */
  'app.snapshot': event<AppState>(),
  'app.engine': event<EngineStatus>(),
  'settings.changed': event<Settings>(),

  'peers.changed': event<PeerView[]>(),
  /** A peer's connection changed: state, tier, RTT, or a ladder attempt was added. */
  'connectivity.connection': event<ConnectionInfo>(),
  'connectivity.rendezvous': event<RendezvousView>(),

  /** The open invite changed state (paired, expired, failed, cancelled). */
  'pairing.invite': event<InviteView>(),
  'pairing.paired': event<PairedView>(),
  'pairing.nearbyRequest': event<NearbyRequestView>(),
  /** A nearby request was answered or expired: close its dialog. */
  'pairing.nearbyClosed': event<{ requestId: string }>(),
  /** The app was opened with a `postern://pair/CODE` link. */
  'pairing.codeFromLink': event<{ code: string }>(),

  'transfers.updated': event<TransferInfo>(),
  'transfers.progress': event<TransferProgressPayload>(),
  'transfers.offer': event<IncomingOfferPayload>(),

  /** The doctor's facts changed (NAT discovery finished, the port mapper moved, a reachability check ran). */
  'doctor.report': event<DoctorReport>(),
} as const;

export type Commands = typeof commands;
export type Events = typeof events;
export type CommandName = keyof Commands;
export type EventName = keyof Events;
export type CommandRequest<K extends CommandName> = Commands[K] extends CommandSpec<infer Req, unknown> ? Req : never;
export type CommandResponse<K extends CommandName> = Commands[K] extends CommandSpec<unknown, infer Res> ? Res : never;
export type EventPayload<K extends EventName> = Events[K] extends EventSpec<infer P> ? P : never;

export const COMMAND_NAMES = Object.keys(commands) as CommandName[];
export const EVENT_NAMES = Object.keys(events) as EventName[];

export function isCommandName(name: unknown): name is CommandName {
  return typeof name === 'string' && Object.hasOwn(commands, name);
}
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}

/** Main side: one function per command. */
export type CommandHandlers = { [K in CommandName]: (request: CommandRequest<K>) => Promise<CommandResponse<K>> };
/** Main side: how events leave (to a window, or to every WebSocket client). */
export type EventSink = <K extends EventName>(name: K, payload: EventPayload<K>) => void;
