/**
 * Optional serialisation of kernel builds between several users of one
 * machine: with MMVIEW_BUILD_LOCK=<file>, every kernel make runs under
 * `flock <file>`, so two checkouts never run two kernel builds at once.
 */

export interface Command {
  cmd: string;
  args: string[];
}

/** The command, wrapped in `flock <lock>` when a lock file is set (pure). */
export function underBuildLock(cmd: string, args: readonly string[], lock: string | undefined = process.env.MMVIEW_BUILD_LOCK): Command {
  if (lock === undefined || lock === '') return { cmd, args: [...args] };
  return { cmd: 'flock', args: [lock, cmd, ...args] };
}
