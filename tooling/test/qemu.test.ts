import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelCmdline, qemuArgs } from '../src/vm/qemu.ts';
import { archSpec } from '../src/arch.ts';

const base = { arch: archSpec('x86_64'), kernel: '/k/bzImage', initrd: '/i.cpio.gz', interactive: false } as const;

test('test mode with KVM', () => {
  const a = qemuArgs({ ...base, kvm: true, mode: 'test', testTimeout: 900 });
  assert.deepEqual(a, [
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-m', '2G', '-smp', '4',
    '-enable-kvm', '-cpu', 'host',
    '-kernel', '/k/bzImage', '-initrd', '/i.cpio.gz',
    '-append', 'console=ttyS0 no5lvl panic=-1 mmview.mode=test mmview.test_timeout=900',
    '-serial', 'stdio', '-monitor', 'none',
  ]);
});

test('TCG uses -cpu max', () => {
  const a = qemuArgs({ ...base, kvm: false, mode: 'run' });
  assert.ok(!a.includes('-enable-kvm'));
  assert.deepEqual(a.slice(a.indexOf('-cpu'), a.indexOf('-cpu') + 2), ['-cpu', 'max']);
});

test('x86_64 under TCG runs all vCPUs on one TCG thread (live text patching), arm64 multi-threaded', () => {
  const x = qemuArgs({ ...base, kvm: false, mode: 'test' });
  assert.deepEqual(x.slice(x.indexOf('-accel'), x.indexOf('-accel') + 2), ['-accel', 'tcg,thread=single']);
  const a = qemuArgs({ ...base, arch: archSpec('arm64'), kvm: false, mode: 'test' });
  assert.deepEqual(a.slice(a.indexOf('-accel'), a.indexOf('-accel') + 2), ['-accel', 'tcg']);
  assert.ok(!qemuArgs({ ...base, kvm: true, mode: 'test' }).includes('-accel'));
});

test('interactive run: console on the terminal, logged, Ctrl-C to the guest', () => {
  const a = qemuArgs({ ...base, kvm: true, mode: 'run', interactive: true, consoleLog: '/l/a,b.log', rows: 40, cols: 120 });
  assert.ok(a.includes('stdio,id=con,mux=on,signal=off,logfile=/l/a,,b.log'));
  assert.deepEqual(a.slice(-4), ['-serial', 'chardev:con', '-mon', 'chardev=con,mode=readline']);
  assert.equal(a[a.indexOf('-append') + 1], 'console=ttyS0 no5lvl panic=-1 mmview.mode=run mmview.interactive=1 mmview.rows=40 mmview.cols=120');
});

test('arm64 uses the virt machine and ttyAMA0', () => {
  const spec = archSpec('arm64');
  const a = qemuArgs({ ...base, arch: spec, kvm: false, mode: 'test' });
  assert.ok(a.includes('virt,gic-version=max'));
  assert.match(kernelCmdline({ ...base, arch: spec, kvm: false, mode: 'test' }), /^console=ttyAMA0 /);
});
