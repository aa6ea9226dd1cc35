import type { ArchSpec } from '../arch.ts';

export type GuestMode = 'test' | 'bench' | 'soak' | 'run' | 'shell';

/** The parts of a test boot: test programs, the kernel's mm selftests, the benchmark smoke run, the soak. */
export type TestPart = 'tests' | 'mm' | 'bench' | 'soak';
export const ALL_TEST_PARTS: readonly TestPart[] = ['tests', 'mm', 'bench', 'soak'];

export interface QemuRequest {
  arch: ArchSpec;
  kernel: string;
  initrd: string;
  kvm: boolean;
  mode: GuestMode;
  memory?: string;
  smp?: number;
  /** -cpu model under TCG (default max; KVM always uses host). */
  cpu?: string;
  /** Environment of the guest programs (mmview.env=NAME=VALUE on the command line). */
  env?: Readonly<Record<string, string>>;
  /** Interactive: the console is the user's terminal (stdio inherited). */
  interactive: boolean;
  /** Interactive only: QEMU writes the console to this file too. */
  consoleLog?: string;
  /** Per-program timeout in test and bench mode, seconds. */
  testTimeout?: number;
  /** Test mode: the parts this boot runs (unset: all; mmview.parts=). */
  testParts?: readonly TestPart[];
  /** NUMA nodes of the guest (memory split evenly, vCPUs in order); 1 or unset: none. */
  numaNodes?: number;
  /** Terminal size for the interactive guest shell. */
  rows?: number;
  cols?: number;
}

/** The kernel command line (pure). */
export function kernelCmdline(req: QemuRequest): string {
  const parts = [`console=${req.arch.console}`, ...req.arch.kernelArgs, 'panic=-1', `mmview.mode=${req.mode}`];
  if ((req.mode === 'test' || req.mode === 'bench' || req.mode === 'soak') && req.testTimeout) parts.push(`mmview.test_timeout=${req.testTimeout}`);
  if (req.mode === 'test' && req.testParts !== undefined && ALL_TEST_PARTS.some((p) => !req.testParts?.includes(p))) {
    parts.push(`mmview.parts=${req.testParts.join(',')}`);
  }
  for (const [name, value] of Object.entries(req.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || !/^[A-Za-z0-9_.,:+-]*$/.test(value)) {
      throw new Error(`guest environment ${name}=${value}: not a plain name and value`);
    }
    parts.push(`mmview.env=${name}=${value}`);
  }
  if (req.interactive) {
    parts.push('mmview.interactive=1');
    if (req.rows && req.cols) parts.push(`mmview.rows=${req.rows}`, `mmview.cols=${req.cols}`);
  }
  return parts.join(' ');
}

/** Escape a value for a QEMU option list (commas are doubled). */
function optValue(v: string): string {
  return v.replace(/,/g, ',,');
}

/** A QEMU memory size ("2G", "1536M", "2048") in MiB; throws on anything else (pure). */
export function memoryMiB(size: string): number {
  const m = /^(\d+)([MG]?)$/i.exec(size.trim());
  if (!m) throw new Error(`guest memory ${size}: not a size such as 2G or 1536M`);
  const n = Number(m[1]) * (m[2]?.toUpperCase() === 'G' ? 1024 : 1);
  if (n <= 0) throw new Error(`guest memory ${size}: must be more than zero`);
  return n;
}

/**
 * The -smp value and the -object/-numa arguments for @nodes NUMA nodes: the
 * memory in equal parts (the last node takes the rest). The vCPUs go in
 * equal blocks, one socket per node, so that no cache is shared across
 * nodes (x86 warns at boot about an LLC that spans nodes); a vCPU count
 * the nodes do not divide stays on node 0 and the other nodes are memory
 * only (pure).
 */
export function numaArgs(memory: string, smp: number, nodes: number): { smp: string; args: string[] } {
  if (nodes <= 1) return { smp: String(smp), args: [] };
  const total = memoryMiB(memory);
  if (total < nodes * 64) throw new Error(`guest memory ${memory}: too little for ${nodes} NUMA nodes (64M each at least)`);
  const part = Math.floor(total / nodes);
  const split = smp % nodes === 0;
  const perNode = split ? smp / nodes : smp;
  const args: string[] = [];
  for (let n = 0; n < nodes; n++) {
    const size = n === nodes - 1 ? total - part * (nodes - 1) : part;
    const first = n * perNode;
    const cpus = first < smp ? `,cpus=${first}-${first + perNode - 1}` : '';
    args.push('-object', `memory-backend-ram,id=ram${n},size=${size}M`, '-numa', `node,nodeid=${n}${cpus},memdev=ram${n}`);
  }
  return { smp: split ? `${smp},sockets=${nodes},cores=${perNode},threads=1` : String(smp), args };
}

/** QEMU arguments (pure). */
export function qemuArgs(req: QemuRequest): string[] {
  const numa = numaArgs(req.memory ?? '2G', req.smp ?? 4, req.numaNodes ?? 1);
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-m',
    req.memory ?? '2G',
    '-smp',
    numa.smp,
    ...numa.args,
    ...req.arch.machineArgs,
    ...(req.kvm ? ['-enable-kvm', '-cpu', 'host'] : ['-accel', req.arch.tcgAccel, '-cpu', req.cpu ?? 'max']),
    '-kernel',
    req.kernel,
    '-initrd',
    req.initrd,
    '-append',
    kernelCmdline(req),
  ];
  if (req.interactive) {
    // Ctrl-C goes to the guest; Ctrl-A X quits QEMU.
    const log = req.consoleLog ? `,logfile=${optValue(req.consoleLog)}` : '';
    args.push('-chardev', `stdio,id=con,mux=on,signal=off${log}`, '-serial', 'chardev:con', '-mon', 'chardev=con,mode=readline');
  } else {
    args.push('-serial', 'stdio', '-monitor', 'none');
  }
  return args;
}
