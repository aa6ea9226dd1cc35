import { capture } from '../util/exec.ts';
import type { ArchSpec } from '../arch.ts';

/** What a command needs from the host, by pipeline stage. */
export interface Needs {
  tree: boolean;
  kernel: boolean;
  guest: boolean;
  /** The host unit tests (git, dpkg-deb, xz). */
  unit?: boolean;
}

/** Debian 12 packages needed for the given stages (pure). */
export function requiredPackages(needs: Needs, arch: ArchSpec, native: boolean): string[] {
  const pkgs = new Set<string>();
  if (needs.tree || needs.kernel) for (const p of ['git', 'xz-utils']) pkgs.add(p);
  if (needs.unit) for (const p of ['git', 'xz-utils', 'dpkg']) pkgs.add(p);
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
