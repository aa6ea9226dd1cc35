import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensurePackages, requiredPackages, type Needs } from '../host/packages.ts';
import { fetchSource, type Source } from '../source/fetch.ts';
import { readPin } from '../source/pin.ts';
import { createTree, rootCommitMessage } from '../tree/create.ts';
import { gitCheck, rootCommit } from '../tree/git.ts';
import { compareTree, describeUnexported, inspectTree, readSeriesPatches } from '../tree/state.ts';
import { configureKernel, formatMismatches } from '../config/configure.ts';
import { buildKernel, installHeaders } from '../build/kernel.ts';
import { resetLog } from '../build/logs.ts';
import { logFile } from '../paths.ts';
import { targetName } from '../arch.ts';
import { UserError } from '../util/errors.ts';
import { displayPath, info, warn } from '../util/log.ts';
import type { BuildOptions, Context } from './context.ts';

export interface KernelArtifacts {
  image: string;
  /** headers_install output; undefined when a prebuilt --kernel is used without headers. */
  headers: string | undefined;
}

export async function ensureHostPackages(ctx: Context, needs: Needs): Promise<void> {
  await ctx.timer.run('packages', async () => {
    const installed = await ensurePackages(
      requiredPackages(needs, ctx.target.arch, ctx.native),
      logFile(ctx.paths, 'packages'),
    );
    if (installed.length > 0) info('packages', `installed ${installed.join(' ')}`);
  });
}

export async function ensureSource(ctx: Context, acceptVersion: string | undefined): Promise<Source> {
  return ctx.timer.run('source', async () => {
    const src = await fetchSource({ pin: readPin(ctx.paths.pin), cacheDir: ctx.paths.cache, acceptVersion });
    info('source', `${src.package} ${src.version}: ${src.action === 'cached' ? 'verified' : src.action} (${displayPath(src.tarball)})`);
    return src;
  });
}

/** Make sure build/linux exists and matches patches/series (see README, Contributing). */
export async function ensureTree(ctx: Context, source: Source): Promise<void> {
  await ctx.timer.run('tree', async () => {
    const { paths } = ctx;
    const series = await readSeriesPatches(paths.patches, paths.series);
    if (!existsSync(paths.tree)) {
      await createTree({
        tree: paths.tree,
        patchesDir: paths.patches,
        series,
        source,
        force: false,
        logFile: resetLog(logFile(paths, 'tree')),
      });
      return;
    }
    const state = await inspectTree(paths.tree);
    const verdict = compareTree(state, series);
    const rel = displayPath(paths.tree);
    if (verdict.kind === 'lacking') {
      throw new UserError(
        `${rel} lacks ${verdict.missing.length} patch(es) of patches/series (first: ${verdict.missing[0]?.name ?? '?'}); ` +
          'run ./mmview tree --force to recreate it',
      );
    }
    const root = await rootCommit(paths.tree);
    const subject = (await gitCheck(paths.tree, ['log', '-1', '--format=%s', root])).trim();
    if (subject !== rootCommitMessage(source)) {
      warn(`${rel} was made from "${subject}", not ${source.package} ${source.version}; run ./mmview tree --force to recreate it`);
    }
    if (verdict.kind === 'unexported') {
      warn(`${rel} has work not exported to patches/ (run ./mmview export): ${describeUnexported(verdict)}`);
    } else {
      info('tree', `${rel} matches patches/series (${series.length} patch(es))`);
    }
  });
}

/** Everything up to a bootable kernel: packages, source, tree, config, build, headers. */
export async function prepareKernel(ctx: Context, opts: BuildOptions, needGuest: boolean): Promise<KernelArtifacts> {
  await ensureHostPackages(ctx, { tree: opts.kernel === undefined, kernel: opts.kernel === undefined, guest: needGuest });
  if (opts.kernel !== undefined) {
    const image = resolve(opts.kernel);
    if (!existsSync(image)) throw new UserError(`--kernel ${opts.kernel}: no such file`);
    const headers = join(ctx.obj, 'usr-headers');
    info('kernel', `using prebuilt ${image}`);
    return { image, headers: existsSync(join(headers, 'include')) ? headers : undefined };
  }
  const source = await ensureSource(ctx, opts.acceptVersion);
  await ensureTree(ctx, source);
  const { paths, target } = ctx;
  const name = targetName(target);
  await ctx.timer.run('config', async () => {
    const r = await configureKernel({
      tree: paths.tree,
      obj: ctx.obj,
      target,
      configDir: paths.configDir,
      makeVars: ctx.kernelMakeVars,
      logFile: resetLog(logFile(paths, 'config')),
    });
    info(
      'config',
      r.reconfigured
        ? `${name}: configured from ${r.fragments.join(' + ')}${r.changed ? '' : ' (.config unchanged)'}`
        : `${name}: up to date`,
    );
    if (r.mismatches.length > 0) {
      warn(`${r.mismatches.length} option(s) from kernel/config did not take effect: ${formatMismatches(r.mismatches)}`);
    }
  });
  const build = await ctx.timer.run(
    'kernel',
    () =>
      buildKernel({
        tree: paths.tree,
        obj: ctx.obj,
        target,
        makeVars: ctx.kernelMakeVars,
        jobs: ctx.jobs,
        logFile: resetLog(logFile(paths, 'kernel')),
        tty: ctx.tty,
      }),
    (b) => `${b.units} objects`,
  );
  info('kernel', `${displayPath(build.image)} (${build.units} objects rebuilt)`);
  const headers = await ctx.timer.run('headers', () =>
    installHeaders({ tree: paths.tree, obj: ctx.obj, target, makeVars: ctx.kernelMakeVars, logFile: resetLog(logFile(paths, 'headers')) }),
  );
  return { image: build.image, headers };
}
