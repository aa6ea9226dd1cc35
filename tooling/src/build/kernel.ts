import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runLogged } from '../util/exec.ts';
import type { ArchSpec } from '../arch.ts';
import { createProgress, isProgressLine } from './progress.ts';
import { failWithLog } from './logs.ts';
import { underBuildLock } from '../util/lock.ts';

export interface KernelBuildRequest {
  tree: string;
  obj: string;
  /** The make goal and the file it produces (relative to obj). */
  target: { arch: Pick<ArchSpec, 'makeTarget' | 'image'> };
  makeVars: readonly string[];
  jobs: number;
  logFile: string;
  tty: boolean;
}

export interface KernelBuild {
  image: string;
  /** CC/LD/AR lines seen (0 when nothing needed rebuilding). */
  units: number;
}

export const LINES_FILE = '.mmview-build-lines';
const DEFAULT_ESTIMATE = 1900; // x86_64-test from scratch (6.12)

/**
 * PATH with ccache's compiler wrappers first, when ccache is installed.
 * CCACHE_BASEDIR makes the absolute source paths kbuild passes relative, so a
 * fresh clone in another folder (CI) still hits the cache.
 */
export function withCcache(env: NodeJS.ProcessEnv, baseDir: string, ccacheDir = '/usr/lib/ccache'): NodeJS.ProcessEnv {
  if (!existsSync(ccacheDir)) return env;
  return { ...env, PATH: `${ccacheDir}:${env.PATH ?? '/usr/bin:/bin'}`, CCACHE_BASEDIR: env.CCACHE_BASEDIR ?? baseDir };
}

function readEstimate(obj: string): number {
  try {
    const n = Number.parseInt(readFileSync(join(obj, LINES_FILE), 'utf8'), 10);
    return Number.isFinite(n) && n > 0 ? n : DEFAULT_ESTIMATE;
  } catch {
    return DEFAULT_ESTIMATE;
  }
}

/** make <image target> with a progress display; full output in the log. */
export async function buildKernel(req: KernelBuildRequest): Promise<KernelBuild> {
  const estimate = readEstimate(req.obj);
  const progress = createProgress({ label: 'kernel', estimate, tty: req.tty });
  const env = withCcache({ ...process.env, KBUILD_BUILD_USER: 'mmview', KBUILD_BUILD_HOST: 'mmview' }, dirname(req.tree));
  let r;
  try {
    r = await runLogged({
      ...underBuildLock('make', ['-C', req.tree, `O=${req.obj}`, ...req.makeVars, `-j${req.jobs}`, req.target.arch.makeTarget]),
      env,
      logFile: req.logFile,
      onLine: (line) => {
        if (isProgressLine(line)) progress.tick();
      },
    });
  } finally {
    progress.stop();
  }
  if (r.code !== 0) failWithLog('kernel build', req.logFile);
  // Keep the estimate of a full build: a small incremental build should not shrink it.
  if (progress.count > estimate / 2 || !existsSync(join(req.obj, LINES_FILE))) {
    writeFileSync(join(req.obj, LINES_FILE), `${progress.count}\n`);
  }
  return { image: join(req.obj, req.target.arch.image), units: progress.count };
}

/** make headers_install into <obj>/usr-headers (needed by the guest userland). */
export async function installHeaders(req: Omit<KernelBuildRequest, 'tty' | 'jobs'>): Promise<string> {
  const dest = join(req.obj, 'usr-headers');
  const r = await runLogged({
    ...underBuildLock('make', ['-C', req.tree, `O=${req.obj}`, ...req.makeVars, 'headers_install', `INSTALL_HDR_PATH=${dest}`]),
    logFile: req.logFile,
  });
  if (r.code !== 0) failWithLog('make headers_install', req.logFile);
  return dest;
}
