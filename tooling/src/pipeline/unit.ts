import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'tap-parser';
import { capture } from '../util/exec.ts';
import type { Row } from '../results/summary.ts';

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
}

/** Counts from the summary comments of node's TAP reporter ("# pass 12"). */
export function unitCounts(tap: string): { passed: number; failed: number; skipped: number } {
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

/** The host unit tests for `./mmview test`: captured, counted as one summary row. */
export async function runUnitCaptured(repo: string, dir: string): Promise<UnitRun> {
  const r = await capture(process.execPath, nodeTestArgs(unitTestFiles(dir), 'tap'), { cwd: repo });
  const counts = unitCounts(r.stdout);
  if (r.code !== 0 && counts.failed === 0) counts.failed = 1;
  return {
    row: { name: 'host unit tests', ...counts },
    ok: r.code === 0,
    output: r.stdout + r.stderr,
  };
}
