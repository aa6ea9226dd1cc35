/**
 * KVM or TCG: the one rule every command uses. KVM when the guest arch is the
 * host's, /dev/kvm opens read-write, and a probe boot under KVM shows guest
 * output (cached in build/host-tools/kvm-probe.json); otherwise TCG.
 */
import { join } from 'node:path';
import { detectKvm, type KvmStatus } from '../host/kvm.ts';
import { targetName, type ArchSpec } from '../arch.ts';
import { qemuArgs } from '../vm/qemu.ts';
import { cachedProbe, probeKey, probeKvm, readCachedProbe, type ProbeResult } from '../vm/probe.ts';
import { warn } from '../util/log.ts';
import type { Context } from './context.ts';

export interface Accel {
  usable: boolean;
  reason: string;
}

export interface AccelFacts {
  /** Can /dev/kvm run this guest arch (detectKvm)? */
  device: KvmStatus;
  /** An earlier probe boot on this host, if any. */
  cached: ProbeResult | undefined;
  /** Boots the probe (and caches it); undefined when nothing may boot (--dry-run). */
  probe: (() => Promise<ProbeResult>) | undefined;
}

/** The rule (pure but for the probe boot it may run). */
export async function decideAccel(f: AccelFacts): Promise<Accel> {
  if (!f.device.usable) return { usable: false, reason: f.device.reason };
  if (f.cached) return { usable: f.cached.ok, reason: f.cached.reason };
  if (!f.probe) return { usable: true, reason: `${f.device.reason}; the KVM probe boot has not run yet` };
  const r = await f.probe();
  return { usable: r.ok, reason: r.reason };
}

/**
 * The host facts the rule reads: whether /dev/kvm can run the guest arch, and
 * the probe boot. A parameter so that tests can give a host with /dev/kvm
 * whose probe fails, which the machine running them may not be.
 */
export interface KvmHost {
  device: (arch: ArchSpec, hostMachine: string) => KvmStatus;
  probe: (qemu: string, args: readonly string[]) => Promise<ProbeResult>;
}

export const THIS_HOST: KvmHost = { device: detectKvm, probe: probeKvm };

/** KVM or TCG for this context's arch; `boot: false` never starts QEMU (--dry-run). */
export async function chooseAccel(ctx: Context, image: string, initrd: string, opts: { boot: boolean; host?: KvmHost } = { boot: true }): Promise<Accel> {
  const host = opts.host ?? THIS_HOST;
  const qemu = ctx.target.arch.qemu;
  const cacheFile = join(ctx.paths.hostTools, 'kvm-probe.json');
  const key = probeKey(qemu);
  const device = host.device(ctx.target.arch, ctx.hostMachine);
  const probeArgs = (): string[] => qemuArgs({ arch: ctx.target.arch, kernel: image, initrd, kvm: true, mode: 'shell', interactive: false });
  const a = await decideAccel({
    device,
    cached: device.usable ? readCachedProbe(cacheFile, key) : undefined,
    probe: opts.boot ? () => ctx.timer.run('kvm-probe', () => cachedProbe(cacheFile, key, () => host.probe(qemu, probeArgs()))) : undefined,
  });
  if (!a.usable && opts.boot) warn(`no KVM (${a.reason}); using TCG, which is much slower`);
  return a;
}

export function bootLine(ctx: Context, kvm: Accel): string {
  return `booting ${targetName(ctx.target)} ${kvm.usable ? 'with KVM' : 'under TCG'}`;
}
