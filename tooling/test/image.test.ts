import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_SMOKE_ARGS, DEMO_PATH, renderInit, shellQuote } from '../src/image/init.ts';
import { MM_GUEST_DIR, MM_PREFIX, MM_RUNNER } from '../src/mmselftests/programs.ts';
import { SOAK_PREFIX, SOAK_RUNNER } from '../src/soak/config.ts';
import { bootInit, relocate, type GuestFile } from './init-harness.ts';
import { renderFileList, withParents } from '../src/image/filelist.ts';
import { addEntries, collectEntries } from '../src/image/contents.ts';
import { UserError } from '../src/util/errors.ts';
import { missingSources, writeInitramfs } from '../src/image/cpio.ts';

test('shellQuote leaves plain words alone', () => {
  assert.equal(shellQuote(['/prog', 'arg', '--x=1', 'a,b:c']), '/prog arg --x=1 a,b:c');
});

test('shellQuote quotes everything else', () => {
  assert.equal(shellQuote(['a b', "it's", '', '$HOME', '*']), `'a b' 'it'\\''s' '' '$HOME' '*'`);
});

test('shellQuote round-trips through sh', () => {
  const args = ['printf', '[%s]\\n', 'a b', "it's", '', '$HOME', '`id`', 'x"y', '\\', 'new\nline', '*', '~', '-n'];
  const out = execFileSync('/bin/sh', ['-c', shellQuote(args)], { encoding: 'utf8' });
  assert.equal(out, args.slice(2).map((a) => `[${a}]\n`).join(''));
});

test('/init is valid sh', () => {
  const init = renderInit();
  assert.ok(init.startsWith('#!/bin/sh\n'));
  execFileSync('/bin/sh', ['-n', '-c', init]); // every branch parses, not only those the runs below take
});

// ---- /init's mode dispatch, run whole under sh against a fake root (init-harness.ts) ----

/** What every boot does before the mode's work: the stand-ins' transcript of the mounts. */
const BOOT = [
  '[mount -t proc proc /proc]',
  '[mount -t sysfs sysfs /sys]',
  '[mount -t devtmpfs devtmpfs /dev]',
  '[mkdir -p /dev/pts /dev/shm]',
  '[mount -t devpts devpts /dev/pts]',
  '[mount -t tmpfs tmpfs /dev/shm]',
  '[mount -t debugfs debugfs /sys/kernel/debug]',
  '[mount -t tmpfs tmpfs /tmp]',
  '[mount -t cgroup2 cgroup2 /sys/fs/cgroup]',
  '[hostname mmview]',
];
/** What every boot ends with. */
const POWEROFF = ['[sync]', '[poweroff -f]'];
const KMEMLEAK = '/sys/kernel/debug/kmemleak';

/**
 * A guest with two tests (one failing, plus files that are not programs), the
 * mm selftests' and the soak's runners, one benchmark, kmemleak and a `run`
 * command. Each program says what it got: arguments, FOO from mmview.env,
 * kmemleak's last command, and stdin (the console's unless /init closes it).
 */
function guest(root: string): Record<string, GuestFile> {
  const prog = (text: string): GuestFile => ({ text: `#!/bin/sh\n${text}\n`, mode: 0o755 });
  const list = (names: string, say: string): GuestFile => prog(`if [ "$1" = --list ]; then echo ${names}; else echo "${say} $1"; fi`);
  return {
    '/tests/a': prog(`echo "a FOO=$FOO kmemleak=$(cat ${root}${KMEMLEAK}) stdin=$(cat)"`),
    '/tests/b': prog('echo b; exit 3'),
    '/tests/notes.txt': { text: 'not a program\n' },
    '/tests/sub/c': prog('echo c'),
    [`${MM_GUEST_DIR}/${MM_RUNNER}`]: list('x y', 'mm'),
    [SOAK_RUNNER]: list('stress-ng', 'soak'),
    '/bench/b1': prog('echo "b1 [$*]"'),
    '/etc/mmview/bench-args': { text: `${shellQuote(['--reps', '3', 'two words'])}\n` },
    '/usr/bin/demo': prog('echo "demo [$*] in $(pwd)/ FOO=$FOO stdin=$(cat)"; exit 7'),
    '/etc/mmview/cmd': { text: `${shellQuote([join(root, 'usr/bin/demo'), 'arg one'])}\n` },
    [KMEMLEAK]: { text: '', mode: 0o666 },
  };
}

