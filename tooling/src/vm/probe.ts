import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname } from 'node:path';
import { lineSplitter, which } from '../util/exec.ts';
import { boundToParent, findSetpriv, killChildOnSignals } from './lifetime.ts';

export interface ProbeResult {
  ok: boolean;
  reason: string;
}

/** A kernel console line: the guest is running. */
const GUEST_LINE = /^\[\s*\d+\.\d+\]|Linux version/;

/**
 * /dev/kvm can open and still not work (nested virtualization: QEMU aborts on
 * an MSR, or the guest never prints). Boot the kernel under KVM until its
 * first console line; anything else means TCG.
 */
export function probeKvm(qemu: string, args: readonly string[], timeoutMs = 30_000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    // The probe is a QEMU like any other: it ends with the tool (parent death, SIGINT/SIGTERM/SIGHUP).
    const bound = boundToParent(qemu, args, findSetpriv());
    const child = spawn(bound.cmd, bound.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const unhook = killChildOnSignals(child);
    let settled = false;
    let lastError = '';
    const finish = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unhook();
      child.kill('SIGKILL');
      resolve(r);
    };
    const onLine = (line: string): void => {
      if (GUEST_LINE.test(line)) finish({ ok: true, reason: 'the guest boots under KVM' });
      // "failed to execute": setpriv's word for a QEMU that is not there (spawn itself succeeded).
      else if (!lastError && /error|Assertion|failed to execute/i.test(line)) lastError = line.replace(/^qemu-system-\w+: (error: )?/, '');
    };
    const out = lineSplitter(onLine);
    const err = lineSplitter(onLine);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => finish({ ok: false, reason: `no guest output within ${timeoutMs / 1000} s under KVM` }), timeoutMs);
    child.on('error', (e) => finish({ ok: false, reason: e.message }));
    child.on('close', (code) => finish({ ok: false, reason: `QEMU with KVM failed${code !== null ? ` (exit ${code})` : ''}${lastError ? `: ${lastError}` : ''}` }));
  });
}

/** What the cached probe result depends on. */
export function probeKey(qemu: string): string {
  const bin = which(qemu);
  const mtime = bin && existsSync(bin) ? statSync(bin).mtimeMs : 0;
  return `${release()}|${cpus()[0]?.model ?? ''}|${bin ?? qemu}|${mtime}`;
}

/** The result of an earlier probe with the same key, if any. */
export function readCachedProbe(cacheFile: string, key: string): ProbeResult | undefined {
  try {
    const data = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key?: unknown; ok?: unknown; reason?: unknown };
    if (data.key === key && typeof data.ok === 'boolean' && typeof data.reason === 'string') return { ok: data.ok, reason: data.reason };
  } catch {
    /* no cache yet */
  }
  return undefined;
}

export async function cachedProbe(cacheFile: string, key: string, probe: () => Promise<ProbeResult>): Promise<ProbeResult & { cached: boolean }> {
  const old = readCachedProbe(cacheFile, key);
  if (old) return { ...old, cached: true };
  const r = await probe();
  mkdirSync(dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, `${JSON.stringify({ key, ...r })}\n`);
  return { ...r, cached: false };
}
