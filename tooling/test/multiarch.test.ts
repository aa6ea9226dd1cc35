import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { TEST_ARCHES, archSpec } from '../src/arch.ts';
import { runCpu, testPlan } from '../src/pipeline/commands.ts';
import { testCpus } from '../src/pipeline/boots.ts';
import { logSuffix } from '../src/pipeline/context.ts';
import { kernelCmdline, qemuArgs } from '../src/vm/qemu.ts';
import { findSplats } from '../src/results/splat.ts';
import { combineSummaries, failedStep, labelSummary, renderSummary, renderTable, summarize } from '../src/results/summary.ts';
import { findWarnings, seriesWarnings, touchedFiles, treeRelative } from '../src/results/warnings.ts';
import { debFileName, knownArchitectures, parseCandidate, pickDeb, planForeignArch } from '../src/host/foreign.ts';
import { underBuildLock } from '../src/util/lock.ts';
import { StageTimer } from '../src/util/log.ts';
import { renderInit } from '../src/image/init.ts';

test('test plan: both arches (x86_64 first) and the 32-bit build by default; --arch picks one', () => {
  assert.deepEqual(testPlan({}, 'x86_64'), { arches: [...TEST_ARCHES], build32: true });
  assert.equal(testPlan({}, 'x86_64').arches[0], 'x86_64');
  assert.deepEqual(testPlan({ testArch: 'arm64', arch: 'arm64' }, 'x86_64'), { arches: ['arm64'], build32: false });
  assert.deepEqual(testPlan({ testArch: 'x86_64', arch: 'x86_64' }, 'x86_64'), { arches: ['x86_64'], build32: false });
  assert.deepEqual(testPlan({ testArch: 'i386' }, 'x86_64'), { arches: [], build32: true });
  // A prebuilt kernel or test folder is the host arch's.
  assert.deepEqual(testPlan({ kernel: '/k' }, 'x86_64'), { arches: ['x86_64'], build32: false });
  assert.deepEqual(testPlan({ guestTests: '/t' }, 'arm64'), { arches: ['arm64'], build32: false });
});

test('run takes the max CPU model unless --cpu names one of the arch\'s', () => {
  const arm = archSpec('arm64');
  assert.equal(runCpu(arm.tcgCpus, undefined).label, 'max');
  assert.equal(runCpu(arm.tcgCpus, 'cortex-a57').model, 'cortex-a57');
  assert.throws(() => runCpu(arm.tcgCpus, 'a53'), /cortex-a57 or max/);
  assert.throws(() => runCpu(archSpec('x86_64').tcgCpus, 'cortex-a57'), /max/);
  // test boots every TCG model of the arch, one under KVM, or the --cpu one.
  assert.deepEqual(testCpus(arm, false, undefined), [...arm.tcgCpus]);
  assert.deepEqual(testCpus(arm, true, undefined), [arm.tcgCpus.at(-1)]);
  assert.deepEqual(testCpus(arm, false, 'cortex-a57').map((c) => c.model), ['cortex-a57']);
  assert.throws(() => testCpus(arm, false, 'a53'), /arm64 boots cortex-a57 or max/);
});

test('qemu: TCG CPU model and guest environment on the command line', () => {
  const base = { arch: archSpec('arm64'), kernel: '/k/Image', initrd: '/i', interactive: false, mode: 'test' } as const;
  const a = qemuArgs({ ...base, kvm: false, cpu: 'cortex-a57', env: { MMVIEW_RANDOM_SECONDS: '30' } });
  assert.deepEqual(a.slice(a.indexOf('-cpu'), a.indexOf('-cpu') + 2), ['-cpu', 'cortex-a57']);
  assert.deepEqual(a.slice(a.indexOf('-smp'), a.indexOf('-smp') + 2), ['-smp', '4']);
  assert.equal(a[a.indexOf('-append') + 1], 'console=ttyAMA0 panic=-1 mmview.mode=test mmview.env=MMVIEW_RANDOM_SECONDS=30');
  const k = qemuArgs({ ...base, arch: archSpec('x86_64'), kvm: true, cpu: 'cortex-a57' });
  assert.deepEqual(k.slice(k.indexOf('-cpu'), k.indexOf('-cpu') + 2), ['-cpu', 'host']);
  // x86_64 boots with four-level paging (KASAN and 6.12's identify_cpu()).
  assert.equal(k[k.indexOf('-append') + 1], 'console=ttyS0 no5lvl panic=-1 mmview.mode=test');
  assert.throws(() => kernelCmdline({ ...base, kvm: false, env: { 'A B': '1' } }), /plain name/);
  assert.throws(() => kernelCmdline({ ...base, kvm: false, env: { A: 'x y' } }), /plain name/);
  assert.match(renderInit(), /mmview\.env=\*\) export "\$\{arg#mmview\.env=\}" ;;/);
});

