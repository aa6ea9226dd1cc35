import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { targetName, type Target } from './arch.ts';

/** The repo root: tooling/src/paths.ts -> ../.. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Paths {
  repo: string;
  build: string;
  cache: string;
  logs: string;
  /** The kernel work tree (build/linux). */
  tree: string;
  patches: string;
  series: string;
  pin: string;
  configDir: string;
  libmmviewSrc: string;
  /** The live-patching library and its demo (userspace/libmmpatch). */
  libmmpatchSrc: string;
  examplesSrc: string;
  guestTestsSrc: string;
  /** The kernel's mm selftests run normally and inside views (tests/guest/mm-selftests). */
  mmSelftestsSrc: string;
  /** Guest benchmark programs (bench/guest). */
  benchSrc: string;
  /** The vanilla kernel source for benchmarks: the pinned source without patches (build/vanilla/linux). */
  vanillaTree: string;
  /** Benchmark results and report (build/bench). */
  benchOut: string;
  unitTests: string;
  hostTools: string;
}

export function makePaths(repo: string = REPO_ROOT, buildDir?: string): Paths {
  const build = buildDir ? resolve(buildDir) : join(repo, 'build');
  return {
    repo,
    build,
    cache: join(build, 'cache'),
    logs: join(build, 'logs'),
    tree: join(build, 'linux'),
    patches: join(repo, 'patches'),
    series: join(repo, 'patches', 'series'),
    pin: join(repo, 'kernel', 'pin.json'),
    configDir: join(repo, 'kernel', 'config'),
    libmmviewSrc: join(repo, 'userspace', 'libmmview'),
    libmmpatchSrc: join(repo, 'userspace', 'libmmpatch'),
    examplesSrc: join(repo, 'userspace', 'examples'),
    guestTestsSrc: join(repo, 'tests', 'guest', 'c'),
    mmSelftestsSrc: join(repo, 'tests', 'guest', 'mm-selftests'),
    benchSrc: join(repo, 'bench', 'guest'),
    vanillaTree: join(build, 'vanilla', 'linux'),
    benchOut: join(build, 'bench'),
    unitTests: join(repo, 'tooling', 'test'),
    hostTools: join(build, 'host-tools'),
  };
}

/** Kernel objects of one target: build/obj/<arch>-<flavour>. */
export function objDir(paths: Paths, target: Target): string {
  return join(paths.build, 'obj', targetName(target));
}

/** Guest userland, tests and initramfs of one target: build/guest/<arch>-<flavour>. */
export function guestDir(paths: Paths, target: Target): string {
  return join(paths.build, 'guest', targetName(target));
}

export function logFile(paths: Paths, stage: string): string {
  return join(paths.logs, `${stage}.log`);
}
