import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runUnitCaptured, unitCounts, unitSkips, type NodeRunner } from '../src/pipeline/unit.ts';
import { selectTests } from '../src/pipeline/guest.ts';
import { parseUnitSkipList, UNIT_SKIPS_FILE, UNIT_SKIPS_PATH } from '../src/results/unitskips.ts';

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

const SKIPPED_TAP = [
  'TAP version 13',
  '# Subtest: a',
  'ok 1 - a',
  '# Subtest: the VM dies with the tool even when the tool is SIGKILLed',
  'ok 2 - the VM dies with the tool even when the tool is SIGKILLed # SKIP no setpriv on this host',
  '1..2',
  '# tests 2',
  '# pass 1',
  '# fail 0',
  '# cancelled 0',
  '# skipped 1',
  '# todo 0',
].join('\n');

test('unitSkips lists skipped and TODO tests with their reasons, subtests included', () => {
  const nested = [
    'TAP version 13',
    '# Subtest: outer',
    '    # Subtest: inner',
    '    ok 1 - inner # SKIP x',
    '    1..1',
    'ok 1 - outer',
    '# Subtest: later',
    'ok 2 - later # TODO not yet',
    '1..2',
  ].join('\n');
  assert.deepEqual(unitSkips(nested), [
    { name: 'inner', reason: 'x' },
    { name: 'later', reason: 'not yet' },
  ]);
  assert.deepEqual(unitSkips(SKIPPED_TAP), [{ name: 'the VM dies with the tool even when the tool is SIGKILLed', reason: 'no setpriv on this host' }]);
});

test('runUnitCaptured: a skipped host unit test fails the run unless tooling/test/allowed-skips.txt lists it for this host', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmview-unit-'));
  writeFileSync(join(dir, 'x.test.ts'), '');
  const calls: (readonly string[])[] = [];
  const node: NodeRunner = async (args) => {
    calls.push(args);
    return { code: 0, stdout: SKIPPED_TAP, stderr: '' };
  };
  const unlisted = await runUnitCaptured(dir, dir, 'x86_64', node);
  assert.ok(calls[0]?.includes('--test-reporter=tap') && calls[0].includes(join(dir, 'x.test.ts')));
  assert.equal(unlisted.ok, false, 'node exited 0, but a test was skipped');
  assert.deepEqual(unlisted.row, { name: 'host unit tests', passed: 1, failed: 1, skipped: 0 });
  assert.deepEqual(unlisted.problems, [
    `host unit test "the VM dies with the tool even when the tool is SIGKILLed" skipped (no setpriv on this host), and ${UNIT_SKIPS_PATH} has no entry for it on x86_64`,
  ]);
  writeFileSync(join(dir, UNIT_SKIPS_FILE), 'x.test.ts | *SIGKILLed | arm64 | r\n');
  assert.equal((await runUnitCaptured(dir, dir, 'x86_64', node)).ok, false, 'an entry for another host arch does not allow it');
  writeFileSync(join(dir, UNIT_SKIPS_FILE), 'x.test.ts | *SIGKILLed | x86_64 | r\n');
  const listed = await runUnitCaptured(dir, dir, 'x86_64', node);
  assert.equal(listed.ok, true);
  assert.deepEqual(listed.row, { name: 'host unit tests', passed: 1, failed: 0, skipped: 1 });
});

test("the repository's host unit skip list parses and names tests of existing files", () => {
  const list = parseUnitSkipList(readFileSync(join(import.meta.dirname, UNIT_SKIPS_FILE), 'utf8'), UNIT_SKIPS_PATH);
  for (const a of list) {
    const text = readFileSync(join(import.meta.dirname, a.file), 'utf8');
    assert.ok(a.test.includes('*') || a.test.includes('?') || text.includes(a.test), `${UNIT_SKIPS_PATH}:${a.line}: ${a.file} has no test "${a.test}"`);
  }
  assert.throws(() => parseUnitSkipList('a.test.ts | t | x86_64\n', 'f.txt'), /f\.txt:1: expected "<test file> \| <test> \| <host arch> \| <reason>"/);
});
