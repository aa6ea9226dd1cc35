import type { ArchSpec } from '../arch.ts';

export type GuestMode = 'test' | 'bench' | 'soak' | 'run' | 'shell';

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
  /** Terminal size for the interactive guest shell. */
  rows?: number;
  cols?: number;
}

/** The kernel command line (pure). */
export function kernelCmdline(req: QemuRequest): string {
  const parts = [`console=${req.arch.console}`, ...req.arch.kernelArgs, 'panic=-1', `mmview.mode=${req.mode}`];
  if ((req.mode === 'test' || req.mode === 'bench' || req.mode === 'soak') && req.testTimeout) parts.push(`mmview.test_timeout=${req.testTimeout}`);
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

/** QEMU arguments (pure). */
export function qemuArgs(req: QemuRequest): string[] {
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-m',
    req.memory ?? '2G',
    '-smp',
    String(req.smp ?? 4),
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
