import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelCmdline, memoryMiB, numaArgs, qemuArgs } from '../src/vm/qemu.ts';
import { testBootParts, testQemuArgs, TEST_NUMA_NODES } from '../src/pipeline/boots.ts';
import { guestForParts, type GuestImage } from '../src/pipeline/guest.ts';
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

test('NUMA nodes split memory and vCPUs, one socket per node; one node adds nothing', () => {
  assert.deepEqual(numaArgs('2G', 4, 2), {
    smp: '4,sockets=2,cores=2,threads=1',
    args: [
      '-object', 'memory-backend-ram,id=ram0,size=1024M', '-numa', 'node,nodeid=0,cpus=0-1,memdev=ram0',
      '-object', 'memory-backend-ram,id=ram1,size=1024M', '-numa', 'node,nodeid=1,cpus=2-3,memdev=ram1',
    ],
  });
  // An odd size: the last node takes the rest; vCPUs the nodes do not divide stay on node 0.
  assert.deepEqual(numaArgs('1025M', 3, 2), {
    smp: '3',
    args: [
      '-object', 'memory-backend-ram,id=ram0,size=512M', '-numa', 'node,nodeid=0,cpus=0-2,memdev=ram0',
      '-object', 'memory-backend-ram,id=ram1,size=513M', '-numa', 'node,nodeid=1,memdev=ram1',
    ],
  });
  assert.deepEqual(numaArgs('2G', 4, 1), { smp: '4', args: [] });
  assert.equal(memoryMiB('3g'), 3072);
  assert.equal(memoryMiB('2048'), 2048);
  assert.throws(() => memoryMiB('2T'), /guest memory 2T: not a size/);
  assert.throws(() => numaArgs('100M', 2, 2), /too little for 2 NUMA nodes/);
});

test('test boots have two NUMA nodes, with the memory and vCPUs asked for', () => {
  const { args } = testQemuArgs(archSpec('x86_64'), {
    image: '/k', initrd: '/i', kvm: false, cpu: { model: 'max', label: 'max' }, testTimeout: 900, parts: ['tests', 'mm', 'bench', 'soak'], size: { memory: '3G', smp: 2 },
  });
  assert.equal(TEST_NUMA_NODES, 2);
  assert.equal(args[args.indexOf('-m') + 1], '3G');
  assert.equal(args[args.indexOf('-smp') + 1], '2,sockets=2,cores=1,threads=1');
  assert.deepEqual(args.filter((a) => a.startsWith('node,')), ['node,nodeid=0,cpus=0-0,memdev=ram0', 'node,nodeid=1,cpus=1-1,memdev=ram1']);
  assert.ok(args.includes('memory-backend-ram,id=ram1,size=1536M'));
});

test('of several CPU models, the last runs every part and the others the test programs only', () => {
  assert.deepEqual(testBootParts(1, 0), ['tests', 'mm', 'bench', 'soak']);
  assert.deepEqual([0, 1].map((i) => testBootParts(2, i)), [['tests'], ['tests', 'mm', 'bench', 'soak']]);
  const cmdline = (parts: Parameters<typeof testQemuArgs>[1]['parts']): string => {
    const { args } = testQemuArgs(archSpec('arm64'), {
      image: '/k', initrd: '/i', kvm: false, cpu: { model: 'cortex-a57', label: 'cortex-a57' }, testTimeout: 900, parts, size: {},
    });
    return args[args.indexOf('-append') + 1] ?? '';
  };
  assert.match(cmdline(['tests']), / mmview\.parts=tests( |$)/);
  assert.doesNotMatch(cmdline(['tests', 'mm', 'bench', 'soak']), /mmview\.parts=/);
  // What the host expects to see run follows the parts, so a left-out part is not "did not run".
  const image: GuestImage = {
    initrd: '/i',
    tests: [{ name: 't', path: '/t' }],
    benches: [{ name: 'b', path: '/b' }],
    mmSelftests: ['cow'],
    userland: {} as GuestImage['userland'],
    extraRuns: ['soak/trinity'],
  };
  const onlyTests = guestForParts(image, ['tests']);
  assert.deepEqual([onlyTests.tests.length, onlyTests.benches.length, onlyTests.mmSelftests.length, onlyTests.extraRuns?.length], [1, 0, 0, 0]);
  assert.deepEqual(guestForParts(image, testBootParts(1, 0)), image);
});
