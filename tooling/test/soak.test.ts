import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cliHarness } from './cli-harness.ts';
import { renderInit } from '../src/image/init.ts';
import { kernelCmdline } from '../src/vm/qemu.ts';
import { archSpec } from '../src/arch.ts';
import { REPO_ROOT } from '../src/paths.ts';
import { libraryClosure, parseDepends, parseInterpreter, parseNeeded, type LibFile } from '../src/soak/libs.ts';
import {
  SOAK_ENV_FILE,
  SOAK_PRELOAD,
  SOAK_RUNNER,
  VM_STRESSORS,
  defaultSettings,
  renderSoakEnv,
  soakBudgetSeconds,
  splitMinutes,
  trinityArchArgs,
} from '../src/soak/config.ts';
import { describeSoak, parseSoak, parseStressNg, soakProblems } from '../src/soak/results.ts';
import { evaluateSoakProgram, judgeSoak } from '../src/soak/evaluate.ts';
import { soakEntries } from '../src/soak/image.ts';
import { testSoakTools } from '../src/soak/intest.ts';
import { soakSettings } from '../src/pipeline/soak.ts';
import type { Bundle } from '../src/soak/libs.ts';
import type { Splat } from '../src/results/splat.ts';

// ---------------------------------------------------------------- libraries

test('parseNeeded and parseInterpreter read readelf output', () => {
  const dyn = [
    'Dynamic section at offset 0x1 contains 30 entries:',
    '  Tag        Type                         Name/Value',
    ' 0x0000000000000001 (NEEDED)             Shared library: [libm.so.6]',
    ' 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]',
    ' 0x000000000000001e (FLAGS)              BIND_NOW',
  ].join('\n');
  assert.deepEqual(parseNeeded(dyn), ['libm.so.6', 'libc.so.6']);
  assert.deepEqual(parseNeeded('There is no dynamic section in this file.'), []);
  assert.equal(parseInterpreter('      [Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]\n'), '/lib64/ld-linux-x86-64.so.2');
  assert.equal(parseInterpreter('Elf file type is EXEC'), undefined);
});

test('parseDepends takes Depends and Pre-Depends, the first alternative, no virtual packages or arch qualifiers', () => {
  const out = [
    'libkmod2',
    '  Depends: libc6',
    '  Depends: liblzma5:arm64',
    ' |Depends: libssl3',
    '  Depends: libssl1.1',
    '  PreDepends: libzstd1',
    '  Depends: <virtual-thing>',
    '  Recommends: foo',
    '  Breaks: bar',
    '  Depends: libc6',
  ].join('\n');
  assert.deepEqual(parseDepends(out), ['libc6', 'liblzma5', 'libssl3', 'libzstd1']);
});

function lib(soname: string, needed: string[], pkg = 'p'): LibFile {
  return { soname, pkg, guestPath: `/lib/x86_64-linux-gnu/${soname}`, hostFile: `/cache/${soname}`, needed };
}

test('libraryClosure follows DT_NEEDED transitively, once each, and names what is missing', () => {
  const index = new Map<string, LibFile>([
    ['libc.so.6', lib('libc.so.6', ['ld-linux-x86-64.so.2'], 'libc6')],
    ['ld-linux-x86-64.so.2', lib('ld-linux-x86-64.so.2', [], 'libc6')],
    ['libkmod.so.2', lib('libkmod.so.2', ['libzstd.so.1', 'libc.so.6'], 'libkmod2')],
    ['libzstd.so.1', lib('libzstd.so.1', ['libc.so.6'], 'libzstd1')],
    ['libunused.so.1', lib('libunused.so.1', [], 'libunused1')],
  ]);
  const roots = ['libkmod.so.2', 'libc.so.6', 'libgone.so.3'].map((soname) => ({ soname, by: 'stress-ng' }));
  const c = libraryClosure(roots, index);
  assert.deepEqual(c.libs.map((l) => l.soname).sort(), ['ld-linux-x86-64.so.2', 'libc.so.6', 'libkmod.so.2', 'libzstd.so.1']);
  assert.deepEqual(c.missing, [{ soname: 'libgone.so.3', by: 'stress-ng' }]);
  index.delete('libzstd.so.1');
  assert.deepEqual(libraryClosure(roots, index).missing, [{ soname: 'libgone.so.3', by: 'stress-ng' }, { soname: 'libzstd.so.1', by: 'libkmod2' }]);
});

