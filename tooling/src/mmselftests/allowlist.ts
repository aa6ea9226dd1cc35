/**
 * tests/guest/mm-selftests/allowed-differences.txt: differences between the
 * normal run and the run inside views that do not fail the test suite, each
 * with its reason (a known kernel bug or a documented limit).
 *
 *   <program> | <case> | <arch> | <reason>
 *
 * case: a test number, a case label exactly as reported, a label pattern
 * with * and ? wildcards, 'exit' (how the program ended) or '*' (any
 * difference of that program). It may end with the outcome change it allows,
 * "[normal->inside views]", e.g. "*THP* [pass->skip]" ('*' for any outcome;
 * outcomes: pass, fail, skip, xfail, xpass, missing). arch: '*', or a
 * comma-separated list of x86_64, arm64 (both CPU models) or a row label
 * such as arm64/max. A reason that starts with "intermittent" marks a
 * difference that does not show in every run (no stale-entry warning).
 */
import { parseListRows, readTextIfPresent } from '../util/listfile.ts';
import type { CaseDifference } from './compare.ts';

/** The file in tests/guest/mm-selftests. */
export const ALLOWLIST_FILE = 'allowed-differences.txt';

export interface Allowance {
  program: string;
  /** The case field without its outcome change. */
  case: string;
  /** The allowed outcome change (normal, inside views), '*' for any; undefined: any change. */
  change: { normal: string; inview: string } | undefined;
  arches: string[];
  reason: string;
  /** The reason starts with "intermittent": no warning when it matches nothing. */
  intermittent: boolean;
  /** 1-based line in the file, for messages. */
  line: number;
}

const CHANGE = /^(.+?)\s*\[\s*([a-z]+|\*)\s*->\s*([a-z]+|\*)\s*\]$/;

/** Parse the file's text; throws with the line number on malformed lines (pure). */
export function parseAllowlist(text: string, file = ALLOWLIST_FILE): Allowance[] {
  return parseListRows(text, file, '<program> | <case> | <arch> | <reason>').map(({ fields: [program, kase, arch], reason, line }) => {
    const change = CHANGE.exec(kase);
    return {
      program,
      case: change ? (change[1] as string) : kase,
      change: change ? { normal: change[2] as string, inview: change[3] as string } : undefined,
      arches: arch.split(',').map((a) => a.trim()).filter(Boolean),
      reason,
      intermittent: /^intermittent\b/i.test(reason),
      line,
    };
  });
}

export function readAllowlist(file: string): Allowance[] {
  const text = readTextIfPresent(file);
  return text === undefined ? [] : parseAllowlist(text, file);
}

/** Does an arch field name this row label (x86_64, arm64/max, ...) (pure)? */
export function archMatches(arches: readonly string[], label: string): boolean {
  return arches.some((a) => a === '*' || a === label || label.startsWith(`${a}/`));
}

/** Does a pattern with * and ? wildcards match the whole text (pure)? */
export function globMatches(pattern: string, text: string): boolean {
  return globRegExp(pattern).test(text);
}

function globRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Does an entry's case field (without its change) name this difference (pure)? */
export function caseMatches(kase: string, d: CaseDifference): boolean {
  if (kase === '*') return true;
  if (d.key === 'exit') return kase === 'exit';
  if (kase === d.key || kase === d.label) return true;
  return /[*?]/.test(kase) && globRegExp(kase).test(d.label);
}

function changeMatches(change: Allowance['change'], d: CaseDifference): boolean {
  if (!change) return true;
  return (change.normal === '*' || change.normal === d.normal) && (change.inview === '*' || change.inview === d.inview);
}

/** The entry that allows this difference of this program on this arch, if any (pure). */
export function findAllowance(list: readonly Allowance[], program: string, d: CaseDifference, arch: string): Allowance | undefined {
  return list.find((a) => a.program === program && archMatches(a.arches, arch) && caseMatches(a.case, d) && changeMatches(a.change, d));
}
