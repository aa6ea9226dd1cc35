import { capture, isRoot, runLogged, which } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { info } from '../util/log.ts';
import type { ArchSpec } from '../arch.ts';

/** What a command needs from the host, by pipeline stage. */
export interface Needs {
  tree: boolean;
  kernel: boolean;
  guest: boolean;
}

/** Debian 12 packages needed for the given stages (pure). */
export function requiredPackages(needs: Needs, arch: ArchSpec, native: boolean): string[] {
  const pkgs = new Set<string>();
  if (needs.tree || needs.kernel) for (const p of ['git', 'xz-utils']) pkgs.add(p);
  if (needs.kernel) {
    for (const p of ['build-essential', 'bc', 'flex', 'bison', 'libelf-dev', 'libssl-dev', 'rsync', 'cpio', 'dwarves', 'ccache'])
      pkgs.add(p);
    if (!native) for (const p of arch.crossPackages) pkgs.add(p);
  }
  if (needs.guest) {
    for (const p of ['build-essential', 'busybox-static', arch.qemuPackage]) pkgs.add(p);
  }
  return [...pkgs].sort();
}

export type InstallPlan =
  | { kind: 'none' }
  | { kind: 'install'; commands: string[][] }
  | { kind: 'ask'; command: string };

/** Decide how to get missing packages (pure): install as root, else tell the user the one command. */
export function planInstall(missing: readonly string[], root: boolean): InstallPlan {
  if (missing.length === 0) return { kind: 'none' };
  const list = [...missing].sort();
  if (root) {
    return {
      kind: 'install',
      commands: [
        ['apt-get', 'update'],
        ['apt-get', 'install', '-y', '--no-install-recommends', ...list],
      ],
    };
  }
  return { kind: 'ask', command: `sudo apt-get install -y --no-install-recommends ${list.join(' ')}` };
}

/** Parse `dpkg-query -W -f '${Package}\t${db:Status-Abbrev}\n'` output into installed package names (pure). */
export function parseDpkgQuery(out: string): Set<string> {
  const installed = new Set<string>();
  for (const line of out.split('\n')) {
    const [name, status] = line.split('\t');
    if (name && status?.startsWith('ii')) installed.add(name.split(':')[0] ?? name);
  }
  return installed;
}

export async function missingPackages(pkgs: readonly string[]): Promise<string[]> {
  if (pkgs.length === 0) return [];
  const r = await capture('dpkg-query', ['-W', '-f', '${Package}\t${db:Status-Abbrev}\n', ...pkgs]);
  const installed = parseDpkgQuery(r.stdout);
  return pkgs.filter((p) => !installed.has(p));
}

/** Make sure the packages are installed: apt-get as root, else a one-line error with the command. */
export async function ensurePackages(pkgs: readonly string[], logFile: string): Promise<string[]> {
  if (!which('dpkg-query')) {
    // Not Debian: nothing we can check; the stages fail with a clear message if a tool is missing.
    return [];
  }
  const missing = await missingPackages(pkgs);
  const plan = planInstall(missing, isRoot());
  if (plan.kind === 'none') return [];
  if (plan.kind === 'ask') {
    throw new UserError(`missing packages ${missing.join(', ')}; install them with: ${plan.command}`);
  }
  info('packages', `installing ${missing.join(' ')} (log: ${logFile})`);
  for (const [cmd, ...args] of plan.commands) {
    if (!cmd) continue;
    const r = await runLogged({
      cmd,
      args,
      logFile,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.code !== 0) throw new UserError(`${cmd} ${args.join(' ')} failed (exit ${r.code}); see ${logFile}`);
  }
  const still = await missingPackages(pkgs);
  if (still.length > 0) throw new UserError(`packages still missing after apt-get install: ${still.join(', ')}`);
  return missing;
}