test('soakEntries: programs, libraries at their package paths, the interpreter as a link, preload, runner, settings', () => {
  const bundle: Bundle = {
    programs: [{ pkg: 'stress-ng', version: '0.15.06-2', binaries: [{ guestPath: '/usr/bin/stress-ng', hostFile: '/c/stress-ng' }] }],
    libs: [lib('libc.so.6', []), lib('ld-linux-x86-64.so.2', [])],
    interpreter: { guestPath: '/lib64/ld-linux-x86-64.so.2', hostFile: '/cache/ld-linux-x86-64.so.2' },
    packages: [],
  };
  const e = soakEntries(bundle, { preload: '/b/inview-preload.so', runner: '/b/run-soak', env: '/b/soak.env' });
  const byPath = new Map(e.map((x) => [x.path, x]));
  assert.deepEqual(byPath.get('/usr/bin/stress-ng'), { type: 'file', path: '/usr/bin/stress-ng', source: '/c/stress-ng', mode: 0o755 });
  assert.equal(byPath.get('/lib/x86_64-linux-gnu/libc.so.6')?.type, 'file');
  assert.deepEqual(byPath.get('/lib64/ld-linux-x86-64.so.2'), { type: 'slink', path: '/lib64/ld-linux-x86-64.so.2', target: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' });
  assert.equal(byPath.get(SOAK_PRELOAD)?.type, 'file');
  assert.equal(byPath.get(SOAK_RUNNER)?.type, 'file');
  assert.equal(byPath.get(SOAK_ENV_FILE)?.type, 'file');
});

// ---------------------------------------------------------------- settings

test('splitMinutes halves the time, at least a minute in all', () => {
  assert.deepEqual(splitMinutes(3), { stressSeconds: 90, trinitySeconds: 90 });
  assert.deepEqual(splitMinutes(0.1), { stressSeconds: 30, trinitySeconds: 30 });
  assert.deepEqual(splitMinutes(4.5), { stressSeconds: 135, trinitySeconds: 135 });
});

test('trinity gets only the 64-bit table on x86_64 (no IA32 emulation in the guest) and only the fd providers vm calls map', () => {
  const fds = '--disable-fds=sockets,pipes,perf,epoll,eventfd,pseudo,timerfd,drm';
  assert.deepEqual(trinityArchArgs('x86_64'), ['-a', '64', fds]);
  assert.deepEqual(trinityArchArgs('arm64'), [fds]);
});

test('the vm stressor list leaves out what cannot run in the guest', () => {
  for (const s of ['watchdog', 'swap', 'mlockmany', 'tmpfs', 'madvise', 'bigheap']) assert.ok(!VM_STRESSORS.includes(s), s);
  for (const s of ['mmap', 'mprotect', 'mremap', 'userfaultfd', 'vm', 'mmapfork']) assert.ok(VM_STRESSORS.includes(s), s);
});

test('renderSoakEnv writes sh assignments that the runner can source', () => {
  const s = defaultSettings('x86_64', 90, 60, 1234);
  const text = renderSoakEnv(s);
  const out = execFileSync('/bin/sh', ['-c', `${text}\necho "$SOAK_STRESS_SECONDS $SOAK_TRINITY_SECONDS $SOAK_TRINITY_SEED $SOAK_TRINITY_ARGS|$SOAK_TOOLS"`], { encoding: 'utf8' });
  assert.equal(out, '90 60 1234 -a 64 --disable-fds=sockets,pipes,perf,epoll,eventfd,pseudo,timerfd,drm|stress-ng trinity\n');
  assert.match(text, /SOAK_STRESSORS='bad-altstack,brk,/);
  assert.match(text, /SOAK_STRESS_ARGS='--oom-avoid /);
  assert.throws(() => renderSoakEnv({ ...s, stressArgs: ["it's"] }), /not a plain value/);
  assert.ok(soakBudgetSeconds(s) > 90 + 60 + 2 * s.grace);
});

test('soak settings of the command: --minutes split, --seed kept, else the random seed', () => {
  assert.equal(soakSettings({ minutes: 3 }, 'x86_64', 77).seed, 77);
  assert.equal(soakSettings({ minutes: 3, seed: 5 }, 'x86_64', 77).seed, 5);
  assert.equal(soakSettings({ minutes: 10 }, 'arm64', 1).trinitySeconds, 300);
  assert.equal(soakSettings({ minutes: 3 }, 'x86_64', 1).views, true);
  assert.equal(soakSettings({ minutes: 3, views: false }, 'x86_64', 1).views, false);
});

test('a control run (--no-views) tells the runner, and fails if a process was inside a view', () => {
  const text = renderSoakEnv({ ...defaultSettings('x86_64', 60, 60, 1), views: false });
  assert.equal(execFileSync('/bin/sh', ['-c', `${text}\necho "$SOAK_VIEWS"`], { encoding: 'utf8' }), 'off\n');
  assert.match(renderSoakEnv(defaultSettings('x86_64', 60, 60, 1)), /SOAK_VIEWS='on'/);
  const run = (views: string): string[] => {
    const [r] = parseSoak([
      `SOAK-CONFIG tool=stress-ng seconds=60 grace=120 views=${views}`,
      `SOAK-VIEWS tool=stress-ng samples=30 inview=${views === 'off' ? 0 : 30} base=${views === 'off' ? 30 : 0} entered=0`,
      'stress-ng: info:  [9] successful run completed in 70.00s',
      'SOAK-RESULT tool=stress-ng exit=0 seconds=70 taint=0->0',
    ]);
    assert.ok(r);
    return soakProblems(r);
  };
  assert.deepEqual(run('off'), []);
  assert.deepEqual(run('on'), []);
  const [bad] = parseSoak([
    'SOAK-CONFIG tool=trinity seconds=60 grace=120 views=off',
    'SOAK-VIEWS tool=trinity samples=30 inview=2 base=28 entered=1',
    'SOAK-RESULT tool=trinity exit=0 seconds=70 taint=0->0',
  ]);
  assert.ok(bad);
  assert.deepEqual(soakProblems(bad), ['trinity: control run outside views, yet 2 of 30 samples of MMView: were inside a view']);
});

test('test runs the soak on x86_64 only, not with --guest-tests or --no-soak, and --filter selects the tools', () => {
  assert.deepEqual(testSoakTools('x86_64', { soak: true }), ['stress-ng', 'trinity']);
  assert.deepEqual(testSoakTools('x86_64', {}), []);
  assert.deepEqual(testSoakTools('arm64', { soak: true }), []);
  assert.deepEqual(testSoakTools('x86_64', { soak: false }), []);
  assert.deepEqual(testSoakTools('x86_64', { soak: true, guestTests: '/x' }), []);
  assert.deepEqual(testSoakTools('x86_64', { soak: true, filter: 'trinity' }), ['trinity']);
  assert.deepEqual(testSoakTools('x86_64', { soak: true, filter: 'soak' }), ['stress-ng', 'trinity']);
  assert.deepEqual(testSoakTools('x86_64', { soak: true, filter: 'mmview_abi' }), []);
});

// ---------------------------------------------------------------- guest side

test('/init runs the soak in test mode after the benchmarks and has a soak mode', () => {
  const init = renderInit();
  execFileSync('/bin/sh', ['-n', '-c', init]);
  assert.ok(init.includes(`[ -x ${SOAK_RUNNER} ] || return 0`));
  assert.ok(init.includes(`$(${SOAK_RUNNER} --list)`));
  assert.ok(init.includes('run_program "soak/$tool"'));
  assert.ok(/\n {2}soak\)\n/.test(init));
  const tests = init.slice(init.indexOf('run_tests() {'));
  assert.ok(tests.indexOf('run_benches') < tests.indexOf('run_soak'));
  assert.match(kernelCmdline({ arch: archSpec('x86_64'), kernel: 'k', initrd: 'i', kvm: false, mode: 'soak', interactive: false, testTimeout: 600 }), /mmview\.mode=soak mmview\.test_timeout=600/);
});

test('run-soak.sh is valid sh and lists its tools', () => {
  const script = join(REPO_ROOT, 'tests', 'guest', 'soak', 'run-soak.sh');
  execFileSync('/bin/sh', ['-n', script]);
  assert.equal(execFileSync('/bin/sh', [script, '--list'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } }), 'stress-ng trinity\n');
  assert.equal(execFileSync('/bin/sh', [script, '--list'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', SOAK_TOOLS: 'trinity' } }), 'trinity\n');
});

// ---------------------------------------------------------------- results

const T = (s: number): string => `[  ${s.toFixed(6)}]`;

const STRESS_OK = [
  'SOAK-CONFIG tool=stress-ng seconds=120 grace=120 stressors=mmap,vm args=--oom-avoid',
  'stress-ng: info:  [80] setting to a 120 second run per stressor',
  'stress-ng: info:  [80] dispatching hogs: 1 mmap, 1 vm',
  'SOAK-DEADLINE tool=stress-ng at=130 signal=ALRM',
  'stress-ng: metrc: [80] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s',
  'stress-ng: metrc: [80]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)',
  'stress-ng: metrc: [80] mmap                 14    131.09      0.25      0.54         0.97           3.79',
  'stress-ng: metrc: [80] vm                    0    131.09      0.41      0.16         0.00           0.00',
  'stress-ng: info:  [80] successful run completed in 131.12s',
  'SOAK-VIEWS tool=stress-ng samples=120 inview=118 base=2 entered=950',
  'SOAK-RESULT tool=stress-ng exit=0 seconds=133 taint=0->0',
];

const TRINITY_OK = [
  'SOAK-CONFIG tool=trinity seconds=120 grace=120 seed=14 children=4 group=vm user=soak args=-a,64',
  'soak: trinity -g vm -a 64 -s 14 -C 4 (seed 14; rerun with the same seed to repeat)',
  '[main] Ran 53210 syscalls. Successes: 20000  Failures: 33210',
  'SOAK-DEADLINE tool=trinity at=120 signal=INT',
  'SOAK-VIEWS tool=trinity samples=80 inview=80 base=0 entered=312',
  'SOAK-RESULT tool=trinity exit=0 seconds=124 taint=0->0',
];

test('parseSoak: a clean run of both tools has no problems', () => {
  const r = parseSoak([`${T(1)} booting`, ...STRESS_OK, ...TRINITY_OK, 'MMVIEW-DONE']);
  assert.equal(r.length, 2);
  const [s, t] = r;
  assert.ok(s && t);
  assert.equal(s.tool, 'stress-ng');
  assert.equal(s.exit, 0);
  assert.equal(s.deadline, 130);
  assert.deepEqual(s.views, { samples: 120, inview: 118, base: 2, entered: 950 });
  assert.deepEqual(s.stressNg?.bogoOps, { mmap: 14, vm: 0 });
  assert.equal(s.stressNg?.completed, 'successful');
  assert.deepEqual(soakProblems(s), []);
  assert.equal(t.tool, 'trinity');
  assert.equal(t.config.seed, '14');
  assert.equal(t.trinity?.syscalls, 53210);
  assert.deepEqual(soakProblems(t), []);
  assert.match(describeSoak(s), /no bogo op done: vm/);
  assert.match(describeSoak(t), /seed 14; 53210 syscalls/);
});

test('parseStressNg reads the summary lists', () => {
  const s = parseStressNg([
    'stress-ng: info:  [9] skipped: 1: swap (1)',
    'stress-ng: info:  [9] passed: 2: mmap (1) vm (1)',
    'stress-ng: info:  [9] failed: 1: madvise (1)',
    'stress-ng: info:  [9] metrics untrustworthy: 0',
    'stress-ng: info:  [9] unsuccessful run completed in 12.00s',
  ]);
  assert.deepEqual(s.skipped, ['swap']);
  assert.deepEqual(s.passed, ['mmap', 'vm']);
  assert.deepEqual(s.failed, ['madvise']);
  assert.deepEqual(s.untrustworthy, []);
  assert.equal(s.completed, 'unsuccessful');
});

test('a stress-ng verify failure fails the soak', () => {
  const lines = [
    ...STRESS_OK.slice(0, 3),
    'stress-ng: fail:  [93] vm: detected 1 bit errors while stressing memory',
    'stress-ng: info:  [80] failed: 1: vm (1)',
    'stress-ng: info:  [80] unsuccessful run completed in 131.12s',
    'SOAK-VIEWS tool=stress-ng samples=10 inview=10 base=0',
    'SOAK-RESULT tool=stress-ng exit=2 seconds=133 taint=0->0',
  ];
  const [r] = parseSoak(lines);
  assert.ok(r);
  const p = soakProblems(r);
  assert.equal(p.length, 2);
  assert.match(p[0] ?? '', /^stress-ng: 1 failure line\(s\), first: stress-ng: fail:  \[93\] vm: detected 1 bit errors/);
  assert.match(p[1] ?? '', /stressor\(s\) failed: vm/);
});

test('a bad exit status alone fails; lack of resources (3) does not', () => {
  const withExit = (n: number) => parseSoak([...STRESS_OK.slice(0, -1), `SOAK-RESULT tool=stress-ng exit=${n} seconds=9 taint=0->0`])[0];
  const bad = withExit(7);
  const ok = withExit(3);
  assert.ok(bad && ok);
  assert.deepEqual(soakProblems(bad), ['stress-ng: exited with status 7']);
  assert.deepEqual(soakProblems(ok), []);
});

test('a hang, an unkillable process, taint and no process in a view are problems', () => {
  const [r] = parseSoak([
    'SOAK-CONFIG tool=stress-ng seconds=60 grace=120',
    'SOAK-DEADLINE tool=stress-ng at=70 signal=ALRM',
    'SOAK-HANG tool=stress-ng after=190 left=2',
    'soak: left: pid 1795 stress-ng-mmap State: R (running) wchan=0',
    'SOAK-UNKILLABLE tool=stress-ng left=1',
    'SOAK-VIEWS tool=stress-ng samples=30 inview=0 base=30 entered=0',
    'SOAK-RESULT tool=stress-ng exit=137 seconds=221 taint=0->512',
  ]);
  assert.ok(r);
  const p = soakProblems(r);
  assert.ok(p.some((x) => /1 process\(es\) survived SIGKILL/.test(x)), p.join('\n'));
  assert.ok(p.some((x) => /no process entered views \(30 samples of MMView:, none inside a view\)/.test(x)));
  assert.ok(p.some((x) => /tainted \(0 -> 512\)/.test(x)));
  assert.ok(!p.some((x) => /exited with status/.test(x)), 'the kill explains the status');

  const [h] = parseSoak(['SOAK-CONFIG tool=trinity seconds=60 grace=120', 'SOAK-HANG tool=trinity after=180 left=3', 'SOAK-RESULT tool=trinity exit=137 seconds=185 taint=0->0']);
  assert.ok(h);
  assert.deepEqual(soakProblems(h), ['trinity: hang: 3 process(es) still running 180 s after the start (120 s past the deadline), SIGKILLed']);
});

test('processes that could not enter views fail the soak, with the first message', () => {
  const [r] = parseSoak([
    'SOAK-CONFIG tool=stress-ng seconds=60 grace=120',
    'mmview-inview: FAILED pid 90 (/usr/bin/stress-ng) startup: mmview_create() returned -1 errno 38 (Function not implemented); not running outside views',
    'SOAK-RESULT tool=stress-ng exit=99 seconds=0 taint=0->0 views=unavailable',
  ]);
  assert.ok(r);
  assert.equal(r.viewsUnavailable, true);
  assert.deepEqual(soakProblems(r), [
    'stress-ng: 1 process(es) could not enter views: mmview-inview: FAILED pid 90 (/usr/bin/stress-ng) startup: mmview_create() returned -1 errno 38 (Function not implemented); not running outside views',
  ]);
});

test('trinity noticing taint or refusing to start fails; a missing SOAK-RESULT is a crash', () => {
  const [t] = parseSoak(['SOAK-CONFIG tool=trinity seconds=60', '[main] kernel became tainted! (512/0) Last seed was 14', 'SOAK-RESULT tool=trinity exit=0 seconds=30 taint=0->0']);
  assert.ok(t);
  assert.match(soakProblems(t)[0] ?? '', /kernel became tainted/);
  const [u] = parseSoak(['SOAK-CONFIG tool=trinity seconds=60', "Don't run as root (or pass --dangerous, or --dropprivs if you know what you are doing).", 'SOAK-RESULT tool=trinity exit=1 seconds=1 taint=0->0']);
  assert.ok(u);
  assert.match(soakProblems(u)[0] ?? '', /Don't run as root/);
  const [c] = parseSoak(['SOAK-CONFIG tool=stress-ng seconds=60', 'stress-ng: info:  [1] dispatching hogs: 1 mmap']);
  assert.ok(c);
  assert.deepEqual(soakProblems(c), ['stress-ng: did not finish (no SOAK-RESULT: the guest crashed, hung or ran out of time)']);
});

test('evaluateSoakProgram turns a soak/<tool> section of test into one row', () => {
  const ok = evaluateSoakProgram({ name: 'soak/trinity', lines: TRINITY_OK, status: 0, timedOut: false }, 900);
  assert.deepEqual([ok.passed, ok.failed, ok.problems], [1, 0, []]);
  const hang = evaluateSoakProgram({ name: 'soak/stress-ng', lines: STRESS_OK.slice(0, 4), status: undefined, timedOut: false }, 900);
  assert.equal(hang.failed, 1);
  assert.match(hang.problems[0] ?? '', /^soak\/stress-ng: did not finish \(no MMVIEW-END/);
  const killed = evaluateSoakProgram({ name: 'soak/stress-ng', lines: STRESS_OK.slice(0, 4), status: 137, timedOut: true }, 900);
  assert.match(killed.problems.join('\n'), /per-program timeout \(900 s\)/);
  const none = evaluateSoakProgram({ name: 'soak/trinity', lines: ['sh: run-soak: not found'], status: 127, timedOut: false });
  assert.deepEqual(none.problems, ['soak/trinity: printed no SOAK-CONFIG line for trinity (exit 127)']);
});

test('judgeSoak attributes splats to the tool that was running and fails on them', () => {
  const lines = [`${T(1)} Linux version 6.12`, ...STRESS_OK, `${T(300)} WARNING: possible recursive locking detected`, ...TRINITY_OK, 'MMVIEW-DONE'];
  const splat: Splat = { kind: 'lockdep', line: 1 + STRESS_OK.length, text: lines[1 + STRESS_OK.length] ?? '', context: [] };
  const v = judgeSoak(lines, [splat], { done: true, vmTimedOut: false, panicked: false });
  assert.equal(v.ok, false);
  assert.equal(v.splatsBy[0]?.during, 'between stress-ng and trinity');
  assert.match(v.problems[0] ?? '', /^kernel splat \(lockdep\) between stress-ng and trinity: WARNING: possible recursive locking detected$/);
  const during = judgeSoak(lines, [{ ...splat, line: 3 }], { done: true, vmTimedOut: false, panicked: false });
  assert.equal(during.splatsBy[0]?.during, 'during stress-ng');
  const clean = judgeSoak(lines.filter((_, i) => i !== 1 + STRESS_OK.length), [], { done: true, vmTimedOut: false, panicked: false });
  assert.deepEqual(clean.problems, []);
  const timedOut = judgeSoak(STRESS_OK, [], { done: false, vmTimedOut: true, panicked: false });
  assert.deepEqual(timedOut.problems, ['trinity: did not run (no SOAK-CONFIG for soak/trinity)', 'the VM timed out (the guest hung or the soak ran far past its time)']);
});

// ---------------------------------------------------------------- command line

const harness = () => cliHarness();

test('soak options: --minutes (default 3), --arch, --kernel, --seed', async () => {
  const h = harness();
  assert.equal(await h.run(['soak']), 0);
  assert.deepEqual(h.calls[0], {
    cmd: 'soak',
    opts: { config: 'test', acceptVersion: undefined, kernel: undefined, buildDir: undefined, arch: undefined, minutes: 3, memory: '2G', smp: 4, views: true },
  });
  await h.run(['soak', '--no-views']);
  assert.equal((h.calls[1]?.opts as { views: boolean }).views, false);
  h.calls.pop();
  await h.run(['soak', '--minutes', '10', '--arch', 'arm64', '--kernel', '/tmp/bzImage', '--seed', '42', '--timeout', '90']);
  const o = h.calls[1]?.opts as { minutes: number; arch: string; kernel: string; seed: number; timeout: number };
  assert.deepEqual([o.minutes, o.arch, o.kernel, o.seed, o.timeout], [10, 'arm64', '/tmp/bzImage', 42, 90]);
  assert.equal(await h.run(['soak', '--minutes', '0']), 1);
  assert.equal(await h.run(['soak', '--arch', 'i386']), 1);
});

test('test runs the soak unless --no-soak', async () => {
  const h = harness();
  await h.run(['test']);
  assert.equal((h.calls[0]?.opts as { soak?: boolean }).soak, true);
  await h.run(['test', '--no-soak']);
  assert.equal((h.calls[1]?.opts as { soak?: boolean }).soak, false);
});
