import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildUserland, listExecutables, type Userland } from '../build/userland.ts';
import { collectEntries, type GuestProgram } from '../image/contents.ts';
import type { ImageEntry } from '../image/filelist.ts';
import { genInitCpio, writeInitramfs } from '../image/cpio.ts';
import { which } from '../util/exec.ts';
import { foreignPackage } from '../host/foreign.ts';
import { logFile } from '../paths.ts';
import { UserError } from '../util/errors.ts';
import { displayPath, info, warn } from '../util/log.ts';
import { builtMmPrograms, mmRunName, type MmProgram } from '../mmselftests/programs.ts';
import type { GuestMode, TestPart } from '../vm/qemu.ts';
import { logSuffix, type Context } from './context.ts';
import type { KernelArtifacts } from './kernel.ts';
import { initrdPath } from './boots.ts';

export interface GuestRequest {
  mode: GuestMode;
  /** `run` command line (stored in /etc/mmview/cmd). */
  command: readonly string[];
  adds: readonly string[];
  /** Only test programs whose name contains this. */
  filter?: string;
  /** Developer option: use the executables in this folder as the test programs. */
  guestTests?: string;
  /** More image entries (the soak's programs, soak/image.ts). */
  extraEntries?: readonly ImageEntry[];
  /** Marker names of further runs these entries bring (test mode: the soak's soak/<tool>). */
  extraRuns?: readonly string[];
}

export interface GuestImage {
  initrd: string;
  tests: GuestProgram[];
  /** Benchmark programs in the image (run at tiny size after the tests in test mode). */
  benches: GuestProgram[];
  /** Kernel mm selftests in the image (test mode), each run normally and inside views. */
  mmSelftests: string[];
  userland: Userland;
  /** Marker names of the further runs of GuestRequest.extraRuns. */
  extraRuns?: string[];
}

/** The programs of the image that a boot running these parts runs (pure). */
export function guestForParts(image: GuestImage, parts: readonly TestPart[]): GuestImage {
  return {
    ...image,
    tests: parts.includes('tests') ? image.tests : [],
    mmSelftests: parts.includes('mm') ? image.mmSelftests : [],
    benches: parts.includes('bench') ? image.benches : [],
    extraRuns: parts.includes('soak') ? image.extraRuns : [],
  };
}

/** Pick the test programs to run (pure). */
export function selectTests(names: readonly string[], filter: string | undefined): string[] {
  return filter === undefined ? [...names] : names.filter((n) => n.includes(filter));
}

/** The executables of a folder whose names contain the filter, as guest programs. */
export function programsIn(dir: string, filter: string | undefined): GuestProgram[] {
  return selectTests(listExecutables(dir), filter).map((name) => ({ name, path: join(dir, name) }));
}

/** The mm selftests to run: --filter matches their row names, mm/<program> (pure). */
export function selectMmSelftests<T extends { name: string }>(programs: readonly T[], filter: string | undefined): T[] {
  return programs.filter((p) => filter === undefined || mmRunName(p.name).includes(filter));
}

export interface ImageRequest {
  mode: GuestMode;
  tests: readonly GuestProgram[];
  benches: readonly GuestProgram[];
  benchArgs: readonly string[];
  mmSelftests?: { dir: string; programs: readonly MmProgram[] };
  demo: string | undefined;
  patchDemo?: string;
  libDir: string | undefined;
  command: readonly string[];
  adds: readonly string[];
  /** gen_init_cpio from this kernel's obj dir, when built. */
  obj: string;
  extraEntries?: readonly ImageEntry[];
}

/** busybox-static of the guest's arch from Debian's archive, extracted in build/cache/debs. */
async function foreignBusybox(ctx: Context): Promise<string> {
  const arch = ctx.target.arch.debianArch;
  const pkg = await foreignPackage('busybox-static', arch, join(ctx.paths.cache, 'debs'), logFile(ctx.paths, 'packages'));
  const bin = join(pkg.root, 'bin', 'busybox');
  if (!existsSync(bin)) throw new UserError(`busybox-static:${arch} ${pkg.version} has no bin/busybox (in ${pkg.root})`);
  return bin;
}

