/**
 * The words for a work tree that differs from patches/: what it holds that
 * patches/ lacks, how to keep it, and what a build or `tree --force` says
 * about it (pure, one line each).
 */
import type { TreeVerdict, UnexportedWork } from './state.ts';

/** One line describing unexported work (for warnings and refusals). */
export function describeUnexported(w: UnexportedWork): string {
  const parts: string[] = [];
  if (w.extra.length > 0) parts.push(`${w.extra.length} commit(s) not in patches/ (first: "${w.extra[0]?.subject ?? ''}")`);
  if (w.dirty) parts.push('uncommitted changes');
  if (w.offHead.length > 0) parts.push(`${w.offHead.length} commit(s) on other branches or tags (first: "${w.offHead[0]?.subject ?? ''}")`);
  if (w.stashes > 0) parts.push(`${w.stashes} stash(es)`);
  return parts.join(' and ');
}

/** How to get the work into patches/ without losing it. */
export function keepAdvice(w: UnexportedWork): string {
  const steps: string[] = [];
  if (w.extra.length > 0 || w.dirty) steps.push(`${w.dirty ? 'commit your changes (git add -f for new files), then ' : ''}run ./mmview export first`);
  if (w.offHead.length > 0 || w.stashes > 0) steps.push('move other branches and stashes onto HEAD or drop them first (export writes only the commits of HEAD)');
  return steps.join('; ');
}

/** Why `tree --force` does not recreate the tree. */
export function refusalMessage(tree: string, w: UnexportedWork): string {
  return `refusing to recreate ${tree}: it has ${describeUnexported(w)}, which patches/ does not hold; ${keepAdvice(w)}`;
}

export type TreeReport = { level: 'ok' | 'warn' | 'error'; text: string };

/** What a build says about build/linux compared with patches/series (`rel`: the tree as shown). */
export function treeReport(rel: string, verdict: TreeVerdict, seriesLength: number): TreeReport {
  if (verdict.kind === 'in-sync') return { level: 'ok', text: `${rel} matches patches/series (${seriesLength} patch(es))` };
  if (verdict.kind === 'unexported') {
    return { level: 'warn', text: `${rel} has work not exported to patches/ (run ./mmview export): ${describeUnexported(verdict.work)}` };
  }
  const lacks = `${rel} lacks ${verdict.missing.length} patch(es) of patches/series (first: ${verdict.missing[0]?.name ?? '?'})`;
  if (verdict.work === undefined) return { level: 'error', text: `${lacks}; run ./mmview tree --force to recreate it` };
  return {
    level: 'error',
    text:
      `${lacks} and has ${describeUnexported(verdict.work)} (an amended or rebased patch looks like this); ` +
      `to keep that work, ${keepAdvice(verdict.work)} (it replaces patches/ with the tree's commits: review git diff patches/), then build again`,
  };
}
