/**
 * Errors the user can cause (bad input, missing package, patch that does not
 * apply, ...). The CLI prints them as a single line `mmview: <message>` and
 * exits with status 1, never with a stack trace.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string) {
    super(message);
  }
}

/** The user-facing one-line text of any thrown value. */
export function errorLine(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}
