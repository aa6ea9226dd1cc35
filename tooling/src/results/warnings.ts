/**
 * Compiler and linker warnings in a kernel build log, and which of them are
 * in files the patch series touches (pure).
 */

export interface BuildWarning {
  /** Source path relative to the kernel tree, e.g. mm/memory.c; '' when the tool names no file. */
  file: string;
  line: number;
  /** The whole log line. */
  text: string;
}

/** gcc: `<path>:<line>:<col>: warning: ...` (also `error:` is not a warning). */
const GCC = /^(.+?):(\d+):(?:\d+:)? warning: /;
/** modpost, ld and kbuild: `WARNING: modpost: ...`, `ld: warning: ...`, `<file>: warning: ...` without a line. */
const TOOL = /^(WARNING: |.*\bld(\.bfd)?: warning: )/;

/** The tree-relative form of a path gcc printed (absolute, ../linux/..., ./...) (pure). */
export function treeRelative(path: string, tree: string): string {
  const t = tree.replace(/\/+$/, '');
  if (path.startsWith(`${t}/`)) return path.slice(t.length + 1);
  let p = path.replace(/^(\.\/)+/, '');
  // O= builds: gcc sees the sources as ../<tree name>/... or ../../<tree name>/...
  const name = t.split('/').at(-1) ?? '';
  const m = new RegExp(`^(?:\\.\\./)+${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`).exec(p);
  if (m) p = p.slice(m[0].length);
  return p;
}

export function findWarnings(lines: readonly string[], tree: string): BuildWarning[] {
  const out: BuildWarning[] = [];
  for (const text of lines) {
    const g = GCC.exec(text);
    if (g?.[1] !== undefined && g[2] !== undefined) {
      out.push({ file: treeRelative(g[1], tree), line: Number(g[2]), text });
    } else if (TOOL.test(text)) {
      out.push({ file: '', line: 0, text });
    }
  }
  return out;
}

/** Files a `git format-patch` series changes: the b/ side of every `diff --git` line (pure). */
export function touchedFiles(patches: readonly string[]): Set<string> {
  const files = new Set<string>();
  for (const patch of patches) {
    for (const m of patch.matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)) {
      if (m[1]) files.add(m[1]);
      if (m[2]) files.add(m[2]);
    }
  }
  return files;
}

/**
 * The warnings the series is responsible for: in a file it touches, or
 * (modpost, linker) naming one of its symbols.
 */
export function seriesWarnings(warnings: readonly BuildWarning[], touched: ReadonlySet<string>, symbolHint = /mmview/i): BuildWarning[] {
  return warnings.filter((w) => (w.file !== '' ? touched.has(w.file) : symbolHint.test(w.text)));
}
