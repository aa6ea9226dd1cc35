/** A benchmark program's smoke run in the test suite: one row, passed when its output is well-formed. */
import { checkBenchRun, type BenchExpect } from '../bench/check.ts';
import type { ProgramRun } from './markers.ts';
import { oneRowResult, type ProgramResult } from './tap.ts';

export function evaluateBenchProgram(run: ProgramRun, expect: BenchExpect, timeoutSeconds?: number): ProgramResult {
  const check = checkBenchRun(run, expect, timeoutSeconds);
  const problems = check.problems.length === 0 ? [] : [`${run.name}: ${check.problems.join('; ')}`];
  return oneRowResult(run.name, run.status, problems);
}
