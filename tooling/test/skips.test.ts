import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluateProgram, parseTap } from '../src/results/tap.ts';
import { judgeSkips, parseSkipList, SKIPS_PATH } from '../src/results/skips.ts';
import { summarize } from '../src/results/summary.ts';
import { programJudge } from '../src/pipeline/verdict.ts';

const SKIPPING = ['TAP version 13', '1..3', 'ok 1 a.one', 'ok 2 a.two # SKIP no protection keys: Function not implemented', 'ok 3 b.three # SKIP KSM not configured', '# PASSED: 3 / 3 tests passed.'];
const run = (lines: string[]) => ({ name: 'mmview_x_test', lines, status: 0, timedOut: false });

test('parseTap lists skipped points with their reasons, and a skipped plan as "*"', () => {
  assert.deepEqual(parseTap(SKIPPING).skips, [
    { name: 'a.two', reason: 'no protection keys: Function not implemented' },
    { name: 'b.three', reason: 'KSM not configured' },
  ]);
  assert.deepEqual(parseTap(['1..0 # SKIP no views here']).skips, [{ name: '*', reason: 'no views here' }]);
});

test('judgeSkips: a skip without an entry fails the program, naming the test, reason, arch and file', () => {
  const list = parseSkipList('mmview_x_test | a.two | arm64 | no pkeys on arm64\n');
  const r = judgeSkips(evaluateProgram(run(SKIPPING)), list, 'arm64/max');
  assert.equal(r.passed, 1);
  assert.equal(r.skipped, 1);
  assert.equal(r.failed, 1);
  assert.deepEqual(r.problems, [`mmview_x_test: b.three skipped (KSM not configured), and ${SKIPS_PATH} has no entry for it on arm64/max`]);
});

test('judgeSkips: an entry for another arch does not allow the skip; patterns and "*" do', () => {
  const list = parseSkipList('mmview_x_test | a.two | arm64 | r\nmmview_x_test | b.* | x86_64,arm64/max | r\n');
  const x86 = judgeSkips(evaluateProgram(run(SKIPPING)), list, 'x86_64');
  assert.equal(x86.failed, 1);
  assert.match(x86.problems[0] ?? '', /a\.two skipped/);
  const max = judgeSkips(evaluateProgram(run(SKIPPING)), list, 'arm64/max');
  assert.deepEqual([max.failed, max.skipped], [0, 2]);
  const a57 = judgeSkips(evaluateProgram(run(SKIPPING)), list, 'arm64/cortex-a57');
  assert.deepEqual([a57.failed, a57.skipped], [1, 1]);
  const all = judgeSkips(evaluateProgram(run(SKIPPING)), parseSkipList('mmview_x_test | * | * | r'), 'x86_64');
  assert.deepEqual([all.failed, all.skipped], [0, 2]);
});

test('judgeSkips: a program that skipped everything needs an entry too', () => {
  const r = judgeSkips(evaluateProgram({ ...run(['1..0 # SKIP no views here']), status: 4 }), [], 'x86_64');
  assert.equal(r.failed, 1);
  assert.match(r.problems[0] ?? '', /mmview_x_test: skipped everything \(no views here\)/);
});

test('parseSkipList: malformed lines name the file and line', () => {
  assert.throws(() => parseSkipList('# c\nmmview_x_test | a.two | arm64\n', 'f.txt'), /f\.txt:2: expected "<program> \| <test> \| <arch> \| <reason>"/);
});

test('the repository skip list parses and names existing test programs', () => {
  const list = parseSkipList(readFileSync(SKIPS_PATH, 'utf8'), SKIPS_PATH);
  assert.ok(list.length > 0);
  for (const a of list) assert.ok(readFileSync(`tests/guest/c/${a.program.replace(/_test$/, '_test.c')}`, 'utf8').length > 0, a.program);
});

test('judgeSkips: a TODO point needs an entry as a skip does', () => {
  const lines = ['TAP version 13', '1..2', 'ok 1 a.one', 'not ok 2 a.two # TODO not written yet'];
  assert.deepEqual(parseTap(lines).skips, [{ name: 'a.two', reason: 'not written yet' }]);
  const r = judgeSkips(evaluateProgram(run(lines)), [], 'x86_64');
  assert.equal(r.failed, 1);
  assert.match(r.problems[0] ?? '', /a\.two skipped \(not written yet\)/);
});

test('programJudge: a guest test program\'s unlisted skip fails the boot it ran in', () => {
  const rules = { label: 'x86_64', testTimeout: 60, allowlist: [] };
  const guest = { done: true, vmTimedOut: false, panicked: false };
  const unlisted = programJudge({ ...rules, skipList: parseSkipList('mmview_x_test | a.two | x86_64 | r\n') }).evaluate(run(SKIPPING));
  assert.deepEqual([unlisted.passed, unlisted.failed, unlisted.skipped], [1, 1, 1]);
  assert.match(unlisted.problems[0] ?? '', /b\.three skipped \(KSM not configured\), and .* has no entry for it on x86_64/);
  assert.equal(summarize([unlisted], [], guest).ok, false);
  const listed = programJudge({ ...rules, skipList: parseSkipList('mmview_x_test | * | x86_64 | r\n') }).evaluate(run(SKIPPING));
  assert.deepEqual([listed.failed, listed.skipped], [0, 2]);
  assert.equal(summarize([listed], [], guest).ok, true);
});
