import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildKernel } from '../build/kernel.ts';
import { resetLog } from '../build/logs.ts';
import { configureKernel, formatMismatches } from '../config/configure.ts';
import type { Mismatch } from '../config/fragments.ts';
import { logFile } from '../paths.ts';
import type { Source } from '../source/fetch.ts';
import { ensureVanillaTree } from '../tree/vanilla.ts';
import { UserError } from '../util/errors.ts';
import { displayPath, info, warn } from '../util/log.ts';
import type { Context } from './context.ts';

/** build/obj/<arch>-vanilla-release: objects of the vanilla kernel. */
export function vanillaObjDir(ctx: Context): string {
  return join(ctx.paths.build, 'obj', `${ctx.target.arch.name}-vanilla-release`);
}

export function vanillaImage(ctx: Context): string {
  return join(vanillaObjDir(ctx), ctx.target.arch.image);
}

/** Options of the fragments that only the series adds: expected to be missing from a vanilla .config (pure). */
export function vanillaMismatches(ms: readonly Mismatch[]): Mismatch[] {
  return ms.filter((m) => !/MMVIEW/.test(m.option));
}

/** The vanilla kernel: pinned source without patches, release configuration, its own tree and obj dir. */
export async function prepareVanillaKernel(ctx: Context, source: Source): Promise<string> {
  const { paths, target } = ctx;
  const obj = vanillaObjDir(ctx);
  const name = `${target.arch.name}-vanilla-release`;
  await ctx.timer.run('vanilla-tree', async () => {
    const r = await ensureVanillaTree({
      tree: paths.vanillaTree,
      patchesDir: paths.patches,
      source,
      logFile: resetLog(logFile(paths, 'tree-vanilla')),
    });
    info('tree', `${displayPath(paths.vanillaTree)}: ${source.package} ${source.version} without patches${r === 'ready' ? '' : ` (${r})`}`);
  });
  await ctx.timer.run('vanilla-config', async () => {
    const r = await configureKernel({
      tree: paths.vanillaTree,
      obj,
      target: { arch: target.arch, flavour: 'release' },
      configDir: paths.configDir,
      makeVars: ctx.kernelMakeVars,
      logFile: resetLog(logFile(paths, 'config-vanilla')),
    });
    info('config', r.reconfigured ? `${name}: configured from ${r.fragments.join(' + ')}` : `${name}: up to date`);
    const ms = vanillaMismatches(r.mismatches);
    if (ms.length > 0) warn(`${ms.length} option(s) from kernel/config did not take effect in ${name}: ${formatMismatches(ms)}`);
  });
  const build = await ctx.timer.run(
    'vanilla-kernel',
    () =>
      buildKernel({
        tree: paths.vanillaTree,
        obj,
        target: { arch: target.arch, flavour: 'release' },
        makeVars: ctx.kernelMakeVars,
        jobs: ctx.jobs,
        logFile: resetLog(logFile(paths, 'kernel-vanilla')),
        tty: ctx.tty,
      }),
    (b) => `${b.units} objects`,
  );
  if (!existsSync(build.image)) throw new UserError(`the vanilla kernel build produced no ${build.image}`);
  info('kernel', `${displayPath(build.image)} (${build.units} objects rebuilt)`);
  return build.image;
}
