import { availableParallelism, machine } from 'node:os';
import { archSpec, hostArch, isNative, type ArchName, type Flavour, type Target } from '../arch.ts';
import { guestDir, logFile, makePaths, objDir, type Paths } from '../paths.ts';
import { StageTimer } from '../util/log.ts';

/** Options shared by the commands that build (run, test, build). */
export interface BuildOptions {
  config: Flavour;
  acceptVersion?: string;
  /** Developer option: boot this kernel image instead of building one. */
  kernel?: string;
  buildDir?: string;
  arch?: ArchName;
}

export interface Context {
  paths: Paths;
  target: Target;
  hostMachine: string;
  native: boolean;
  /** make variables selecting the target (ARCH=, CROSS_COMPILE=). */
  kernelMakeVars: string[];
  /** make variables for guest userland (CC= when cross-building). */
  userMakeVars: string[];
  obj: string;
  guest: string;
  jobs: number;
  tty: boolean;
  timer: StageTimer;
  /**
   * build/logs/<stage>.log of this target: x86_64's keep the plain names,
   * another arch's get its name as a suffix (kernel-arm64.log).
   */
  log(stage: string): string;
}

/** Suffix of an arch's log names: none for x86_64 (pure). */
export function logSuffix(arch: ArchName): string {
  return arch === 'x86_64' ? '' : `-${arch}`;
}

export function makeContext(opts: Pick<BuildOptions, 'config' | 'buildDir' | 'arch'>, timer: StageTimer = new StageTimer()): Context {
  const hostMachine = machine();
  const arch = archSpec(opts.arch ?? hostArch(hostMachine));
  const target: Target = { arch, flavour: opts.config };
  const paths = makePaths(undefined, opts.buildDir);
  const native = isNative(arch, hostMachine);
  return {
    paths,
    target,
    hostMachine,
    native,
    kernelMakeVars: [`ARCH=${arch.kernelArch}`, ...(native ? [] : [`CROSS_COMPILE=${arch.crossPrefix}`])],
    userMakeVars: native ? [] : [`CC=${arch.crossPrefix}gcc`, `CROSS_COMPILE=${arch.crossPrefix}`],
    obj: objDir(paths, target),
    guest: guestDir(paths, target),
    jobs: availableParallelism() + 1,
    tty: Boolean(process.stdout.isTTY),
    timer,
    log: (stage) => logFile(paths, `${stage}${logSuffix(arch.name)}`),
  };
}
