/** A benchmark program's smoke run in the test suite: one row, passed when its output is well-formed. */
import { checkBenchRun, type BenchExpect } from '../bench/check.ts';
import type { ProgramRun } from './markers.ts';
import type { ProgramResult } from './tap.ts';

export function evaluateBenchProgram(run: ProgramRun, expect: BenchExpect, timeoutSeconds?: number): ProgramResult {
  const check = checkBenchRun(run, expect, timeoutSeconds);
  const ok = check.problems.length === 0;
  return {
    name: run.name,
    passed: ok ? 1 : 0,
    failed: ok ? 0 : 1,
    skipped: 0,
    status: run.status,
    problems: ok ? [] : [`${run.name}: ${check.problems.join('; ')}`],
    failures: [],
  };
}
