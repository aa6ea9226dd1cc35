import type { ProgramResult } from './tap.ts';
import type { Splat } from './splat.ts';

export interface Row {
  name: string;
  passed: number;
  failed: number;
  skipped: number;
}

export interface GuestOutcome {
  /** /init printed MMVIEW-DONE. */
  done: boolean;
  /** The host-side VM timeout fired. */
  vmTimedOut: boolean;
  /** The console shows a kernel panic. */
  panicked: boolean;
}

export interface Summary {
  rows: Row[];
  totals: Row;
  /** Reasons for failure, one line each. */
  problems: string[];
  ok: boolean;
}

/** Combine everything that can fail a test run into rows and totals (pure). */
export function summarize(
  programs: readonly ProgramResult[],
  splats: readonly Splat[],
  guest: GuestOutcome,
  extraRows: readonly Row[] = [],
): Summary {
  const rows: Row[] = [...extraRows, ...programs.map(({ name, passed, failed, skipped }) => ({ name, passed, failed, skipped }))];
  const problems: string[] = [];
  for (const p of programs) problems.push(...p.failures.map((f) => `failed: ${f}`), ...p.problems);
  if (splats.length > 0) {
    rows.push({ name: 'kernel splats', passed: 0, failed: splats.length, skipped: 0 });
    problems.push(`${splats.length} kernel splat(s): ${splats.map((s) => s.kind).join(', ')}`);
  }
  const guestProblem = guest.vmTimedOut
    ? 'the VM timed out'
    : guest.panicked
      ? 'the guest kernel panicked'
      : !guest.done
        ? 'the guest stopped before finishing the tests (no MMVIEW-DONE)'
        : undefined;
  if (guestProblem) {
    rows.push({ name: 'guest', passed: 0, failed: 1, skipped: 0 });
    problems.push(guestProblem);
  }
  const totals = rows.reduce(
    (t, r) => ({ name: 'total', passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped }),
    { name: 'total', passed: 0, failed: 0, skipped: 0 },
  );
  return { rows, totals, problems, ok: totals.failed === 0 };
}

/** The closing line: `N passed, N failed` and `, N skipped` when something was skipped. */
export function closingLine(t: Row): string {
  return `${t.passed} passed, ${t.failed} failed${t.skipped > 0 ? `, ${t.skipped} skipped` : ''}`;
}

export function renderTable(rows: readonly Row[]): string {
  const header = ['test program', 'passed', 'failed', 'skipped'];
  const body = rows.map((r) => [r.name, String(r.passed), String(r.failed), String(r.skipped)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}

export function renderSummary(s: Summary): string {
  const out = [renderTable(s.rows)];
  if (s.problems.length > 0) out.push('', ...s.problems.map((p) => `  ${p}`));
  out.push('', closingLine(s.totals));
  return out.join('\n');
}
