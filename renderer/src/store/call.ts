/** Actions call the engine through this: the value, or a BridgeError with the engine's code and message. */
import { unwrap, type RequestArgs } from '../../../shared/ipc/bridge.js';
import type { CommandName, CommandResponse } from '../../../shared/ipc/contract.js';
import type { RendererBridge } from '../bridge/index.js';

export async function call<K extends CommandName>(bridge: RendererBridge, name: K, ...args: RequestArgs<K>): Promise<CommandResponse<K>> {
  return unwrap(await bridge.invoke(name, ...args));
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
