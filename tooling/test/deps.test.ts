/**
 * ./mmview runs the tool with `node --import tsx`, so tsx must survive
 * `npm ci --omit=dev`. Asked of npm itself (offline), not of package.json's
 * text: npm decides what a production install keeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

interface LsEntry {
  version?: string;
  missing?: boolean;
}

/** `npm ls --omit=dev <name>`: the exit status and the top-level entries npm lists. */
function productionLs(name: string, extra: readonly string[] = []): { status: number | null; deps: Record<string, LsEntry> } {
  const r = spawnSync('npm', ['ls', '--omit=dev', '--offline', '--json', ...extra, name], {
    cwd: ROOT,
    encoding: 'utf8',
    // No update check: the test must not need the network.
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  assert.equal(r.error, undefined, `npm ls could not run: ${String(r.error)}`);
  const tree = JSON.parse(r.stdout || '{}') as { dependencies?: Record<string, LsEntry> };
  return { status: r.status, deps: tree.dependencies ?? {} };
}

test('tsx is in the production tree of the installed node_modules and package.json', () => {
  const { status, deps } = productionLs('tsx');
  assert.ok(deps.tsx?.version && deps.tsx.missing !== true, '`npm ls --omit=dev tsx` does not list tsx: `npm ci --omit=dev` would drop it');
  assert.equal(status, 0);
});

test('tsx is in the production tree of package-lock.json, which `npm ci` installs from', () => {
  const { status, deps } = productionLs('tsx', ['--package-lock-only']);
  assert.ok(deps.tsx?.version, '`npm ls --omit=dev --package-lock-only tsx` does not list tsx');
  assert.equal(status, 0);
  // npm ls recomputes dev flags from package.json; the lock's own flag is what a stale lock keeps.
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { dev?: boolean }> };
  const entry = lock.packages?.['node_modules/tsx'];
  assert.ok(entry, 'package-lock.json has no node_modules/tsx');
  assert.notEqual(entry.dev, true, 'package-lock.json marks tsx dev-only');
});
