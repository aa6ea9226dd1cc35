import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MarkerTracker, parseMarkers } from '../src/results/markers.ts';
import { evaluateProgram, parseTap } from '../src/results/tap.ts';
import { closingLine, renderSummary, renderTable, summarize } from '../src/results/summary.ts';
import type { Splat } from '../src/results/splat.ts';

const HARNESS = `TAP version 13
1..4
# Starting 4 tests from 1 test cases.
#  RUN           global.create ...
#            OK  global.create
ok 1 global.create
[   12.345678] random: crng init done
#  RUN           global.migrate ...
# mmview_basic.c:42:migrate:Expected prev (1) == 0 (0)
# migrate: Test terminated by assertion
#          FAIL  global.migrate
not ok 2 global.migrate
#  RUN           global.huge ...
#      SKIP      no hugepages configured
#            OK  global.huge
ok 3 global.huge # SKIP no hugepages configured
#  RUN           global.xfail ...
ok 4 global.xfail # XFAIL known bug
# FAILED: 3 / 4 tests passed.
# Totals: pass:1 fail:1 xfail:1 xpass:0 skip:1 error:0`.split('\n');

test('parseTap counts a kselftest harness run', () => {
  const t = parseTap(HARNESS);
  assert.deepEqual(t, { passed: 2, failed: 1, skipped: 1, planned: 4, ran: 4, failures: ['global.migrate'], bailout: undefined, skips: [{ name: 'global.huge', reason: 'no hugepages configured' }] });
});

test('parseTap: no TAP at all', () => {
  const t = parseTap(['hello', 'world']);
  assert.equal(t.planned, undefined);
  assert.equal(t.ran, 0);
});

test('parseTap: skip everything (1..0)', () => {
  const t = parseTap(['TAP version 13', '1..0 # SKIP mmview not supported']);
  assert.equal(t.planned, 0);
  assert.equal(t.skipped, 1);
  assert.equal(t.failed, 0);
});

const run = (lines: string[], status: number | undefined, timedOut = false) => ({ name: 'p', lines, status, timedOut });

test('evaluateProgram: failing harness run', () => {
  const r = evaluateProgram(run(HARNESS, 1));
  assert.equal(r.passed, 2);
  assert.equal(r.failed, 1);
  assert.equal(r.skipped, 1);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.failures, ['p: global.migrate']);
});

test('evaluateProgram: non-zero exit without failing test point counts as one failure', () => {
  const r = evaluateProgram(run(['TAP version 13', '1..1', 'ok 1 a'], 139));
  assert.equal(r.passed, 1);
  assert.equal(r.failed, 1);
  assert.deepEqual(r.problems, ['p: was killed by signal 11']);
  const r2 = evaluateProgram(run(['TAP version 13', '1..1', 'ok 1 a'], 2));
  assert.deepEqual(r2.problems, ['p: exited with status 2']);
});

test('evaluateProgram: incomplete plan fails', () => {
  const r = evaluateProgram(run(['TAP version 13', '1..3', 'ok 1 a'], 0));
  assert.equal(r.passed, 1);
  assert.equal(r.failed, 1);
  assert.deepEqual(r.problems, ['p: plan announced 3 tests but only 1 ran']);
});

test('evaluateProgram: no MMVIEW-END fails', () => {
  const r = evaluateProgram(run(['TAP version 13', '1..3', 'ok 1 a'], undefined));
  assert.equal(r.failed, 1);
  assert.match(r.problems[0] ?? '', /did not finish/);
});

test('evaluateProgram: per-program timeout fails', () => {
  const r = evaluateProgram(run(['TAP version 13', '1..3', 'ok 1 a'], 137, true), 900);
  assert.equal(r.failed, 1);
  assert.deepEqual(r.problems, ['p: killed by the per-program timeout (900 s)']);
});

test('evaluateProgram: program without TAP is one test', () => {
  assert.equal(evaluateProgram(run(['hi'], 0)).passed, 1);
  const r = evaluateProgram(run(['hi'], 1));
  assert.equal(r.failed, 1);
  assert.deepEqual(r.problems, ['p: exited with status 1']);
});

test('evaluateProgram: skip-all exits cleanly', () => {
  const r = evaluateProgram(run(['TAP version 13', '1..0 # SKIP no mmview'], 4));
  assert.equal(r.skipped, 1);
  assert.equal(r.failed, 0, 'KSFT_SKIP (4) after skipping everything is not a failure');
  assert.equal(evaluateProgram(run(['TAP version 13', '1..1', 'ok 1 a'], 4)).failed, 1);
});

