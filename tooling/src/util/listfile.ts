/**
 * The "a | b | c | reason" list files of the test suite (the mm selftests'
 * allowed differences, the guest tests' allowed skips): comment and blank
 * lines skipped, three fields and a reason that may hold '|' itself.
 */
import { readFileSync } from 'node:fs';
import { UserError } from './errors.ts';

export interface ListRow {
  fields: [string, string, string];
  reason: string;
  /** 1-based line in the file, for messages. */
  line: number;
}

/** The rows of a list file's text; throws naming file and line on a malformed one (pure). */
export function parseListRows(text: string, file: string, expected: string): ListRow[] {
  const rows: ListRow[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split('|');
    const [a, b, c] = parts.map((f) => f.trim());
    const reason = parts.slice(3).join('|').trim();
    if (parts.length < 4 || !a || !b || !c || !reason) throw new UserError(`${file}:${i + 1}: expected "${expected}", got: ${line}`);
    rows.push({ fields: [a, b, c], reason, line: i + 1 });
  });
  return rows;
}

/** A file's text, or undefined when it cannot be read (a missing list allows nothing). */
export function readTextIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
