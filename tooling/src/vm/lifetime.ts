import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The signals after which the tool must not leave its VM behind. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

const SIGNAL_NUMBERS: Record<ForwardedSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** Where util-linux's setpriv is, if anywhere (it is in Debian's essential util-linux). */
export function findSetpriv(candidates: readonly string[] = ['/usr/bin/setpriv', '/bin/setpriv']): string | undefined {
  return candidates.find((p) => existsSync(p));
}

/**
 * The command that runs `cmd args` so that it is killed when this process
 * goes away by any means, SIGKILL included: setpriv --pdeathsig KILL. Without
 * setpriv the command is returned as it is (pure).
 */
export function boundToParent(cmd: string, args: readonly string[], setpriv: string | undefined): { cmd: string; args: string[] } {
  if (setpriv === undefined) return { cmd, args: [...args] };
  return { cmd: setpriv, args: ['--pdeathsig', 'KILL', '--', cmd, ...args] };
}

/**
 * While `child` runs, SIGINT, SIGTERM and SIGHUP to this process kill it
 * first, then exit with 128 + the signal's number (the shell's convention).
 * `except` lists signals left to the caller (an interactive guest owns ^C).
 * Returns the function that removes the handlers.
 */
export function killChildOnSignals(child: ChildProcess, except: readonly ForwardedSignal[] = []): () => void {
  const handlers = new Map<ForwardedSignal, () => void>();
  for (const sig of FORWARDED_SIGNALS) {
    if (except.includes(sig)) continue;
    const handler = (): void => {
      child.kill('SIGKILL');
      process.exit(128 + SIGNAL_NUMBERS[sig]);
    };
    handlers.set(sig, handler);
    process.on(sig, handler);
  }
  return () => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };
}
