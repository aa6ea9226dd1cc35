import { closeSync, openSync } from 'node:fs';
import type { ArchSpec } from '../arch.ts';

export interface KvmStatus {
  usable: boolean;
  reason: string;
}

/** KVM is usable when the guest arch is the host's and /dev/kvm opens read-write. */
export function detectKvm(arch: ArchSpec, hostMachine: string, device = '/dev/kvm'): KvmStatus {
  if (arch.unameMachine !== hostMachine) {
    return { usable: false, reason: `guest ${arch.name} differs from host ${hostMachine}` };
  }
  try {
    const fd = openSync(device, 'r+');
    closeSync(fd);
    return { usable: true, reason: `${device} is usable` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return { usable: false, reason: `${device}: ${code}` };
  }
}
