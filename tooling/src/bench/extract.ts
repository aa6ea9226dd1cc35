/**
 * Finding a benchmark's JSON document in its console section (pure). The
 * section holds the program's stdout and stderr ("# " progress lines) and
 * possibly kernel messages ("[   12.345678] ...").
 */
import { validateBenchDoc, type BenchDoc } from './schema.ts';

const PRINTK = /^\s*\[\s*\d+\.\d+\]/;
const PROGRESS = /^# /;

/** The validated document and the parsed JSON as printed (kept in results.json). */
export type Extracted = { ok: true; doc: BenchDoc; raw: unknown } | { ok: false; errors: string[] };

/** The document's lines: from the line opening it to the end, without progress and kernel lines. */
export function documentLines(lines: readonly string[]): string[] {
  const start = lines.findIndex((l) => l.trimStart().startsWith('{'));
  if (start < 0) return [];
  return lines.slice(start).filter((l) => !PRINTK.test(l) && !PROGRESS.test(l));
}

/** Parse and validate the JSON document in a program's console lines. */
export function extractBenchDoc(lines: readonly string[]): Extracted {
  const doc = documentLines(lines);
  if (doc.length === 0) return { ok: false, errors: ['no JSON document in the output'] };
  let value: unknown;
  try {
    value = JSON.parse(doc.join('\n'));
  } catch (e) {
    return { ok: false, errors: [`malformed JSON: ${e instanceof Error ? e.message : String(e)}`] };
  }
  const v = validateBenchDoc(value);
  return v.ok ? { ok: true, doc: v.doc, raw: value } : v;
}
