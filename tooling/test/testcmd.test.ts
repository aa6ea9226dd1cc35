/**
 * The wiring of `test` and of the kernel build, with the steps that install,
 * build and boot stood in for: what runs in which order, and what a
 * configuration or KVM answer makes of the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { machine, tmpdir } from 'node:os';
import { join } from 'node:path';
import { archSpec, hostArch, type ArchName } from '../src/arch.ts';
import { detectKvm } from '../src/host/kvm.ts';
import type { KvmHost } from '../src/pipeline/accel.ts';
import { cmdTest, testArch, type ArchBoot, type ArchSteps, type TestOptions, type TestSteps } from '../src/pipeline/commands.ts';
import { makeContext } from '../src/pipeline/context.ts';
import { dryRunTest } from '../src/pipeline/dryrun.ts';
import type { GuestImage } from '../src/pipeline/guest.ts';
import { configureAndBuildKernel, type KernelSteps } from '../src/pipeline/kernel.ts';
import { testPlan, testPrerequisites } from '../src/pipeline/plan.ts';
import type { Summary } from '../src/results/summary.ts';
import { UserError } from '../src/util/errors.ts';
import { StageTimer } from '../src/util/log.ts';
import { probeKey } from '../src/vm/probe.ts';

const tmp = (what: string): string => mkdtempSync(join(tmpdir(), `mmview-${what}-`));

// --- configure, then build ---------------------------------------------------

/** Stand-ins for make: configure reports `mismatches(call)`, build writes the image and counts. */
function makeSteps(build: string, mismatches: (call: number) => { option: string; wanted: string; got: string | undefined }[]) {
  const calls = { configure: 0, build: 0 };
  const steps: KernelSteps = {
    configure: async () => ({ reconfigured: true, changed: true, fragments: ['base.config', 'x86_64.config', 'test.config'], mismatches: mismatches(++calls.configure) }),
    build: async () => {
      calls.build++;
      const image = join(build, 'bzImage');
      writeFileSync(image, '');
      return { image, units: 1 };
    },
  };
  return { calls, steps };
}

function kernelSpec(build: string, flavour: 'test' | 'release') {
  const ctx = makeContext({ config: flavour, buildDir: build, arch: 'x86_64' }, new StageTimer());
  return { ctx, spec: { tree: join(build, 'linux'), obj: ctx.obj, target: ctx.target, name: `x86_64-${flavour}` } };
}

const PERF = { option: 'CONFIG_PERF_EVENTS', wanted: 'y', got: undefined };

test('configureAndBuildKernel: a test-config option that does not take effect fails before the build starts', async () => {
  const build = tmp('cfg');
  const { ctx, spec } = kernelSpec(build, 'test');
  const { calls, steps } = makeSteps(build, () => [PERF]);
  await assert.rejects(configureAndBuildKernel(ctx, spec, steps), (e: unknown) => e instanceof UserError && /CONFIG_PERF_EVENTS=y \(got unset\); the tests rely on them/.test(e.message));
  assert.equal(calls.build, 0, 'rejected before building');

  // The same mismatch in another flavour is a warning; without one the test kernel builds.
  const release = kernelSpec(tmp('cfg'), 'release');
  assert.match(await configureAndBuildKernel(release.ctx, release.spec, makeSteps(tmp('cfg'), () => [PERF]).steps), /bzImage$/);
  const clean = makeSteps(build, () => []);
  assert.match(await configureAndBuildKernel(ctx, spec, clean.steps), /bzImage$/);
  assert.deepEqual(clean.calls, { configure: 2, build: 1 });
});

test('configureAndBuildKernel: a test-config option the build itself dropped fails after the build', async () => {
  const build = tmp('cfg');
  const { ctx, spec } = kernelSpec(build, 'test');
  const { calls, steps } = makeSteps(build, (call) => (call === 1 ? [] : [PERF]));
  await assert.rejects(configureAndBuildKernel(ctx, spec, steps), /CONFIG_PERF_EVENTS=y \(got unset\)/);
  assert.deepEqual(calls, { configure: 2, build: 1 });
});

