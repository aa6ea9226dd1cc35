import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRuns, formatDifference, parseKsftCases, type RunEnd, type SubRun } from '../src/mmselftests/compare.ts';
import { archMatches, findAllowance, parseAllowlist } from '../src/mmselftests/allowlist.ts';
import { evaluateMmSelftest, groupAllowed, splitRuns, unusedAllowances } from '../src/mmselftests/evaluate.ts';
import { builtMmPrograms, isMmRunName, mmRunName, parseProgramList, renderProgramList } from '../src/mmselftests/programs.ts';
import { collectEntries } from '../src/image/contents.ts';
import { selectMmSelftests } from '../src/pipeline/guest.ts';
import { renderInit } from '../src/image/init.ts';
import { parseMarkers } from '../src/results/markers.ts';
import { makePaths } from '../src/paths.ts';
import { UserError } from '../src/util/errors.ts';

// Output shapes of the real programs (abridged from a guest run).
const COW = `TAP version 13
1..4
# [INFO] detected THP size: 2048 KiB
# [RUN] Basic COW after fork() ... with base page
ok 1 No leak from parent into child
# [RUN] Basic COW after fork() ... with swapped out base page
not ok 2 Leak from parent into child
# [RUN] vmsplice() + unmap in child ... with base page
ok 3 # SKIP MADV_HUGEPAGE failed
# [RUN] R/O-mapping a page registered as iouring fixed buffer ... with base page
ok 4 # XFAIL Leak from child into parent
# Totals: pass:1 fail:1 xfail:1 xpass:0 skip:1 error:0`.split('\n');

const HARNESS = `TAP version 13
1..2
# Starting 2 tests from 2 test cases.
#  RUN           prctl.always.enable ...
#            OK  prctl.always.enable
ok 1 prctl.always.enable
#  RUN           mdwe.stock.mprotect ...
ok 2 mdwe.stock.mprotect # SKIP not root`.split('\n');

const UFFD = `Testing register-ioctls on anon... done
Testing zeropage on shmem... skipped [reason: feature missing]
Testing move on anon... failed [reason: UFFDIO_MOVE returned -1]
Testing wp-unpopulated on anon... 
done
Userfaults unit tests: pass=2, skip=1, fail=1 (total=4)`.split('\n');

test('parseKsftCases: kselftest results labelled by their [RUN] line', () => {
  const c = parseKsftCases(COW);
  assert.deepEqual([...c.values()], [
    { num: 1, label: 'Basic COW after fork() ... with base page', outcome: 'pass' },
    { num: 2, label: 'Basic COW after fork() ... with swapped out base page', outcome: 'fail' },
    { num: 3, label: 'vmsplice() + unmap in child ... with base page', outcome: 'skip' },
    { num: 4, label: 'R/O-mapping a page registered as iouring fixed buffer ... with base page', outcome: 'xfail' },
  ]);
});

test('parseKsftCases: harness names, skip directives and nested lines', () => {
  const c = parseKsftCases([...HARNESS, '  ok 9 nested', '# ok 8 comment', 'ok 3x not a test point']);
  assert.deepEqual([...c.values()], [
    { num: 1, label: 'prctl.always.enable', outcome: 'pass' },
    { num: 2, label: 'mdwe.stock.mprotect', outcome: 'skip' },
  ]);
});

test('parseKsftCases: a skip without description takes its reason as label', () => {
  const c = parseKsftCases(['ok 1 # SKIP no hugetlb pages', 'not ok 2 ', 'ok 3 # SKIPPED? x']);
  assert.equal(c.get(1)?.label, 'no hugetlb pages');
  assert.deepEqual(c.get(2), { num: 2, label: '', outcome: 'fail' });
  assert.deepEqual(c.get(3), { num: 3, label: 'SKIPPED? x', outcome: 'skip' });
});

