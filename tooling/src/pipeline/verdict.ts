/**
 * How `test` judges each program a boot ran, by kind: benchmark programs print
 * one JSON document (checked for form only), soak tools are judged as a
 * whole, mm selftest pairs are compared case by case with their allowlist,
 * and the test programs print TAP whose skips need an entry in
 * tests/guest/c/allowed-skips.txt. Its own module so that a test can hold
 * the wiring, not only the pure judges, to those rules.
 */
import { isBenchRunName } from '../bench/check.ts';
import { evaluateBenchProgram } from '../results/bench.ts';
import type { ProgramRun } from '../results/markers.ts';
import { judgeSkips, type SkipAllowance } from '../results/skips.ts';
import { evaluateProgram, type ProgramResult } from '../results/tap.ts';
import type { Allowance } from '../mmselftests/allowlist.ts';
import { evaluateMmSelftest, type MmEvaluation } from '../mmselftests/evaluate.ts';
import { isMmRunName } from '../mmselftests/programs.ts';
import { isSoakRunName } from '../soak/config.ts';
import { evaluateSoakProgram } from '../soak/evaluate.ts';

export interface VerdictRules {
  /** The row label: x86_64, arm64/max, ... (what the allowlists' arch fields match). */
  label: string;
  /** Seconds per guest program. */
  testTimeout: number;
  /** tests/guest/mm-selftests/allowed-differences.txt */
  allowlist: readonly Allowance[];
  /** tests/guest/c/allowed-skips.txt */
  skipList: readonly SkipAllowance[];
}

export interface ProgramJudge {
  evaluate: (p: ProgramRun) => ProgramResult;
  /** The mm selftest comparisons evaluate made, by run name (for reporting the allowlist's use). */
  mmEvaluations: Map<string, MmEvaluation>;
}

export function programJudge(rules: VerdictRules): ProgramJudge {
  const mmEvaluations = new Map<string, MmEvaluation>();
  const evaluate = (p: ProgramRun): ProgramResult => {
    if (isBenchRunName(p.name)) return evaluateBenchProgram(p, { size: 'tiny', mmview: true }, rules.testTimeout);
    if (isSoakRunName(p.name)) return evaluateSoakProgram(p, rules.testTimeout);
    if (isMmRunName(p.name)) {
      const ev = evaluateMmSelftest(p, rules.allowlist, rules.label, rules.testTimeout);
      mmEvaluations.set(p.name, ev);
      return ev.result;
    }
    // A skipped test point fails the run unless allowed-skips.txt lists it.
    return judgeSkips(evaluateProgram(p, rules.testTimeout), rules.skipList, rules.label);
  };
  return { evaluate, mmEvaluations };
}
