import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runLogged } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { info } from '../util/log.ts';
import type { Source } from '../source/fetch.ts';
import { FIXED_DATE_ENV, IDENTITY, git, gitCheck, rootCommit } from './git.ts';
import { inspectTree, unexportedWork, type SeriesPatch } from './state.ts';
import { refusalMessage } from './advice.ts';

export interface CreateTreeRequest {
  tree: string;
  patchesDir: string;
  series: readonly SeriesPatch[];
  source: Source;
  force: boolean;
  logFile: string;
}

export interface CreatedTree {
  tree: string;
  applied: number;
}

export function rootCommitMessage(source: Pick<Source, 'upstream' | 'package' | 'version'>): string {
  return `Linux ${source.upstream} (Debian ${source.package} ${source.version})`;
}

/**
 * Refuse to delete a tree with work that is not in patches/ (that work would
 * be lost): commits, uncommitted or untracked files, other branches, stashes,
 * also when the tree lacks patches of the series besides.
 */
export async function assertDisposable(tree: string, series: readonly SeriesPatch[]): Promise<void> {
  const work = unexportedWork(await inspectTree(tree), series);
  if (work) throw new UserError(refusalMessage(tree, work));
}

/** Apply the series with git am; a patch that does not apply is named. */
async function applySeries(req: CreateTreeRequest): Promise<number> {
  let applied = 0;
  for (const patch of req.series) {
    const file = join(req.patchesDir, patch.name);
    const r = await runLogged({
      cmd: 'git',
      args: [...IDENTITY, 'am', '-q', '--committer-date-is-author-date', file],
      cwd: req.tree,
      logFile: req.logFile,
    });
    if (r.code !== 0) {
      await git(req.tree, ['am', '--abort']);
      throw new UserError(
        `patch ${patch.name} does not apply to ${req.tree} (${applied} of ${req.series.length} applied; see ${req.logFile})`,
      );
    }
    applied++;
  }
  return applied;
}

/**
 * build/linux = pinned source + root commit + `git am` of every patch in patches/series.
 * With --force, an existing tree of the same source is reset to its root commit instead of
 * extracted again: only files that change get a new time, so the next build stays incremental.
 */
export async function createTree(req: CreateTreeRequest): Promise<CreatedTree> {
  const { tree, source } = req;
  if (existsSync(tree)) {
    if (!req.force) throw new UserError(`${tree} already exists; pass --force to recreate it`);
    await assertDisposable(tree, req.series);
    const root = await rootCommit(tree);
    const subject = (await gitCheck(tree, ['log', '-1', '--format=%s', root])).trim();
    if (subject === rootCommitMessage(source)) {
      info('tree', `resetting ${tree} to its root commit`);
      await git(tree, ['am', '--abort']);
      await gitCheck(tree, ['reset', '-q', '--hard', root], 'git reset');
      await gitCheck(tree, ['clean', '-q', '-ffdx'], 'git clean');
      const applied = await applySeries(req);
      info('tree', `${tree}: ${rootCommitMessage(source)} + ${applied} patch(es) from patches/series`);
      return { tree, applied };
    }
    info('tree', `removing ${tree} (made from "${subject}")`);
    rmSync(tree, { recursive: true, force: true });
  }

  // Extract next to the tree and rename, so an interrupted run never leaves a half tree behind.
  const partial = `${tree}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  info('tree', `extracting ${basename(source.tarball)} into ${tree}`);
  // --touch: files get the current time, so objects built from an older tree are rebuilt.
  const x = await runLogged({ cmd: 'tar', args: ['-xf', source.tarball, '--touch', '-C', partial], logFile: req.logFile });
  if (x.code !== 0) throw new UserError(`extracting ${source.tarball} failed; see ${req.logFile}`);
  const top = join(partial, source.topDir);
  if (!existsSync(top)) throw new UserError(`${basename(source.tarball)} has no top folder ${source.topDir}`);

  info('tree', 'creating the root commit (git add -A -f: Debian\'s .gitignore ignores the top level)');
  await gitCheck(top, ['init', '-q'], 'git init');
  await gitCheck(top, ['config', 'gc.auto', '0']);
  await gitCheck(top, ['add', '-A', '-f'], 'git add');
  await gitCheck(top, ['commit', '-q', '--no-verify', '-m', rootCommitMessage(source)], 'git commit', FIXED_DATE_ENV);
  renameSync(top, tree);
  rmSync(partial, { recursive: true, force: true });

  const applied = await applySeries(req);
  info('tree', `${tree}: ${rootCommitMessage(source)} + ${applied} patch(es) from patches/series`);
  return { tree, applied };
}
