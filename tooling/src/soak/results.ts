/**
 * The soak's console output (tests/guest/soak/run-soak.sh): the runner's
 * SOAK-* lines, stress-ng's summary and verify failures, trinity's end, the
 * preload's failures, parsed into one result per tool, and the problems that
 * fail the run (pure).
 */
import type { SoakTool } from './config.ts';

export interface StressNgSummary {
  passed: string[];
  failed: string[];
  skipped: string[];
  untrustworthy: string[];
  /** "stress-ng: fail:" lines (verify failures and other stressor failures). */
  failLines: string[];
  /** "stress-ng: error:" lines. */
  errorLines: string[];
  /** "successful run completed" / "unsuccessful run completed". */
  completed: 'successful' | 'unsuccessful' | undefined;
  /** Bogo operations per stressor (from --metrics-brief). */
  bogoOps: Record<string, number>;
}

export interface TrinitySummary {
  /** Trinity noticed that the kernel became tainted. */
  tainted: string | undefined;
  /** Syscalls done, when trinity printed it. */
  syscalls: number | undefined;
  /** Lines where trinity refused to start or gave up. */
  errors: string[];
}

export interface SoakToolResult {
  tool: SoakTool;
  config: Record<string, string>;
  /** From SOAK-RESULT; undefined when it never came. */
  exit: number | undefined;
  seconds: number | undefined;
  taintBefore: string | undefined;
  taintAfter: string | undefined;
  viewsUnavailable: boolean;
  /** The runner signalled the tool at its deadline (seconds after the start). */
  deadline: number | undefined;
  hang: { after: number; left: number } | undefined;
  unkillable: number | undefined;
  /** MMView: samples of the tool's threads, and how many processes entered their views (the preload's count). */
  views: { samples: number; inview: number; base: number; entered: number } | undefined;
  /** "mmview-inview: FAILED ..." lines. */
  preloadFailures: string[];
  stressNg: StressNgSummary | undefined;
  trinity: TrinitySummary | undefined;
  /** Console line index range [first, last] of this tool's section. */
  firstLine: number;
  lastLine: number;
  /** The section's lines (for excerpts). */
  lines: string[];
}

/** key=value words of a SOAK-* line (pure). */
export function parseFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/(\w+)=(\S*)/g)) out[m[1] as string] = m[2] as string;
  return out;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined;
  return Number(v);
}

/** "a (1) b (2)" of a stress-ng summary line -> [a, b] (pure). */
function stressorList(text: string): string[] {
  return [...text.matchAll(/([\w-]+) \(\d+\)/g)].map((m) => m[1] as string);
}

const SN = /stress-ng: (\w+):\s*\[\d+\]\s?(.*)$/;

/** stress-ng's own lines of a section (pure). */
export function parseStressNg(lines: readonly string[]): StressNgSummary {
  const s: StressNgSummary = { passed: [], failed: [], skipped: [], untrustworthy: [], failLines: [], errorLines: [], completed: undefined, bogoOps: {} };
  for (const line of lines) {
    const m = SN.exec(line);
    if (!m) continue;
    const level = m[1] as string;
    const text = (m[2] as string).trim();
    if (level === 'fail') s.failLines.push(line.slice(line.indexOf('stress-ng:')));
    else if (level === 'error') s.errorLines.push(line.slice(line.indexOf('stress-ng:')));
    else if (level === 'info') {
      let r: RegExpExecArray | null;
      if ((r = /^(passed|failed|skipped): \d+(?::(.*))?$/.exec(text))) {
        const list = stressorList(r[2] ?? '');
        if (r[1] === 'passed') s.passed.push(...list);
        else if (r[1] === 'failed') s.failed.push(...list);
        else s.skipped.push(...list);
      } else if ((r = /^metrics untrustworthy: \d+(?::(.*))?$/.exec(text))) s.untrustworthy.push(...stressorList(r[1] ?? ''));
      else if (/^successful run completed/.test(text)) s.completed = 'successful';
      else if (/^unsuccessful run completed/.test(text)) s.completed = 'unsuccessful';
    } else if (level === 'metrc') {
      const r = /^([a-z][\w-]*)\s+(\d+)\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+/.exec(text);
      if (r) s.bogoOps[r[1] as string] = Number(r[2]);
    }
  }
  return s;
}