/** Pack the initramfs <guest dir>/initramfs-<mode>.cpio.gz. */
export async function packImage(ctx: Context, req: ImageRequest): Promise<string> {
  const { paths } = ctx;
  return ctx.timer.run('image', async () => {
    const hostBusybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p)) ?? which('busybox');
    if (!hostBusybox) throw new UserError('busybox not found (install busybox-static)');
    const busybox = ctx.native ? hostBusybox : await foreignBusybox(ctx);
    const tool = await genInitCpio({
      built: join(req.obj, 'usr', 'gen_init_cpio'),
      source: join(paths.tree, 'usr', 'gen_init_cpio.c'),
      outDir: paths.hostTools,
    });
    const entries = await collectEntries({
      busybox,
      // The applet list is the same for every arch of one Debian busybox-static.
      appletsFrom: hostBusybox,
      stagingDir: join(ctx.guest, `staging-${req.mode}`),
      tests: req.tests,
      benches: req.benches,
      benchArgs: req.benchArgs,
      mmSelftests: req.mmSelftests,
      demo: req.demo,
      patchDemo: req.patchDemo,
      libDir: req.libDir,
      command: req.command,
      adds: req.adds,
      extraEntries: req.extraEntries,
    });
    const out = initrdPath(ctx, req.mode);
    const size = await writeInitramfs(entries, tool, out);
    const mm = req.mmSelftests?.programs.length ?? 0;
    const counts = [
      req.tests.length ? `${req.tests.length} test program(s)` : '',
      mm ? `${mm} mm selftest(s) in two builds` : '',
      req.benches.length ? `${req.benches.length} benchmark program(s)` : '',
    ].filter(Boolean);
    info('image', `${displayPath(out)} (${(size / 1024 / 1024).toFixed(1)} MiB${counts.length ? `, ${counts.join(', ')}` : ''})`);
    return out;
  });
}

export async function prepareGuest(ctx: Context, kernel: KernelArtifacts, req: GuestRequest): Promise<GuestImage> {
  const { paths } = ctx;
  const userland = await ctx.timer.run('userland', async (): Promise<Userland> => {
    if (!kernel.headers) {
      warn('skipping the guest userland build: no kernel headers (build the kernel without --kernel first)');
      return { libDir: undefined, testsDir: undefined, benchDir: undefined, mmSelftestsDir: undefined, demo: undefined };
    }
    const u = await buildUserland({
      libmmviewSrc: paths.libmmviewSrc,
      examplesSrc: paths.examplesSrc,
      libmmpatchSrc: paths.libmmpatchSrc,
      guestTestsSrc: paths.guestTestsSrc,
      mmSelftestsSrc: paths.mmSelftestsSrc,
      benchSrc: paths.benchSrc,
      headers: kernel.headers,
      ksftDir: join(paths.tree, 'tools', 'testing', 'selftests'),
      outDir: ctx.guest,
      makeVars: ctx.userMakeVars,
      jobs: ctx.jobs,
      logDir: paths.logs,
      logSuffix: logSuffix(ctx.target.arch.name),
    });
    const built = [u.libDir && 'libmmview', u.testsDir && 'tests', u.mmSelftestsDir && 'mm-selftests', u.benchDir && 'bench', u.demo && 'mmview-demo', u.patchDemo && 'mmpatch-demo'].filter(Boolean);
    info('userland', built.length > 0 ? `built ${built.join(', ')} in ${displayPath(ctx.guest)}` : 'nothing to build yet');
    return u;
  });

  let tests: GuestProgram[] = [];
  let benches: GuestProgram[] = [];
  let mmSelftests: MmProgram[] = [];
  if (req.mode === 'test') {
    const dir = req.guestTests !== undefined ? resolve(req.guestTests) : userland.testsDir;
    if (dir === undefined) throw new UserError('no guest test programs: tests/guest/c could not be built (see the warnings above)');
    if (!existsSync(dir)) throw new UserError(`--guest-tests ${req.guestTests ?? dir}: no such folder`);
    tests = programsIn(dir, req.filter);
    // With --guest-tests only those programs run; otherwise the mm selftests and the benchmarks' smoke run join the tests.
    const mmAll = req.guestTests === undefined && userland.mmSelftestsDir !== undefined ? builtMmPrograms(userland.mmSelftestsDir, ctx.target.arch.name) : [];
    mmSelftests = selectMmSelftests(mmAll, req.filter);
    if (req.guestTests === undefined && userland.benchDir !== undefined) benches = programsIn(userland.benchDir, req.filter);
    if (tests.length === 0 && benches.length === 0 && mmSelftests.length === 0 && (req.extraRuns?.length ?? 0) === 0) {
      const all = [...listExecutables(dir), ...mmAll.map((p) => mmRunName(p.name)), ...(userland.benchDir ? listExecutables(userland.benchDir) : [])];
      throw new UserError(
        req.filter !== undefined
          ? `no guest test program matches --filter ${req.filter} (available: ${all.join(', ') || 'none'})`
          : `no guest test programs in ${dir}`,
      );
    }
  }

  const initrd = await packImage(ctx, {
    mode: req.mode,
    tests,
    benches,
    benchArgs: [],
    mmSelftests: userland.mmSelftestsDir !== undefined ? { dir: userland.mmSelftestsDir, programs: mmSelftests } : undefined,
    demo: userland.demo,
    patchDemo: userland.patchDemo,
    libDir: userland.libDir,
    command: req.command,
    adds: req.adds,
    obj: ctx.obj,
    extraEntries: req.extraEntries,
  });
  return { initrd, tests, benches, mmSelftests: mmSelftests.map((p) => p.name), userland, extraRuns: [...(req.extraRuns ?? [])] };
}
