import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unitCounts } from '../src/pipeline/unit.ts';
import { selectTests } from '../src/pipeline/guest.ts';

test('unitCounts reads the summary of node --test-reporter=tap', () => {
  const tap = [
    'TAP version 13',
    '# Subtest: a',
    'ok 1 - a',
    '  ---',
    '  duration_ms: 1.2',
    '  ...',
    '# Subtest: b',
    'not ok 2 - b',
    '1..2',
    '# tests 5',
    '# suites 0',
    '# pass 3',
    '# fail 1',
    '# cancelled 0',
    '# skipped 1',
    '# todo 0',
    '# duration_ms 120.5',
  ].join('\n');
  assert.deepEqual(unitCounts(tap), { passed: 3, failed: 1, skipped: 1 });
});

test('selectTests filters by substring', () => {
  assert.deepEqual(selectTests(['mmview_basic', 'mmview_fork', 'swap'], 'mmview'), ['mmview_basic', 'mmview_fork']);
  assert.deepEqual(selectTests(['a', 'b'], undefined), ['a', 'b']);
  assert.deepEqual(selectTests(['a'], 'zzz'), []);
});

test('tsx, which ./mmview runs the tool with, is a run-time dependency', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  assert.ok(pkg.dependencies?.tsx, 'tsx must be in dependencies: `npm ci --omit=dev` would drop it');
  assert.equal(pkg.devDependencies?.tsx, undefined);
});
