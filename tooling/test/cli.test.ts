import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliHarness } from './cli-harness.ts';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/util/errors.ts';

const harness = cliHarness;

test('run without a command uses defaults', async () => {
  const h = harness();
  assert.equal(await h.run(['run']), 0);
  assert.deepEqual(h.calls, [
    { cmd: 'run', opts: { config: 'test', acceptVersion: undefined, kernel: undefined, buildDir: undefined, arch: undefined, add: [], timeout: undefined, command: [] } },
  ]);
});

const scratch = mkdtempSync(join(tmpdir(), 'mmview-cli-'));
const prog = join(scratch, 'prog');
const dataDir = join(scratch, 'data');
writeFileSync(prog, '#!/bin/sh\n');
mkdirSync(dataDir);

test('run --add ... -- cmd args passes the command through', async () => {
  const h = harness(3);
  assert.equal(await h.run(['run', '--add', prog, '--add', dataDir, '--config', 'release', '--', '/prog', '-x', '--flag']), 3);
  const o = h.calls[0]?.opts as { add: string[]; command: string[]; config: string };
  assert.deepEqual(o.add, [prog, dataDir]);
  assert.deepEqual(o.command, ['/prog', '-x', '--flag']);
  assert.equal(o.config, 'release');
});

test('run: options after the command belong to the command', async () => {
  const h = harness();
  await h.run(['run', '/bin/ls', '-l']);
  assert.deepEqual((h.calls[0]?.opts as { command: string[] }).command, ['/bin/ls', '-l']);
});

test('test options', async () => {
  const h = harness();
  await h.run(['test', '--timeout', '5', '--filter', 'churn']);
  const o = h.calls[0]?.opts as { timeout: number; filter: string; testTimeout: number; unit: boolean; config: string };
  assert.equal(o.timeout, 5);
  assert.equal(o.filter, 'churn');
  assert.equal(o.testTimeout, 900);
  assert.equal(o.unit, true);
  assert.equal(o.config, 'test');
});

test('test defaults: 60 minute timeout', async () => {
  const h = harness();
  await h.run(['test']);
  assert.equal((h.calls[0]?.opts as { timeout: number }).timeout, 60);
});

test('tree --force, export, build, unit', async () => {
  const h = harness();
  await h.run(['tree', '--force']);
  await h.run(['export']);
  await h.run(['build', '--config', 'release']);
  await h.run(['unit']);
  assert.deepEqual(h.calls.map((c) => c.cmd), ['tree', 'export', 'build', 'unit']);
  assert.equal((h.calls[0]?.opts as { force: boolean }).force, true);
  assert.equal((h.calls[2]?.opts as { config: string }).config, 'release');
});

const badArgs: Array<[string[], RegExp]> = [
  [['bogus'], /^mmview: unknown command 'bogus'/],
  [['test', '--config', 'debug'], /^mmview: option '--config <flavour>' argument 'debug' is invalid/],
  [['test', '--timeout', 'soon'], /--timeout must be a positive number/],
  [['test', '--timeout', '0'], /--timeout must be a positive number/],
  [['test', '--bogus'], /^mmview: unknown option '--bogus'/],
  [['run', '--add'], /^mmview: option '--add <path>' argument missing/],
  [['tree', 'extra'], /^mmview: too many arguments/],
  [['export', '--force'], /^mmview: unknown option '--force'/],
];

for (const [argv, re] of badArgs) {
  test(`bad arguments: ${argv.join(' ')}`, async () => {
    const h = harness();
    assert.equal(await h.run(argv), 1);
    assert.equal(h.calls.length, 0);
    const text = h.err.join('');
    assert.match(text, re);
    assert.equal(text.trimEnd().split('\n').length, 1, `one line expected, got: ${text}`);
  });
}

test('a UserError is one line and exit 1', async () => {
  const h = harness(0, new UserError('patch 0001-x.patch does not apply'));
  assert.equal(await h.run(['build']), 1);
  assert.equal(h.err.join(''), 'mmview: patch 0001-x.patch does not apply\n');
});

test('an unexpected error is one line too', async () => {
  const h = harness(0, new TypeError('boom'));
  assert.equal(await h.run(['build']), 1);
  const text = h.err.join('');
  assert.match(text, /^mmview: internal error: boom/);
  assert.equal(text.trimEnd().split('\n').length, 1);
});

test('--help exits 0', async () => {
  const h = harness();
  assert.equal(await h.run(['--help']), 0);
  assert.match(h.out.join(''), /Usage: mmview/);
});

test('bench defaults', async () => {
  const h = harness();
  assert.equal(await h.run(['bench']), 0);
  assert.deepEqual(h.calls, [
    {
      cmd: 'bench',
      opts: {
        reps: undefined,
        rounds: 3,
        tiny: false,
        filter: undefined,
        skipBuild: false,
        buildOnly: false,
        timeout: 45,
        smp: 2,
        memory: '3G',
        acceptVersion: undefined,
        from: undefined,
        buildDir: undefined,
        arch: undefined,
      },
    },
  ]);
});

