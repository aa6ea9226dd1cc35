import { capture, check, type CaptureResult } from '../util/exec.ts';

/** Fixed identity so tree creation and git am work without a global git config. */
export const IDENTITY = ['-c', 'user.name=mmview', '-c', 'user.email=mmview@localhost'];

/** Fixed dates make the root commit reproducible. */
export const FIXED_DATE_ENV = {
  GIT_AUTHOR_DATE: '2025-01-01T00:00:00+0000',
  GIT_COMMITTER_DATE: '2025-01-01T00:00:00+0000',
};

export function git(cwd: string, args: readonly string[], input?: string): Promise<CaptureResult> {
  return capture('git', ['--no-optional-locks', ...IDENTITY, ...args], { cwd, input });
}

export function gitCheck(cwd: string, args: readonly string[], what?: string, env?: NodeJS.ProcessEnv): Promise<string> {
  return check(what ?? `git ${args[0] ?? ''}`, 'git', ['--no-optional-locks', ...IDENTITY, ...args], {
    cwd,
    env: env ? { ...process.env, ...env } : undefined,
  });
}

export interface Commit {
  sha: string;
  subject: string;
}

export async function rootCommit(tree: string): Promise<string> {
  const out = await gitCheck(tree, ['rev-list', '--max-parents=0', 'HEAD'], 'finding the root commit of build/linux');
  const roots = out.split('\n').filter(Boolean);
  return roots[roots.length - 1] ?? '';
}

/** Commits on top of the root commit, oldest first. */
export async function commitsAfterRoot(tree: string, root: string): Promise<Commit[]> {
  const out = await gitCheck(tree, ['log', '--reverse', '--format=%H%x09%s', `${root}..HEAD`]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const tab = l.indexOf('\t');
      return { sha: l.slice(0, tab), subject: l.slice(tab + 1) };
    });
}

/** Parse `git patch-id --stable` output: "<patch-id> <commit>" lines. */
export function parsePatchIds(out: string): Array<{ patchId: string; commit: string }> {
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p.length === 2 && /^[0-9a-f]{40,64}$/.test(p[0] ?? ''))
    .map(([patchId, commit]) => ({ patchId: patchId as string, commit: commit as string }));
}

/** patch-id of each commit of a revision range (commits without a diff get none). */
async function patchIdsOf(tree: string, range: readonly string[]): Promise<Map<string, string>> {
  const log = await gitCheck(tree, ['log', '-p', '--reverse', '--no-color', '--format=commit %H', ...range]);
  const ids = await git(tree, ['patch-id', '--stable'], log);
  const map = new Map<string, string>();
  for (const { patchId, commit } of parsePatchIds(ids.stdout)) map.set(commit, patchId);
  return map;
}

/** patch-id of each commit on top of the root commit (commits without a diff get none). */
export function commitPatchIds(tree: string, root: string): Promise<Map<string, string>> {
  return patchIdsOf(tree, [`${root}..HEAD`]);
}

/** Commits of the branches and tags that HEAD does not contain, with their patch-ids. */
export async function offHeadCommits(tree: string): Promise<{ commits: Commit[]; patchIds: Map<string, string> }> {
  const refs = (await gitCheck(tree, ['for-each-ref', '--format=%(objectname)', 'refs/heads', 'refs/tags'])).split('\n').filter(Boolean);
  if (refs.length === 0) return { commits: [], patchIds: new Map() };
  const range = [...new Set(refs), '--not', 'HEAD'];
  const out = await gitCheck(tree, ['log', '--reverse', '--format=%H%x09%s', ...range]);
  const commits = out
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ sha: l.slice(0, l.indexOf('\t')), subject: l.slice(l.indexOf('\t') + 1) }));
  return { commits, patchIds: commits.length > 0 ? await patchIdsOf(tree, range) : new Map() };
}

/** `git stash list` lines. */
export async function stashes(tree: string): Promise<string[]> {
  return (await gitCheck(tree, ['stash', 'list'])).split('\n').filter(Boolean);
}

export async function patchIdOfText(cwd: string, patch: string): Promise<string | undefined> {
  const r = await git(cwd, ['patch-id', '--stable'], patch);
  return parsePatchIds(r.stdout)[0]?.patchId;
}

/** Uncommitted changes, including new files that Debian's top-level `/*` .gitignore hides. */
export async function dirtyFiles(tree: string): Promise<string[]> {
  const out = await gitCheck(tree, ['status', '--porcelain', '--ignored', '--untracked-files=normal']);
  return out.split('\n').filter(Boolean);
}
