/** The table of ratios printed at the end of `./mmview bench` (pure). */
import { GROUPS, formatRatio, formatTarget, verdictText, type FigureResult } from './figures.ts';

export interface TargetCount {
  pass: number;
  miss: number;
  /** Targets without a ratio (a side was not measured). */
  unknown: number;
}

export function countTargets(figures: readonly FigureResult[]): TargetCount {
  const t = figures.filter((f) => f.def.target !== undefined);
  return {
    pass: t.filter((f) => f.verdict === 'pass').length,
    miss: t.filter((f) => f.verdict === 'miss').length,
    unknown: t.filter((f) => f.verdict === 'n/a').length,
  };
}

export function spreadText(f: FigureResult): string {
  if (!f.ratio) return '';
  return `${formatRatio(f.ratio.lo, f.def.format)} .. ${formatRatio(f.ratio.hi, f.def.format)}`;
}

export function renderRatioTable(figures: readonly FigureResult[]): string {
  const header = ['figure', 'ratio', 'spread (IQR)', 'target', 'verdict'];
  const lines: string[][] = [];
  const groupRows: number[] = [];
  for (const g of GROUPS) {
    const rows = figures.filter((f) => f.def.group === g.key);
    if (rows.length === 0) continue;
    groupRows.push(lines.length);
    lines.push([g.title, '', '', '', '']);
    for (const f of rows) {
      lines.push([
        `  ${f.def.label}`,
        f.ratio ? formatRatio(f.ratio.value, f.def.format) : '-',
        spreadText(f),
        formatTarget(f.def),
        f.verdict === 'info' ? '' : verdictText(f),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.filter((_, n) => !groupRows.includes(n)).map((l) => (l[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[0] ?? 0) : i === 1 || i === 3 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const out = [fmt(header), fmt(widths.map((w) => '-'.repeat(w)))];
  lines.forEach((l, n) => out.push(groupRows.includes(n) ? (l[0] ?? '') : fmt(l)));
  const c = countTargets(figures);
  out.push('', `targets: ${c.pass} met, ${c.miss} missed${c.unknown > 0 ? `, ${c.unknown} not measured` : ''}`);
  const reasons = figures.filter((f) => f.verdict === 'n/a' && f.def.target !== undefined && f.reason);
  for (const f of reasons) out.push(`  not measured: ${f.def.label}: ${f.reason}`);
  return out.join('\n');
}
