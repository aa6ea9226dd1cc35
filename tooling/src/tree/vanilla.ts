import { existsSync } from 'node:fs';
import type { Source } from '../source/fetch.ts';
import { UserError } from '../util/errors.ts';
import { createTree, rootCommitMessage } from './create.ts';
import { gitCheck, rootCommit } from './git.ts';
import { inspectTree } from './state.ts';

export interface VanillaTreeRequest {
  /** build/vanilla/linux */
  tree: string;
  patchesDir: string;
  source: Source;
  logFile: string;
}

/**
 * The pinned source without the patch series, for the vanilla kernel of the
 * benchmarks: created like build/linux (root commit) with an empty series,
 * and recreated when it was made from another source version. Refuses a tree
 * with commits or changes: it would not be vanilla.
 */
export async function ensureVanillaTree(req: VanillaTreeRequest): Promise<'created' | 'recreated' | 'ready'> {
  const { tree, source } = req;
  const create = (force: boolean) => createTree({ tree, patchesDir: req.patchesDir, series: [], source, force, logFile: req.logFile });
  if (!existsSync(tree)) {
    await create(false);
    return 'created';
  }
  const subject = (await gitCheck(tree, ['log', '-1', '--format=%s', await rootCommit(tree)])).trim();
  if (subject !== rootCommitMessage(source)) {
    await create(true);
    return 'recreated';
  }
  const state = await inspectTree(tree);
  if (state.commits.length > 0 || state.dirty.length > 0) {
    const what = state.commits.length > 0 ? `${state.commits.length} commit(s)` : `changes (${state.dirty.slice(0, 3).join(', ')})`;
    throw new UserError(`${tree} has ${what} on top of the pinned source, so it is not vanilla; remove the folder to recreate it`);
  }
  return 'ready';
}