/** Boot the guest with `cmdline`; the console's lines after the mounts (which are checked). */
function boot(cmdline: string): string[] {
  const lines = bootInit(renderInit(), cmdline, guest, 'typed on the console\n');
  assert.deepEqual(lines.slice(0, BOOT.length), BOOT);
  return lines.slice(BOOT.length);
}

const ENV = 'console=ttyS0 mmview.env=FOO=bar';
/** The markers and output of one program's run. */
const run = (name: string, out: string, status = 0): string[] => [`MMVIEW-BEGIN ${name}`, out, `MMVIEW-END ${name} ${status}`];
const TESTS = [...run('a', 'a FOO=bar kmemleak=clear stdin='), ...run('b', 'b', 3)];
const MM = [...run(`${MM_PREFIX}x`, 'mm x'), ...run(`${MM_PREFIX}y`, 'mm y')];
const SOAK = run(`${SOAK_PREFIX}stress-ng`, 'soak stress-ng');
const SCAN = ['[sleep 5]', 'scan'];

test('/init mode=test: /tests, mm selftests, tiny benchmarks and soak between kmemleak clear and scan, then DONE', () => {
  assert.deepEqual(boot(`${ENV} mmview.mode=test mmview.test_timeout=30`), [
    ...TESTS,
    ...MM,
    ...run('bench/b1', `b1 [${BENCH_SMOKE_ARGS.join(' ')}]`),
    ...SOAK,
    ...SCAN,
    'MMVIEW-DONE',
    ...POWEROFF,
  ]);
});

test('/init mode=test runs only the parts mmview.parts names', () => {
  assert.deepEqual(boot(`${ENV} mmview.mode=test mmview.parts=tests,soak`), [...TESTS, ...SOAK, ...SCAN, 'MMVIEW-DONE', ...POWEROFF]);
  assert.deepEqual(boot(`${ENV} mmview.mode=test mmview.parts=mm`), [...MM, ...SCAN, 'MMVIEW-DONE', ...POWEROFF]);
});

test('/init mode=bench runs every benchmark with /etc/mmview/bench-args, and nothing else', () => {
  assert.deepEqual(boot(`${ENV} mmview.mode=bench`), [...run('bench/b1', 'b1 [--reps 3 two words]'), 'MMVIEW-DONE', ...POWEROFF]);
});

test('/init mode=soak runs the soak between kmemleak clear and scan', () => {
  assert.deepEqual(boot(`${ENV} mmview.mode=soak`), [...SOAK, ...SCAN, 'MMVIEW-DONE', ...POWEROFF]);
});

test('/init mode=run runs /etc/mmview/cmd from / without the console and reports its status', () => {
  assert.deepEqual(boot(`${ENV} mmview.mode=run`), ['MMVIEW-RUN-BEGIN', 'demo [arg one] in / FOO=bar stdin=', 'MMVIEW-EXIT 7', ...POWEROFF]);
});

test('/init mode=run interactive gives the command the console, then the guest shell', () => {
  const shell = ["mmview: guest shell; 'exit' powers the VM off", '[setsid cttyhack sh]'];
  assert.deepEqual(boot(`${ENV} mmview.mode=run mmview.interactive=1 mmview.rows=40 mmview.cols=132`), [
    'MMVIEW-RUN-BEGIN',
    '[setsid cttyhack sh /etc/mmview/cmd]',
    'MMVIEW-EXIT 0',
    '[stty rows 40 cols 132]',
    ...shell,
    ...POWEROFF,
  ]);
});

