/**
 * The cases of one kernel mm selftest run and the comparison of a normal run
 * with the run inside views (pure). The guest runner
 * (tests/guest/mm-selftests/run-mm-selftests.c) applies the same rules.
 */

export type CaseOutcome = 'pass' | 'fail' | 'skip' | 'xfail' | 'xpass';

export interface KsftCase {
  /** Test number (kselftest) or position (uffd-unit-tests). */
  num: number;
  /** What the case tests: the last "# [RUN] ..." (or "# [INFO] ...") message before it, else its description, else its directive's message. */
  label: string;
  outcome: CaseOutcome;
}

/** How a run ended. */
export type RunEnd = { kind: 'exit'; code: number } | { kind: 'signal'; signal: number } | { kind: 'timeout' };

export interface SubRun {
  cases: Map<number, KsftCase>;
  end: RunEnd;
  ms: number;
}

export interface CaseDifference {
  /** The test number as text, or 'exit' for a difference in how the runs ended. */
  key: string;
  label: string;
  normal: string;
  inview: string;
}

export interface Comparison {
  /** Cases with the same outcome in both runs. */
  same: number;
  differences: CaseDifference[];
}

const RUN = /^# \[(?:RUN|INFO)\]\s+(.*)$/;
const TAP = /^(not )?ok (\d+)(?:[ \t](.*))?$/;
const UFFD = /^Testing (.*?)\.\.\.\s*(.*)$/;
const UFFD_RESULT = /^(done|skipped|failed)/;

function directiveOutcome(failed: boolean, directive: string): CaseOutcome {
  if (failed) return 'fail';
  if (/SKIP/i.test(directive)) return 'skip';
  if (/XFAIL/i.test(directive)) return 'xfail';
  if (/XPASS/i.test(directive)) return 'xpass';
  return 'pass';
}

/**
 * The cases of one program's output: kselftest TAP ("ok N desc # SKIP why",
 * "not ok N desc"; the label is the last "# [RUN] x" or "# [INFO] x" line
 * before the result, as cow, mkdirty and ksm_functional_tests print them,
 * else the description) and the "Testing X... done|skipped|failed" lines of
 * uffd-unit-tests. Only lines at the start count (nested harness output is
 * prefixed with "#").
 */
export function parseKsftCases(lines: readonly string[]): Map<number, KsftCase> {
  const cases = new Map<number, KsftCase>();
  let runLabel = '';
  let uffdIndex = 0;
  let uffdOpen = false;
  for (const raw of lines) {
    let line = raw.replace(/\r$/, '');
    const run = RUN.exec(line);
    if (run) {
      runLabel = (run[1] ?? '').trim();
      continue;
    }
    const uffd = UFFD.exec(line);
    if (uffd) {
      uffdIndex++;
      runLabel = (uffd[1] ?? '').trim();
      uffdOpen = true;
      line = (uffd[2] ?? '').trim();
      if (line === '') continue;
    }
    if (uffdOpen) {
      const r = UFFD_RESULT.exec(line);
      if (!r) continue;
      const outcome: CaseOutcome = r[1] === 'done' ? 'pass' : r[1] === 'skipped' ? 'skip' : 'fail';
      cases.set(uffdIndex, { num: uffdIndex, label: runLabel, outcome });
      uffdOpen = false;
      runLabel = '';
      continue;
    }
    const tap = TAP.exec(line);
    if (!tap) continue;
    const num = Number(tap[2]);
    let rest = ` ${tap[3] ?? ''}`; // " desc # DIRECTIVE why" or " # DIRECTIVE why"
    // A result message without its newline runs into the next "# [RUN] ..." line.
    const embedded = rest.indexOf('# [RUN] ');
    const nextLabel = embedded >= 0 ? rest.slice(embedded + 8).trim() : '';
    if (embedded >= 0) rest = rest.slice(0, embedded);
    const hash = rest.indexOf(' #');
    const desc = (hash >= 0 ? rest.slice(0, hash) : rest).trim();
    const directive = hash >= 0 ? rest.slice(hash + 2) : '';
    const label = runLabel || desc || directive.trim().replace(/^(SKIP|XFAIL|XPASS)\b\s*/i, '');
    cases.set(num, { num, label, outcome: directiveOutcome(tap[1] !== undefined, directive) });
    runLabel = nextLabel;
  }
  return cases;
}

/** "exit 0", "killed by signal 11", "timed out" (pure). */
export function describeEnd(end: RunEnd): string {
  switch (end.kind) {
    case 'exit':
      return `exit ${end.code}`;
    case 'signal':
      return `killed by signal ${end.signal}`;
    case 'timeout':
      return 'timed out';
  }
}

/** kselftest's pass, fail and skip exit codes: a change between them is explained by the cases. */
function plainExit(end: RunEnd): boolean {
  return end.kind === 'exit' && (end.code === 0 || end.code === 1 || end.code === 4);
}

/**
 * Compare case by case (by test number): every case whose outcome differs,
 * or that only one run reported, is a difference. How the runs ended is a
 * difference of its own ('exit') when they ended differently, unless both
 * exited with a kselftest status (0, 1, 4) and some case differs, which
 * already explains the status.
 */
export function compareRuns(normal: SubRun, inview: SubRun): Comparison {
  const nums = [...new Set([...normal.cases.keys(), ...inview.cases.keys()])].sort((a, b) => a - b);
  const differences: CaseDifference[] = [];
  let same = 0;
  for (const num of nums) {
    const a = normal.cases.get(num);
    const b = inview.cases.get(num);
    if (a && b && a.outcome === b.outcome) {
      same++;
      continue;
    }
    differences.push({ key: String(num), label: (a ?? b)?.label ?? '', normal: a?.outcome ?? 'missing', inview: b?.outcome ?? 'missing' });
  }
  const endA = describeEnd(normal.end);
  const endB = describeEnd(inview.end);
  if (endA !== endB && !(differences.length > 0 && plainExit(normal.end) && plainExit(inview.end))) {
    differences.push({ key: 'exit', label: 'how the program ended', normal: endA, inview: endB });
  }
  return { same, differences };
}

/** One line for a difference: `case 12 (label): normal pass, inside views fail` (pure). */
export function formatDifference(d: CaseDifference): string {
  const what = d.key === 'exit' ? 'end' : `case ${d.key}${d.label ? ` (${d.label})` : ''}`;
  return `${what}: normal ${d.normal}, inside views ${d.inview}`;
}
