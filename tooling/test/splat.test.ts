import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { findSplats, formatSplat } from '../src/results/splat.ts';

const lines = (text: string): string[] => text.replace(/^\n/, '').replace(/\n$/, '').split('\n');

/** Ordinary boot of a debug kernel (KASAN, lockdep, kmemleak, hung task, RCU): nothing here is a splat. */
const BOOT = lines(`
[    0.000000] Linux version 6.12.117 (mmview@mmview) (gcc (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC
[    0.000000] Command line: console=ttyS0 panic=-1 mmview.mode=test mmview.test_timeout=900
[    0.000000] BIOS-provided physical RAM map:
[    0.000000] kasan: KernelAddressSanitizer initialized (generic)
[    0.012345] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar
[    0.012346] ... MAX_LOCKDEP_SUBCLASSES:  8
[    0.012347] ... MAX_LOCK_DEPTH:          48
[    0.012348] ... MAX_LOCKDEP_KEYS:        8192
[    0.012349] ... CLASSHASH_SIZE:          4096
[    0.012350] ... MAX_LOCKDEP_ENTRIES:     32768
[    0.012351] ... MAX_LOCKDEP_CHAINS:      65536
[    0.012352] ... CHAINHASH_SIZE:          32768
[    0.012353]  memory used by lock dependency info: 6365 kB
[    0.012354]  memory used for stack traces: 4224 kB
[    0.012355]  per task-struct memory footprint: 1920 bytes
[    0.020000] rcu: Hierarchical RCU implementation.
[    0.020001] rcu: 	RCU event tracing is enabled.
[    0.020002] rcu: 	RCU calculated value of scheduler-enlistment delay is 100 jiffies.
[    0.020003] rcu: RCU CPU stall warnings timeout set to 60 (rcu_cpu_stall_timeout).
[    0.030000] Spectre V1 : Mitigation: usercopy/swapgs barriers and __user pointer sanitization
[    0.040000] smpboot: CPU0: AMD EPYC Processor (family: 0x17, model: 0x31, stepping: 0x0)
[    0.150000] NMI watchdog: Perf NMI watchdog permanently disabled
[    0.200000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15802)
[    0.200001] kmemleak: Automatic memory scanning thread disabled
[    0.300000] workingset: timestamp_bits=46 max_order=19 bucket_order=0
[    0.310000] Serial: 8250/16550 driver, 4 ports, IRQ sharing disabled
[    0.320000] hung_task: detecting hung tasks, timeout 120 s
[    0.330000] Freeing unused kernel image (initmem) memory: 2860K
[    0.340000] Run /init as init process
[    0.340001] KASAN shadow memory mapped at ffffed0000000000
[    0.400000] random: crng init done
TAP version 13
1..2
# Starting 2 tests from 1 test cases.
#  RUN           global.unshare_einval ...
# WARNING: this diagnostic is from the test program, not the kernel
# BUG: neither is this
#            OK  global.unshare_einval
ok 1 global.unshare_einval
ok 2 global.skipped # SKIP no hugepages
[    9.100000] reboot: Power down
`);

test('an ordinary debug-kernel boot has no splats', () => {
  assert.deepEqual(findSplats(BOOT), []);
});

const WARN = lines(`
[   12.345678] ------------[ cut here ]------------
[   12.345679] WARNING: CPU: 1 PID: 87 at mm/mmview.c:123 mmview_migrate+0x1a2/0x2c0
[   12.345680] Modules linked in:
[   12.345681] CPU: 1 UID: 0 PID: 87 Comm: mmview_basic Not tainted 6.12.117 #1
[   12.345682] RIP: 0010:mmview_migrate+0x1a2/0x2c0
[   12.345690] Call Trace:
[   12.345691]  <TASK>
[   12.345692]  ? __warn+0xa5/0x1c0
[   12.345693]  __x64_sys_mmview_migrate+0x1c/0x30
[   12.345694]  do_syscall_64+0x6d/0x140
[   12.345695]  entry_SYSCALL_64_after_hwframe+0x76/0x7e
[   12.345696]  </TASK>
[   12.345697] ---[ end trace 0000000000000000 ]---
`);

