import { existsSync, readFileSync, statSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { capture, runLogged } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import type { ArchSpec, Target } from '../arch.ts';
import { underBuildLock } from '../util/lock.ts';
import { configHash, formatMismatches, mergeFragments, parseConfig, verifyConfig, type Fragment, type Mismatch } from './fragments.ts';

/** What configuring needs of a target: a guest target, or a build-only one (the 32-bit check). */
export interface ConfigTarget {
  arch: Pick<ArchSpec, 'kernelArch'> & { name: string };
  flavour: string;
}

export interface ConfigureRequest {
  tree: string;
  obj: string;
  target: ConfigTarget;
  /** Fragments of kernel/config merged onto tinyconfig; default fragmentNames(target). */
  fragments?: readonly string[];
  configDir: string;
  /** make variables for the target (ARCH=, CROSS_COMPILE=). */
  makeVars: readonly string[];
  logFile: string;
}

export interface ConfigureResult {
  reconfigured: boolean;
  /** The .config differs from the previous one. */
  changed: boolean;
  mismatches: Mismatch[];
  fragments: string[];
}

export const HASH_FILE = '.mmview-config-hash';

/** Fragments merged onto tinyconfig, in order: base, arch, flavour. */
export function fragmentNames(target: Target | ConfigTarget): string[] {
  return ['base.config', `${target.arch.name}.config`, `${target.flavour}.config`];
}

export function readFragments(configDir: string, names: readonly string[]): Fragment[] {
  return names.map((name) => {
    const file = join(configDir, name);
    if (!existsSync(file)) throw new UserError(`missing config fragment kernel/config/${name}`);
    return { name, text: readFileSync(file, 'utf8') };
  });
}

/** Content hash of every Kconfig file: a patch adding a Kconfig option must trigger a reconfigure. */
async function kconfigFingerprint(tree: string): Promise<string> {
  const r = await capture('git', ['ls-files', '-c', '-o', '-z', '--', ':(glob)**/Kconfig*'], { cwd: tree });
  const files = r.code === 0 ? [...new Set(r.stdout.split('\0').filter(Boolean))].sort() : [];
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f);
    try {
      h.update(readFileSync(join(tree, f)));
    } catch {
      /* deleted but still in the index */
    }
  }
  return h.digest('hex');
}

/**
 * tinyconfig + merge_config.sh (base, arch, flavour) + olddefconfig, then check the
 * fragments hold. Skipped when nothing it depends on changed, so builds stay incremental.
 */
export async function configureKernel(req: ConfigureRequest): Promise<ConfigureResult> {
  const names = req.fragments ? [...req.fragments] : fragmentNames(req.target);
  const fragments = readFragments(req.configDir, names);
  const { wanted } = mergeFragments(fragments);
  const dotConfig = join(req.obj, '.config');
  const hashFile = join(req.obj, HASH_FILE);
  const hash = configHash([
    req.target.arch.name,
    req.target.flavour,
    ...req.makeVars,
    ...fragments.flatMap((f) => [f.name, f.text]),
    await kconfigFingerprint(req.tree),
  ]);
  if (existsSync(dotConfig) && existsSync(hashFile) && readFileSync(hashFile, 'utf8').trim() === hash) {
    return { reconfigured: false, changed: false, mismatches: verifyConfig(wanted, parseConfig(readFileSync(dotConfig, 'utf8'))), fragments: names };
  }

  mkdirSync(req.obj, { recursive: true });
  const old = existsSync(dotConfig) ? { text: readFileSync(dotConfig, 'utf8'), stat: statSync(dotConfig) } : undefined;
  const make = async (goal: string): Promise<void> => {
    const r = await runLogged({ ...underBuildLock('make', ['-C', req.tree, `O=${req.obj}`, ...req.makeVars, goal]), logFile: req.logFile });
    if (r.code !== 0) throw new UserError(`make ${goal} failed; see ${req.logFile}`);
  };
  await make('tinyconfig');
  const merge = await runLogged({
    cmd: join(req.tree, 'scripts', 'kconfig', 'merge_config.sh'),
    args: ['-m', '-O', req.obj, dotConfig, ...names.map((n) => join(req.configDir, n))],
    cwd: req.tree,
    env: { ...process.env, ARCH: req.target.arch.kernelArch },
    logFile: req.logFile,
  });
  if (merge.code !== 0) throw new UserError(`merge_config.sh failed; see ${req.logFile}`);
  await make('olddefconfig');

  const text = readFileSync(dotConfig, 'utf8');
  if (old && old.text === text) {
    // Same configuration as before: keep the old timestamp so make rebuilds nothing.
    utimesSync(dotConfig, old.stat.atime, old.stat.mtime);
  }
  writeFileSync(hashFile, `${hash}\n`);
  return { reconfigured: true, changed: old?.text !== text, mismatches: verifyConfig(wanted, parseConfig(text)), fragments: names };
}

export { formatMismatches };