test('/init without a mode, or with an unknown one, starts the guest shell', () => {
  const shell = ["mmview: guest shell; 'exit' powers the VM off", '[setsid cttyhack sh]', ...POWEROFF];
  assert.deepEqual(boot(ENV), shell);
  assert.deepEqual(boot(`${ENV} mmview.mode=bogus mmview.rows=40`), shell); // no stty without both sizes
});

test('relocate moves every absolute path of /init under the fake root, and nothing else', () => {
  assert.equal(
    relocate('export PATH=/usr/sbin:/bin HOME=/root\ncd / && x </dev/null 2>/dev/null "/tests/$t" $(ls /bench) ./rel ${d}/f a/b', '/R'),
    'export PATH=/R/usr/sbin:/R/bin HOME=/R/root\ncd /R/ && x </R/dev/null 2>/R/dev/null "/R/tests/$t" $(ls /R/bench) ./rel ${d}/f a/b',
  );
});

test('renderFileList adds parents once and formats gen_init_cpio lines', () => {
  const text = renderFileList([
    { type: 'dir', path: '/dev', mode: 0o755 },
    { type: 'nod', path: '/dev/console', mode: 0o600, dev: 'c', major: 5, minor: 1 },
    { type: 'file', path: '/usr/bin/mmview-demo', source: '/x/mmview-demo', mode: 0o755 },
    { type: 'slink', path: '/bin/sh', target: '/bin/busybox' },
    { type: 'file', path: '/usr/lib/libmmview.a', source: '/x/libmmview.a', mode: 0o644 },
  ]);
  assert.equal(
    text,
    [
      'dir /dev 0755 0 0',
      'nod /dev/console 0600 0 0 c 5 1',
      'dir /usr 0755 0 0',
      'dir /usr/bin 0755 0 0',
      'file /usr/bin/mmview-demo /x/mmview-demo 0755 0 0',
      'dir /bin 0755 0 0',
      'slink /bin/sh /bin/busybox 0777 0 0',
      'dir /usr/lib 0755 0 0',
      'file /usr/lib/libmmview.a /x/libmmview.a 0644 0 0',
      '',
    ].join('\n'),
  );
});

test('withParents keeps the first entry of a path', () => {
  const e = withParents([
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'dir', path: '/tmp', mode: 0o755 },
  ]);
  assert.deepEqual(e, [{ type: 'dir', path: '/tmp', mode: 0o1777 }]);
});

test('whitespace in names is a user error', () => {
  assert.throws(() => renderFileList([{ type: 'file', path: '/a b', source: '/x', mode: 0o644 }]), UserError);
});

test('--add: files go to /<basename>, folders recursively with symlinks kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmview-add-'));
  writeFileSync(join(dir, 'prog'), '#!/bin/sh\n');
  chmodSync(join(dir, 'prog'), 0o755);
  mkdirSync(join(dir, 'data', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'data', 'sub', 'f'), 'x');
  symlinkSync('sub/f', join(dir, 'data', 'link'));
  assert.deepEqual(addEntries(join(dir, 'prog')), [{ type: 'file', path: '/prog', source: join(dir, 'prog'), mode: 0o755 }]);
  const d = addEntries(join(dir, 'data'));
  assert.deepEqual(
    d.map((e) => [e.type, e.path]),
    [
      ['dir', '/data'],
      ['slink', '/data/link'],
      ['dir', '/data/sub'],
      ['file', '/data/sub/f'],
    ],
  );
  assert.throws(() => addEntries(join(dir, 'missing')), /no such file or folder/);
  mkdirSync(join(dir, 'bin'));
  assert.throws(() => addEntries(join(dir, 'bin')), /part of the guest system/);
});

test('the live-patching demo is the default run program, next to mmview-demo', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmview-demo-'));
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) return; // the tooling installs busybox-static; nothing to list applets with here
  assert.equal(DEMO_PATH, '/usr/bin/mmpatch-demo');
  const entries = await collectEntries({
    busybox,
    stagingDir: dir,
    tests: [],
    benches: [],
    benchArgs: [],
    demo: '/x/mmview-demo',
    patchDemo: '/x/mmpatch-demo',
    libDir: undefined,
    command: [DEMO_PATH],
    adds: [],
  });
  const files = entries.filter((e) => e.type === 'file' && e.path.startsWith('/usr/bin/')).map((e) => [e.path, e.type === 'file' ? e.source : '']);
  assert.deepEqual(files, [
    ['/usr/bin/mmview-demo', '/x/mmview-demo'],
    [DEMO_PATH, '/x/mmpatch-demo'],
  ]);
});

