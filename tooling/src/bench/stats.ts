/** Summary statistics of benchmark samples (pure). */

export interface Stats {
  n: number;
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
}

/** Quantile p (0..1) of sorted values, linear between order statistics (R type 7). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('quantile of no values');
  const h = (sorted.length - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  return a + (h - lo) * (b - a);
}

export function summarizeSamples(samples: readonly number[]): Stats {
  const s = [...samples].sort((x, y) => x - y);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
    min: s[0] as number,
    max: s[s.length - 1] as number,
  };
}

/** Interquartile range relative to the median (0.05 = 5 %). */
export function relativeIqr(s: Stats): number {
  return s.median === 0 ? 0 : (s.q3 - s.q1) / Math.abs(s.median);
}

/** An exact value (e.g. a size) as Stats with no spread. */
export function exact(value: number): Stats {
  return { n: 1, median: value, q1: value, q3: value, min: value, max: value };
}

export interface Ratio {
  /** median(num) / median(den). */
  value: number;
  /** Conservative spread: q1(num) / q3(den) .. q3(num) / q1(den). */
  lo: number;
  hi: number;
}

/** Ratio of two measured quantities with an interval from their interquartile ranges. */
export function ratioOf(num: Stats, den: Stats): Ratio | undefined {
  if (!(den.median > 0) || !(den.q1 > 0)) return undefined;
  return { value: num.median / den.median, lo: num.q1 / den.q3, hi: num.q3 / den.q1 };
}
