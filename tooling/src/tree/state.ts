import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { commitPatchIds, commitsAfterRoot, dirtyFiles, patchIdOfText, rootCommit, type Commit } from './git.ts';
import { readSeries } from './series.ts';

export interface TreeCommit extends Commit {
  patchId: string | undefined;
}

export interface SeriesPatch {
  name: string;
  patchId: string | undefined;
}

export interface TreeInfo {
  commits: TreeCommit[];
  dirty: string[];
}

export type TreeVerdict =
  | { kind: 'in-sync' }
  /** The tree has commits or changes that patches/ lacks (series itself fully applied). */
  | { kind: 'unexported'; extra: TreeCommit[]; dirty: boolean }
  /** patches/series has patches the tree lacks. */
  | { kind: 'lacking'; missing: SeriesPatch[] };

/** Compare the work tree's commits with patches/series by patch-id (pure). */
export function compareTree(tree: TreeInfo, series: readonly SeriesPatch[]): TreeVerdict {
  const inTree = new Set(tree.commits.map((c) => c.patchId).filter((id): id is string => id !== undefined));
  const missing = series.filter((p) => p.patchId !== undefined && !inTree.has(p.patchId));
  if (missing.length > 0) return { kind: 'lacking', missing };
  const inSeries = new Set(series.map((p) => p.patchId).filter((id): id is string => id !== undefined));
  const extra = tree.commits.filter((c) => c.patchId !== undefined && !inSeries.has(c.patchId));
  const dirty = tree.dirty.length > 0;
  if (extra.length > 0 || dirty) return { kind: 'unexported', extra, dirty };
  return { kind: 'in-sync' };
}

export async function inspectTree(tree: string): Promise<TreeInfo> {
  if (!existsSync(join(tree, '.git'))) throw new UserError(`${tree} exists but is not a git work tree; move it away`);
  const root = await rootCommit(tree);
  const commits = await commitsAfterRoot(tree, root);
  const ids = await commitPatchIds(tree, root);
  return {
    commits: commits.map((c) => ({ ...c, patchId: ids.get(c.sha) })),
    dirty: await dirtyFiles(tree),
  };
}

export async function readSeriesPatches(patchesDir: string, seriesFile: string): Promise<SeriesPatch[]> {
  const names = readSeries(seriesFile);
  const out: SeriesPatch[] = [];
  for (const name of names) {
    const file = join(patchesDir, name);
    if (!existsSync(file)) throw new UserError(`patches/series lists ${name}, but ${file} does not exist`);
    out.push({ name, patchId: await patchIdOfText(patchesDir, readFileSync(file, 'utf8')) });
  }
  return out;
}

/** One line describing unexported work (for warnings and refusals). */
export function describeUnexported(v: { extra: TreeCommit[]; dirty: boolean }): string {
  const parts: string[] = [];
  if (v.extra.length > 0) parts.push(`${v.extra.length} commit(s) not in patches/ (first: "${v.extra[0]?.subject ?? ''}")`);
  if (v.dirty) parts.push('uncommitted changes');
  return parts.join(' and ');
}
