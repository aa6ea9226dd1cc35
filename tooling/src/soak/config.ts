/**
 * The soak run's settings: which programs, which stressors, how long, and the
 * /etc/mmview/soak.env the guest runner (tests/guest/soak/run-soak.sh) reads.
 */
import type { ArchName } from '../arch.ts';

/** Guest folder of the runner and the preload object. */
export const SOAK_GUEST_DIR = '/usr/lib/mmview-soak';
export const SOAK_RUNNER = `${SOAK_GUEST_DIR}/run-soak`;
export const SOAK_PRELOAD = `${SOAK_GUEST_DIR}/inview-preload.so`;
export const SOAK_ENV_FILE = '/etc/mmview/soak.env';

/** Console marker names of the soak's programs in `test`: soak/stress-ng, soak/trinity. */
export const SOAK_PREFIX = 'soak/';
export type SoakTool = 'stress-ng' | 'trinity';
export const SOAK_TOOLS: readonly SoakTool[] = ['stress-ng', 'trinity'];

export function soakRunName(tool: SoakTool): string {
  return `${SOAK_PREFIX}${tool}`;
}

export function isSoakRunName(name: string): boolean {
  return name.startsWith(SOAK_PREFIX);
}

/** The Debian packages and their programs. */
export const SOAK_PROGRAMS = [
  { pkg: 'stress-ng', binaries: ['usr/bin/stress-ng'] },
  { pkg: 'trinity', binaries: ['usr/bin/trinity'] },
] as const;

/**
 * stress-ng's vm class (0.15) minus what cannot run or says nothing here:
 *  - watchdog: opens /dev/watchdog (a watchdog device would reboot the guest);
 *  - swap: needs a swap file, and tmpfs/ramfs cannot hold one (always skipped);
 *  - mlockmany: starts no worker in this guest ("No stress workers invoked");
 *  - tmpfs: maps 98 % of the free space of the first tmpfs it finds (the
 *    initramfs root, ~850 MB in a 2 GiB guest) with MAP_POPULATE and walks it
 *    page by page: one iteration takes minutes under TCG, in views and
 *    outside, so it never stops within the grace period;
 *  - madvise: advises one page at a time with random advice from 9 threads;
 *    each flag change inside views is mirrored into every view under the
 *    group's layout lock. 4 bogo operations take 285 s inside views against
 *    33 s outside (system time 869 s against 65 s), and under the soak's
 *    load one pass, after which it looks at its deadline, outlasted the
 *    whole grace period (issue 16: the mirror's cost);
 *  - bigheap: dies with SIGSEGV at the same instruction (stress-ng+0x859e9,
 *    a store to memory its realloc() returned) outside views too: a control
 *    run of the same stressors and options without the preload, in the same
 *    cgroup with the same swap, had it four times in 100 s. Debian's 0.15
 *    bigheap has no SIGSEGV handler; the fault is stress-ng's, not the views'.
 * Each of the others ran on its own inside views in the guest and stopped
 * after its deadline (README, "Soak").
 */
export const VM_STRESSORS: readonly string[] = [
  'bad-altstack', 'brk', 'dev-shm', 'env', 'malloc', 'mlock', 'mmap', 'mmapaddr',
  'mmapfixed', 'mmapfork', 'mmaphuge', 'mmapmany', 'mprotect', 'mremap', 'msync', 'msyncmany', 'munmap',
  'pagemove', 'pageswap', 'physpage', 'shm', 'shm-sysv', 'stack', 'stackmmap', 'userfaultfd',
  'vm', 'vm-addr', 'vm-rw', 'vm-segv', 'vm-splice',
];

/**
 * Extra stress-ng options. Sizes are cut from stress-ng's defaults (256 MiB
 * per vm and mmap worker): under TCG with KASAN one iteration over 256 MiB
 * takes minutes, and a stressor only looks at its deadline between
 * iterations. --oom-avoid keeps the growing stressors (bigheap, brk, env,
 * malloc, stack) below the OOM killer, so the run stays about the kernel
 * paths and not about OOM restarts.
 */
export const STRESS_ARGS: readonly string[] = [
  '--oom-avoid',
  '--vm-bytes', '16M',
  '--mmap-bytes', '8M',
  '--mremap-bytes', '8M',
  '--msync-bytes', '8M',
  '--pagemove-bytes', '8M',
  '--shm-bytes', '8M',
  '--shm-sysv-bytes', '8M',
  '--malloc-bytes', '1M',
  '--vm-rw-bytes', '8M',
  '--vm-splice-bytes', '64K',
];