test('parseKsftCases: a message without newline runs into the next [RUN] line', () => {
  // ksm_functional_tests prints some results without "\n".
  const c = parseKsftCases(['# [RUN] test_unmerge', 'not ok 1 Merging memory failed# [RUN] test_unmerge_zero_pages', 'ok 2 Pages were unmerged']);
  assert.deepEqual([...c.values()], [
    { num: 1, label: 'test_unmerge', outcome: 'fail' },
    { num: 2, label: 'test_unmerge_zero_pages', outcome: 'pass' },
  ]);
});

test('parseKsftCases: mkdirty names its cases with [INFO] lines', () => {
  const c = parseKsftCases(['# [INFO] detected THP size: 2048 KiB', 'TAP version 13', '1..2', '# [INFO] PTRACE write access', 'ok 1 SIGSEGV generated, page not modified', '# [INFO] PTRACE write access to THP', 'ok 2 # SKIP Did not get a THP populated']);
  assert.deepEqual([...c.values()].map((x) => x.label), ['PTRACE write access', 'PTRACE write access to THP']);
});

test('parseKsftCases: uffd-unit-tests "Testing X... result" lines', () => {
  const c = parseKsftCases(UFFD);
  assert.deepEqual([...c.values()], [
    { num: 1, label: 'register-ioctls on anon', outcome: 'pass' },
    { num: 2, label: 'zeropage on shmem', outcome: 'skip' },
    { num: 3, label: 'move on anon', outcome: 'fail' },
    { num: 4, label: 'wp-unpopulated on anon', outcome: 'pass' },
  ]);
});

const sub = (lines: string[], end: RunEnd = { kind: 'exit', code: 0 }): SubRun => ({ cases: parseKsftCases(lines), end, ms: 1 });

test('compareRuns: equal outcomes, including equal failures, are no difference', () => {
  const r = compareRuns(sub(COW, { kind: 'exit', code: 1 }), sub(COW, { kind: 'exit', code: 1 }));
  assert.deepEqual(r, { same: 4, differences: [] });
});

test('compareRuns: changed and missing cases; an exit status they explain is not counted', () => {
  const inview = ['TAP version 13', '1..4', 'ok 1 a', 'not ok 2 b', 'Bail out! mmap failed'];
  const normal = ['TAP version 13', '1..4', 'ok 1 a', 'ok 2 b', 'ok 3 c', 'ok 4 d'];
  const r = compareRuns(sub(normal), sub(inview, { kind: 'exit', code: 1 }));
  assert.equal(r.same, 1);
  assert.deepEqual(r.differences, [
    { key: '2', label: 'b', normal: 'pass', inview: 'fail' },
    { key: '3', label: 'c', normal: 'pass', inview: 'missing' },
    { key: '4', label: 'd', normal: 'pass', inview: 'missing' },
  ]);
  assert.equal(formatDifference(r.differences[0]!), 'case 2 (b): normal pass, inside views fail');
});

test('compareRuns: a crash, a timeout or another exit code is a difference of its own', () => {
  const lines = ['1..1', 'ok 1 a'];
  const crashed = compareRuns(sub(lines), sub(lines, { kind: 'signal', signal: 11 }));
  assert.deepEqual(crashed.differences, [{ key: 'exit', label: 'how the program ended', normal: 'exit 0', inview: 'killed by signal 11' }]);
  const withCase = compareRuns(sub(lines), sub([], { kind: 'timeout' }));
  assert.deepEqual(withCase.differences.map((d) => d.key), ['1', 'exit']);
  assert.equal(formatDifference(withCase.differences[1]!), 'end: normal exit 0, inside views timed out');
  const views99 = compareRuns(sub(lines), sub([], { kind: 'exit', code: 99 }));
  assert.deepEqual(views99.differences.map((d) => `${d.key}:${d.inview}`), ['1:missing', 'exit:exit 99']);
});

const ALLOW = `# program | case | arch | reason
cow | 2 | x86_64 | swapped-out page leaks (bug 1)
cow | Basic COW after fork() ... with base page | * | by label
mremap_test | * | arm64 | everything on arm64
ksm_functional_tests | exit | arm64/max | crashes at exit | with a pipe in the reason
`;