test('log names: x86_64 keeps the plain ones, other arches get a suffix', () => {
  assert.equal(logSuffix('x86_64'), '');
  assert.equal(logSuffix('arm64'), '-arm64');
});

test('stage timer: scoped timers prefix their stages into one report', () => {
  const t = new StageTimer();
  const arm = t.scoped('arm64');
  return arm.run('kernel', async () => 1).then(() => {
    assert.deepEqual(t.times.map((x) => x.stage), ['arm64 kernel']);
    assert.match(t.report(), /^arm64 kernel \d/);
  });
});

const arm64Samples: Array<[string, string, string]> = [
  ['paging request', 'Oops', '[   12.000000] Unable to handle kernel paging request at virtual address dead000000000108'],
  ['NULL pointer', 'Oops', '[   12.000000] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008'],
  ['internal error', 'Oops', '[   12.000000] Internal error: Oops: 0000000096000004 [#1] PREEMPT SMP'],
  ['BUG()', 'BUG', '[   12.000000] kernel BUG at mm/mmview.c:321!\n[   12.000001] Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP'],
  ['SError', 'SError', '[   12.000000] SError Interrupt on CPU2, code 0x00000000be000011 -- SError'],
  ['KASAN', 'KASAN', '[   12.000000] BUG: KASAN: slab-use-after-free in mmview_migrate+0x1c/0x2a0'],
  ['WARNING', 'WARNING', '[   12.000000] WARNING: CPU: 3 PID: 120 at mm/mmview.c:100 mmview_sync+0x40/0x80'],
  ['lockdep', 'lockdep', '[   12.000000] WARNING: possible circular locking dependency detected'],
  ['lone arm64 trace', 'Call Trace', '[   12.000000] CPU: 1 UID: 0 PID: 1 Comm: init Not tainted 6.12.117 #1\n[   12.000001] Hardware name: linux,dummy-virt (DT)\n[   12.000002] Call trace:\n[   12.000003]  dump_backtrace+0x9c/0x100'],
];

for (const [name, kind, text] of arm64Samples) {
  test(`arm64 splat: ${name}`, () => {
    const log = ['[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]', ...text.split('\n'), 'MMVIEW-DONE'];
    const s = findSplats(log);
    assert.equal(s.length, 1, JSON.stringify(s));
    assert.equal(s[0]?.kind, kind);
  });
}

test('arm64: the stack trace of fault injection is expected; user-space fault reports are no splat', () => {
  const log = [
    '[   50.000000] FAULT_INJECTION: forcing a failure.',
    '[   50.000001] CPU: 0 UID: 0 PID: 99 Comm: t Not tainted 6.12.117 #1',
    '[   50.000002] Call trace:',
    '[   50.000003]  show_stack+0x18/0x24',
    '[   51.000000] mmview_memory_t[120]: unhandled exception: DABT (current EL), ESR 0x92000047',
  ];
  assert.deepEqual(findSplats(log), []);
});

test('summary rows name their arch; a failed build is one failed row', () => {
  const ok = { done: true, vmTimedOut: false, panicked: false };
  const prog = { name: 'mmview_abi_test', passed: 3, failed: 0, skipped: 1, status: 0, problems: [], failures: [] };
  const x86 = labelSummary(summarize([prog], [], ok), 'x86_64');
  const a57 = labelSummary(summarize([{ ...prog, failed: 1, failures: ['mmview_abi_test: x'] }], [], ok), 'arm64/cortex-a57');
  const b32 = failedStep('i386', 'build', 'make failed');
  const all = combineSummaries([x86, a57, b32], [{ name: 'host unit tests', passed: 5, failed: 0, skipped: 0 }]);
  assert.equal(all.ok, false);
  assert.deepEqual(all.totals, { name: 'total', passed: 11, failed: 2, skipped: 2 });
  assert.deepEqual(all.problems, ['arm64/cortex-a57: failed: mmview_abi_test: x', 'i386: make failed']);
  const table = renderTable(all.rows).split('\n');
  assert.match(table[0] ?? '', /^arch\s+test program\s+passed\s+failed\s+skipped$/);
  assert.match(table[2] ?? '', /^host\s+host unit tests\s+5\s+0\s+0$/);
  assert.match(table[4] ?? '', /^arm64\/cortex-a57\s+mmview_abi_test\s+3\s+1\s+1$/);
  assert.equal(renderSummary(all).split('\n').at(-1), '11 passed, 2 failed, 2 skipped');
  // Without arches the table keeps its old form.
  assert.match(renderTable([{ name: 'a', passed: 1, failed: 0, skipped: 0 }]), /^test program/);
});

