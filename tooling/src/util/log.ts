import { isAbsolute, relative } from 'node:path';
/** Console output of the tool: one prefix per stage, warnings to stderr. */

export function info(stage: string, message: string): void {
  process.stdout.write(`[${stage}] ${message}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`mmview: warning: ${message}\n`);
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s.toFixed(1)}s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}h${mm}m${ss}s` : `${mm}m${ss}s`;
}

export interface StageTime {
  stage: string;
  ms: number;
  note: string;
}

/** Measures each pipeline stage's wall time for the report printed at the end. */
export class StageTimer {
  readonly times: StageTime[];
  private readonly prefix: string;

  constructor(times: StageTime[] = [], prefix = '') {
    this.times = times;
    this.prefix = prefix;
  }

  /** A timer recording into the same list, its stage names prefixed (e.g. "arm64 kernel"). */
  scoped(prefix: string): StageTimer {
    return new StageTimer(this.times, `${this.prefix}${prefix} `);
  }

  async run<T>(stage: string, fn: () => Promise<T>, note?: (result: T) => string): Promise<T> {
    const start = Date.now();
    const result = await fn();
    this.times.push({ stage: `${this.prefix}${stage}`, ms: Date.now() - start, note: note ? note(result) : '' });
    return result;
  }

  report(): string {
    return this.times
      .map((t) => `${t.stage} ${formatDuration(t.ms)}${t.note ? ` (${t.note})` : ''}`)
      .join(', ');
  }
}

/** A path for messages: relative to the current folder when inside it, else absolute. */
export function displayPath(p: string, base = process.cwd()): string {
  const rel = relative(base, p);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? p : rel;
}
