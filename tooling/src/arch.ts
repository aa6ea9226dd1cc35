/** What differs between guest architectures: kernel ARCH, image, QEMU, console. */

export type ArchName = 'x86_64' | 'arm64';
export const ARCHES: readonly ArchName[] = ['x86_64', 'arm64'];

/** Guest arches `test` runs by default, in this order (then the 32-bit build check). */
export const TEST_ARCHES: readonly ArchName[] = ['x86_64', 'arm64'];
/** `test --arch`: a guest arch, or i386 for the 32-bit build check alone. */
export type TestArch = ArchName | 'i386';
export const TEST_ARCH_CHOICES: readonly TestArch[] = [...TEST_ARCHES, 'i386'];

export type Flavour = 'test' | 'release';
export const FLAVOURS: readonly Flavour[] = ['test', 'release'];

export interface ArchSpec {
  name: ArchName;
  /** ARCH= for the kernel's make. */
  kernelArch: string;
  /** `uname -m` of a host that can run this guest natively (KVM). */
  unameMachine: string;
  makeTarget: string;
  /** Path of the boot image relative to the obj dir. */
  image: string;
  qemu: string;
  /** Debian package providing `qemu`. */
  qemuPackage: string;
  machineArgs: readonly string[];
  console: string;
  /** Kernel command line arguments every boot of this arch gets. */
  kernelArgs: readonly string[];
  /** CROSS_COMPILE prefix when building on another host arch, and its Debian packages. */
  crossPrefix: string;
  crossPackages: readonly string[];
  /** Debian architecture of the guest userland (busybox-static:<debianArch> when not native). */
  debianArch: string;
  /** CPU models booted under TCG: `test` boots each in turn, `run` the last one. */
  tcgCpus: readonly TcgCpu[];
  /** -accel argument under TCG (KVM boots use -enable-kvm). */
  tcgAccel: string;
  /**
   * Environment of the guest test programs, e.g. shorter time-bounded tests
   * where TCG emulation is slow (KVM boots get none of it).
   */
  tcgTestEnv: Readonly<Record<string, string>>;
}

export interface TcgCpu {
  /** Short name for messages, log files and result rows, e.g. "cortex-a57". */
  label: string;
  /** The -cpu argument. */
  model: string;
}

const SPECS: Record<ArchName, ArchSpec> = {
  x86_64: {
    name: 'x86_64',
    kernelArch: 'x86',
    unameMachine: 'x86_64',
    makeTarget: 'bzImage',
    image: 'arch/x86/boot/bzImage',
    qemu: 'qemu-system-x86_64',
    qemuPackage: 'qemu-system-x86',
    machineArgs: [],
    console: 'ttyS0',
    // Four-level paging. 6.12's identify_cpu() clears the boot CPU's feature
    // bits and reads them again with interrupts on; an interrupt in between
    // sees pgtable_l5_enabled() false, and KASAN reports every access to the
    // 5-level direct map as wild (seen at boot under TCG -cpu max, which has
    // LA57, in handle_edge_irq). Nothing of the feature depends on the depth.
    kernelArgs: ['no5lvl'],
    crossPrefix: 'x86_64-linux-gnu-',
    crossPackages: ['gcc-x86-64-linux-gnu', 'libc6-dev-amd64-cross'],
    debianArch: 'amd64',
    tcgCpus: [{ label: 'max', model: 'max' }],
    // One TCG thread for all vCPUs. x86 patches kernel text live (static
    // keys, tracepoints, uprobes: text_poke_bp() plants an int3, syncs all
    // CPUs with IPIs, writes, syncs again); under multi-threaded TCG a vCPU
    // still runs the int3 after the patcher finished, and the kernel dies
    // with "Oops: int3" (tests/guest/repro/text_poke_race.c: within seconds
    // with thread=multi, none in 90 s and 1164 flips with thread=single).
    // arm64 patches under stop_machine() and keeps multi-threaded TCG.
    tcgAccel: 'tcg,thread=single',
    tcgTestEnv: {},
  },
  arm64: {
    name: 'arm64',
    kernelArch: 'arm64',
    unameMachine: 'aarch64',
    makeTarget: 'Image',
    image: 'arch/arm64/boot/Image',
    qemu: 'qemu-system-aarch64',
    qemuPackage: 'qemu-system-arm',
    machineArgs: ['-machine', 'virt,gic-version=max'],
    console: 'ttyAMA0',
    kernelArgs: [],
    crossPrefix: 'aarch64-linux-gnu-',
    crossPackages: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
    debianArch: 'arm64',
    // ARMv8.0 without hardware access/dirty flags (young and dirty faults in
    // software), then every feature QEMU has (hardware AF/DBM, LSE atomics,
    // ...; pointer authentication with QEMU's fast implementation).
    tcgCpus: [
      { label: 'cortex-a57', model: 'cortex-a57' },
      { label: 'max', model: 'max,pauth-impdef=on' },
    ],
    tcgAccel: 'tcg',
    tcgTestEnv: {},
  },
};

export function archSpec(name: ArchName): ArchSpec {
  return SPECS[name];
}

export function isArchName(s: string): s is ArchName {
  return (ARCHES as readonly string[]).includes(s);
}

/** The guest arch matching the host CPU (what `./mmview` builds by default). */
export function hostArch(machine: string): ArchName {
  return machine === 'aarch64' || machine === 'arm64' ? 'arm64' : 'x86_64';
}

export function isNative(spec: ArchSpec, machine: string): boolean {
  return spec.unameMachine === machine;
}

export interface Target {
  arch: ArchSpec;
  flavour: Flavour;
}

/** `x86_64-test`: names the obj and guest dirs of a target. */
export function targetName(t: Target): string {
  return `${t.arch.name}-${t.flavour}`;
}