export interface SoakSettings {
  /** The tools the guest runs, in order (run-soak --list). */
  tools: readonly SoakTool[];
  /** Seconds of stress-ng and of trinity. */
  stressSeconds: number;
  trinitySeconds: number;
  /** Trinity's random seed (printed, to repeat a run). */
  seed: number;
  stressors: readonly string[];
  stressArgs: readonly string[];
  trinityChildren: number;
  trinityArgs: readonly string[];
  /**
   * Seconds after a tool's deadline signal before what is left of it is
   * SIGKILLed and reported as a hang. Generous: a stressor looks at its
   * deadline only between iterations, and under TCG with 30 stressors
   * inside views the last of them took 304 s after the signal to end
   * (stress-ng: "successful run completed in 433.88s" of a 130 s deadline).
   */
  grace: number;
  /**
   * Run the tools inside views (the soak) or, for a control run on the same
   * kernel, outside any view: tells what the views add to a tool's time.
   */
  views: boolean;
}

/**
 * Trinity's options besides -g vm, the seed and the children: x86_64 guests
 * have no IA32 emulation, so only the 64-bit table; and no fd providers but
 * the test files and memfds (the vm calls map those): setting up the others
 * (sockets of every protocol, perf, ...) takes trinity minutes under TCG
 * before it makes its first call (pure).
 */
export function trinityArchArgs(arch: ArchName): string[] {
  return [...(arch === 'x86_64' ? ['-a', '64'] : []), '--disable-fds=sockets,pipes,perf,epoll,eventfd,pseudo,timerfd,drm'];
}

export function defaultSettings(arch: ArchName, stressSeconds: number, trinitySeconds: number, seed: number): SoakSettings {
  return {
    tools: SOAK_TOOLS,
    stressSeconds,
    trinitySeconds,
    seed,
    stressors: VM_STRESSORS,
    stressArgs: STRESS_ARGS,
    trinityChildren: 4,
    trinityArgs: trinityArchArgs(arch),
    grace: 600,
    views: true,
  };
}

/** The seconds of each tool for `--minutes N`: half each, at least 30 s (pure). */
export function splitMinutes(minutes: number): { stressSeconds: number; trinitySeconds: number } {
  const total = Math.max(60, Math.round(minutes * 60));
  const stressSeconds = Math.round(total / 2);
  return { stressSeconds, trinitySeconds: total - stressSeconds };
}

const WORD = /^[A-Za-z0-9_.,:=+\/-]*$/;

/** /etc/mmview/soak.env: shell assignments for run-soak.sh (pure). */
export function renderSoakEnv(s: SoakSettings): string {
  const vars: Array<[string, string]> = [
    ['SOAK_TOOLS', s.tools.join(' ')],
    ['SOAK_STRESS_SECONDS', String(s.stressSeconds)],
    ['SOAK_TRINITY_SECONDS', String(s.trinitySeconds)],
    ['SOAK_TRINITY_SEED', String(s.seed)],
    ['SOAK_STRESSORS', s.stressors.join(',')],
    ['SOAK_STRESS_ARGS', s.stressArgs.join(' ')],
    ['SOAK_TRINITY_CHILDREN', String(s.trinityChildren)],
    ['SOAK_TRINITY_ARGS', s.trinityArgs.join(' ')],
    ['SOAK_GRACE', String(s.grace)],
    ['SOAK_PRELOAD', SOAK_PRELOAD],
    ['SOAK_VIEWS', s.views ? 'on' : 'off'],
  ];
  for (const [name, value] of vars) {
    if (!value.split(' ').every((w) => WORD.test(w))) throw new Error(`soak setting ${name}=${value}: not a plain value`);
  }
  return `# generated by tooling/src/soak/config.ts\n${vars.map(([n, v]) => `${n}='${v}'`).join('\n')}\n`;
}

/** Guest seconds a soak needs at most: both tools, their grace periods and start-up (pure). */
export function soakBudgetSeconds(s: SoakSettings): number {
  return s.stressSeconds + 10 + s.grace + 30 + s.trinitySeconds + s.grace + 30 + 60;
}