test('MarkerTracker splits the console into programs', () => {
  const t = parseMarkers([
    '[    0.3] Run /init as init process',
    'MMVIEW-BEGIN a',
    'TAP version 13',
    '1..1',
    'ok 1 x',
    'MMVIEW-END a 0',
    'MMVIEW-BEGIN b',
    'partial outputMMVIEW-END b 1',
    'MMVIEW-BEGIN c',
    'MMVIEW-TIMEOUT c 900',
    'MMVIEW-END c 137',
    'MMVIEW-BEGIN d',
    '[   99.0] Kernel panic - not syncing: Fatal exception',
  ]);
  assert.deepEqual(
    t.programs.map((p) => [p.name, p.status, p.timedOut, p.lines]),
    [
      ['a', 0, false, ['TAP version 13', '1..1', 'ok 1 x']],
      ['b', 1, false, ['partial output']],
      ['c', 137, true, []],
      ['d', undefined, false, ['[   99.0] Kernel panic - not syncing: Fatal exception']],
    ],
  );
  assert.equal(t.done, false);
});

test('MarkerTracker: done and run markers', () => {
  const t = new MarkerTracker();
  assert.deepEqual(t.push('MMVIEW-RUN-BEGIN'), { kind: 'run-begin' });
  assert.equal(t.push('hello'), undefined);
  assert.deepEqual(t.push('MMVIEW-EXIT 3'), { kind: 'exit', status: 3 });
  assert.deepEqual(t.push('MMVIEW-DONE'), { kind: 'done' });
  assert.equal(t.runExit, 3);
  assert.equal(t.done, true);
  // The kernel echoing its command line is not a marker.
  assert.equal(new MarkerTracker().push('[ 0.0] Kernel command line: console=ttyS0 mmview.mode=run'), undefined);
});

const splat: Splat = { kind: 'WARNING', line: 3, text: 'WARNING: x', context: [] };
const ok = { done: true, vmTimedOut: false, panicked: false };

test('summary: all passing', () => {
  const s = summarize([evaluateProgram({ ...run(['TAP version 13', '1..2', 'ok 1 a', 'ok 2 b # SKIP x'], 0), name: 'basic' })], [], ok, [
    { name: 'host unit tests', passed: 10, failed: 0, skipped: 0 },
  ]);
  assert.equal(s.ok, true);
  assert.equal(closingLine(s.totals), '11 passed, 0 failed, 1 skipped');
  const text = renderSummary(s);
  assert.equal(text.split('\n').at(-1), '11 passed, 0 failed, 1 skipped');
  assert.match(text, /^test program\s+passed\s+failed\s+skipped\n/);
});

test('summary: splats and guest failures count as failed', () => {
  const s = summarize([], [splat, splat], { done: false, vmTimedOut: true, panicked: false });
  assert.equal(s.ok, false);
  assert.equal(closingLine(s.totals), '0 passed, 3 failed');
  assert.deepEqual(s.problems, ['2 kernel splat(s): WARNING, WARNING', 'the VM timed out']);
});

test('summary: panic', () => {
  const s = summarize([], [], { done: false, vmTimedOut: false, panicked: true });
  assert.deepEqual(s.problems, ['the guest kernel panicked']);
});

test('renderTable aligns columns', () => {
  const t = renderTable([{ name: 'a_long_name', passed: 10, failed: 0, skipped: 2 }]);
  assert.equal(t, ['test program  passed  failed  skipped', '------------  ------  ------  -------', 'a_long_name       10       0        2'].join('\n'));
});

test('evaluateProgram: crash after some tests is one failure naming both reasons', () => {
  const r = evaluateProgram(run(['TAP version 13', '1..2', 'ok 1 a'], 139));
  assert.equal(r.passed, 1);
  assert.equal(r.failed, 1);
  assert.deepEqual(r.problems, ['p: was killed by signal 11; plan announced 2 tests but only 1 ran']);
});

test('evaluateProgram: failing test points explain a failed exit status', () => {
  const r = evaluateProgram(run(['TAP version 13', '1..2', 'ok 1 a', 'not ok 2 b'], 1));
  assert.equal(r.failed, 1);
  assert.deepEqual(r.problems, []);
});
