/**
 * Is a benchmark program's run usable: finished, exit status 0, one valid
 * JSON document for the expected program and size, no failed case (pure).
 */
import type { ProgramRun } from '../results/markers.ts';
import { extractBenchDoc } from './extract.ts';
import type { BenchDoc } from './schema.ts';

/** Console marker names of benchmark programs: bench/<program>. */
export const BENCH_PREFIX = 'bench/';

export function benchRunName(program: string): string {
  return `${BENCH_PREFIX}${program}`;
}

export function isBenchRunName(name: string): boolean {
  return name.startsWith(BENCH_PREFIX);
}

export interface BenchExpect {
  size: 'tiny' | 'default';
  /** The kernel has (true) or lacks (false) the mmview system calls; undefined: either. */
  mmview?: boolean;
}

export interface BenchCheck {
  /** The program name without the bench/ prefix. */
  program: string;
  doc?: BenchDoc;
  /** The JSON as printed. */
  raw?: unknown;
  problems: string[];
}

const NO_MMVIEW = /ENOSYS/;

export function checkBenchRun(run: ProgramRun, expect: BenchExpect, timeoutSeconds?: number): BenchCheck {
  const program = run.name.startsWith(BENCH_PREFIX) ? run.name.slice(BENCH_PREFIX.length) : run.name;
  const out: BenchCheck = { program, problems: [] };
  if (run.status === undefined) {
    out.problems.push('did not finish (no MMVIEW-END: guest crashed, hung or the VM timed out)');
    return out;
  }
  if (run.timedOut) {
    out.problems.push(`killed by the per-program timeout${timeoutSeconds ? ` (${timeoutSeconds} s)` : ''}`);
    return out;
  }
  const x = extractBenchDoc(run.lines);
  if (!x.ok) {
    out.problems.push(`malformed output: ${x.errors.slice(0, 3).join('; ')}${x.errors.length > 3 ? ` (+${x.errors.length - 3} more)` : ''}`);
    if (run.status !== 0) out.problems.push(`exited with status ${run.status}`);
    return out;
  }
  const { doc } = x;
  out.doc = doc;
  out.raw = x.raw;
  if (doc.program !== program) out.problems.push(`the document names program ${doc.program}, expected ${program}`);
  if (doc.size !== expect.size) out.problems.push(`the document is of size ${doc.size}, expected ${expect.size}`);
  for (const c of doc.cases) if (c.kind === 'error') out.problems.push(`case ${c.id} ${JSON.stringify(c.params)} failed: ${c.error}`);
  if (run.status !== 0 && doc.errors === 0) out.problems.push(`exited with status ${run.status}`);
  if (expect.mmview !== undefined && doc.system.mmview !== expect.mmview) {
    out.problems.push(expect.mmview ? 'the kernel has no mmview system calls' : 'the kernel has mmview system calls, expected none');
  }
  if (doc.system.mmview) {
    const skipped = doc.cases.filter((c) => c.kind === 'na' && NO_MMVIEW.test(c.reason));
    if (skipped.length > 0) out.problems.push(`${skipped.length} case(s) not run for lack of mmview on a kernel that has it`);
  }
  return out;
}
