/** build/bench/report.html: a self-contained page (inline CSS and SVG, no scripts) (pure). */
import {
  CaseIndex,
  GROUPS,
  PROGRAMS,
  RSS_MIB,
  VIEWS,
  formatRatio,
  formatTarget,
  verdictText,
  type CaseRef,
  type FigureResult,
  type KernelDocs,
  type KernelKey,
  type Side,
} from './figures.ts';
import type { BenchResults } from './results.ts';
import type { Params } from './schema.ts';
import { summarizeSamples } from './stats.ts';
import { barChart, escapeXml as esc, lineChart, TONE_COLOR, wantsLog, type Bar, type Series, type Tone } from './svg.ts';
import { countTargets, spreadText } from './table.ts';

export function formatNs(ns: number): string {
  const a = Math.abs(ns);
  if (a >= 1e9) return `${(ns / 1e9).toPrecision(3)} s`;
  if (a >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`;
  if (a >= 1e3) return `${(ns / 1e3).toPrecision(3)} µs`;
  return `${ns.toPrecision(3)} ns`;
}

export function formatBytes(b: number): string {
  const a = Math.abs(b);
  if (a >= 2 ** 30) return `${(b / 2 ** 30).toPrecision(3)} GiB`;
  if (a >= 2 ** 20) return `${(b / 2 ** 20).toPrecision(3)} MiB`;
  if (a >= 2 ** 10) return `${(b / 2 ** 10).toPrecision(3)} KiB`;
  return `${Math.round(b)} B`;
}

function formatValue(s: Side | undefined): string {
  if (!s) return '–';
  const f = s.unit === 'bytes' ? formatBytes : formatNs;
  if (s.stats.n === 1 && s.stats.q1 === s.stats.q3) return f(s.stats.median);
  return `${f(s.stats.median)} <span class="dim">(${f(s.stats.q1)}–${f(s.stats.q3)}, n=${s.stats.n})</span>`;
}

function tone(f: FigureResult): Tone {
  if (f.verdict === 'pass') return 'pass';
  if (f.verdict === 'miss') return 'miss';
  if (f.verdict === 'n/a') return 'na';
  return 'info';
}

function verdictCell(f: FigureResult): string {
  if (f.verdict === 'info') return '<td class="dim">info</td>';
  return `<td style="color:${TONE_COLOR[tone(f)]};font-weight:bold">${esc(verdictText(f))}</td>`;
}

/** One sentence on where a target stands. */
export function standing(f: FigureResult): string {
  const t = formatTarget(f.def);
  if (!f.ratio) return `not measured: ${f.reason ?? 'no data'}`;
  const r = formatRatio(f.ratio.value, f.def.format);
  const spread = `spread ${spreadText(f)}`;
  if (f.verdict === 'pass') {
    return f.clear ? `met: ${r} (${spread}) against ${t}` : `met by the median, ${r}, but the spread (${spreadText(f)}) reaches past ${t}`;
  }
  return f.clear ? `missed: ${r} (${spread}) against ${t}` : `missed by the median, ${r}, but the spread (${spreadText(f)}) reaches below ${t}`;
}

const CSS = `
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #212121; padding: 0 16px; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 10px 0; font-size: 13px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.dim { color: #777; } .warn { background: #fff3e0; border-left: 4px solid #ff9800; padding: 8px 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.note { font-size: 13px; color: #555; }
`;

function envTable(r: BenchResults): string {
  const e = r.environment;
  const rows: [string, string][] = [
    ['execution', e.accel === 'kvm' ? 'KVM (hardware virtualization)' : `emulated: QEMU TCG (${e.accelReason})`],
    ['guest', `${e.vcpus} vCPUs, ${e.memory} memory; every benchmark process pinned to CPU 0, transparent huge pages disabled for it`],
    ['host', `${e.host.cpuModel}, ${e.host.cpus} CPUs, ${e.host.memGib} GiB, Linux ${e.host.kernel}`],
    ['host load average', `${e.host.loadavg.join(' / ')} before, ${e.loadavgEnd.join(' / ')} after (1/5/15 min)`],
    ['QEMU', e.qemu],
    ['size', `${e.size}${e.reps !== undefined ? `, ${e.reps} repetitions per case` : ", each program's default repetitions"}, ${e.rounds} boot(s) per kernel, samples pooled`],
    ['date', e.date],
    ...r.kernels.map((k): [string, string] => [
      `${k.key} kernel`,
      `${k.description}; uname -r ${k.release ?? '?'}; ${k.version ?? ''}; ${k.image}`,
    ]),
  ];
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function targetTable(figures: readonly FigureResult[]): string {
  const rows = figures
    .filter((f) => f.def.target !== undefined)
    .map(
      (f) =>
        `<tr><td>${esc(f.def.label)}</td><td class="num">${f.ratio ? esc(formatRatio(f.ratio.value, f.def.format)) : '–'}</td>` +
        `<td class="num">${esc(spreadText(f))}</td><td class="num">${esc(formatTarget(f.def))}</td>${verdictCell(f)}<td>${esc(standing(f))}</td></tr>`,
    );
  return `<table><tr><th>target</th><th>ratio</th><th>spread (IQR)</th><th>target</th><th>verdict</th><th>where we stand</th></tr>${rows.join('')}</table>`;
}

function groupSection(title: string, figures: readonly FigureResult[]): string {
  const bars: Bar[] = figures.map((f) => ({
    label: f.def.label,
    value: f.ratio?.value,
    lo: f.ratio?.lo,
    hi: f.ratio?.hi,
    target: f.def.target,
    tone: tone(f),
    text: f.ratio ? formatRatio(f.ratio.value, f.def.format) : 'n/a',
  }));
  const chart = (pick: readonly Bar[], fm: FigureResult['def']['format'], what: string): string => {
    const log = wantsLog(pick.flatMap((b) => (b.value !== undefined ? [b.value] : [])));
    return barChart(pick, {
      title: `${title}: ${what}${log ? ' (log scale)' : ''} (bars: median, whiskers: spread, orange: target)`,
      tick: (v) => formatRatio(v, fm),
      reference: fm === 'times' ? 1 : undefined,
      log,
    });
  };
  const charts = (['times', 'percent'] as const)
    .map((fm) => {
      const pick = figures.map((f, i) => (f.def.format === fm ? bars[i] : undefined)).filter((b): b is Bar => b !== undefined);
      return pick.length > 0 ? chart(pick, fm, fm === 'percent' ? 'share of RSS' : 'ratios') : '';
    })
    .join('\n');
  const rows = figures.map(
    (f) =>
      `<tr><td>${esc(f.def.label)}${f.def.note ? `<br><span class="note">${esc(f.def.note)}</span>` : ''}${f.reason ? `<br><span class="note">${esc(f.reason)}</span>` : ''}</td>` +
      `<td class="num">${f.ratio ? esc(formatRatio(f.ratio.value, f.def.format)) : '–'}</td><td class="num">${esc(spreadText(f))}</td>` +
      `<td class="num">${esc(formatTarget(f.def))}</td>${verdictCell(f)}<td class="num">${formatValue(f.num)}</td><td class="num">${formatValue(f.den)}</td></tr>`,
  );
  return (
    `<h2>${esc(title)}</h2>\n${charts}\n` +
    `<table><tr><th>figure</th><th>ratio</th><th>spread</th><th>target</th><th>verdict</th><th>measured (median, IQR)</th><th>baseline</th></tr>${rows.join('')}</table>`
  );
}

function median(index: CaseIndex, kernel: KernelKey, program: string, id: string, params: Params): number | undefined {
  const ref: CaseRef = { kernel, program, id, params };
  const c = index.get(ref);
  return c?.kind === 'measured' ? summarizeSamples(c.samples).median : undefined;
}

function plots(docs: KernelDocs): string {
  const index = new CaseIndex(docs);
  const views = VIEWS.map(String);
  const fault = (kernel: KernelKey, where: 'base' | 'view'): (number | undefined)[] =>
    VIEWS.map((v) => median(index, kernel, PROGRAMS.fault, 'first_touch', { views: v, in: where }));
  const vanillaFault = median(index, 'vanilla', PROGRAMS.fault, 'first_touch', { views: 0, in: 'base' });
  const faultSeries: Series[] = [
    { name: 'mmview, base view', values: fault('mmview', 'base'), color: '#1565c0' },
    { name: 'mmview, non-base view', values: fault('mmview', 'view'), color: '#6a1b9a' },
    { name: 'vanilla (no views)', values: VIEWS.map(() => vanillaFault), color: '#616161', dashed: true },
  ];
  const mm = (kernel: KernelKey): (number | undefined)[] => VIEWS.map((v) => median(index, kernel, PROGRAMS.layout, 'mmap_munmap', { views: v }));
  const vanillaMm = median(index, 'vanilla', PROGRAMS.layout, 'mmap_munmap', { views: 0 });
  const mmSeries: Series[] = [
    { name: 'mmview', values: mm('mmview'), color: '#1565c0' },
    { name: 'vanilla (no views)', values: VIEWS.map(() => vanillaMm), color: '#616161', dashed: true },
    { name: 'target: (1 + 0.5·N) × vanilla', values: VIEWS.map((v) => (vanillaMm !== undefined ? vanillaMm * (v === 0 ? 1.01 : 1 + 0.5 * v) : undefined)), color: '#ff6f00', dashed: true },
  ];
  const mem = (id: string): (number | undefined)[] => RSS_MIB.map((r) => median(index, 'mmview', PROGRAMS.create, id, { rss_mib: r }));
  const memSeries: Series[] = [
    { name: 'page tables per view', values: mem('pagetables_per_view'), color: '#1565c0' },
    { name: 'slab per view', values: mem('slab_per_view'), color: '#00838f' },
    { name: 'page tables per forked child', values: mem('pagetables_per_fork'), color: '#616161' },
    { name: 'target: 0.25 % of RSS', values: RSS_MIB.map((r) => r * 2 ** 20 * 0.0025), color: '#ff6f00', dashed: true },
  ];
  const time = (id: string, kernel: KernelKey = 'mmview'): (number | undefined)[] =>
    RSS_MIB.map((r) => median(index, kernel, PROGRAMS.create, id, { rss_mib: r }));
  const createSeries: Series[] = [
    { name: 'mmview_create + delete', values: time('create_delete'), color: '#1565c0' },
    { name: 'fork + exit + wait (mmview kernel)', values: time('fork_exit_wait'), color: '#616161' },
    { name: 'fork + exit + wait (vanilla)', values: time('fork_exit_wait', 'vanilla'), color: '#9e9e9e', dashed: true },
  ];
  const rss = RSS_MIB.map((r) => (r >= 1024 ? `${r / 1024} GiB` : `${r} MiB`));
  return (
    '<h2>Plots</h2>\n<div class="charts">\n' +
    [
      lineChart(faultSeries, { title: 'First-touch fault, time per page', xLabels: views, xTitle: 'views', yTitle: 'time per page', tick: formatNs }),
      lineChart(mmSeries, { title: 'mmap + munmap pair', xLabels: views, xTitle: 'views', yTitle: 'time per pair', tick: formatNs }),
      lineChart(createSeries, { title: 'Creating a view vs forking', xLabels: rss, xTitle: 'populated RSS', yTitle: 'time', tick: formatNs, logY: true }),
      lineChart(memSeries, { title: 'Memory added per view vs RSS', xLabels: rss, xTitle: 'populated RSS', yTitle: 'bytes', tick: formatBytes, logY: true }),
    ].join('\n') +
    '\n</div>'
  );
}

function runsTable(r: BenchResults): string {
  const rows = r.boots.map(
    (b) =>
      `<tr><td>${esc(b.kernel)}</td><td class="num">${b.round}</td><td class="num">${b.seconds} s</td>` +
      `<td class="num">${esc(b.loadavgBefore[0]?.toFixed(2) ?? '?')} → ${esc(b.loadavgAfter[0]?.toFixed(2) ?? '?')}</td><td>${b.programs
        .map((p) => `${esc(p.program)} ${p.ok ? '' : '<b style="color:#c62828">failed</b> '}<span class="dim">${p.seconds !== undefined ? `${p.seconds} s` : ''}</span>`)
        .join('<br>')}</td><td>${esc(b.consoleLog)}</td></tr>`,
  );
  return (
    `<p class="note">Boots in the order they ran; rounds alternate which kernel goes first. Samples of a case are pooled over the rounds.</p>` +
    `<table><tr><th>kernel</th><th>round</th><th>VM run</th><th>host load (1 min)</th><th>programs</th><th>console log</th></tr>${rows.join('')}</table>`
  );
}

function problems(r: BenchResults): string {
  const items: string[] = [];
  for (const b of r.boots) {
    for (const p of b.programs) if (!p.ok) items.push(`${b.kernel} (round ${b.round}): ${p.program}: ${p.problems.join('; ')}`);
    for (const s of b.splats) items.push(`${b.kernel} (round ${b.round}): kernel splat: ${s}`);
  }
  if (items.length === 0) return '';
  return `<div class="warn"><b>Problems during the run</b><ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul></div>`;
}

export function renderReport(r: BenchResults, figures: readonly FigureResult[], docs: KernelDocs): string {
  const c = countTargets(figures);
  const emulated = r.environment.accel !== 'kvm';
  const sections = GROUPS.map((g) => {
    const fs = figures.filter((f) => f.def.group === g.key);
    return fs.length > 0 ? groupSection(g.title, fs) : '';
  }).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mmview benchmarks ${esc(r.environment.date)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>mmview benchmarks</h1>
<p>The mmview kernel and the vanilla kernel (the same pinned source without the patch series, same <code>release</code> configuration)
ran the same benchmark programs in the same QEMU setup. Every figure is a ratio of medians to a baseline measured in the same run;
the spread interval divides the quartiles (q1/q3 of the measurement by q3/q1 of the baseline). A target is <i>met</i> when the
median ratio is at or below it; “within spread” means the interval crosses the target.</p>
${emulated ? '<p class="warn"><b>Emulated run (no KVM).</b> QEMU TCG translates every instruction: absolute times are many times slower than hardware and the relative cost of system calls, faults and TLB flushes differs. Read the ratios as indications, not as hardware results.</p>' : ''}
<h2>Environment</h2>
${envTable(r)}
<h2>Targets: ${c.pass} met, ${c.miss} missed${c.unknown > 0 ? `, ${c.unknown} not measured` : ''}</h2>
${targetTable(figures)}
${problems(r)}
${sections}
${plots(docs)}
<h2>Runs</h2>
${runsTable(r)}
<p class="note">Generated by <code>./mmview bench</code>; raw samples in results.json next to this file.</p>
</body>
</html>
`;
}
