import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'tap-parser';
import { capture, type CaptureResult } from '../util/exec.ts';
import type { ArchName } from '../arch.ts';
import type { Row } from '../results/summary.ts';
import type { SkippedTest } from '../results/tap.ts';
import { judgeUnitSkips, readUnitSkipList, UNIT_SKIPS_FILE, type UnitCounts } from '../results/unitskips.ts';

export function unitTestFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(dir, f));
}

function nodeTestArgs(files: readonly string[], reporter?: string): string[] {
  return ['--import', 'tsx', '--test', ...(reporter ? [`--test-reporter=${reporter}`] : []), ...files];
}

/** `./mmview unit`: the host unit tests with node's own reporter on the terminal. */
export function runUnitInteractive(repo: string, dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeTestArgs(unitTestFiles(dir)), { cwd: repo, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

export interface UnitRun {
  row: Row;
  ok: boolean;
  /** The TAP output, for showing failures. */
  output: string;
  /** Why the run failed besides failed tests (an unlisted skip), one line each. */
  problems: string[];
}

/** Counts from the summary comments of node's TAP reporter ("# pass 12"). */
export function unitCounts(tap: string): UnitCounts {
  const comments: string[] = [];
  const parser = new Parser();
  parser.on('comment', (c: string) => comments.push(c));
  parser.end(tap);
  const count = (key: string): number => {
    for (const c of comments) {
      const m = new RegExp(`^#\\s*${key}\\s+(\\d+)\\s*$`).exec(c.trim());
      if (m) return Number(m[1]);
    }
    return 0;
  };
  return { passed: count('pass'), failed: count('fail') + count('cancelled'), skipped: count('skipped') + count('todo') };
}

/** The skipped and TODO tests of node's TAP output, subtests included, with their reasons (pure). */
export function unitSkips(tap: string): SkippedTest[] {
  const skips: SkippedTest[] = [];
  const listen = (p: Parser): void => {
    p.on('assert', (point: { name?: unknown; skip?: unknown; todo?: unknown }) => {
      const directive = point.skip !== undefined && point.skip !== false ? point.skip : point.todo;
      if (directive === undefined || directive === false) return;
      skips.push({ name: typeof point.name === 'string' ? point.name : '?', reason: typeof directive === 'string' ? directive : '' });
    });
    // A subtest's points come from a child parser.
    p.on('child', listen);
  };
  const parser = new Parser();
  listen(parser);
  parser.end(tap);
  return skips;
}

/** Runs node with these arguments in this folder; tests replace it (the real one runs every unit test). */
export type NodeRunner = (args: readonly string[], cwd: string) => Promise<CaptureResult>;

const runNode: NodeRunner = (args, cwd) => capture(process.execPath, args, { cwd });

/**
 * The host unit tests for `./mmview test`: captured, counted as one summary
 * row. A skip fails the row unless dir/allowed-skips.txt lists it for hostArch.
 */
export async function runUnitCaptured(repo: string, dir: string, hostArch: ArchName, run: NodeRunner = runNode): Promise<UnitRun> {
  const r = await run(nodeTestArgs(unitTestFiles(dir), 'tap'), repo);
  const raw = unitCounts(r.stdout);
  if (r.code !== 0 && raw.failed === 0) raw.failed = 1;
  // node exits 0 with skipped tests; a skipped test checked nothing, so it counts against the run.
  const judged = judgeUnitSkips(raw, unitSkips(r.stdout), readUnitSkipList(join(dir, UNIT_SKIPS_FILE)), hostArch);
  return {
    row: { name: 'host unit tests', ...judged.counts },
    ok: r.code === 0 && judged.problems.length === 0,
    output: r.stdout + r.stderr,
    problems: judged.problems,
  };
}