test('build warnings: tree-relative paths, series files, modpost', () => {
  const tree = '/w/build/linux';
  assert.equal(treeRelative('/w/build/linux/mm/memory.c', tree), 'mm/memory.c');
  assert.equal(treeRelative('../linux/include/linux/mmview.h', tree), 'include/linux/mmview.h');
  assert.equal(treeRelative('../../linux/mm/vma.c', tree), 'mm/vma.c');
  assert.equal(treeRelative('./arch/x86/kernel/setup.c', tree), 'arch/x86/kernel/setup.c');
  const log = [
    '  CC      mm/memory.o',
    '/w/build/linux/mm/memory.c:120:9: warning: cast from pointer to integer of different size [-Wpointer-to-int-cast]',
    '../linux/drivers/tty/vt.c:12:1: warning: unused variable',
    '/w/build/linux/include/linux/mmview.h:40: warning: "X" redefined',
    'mm/mmview.c:10:5: error: unknown type',
    'WARNING: modpost: vmlinux: section mismatch in reference: mmview_init+0x10 (section: .text) -> x (section: .init.text)',
    'ld: warning: creating DT_TEXTREL in a PIE',
  ];
  const w = findWarnings(log, tree);
  assert.deepEqual(w.map((x) => [x.file, x.line]), [['mm/memory.c', 120], ['drivers/tty/vt.c', 12], ['include/linux/mmview.h', 40], ['', 0], ['', 0]]);
  const touched = touchedFiles([
    'diff --git a/mm/memory.c b/mm/memory.c\nindex 1..2\n',
    'diff --git a/include/linux/mmview.h b/include/linux/mmview.h\nnew file mode 100644\n',
  ]);
  assert.deepEqual([...touched].sort(), ['include/linux/mmview.h', 'mm/memory.c']);
  assert.deepEqual(seriesWarnings(w, touched).map((x) => x.file), ['mm/memory.c', 'include/linux/mmview.h', '']);
});

test('foreign arch: dpkg plan, candidate version, deb names', () => {
  const known = knownArchitectures('amd64\n', 'i386\n');
  assert.deepEqual([...known], ['amd64', 'i386']);
  assert.deepEqual(planForeignArch('amd64', known, false), { kind: 'none' });
  assert.deepEqual(planForeignArch('arm64', known, true), { kind: 'add', commands: [['dpkg', '--add-architecture', 'arm64'], ['apt-get', 'update']] });
  assert.equal(planForeignArch('arm64', known, false).kind, 'ask');
  assert.equal(parseCandidate('busybox-static:arm64:\n  Installed: (none)\n  Candidate: 1:1.35.0-4+deb12u1+b1\n'), '1:1.35.0-4+deb12u1+b1');
  assert.equal(parseCandidate('x:\n  Installed: (none)\n  Candidate: (none)\n'), undefined);
  assert.equal(debFileName('busybox-static', '1:1.35.0-4', 'arm64'), 'busybox-static_1%3a1.35.0-4_arm64.deb');
  assert.equal(pickDeb(['busybox-static_1%3a1.35.0-3_arm64.deb', 'busybox-static_1%3a1.35.0-4_arm64.deb', 'busybox_1_arm64.deb', 'x'], 'busybox-static', 'arm64'), 'busybox-static_1%3a1.35.0-4_arm64.deb');
});

test('build lock: make runs under flock only when MMVIEW_BUILD_LOCK names a file', () => {
  assert.deepEqual(underBuildLock('make', ['-j3'], {}), { cmd: 'make', args: ['-j3'] });
  assert.deepEqual(underBuildLock('make', ['-j3'], { MMVIEW_BUILD_LOCK: '' }), { cmd: 'make', args: ['-j3'] });
  assert.deepEqual(underBuildLock('make', ['-j3'], { MMVIEW_BUILD_LOCK: '/tmp/l' }), { cmd: 'flock', args: ['/tmp/l', 'make', '-j3'] });
});

/** A real console of the arm64 test kernel (KASAN, lockdep, kmemleak) on -cpu cortex-a57, booted by `./mmview test --arch arm64`. */
const REAL_ARM64 = readFileSync(new URL('./fixtures/boot-arm64-test.log', import.meta.url), 'utf8').split('\n');

test('a real arm64 test-kernel boot and test run has no splats; an inserted one is found', () => {
  assert.ok(REAL_ARM64.some((l) => l.includes('Hardware name: linux,dummy-virt') || l.includes('Machine model: linux,dummy-virt')));
  assert.ok(REAL_ARM64.some((l) => /console \[ttyAMA0\] enabled/.test(l)));
  assert.deepEqual(findSplats(REAL_ARM64), []);
  const at = REAL_ARM64.findIndex((l) => l.startsWith('MMVIEW-BEGIN'));
  const oops = ['[  100.000000] Unable to handle kernel paging request at virtual address dead000000000108', '[  100.000001] Call trace:'];
  const s = findSplats([...REAL_ARM64.slice(0, at), ...oops, ...REAL_ARM64.slice(at)]);
  assert.deepEqual(s.map((x) => [x.kind, x.line]), [['Oops', at]]);
});