test('WARNING with its call trace is one splat with context', () => {
  const s = findSplats([...BOOT.slice(0, 5), ...WARN, 'ok 1 x']);
  assert.equal(s.length, 1);
  assert.equal(s[0]?.kind, 'WARNING');
  assert.match(s[0]?.text ?? '', /WARNING: CPU: 1 PID: 87/);
  assert.ok((s[0]?.context.length ?? 0) >= 14);
  assert.match(formatSplat(s[0]!, 'console.log'), /^kernel splat \(WARNING\) at console.log:7:\n  \| /);
});

const samples: Array<[string, string, string]> = [
  ['KASAN', 'KASAN', `
[   20.100000] ==================================================================
[   20.100001] BUG: KASAN: slab-use-after-free in mmview_delete+0x3c/0x120
[   20.100002] Read of size 8 at addr ffff888004a1c2d8 by task t/99
`],
  ['null deref', 'BUG', `
[   21.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008
[   21.000001] #PF: supervisor read access in kernel mode
[   21.000002] Oops: Oops: 0000 [#1] PREEMPT SMP KASAN NOPTI
`],
  ['lockdep circular', 'lockdep', `
[   22.000000] ======================================================
[   22.000001] WARNING: possible circular locking dependency detected
[   22.000002] 6.12.117 #1 Not tainted
`],
  ['lockdep recursive', 'lockdep', `
[   22.000001] WARNING: possible recursive locking detected
`],
  ['lockdep inconsistent', 'lockdep', `
[   22.000001] WARNING: inconsistent lock state
`],
  ['suspicious RCU', 'lockdep', `
[   22.000001] WARNING: suspicious RCU usage
`],
  ['lockdep INFO', 'lockdep', `
[   22.000001] INFO: trying to register non-static key.
`],
  ['rcu stall', 'RCU stall', `
[   80.000000] rcu: INFO: rcu_preempt self-detected stall on CPU
[   80.000001] rcu: 	1-....: (14999 ticks this GP) idle=...
`],
  ['rcu stall detected', 'RCU stall', `
[   80.000000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
`],
  ['soft lockup', 'soft lockup', `
[   50.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [t:120]
`],
  ['hard lockup', 'hard lockup', `
[   50.000000] Watchdog detected hard LOCKUP on cpu 1
`],
  ['hung task', 'hung task', `
[  245.000000] INFO: task t:130 blocked for more than 120 seconds.
[  245.000001]       Not tainted 6.12.117 #1
[  245.000002] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
`],
  ['kmemleak report', 'kmemleak', `
unreferenced object 0xffff888003a4e000 (size 64):
  comm "t", pid 140, jiffies 4294901234
  hex dump (first 32 bytes):
  backtrace (crc 1a2b3c4d):
    kmalloc_trace_noprof+0x1d6/0x2e0
    mmview_create+0x7e/0x200
`],
  ['refcount', 'refcount', `
[   30.000000] refcount_t: underflow; use-after-free.
`],
  ['bad page', 'bad page state', `
[   31.000000] BUG: Bad page state in process t  pfn:0a1b2
[   31.000001] page: refcount:0 mapcount:1 mapping:0000000000000000 index:0x0 pfn:0xa1b2
`],
  ['kernel BUG', 'BUG', `
[   32.000000] kernel BUG at mm/memory.c:1234!
[   32.000001] Oops: invalid opcode: 0000 [#1] PREEMPT SMP KASAN NOPTI
`],
  ['panic', 'panic', `
[   33.000000] Kernel panic - not syncing: Fatal exception
`],
  ['oops', 'Oops', `
[   34.000000] Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN NOPTI
`],
  ['gpf', 'general protection fault', `
[   34.000000] general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] SMP KASAN
`],
  ['KASAN range', 'KASAN', `
[   34.000001] KASAN: null-ptr-deref in range [0x0000000000000008-0x000000000000000f]
`],
  ['lone stack trace', 'Call Trace', `
[   35.000000] CPU: 0 UID: 0 PID: 1 Comm: init Not tainted 6.12.117 #1
[   35.000001] Call Trace:
[   35.000002]  <TASK>
[   35.000003]  dump_stack_lvl+0x5d/0x80
`],
  ['sleeping in atomic', 'BUG', `
[   36.000000] BUG: sleeping function called from invalid context at mm/mmview.c:88
`],
  ['list corruption', 'list corruption', `
[   37.000000] list_add corruption. prev->next should be next (ffff888001234560), but was 0000000000000000.
`],
];