test('bench options', async () => {
  const h = harness();
  await h.run(['bench', '--reps', '7', '--tiny', '--filter', 'fault', '--skip-build', '--smp', '1', '--memory', '4096M']);
  const o = h.calls[0]?.opts as { reps: number; tiny: boolean; filter: string; skipBuild: boolean; smp: number; memory: string };
  assert.deepEqual([o.reps, o.tiny, o.filter, o.skipBuild, o.smp, o.memory], [7, true, 'fault', true, 1, '4096M']);
  assert.equal((o as unknown as { rounds: number }).rounds, 1, '--tiny: one round unless --rounds is given');
  const h2 = harness();
  await h2.run(['bench', '--tiny', '--rounds', '2']);
  assert.equal((h2.calls[0]?.opts as { rounds: number }).rounds, 2);
});

test('bench rejects bad values and contradictory options', async () => {
  for (const argv of [['bench', '--reps', '0'], ['bench', '--reps', '2.5'], ['bench', '--memory', 'lots']]) {
    const h = harness();
    assert.notEqual(await h.run(argv), 0, argv.join(' '));
    assert.equal(h.calls.length, 0);
    assert.match(h.err.join(''), /^mmview: /);
  }
  const h = harness();
  assert.equal(await h.run(['bench', '--skip-build', '--build-only']), 1);
  assert.match(h.err.join(''), /exclude each other/);
});

// Issue 17: input errors are reported before anything is installed, built or booted (no action runs).
const earlyErrors: Array<[string[], RegExp]> = [
  [['run', '--add', join(scratch, 'missing'), '--', '/missing'], /^mmview: --add .*missing: no such file or folder$/],
  [['run', '--add', join(scratch, 'bin')], /no such file or folder/],
  [['run', '--arch', 'arm64', '--cpu', 'a53'], /^mmview: --cpu a53: arm64 boots cortex-a57 or max$/],
  [['run', '--arch', 'x86_64', '--cpu', 'cortex-a57'], /^mmview: --cpu cortex-a57: x86_64 boots max$/],
  [['run', '--kernel', join(scratch, 'bzImage')], /^mmview: --kernel .*bzImage: no such file$/],
  [['test', '--filter', 'no-such-program'], /^mmview: no guest test program matches --filter no-such-program on x86_64; available: mmview_abi_test, /],
  [['test', '--filter', 'pagemap_ioctl'], /^mmview: no guest test program matches --filter pagemap_ioctl on arm64; it matches on x86_64: add --arch x86_64$/],
  [['test', '--cpu', 'cortex-a57'], /^mmview: --cpu cortex-a57: x86_64 boots max; pick the arch with --arch$/],
  [['test', '--arch', 'arm64', '--cpu', 'a53'], /^mmview: --cpu a53: arm64 boots cortex-a57 or max$/],
  [['test', '--guest-tests', join(scratch, 'nope')], /^mmview: --guest-tests .*nope: no such folder$/],
  [['test', '--guest-tests', dataDir, '--filter', 'x'], /^mmview: no guest test program matches --filter x on x86_64; available: none$/],
  [['soak', '--arch', 'arm64', '--cpu', 'a53'], /^mmview: --cpu a53: arm64 boots cortex-a57 or max$/],
  [['bench', '--filter', 'no-such-bench'], /^mmview: no benchmark program matches --filter no-such-bench \(available: mmview_bench_migrate, /],
  [['run', '--smp', '0'], /--smp must be a positive integer/],
  [['test', '--smp', 'two'], /--smp must be a positive integer/],
  [['run', '--memory', '0G'], /--memory must look like 3G or 3072M/],
  [['test', '--memory', 'lots'], /--memory must look like 3G or 3072M/],
];

for (const [argv, re] of earlyErrors) {
  test(`input error before any work: ${argv.map((a) => a.replace(scratch, '<tmp>')).join(' ')}`, async () => {
    const h = harness();
    assert.equal(await h.run(argv), 1);
    assert.equal(h.calls.length, 0, 'the command did not start');
    const text = h.err.join('');
    assert.match(text.trimEnd(), re);
    assert.equal(text.trimEnd().split('\n').length, 1, `one line expected, got: ${text}`);
  });
}

test('good inputs pass the early checks', async () => {
  const h = harness();
  assert.equal(await h.run(['test', '--arch', 'x86_64', '--filter', 'mm/pagemap_ioctl']), 0);
  assert.equal(await h.run(['test', '--filter', 'bench']), 0);
  assert.equal(await h.run(['test', '--arch', 'x86_64', '--filter', 'soak/']), 0);
  assert.equal(await h.run(['test', '--arch', 'i386', '--filter', 'whatever']), 0, 'the i386 build check runs no programs');
  assert.equal(await h.run(['run', '--arch', 'arm64', '--cpu', 'cortex-a57', '--add', prog]), 0);
  assert.equal(h.calls.length, 5);
});

test('run and test take --smp, --memory and --dry-run', async () => {
  const h = harness();
  await h.run(['run', '--smp', '2', '--memory', '1G', '--dry-run', '--', '/bin/true']);
  await h.run(['test', '--smp', '8', '--memory', '4096M', '--dry-run']);
  await h.run(['test']);
  const [run, t, plain] = h.calls.map((c) => c.opts as { smp?: number; memory?: string; dryRun?: boolean; command?: string[] });
  assert.deepEqual([run?.smp, run?.memory, run?.dryRun, run?.command], [2, '1G', true, ['/bin/true']]);
  assert.deepEqual([t?.smp, t?.memory, t?.dryRun], [8, '4096M', true]);
  assert.deepEqual([plain?.smp, plain?.memory, plain?.dryRun], [undefined, undefined, undefined]);
});