test('parseAllowlist: fields, comments, arch lists and errors with line numbers', () => {
  const a = parseAllowlist(ALLOW);
  assert.equal(a.length, 4);
  assert.deepEqual(a[0], { program: 'cow', case: '2', change: undefined, arches: ['x86_64'], reason: 'swapped-out page leaks (bug 1)', intermittent: false, line: 2 });
  assert.equal(a[3]?.reason, 'crashes at exit | with a pipe in the reason');
  assert.throws(() => parseAllowlist('cow | 2 | x86_64\n'), (e: unknown) => e instanceof UserError && /:1: expected/.test(e.message));
  assert.throws(() => parseAllowlist('# c\n\ncow | 2 | | reason\n'), /:3:/);
});

test('findAllowance: by number, label, star, exit and arch', () => {
  const a = parseAllowlist(ALLOW);
  const d = (key: string, label = 'x') => ({ key, label, normal: 'pass', inview: 'fail' });
  assert.equal(findAllowance(a, 'cow', d('2'), 'x86_64')?.line, 2);
  assert.equal(findAllowance(a, 'cow', d('2'), 'arm64/max'), undefined);
  assert.equal(findAllowance(a, 'cow', d('7', 'Basic COW after fork() ... with base page'), 'arm64/cortex-a57')?.line, 3);
  assert.equal(findAllowance(a, 'mremap_test', d('exit'), 'arm64/cortex-a57')?.line, 4);
  assert.equal(findAllowance(a, 'mremap_test', d('1'), 'x86_64'), undefined);
  assert.equal(findAllowance(a, 'ksm_functional_tests', d('exit'), 'arm64/max')?.line, 5);
  assert.equal(findAllowance(a, 'ksm_functional_tests', d('exit'), 'arm64/cortex-a57'), undefined);
  assert.equal(findAllowance(a, 'ksm_functional_tests', d('3'), 'arm64/max'), undefined);
  assert.ok(archMatches(['x86_64', 'arm64'], 'arm64/max'));
  assert.ok(!archMatches(['arm'], 'arm64'));
});

test('findAllowance: label patterns and outcome changes', () => {
  const a = parseAllowlist('cow | *with PTE-mapped THP (* kB) [pass->skip] | * | lazy PTEs\nksm | 3 [*->missing] | x86_64 | bails out\nmseal | exit [pass->skip] | * | never matches exit\n');
  assert.deepEqual({ case: a[0]?.case, change: a[0]?.change }, { case: '*with PTE-mapped THP (* kB)', change: { normal: 'pass', inview: 'skip' } });
  const d = (key: string, label: string, normal: string, inview: string) => ({ key, label, normal, inview });
  const thp = 'Basic COW after fork() ... with PTE-mapped THP (16 kB)';
  assert.equal(findAllowance(a, 'cow', d('3', thp, 'pass', 'skip'), 'x86_64')?.line, 1);
  assert.equal(findAllowance(a, 'cow', d('3', thp, 'pass', 'fail'), 'x86_64'), undefined);
  assert.equal(findAllowance(a, 'cow', d('4', 'Basic COW after fork() ... with THP (16 kB)', 'pass', 'skip'), 'x86_64'), undefined);
  assert.equal(findAllowance(a, 'cow', d('exit', 'how the program ended', 'exit 0', 'exit 1'), 'x86_64'), undefined);
  assert.equal(findAllowance(a, 'ksm', d('3', 'x', 'fail', 'missing'), 'x86_64')?.line, 2);
  assert.equal(findAllowance(a, 'ksm', d('3', 'x', 'fail', 'pass'), 'x86_64'), undefined);
  assert.equal(findAllowance(a, 'mseal', d('exit', 'how the program ended', 'exit 0', 'timed out'), 'x86_64'), undefined);
});

