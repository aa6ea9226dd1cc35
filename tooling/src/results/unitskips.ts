/**
 * tooling/test/allowed-skips.txt: every host unit test that may skip, per
 * host architecture, with the reason; the sibling of the guest tests'
 * tests/guest/c/allowed-skips.txt (results/skips.ts). A host unit test that
 * skips without an entry fails `./mmview test`: a skipped test checked
 * nothing, and a green run must not hide that.
 *
 *   <test file> | <test> | <host arch> | <reason>
 *
 * test: the name node's test runner reports (a subtest by its own name), a
 * pattern with * and ? wildcards, or '*'. host arch: '*' or a comma-separated
 * list of x86_64, arm64. The test file names where the test is, for the
 * reader and for unit.test.ts's check of the list: node's TAP output does
 * not name the file, so matching uses the test's name alone.
 */
import { archMatches, globMatches } from '../mmselftests/allowlist.ts';
import { parseListRows, readTextIfPresent } from '../util/listfile.ts';
import type { SkippedTest } from './tap.ts';

/** The file, next to the host unit tests (tooling/test). */
export const UNIT_SKIPS_FILE = 'allowed-skips.txt';
export const UNIT_SKIPS_PATH = `tooling/test/${UNIT_SKIPS_FILE}`;

export interface UnitSkipAllowance {
  file: string;
  test: string;
  arches: string[];
  reason: string;
  /** 1-based line in the file, for messages. */
  line: number;
}

/** Parse the file's text; throws with the line number on malformed lines (pure). */
export function parseUnitSkipList(text: string, file = UNIT_SKIPS_FILE): UnitSkipAllowance[] {
  return parseListRows(text, file, '<test file> | <test> | <host arch> | <reason>').map(({ fields: [testFile, test, arch], reason, line }) => ({
    file: testFile,
    test,
    arches: arch.split(',').map((a) => a.trim()).filter(Boolean),
    reason,
    line,
  }));
}

/** The file's entries; a missing file allows no skip. */
export function readUnitSkipList(file: string): UnitSkipAllowance[] {
  const text = readTextIfPresent(file);
  return text === undefined ? [] : parseUnitSkipList(text, file);
}

export interface UnitCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * The counts with every skip that has no entry for this host arch moved from
 * skipped to failed, and one problem line for each (pure).
 */
export function judgeUnitSkips(
  counts: UnitCounts,
  skips: readonly SkippedTest[],
  list: readonly UnitSkipAllowance[],
  hostArch: string,
): { counts: UnitCounts; problems: string[] } {
  const allowed = (s: SkippedTest): boolean =>
    list.some((a) => archMatches(a.arches, hostArch) && (a.test === '*' || a.test === s.name || globMatches(a.test, s.name)));
  const unlisted = skips.filter((s) => !allowed(s));
  return {
    counts: { passed: counts.passed, failed: counts.failed + unlisted.length, skipped: Math.max(0, counts.skipped - unlisted.length) },
    problems: unlisted.map((s) => `host unit test "${s.name}" skipped${s.reason ? ` (${s.reason})` : ''}, and ${UNIT_SKIPS_PATH} has no entry for it on ${hostArch}`),
  };
}
