import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../util/errors.ts';
import { commitsAfterRoot, dirtyFiles, gitCheck, rootCommit } from './git.ts';
import { formatSeries } from './series.ts';

export interface ExportResult {
  written: string[];
  removed: string[];
  uncommitted: string[];
}

/** `git format-patch` root..HEAD of the work tree into patches/, replacing the old series. */
export async function exportPatches(tree: string, patchesDir: string, seriesFile: string): Promise<ExportResult> {
  if (!existsSync(join(tree, '.git'))) throw new UserError(`${tree} does not exist; create it with ./mmview tree`);
  const root = await rootCommit(tree);
  const commits = await commitsAfterRoot(tree, root);
  mkdirSync(patchesDir, { recursive: true });
  const removed = readdirSync(patchesDir).filter((f) => f.endsWith('.patch'));
  for (const f of removed) rmSync(join(patchesDir, f));
  let written: string[] = [];
  if (commits.length > 0) {
    const out = await gitCheck(
      tree,
      // A fixed index abbreviation: git's default grows with the object count, and would rewrite every patch.
      ['-c', 'core.abbrev=9', 'format-patch', '-N', '--zero-commit', '--no-signature', '-o', patchesDir, `${root}..HEAD`],
      'git format-patch',
    );
    written = out.split('\n').filter(Boolean).map((p) => basename(p));
  }
  writeFileSync(seriesFile, formatSeries(written));
  return { written, removed, uncommitted: await dirtyFiles(tree) };
}
