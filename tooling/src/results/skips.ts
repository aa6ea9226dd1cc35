/**
 * tests/guest/c/allowed-skips.txt: every test point a guest test program may
 * skip, per architecture, with the reason. A skip not listed there fails the
 * run: a test that silently stops running (a config option gone, a missing
 * device) must not pass as green.
 *
 *   <program> | <test> | <arch> | <reason>
 *
 * test: the test point's name as reported ("fixture.case" of the kselftest
 * harness), a pattern with * and ? wildcards, or '*' (also a program that
 * skipped everything with "1..0 # SKIP"). arch: '*', or a comma-separated
 * list of x86_64, arm64 (both CPU models), arm64/cortex-a57, arm64/max.
 */
import { archMatches, globMatches } from '../mmselftests/allowlist.ts';
import { parseListRows, readTextIfPresent } from '../util/listfile.ts';
import type { ProgramResult, SkippedTest } from './tap.ts';

/** The file, next to the guest test programs (tests/guest/c). */
export const SKIPS_FILE = 'allowed-skips.txt';
export const SKIPS_PATH = `tests/guest/c/${SKIPS_FILE}`;

export interface SkipAllowance {
  program: string;
  test: string;
  arches: string[];
  reason: string;
  /** 1-based line in the file, for messages. */
  line: number;
}

/** Parse the file's text; throws with the line number on malformed lines (pure). */
export function parseSkipList(text: string, file = SKIPS_FILE): SkipAllowance[] {
  return parseListRows(text, file, '<program> | <test> | <arch> | <reason>').map(({ fields: [program, test, arch], reason, line }) => ({
    program,
    test,
    arches: arch.split(',').map((a) => a.trim()).filter(Boolean),
    reason,
    line,
  }));
}

/** The file's entries; a missing file allows no skip. */
export function readSkipList(file: string): SkipAllowance[] {
  const text = readTextIfPresent(file);
  return text === undefined ? [] : parseSkipList(text, file);
}

/** The entry that allows this skip of this program on this arch, if any (pure). */
export function findSkipAllowance(list: readonly SkipAllowance[], program: string, skip: SkippedTest, arch: string): SkipAllowance | undefined {
  return list.find((a) => a.program === program && archMatches(a.arches, arch) && (a.test === '*' || a.test === skip.name || globMatches(a.test, skip.name)));
}

/**
 * A program's result with every skip that has no entry counted as a failure
 * (pure). arch is the row label (x86_64, arm64/max, ...).
 */
export function judgeSkips(result: ProgramResult, list: readonly SkipAllowance[], arch: string): ProgramResult {
  const unlisted = (result.skips ?? []).filter((s) => !findSkipAllowance(list, result.name, s, arch));
  if (unlisted.length === 0) return result;
  return {
    ...result,
    skipped: Math.max(0, result.skipped - unlisted.length),
    failed: result.failed + unlisted.length,
    problems: [
      ...result.problems,
      ...unlisted.map(
        (s) => `${result.name}: ${s.name === '*' ? 'skipped everything' : `${s.name} skipped`}${s.reason ? ` (${s.reason})` : ''}, and ${SKIPS_PATH} has no entry for it on ${arch}`,
      ),
    ],
  };
}