/** Trinity's lines of a section (pure). */
export function parseTrinity(lines: readonly string[]): TrinitySummary {
  const t: TrinitySummary = { tainted: undefined, syscalls: undefined, errors: [] };
  for (const line of lines) {
    if (/kernel became tainted|kernel is tainted|Kernel was tainted/i.test(line)) t.tainted ??= line.trim();
    const r = /Ran (\d+) syscalls/.exec(line);
    if (r) t.syscalls = Number(r[1]);
    if (/Don't run as root|couldn't|Couldn't|Bailing main loop because (?!ctrl-c)/i.test(line) && !/ctrl-c/i.test(line)) t.errors.push(line.trim());
  }
  return t;
}

const CONFIG = /SOAK-CONFIG (tool=\S+.*)$/;
const RESULT = /SOAK-RESULT (.*)$/;
const OTHER = /SOAK-(VIEWS|DEADLINE|HANG|UNKILLABLE) (.*)$/;
const PRELOAD_FAILED = /mmview-inview: FAILED .*/;

function emptyResult(tool: SoakTool, config: Record<string, string>, first: number): SoakToolResult {
  return {
    tool,
    config,
    exit: undefined,
    seconds: undefined,
    taintBefore: undefined,
    taintAfter: undefined,
    viewsUnavailable: false,
    deadline: undefined,
    hang: undefined,
    unkillable: undefined,
    views: undefined,
    preloadFailures: [],
    stressNg: undefined,
    trinity: undefined,
    firstLine: first,
    lastLine: first,
    lines: [],
  };
}

/** Every tool section of a console (SOAK-CONFIG to SOAK-RESULT), in order (pure). */
export function parseSoak(lines: readonly string[]): SoakToolResult[] {
  const out: SoakToolResult[] = [];
  let cur: SoakToolResult | undefined;
  const finish = (): void => {
    if (!cur) return;
    if (cur.tool === 'stress-ng') cur.stressNg = parseStressNg(cur.lines);
    else cur.trinity = parseTrinity(cur.lines);
    cur = undefined;
  };
  lines.forEach((line, i) => {
    let m: RegExpExecArray | null;
    if (line.includes('SOAK-CONFIG') && (m = CONFIG.exec(line))) {
      finish();
      const config = parseFields(m[1] as string);
      const tool = config.tool === 'trinity' ? 'trinity' : 'stress-ng';
      cur = emptyResult(tool, config, i);
      out.push(cur);
      return;
    }
    if (!cur) return;
    cur.lastLine = i;
    cur.lines.push(line);
    const pre = PRELOAD_FAILED.exec(line);
    if (pre) cur.preloadFailures.push(pre[0]);
    if (!line.includes('SOAK-')) return;
    if ((m = RESULT.exec(line))) {
      const f = parseFields(m[1] as string);
      cur.exit = num(f.exit);
      cur.seconds = num(f.seconds);
      const [before, after] = (f.taint ?? '').split('->');
      cur.taintBefore = before || undefined;
      cur.taintAfter = after || undefined;
      cur.viewsUnavailable = f.views === 'unavailable';
      finish();
      return;
    }
    if ((m = OTHER.exec(line))) {
      const f = parseFields(m[2] as string);
      if (m[1] === 'VIEWS') cur.views = { samples: num(f.samples) ?? 0, inview: num(f.inview) ?? 0, base: num(f.base) ?? 0, entered: num(f.entered) ?? 0 };
      else if (m[1] === 'DEADLINE') cur.deadline = num(f.at);
      else if (m[1] === 'HANG') cur.hang = { after: num(f.after) ?? 0, left: num(f.left) ?? 0 };
      else cur.unkillable = num(f.left) ?? 0;
    }
  });
  finish();
  return out;
}

/** stress-ng exit statuses that fail the soak: 0 all passed, 3 lack of resources, 4 not implemented are not failures. */
const STRESS_NG_OK = new Set([0, 3, 4]);

function taintChanged(r: SoakToolResult): boolean {
  return r.taintBefore !== undefined && r.taintAfter !== undefined && r.taintBefore !== r.taintAfter;
}

/** What fails this tool's run, one line each (pure). */
export function soakProblems(r: SoakToolResult): string[] {
  const p: string[] = [];
  if (r.viewsUnavailable || r.preloadFailures.length > 0) {
    const n = r.preloadFailures.length;
    p.push(`${r.tool}: ${n > 0 ? `${n} process(es) could not enter views` : 'views are unavailable'}${n > 0 ? `: ${r.preloadFailures[0]}` : ''}`);
  }
  if (r.exit === undefined) {
    p.push(`${r.tool}: did not finish (no SOAK-RESULT: the guest crashed, hung or ran out of time)`);
    return p;
  }
  if (r.viewsUnavailable) return p;
  if (r.unkillable !== undefined) p.push(`${r.tool}: ${r.unkillable} process(es) survived SIGKILL (stuck in the kernel)`);
  else if (r.hang) p.push(`${r.tool}: hang: ${r.hang.left} process(es) still running ${r.hang.after} s after the start (${r.config.grace ?? '?'} s past the deadline), SIGKILLed`);
  if (r.config.views === 'off') {
    if (r.views && (r.views.inview > 0 || r.views.entered > 0)) {
      p.push(`${r.tool}: control run outside views, yet ${r.views.inview} of ${r.views.samples} samples of MMView: were inside a view`);
    }
  } else if (r.views && r.views.inview === 0 && r.views.entered === 0) {
    p.push(`${r.tool}: no process entered views (${r.views.samples} samples of MMView:, none inside a view)`);
  }
  if (taintChanged(r)) p.push(`${r.tool}: the kernel became tainted (${r.taintBefore} -> ${r.taintAfter})`);
  if (r.tool === 'stress-ng' && r.stressNg) {
    const s = r.stressNg;
    if (s.failLines.length > 0) p.push(`${r.tool}: ${s.failLines.length} failure line(s), first: ${s.failLines[0]}`);
    if (s.failed.length > 0) p.push(`${r.tool}: stressor(s) failed: ${s.failed.join(', ')}`);
    if (!STRESS_NG_OK.has(r.exit) && !r.hang && s.failLines.length === 0 && s.failed.length === 0) {
      p.push(`${r.tool}: exited with status ${r.exit}${s.errorLines[0] ? `: ${s.errorLines[0]}` : ''}`);
    }
    if (s.completed === undefined && !r.hang) p.push(`${r.tool}: printed no "run completed" line`);
  }
  if (r.tool === 'trinity' && r.trinity) {
    const t = r.trinity;
    if (t.tainted) p.push(`${r.tool}: ${t.tainted}`);
    if (t.errors.length > 0) p.push(`${r.tool}: ${t.errors[0]}`);
    if (!r.hang && r.exit !== 0 && !t.tainted && t.errors.length === 0) p.push(`${r.tool}: exited with status ${r.exit}`);
  }
  return p;
}

/** One line about a tool's run for the log (pure). */
export function describeSoak(r: SoakToolResult): string {
  const parts: string[] = [];
  if (r.seconds !== undefined) parts.push(`${r.seconds} s`);
  if (r.tool === 'stress-ng' && r.stressNg) {
    const s = r.stressNg;
    parts.push(`${s.passed.length} stressor(s) passed, ${s.failed.length} failed, ${s.skipped.length} skipped`);
    const zero = Object.entries(s.bogoOps).filter(([, n]) => n === 0).map(([k]) => k);
    if (zero.length > 0) parts.push(`no bogo op done: ${zero.join(', ')}`);
    if (s.skipped.length > 0) parts.push(`skipped: ${s.skipped.join(', ')}`);
  }
  if (r.tool === 'trinity') {
    if (r.config.seed) parts.push(`seed ${r.config.seed}`);
    if (r.trinity?.syscalls !== undefined) parts.push(`${r.trinity.syscalls} syscalls`);
  }
  if (r.views) parts.push(`${r.views.entered} process(es) entered views; MMView: samples ${r.views.inview} in a view, ${r.views.base} in the base`);
  if (r.deadline !== undefined) parts.push(`stopped by the runner at ${r.deadline} s`);
  if (r.exit !== undefined) parts.push(`exit ${r.exit}`);
  return `${r.tool}: ${parts.join('; ')}`;
}