test('builtMmPrograms and the image: both builds once per binary, the runner and the list', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmsel-img-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const exe = (name: string): void => {
    writeFileSync(join(dir, name), '#!/bin/sh\n');
    chmodSync(join(dir, name), 0o755);
  };
  for (const n of ['run-mm-selftests', 'a', 'a.inview', 'b', 'c', 'c.inview', 'd', 'd.inview']) exe(n);
  writeFileSync(join(dir, 'programs.txt'), 'a 5 all\na@x 5 all -x\nb 5 all\n!c 5 all\nd 5 x86_64,arm64\nd@arm 5 arm64\n');
  const built = builtMmPrograms(dir, 'x86_64');
  assert.deepEqual(built.map((p) => p.name), ['a', 'a@x', 'd']); // b lacks b.inview, c is disabled, d@arm is for arm64
  assert.deepEqual(builtMmPrograms(dir, 'arm64').map((p) => p.name), ['a', 'a@x', 'd', 'd@arm']);
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) return; // the tooling installs busybox-static; nothing to list applets with here
  const entries = await collectEntries({
    busybox,
    stagingDir: join(dir, 'staging'),
    tests: [],
    benches: [],
    benchArgs: [],
    mmSelftests: { dir, programs: built.slice(0, 2) },
    demo: undefined,
    libDir: undefined,
    command: ['true'],
    adds: [],
  });
  const mm = entries.filter((e) => e.path.startsWith('/mm-selftests')).map((e) => `${e.type} ${e.path}`);
  assert.deepEqual(mm, [
    'dir /mm-selftests',
    'file /mm-selftests/run-mm-selftests',
    'file /mm-selftests/programs.txt',
    'file /mm-selftests/a',
    'file /mm-selftests/a.inview',
  ]);
  const list = entries.find((e) => e.path === '/mm-selftests/programs.txt');
  assert.ok(list?.type === 'file');
  const { readFileSync } = await import('node:fs');
  assert.deepEqual(parseProgramList(readFileSync(list.source, 'utf8')).map((p) => `${p.name} ${p.args.join(' ')}`), ['a ', 'a@x -x']);
});

/** The console section of one pair as the guest runner prints it. */
function section(name: string, normal: string[], inview: string[], ends: [string, string] = ['exit:0', 'exit:0']): string[] {
  const part = (mode: string, lines: string[], end: string) => [
    `# MMVIEW-MM-RUN ${name} ${mode}`,
    ...lines.map((l) => `# ${mode}| ${l}`),
    `# MMVIEW-MM-STATUS ${name} ${mode} ${end} 1234`,
  ];
  return [
    'TAP version 13',
    '1..1',
    ...part('normal', normal, ends[0]),
    '[   42.000000] some kernel message',
    ...part('inview', inview, ends[1]),
    `# ${name}: the runner's own verdict`,
    `not ok 1 ${name} inside views`,
  ];
}

test('splitRuns: separates both runs and ignores unprefixed console lines', () => {
  const runs = splitRuns(section('cow', ['ok 1 a'], ['not ok 1 a'], ['exit:0', 'signal:9']).map((l) => `${l}\r`));
  assert.deepEqual(runs.normal, { lines: ['ok 1 a'], end: { kind: 'exit', code: 0 }, ms: 1234 });
  assert.deepEqual(runs.inview, { lines: ['not ok 1 a'], end: { kind: 'signal', signal: 9 }, ms: 1234 });
});

