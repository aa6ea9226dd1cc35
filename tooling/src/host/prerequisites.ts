/**
 * Everything a command needs from the host, checked once before it starts:
 * Debian packages and the foreign dpkg architectures whose packages the
 * guests use (busybox-static:arm64 for an arm64 guest on x86_64). As root
 * the tool gets them itself; otherwise one message names the one command.
 */
import { isRoot, runLogged, which } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { info } from '../util/log.ts';
import { dpkgArchitectures } from './foreign.ts';
import { missingPackages } from './packages.ts';

export interface Prerequisites {
  packages: readonly string[];
  /** Debian architectures dpkg must know (`dpkg --add-architecture`). */
  foreignArches: readonly string[];
}

export type PrerequisitePlan = { kind: 'none' } | { kind: 'do'; commands: string[][] } | { kind: 'ask'; command: string };

/** How to get what is missing (pure): the commands as root, else the one command to run. */
export function planPrerequisites(missing: readonly string[], unknownArches: readonly string[], root: boolean): PrerequisitePlan {
  if (missing.length === 0 && unknownArches.length === 0) return { kind: 'none' };
  const commands: string[][] = [
    ...[...unknownArches].sort().map((a) => ['dpkg', '--add-architecture', a]),
    ['apt-get', 'update'],
    ...(missing.length > 0 ? [['apt-get', 'install', '-y', '--no-install-recommends', ...[...missing].sort()]] : []),
  ];
  if (root) return { kind: 'do', commands };
  // apt-get update is needed only for a new architecture's package lists.
  const ask = unknownArches.length > 0 ? commands : commands.slice(1);
  return { kind: 'ask', command: ask.map((c) => `sudo ${c.join(' ')}`).join(' && ') };
}

/** What is missing, in words (pure). */
export function describeMissing(missing: readonly string[], unknownArches: readonly string[]): string {
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`packages ${[...missing].sort().join(', ')}`);
  for (const a of [...unknownArches].sort()) parts.push(`Debian's ${a} architecture in dpkg (the ${a} guest's busybox-static)`);
  return parts.join(' and ');
}

/** Make sure everything is there; returns what was installed and enabled. */
export async function ensurePrerequisites(p: Prerequisites, logFile: string): Promise<{ installed: string[]; enabled: string[] }> {
  // Not Debian: nothing we can check; the stages fail with a clear message if a tool is missing.
  if (!which('dpkg-query')) return { installed: [], enabled: [] };
  const missing = await missingPackages([...new Set(p.packages)]);
  const known = p.foreignArches.length > 0 ? await dpkgArchitectures() : new Set<string>();
  const unknown = [...new Set(p.foreignArches)].filter((a) => !known.has(a));
  const plan = planPrerequisites(missing, unknown, isRoot());
  if (plan.kind === 'none') return { installed: [], enabled: [] };
  if (plan.kind === 'ask') throw new UserError(`missing ${describeMissing(missing, unknown)}; run first: ${plan.command}`);
  info('packages', `getting ${describeMissing(missing, unknown)} (log: ${logFile})`);
  for (const [cmd, ...args] of plan.commands) {
    if (!cmd) continue;
    const r = await runLogged({ cmd, args, logFile, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.code !== 0) throw new UserError(`${cmd} ${args.join(' ')} failed (exit ${r.code}); see ${logFile}`);
  }
  const still = await missingPackages(missing);
  if (still.length > 0) throw new UserError(`packages still missing after apt-get install: ${still.join(', ')}`);
  return { installed: missing, enabled: unknown };
}
