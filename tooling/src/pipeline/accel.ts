import { join } from 'node:path';
import { detectKvm } from '../host/kvm.ts';
import { targetName } from '../arch.ts';
import { qemuArgs } from '../vm/qemu.ts';
import { cachedProbe, probeKey, probeKvm } from '../vm/probe.ts';
import { warn } from '../util/log.ts';
import type { Context } from './context.ts';

export interface Accel {
  usable: boolean;
  reason: string;
}

/** KVM when /dev/kvm opens and a probe boot under KVM shows guest output (cached), else TCG. */
export async function chooseAccel(ctx: Context, image: string, initrd: string): Promise<Accel> {
  const dev = detectKvm(ctx.target.arch, ctx.hostMachine);
  if (!dev.usable) {
    warn(`no KVM (${dev.reason}); using TCG, which is much slower`);
    return dev;
  }
  const qemu = ctx.target.arch.qemu;
  const probeArgs = qemuArgs({ arch: ctx.target.arch, kernel: image, initrd, kvm: true, mode: 'shell', interactive: false });
  const r = await ctx.timer.run('kvm-probe', () =>
    cachedProbe(join(ctx.paths.hostTools, 'kvm-probe.json'), probeKey(qemu), () => probeKvm(qemu, probeArgs)),
  );
  if (!r.ok) warn(`KVM is not usable here (${r.reason}); using TCG, which is much slower`);
  return { usable: r.ok, reason: r.reason };
}

export function bootLine(ctx: Context, kvm: Accel): string {
  return `booting ${targetName(ctx.target)} ${kvm.usable ? 'with KVM' : 'under TCG'}`;
}
