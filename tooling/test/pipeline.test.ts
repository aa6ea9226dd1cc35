import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testPlan, testPrerequisites } from '../src/pipeline/plan.ts';
import { checkBuild32 } from '../src/pipeline/build32.ts';
import { makeContext } from '../src/pipeline/context.ts';
import { decideAccel } from '../src/pipeline/accel.ts';
import { dryRunRun, dryRunTest, renderDryRun } from '../src/pipeline/dryrun.ts';
import { guestProgramNames, makeVariable } from '../src/pipeline/inputs.ts';
import { makePaths } from '../src/paths.ts';
import { StageTimer } from '../src/util/log.ts';

test('test prerequisites: the unit tests\' packages and every arch\'s, the arm64 dpkg architecture, all up front', () => {
  const all = testPrerequisites(testPlan({}, 'x86_64'), { unit: true }, 'x86_64');
  for (const p of ['git', 'xz-utils', 'dpkg', 'qemu-system-x86', 'qemu-system-arm', 'gcc-aarch64-linux-gnu', 'busybox-static', 'flex']) {
    assert.ok(all.packages.includes(p), p);
  }
  assert.deepEqual(all.foreignArches, ['arm64'], 'arm64\'s busybox-static needs dpkg --add-architecture arm64 before the x86_64 run');
  const x86 = testPrerequisites(testPlan({ testArch: 'x86_64', arch: 'x86_64' }, 'x86_64'), { unit: false }, 'x86_64');
  assert.deepEqual(x86.foreignArches, []);
  assert.ok(!x86.packages.includes('qemu-system-arm'));
  const i386 = testPrerequisites(testPlan({ testArch: 'i386' }, 'x86_64'), { unit: true }, 'x86_64');
  assert.ok(i386.packages.includes('flex') && !i386.packages.includes('qemu-system-x86'));
  assert.deepEqual(testPrerequisites(testPlan({ kernel: '/k' }, 'x86_64'), { unit: false, kernel: '/k' }, 'x86_64').packages, ['build-essential', 'busybox-static', 'qemu-system-x86']);
});

test('the 32-bit build check names a missing work tree instead of failing on a command', async () => {
  const build = mkdtempSync(join(tmpdir(), 'mmview-b32-'));
  const r = await checkBuild32(makeContext({ config: 'test', buildDir: build, arch: 'x86_64' }, new StageTimer()));
  assert.equal(r.row.failed, 1);
  assert.match(r.problems[0] ?? '', /^i386 \(32-bit\) build: .*linux does not exist or is not a kernel tree \(create it with \.\/mmview tree\)$/);
  assert.deepEqual(readdirSync(build), [], 'nothing was configured or built');
});

test('KVM: one rule, device then probe (cached), and --dry-run never boots', async () => {
  const yes = { usable: true, reason: '/dev/kvm is usable' };
  const no = { usable: false, reason: '/dev/kvm: ENOENT' };
  let probes = 0;
  const probe = async () => {
    probes++;
    return { ok: false, reason: 'QEMU with KVM failed (exit 1)' };
  };
  assert.deepEqual(await decideAccel({ device: no, cached: undefined, probe }), { usable: false, reason: '/dev/kvm: ENOENT' });
  assert.equal(probes, 0, 'no probe without a device');
  assert.deepEqual(await decideAccel({ device: yes, cached: undefined, probe }), { usable: false, reason: 'QEMU with KVM failed (exit 1)' });
  assert.equal(probes, 1);
  assert.deepEqual(await decideAccel({ device: yes, cached: { ok: false, reason: 'nested' }, probe }), { usable: false, reason: 'nested' });
  assert.equal(probes, 1, 'a cached answer is not probed again');
  assert.equal((await decideAccel({ device: yes, cached: undefined, probe: undefined })).usable, true);
});

test('KVM is decided in pipeline/accel.ts only', () => {
  const src = new URL('../src/', import.meta.url).pathname;
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !p.endsWith('pipeline/accel.ts') && !p.endsWith('host/kvm.ts') && !p.endsWith('vm/probe.ts')) {
        if (/\b(detectKvm|probeKvm|cachedProbe)\s*\(/.test(readFileSync(p, 'utf8'))) offenders.push(p.slice(src.length));
      }
    }
  };
  walk(src);
  assert.deepEqual(offenders, []);
});

test('--dry-run prints the QEMU command line with --smp and --memory, and builds nothing', async () => {
  const build = mkdtempSync(join(tmpdir(), 'mmview-dry-'));
  const kernel = join(build, 'bzImage');
  writeFileSync(kernel, '');
  const run = await dryRunRun({ config: 'test', buildDir: build, arch: 'arm64', kernel, smp: 2, memory: '1G', cpu: 'cortex-a57', command: ['/bin/true'] }, false);
  assert.equal(run.label, 'arm64-test');
  assert.match(run.accel, /^TCG \(guest arm64 differs from host/);
  assert.match(run.command, /^qemu-system-aarch64 .*-m 1G -smp 2 .*-cpu cortex-a57 -kernel \S*bzImage -initrd \S*initramfs-run\.cpio\.gz /);
  assert.deepEqual(run.notBuilt.length, 1, 'the initramfs is not there yet');

  const boots = await dryRunTest({ config: 'test', buildDir: build, testTimeout: 900, memory: '3G' }, { arches: ['arm64'], build32: true });
  assert.deepEqual(boots.map((b) => b.label), ['arm64-test/cortex-a57', 'arm64-test/max']);
  assert.ok(boots.every((b) => / -m 3G -smp 4,sockets=2,cores=2,threads=1 .*-numa node,nodeid=1,cpus=2-3,memdev=ram1 /.test(b.command) && /mmview\.test_timeout=900/.test(b.command)));
  const text = renderDryRun(boots, ['i386: the 32-bit build check (built, never booted)']);
  assert.match(text, /^# arm64-test\/cortex-a57: TCG .*; not built yet: .*Image, .*initramfs-test\.cpio\.gz\nqemu-system-aarch64 /);
  assert.deepEqual(readdirSync(build), ['bzImage'], 'nothing was written to the build folder');
});

test('--filter names come from the sources: tests, mm/<program> per arch, benchmarks, soak', () => {
  assert.deepEqual(makeVariable('A := x \\\n\ty z\nB = q\n', 'A'), ['x', 'y', 'z']);
  assert.equal(makeVariable('A := x\n', 'TESTS'), undefined);
  const paths = makePaths();
  const x86 = guestProgramNames(paths, 'x86_64', { soak: true }) ?? [];
  const arm = guestProgramNames(paths, 'arm64', {}) ?? [];
  for (const n of ['mmview_abi_test', 'mm/cow', 'mm/pagemap_ioctl', 'mmview_bench_fault', 'soak/stress-ng']) assert.ok(x86.includes(n), n);
  assert.ok(!arm.includes('mm/pagemap_ioctl') && !arm.includes('soak/stress-ng'));
  const dir = mkdtempSync(join(tmpdir(), 'mmview-gt-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a_test'), '', { mode: 0o755 });
  assert.deepEqual(guestProgramNames(paths, 'x86_64', { guestTests: dir }), ['a_test']);
});
