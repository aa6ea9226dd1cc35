import { availableParallelism, machine } from 'node:os';
import { archSpec, hostArch, isNative, type ArchName, type Flavour, type Target } from '../arch.ts';
import { guestDir, makePaths, objDir, type Paths } from '../paths.ts';
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
}

export function makeContext(opts: Pick<BuildOptions, 'config' | 'buildDir' | 'arch'>): Context {
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
    timer: new StageTimer(),
  };
}