for (const [name, kind, text] of samples) {
  test(`splat: ${name}`, () => {
    const log = [...BOOT.slice(0, 20), ...lines(text), ...BOOT.slice(20)];
    const s = findSplats(log);
    assert.equal(s.length, 1, JSON.stringify(s.map((x) => x.text)));
    assert.equal(s[0]?.kind, kind);
  });
}

test('splat printed in the middle of a test program line is found', () => {
  const s = findSplats([...BOOT, '#  RUN           global.x ...[   40.000000] BUG: KASAN: use-after-free in foo+0x1/0x2']);
  assert.equal(s.length, 1);
  assert.equal(s[0]?.kind, 'KASAN');
});

test('stack traces of fault injection and the OOM killer are expected', () => {
  const log = lines(`
[   50.000000] FAULT_INJECTION: forcing a failure.
[   50.000001] name failslab, interval 1, probability 0, space 0, times 0
[   50.000002] CPU: 0 UID: 0 PID: 99 Comm: t Not tainted 6.12.117 #1
[   50.000003] Call Trace:
[   50.000004]  <TASK>
[   51.000000] t invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0
[   51.000001] CPU: 1 UID: 0 PID: 100 Comm: t Not tainted 6.12.117 #1
[   51.000002] Call Trace:
[   51.000003]  <TASK>
`);
  assert.deepEqual(findSplats([...BOOT, ...log]), []);
});

test('two distant splats are reported separately', () => {
  const filler = Array.from({ length: 100 }, (_, i) => `[   60.${String(i).padStart(6, '0')}] ordinary line ${i}`);
  const s = findSplats([...WARN, ...filler, ...lines(samples[0]![2])]);
  assert.deepEqual(s.map((x) => x.kind), ['WARNING', 'KASAN']);
});

test('without printk timestamps, message starts are matched at line start', () => {
  const s = findSplats(['Linux version 6.12', 'WARNING: CPU: 0 PID: 1 at mm/x.c:1 f+0x0/0x1', 'ok 1 x']);
  assert.equal(s.length, 1);
});

/** A real console of the x86_64 test kernel (KASAN, lockdep, kmemleak) booted by `./mmview test`. */
const REAL = readFileSync(new URL('./fixtures/boot-x86_64-test.log', import.meta.url), 'utf8').split('\n');

test('a real test-kernel boot and test run has no splats', () => {
  assert.ok(REAL.some((l) => l.includes('kasan: KernelAddressSanitizer initialized')));
  assert.ok(REAL.includes('MMVIEW-DONE'));
  assert.deepEqual(findSplats(REAL), []);
});

test('a splat in a real console is found once', () => {
  const at = REAL.indexOf('MMVIEW-DONE');
  const s = findSplats([...REAL.slice(0, at), ...WARN, ...REAL.slice(at)]);
  assert.equal(s.length, 1);
  assert.equal(s[0]?.line, at + 1);
});

test('a bad page-table entry (pmd_ERROR and friends) is a splat, on both arches', () => {
  const arm = findSplats([...BOOT, '[    7.573300] ../../linux/mm/pgtable-generic.c:54: bad pmd 00000000000017c0.', 'ok 1 x']);
  assert.equal(arm.length, 1);
  assert.equal(arm[0]?.kind, 'bad page table');
  const x86 = findSplats(['[   12.000001] mm/pgtable-generic.c:54: bad pud 00000000a1b2c3d4(8000000012345e7)']);
  assert.equal(x86[0]?.kind, 'bad page table');
  // A test's own output that happens to mention a pmd is not.
  assert.deepEqual(findSplats(['# the view maps a bad pmd? no: 0 of 512 entries']), []);
});

test('a kmemleak scan whose suspects the following cat no longer lists is no splat; a listed object is', () => {
  const transient = lines(`
[   47.947510] kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)
MMVIEW-DONE
`);
  assert.deepEqual(findSplats([...BOOT, ...transient]), []);
  const listed = lines(`
[   47.947510] kmemleak: 1 new suspected memory leak (see /sys/kernel/debug/kmemleak)
unreferenced object 0xffff888003a4e000 (size 64):
  comm "t", pid 140, jiffies 4294901234
MMVIEW-DONE
`);
  const s = findSplats([...BOOT, ...listed]);
  assert.equal(s.length, 1);
  assert.equal(s[0]?.kind, 'kmemleak');
});
