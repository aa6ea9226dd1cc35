import { Parser, type FinalResults } from 'tap-parser';
import type { ProgramRun } from './markers.ts';

export interface TapCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Number of tests the plan announced; undefined without a plan line. */
  planned: number | undefined;
  /** Test points seen. */
  ran: number;
  /** Names of the failed test points. */
  failures: string[];
  bailout: string | undefined;
  /** Skipped test points, with the reason after "# SKIP"; a plan "1..0 # SKIP" is one named "*". */
  skips: SkippedTest[];
}

export interface SkippedTest {
  name: string;
  reason: string;
}

/** Parse TAP (kselftest harness output) with tap-parser (pure, synchronous). */
export function parseTap(lines: readonly string[]): TapCounts {
  let results: FinalResults | undefined;
  const parser = new Parser((r) => {
    results = r;
  });
  const skips: SkippedTest[] = [];
  // TODO points count as skipped too: they need an entry as much.
  parser.on('assert', (point: { name?: unknown; skip?: unknown; todo?: unknown }) => {
    const directive = point.skip !== undefined && point.skip !== false ? point.skip : point.todo;
    if (directive === undefined || directive === false) return;
    skips.push({ name: typeof point.name === 'string' ? point.name : '?', reason: typeof directive === 'string' ? directive : '' });
  });
  parser.end(lines.map((l) => `${l}\n`).join(''));
  const r = results;
  if (!r) throw new Error('tap-parser did not complete');
  const hasPlan = !parser.syntheticPlan && parser.planEnd >= 0 && !(r.plan.comment === 'no tests found' && r.count === 0);
  const failures = r.failures
    .filter((f) => !('tapError' in f && f.tapError))
    .map((f) => ('name' in f && typeof f.name === 'string' ? f.name : '?'));
  const skipAll = hasPlan && r.plan.skipAll && r.count === 0;
  if (skipAll) skips.push({ name: '*', reason: (r.plan.skipReason ?? '').replace(/^SKIP\s*/i, '') });
  return {
    passed: Math.max(0, r.pass - r.skip - r.todo),
    failed: failures.length,
    skipped: r.skip + r.todo + (skipAll ? 1 : 0),
    planned: hasPlan ? (r.plan.end ?? 0) - (r.plan.start ?? 1) + 1 : undefined,
    ran: r.count,
    failures,
    bailout: typeof r.bailout === 'string' ? r.bailout : r.bailout ? 'bail out' : undefined,
    skips,
  };
}

export interface ProgramResult {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
  status: number | undefined;
  /** One line per reason the program failed (besides failed test points). */
  problems: string[];
  failures: string[];
  /** The skipped test points of a TAP program (see results/skips.ts). */
  skips?: SkippedTest[];
}

/** A program judged as a whole (benchmark smoke run, soak tool): one row, passed without problems (pure). */
export function oneRowResult(name: string, status: number | undefined, problems: string[]): ProgramResult {
  const ok = problems.length === 0;
  return { name, passed: ok ? 1 : 0, failed: ok ? 0 : 1, skipped: 0, status, problems, failures: [] };
}

const KSFT_SKIP = 4;

function describeStatus(status: number): string {
  return status > 128 ? `was killed by signal ${status - 128}` : `exited with status ${status}`;
}

/** Turn one program's console section into counts (pure). */
export function evaluateProgram(run: ProgramRun, timeoutSeconds?: number): ProgramResult {
  const tap = parseTap(run.lines);
  const res: ProgramResult = {
    name: run.name,
    passed: tap.passed,
    failed: tap.failed,
    skipped: tap.skipped,
    status: run.status,
    problems: [],
    failures: tap.failures.map((f) => `${run.name}: ${f}`),
    skips: tap.skips,
  };
  const problem = (text: string): void => {
    res.failed++;
    res.problems.push(`${run.name}: ${text}`);
  };
  if (run.status === undefined) {
    problem('did not finish (no MMVIEW-END: guest crashed, hung or the VM timed out)');
    return res;
  }
  if (run.timedOut) {
    problem(`killed by the per-program timeout${timeoutSeconds ? ` (${timeoutSeconds} s)` : ''}`);
    return res;
  }
  const reasons: string[] = [];
  if (tap.bailout) reasons.push(`bailed out: ${tap.bailout}`);
  const noTap = tap.planned === undefined && tap.ran === 0;
  if (noTap) {
    if (run.status === 0) res.passed++;
    else problem(describeStatus(run.status));
    return res;
  }
  // kselftest's ksft_exit_skip() exits with KSFT_SKIP (4) when everything was skipped.
  const skippedAll = run.status === KSFT_SKIP && tap.failed === 0 && tap.passed === 0 && tap.skipped > 0;
  const badStatus = run.status !== 0 && !skippedAll;
  if (tap.planned !== undefined && tap.ran < tap.planned) reasons.push(`plan announced ${tap.planned} tests but only ${tap.ran} ran`);
  else if (tap.planned === undefined) reasons.push(`printed ${tap.ran} test results without a TAP plan`);
  // A failed exit status is explained by failed test points; otherwise it is a failure of its own.
  if (badStatus && (tap.failed === 0 || reasons.length > 0)) reasons.unshift(describeStatus(run.status));
  if (reasons.length > 0) problem(reasons.join('; '));
  return res;
}
