/**
 * build/bench/results.json: the environment, every kernel's raw benchmark
 * documents and the computed figures. Re-rendering reads it back and
 * recomputes the figures from the raw documents.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.ts';
import type { HostInfo } from './environment.ts';
import { KERNEL_KEYS, type FigureResult, type KernelDocs, type KernelKey } from './figures.ts';
import { validateBenchDoc, type BenchDoc } from './schema.ts';
import type { Stats } from './stats.ts';

export const RESULTS_SCHEMA = 'mmview-bench-results/1';

export interface Environment {
  date: string;
  accel: 'kvm' | 'tcg';
  /** Why KVM was not used (or "KVM usable"). */
  accelReason: string;
  vcpus: number;
  memory: string;
  host: HostInfo;
  /** Host load averages after the runs (the start is in host.loadavg). */
  loadavgEnd: number[];
  qemu: string;
  size: 'tiny' | 'default';
  /** --reps given: every program ran this many repetitions; undefined: each program's default. */
  reps?: number;
  /** Boots per kernel, alternating between the kernels; samples are pooled over them. */
  rounds: number;
}

export interface ProgramOutcome {
  program: string;
  ok: boolean;
  problems: string[];
  seconds?: number;
}

export interface KernelInfo {
  key: KernelKey;
  description: string;
  image: string;
  /** uname -r and -v in the guest (from the documents). */
  release?: string;
  version?: string;
}

/** One boot of one kernel running every benchmark program. */
export interface BootRun {
  kernel: KernelKey;
  /** 1-based. */
  round: number;
  programs: ProgramOutcome[];
  /** Kernel splats seen on the console (one line each). */
  splats: string[];
  consoleLog: string;
  seconds: number;
  /** Host load averages (1/5/15 min) before and after the boot. */
  loadavgBefore: number[];
  loadavgAfter: number[];
  /** The JSON documents as printed by the guest programs. */
  raw: unknown[];
}

export interface FigureRecord {
  key: string;
  group: string;
  label: string;
  format: string;
  target?: number;
  ratio?: number;
  lo?: number;
  hi?: number;
  num?: Stats & { unit: string };
  den?: Stats & { unit: string };
  verdict: string;
  clear: boolean;
  reason?: string;
  note?: string;
}

export interface BenchResults {
  schema: typeof RESULTS_SCHEMA;
  environment: Environment;
  kernels: KernelInfo[];
  boots: BootRun[];
  figures: FigureRecord[];
}

export function figureRecord(f: FigureResult): FigureRecord {
  const { def } = f;
  return {
    key: def.key,
    group: def.group,
    label: def.label,
    format: def.format,
    target: def.target,
    ratio: f.ratio?.value,
    lo: f.ratio?.lo,
    hi: f.ratio?.hi,
    num: f.num && { ...f.num.stats, unit: f.num.unit },
    den: f.den && { ...f.den.stats, unit: f.den.unit },
    verdict: f.verdict,
    clear: f.clear,
    reason: f.reason,
    note: def.note,
  };
}

/** The validated documents of every kernel, over all boots (invalid ones are left out). */
export function docsOf(boots: readonly BootRun[]): KernelDocs {
  const out: Partial<Record<KernelKey, BenchDoc[]>> = {};
  for (const b of boots) {
    const docs = (out[b.kernel] ??= []);
    for (const raw of b.raw) {
      const v = validateBenchDoc(raw);
      if (v.ok) docs.push(v.doc);
    }
  }
  return out;
}

/** Read a results.json written earlier (shape checked loosely: it is our own file). */
export function readResults(file: string): BenchResults {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const r = value as Partial<BenchResults> | null;
  if (!r || r.schema !== RESULTS_SCHEMA || !Array.isArray(r.kernels) || !Array.isArray(r.boots) || !r.environment) {
    throw new UserError(`${file} is not a benchmark results file (schema ${RESULTS_SCHEMA})`);
  }
  for (const b of r.boots) {
    if (!KERNEL_KEYS.includes(b.kernel) || !Array.isArray(b.raw)) throw new UserError(`${file}: malformed boot entry`);
  }
  return r as BenchResults;
}