/** A shell function of the rendered /init, verbatim (from "name() {" to its closing "}"). */
function initFunction(init: string, name: string): string {
  const m = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?^\\}$`, 'm').exec(init);
  assert.ok(m, `/init defines ${name}()`);
  return m[0];
}

test("/init's run_program runs a program between markers the host parses, with its status and timeout", async () => {
  const { parseMarkers } = await import('../src/results/markers.ts');
  const { evaluateProgram } = await import('../src/results/tap.ts');
  const fn = initFunction(renderInit(), 'run_program');
  // The host's coreutils timeout takes busybox's arguments (-s KILL <seconds>).
  const script = `${fn}
test_timeout=5
run_program ok /bin/sh -c 'echo "1..1"; echo "ok 1 works"'
run_program fails /bin/sh -c 'echo "1..1"; echo "not ok 1 broken"; exit 1'
run_program stuck /bin/sh -c 'echo started; exec sleep 60'
echo after`;
  const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  const runs = parseMarkers(out.split('\n')).programs;
  assert.deepEqual(runs.map((r) => [r.name, r.status, r.timedOut]), [['ok', 0, false], ['fails', 1, false], ['stuck', 137, true]]);
  assert.deepEqual(runs.map((r) => { const e = evaluateProgram(r, 5); return [e.passed, e.failed]; }), [[1, 0], [0, 1], [0, 1]]);
  assert.match(evaluateProgram(runs[2] as (typeof runs)[number], 5).problems[0] ?? '', /killed by the per-program timeout \(5 s\)/);
  assert.ok(out.trimEnd().endsWith('after'), 'run_program returns to /init after a timeout');
});

test('writeInitramfs names a missing host file before running gen_init_cpio', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmview-cpio-'));
  const present = join(dir, 'present');
  writeFileSync(present, 'x');
  const entries = [
    { type: 'file' as const, path: '/bin/present', source: present, mode: 0o755 },
    { type: 'file' as const, path: '/etc/mmview/soak.env', source: join(dir, 'soak', 'soak.env'), mode: 0o644 },
    { type: 'file' as const, path: '/usr/lib/x.so', source: join(dir, 'soak', 'x.so'), mode: 0o755 },
  ];
  assert.deepEqual(
    missingSources(entries).map((m) => m.path),
    ['/etc/mmview/soak.env', '/usr/lib/x.so'],
  );
  // The tool does not exist either: the check must come first.
  await assert.rejects(writeInitramfs(entries, join(dir, 'no-gen-init-cpio'), join(dir, 'out.cpio.gz')), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /\/etc\/mmview\/soak\.env would come from .*soak\/soak\.env, which does not exist \(and 1 more\)/);
    return true;
  });
  assert.equal(existsSync(join(dir, 'out.cpio.gz.list')), false);
});

test("/init's test mode runs the parts mmview.parts names, all by default", () => {
  const init = renderInit();
  const fn = initFunction(init, 'has_part');
  const defaults = /^mode=shell .* parts=(\S+)$/m.exec(init)?.[1];
  assert.equal(defaults, 'tests,mm,bench,soak');
  const script = `${fn}
for parts in ${defaults} tests mm,bench ''; do
  out=
  for p in tests mm bench soak tes; do has_part $p && out="$out $p"; done
  echo "[$parts]$out"
done`;
  const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n'), ['[tests,mm,bench,soak] tests mm bench soak', '[tests] tests', '[mm,bench] mm bench', '[]']);
  assert.match(init, /mmview\.parts=\*\) parts="\$\{arg#\*=\}" ;;/);
  assert.match(init, /has_part mm && run_mm_selftests/);
});