test('evaluateMmSelftest: same cases pass, allowed differences are skipped, others fail', () => {
  const allow = parseAllowlist(ALLOW);
  const run = { name: 'mm/cow', lines: section('cow', COW, COW.map((l) => l.replace('ok 1 No leak', 'not ok 1 Leak')).map((l) => l.replace('not ok 2', 'ok 2'))), status: 1, timedOut: false };
  const ev = evaluateMmSelftest(run, allow, 'x86_64');
  assert.equal(ev.result.passed, 2);
  assert.equal(ev.result.skipped, 2); // case 1 by label, case 2 by number
  assert.equal(ev.result.failed, 0);
  assert.deepEqual(ev.allowed.map((a) => a.by.line), [3, 2]);
  assert.deepEqual([...groupAllowed(ev)].map(([by, ds]) => `${by.line}:${ds.map((d) => d.key).join(',')}`), ['2:2', '3:1']);
  const arm = evaluateMmSelftest(run, allow, 'arm64/max');
  assert.equal(arm.result.failed, 1);
  assert.deepEqual(arm.result.failures, ['mm/cow: case 2 (Basic COW after fork() ... with swapped out base page): normal fail, inside views pass']);
  assert.deepEqual(unusedAllowances(allow, [ev], 'x86_64').map((a) => a.line), []);
  assert.deepEqual(unusedAllowances(allow, [arm], 'arm64/max').map((a) => a.line), []);
});

test('evaluateMmSelftest: unfinished pairs and runs are failures', () => {
  const lines = section('mremap_test', ['ok 1 a'], ['ok 1 a']);
  assert.equal(evaluateMmSelftest({ name: 'mm/mremap_test', lines, status: undefined, timedOut: false }, [], 'x86_64').result.failed, 1);
  assert.match(evaluateMmSelftest({ name: 'mm/mremap_test', lines, status: 137, timedOut: true }, [], 'x86_64').result.problems[0] ?? '', /per-program timeout/);
  const cut = lines.slice(0, lines.findIndex((l) => l.includes('MMVIEW-MM-RUN mremap_test inview')) + 2);
  const r = evaluateMmSelftest({ name: 'mm/mremap_test', lines: cut, status: 137, timedOut: false }, [], 'x86_64').result;
  assert.equal(r.failed, 1);
  assert.match(r.problems[0] ?? '', /run inside views did not finish/);
  const empty = evaluateMmSelftest({ name: 'mm/soft-dirty', lines: section('soft-dirty', ['1..0 # SKIP soft-dirty is not support'], ['1..0 # SKIP x'], ['exit:4', 'exit:4']), status: 0, timedOut: false }, [], 'x86_64').result;
  assert.equal(empty.failed, 1);
  assert.match(empty.problems[0] ?? '', /normal run reported no test case \(exit 4\)/);
  const ok = evaluateMmSelftest({ name: 'mm/mremap_test', lines, status: 1, timedOut: false }, [], 'x86_64').result;
  assert.deepEqual({ passed: ok.passed, failed: ok.failed, skipped: ok.skipped }, { passed: 1, failed: 0, skipped: 0 });
});

test('unusedAllowances: entries of programs that ran without that difference', () => {
  const allow = parseAllowlist(`${ALLOW}cow | 9 | * | Intermittent: only now and then\n`);
  assert.equal(allow[4]?.intermittent, true);
  const same = evaluateMmSelftest({ name: 'mm/cow', lines: section('cow', COW, COW), status: 0, timedOut: false }, allow, 'x86_64');
  assert.deepEqual(unusedAllowances(allow, [same], 'x86_64').map((a) => a.line), [2, 3]);
  assert.deepEqual(unusedAllowances(allow, [same], 'arm64/max').map((a) => a.line), [3]);
});

