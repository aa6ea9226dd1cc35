/**
 * `run --dry-run` and `test --dry-run`: print the QEMU command lines the
 * command would boot, and exit. Nothing is installed, built or booted: the
 * kernel and initramfs paths are where the build puts them, and KVM is the
 * cached probe's answer (or /dev/kvm's when the probe has not run yet).
 */
import { existsSync } from 'node:fs';
import { targetName } from '../arch.ts';
import { displayPath } from '../util/log.ts';
import type { GuestMode } from '../vm/qemu.ts';
import { chooseAccel, THIS_HOST, type KvmHost } from './accel.ts';
import { commandLine, initrdPath, kernelImagePath, runQemuArgs, testBootParts, testCpus, testQemuArgs, type VmSize } from './boots.ts';
import { makeContext, type BuildOptions, type Context } from './context.ts';
import type { TestPlan } from './plan.ts';

export interface DryRunBoot {
  /** x86_64-test, arm64-test/cortex-a57, ... */
  label: string;
  accel: string;
  /** Files the command line names that a real run would build first. */
  notBuilt: string[];
  command: string;
}

async function bootFiles(
  ctx: Context,
  kernel: string | undefined,
  mode: GuestMode,
  host: KvmHost = THIS_HOST,
): Promise<{ image: string; initrd: string; kvm: boolean; accel: string; notBuilt: string[] }> {
  const image = kernelImagePath(ctx, kernel);
  const initrd = initrdPath(ctx, mode);
  const a = await chooseAccel(ctx, image, initrd, { boot: false, host });
  return {
    image,
    initrd,
    kvm: a.usable,
    accel: `${a.usable ? 'KVM' : 'TCG'} (${a.reason})`,
    notBuilt: [image, initrd].filter((f) => !existsSync(f)).map((f) => displayPath(f)),
  };
}

export interface RunDryOptions extends BuildOptions, VmSize {
  cpu?: string;
  command: readonly string[];
}

export async function dryRunRun(opts: RunDryOptions, interactive: boolean): Promise<DryRunBoot> {
  const ctx = makeContext(opts);
  const f = await bootFiles(ctx, opts.kernel, 'run');
  const args = runQemuArgs(ctx.target.arch, {
    image: f.image,
    initrd: f.initrd,
    kvm: f.kvm,
    cpu: opts.cpu,
    interactive,
    consoleLog: ctx.log('console-run'),
    size: { smp: opts.smp, memory: opts.memory },
  });
  return { label: targetName(ctx.target), accel: f.accel, notBuilt: f.notBuilt, command: commandLine(ctx.target.arch.qemu, args) };
}

export interface TestDryOptions extends BuildOptions, VmSize {
  cpu?: string;
  testTimeout: number;
}

/** host: /dev/kvm and the probe as accel.ts's rule reads them (tests give other hosts). */
export async function dryRunTest(opts: TestDryOptions, plan: TestPlan, host: KvmHost = THIS_HOST): Promise<DryRunBoot[]> {
  const out: DryRunBoot[] = [];
  for (const arch of plan.arches) {
    const ctx = makeContext({ ...opts, arch });
    const f = await bootFiles(ctx, opts.kernel, 'test', host);
    const cpus = testCpus(ctx.target.arch, f.kvm, opts.cpu);
    for (const [i, cpu] of cpus.entries()) {
      const { args } = testQemuArgs(ctx.target.arch, {
        image: f.image,
        initrd: f.initrd,
        kvm: f.kvm,
        cpu,
        testTimeout: opts.testTimeout,
        parts: testBootParts(cpus.length, i),
        size: { smp: opts.smp, memory: opts.memory },
      });
      const label = !f.kvm && ctx.target.arch.tcgCpus.length > 1 ? `${targetName(ctx.target)}/${cpu.label}` : targetName(ctx.target);
      out.push({ label, accel: f.accel, notBuilt: f.notBuilt, command: commandLine(ctx.target.arch.qemu, args) });
    }
  }
  return out;
}

/** The printed form: a comment line per boot, then its command line (pure). */
export function renderDryRun(boots: readonly DryRunBoot[], extra: readonly string[] = []): string {
  const lines: string[] = [];
  for (const b of boots) {
    const missing = b.notBuilt.length > 0 ? `; not built yet: ${b.notBuilt.join(', ')}` : '';
    lines.push(`# ${b.label}: ${b.accel}${missing}`, b.command);
  }
  for (const e of extra) lines.push(`# ${e}`);
  return `${lines.join('\n')}\n`;
}
