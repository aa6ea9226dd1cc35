/** One kernel's benchmark boot: program runs from the console -> outcomes and documents (pure). */
import type { ProgramRun } from '../results/markers.ts';
import { benchRunName, checkBenchRun, type BenchExpect } from './check.ts';
import type { ProgramOutcome } from './results.ts';

export interface CollectedRuns {
  programs: ProgramOutcome[];
  /** The JSON documents as printed, of the programs whose output is usable. */
  raw: unknown[];
  /** uname -r and -v from the first document. */
  release?: string;
  version?: string;
}

/**
 * Check every expected program's run (`bench/<program>` on the console).
 * A program whose document is valid but reports problems (a failed case, a
 * bad exit status) still contributes its document: its other cases count.
 */
export function collectBenchRuns(
  runs: readonly ProgramRun[],
  expected: readonly string[],
  expect: BenchExpect,
  seconds: ReadonlyMap<string, number> = new Map(),
  timeoutSeconds?: number,
): CollectedRuns {
  const out: CollectedRuns = { programs: [], raw: [] };
  for (const program of expected) {
    const run = runs.find((r) => r.name === benchRunName(program));
    if (!run) {
      out.programs.push({ program, ok: false, problems: ['did not run (the guest stopped before it)'] });
      continue;
    }
    const check = checkBenchRun(run, expect, timeoutSeconds);
    out.programs.push({ program, ok: check.problems.length === 0, problems: check.problems, seconds: seconds.get(program) });
    if (check.doc) {
      out.raw.push(check.raw);
      out.release ??= check.doc.system.release;
      out.version ??= check.doc.system.version;
    }
  }
  return out;
}
