import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDpkgQuery, requiredPackages } from '../src/host/packages.ts';
import { describeMissing, planPrerequisites } from '../src/host/prerequisites.ts';
import { capture, runLogged } from '../src/util/exec.ts';
import { UserError } from '../src/util/errors.ts';
import { detectKvm } from '../src/host/kvm.ts';
import { archSpec, hostArch } from '../src/arch.ts';
import { isProgressLine } from '../src/build/progress.ts';
import { userlandMakeArgs } from '../src/build/userland.ts';
import { withCcache } from '../src/build/kernel.ts';

test('planPrerequisites: nothing missing', () => {
  assert.deepEqual(planPrerequisites([], [], true), { kind: 'none' });
});

test('planPrerequisites: root installs with apt-get', () => {
  assert.deepEqual(planPrerequisites(['rsync', 'bc'], [], true), {
    kind: 'do',
    commands: [['apt-get', 'update'], ['apt-get', 'install', '-y', '--no-install-recommends', 'bc', 'rsync']],
  });
});

test('planPrerequisites: non-root gets the one command to run', () => {
  assert.deepEqual(planPrerequisites(['rsync', 'bc'], [], false), { kind: 'ask', command: 'sudo apt-get install -y --no-install-recommends bc rsync' });
});

test('parseDpkgQuery keeps installed packages only', () => {
  const out = 'bc\tii \nrsync\tun \nlibelf-dev:amd64\tii \nflex\trc \n';
  assert.deepEqual([...parseDpkgQuery(out)], ['bc', 'libelf-dev']);
});

test('requiredPackages per stage', () => {
  const x86 = archSpec('x86_64');
  assert.deepEqual(requiredPackages({ tree: true, kernel: false, guest: false }, x86, true), ['git', 'xz-utils']);
  const all = requiredPackages({ tree: true, kernel: true, guest: true }, x86, true);
  for (const p of ['rsync', 'flex', 'bison', 'libelf-dev', 'libssl-dev', 'bc', 'ccache', 'busybox-static', 'qemu-system-x86', 'build-essential']) {
    assert.ok(all.includes(p), p);
  }
  const arm = requiredPackages({ tree: false, kernel: true, guest: true }, archSpec('arm64'), false);
  assert.ok(arm.includes('gcc-aarch64-linux-gnu'));
  assert.ok(arm.includes('qemu-system-arm'));
});

test('detectKvm: other arch or unopenable device', () => {
  assert.equal(detectKvm(archSpec('arm64'), 'x86_64').usable, false);
  const dir = mkdtempSync(join(tmpdir(), 'mmview-kvm-'));
  assert.deepEqual(detectKvm(archSpec('x86_64'), 'x86_64', join(dir, 'nope')), { usable: false, reason: `${join(dir, 'nope')}: ENOENT` });
  writeFileSync(join(dir, 'fake'), '');
  assert.equal(detectKvm(archSpec('x86_64'), 'x86_64', join(dir, 'fake')).usable, true);
});

test('hostArch', () => {
  assert.equal(hostArch('x86_64'), 'x86_64');
  assert.equal(hostArch('aarch64'), 'arm64');
});

test('isProgressLine counts kbuild CC/LD/AR lines', () => {
  for (const l of ['  CC      mm/memory.o', '  LD      vmlinux.o', '  AR      lib/lib.a', '  CC [M]  fs/x.o']) assert.ok(isProgressLine(l), l);
  for (const l of ['  HOSTCC  scripts/basic/fixdep', '  GEN     Makefile', 'make[1]: Entering directory', '  CCACHE', '  LDS     arch/x86/kernel/vmlinux.lds']) {
    assert.ok(!isProgressLine(l), l);
  }
});

test('userlandMakeArgs', () => {
  assert.deepEqual(userlandMakeArgs('/src', '/out', { KHDR_INCLUDES: '-I/h' }, ['CC=x-gcc'], 3), ['-C', '/src', '-j3', 'O=/out', 'KHDR_INCLUDES=-I/h', 'CC=x-gcc']);
});

test('withCcache prepends the wrapper folder when present', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmview-ccache-'));
  const env = withCcache({ PATH: '/usr/bin' }, '/repo/build', dir);
  assert.equal(env.PATH, `${dir}:/usr/bin`);
  assert.equal(env.CCACHE_BASEDIR, '/repo/build');
  assert.deepEqual(withCcache({ PATH: '/usr/bin' }, '/repo/build', join(dir, 'missing')), { PATH: '/usr/bin' });
});

test('a missing working folder is reported as a missing folder, a missing command as a missing command', async () => {
  const gone = join(mkdtempSync(join(tmpdir(), 'mmview-exec-')), 'linux');
  await assert.rejects(capture('git', ['status'], { cwd: gone }), (e: Error) => e instanceof UserError && e.message === `folder not found: ${gone} (needed to run git)`);
  await assert.rejects(
    runLogged({ cmd: 'git', args: ['status'], cwd: gone, logFile: join(tmpdir(), `mmview-exec-${process.pid}.log`) }),
    (e: Error) => e instanceof UserError && /^folder not found: .*linux \(needed to run git\)$/.test(e.message),
  );
  await assert.rejects(capture('mmview-no-such-command', [], { cwd: tmpdir() }), (e: Error) => e instanceof UserError && e.message === 'command not found: mmview-no-such-command');
  await assert.rejects(capture('mmview-no-such-command', []), /^UserError: command not found: mmview-no-such-command$/);
});

test('prerequisites: a missing dpkg architecture and packages are one command, the architecture first', () => {
  assert.deepEqual(planPrerequisites(['qemu-system-arm', 'gcc-aarch64-linux-gnu'], ['arm64'], false), {
    kind: 'ask',
    command: 'sudo dpkg --add-architecture arm64 && sudo apt-get update && sudo apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu qemu-system-arm',
  });
  assert.deepEqual(planPrerequisites([], ['arm64'], true), { kind: 'do', commands: [['dpkg', '--add-architecture', 'arm64'], ['apt-get', 'update']] });
  assert.equal(
    describeMissing(['qemu-system-arm'], ['arm64']),
    "packages qemu-system-arm and Debian's arm64 architecture in dpkg (the arm64 guest's busybox-static)",
  );
});

test('requiredPackages: the host unit tests need git, dpkg-deb and xz', () => {
  assert.deepEqual(requiredPackages({ tree: false, kernel: false, guest: false, unit: true }, archSpec('x86_64'), true), ['dpkg', 'git', 'xz-utils']);
});
