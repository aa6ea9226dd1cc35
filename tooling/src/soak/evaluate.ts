/**
 * Verdicts of the soak: one row per tool (in `test`, from the program's
 * MMVIEW-BEGIN/END section), and the whole soak run of `./mmview soak` with
 * the kernel splats of its console attributed to the tool that was running.
 */
import type { ProgramRun } from '../results/markers.ts';
import type { Splat } from '../results/splat.ts';
import { oneRowResult, type ProgramResult } from '../results/tap.ts';
import { SOAK_PREFIX, SOAK_TOOLS, soakRunName, type SoakTool } from './config.ts';
import { parseSoak, soakProblems, type SoakToolResult } from './results.ts';

/** A soak tool's run inside `test` as a result row (pure). */
export function evaluateSoakProgram(run: ProgramRun, timeoutSeconds?: number): ProgramResult {
  const tool = run.name.slice(SOAK_PREFIX.length);
  const parsed = parseSoak(run.lines).find((r) => r.tool === tool);
  const problems: string[] = [];
  if (run.status === undefined) problems.push('did not finish (no MMVIEW-END: guest crashed, hung or the VM timed out)');
  else if (run.timedOut) problems.push(`killed by the per-program timeout${timeoutSeconds ? ` (${timeoutSeconds} s)` : ''}`);
  if (!parsed) {
    if (problems.length === 0) problems.push(`printed no SOAK-CONFIG line for ${tool} (exit ${run.status})`);
  } else {
    problems.push(...soakProblems(parsed).map((p) => p.replace(new RegExp(`^${tool}: `), '')));
  }
  if (run.status !== undefined && run.status !== 0 && problems.length === 0) problems.push(`the runner exited with status ${run.status}`);
  return oneRowResult(
    run.name,
    run.status,
    problems.map((p) => `${run.name}: ${p}`),
  );
}

export interface SoakVerdict {
  tools: SoakToolResult[];
  /** Splats with when they were printed: 'during <tool>', 'between <a> and <b>', 'at boot', 'after <tool> ...'. */
  splatsBy: Array<{ splat: Splat; during: string }>;
  problems: string[];
  ok: boolean;
}

export interface GuestEnd {
  done: boolean;
  vmTimedOut: boolean;
  panicked: boolean;
}

/** Which section a console line belongs to (pure). */
function sectionOf(line: number, tools: readonly SoakToolResult[]): string {
  const i = tools.findLastIndex((t) => t.firstLine <= line);
  const t = tools[i];
  if (!t) return 'at boot';
  if (line <= t.lastLine) return `during ${t.tool}`;
  const next = tools[i + 1];
  return next ? `between ${t.tool} and ${next.tool}` : `after ${t.tool} (the end of the soak)`;
}

/** The verdict of a whole soak console (pure). */
export function judgeSoak(lines: readonly string[], splats: readonly Splat[], end: GuestEnd, expected: readonly SoakTool[] = SOAK_TOOLS): SoakVerdict {
  const tools = parseSoak(lines);
  const problems: string[] = [];
  for (const t of tools) problems.push(...soakProblems(t));
  for (const tool of expected) if (!tools.some((t) => t.tool === tool)) problems.push(`${tool}: did not run (no SOAK-CONFIG for ${soakRunName(tool)})`);
  const splatsBy = splats.map((splat) => ({ splat, during: sectionOf(splat.line, tools) }));
  for (const { splat, during } of splatsBy) problems.push(`kernel splat (${splat.kind}) ${during}: ${splat.text.replace(/^\[\s*\d+\.\d+\]\s*/, '').trim()}`);
  if (end.vmTimedOut) problems.push('the VM timed out (the guest hung or the soak ran far past its time)');
  else if (end.panicked) problems.push('the guest kernel panicked');
  else if (!end.done) problems.push('the guest stopped before the soak finished (no MMVIEW-DONE)');
  return { tools, splatsBy, problems, ok: problems.length === 0 };
}