// --- cmdTest: order of its steps --------------------------------------------------

const OPTS: TestOptions = { config: 'test', timeout: 1, testTimeout: 60, unit: true };
const passed = (name: string): Summary => {
  const row = { name, passed: 1, failed: 0, skipped: 0 };
  return { rows: [row], totals: { ...row, name: 'total' }, problems: [], ok: true };
};

/** Steps that record their order; nothing is installed, fetched, built or booted. */
function recordingSteps() {
  const order: string[] = [];
  const seen: { prerequisites?: Parameters<TestSteps['prerequisites']>[0]; createdTree?: string } = {};
  const steps: TestSteps = {
    prerequisites: async (p) => {
      order.push('prerequisites');
      seen.prerequisites = p;
      return { installed: [], enabled: [] };
    },
    unit: async () => {
      order.push('unit');
      return { row: { name: 'host unit tests', passed: 1, failed: 0, skipped: 0 }, ok: true, output: '', problems: [] };
    },
    arch: async (_opts, arch) => {
      order.push(`arch ${arch}`);
      return [passed(arch)];
    },
    source: async () => {
      order.push('source');
      return { package: 'linux-source-6.12', version: '6.12.0-1', upstream: '6.12', tarball: '/nonexistent', topDir: 'linux', pinned: true, action: 'cached' };
    },
    createTree: async (req) => {
      order.push('create tree');
      seen.createdTree = req.tree;
      mkdirSync(req.tree, { recursive: true });
      return { tree: req.tree, applied: req.series.length };
    },
    build32: async (ctx) => {
      order.push(`build32 (tree ${existsSync(ctx.paths.tree) ? 'present' : 'missing'})`);
      const row = { arch: 'i386', name: 'build (32-bit, warnings in series files)', passed: 1, failed: 0, skipped: 0 };
      return { row, problems: [], warnings: [], mmview: 'n' };
    },
  };
  return { order, seen, steps };
}

test('cmdTest: every architecture\'s host prerequisites (arm64\'s dpkg architecture included) come before the unit tests', async () => {
  const build = tmp('order');
  const { order, seen, steps } = recordingSteps();
  assert.equal(await cmdTest({ ...OPTS, buildDir: build }, steps), 0);
  assert.deepEqual(order, ['prerequisites', 'unit', 'arch x86_64', 'arch arm64', 'build32 (tree missing)']);
  const host = machine();
  assert.deepEqual(seen.prerequisites, testPrerequisites(testPlan({}, hostArch(host)), { unit: true }, host));
  // One of the two guest arches is foreign on any host: its Debian architecture is asked for up front.
  assert.deepEqual(seen.prerequisites?.foreignArches, [hostArch(host) === 'x86_64' ? 'arm64' : 'amd64']);
  assert.ok(['git', 'dpkg', 'xz-utils', 'qemu-system-x86', 'qemu-system-arm'].every((p) => seen.prerequisites?.packages.includes(p)));
});

test('cmdTest --arch i386 on a fresh clone: build/linux is created before the 32-bit build check', async () => {
  const build = tmp('i386');
  const { order, seen, steps } = recordingSteps();
  assert.equal(await cmdTest({ ...OPTS, unit: false, testArch: 'i386', buildDir: build }, steps), 0);
  assert.deepEqual(order, ['prerequisites', 'source', 'create tree', 'build32 (tree present)']);
  assert.equal(seen.createdTree, join(build, 'linux'));
});

// --- KVM: the one rule picks the CPU models -------------------------------------------

/** A host whose /dev/kvm opens (or not) and whose probe boot answers `ok`; counts the probes. */
function kvmHost(device: boolean, ok: boolean) {
  const probes: string[] = [];
  const host: KvmHost = {
    device: () => (device ? { usable: true, reason: '/dev/kvm is usable' } : { usable: false, reason: '/dev/kvm: ENOENT' }),
    probe: async (qemu) => {
      probes.push(qemu);
      return ok ? { ok: true, reason: 'the guest boots under KVM' } : { ok: false, reason: 'QEMU with KVM failed (exit 1): nested' };
    },
  };
  return { host, probes };
}