test('parseProgramList and run names', () => {
  const l = parseProgramList('# comment\n\ncow 600 all\nsoft-dirty 120 x86_64\nksm_tests 60 all -M -p 10\nuffd-unit-tests@move-pmd 60 all -f move-pmd\n!mseal_test 60 all\n');
  assert.deepEqual(l, [
    { name: 'cow', binary: 'cow', disabled: false, timeout: 600, arches: ['all'], args: [] },
    { name: 'soft-dirty', binary: 'soft-dirty', disabled: false, timeout: 120, arches: ['x86_64'], args: [] },
    { name: 'ksm_tests', binary: 'ksm_tests', disabled: false, timeout: 60, arches: ['all'], args: ['-M', '-p', '10'] },
    { name: 'uffd-unit-tests@move-pmd', binary: 'uffd-unit-tests', disabled: false, timeout: 60, arches: ['all'], args: ['-f', 'move-pmd'] },
    { name: 'mseal_test', binary: 'mseal_test', disabled: true, timeout: 60, arches: ['all'], args: [] },
  ]);
  assert.throws(() => parseProgramList('cow all\n'), /:1:/);
  assert.equal(mmRunName('cow'), 'mm/cow');
  assert.ok(isMmRunName('mm/cow') && !isMmRunName('cow'));
  const names = (xs: { name: string }[]) => xs.map((x) => x.name);
  assert.deepEqual(names(selectMmSelftests(l, 'mm/c')), ['cow']);
  assert.deepEqual(names(selectMmSelftests(l, '@move')), ['uffd-unit-tests@move-pmd']);
  assert.deepEqual(names(selectMmSelftests(l, undefined)), names(l));
  assert.deepEqual(selectMmSelftests(l, 'bench'), []);
  assert.equal(renderProgramList([l[0]!, l[3]!]).split('\n').slice(1).join('\n'), 'cow 600 all\nuffd-unit-tests@move-pmd 60 all -f move-pmd\n');
});

test('the repository program list and allowlist parse', async () => {
  const { readFileSync } = await import('node:fs');
  const dir = makePaths().mmSelftestsSrc;
  const programs = parseProgramList(readFileSync(join(dir, 'programs.txt'), 'utf8'));
  assert.ok(programs.length > 0);
  for (const p of programs) assert.ok(2 * p.timeout < 900, `${p.name}: both runs must fit the guest's 900 s per-program limit`);
  const allow = parseAllowlist(readFileSync(join(dir, 'allowed-differences.txt'), 'utf8'));
  for (const a of allow) assert.ok(programs.some((p) => p.name === a.program), `${a.program} is not in programs.txt`);
});

