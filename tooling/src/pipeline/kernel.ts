import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requiredPackages, type Needs } from '../host/packages.ts';
import { ensurePrerequisites } from '../host/prerequisites.ts';
import { fetchSource, type Source } from '../source/fetch.ts';
import { readPin } from '../source/pin.ts';
import { createTree, rootCommitMessage, type CreateTreeRequest, type CreatedTree } from '../tree/create.ts';
import { gitCheck, rootCommit } from '../tree/git.ts';
import { compareTree, inspectTree, readSeriesPatches } from '../tree/state.ts';
import { treeReport } from '../tree/advice.ts';
import { configureKernel } from '../config/configure.ts';
import { buildKernel, installHeaders } from '../build/kernel.ts';
import { resetLog } from '../build/logs.ts';
import { logFile } from '../paths.ts';
import { targetName, type Target } from '../arch.ts';
import { judgeMismatches, type Mismatch } from '../config/fragments.ts';
import { UserError } from '../util/errors.ts';
import { displayPath, info, warn } from '../util/log.ts';
import type { BuildOptions, Context } from './context.ts';

export interface KernelArtifacts {
  image: string;
  /** headers_install output; undefined when a prebuilt --kernel is used without headers. */
  headers: string | undefined;
}

/** The packages of these stages, and for a guest of another arch its Debian architecture, before anything else. */
export async function ensureHostPackages(ctx: Context, needs: Needs): Promise<void> {
  await ctx.timer.run('packages', async () => {
    const got = await ensurePrerequisites(
      {
        packages: requiredPackages(needs, ctx.target.arch, ctx.native),
        foreignArches: needs.guest && !ctx.native ? [ctx.target.arch.debianArch] : [],
      },
      logFile(ctx.paths, 'packages'),
    );
    if (got.enabled.length > 0) info('packages', `enabled Debian's ${got.enabled.join(', ')} architecture`);
    if (got.installed.length > 0) info('packages', `installed ${got.installed.join(' ')}`);
  });
}

export async function ensureSource(ctx: Context, acceptVersion: string | undefined): Promise<Source> {
  return ctx.timer.run('source', async () => {
    const src = await fetchSource({ pin: readPin(ctx.paths.pin), cacheDir: ctx.paths.cache, acceptVersion });
    info('source', `${src.package} ${src.version}: ${src.action === 'cached' ? 'verified' : src.action} (${displayPath(src.tarball)})`);
    return src;
  });
}

/** Makes build/linux from the source and patches/ (a parameter so tests need neither the source tarball nor git). */
export type TreeCreator = (req: CreateTreeRequest) => Promise<CreatedTree>;

/** Make sure build/linux exists and matches patches/series (see README, Contributing). */
export async function ensureTree(ctx: Context, source: Source, create: TreeCreator = createTree): Promise<void> {
  await ctx.timer.run('tree', async () => {
    const { paths } = ctx;
    const series = await readSeriesPatches(paths.patches, paths.series);
    if (!existsSync(paths.tree)) {
      await create({
        tree: paths.tree,
        patchesDir: paths.patches,
        series,
        source,
        force: false,
        logFile: resetLog(logFile(paths, 'tree')),
      });
      return;
    }
    const verdict = compareTree(await inspectTree(paths.tree), series);
    const rel = displayPath(paths.tree);
    const report = treeReport(rel, verdict, series.length);
    if (report.level === 'error') throw new UserError(report.text);
    const root = await rootCommit(paths.tree);
    const subject = (await gitCheck(paths.tree, ['log', '-1', '--format=%s', root])).trim();
    if (subject !== rootCommitMessage(source)) {
      warn(`${rel} was made from "${subject}", not ${source.package} ${source.version}; run ./mmview tree --force to recreate it`);
    }
    if (report.level === 'warn') warn(report.text);
    else info('tree', report.text);
  });
}

export interface KernelBuildSpec {
  tree: string;
  obj: string;
  target: Target;
  /** Shown in messages, e.g. x86_64-test. */
  name: string;
  /** Another kernel than build/linux's (the vanilla one): prefixes its stages, suffixes its logs. */
  variant?: string;
  /** Mismatches worth a warning; default: all. */
  relevantMismatches?: (ms: readonly Mismatch[]) => Mismatch[];
}

/** The two steps of configureAndBuildKernel that run make; tests stand in for them to check what happens between. */
export interface KernelSteps {
  configure: typeof configureKernel;
  build: typeof buildKernel;
}

const MAKE_STEPS: KernelSteps = { configure: configureKernel, build: buildKernel };

/** Configure from the fragments and build the image; returns its path. */
export async function configureAndBuildKernel(ctx: Context, spec: KernelBuildSpec, steps: KernelSteps = MAKE_STEPS): Promise<string> {
  const { paths } = ctx;
  const { tree, obj, target, name, variant } = spec;
  const stage = (s: string): string => (variant ? `${variant}-${s}` : s);
  const log = (s: string): string => resetLog(ctx.log(variant ? `${s}-${variant}` : s));
  const configLog = log('config');
  const configure = (): ReturnType<typeof configureKernel> =>
    steps.configure({ tree, obj, target, configDir: paths.configDir, makeVars: ctx.kernelMakeVars, logFile: configLog });
  await ctx.timer.run(stage('config'), async () => {
    const r = await configure();
    info(
      'config',
      r.reconfigured
        ? `${name}: configured from ${r.fragments.join(' + ')}${r.changed ? '' : ' (.config unchanged)'}`
        : `${name}: up to date`,
    );
    const ms = spec.relevantMismatches ? spec.relevantMismatches(r.mismatches) : r.mismatches;
    const verdict = judgeMismatches(target.flavour, name, ms);
    if (verdict.error) throw new UserError(verdict.error);
    if (verdict.warning) warn(verdict.warning);
  });
  const build = await ctx.timer.run(
    stage('kernel'),
    () => steps.build({ tree, obj, target, makeVars: ctx.kernelMakeVars, jobs: ctx.jobs, logFile: log('kernel'), tty: ctx.tty }),
    (b) => `${b.units} objects`,
  );
  if (!existsSync(build.image)) throw new UserError(`the ${name} kernel build produced no ${build.image}`);
  // The build's syncconfig may drop options once more (a compiler that
  // lacks what an option depends on): the .config it built with must hold.
  const built = (await configure()).mismatches;
  const after = judgeMismatches(target.flavour, name, spec.relevantMismatches ? spec.relevantMismatches(built) : built);
  if (after.error) throw new UserError(after.error);
  info('kernel', `${displayPath(build.image)} (${build.units} objects rebuilt)`);
  return build.image;
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
  const image = await configureAndBuildKernel(ctx, { tree: paths.tree, obj: ctx.obj, target, name: targetName(target) });
  const headers = await ctx.timer.run('headers', () =>
    installHeaders({ tree: paths.tree, obj: ctx.obj, target, makeVars: ctx.kernelMakeVars, logFile: resetLog(ctx.log('headers')) }),
  );
  return { image, headers };
}
