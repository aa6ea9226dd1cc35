/**
 * Guest userland of another architecture from Debian's archive: enable the
 * architecture in dpkg (once, as root), then `apt-get download` a package of it
 * into build/cache and extract it there. Nothing is installed on the host.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { capture, check, isRoot, runLogged } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { info } from '../util/log.ts';

/** Architectures dpkg knows: the native one and `--print-foreign-architectures` (pure). */
export function knownArchitectures(native: string, foreign: string): Set<string> {
  return new Set([native.trim(), ...foreign.split('\n').map((l) => l.trim())].filter((a) => a.length > 0));
}

export type ArchPlan = { kind: 'none' } | { kind: 'add'; commands: string[][] } | { kind: 'ask'; command: string };

/** How to make dpkg/apt know `arch` (pure). */
export function planForeignArch(arch: string, known: ReadonlySet<string>, root: boolean): ArchPlan {
  if (known.has(arch)) return { kind: 'none' };
  if (!root) return { kind: 'ask', command: `sudo dpkg --add-architecture ${arch} && sudo apt-get update` };
  return { kind: 'add', commands: [['dpkg', '--add-architecture', arch], ['apt-get', 'update']] };
}

/** The newest downloaded `<pkg>_<version>_<arch>.deb` in a folder listing (pure). */
export function pickDeb(files: readonly string[], pkg: string, arch: string): string | undefined {
  const prefix = `${pkg}_`;
  const suffix = `_${arch}.deb`;
  return files.filter((f) => f.startsWith(prefix) && f.endsWith(suffix)).sort().at(-1);
}

/** The architectures dpkg knows on this host. */
export async function dpkgArchitectures(): Promise<Set<string>> {
  const native = await check('dpkg --print-architecture', 'dpkg', ['--print-architecture']);
  const foreign = await check('dpkg --print-foreign-architectures', 'dpkg', ['--print-foreign-architectures']);
  return knownArchitectures(native, foreign);
}

async function ensureArchitecture(arch: string, logFile: string): Promise<void> {
  const plan = planForeignArch(arch, await dpkgArchitectures(), isRoot());
  if (plan.kind === 'none') return;
  if (plan.kind === 'ask') throw new UserError(`the ${arch} guest needs Debian's ${arch} packages; enable them with: ${plan.command}`);
  info('packages', `enabling Debian's ${arch} architecture (log: ${logFile})`);
  for (const [cmd, ...args] of plan.commands) {
    if (!cmd) continue;
    const r = await runLogged({ cmd, args, logFile, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.code !== 0) throw new UserError(`${cmd} ${args.join(' ')} failed (exit ${r.code}); see ${logFile}`);
  }
}

/** The candidate version apt would download (`apt-cache policy` "Candidate:"), undefined when none (pure). */
export function parseCandidate(policy: string): string | undefined {
  const m = /^\s*Candidate:\s*(\S+)/m.exec(policy);
  return m?.[1] && m[1] !== '(none)' ? m[1] : undefined;
}

/** Debian's file name of a package version (`:` of an epoch is `%3a`) (pure). */
export function debFileName(pkg: string, version: string, arch: string): string {
  return `${pkg}_${version.replace(/:/g, '%3a')}_${arch}.deb`;
}

export interface ForeignPackage {
  /** Folder the package was extracted into (its files below it, e.g. bin/busybox). */
  root: string;
  version: string;
}

/**
 * `pkg:arch` extracted below cacheDir/<arch>/, downloaded when the candidate
 * version is not there yet (an older download is reused when apt has none).
 */
export async function foreignPackage(pkg: string, arch: string, cacheDir: string, logFile: string): Promise<ForeignPackage> {
  await ensureArchitecture(arch, logFile);
  const dir = join(cacheDir, arch);
  mkdirSync(dir, { recursive: true });
  const policy = await capture('apt-cache', ['policy', `${pkg}:${arch}`]);
  const candidate = parseCandidate(policy.stdout);
  let deb = candidate ? debFileName(pkg, candidate, arch) : pickDeb(readdirSync(dir), pkg, arch);
  if (!deb) throw new UserError(`apt has no ${pkg}:${arch} (run apt-get update?)`);
  if (!existsSync(join(dir, deb))) {
    info('packages', `downloading ${pkg}:${arch} ${candidate ?? ''} into ${dir}`);
    const r = await runLogged({ cmd: 'apt-get', args: ['download', `${pkg}:${arch}`], cwd: dir, logFile });
    if (r.code !== 0) throw new UserError(`apt-get download ${pkg}:${arch} failed (exit ${r.code}); see ${logFile}`);
    deb = pickDeb(readdirSync(dir), pkg, arch) ?? deb;
    if (!existsSync(join(dir, deb))) throw new UserError(`apt-get download ${pkg}:${arch} wrote no ${deb}`);
  }
  const root = join(dir, deb.replace(/\.deb$/, ''));
  if (!existsSync(root)) {
    const tmp = `${root}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    await check(`dpkg-deb -x ${deb}`, 'dpkg-deb', ['-x', join(dir, deb), tmp]);
    renameSync(tmp, root);
  }
  const version = deb.split('_')[1]?.replace(/%3a/g, ':') ?? '?';
  return { root, version };
}
