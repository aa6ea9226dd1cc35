import { join } from 'node:path';
import { resetLog } from '../build/logs.ts';
import type { Mismatch } from '../config/fragments.ts';
import { logFile } from '../paths.ts';
import type { Source } from '../source/fetch.ts';
import { ensureVanillaTree } from '../tree/vanilla.ts';
import { displayPath, info } from '../util/log.ts';
import type { Context } from './context.ts';
import { configureAndBuildKernel } from './kernel.ts';

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
  return configureAndBuildKernel(ctx, {
    tree: paths.vanillaTree,
    obj,
    target: { arch: target.arch, flavour: 'release' },
    name,
    variant: 'vanilla',
    relevantMismatches: vanillaMismatches,
  });
}