/** testArch with the build and the boots stood in for: the boots it asked for. */
async function archBoots(arch: ArchName, host: KvmHost): Promise<{ label: string; cpu: string; kvm: boolean }[]> {
  const build = tmp('kvm');
  const boots: { label: string; cpu: string; kvm: boolean }[] = [];
  const image: GuestImage = {
    initrd: join(build, 'initramfs-test.cpio.gz'),
    tests: [],
    benches: [],
    mmSelftests: [],
    userland: { libDir: undefined, testsDir: undefined, benchDir: undefined, mmSelftestsDir: undefined, demo: undefined },
  };
  const steps: ArchSteps = {
    prepare: async () => ({ kernel: { image: join(build, 'Image'), headers: undefined }, guest: image }),
    kvmHost: host,
    boot: async (b: ArchBoot) => {
      boots.push({ label: b.label, cpu: b.cpu.model, kvm: b.kvm.usable });
      return passed(b.label);
    },
  };
  const rows = await testArch({ ...OPTS, buildDir: build }, arch, new StageTimer(), steps);
  assert.ok(rows.every((r) => r.ok), JSON.stringify(rows));
  return boots;
}

test('testArch: /dev/kvm present but the probe boot failing means TCG, and every TCG CPU model boots', async () => {
  const failing = kvmHost(true, false);
  assert.deepEqual(await archBoots('arm64', failing.host), [
    { label: 'arm64/cortex-a57', cpu: 'cortex-a57', kvm: false },
    { label: 'arm64/max', cpu: 'max,pauth-impdef=on', kvm: false },
  ]);
  assert.deepEqual(failing.probes, ['qemu-system-aarch64'], 'the probe decided, not /dev/kvm alone');
  // The same host with a probe that boots: KVM, one boot on the host's CPU.
  assert.deepEqual(await archBoots('arm64', kvmHost(true, true).host), [{ label: 'arm64', cpu: 'max,pauth-impdef=on', kvm: true }]);
});

test('testArch: a guest of another arch than the host\'s boots under TCG even where a probe would succeed', async () => {
  const foreign: ArchName = hostArch(machine()) === 'x86_64' ? 'arm64' : 'x86_64';
  const willing = kvmHost(true, true);
  const boots = await archBoots(foreign, { device: detectKvm, probe: willing.host.probe });
  assert.deepEqual(boots.map((b) => [b.cpu, b.kvm]), archSpec(foreign).tcgCpus.map((c) => [c.model, false]));
  assert.deepEqual(willing.probes, []);
});

test('test --dry-run: /dev/kvm present but a failed probe on record means TCG and every TCG CPU model', async () => {
  const build = tmp('dry');
  const plan = { arches: ['arm64' as const], build32: false };
  const { host, probes } = kvmHost(true, true);
  // Before any probe, /dev/kvm alone: KVM, provisionally.
  assert.deepEqual((await dryRunTest({ ...OPTS, buildDir: build }, plan, host)).map((b) => b.label), ['arm64-test']);
  mkdirSync(join(build, 'host-tools'));
  writeFileSync(join(build, 'host-tools', 'kvm-probe.json'), JSON.stringify({ key: probeKey('qemu-system-aarch64'), ok: false, reason: 'nested' }));
  const boots = await dryRunTest({ ...OPTS, buildDir: build }, plan, host);
  assert.deepEqual(boots.map((b) => b.label), ['arm64-test/cortex-a57', 'arm64-test/max']);
  assert.ok(boots.every((b) => b.accel === 'TCG (nested)' && / -cpu (cortex-a57|max,pauth-impdef=on) /.test(b.command)));
  assert.deepEqual(probes, [], '--dry-run never boots the probe');
});
