/**
 * One door for every command, whichever transport carried it: check the name
 * against the contract (the allow-list), validate the request with the command's
 * schema (the renderer is not trusted), run the handler, and turn any error into
 * data `{ code, message }` (Electron would keep only the message of a thrown error).
 */
import { commands, isCommandName, type CommandHandlers } from '../../shared/ipc/contract.js';
import type { Result } from '../../shared/ipc/bridge.js';
import { toErrorData } from '../engine/errors.js';

export async function dispatch(handlers: CommandHandlers, name: unknown, request: unknown): Promise<Result<unknown>> {
  if (!isCommandName(name)) return { ok: false, error: { code: 'UNKNOWN_COMMAND', message: `"${String(name)}" is not a Postern command.` } };
  const parsed = commands[name].request.safeParse(request ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` (${issue.path.map(String).join('.')})` : '';
    return { ok: false, error: { code: 'BAD_REQUEST', message: `${issue?.message ?? 'Invalid request'}${where}` } };
  }
  try {
    const handler = handlers[name] as (req: unknown) => Promise<unknown>;
    const value = await handler(parsed.data);
    return { ok: true, value: value ?? null };
  } catch (err) {
    return { ok: false, error: toErrorData(err) };
  }
}
