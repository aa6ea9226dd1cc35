import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { commitPatchIds, commitsAfterRoot, dirtyFiles, offHeadCommits, patchIdOfText, rootCommit, stashes, type Commit } from './git.ts';
import { readSeries } from './series.ts';

export interface TreeCommit extends Commit {
  patchId: string | undefined;
}

export interface SeriesPatch {
  name: string;
  patchId: string | undefined;
}

export interface TreeInfo {
  /** Commits on top of the root commit, on HEAD, oldest first. */
  commits: TreeCommit[];
  /** `git status --porcelain --ignored` lines: uncommitted, untracked and ignored files. */
  dirty: string[];
  /** Commits of other branches and tags that HEAD lacks (absent: none looked at). */
  offHead?: TreeCommit[];
  /** `git stash list` lines (absent: none looked at). */
  stashes?: string[];
}

/** Work in the tree that patches/ does not hold: it is lost if the tree is recreated. */
export interface UnexportedWork {
  /** Commits on HEAD whose patch is not in patches/series. */
  extra: TreeCommit[];
  /** Uncommitted, untracked or ignored files. */
  dirty: boolean;
  /** Commits on other branches or tags, not on HEAD and not in patches/series. */
  offHead: TreeCommit[];
  stashes: number;
}

export type TreeVerdict =
  | { kind: 'in-sync' }
  /** The tree has commits or changes that patches/ lacks (series itself fully applied). */
  | { kind: 'unexported'; work: UnexportedWork }
  /** patches/series has patches the tree lacks; `work`: what the tree has besides (undefined: nothing). */
  | { kind: 'lacking'; missing: SeriesPatch[]; work: UnexportedWork | undefined };

/** What the tree holds that patches/series does not (pure); undefined when nothing. */
export function unexportedWork(tree: TreeInfo, series: readonly SeriesPatch[]): UnexportedWork | undefined {
  const inSeries = new Set(series.map((p) => p.patchId).filter((id): id is string => id !== undefined));
  const foreign = (c: TreeCommit): boolean => c.patchId !== undefined && !inSeries.has(c.patchId);
  const work: UnexportedWork = {
    extra: tree.commits.filter(foreign),
    dirty: tree.dirty.length > 0,
    offHead: (tree.offHead ?? []).filter(foreign),
    stashes: tree.stashes?.length ?? 0,
  };
  const any = work.extra.length > 0 || work.dirty || work.offHead.length > 0 || work.stashes > 0;
  return any ? work : undefined;
}

/** Compare the work tree's commits with patches/series by patch-id (pure). */
export function compareTree(tree: TreeInfo, series: readonly SeriesPatch[]): TreeVerdict {
  const inTree = new Set(tree.commits.map((c) => c.patchId).filter((id): id is string => id !== undefined));
  const missing = series.filter((p) => p.patchId !== undefined && !inTree.has(p.patchId));
  const work = unexportedWork(tree, series);
  if (missing.length > 0) return { kind: 'lacking', missing, work };
  if (work) return { kind: 'unexported', work };
  return { kind: 'in-sync' };
}

export async function inspectTree(tree: string): Promise<TreeInfo> {
  if (!existsSync(join(tree, '.git'))) throw new UserError(`${tree} exists but is not a git work tree; move it away`);
  const root = await rootCommit(tree);
  const commits = await commitsAfterRoot(tree, root);
  const ids = await commitPatchIds(tree, root);
  const other = await offHeadCommits(tree);
  return {
    commits: commits.map((c) => ({ ...c, patchId: ids.get(c.sha) })),
    dirty: await dirtyFiles(tree),
    offHead: other.commits.map((c) => ({ ...c, patchId: other.patchIds.get(c.sha) })),
    stashes: await stashes(tree),
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
