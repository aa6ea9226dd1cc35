/**
 * The 32-bit build check of `./mmview test`: build/linux compiled for i386
 * (host gcc -m32, PAE, high memory) into build/obj/i386-build32; fails on any
 * compiler, modpost or linker warning in a file the series touches. Compiled
 * only, never booted.
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { configureKernel } from '../config/configure.ts';
import { judgeMismatches } from '../config/fragments.ts';
import { buildKernel } from '../build/kernel.ts';
import { resetLog } from '../build/logs.ts';
import { findWarnings, seriesWarnings, touchedFiles, type BuildWarning } from '../results/warnings.ts';
import type { Row } from '../results/summary.ts';
import { readSeries } from '../tree/series.ts';
import { gitCheck, rootCommit } from '../tree/git.ts';
import { UserError, errorLine } from '../util/errors.ts';
import { displayPath, info, warn } from '../util/log.ts';
import type { Context } from './context.ts';

export const BUILD32_NAME = 'i386';
const KERNEL_ARCH = 'i386';
const FRAGMENTS = ['base.config', 'i386.config', 'test.config'] as const;
/**
 * Options of the shared fragments that i386 cannot have: 64-bit only (KASAN is
 * x86_64 only; NUMA needs BIGSMP and device memory needs PTE_DEVMAP there).
 */
const UNAVAILABLE = /^CONFIG_(64BIT|MMVIEW|KASAN\w*|NUMA|NUMA_BALANCING|MEMORY_HOTPLUG|MEMORY_HOTREMOVE|ZONE_DEVICE|DEVICE_PRIVATE|TEST_HMM)$/;

export interface Build32Result {
  row: Row;
  problems: string[];
  warnings: BuildWarning[];
  /** CONFIG_MMVIEW in the i386 .config ('n' while the feature depends on 64BIT). */
  mmview: string;
}

/** Every object file below a folder (pure file walk; build outputs only). */
function objectFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) {
      if (name !== 'scripts' && name !== 'tools' && name !== 'usr' && name !== 'source') objectFiles(p, out);
    } else if (name.endsWith('.o')) out.push(p);
  }
  return out;
}

async function seriesFiles(ctx: Context): Promise<Set<string>> {
  const { paths } = ctx;
  const texts = readSeries(paths.series).map((n) => readFileSync(join(paths.patches, n), 'utf8'));
  const touched = touchedFiles(texts);
  // Work in build/linux that is not exported yet counts too.
  try {
    const root = await rootCommit(paths.tree);
    const names = await gitCheck(paths.tree, ['diff', '--name-only', root]);
    for (const f of names.split('\n')) if (f.trim()) touched.add(f.trim());
  } catch {
    /* no git tree: the patches alone */
  }
  return touched;
}

export async function checkBuild32(ctx: Context): Promise<Build32Result> {
  const { paths } = ctx;
  const obj = join(paths.build, 'obj', `${BUILD32_NAME}-build32`);
  const makeVars = [`ARCH=${KERNEL_ARCH}`];
  const name = `${BUILD32_NAME} (32-bit) build`;
  const failed = (problem: string): Build32Result => ({
    row: { arch: BUILD32_NAME, name: 'build (32-bit, warnings in series files)', passed: 0, failed: 1, skipped: 0 },
    problems: [problem],
    warnings: [],
    mmview: '?',
  });
  let mmview = '?';
  if (!existsSync(join(paths.tree, 'Makefile'))) return failed(`${name}: ${displayPath(paths.tree)} does not exist or is not a kernel tree (create it with ./mmview tree)`);
  try {
    await ctx.timer.run('build32-config', async () => {
      const r = await configureKernel({
        tree: paths.tree,
        obj,
        target: { arch: { name: BUILD32_NAME, kernelArch: KERNEL_ARCH }, flavour: 'build32' },
        fragments: FRAGMENTS,
        configDir: paths.configDir,
        makeVars,
        logFile: resetLog(ctx.log('config-build32')),
      });
      const config = readFileSync(join(obj, '.config'), 'utf8');
      mmview = /^CONFIG_MMVIEW=(\S+)/m.exec(config)?.[1] ?? 'n';
      const other = r.mismatches.filter((m) => !UNAVAILABLE.test(m.option));
      const verdict = judgeMismatches('build32', name, other);
      if (verdict.warning) warn(verdict.warning);
      info('config', `${name}: ${r.reconfigured ? `configured from ${r.fragments.join(' + ')}` : 'up to date'}; CONFIG_MMVIEW=${mmview}`);
    });
    // Compile every object again (ccache makes that quick): a warning is
    // printed only when its file is compiled, and a clean log must mean clean.
    if (existsSync(obj)) for (const o of objectFiles(obj)) rmSync(o, { force: true });
    const log = resetLog(ctx.log('kernel-build32'));
    await ctx.timer.run(
      'build32',
      () => buildKernel({ tree: paths.tree, obj, target: { arch: { makeTarget: 'vmlinux', image: 'vmlinux' } }, makeVars, jobs: ctx.jobs, logFile: log, tty: ctx.tty }),
      (b) => `${b.units} objects`,
    );
    const warnings = findWarnings(readFileSync(log, 'utf8').split('\n'), paths.tree);
    const ours = seriesWarnings(warnings, await seriesFiles(ctx));
    info('build32', `${displayPath(join(obj, 'vmlinux'))}: ${warnings.length} warning(s), ${ours.length} in files of the series (log: ${displayPath(log)})`);
    for (const w of ours) process.stdout.write(`  | ${w.text}\n`);
    return {
      row: { arch: BUILD32_NAME, name: 'build (32-bit, warnings in series files)', passed: ours.length === 0 ? 1 : 0, failed: ours.length === 0 ? 0 : 1, skipped: 0 },
      problems: ours.length === 0 ? [] : [`${name}: ${ours.length} warning(s) in files of the series, first: ${ours[0]?.text ?? ''}`],
      warnings: ours,
      mmview,
    };
  } catch (e) {
    if (e instanceof UserError) return { ...failed(`${name}: ${errorLine(e)}`), mmview };
    throw e;
  }
}
