/**
 * One mm selftest pair's console section (MMVIEW-BEGIN mm/<program> ...
 * MMVIEW-END) as a result row: the runner's sub-markers split it into the
 * normal run and the run inside views, which are compared case by case; the
 * allowlist decides which differences fail the row (pure).
 *
 * Row counts: passed = cases with the same outcome in both runs, failed =
 * differences not in the allowlist (and runs that did not finish, or a normal
 * run without any case), skipped = differences the allowlist accepts.
 */
import type { ProgramRun } from '../results/markers.ts';
import type { ProgramResult } from '../results/tap.ts';
import { archMatches, findAllowance, type Allowance } from './allowlist.ts';
import { compareRuns, describeEnd, formatDifference, parseKsftCases, type CaseDifference, type RunEnd, type SubRun } from './compare.ts';
import { MM_PREFIX } from './programs.ts';

export type Mode = 'normal' | 'inview';

interface RawRun {
  lines: string[];
  end: RunEnd | undefined;
  ms: number;
}

const RUN_MARK = /# MMVIEW-MM-RUN (\S+) (normal|inview)\s*$/;
const STATUS_MARK = /# MMVIEW-MM-STATUS (\S+) (normal|inview) (exit:\d+|signal:\d+|timeout) (\d+)\s*$/;
const OUTPUT = /^# (normal|inview)\| ?(.*)$/;

function parseEnd(text: string): RunEnd {
  if (text === 'timeout') return { kind: 'timeout' };
  const [kind, n] = text.split(':');
  return kind === 'signal' ? { kind: 'signal', signal: Number(n) } : { kind: 'exit', code: Number(n) };
}

/** The program's output lines and end of each run in a section (pure). */
export function splitRuns(lines: readonly string[]): Partial<Record<Mode, RawRun>> {
  const runs: Partial<Record<Mode, RawRun>> = {};
  for (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    const begin = RUN_MARK.exec(line);
    if (begin) {
      runs[begin[2] as Mode] = { lines: [], end: undefined, ms: 0 };
      continue;
    }
    const status = STATUS_MARK.exec(line);
    if (status) {
      const r = runs[status[2] as Mode];
      if (r) {
        r.end = parseEnd(status[3] as string);
        r.ms = Number(status[4]);
      }
      continue;
    }
    const out = OUTPUT.exec(line);
    if (out) runs[out[1] as Mode]?.lines.push(out[2] as string);
  }
  return runs;
}

export interface MmEvaluation {
  result: ProgramResult;
  /** Differences the allowlist accepted, with the entry that did. */
  allowed: { difference: CaseDifference; by: Allowance }[];
  /** Differences that fail the row. */
  unexpected: CaseDifference[];
  /** Milliseconds of each run, when it finished. */
  ms: Partial<Record<Mode, number>>;
}

/** Evaluate one mm/<program> section for the row label `arch` (x86_64, arm64/max, ...). */
export function evaluateMmSelftest(run: ProgramRun, allowlist: readonly Allowance[], arch: string, timeoutSeconds?: number): MmEvaluation {
  const program = run.name.startsWith(MM_PREFIX) ? run.name.slice(MM_PREFIX.length) : run.name;
  const result: ProgramResult = { name: run.name, passed: 0, failed: 0, skipped: 0, status: run.status, problems: [], failures: [] };
  const ev: MmEvaluation = { result, allowed: [], unexpected: [], ms: {} };
  const problem = (text: string): MmEvaluation => {
    result.failed++;
    result.problems.push(`${run.name}: ${text}`);
    return ev;
  };
  if (run.status === undefined) return problem('did not finish (no MMVIEW-END: guest crashed, hung or the VM timed out)');
  if (run.timedOut) return problem(`the pair was killed by the per-program timeout${timeoutSeconds ? ` (${timeoutSeconds} s)` : ''}`);
  const raw = splitRuns(run.lines);
  const finished = (mode: Mode): SubRun | undefined => {
    const r = raw[mode];
    if (!r?.end) return undefined;
    ev.ms[mode] = r.ms;
    return { cases: parseKsftCases(r.lines), end: r.end, ms: r.ms };
  };
  const unfinished = (what: string): MmEvaluation => problem(`the ${what} did not finish (runner exited with status ${run.status})`);
  const normal = finished('normal');
  if (!normal) return unfinished('normal run');
  const inview = finished('inview');
  if (!inview) return unfinished('run inside views');
  const cmp = compareRuns(normal, inview);
  result.passed = cmp.same;
  for (const d of cmp.differences) {
    const by = findAllowance(allowlist, program, d, arch);
    if (by) {
      ev.allowed.push({ difference: d, by });
      result.skipped++;
    } else {
      ev.unexpected.push(d);
      result.failed++;
      result.failures.push(`${run.name}: ${formatDifference(d)}`);
    }
  }
  // A normal run without a single case compares nothing: never a silent pass.
  if (normal.cases.size === 0) return problem(`the normal run reported no test case (${describeEnd(normal.end)}): nothing to compare`);
  return ev;
}

/** Allowlist entries (not intermittent) for this arch and these programs that matched no difference: stale, worth a warning (pure). */
export function unusedAllowances(allowlist: readonly Allowance[], evaluations: readonly MmEvaluation[], arch: string): Allowance[] {
  const ran = new Set(evaluations.filter((e) => e.ms.normal !== undefined && e.ms.inview !== undefined).map((e) => e.result.name.slice(MM_PREFIX.length)));
  const used = new Set(evaluations.flatMap((e) => e.allowed.map((a) => a.by)));
  return allowlist.filter((a) => !a.intermittent && ran.has(a.program) && archMatches(a.arches, arch) && !used.has(a));
}

/** The accepted differences of one evaluation by the entry that accepted them, in file order (pure). */
export function groupAllowed(ev: MmEvaluation): Map<Allowance, CaseDifference[]> {
  const out = new Map<Allowance, CaseDifference[]>();
  for (const { difference, by } of [...ev.allowed].sort((a, b) => a.by.line - b.by.line)) out.set(by, [...(out.get(by) ?? []), difference]);
  return out;
}
