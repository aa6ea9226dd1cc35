import type { ProgramResult } from './tap.ts';
import type { Splat } from './splat.ts';

export interface Row {
  /** The architecture the row is about (x86_64, arm64/cortex-a57, i386, ...); none for host rows. */
  arch?: string;
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

/** The same summary with every row marked as this arch's and the problems prefixed with it (pure). */
export function labelSummary(s: Summary, arch: string): Summary {
  return {
    ...s,
    rows: s.rows.map((r) => ({ ...r, arch })),
    problems: s.problems.map((p) => `${arch}: ${p}`),
  };
}

/** One summary of several (host rows first, then each arch's in order) (pure). */
export function combineSummaries(parts: readonly Summary[], leading: readonly Row[] = []): Summary {
  const rows = [...leading, ...parts.flatMap((p) => p.rows)];
  const totals = rows.reduce(
    (t, r) => ({ name: 'total', passed: t.passed + r.passed, failed: t.failed + r.failed, skipped: t.skipped + r.skipped }),
    { name: 'total', passed: 0, failed: 0, skipped: 0 },
  );
  return { rows, totals, problems: parts.flatMap((p) => p.problems), ok: totals.failed === 0 && parts.every((p) => p.ok) };
}

/** A summary of one failed step (a build that broke, a VM that could not start) (pure). */
export function failedStep(arch: string, name: string, problem: string): Summary {
  return { rows: [{ arch, name, passed: 0, failed: 1, skipped: 0 }], totals: { name: 'total', passed: 0, failed: 1, skipped: 0 }, problems: [`${arch}: ${problem}`], ok: false };
}

/** The closing line: `N passed, N failed` and `, N skipped` when something was skipped. */
export function closingLine(t: Row): string {
  return `${t.passed} passed, ${t.failed} failed${t.skipped > 0 ? `, ${t.skipped} skipped` : ''}`;
}

/** The table of rows; with an `arch` column first when any row names one (pure). */
export function renderTable(rows: readonly Row[]): string {
  const withArch = rows.some((r) => r.arch !== undefined);
  const header = [...(withArch ? ['arch'] : []), 'test program', 'passed', 'failed', 'skipped'];
  const body = rows.map((r) => [...(withArch ? [r.arch ?? 'host'] : []), r.name, String(r.passed), String(r.failed), String(r.skipped)]);
  const textCols = withArch ? 2 : 1;
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i < textCols ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}

export function renderSummary(s: Summary): string {
  const out = [renderTable(s.rows)];
  if (s.problems.length > 0) out.push('', ...s.problems.map((p) => `  ${p}`));
  out.push('', closingLine(s.totals));
  return out.join('\n');
}
