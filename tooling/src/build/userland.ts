import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runLogged } from '../util/exec.ts';
import { warn } from '../util/log.ts';
import { resetOnHeaderChange } from './headerstamp.ts';
import { failWithLog, resetLog } from './logs.ts';

export interface UserlandRequest {
  libmmviewSrc: string;
  examplesSrc: string;
  /** libmmpatch and its demo mmpatch-demo (userspace/libmmpatch); not built when undefined. */
  libmmpatchSrc?: string;
  guestTestsSrc: string;
  /** The kernel's mm selftests, built normally and inside views (tests/guest/mm-selftests). */
  mmSelftestsSrc: string;
  /** Guest benchmark programs (bench/guest). */
  benchSrc: string;
  /** Headers from `make headers_install` (<obj>/usr-headers). */
  headers: string;
  /** tools/testing/selftests of the kernel work tree (kselftest_harness.h). */
  ksftDir: string;
  /** build/guest/<target>: outputs go to libmmview/, tests/, examples/ below it. */
  outDir: string;
  /** Extra make variables (CC=... when cross-building). */
  makeVars: readonly string[];
  jobs: number;
  logDir: string;
  /** Appended to the log names (userland-tests-arm64.log); default none. */
  logSuffix?: string;
}

export interface Userland {
  /** Folder with libmmview.a, libmmview.so, mmview.pc (undefined when skipped). */
  libDir: string | undefined;
  /** Folder whose executables are the guest test programs. */
  testsDir: string | undefined;
  /** Folder whose executables are the guest benchmark programs. */
  benchDir: string | undefined;
  /** Folder with run-mm-selftests, programs.txt, <program> and <program>.inview. */
  mmSelftestsDir: string | undefined;
  /** The static mmview-demo program. */
  demo: string | undefined;
  /** The live-patching demo mmpatch-demo, the default program of `run`. */
  patchDemo?: string;
}

/** The make invocations of one userland component (pure). */
export function userlandMakeArgs(src: string, out: string, vars: Record<string, string>, extra: readonly string[], jobs: number): string[] {
  return ['-C', src, `-j${jobs}`, `O=${out}`, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), ...extra];
}

/** Executable regular files directly in a folder: the guest test programs (sorted). */
export function listExecutables(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => {
      const st = statSync(join(dir, name));
      return st.isFile() && (st.mode & 0o111) !== 0;
    })
    .sort();
}

async function makeComponent(
  name: string,
  src: string,
  out: string,
  vars: Record<string, string>,
  req: Pick<UserlandRequest, 'logDir' | 'logSuffix' | 'makeVars' | 'jobs'>,
): Promise<boolean> {
  if (!existsSync(join(src, 'Makefile'))) {
    warn(`skipping ${name}: ${join(src, 'Makefile')} does not exist yet`);
    return false;
  }
  mkdirSync(out, { recursive: true });
  const log = resetLog(join(req.logDir, `userland-${name}${req.logSuffix ?? ''}.log`));
  const r = await runLogged({ cmd: 'make', args: userlandMakeArgs(src, out, vars, req.makeVars, req.jobs), logFile: log });
  if (r.code !== 0) failWithLog(`building ${name}`, log);
  return true;
}

function khdrIncludes(headers: string): string {
  return `-I${join(headers, 'include')}`;
}

/** libmmview and the guest benchmark programs: bench/guest into <outDir>/bench (undefined: no Makefile). */
export type BenchBuildRequest = Omit<UserlandRequest, 'guestTestsSrc' | 'examplesSrc' | 'ksftDir' | 'mmSelftestsSrc'>;

export interface BenchBuild {
  libDir: string | undefined;
  benchDir: string | undefined;
  /** mmpatch-demo, which mmview_bench_patch runs (figure P7); undefined without libmmpatchSrc. */
  patchDemo: string | undefined;
}

/** libmmview, the benchmark programs and libmmpatch with its demo. */
export async function buildBench(req: BenchBuildRequest): Promise<BenchBuild> {
  if (resetOnHeaderChange(req.outDir, req.headers)) warn(`kernel headers changed: rebuilding everything in ${req.outDir}`);
  const khdr = khdrIncludes(req.headers);
  const libDir = join(req.outDir, 'libmmview');
  const haveLib = await makeComponent('libmmview', req.libmmviewSrc, libDir, { KHDR_INCLUDES: khdr }, req);
  const benchDir = join(req.outDir, 'bench');
  const haveBench = haveLib && (await makeComponent('bench', req.benchSrc, benchDir, { KHDR_INCLUDES: khdr, LIBMMVIEW_DIR: libDir }, req));
  // The live-patching library; its demo is the default program of `run` and what mmview_bench_patch measures.
  const patchDir = join(req.outDir, 'libmmpatch');
  const havePatch =
    haveLib &&
    req.libmmpatchSrc !== undefined &&
    (await makeComponent('libmmpatch', req.libmmpatchSrc, patchDir, { KHDR_INCLUDES: khdr, LIBMMVIEW_DIR: libDir }, req));
  const patchDemo = join(patchDir, 'mmpatch-demo');
  return {
    libDir: haveLib ? libDir : undefined,
    benchDir: haveBench ? benchDir : undefined,
    patchDemo: havePatch && existsSync(patchDemo) ? patchDemo : undefined,
  };
}

/** libmmview, the guest C tests, the kernel's mm selftests, the benchmark programs and the example program, built against the kernel's headers. */
export async function buildUserland(req: UserlandRequest): Promise<Userland> {
  const khdr = khdrIncludes(req.headers);
  const { libDir, benchDir, patchDemo } = await buildBench(req);
  const vars = {
    KHDR_INCLUDES: khdr,
    KSFT_DIR: req.ksftDir,
    LIBMMVIEW_DIR: libDir ?? join(req.outDir, 'libmmview'),
  };
  const testsDir = join(req.outDir, 'tests');
  const haveTests = await makeComponent('tests', req.guestTestsSrc, testsDir, vars, req);
  // The kernel's own mm selftests (tools/testing/selftests/mm), twice: normal and inside views.
  const mmSelftestsDir = join(req.outDir, 'mm-selftests');
  const haveMm = await makeComponent('mm-selftests', req.mmSelftestsSrc, mmSelftestsDir, { KHDR_INCLUDES: khdr, KSFT_DIR: req.ksftDir }, req);
  const examplesDir = join(req.outDir, 'examples');
  const haveExamples = await makeComponent('examples', req.examplesSrc, examplesDir, vars, req);
  const demo = join(examplesDir, 'mmview-demo');
  if (haveExamples && !existsSync(demo)) warn(`${req.examplesSrc} built, but ${demo} does not exist`);
  return {
    libDir,
    testsDir: haveTests ? testsDir : undefined,
    benchDir,
    mmSelftestsDir: haveMm ? mmSelftestsDir : undefined,
    demo: haveExamples && existsSync(demo) ? demo : undefined,
    patchDemo,
  };
}
