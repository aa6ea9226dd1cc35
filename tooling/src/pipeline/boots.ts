/**
 * The QEMU command lines of `run` and `test` (pure): the same for a real
 * boot and for --dry-run, which only prints them.
 */
import { join, resolve } from 'node:path';
import type { ArchSpec, TcgCpu } from '../arch.ts';
import { shellQuote } from '../image/init.ts';
import { UserError } from '../util/errors.ts';
import { ALL_TEST_PARTS, qemuArgs, type GuestMode, type TestPart } from '../vm/qemu.ts';
import type { Context } from './context.ts';

/** --smp and --memory of run and test (undefined: qemuArgs' defaults). */
export interface VmSize {
  smp?: number;
  memory?: string;
}

/** The TCG CPU model of `run` (pure). */
export function runCpu(cpus: readonly TcgCpu[], label: string | undefined): TcgCpu {
  const pick = label === undefined ? cpus.at(-1) : cpus.find((c) => c.label === label);
  if (!pick) throw new UserError(`--cpu ${label ?? ''}: choose ${cpus.map((c) => c.label).join(' or ')}`);
  return pick;
}

/** The CPU models `test` boots one after the other: under KVM the host's (one boot), else each TCG model or the --cpu one. */
export function testCpus(arch: ArchSpec, kvm: boolean, label: string | undefined): TcgCpu[] {
  const all = arch.tcgCpus;
  const cpus = kvm ? all.slice(-1) : label !== undefined ? all.filter((c) => c.label === label) : [...all];
  if (cpus.length === 0) throw new UserError(`--cpu ${label ?? ''}: ${arch.name} boots ${all.map((c) => c.label).join(' or ')}`);
  return cpus;
}

/**
 * What each boot of `test` runs, given how many CPU models it boots (pure):
 * the last model everything, each model before it the test programs only.
 * mmview's own tests are what a CPU model's page-table features change
 * (arm64 with and without hardware access and dirty flags), so every model
 * runs them. The kernel's mm selftests, the benchmark smoke run and the soak
 * run once per arch, on the model with every feature: under TCG a second
 * arm64 run of them costs about ten minutes of CI.
 */
export function testBootParts(models: number, index: number): readonly TestPart[] {
  return index === models - 1 ? ALL_TEST_PARTS : ['tests'];
}

/** The kernel image a boot uses: --kernel, or the one the build writes. */
export function kernelImagePath(ctx: Pick<Context, 'obj' | 'target'>, kernel: string | undefined): string {
  return kernel !== undefined ? resolve(kernel) : join(ctx.obj, ctx.target.arch.image);
}

/** The initramfs packImage writes for a mode. */
export function initrdPath(ctx: Pick<Context, 'guest'>, mode: GuestMode): string {
  return join(ctx.guest, `initramfs-${mode}.cpio.gz`);
}

export interface RunBoot {
  image: string;
  initrd: string;
  kvm: boolean;
  cpu: string | undefined;
  interactive: boolean;
  consoleLog: string;
  size: VmSize;
}

export function runQemuArgs(arch: ArchSpec, b: RunBoot): string[] {
  return qemuArgs({
    arch,
    kernel: b.image,
    initrd: b.initrd,
    kvm: b.kvm,
    cpu: runCpu(arch.tcgCpus, b.cpu).model,
    mode: 'run',
    interactive: b.interactive,
    consoleLog: b.consoleLog,
    ...(b.interactive ? { rows: process.stdout.rows, cols: process.stdout.columns } : {}),
    ...b.size,
  });
}

/** NUMA nodes of a test guest: the test kernels have CONFIG_NUMA. */
export const TEST_NUMA_NODES = 2;

export interface TestBoot {
  image: string;
  initrd: string;
  kvm: boolean;
  cpu: TcgCpu;
  testTimeout: number;
  parts: readonly TestPart[];
  size: VmSize;
}

/** A test boot's QEMU arguments and the guest environment they carry. */
export function testQemuArgs(arch: ArchSpec, b: TestBoot): { args: string[]; env: Readonly<Record<string, string>> } {
  const env = b.kvm ? {} : arch.tcgTestEnv;
  const args = qemuArgs({
    arch,
    kernel: b.image,
    initrd: b.initrd,
    kvm: b.kvm,
    cpu: b.cpu.model,
    env,
    mode: 'test',
    interactive: false,
    testTimeout: b.testTimeout,
    testParts: b.parts,
    // mbind(), move_pages() and NUMA balancing in views (mmview_numa_test).
    numaNodes: TEST_NUMA_NODES,
    ...b.size,
  });
  return { args, env };
}

/** A command line as a shell would take it. */
export function commandLine(qemu: string, args: readonly string[]): string {
  return shellQuote([qemu, ...args]);
}
