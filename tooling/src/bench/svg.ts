/** Small inline SVG charts for the report: horizontal bars and category line plots (pure). */

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const FONT = 'font-family="system-ui, sans-serif" font-size="12"';
const n = (v: number): string => (Math.round(v * 10) / 10).toString();

/** About `count` round tick values from 0 to max (1, 2, 5 x 10^k steps). */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  const ticks: number[] = [];
  for (let v = 0; v <= max * (1 + 1e-9); v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export type Tone = 'pass' | 'miss' | 'info' | 'na';

export const TONE_COLOR: Readonly<Record<Tone, string>> = {
  pass: '#2e7d32',
  miss: '#c62828',
  info: '#607d8b',
  na: '#bdbdbd',
};

export interface Bar {
  label: string;
  value?: number;
  lo?: number;
  hi?: number;
  target?: number;
  tone: Tone;
  /** Shown right of the bar (e.g. "0.42×"). */
  text: string;
}

export interface BarChartOptions {
  title: string;
  /** Tick label of an axis value. */
  tick: (v: number) => string;
  /** A dashed reference line (e.g. 1 for "same as the baseline"). */
  reference?: number;
  /** Logarithmic axis (for ratios spanning decades); bars start at the left edge. */
  log?: boolean;
  width?: number;
}

/** Whether values spread over so many decades that a log axis reads better (pure). */
export function wantsLog(values: readonly number[], spread = 20): boolean {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  return pos.length > 1 && pos.length === values.filter(Number.isFinite).length && Math.max(...pos) / Math.min(...pos) > spread;
}

/** Ticks of a log axis: powers of ten, plus 2 and 5 times them when there are few decades. */
function logAxisTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const decades = Math.log10(hi / lo);
  for (let e = Math.round(Math.log10(lo)); e <= Math.round(Math.log10(hi)); e++) {
    for (const m of decades <= 2 ? [1, 2, 5] : [1]) {
      const v = Number((m * 10 ** e).toPrecision(6));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

/** Horizontal bars with spread whiskers and a target mark per bar. */
export function barChart(bars: readonly Bar[], o: BarChartOptions): string {
  const width = o.width ?? 860;
  const labelW = 400;
  const textW = 90;
  const plotW = width - labelW - textW - 20;
  const rowH = 24;
  const top = 34;
  const height = top + bars.length * rowH + 34;
  const values = bars.flatMap((b) => [b.value, b.lo, b.hi, b.target].filter((v): v is number => v !== undefined && Number.isFinite(v)));
  let x: (v: number) => number;
  let ticks: number[];
  if (o.log) {
    const pos = [...values, ...(o.reference !== undefined ? [o.reference] : [])].filter((v) => v > 0);
    const lo = 10 ** Math.floor(Math.log10(Math.min(...pos)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...pos) * 1.05));
    const span = Math.log10(hi / lo);
    x = (v) => labelW + (Math.log10(Math.min(Math.max(v, lo), hi) / lo) / span) * plotW;
    ticks = logAxisTicks(lo, hi);
  } else {
    const max = Math.max(o.reference ?? 0, ...values, 1e-12) * 1.08;
    x = (v) => labelW + (Math.max(0, Math.min(v, max)) / max) * plotW;
    ticks = niceTicks(max);
  }
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(o.title)}">`,
    `<text x="0" y="16" ${FONT} font-weight="bold">${escapeXml(o.title)}</text>`,
  ];
  const axisY = top + bars.length * rowH;
  let lastLabel = -Infinity;
  for (const t of ticks) {
    out.push(`<line x1="${n(x(t))}" y1="${top - 4}" x2="${n(x(t))}" y2="${axisY}" stroke="#e0e0e0"/>`);
    // Label a tick only where it does not run into the previous label.
    if (x(t) - lastLabel >= 64) {
      out.push(`<text x="${n(x(t))}" y="${axisY + 16}" ${FONT} text-anchor="middle" fill="#555">${escapeXml(o.tick(t))}</text>`);
      lastLabel = x(t);
    }
  }
  if (o.reference !== undefined) {
    out.push(`<line x1="${n(x(o.reference))}" y1="${top - 4}" x2="${n(x(o.reference))}" y2="${axisY}" stroke="#888" stroke-dasharray="4 3"/>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const mid = y + rowH / 2;
    // About 7 px per character at 12 px: shorten what would not fit, keep the full label as a tooltip.
    const room = Math.floor((labelW - 10) / 7);
    const label = b.label.length > room ? `${b.label.slice(0, room - 1)}…` : b.label;
    out.push(`<text x="${labelW - 8}" y="${n(mid + 4)}" ${FONT} text-anchor="end"><title>${escapeXml(b.label)}</title>${escapeXml(label)}</text>`);
    const color = TONE_COLOR[b.tone];
    if (b.value !== undefined && Number.isFinite(b.value)) {
      out.push(`<rect x="${labelW}" y="${n(y + 5)}" width="${n(Math.max(1, x(b.value) - labelW))}" height="${rowH - 10}" fill="${color}" fill-opacity="0.75"/>`);
    }
    if (b.lo !== undefined && b.hi !== undefined && Number.isFinite(b.lo) && Number.isFinite(b.hi)) {
      const [a, c] = [x(b.lo), x(b.hi)];
      out.push(
        `<line x1="${n(a)}" y1="${mid}" x2="${n(c)}" y2="${mid}" stroke="#212121"/>`,
        `<line x1="${n(a)}" y1="${mid - 4}" x2="${n(a)}" y2="${mid + 4}" stroke="#212121"/>`,
        `<line x1="${n(c)}" y1="${mid - 4}" x2="${n(c)}" y2="${mid + 4}" stroke="#212121"/>`,
      );
    }
    if (b.target !== undefined) {
      const tx = x(b.target);
      out.push(`<path d="M${n(tx)} ${y + 1} l-5 -0 l5 7 l5 -7 z M${n(tx)} ${y + 8} V${y + rowH - 1}" fill="#ff6f00" stroke="#ff6f00" stroke-width="2"/>`);
    }
    out.push(`<text x="${width - textW}" y="${n(mid + 4)}" ${FONT} fill="${color}">${escapeXml(b.text)}</text>`);
  });
  out.push(`<line x1="${labelW}" y1="${axisY}" x2="${labelW + plotW}" y2="${axisY}" stroke="#555"/>`, '</svg>');
  return out.join('\n');
}

export interface Series {
  name: string;
  /** One value per x category; undefined leaves a gap. */
  values: readonly (number | undefined)[];
  color: string;
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabels: readonly string[];
  xTitle: string;
  yTitle: string;
  tick: (v: number) => string;
  /** Logarithmic y axis (for values spanning decades). */
  logY?: boolean;
  width?: number;
}

function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

/** Lines over categories (evenly spaced x), with a legend. */
export function lineChart(series: readonly Series[], o: LineChartOptions): string {
  const width = o.width ?? 470;
  const height = 300;
  const left = 78;
  const right = 16;
  const cols = series.some((s) => s.name.length > 26) ? 1 : 2;
  const legendH = 18 * Math.ceil(series.length / cols);
  const top = 30 + legendH;
  const bottom = 48;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const positive = all.filter((v) => v > 0);
  const logY = Boolean(o.logY) && positive.length > 0;
  let ticks: number[];
  let y: (v: number) => number;
  if (logY) {
    ticks = logTicks(Math.min(...positive), Math.max(...positive));
    const lo = Math.log10(ticks[0] ?? 1);
    const hi = Math.log10(ticks[ticks.length - 1] ?? 10);
    const span = hi > lo ? hi - lo : 1;
    y = (v) => top + plotH - ((Math.log10(Math.max(v, ticks[0] ?? 1)) - lo) / span) * plotH;
  } else {
    const max = Math.max(...all, 1e-12) * 1.1;
    ticks = niceTicks(max);
    const topTick = Math.max(ticks[ticks.length - 1] ?? max, max);
    y = (v) => top + plotH - (Math.max(0, v) / topTick) * plotH;
  }
  const nx = Math.max(1, o.xLabels.length - 1);
  const x = (i: number): number => left + (o.xLabels.length === 1 ? plotW / 2 : (i / nx) * plotW);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(o.title)}">`,
    `<text x="0" y="16" ${FONT} font-weight="bold">${escapeXml(o.title)}</text>`,
  ];
  series.forEach((s, i) => {
    const lx = (i % cols) * (width / 2);
    const ly = 30 + Math.floor(i / cols) * 18;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${lx + 30}" y="${ly + 4}" ${FONT}>${escapeXml(s.name)}</text>`,
    );
  });
  for (const t of ticks) {
    out.push(
      `<line x1="${left}" y1="${n(y(t))}" x2="${left + plotW}" y2="${n(y(t))}" stroke="#e0e0e0"/>`,
      `<text x="${left - 6}" y="${n(y(t) + 4)}" ${FONT} text-anchor="end" fill="#555">${escapeXml(o.tick(t))}</text>`,
    );
  }
  o.xLabels.forEach((l, i) => {
    out.push(`<text x="${n(x(i))}" y="${top + plotH + 16}" ${FONT} text-anchor="middle" fill="#555">${escapeXml(l)}</text>`);
  });
  out.push(
    `<text x="${left + plotW / 2}" y="${height - 8}" ${FONT} text-anchor="middle">${escapeXml(o.xTitle)}</text>`,
    `<text x="12" y="${top + plotH / 2}" ${FONT} text-anchor="middle" transform="rotate(-90 12 ${top + plotH / 2})">${escapeXml(o.yTitle)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#555"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#555"/>`,
  );
  for (const s of series) {
    const pts = s.values.map((v, i) => (v !== undefined && Number.isFinite(v) ? `${n(x(i))},${n(y(v))}` : undefined));
    // Split at gaps.
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 1) {
        out.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
      }
      run = [];
    };
    for (const p of pts) {
      if (p === undefined) flush();
      else run.push(p);
    }
    flush();
    for (const p of pts) {
      if (p === undefined) continue;
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
    }
  }
  out.push('</svg>');
  return out.join('\n');
}
