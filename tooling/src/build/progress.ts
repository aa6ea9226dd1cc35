import cliProgress from 'cli-progress';
import { formatDuration } from '../util/log.ts';

/** Lines of kbuild's quiet output that mark one unit of work. */
export function isProgressLine(line: string): boolean {
  return /^\s*(CC|LD|AR)(\s+\[M\])?\s+\S/.test(line);
}

export interface Progress {
  tick(): void;
  readonly count: number;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  estimate: number;
  tty: boolean;
  stream?: NodeJS.WriteStream;
  /** Plain-line interval when not on a TTY. */
  intervalMs?: number;
}

/** A progress bar on a TTY; otherwise a plain status line every ~30 s. */
export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stdout;
  const start = Date.now();
  let count = 0;
  if (opts.tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `[${opts.label}] {bar} {percentage}% | {value}/{total} objects | {duration_formatted}`,
        stream,
        hideCursor: false,
        barsize: 30,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let total = Math.max(1, opts.estimate);
    bar.start(total, 0);
    const timer = setInterval(() => bar.updateETA(), 1000);
    return {
      tick() {
        count++;
        if (count >= total) {
          total = Math.ceil(count * 1.05) + 1;
          bar.setTotal(total);
        }
        bar.update(count);
      },
      get count() {
        return count;
      },
      stop() {
        clearInterval(timer);
        bar.setTotal(Math.max(count, 1));
        bar.update(count);
        bar.stop();
      },
    };
  }
  const timer = setInterval(() => {
    const pct = opts.estimate > 0 ? ` (~${Math.min(99, Math.floor((100 * count) / opts.estimate))}%)` : '';
    stream.write(`[${opts.label}] ${count} objects${pct}, ${formatDuration(Date.now() - start)} elapsed\n`);
  }, opts.intervalMs ?? 30_000);
  return {
    tick() {
      count++;
    },
    get count() {
      return count;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
