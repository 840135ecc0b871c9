/**
 * Errors the engine reports carry a stable `code` (for tests, the CLI's JSON and the
 * UI's explanations) and a message a user can act on: what happened, what to do.
 */
export class EngineError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
  }
}

export function errorCode(err: unknown, fallback = 'INTERNAL'): string {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return fallback;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The `{ code, message }` shape that crosses IPC and JSON output. */
export function toErrorData(err: unknown, fallback = 'INTERNAL'): { code: string; message: string } {
  return { code: errorCode(err, fallback), message: errorMessage(err) };
}
