import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { tailFile } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';

/** Start a stage's log afresh. */
export function resetLog(file: string): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `# mmview ${new Date().toISOString()}\n`);
  return file;
}

const ERROR_LINE = /error|Error|ERROR|\*\*\*|undefined reference|No rule to make target|not found/;

/** The last error lines of a log (or its last lines if none look like errors). */
export function errorTail(file: string, n = 20): string[] {
  return tailFile(file, n, (l) => ERROR_LINE.test(l));
}

/** Print the end of a failed stage's log and fail with one line naming it. */
export function failWithLog(what: string, file: string): never {
  const lines = errorTail(file);
  if (lines.length > 0) process.stderr.write(`${lines.map((l) => `  | ${l}`).join('\n')}\n`);
  throw new UserError(`${what} failed; full log: ${file}`);
}
