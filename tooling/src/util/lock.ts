/**
 * Optional serialisation of kernel builds between several users of one
 * machine: with MMVIEW_BUILD_LOCK=<file>, every kernel make runs under
 * `flock <file>`, so two checkouts never run two kernel builds at once.
 */

export interface Command {
  cmd: string;
  args: string[];
}

/**
 * The command, wrapped in `flock <lock>` when `env` names a lock file (pure
 * given `env`; the process environment by default).
 */
export function underBuildLock(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Command {
  const lock = env.MMVIEW_BUILD_LOCK;
  if (lock === undefined || lock === '') return { cmd, args: [...args] };
  return { cmd: 'flock', args: [lock, cmd, ...args] };
}