test('/init runs every mm selftest pair under its own marker', () => {
  const init = renderInit();
  assert.match(init, /run_mm_selftests\(\) \{/);
  assert.match(init, /for p in \$\(\$runner --list\); do\n\s+run_program "mm\/\$p" \$runner "\$p"/);
  assert.ok(init.indexOf('run_mm_selftests\n') < init.indexOf('run_benches --tiny'));
  const t = parseMarkers(['MMVIEW-BEGIN mm/cow', ...section('cow', ['ok 1 a'], ['ok 1 a']), 'MMVIEW-END mm/cow 0']);
  assert.equal(t.programs[0]?.name, 'mm/cow');
  assert.equal(t.programs[0]?.status, 0);
});

// The guest runner's C comparison must agree with the host's (skipped without a C compiler).
const cc = spawnSync('cc', ['--version']).status === 0;
test('run-mm-selftests: runs both builds, echoes their output and compares like the host', { skip: !cc && 'no C compiler' }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmsel-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(makePaths().mmSelftestsSrc, 'run-mm-selftests.c');
  const runner = join(dir, 'run-mm-selftests');
  execFileSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', '-o', runner, src]);
  const script = (name: string, lines: string[], code = 0): void => {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${lines.map((l) => `echo '${l}'`).join('\n')}\nexit ${code}\n`);
    chmodSync(file, 0o755);
  };
  script('same', COW, 1);
  script('same.inview', COW, 1);
  script('differs', COW, 1);
  script('differs.inview', ['TAP version 13', '1..4', '# [RUN] Basic COW after fork() ... with base page', 'ok 1 No leak', 'Bail out!'], 1);
  script('uffd', UFFD);
  script('uffd.inview', UFFD.map((l) => l.replace('register-ioctls on anon... done', 'register-ioctls on anon... failed')), 1);
  script('directives', COW, 1);
  script('directives.inview', COW.map((l) => l.replace('ok 3 # SKIP MADV_HUGEPAGE failed', 'ok 3 fine').replace('# XFAIL', '# SKIP')), 1);
  script('hangs', ['ok 1 a']);
  writeFileSync(join(dir, 'hangs.inview'), '#!/bin/sh\necho "ok 1 a"\nsleep 30\n');
  chmodSync(join(dir, 'hangs.inview'), 0o755);
  writeFileSync(join(dir, 'args'), '#!/bin/sh\necho "1..1"\necho "ok 1 $*"\n');
  writeFileSync(join(dir, 'args.inview'), '#!/bin/sh\necho "1..1"\n[ "$*" = "-f x" ] && echo "ok 1 $*" || echo "not ok 1 $*"\n');
  chmodSync(join(dir, 'args'), 0o755);
  chmodSync(join(dir, 'args.inview'), 0o755);
  writeFileSync(join(dir, 'programs.txt'), '# list\nsame 5 all\ndiffers 5 all\nuffd 5 all\ndirectives 5 all\nhangs 1 all\nnotbuilt 5 all\nargs@x 5 all -f x\nargs@y 5 all -f y\n!same@off 5 all\nsame@elsewhere 5 mips,sparc\n');

  const list = execFileSync(runner, ['-d', dir, '--list'], { encoding: 'utf8' });
  assert.equal(list, 'same\ndiffers\nuffd\ndirectives\nhangs\nargs@x\nargs@y\n');
  const variants = spawnSync(runner, ['-d', dir, 'args@x', 'args@y', 'same@off'], { encoding: 'utf8' }).stdout.split('\n');
  assert.ok(variants.includes('ok 3 same@off inside views'), 'a disabled program runs when named');
  assert.ok(variants.includes('# normal| ok 1 -f y'));
  assert.ok(variants.includes('ok 1 args@x inside views'));
  assert.ok(variants.includes('not ok 2 args@y inside views'));
  const res = spawnSync(runner, ['-d', dir], { encoding: 'utf8' });
  assert.equal(res.status, 1);
  const out = res.stdout.split('\n');
  assert.ok(out.includes('ok 1 same inside views'));
  assert.ok(out.includes('not ok 2 differs inside views'));
  assert.ok(out.includes('not ok 3 uffd inside views'));
  assert.ok(out.includes('not ok 4 directives inside views'));
  assert.ok(out.includes('not ok 5 hangs inside views'));
  assert.ok(out.includes('# hangs: end: normal exit 0, inside views timed out'));
  // The host reads the same output to the same verdicts.
  for (const [name, differences] of [['same', 0], ['differs', 3], ['uffd', 1], ['directives', 2], ['hangs', 1]] as const) {
    const from = out.findIndex((l) => l === `# MMVIEW-MM-RUN ${name} normal`);
    const to = out.findIndex((l) => / inside views$/.test(l) && l.includes(` ${name} `));
    const ev = evaluateMmSelftest({ name: mmRunName(name), lines: out.slice(from, to + 1), status: 1, timedOut: false }, [], 'x86_64');
    assert.equal(ev.unexpected.length, differences, name);
    const guestCount = out.slice(from, to).filter((l) => l.startsWith(`# ${name}: case `) || l.startsWith(`# ${name}: end: `)).length;
    assert.equal(guestCount, differences, `${name}: guest and host count the same differences`);
  }
});

test("the repo's allowlist lets droppable's normal-run pageout flake pass, not a failure inside views", () => {
  const file = join(import.meta.dirname, '..', '..', 'tests', 'guest', 'mm-selftests', 'allowed-differences.txt');
  const list = parseAllowlist(readFileSync(file, 'utf8'), file);
  const label = 'madvise(MADV_PAGEOUT) behavior';
  const flake = findAllowance(list, 'droppable', { key: '1', label, normal: 'fail', inview: 'pass' }, 'arm64/cortex-a57');
  assert.ok(flake?.intermittent);
  assert.equal(findAllowance(list, 'droppable', { key: '1', label, normal: 'pass', inview: 'fail' }, 'x86_64'), undefined);
});
