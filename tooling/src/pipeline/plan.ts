/**
 * What `test` will do, decided before it does anything (pure): the guest
 * arches in order, the 32-bit build check, and everything they need from the
 * host, so that all of it is checked up front, before the unit tests and the
 * first build.
 */
import { TEST_ARCHES, archSpec, isNative, type ArchName, type TestArch } from '../arch.ts';
import { requiredPackages, type Needs } from '../host/packages.ts';
import type { Prerequisites } from '../host/prerequisites.ts';

export interface TestPlan {
  arches: ArchName[];
  build32: boolean;
}

export interface PlanOptions {
  arch?: ArchName;
  testArch?: TestArch;
  kernel?: string;
  guestTests?: string;
}

/** What `test` runs: guest arches in order, and whether the 32-bit build check runs. */
export function testPlan(opts: PlanOptions, host: ArchName): TestPlan {
  const selected = opts.testArch ?? opts.arch;
  if (selected === 'i386') return { arches: [], build32: true };
  if (selected !== undefined) return { arches: [selected], build32: false };
  // A prebuilt kernel or test folder belongs to one arch: the host's.
  if (opts.kernel !== undefined || opts.guestTests !== undefined) return { arches: [host], build32: false };
  return { arches: [...TEST_ARCHES], build32: true };
}

/** What a command that boots `arch` needs from the host (a prebuilt --kernel needs no kernel build). */
export function guestPrerequisites(arch: ArchName, hostMachine: string, prebuiltKernel: boolean): Prerequisites {
  const spec = archSpec(arch);
  const native = isNative(spec, hostMachine);
  const needs: Needs = { tree: !prebuiltKernel, kernel: !prebuiltKernel, guest: true };
  return { packages: requiredPackages(needs, spec, native), foreignArches: native ? [] : [spec.debianArch] };
}

/** Everything a whole `test` run needs from the host: unit tests, every planned arch, the 32-bit build. */
export function testPrerequisites(plan: TestPlan, opts: { unit: boolean; kernel?: string }, hostMachine: string): Prerequisites {
  const packages = new Set<string>();
  const foreign = new Set<string>();
  const add = (p: Prerequisites): void => {
    for (const x of p.packages) packages.add(x);
    for (const x of p.foreignArches) foreign.add(x);
  };
  if (opts.unit) add({ packages: requiredPackages({ tree: false, kernel: false, guest: false, unit: true }, archSpec('x86_64'), true), foreignArches: [] });
  for (const arch of plan.arches) add(guestPrerequisites(arch, hostMachine, opts.kernel !== undefined));
  if (plan.build32) add({ packages: requiredPackages({ tree: true, kernel: true, guest: false }, archSpec('x86_64'), true), foreignArches: [] });
  return { packages: [...packages].sort(), foreignArches: [...foreign].sort() };
}
