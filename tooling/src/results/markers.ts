/** Guest console markers written by /init (see image/init.ts). */

export interface ProgramRun {
  name: string;
  /** Console lines between MMVIEW-BEGIN and MMVIEW-END (program output, plus any kernel messages). */
  lines: string[];
  /** Exit status; undefined when MMVIEW-END never came (crash, hang, VM timeout). */
  status: number | undefined;
  /** /init's per-program timeout fired. */
  timedOut: boolean;
}

export type MarkerEvent =
  | { kind: 'begin'; name: string }
  | { kind: 'end'; program: ProgramRun }
  | { kind: 'done' }
  | { kind: 'run-begin' }
  | { kind: 'exit'; status: number };

const BEGIN = /MMVIEW-BEGIN (\S+)\s*$/;
const END = /MMVIEW-END (\S+) (\d+)\s*$/;
const TIMEOUT = /MMVIEW-TIMEOUT (\S+) (\d+)\s*$/;
const DONE = /MMVIEW-DONE\s*$/;
const RUN_BEGIN = /MMVIEW-RUN-BEGIN\s*$/;
const EXIT = /MMVIEW-EXIT (\d+)\s*$/;

/** Follows the console line by line (usable live and after the fact). */
export class MarkerTracker {
  readonly programs: ProgramRun[] = [];
  done = false;
  runStarted = false;
  runExit: number | undefined;
  private current: ProgramRun | undefined;

  /** Feed one console line; returns the marker event it carried, if any. */
  push(line: string): MarkerEvent | undefined {
    const m = (re: RegExp): RegExpExecArray | null => (line.includes('MMVIEW-') ? re.exec(line) : null);
    // A marker may follow output that did not end with a newline: keep that part as output.
    const keepPrefix = (match: RegExpExecArray): void => {
      const prefix = line.slice(0, match.index);
      if (prefix.trim().length > 0) this.current?.lines.push(prefix);
    };
    let r: RegExpExecArray | null;
    if ((r = m(BEGIN))) {
      this.closeUnfinished();
      this.current = { name: r[1] as string, lines: [], status: undefined, timedOut: false };
      this.programs.push(this.current);
      return { kind: 'begin', name: this.current.name };
    }
    if ((r = m(TIMEOUT)) && this.current) {
      keepPrefix(r);
      this.current.timedOut = true;
      return undefined;
    }
    if ((r = m(END)) && this.current && this.current.name === r[1]) {
      keepPrefix(r);
      this.current.status = Number(r[2]);
      const program = this.current;
      this.current = undefined;
      return { kind: 'end', program };
    }
    if ((r = m(DONE))) {
      keepPrefix(r);
      this.closeUnfinished();
      this.done = true;
      return { kind: 'done' };
    }
    if (m(RUN_BEGIN)) {
      this.runStarted = true;
      return { kind: 'run-begin' };
    }
    if ((r = m(EXIT))) {
      this.runExit = Number(r[1]);
      return { kind: 'exit', status: this.runExit };
    }
    this.current?.lines.push(line);
    return undefined;
  }

  private closeUnfinished(): void {
    this.current = undefined;
  }
}

export function parseMarkers(lines: readonly string[]): MarkerTracker {
  const t = new MarkerTracker();
  for (const l of lines) t.push(l);
  return t;
}
