/** The host side of the benchmark environment (CPU, memory, load, QEMU). */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { capture } from '../util/exec.ts';

export interface HostInfo {
  cpuModel: string;
  cpus: number;
  memGib: number;
  kernel: string;
  /** 1, 5 and 15 minute load averages. */
  loadavg: number[];
}

/** The first `model name` of /proc/cpuinfo (pure). */
export function parseCpuModel(cpuinfo: string): string | undefined {
  const m = /^model name\s*:\s*(.+)$/m.exec(cpuinfo);
  return m?.[1]?.trim();
}

export function hostInfo(): HostInfo {
  let model: string | undefined;
  try {
    model = parseCpuModel(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    /* not Linux */
  }
  const list = cpus();
  return {
    cpuModel: model ?? list[0]?.model ?? 'unknown',
    cpus: list.length,
    memGib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** `QEMU emulator version 7.2.x` -> "7.2.x" (pure). */
export function parseQemuVersion(out: string): string | undefined {
  return /version\s+(\S+)/.exec(out)?.[1];
}

export async function qemuVersion(qemu: string): Promise<string> {
  const r = await capture(qemu, ['--version']);
  return parseQemuVersion(r.stdout) ?? 'unknown';
}
