import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debFileName, parseMadison, parsePin, upstreamVersion, type Pin } from '../src/source/pin.ts';
import { fetchSource, sha256File } from '../src/source/fetch.ts';
import { createTree, rootCommitMessage } from '../src/tree/create.ts';
import { exportPatches } from '../src/tree/export.ts';
import { compareTree, inspectTree, readSeriesPatches, type TreeInfo } from '../src/tree/state.ts';
import { treeReport } from '../src/tree/advice.ts';
import { formatSeries, parseSeries } from '../src/tree/series.ts';
import { parsePatchIds } from '../src/tree/git.ts';
import { UserError } from '../src/util/errors.ts';

const sh = (cwd: string, cmd: string, args: string[]): string => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const GIT_ID = ['-c', 'user.name=t', '-c', 'user.email=t@t'];

test('parsePin validates fields', () => {
  const good = {
    package: 'linux-source-6.12', version: '6.12.117-1~deb12u1', suite: 'bookworm-security', debFile: 'x.deb',
    debSha256: 'a'.repeat(64), tarball: 'usr/src/x.tar.xz', tarballSha256: 'b'.repeat(64), topDir: 'linux-source-6.12',
  };
  assert.equal(parsePin(JSON.stringify(good)).version, '6.12.117-1~deb12u1');
  assert.throws(() => parsePin('{'), /invalid JSON/);
  assert.throws(() => parsePin(JSON.stringify({ ...good, topDir: '' })), /field "topDir"/);
  assert.throws(() => parsePin(JSON.stringify({ ...good, debSha256: 'xyz' })), /sha256/);
});

test('the repo pin parses', () => {
  const pin = parsePin(readFileSync(new URL('../../kernel/pin.json', import.meta.url), 'utf8'));
  assert.equal(pin.debFile, debFileName(pin.package, pin.version));
});

test('versions', () => {
  assert.equal(upstreamVersion('6.12.117-1~deb12u1'), '6.12.117');
  assert.equal(upstreamVersion('1:6.12.9-2'), '6.12.9');
  assert.equal(debFileName('p', '1:2.0-1'), 'p_1%3a2.0-1_all.deb');
  assert.equal(rootCommitMessage({ upstream: '6.12.117', package: 'linux-source-6.12', version: '6.12.117-1~deb12u1' }), 'Linux 6.12.117 (Debian linux-source-6.12 6.12.117-1~deb12u1)');
});

test('parseMadison keeps apt order', () => {
  const out = [
    'linux-source-6.12 | 6.12.120-1~deb12u1 | http://deb.example/debian-security bookworm-security/main amd64 Packages',
    'linux-source-6.12 | 6.12.117-1~deb12u1 | http://deb.example/debian bookworm-updates/main amd64 Packages',
    '',
  ].join('\n');
  assert.deepEqual(parseMadison(out), ['6.12.120-1~deb12u1', '6.12.117-1~deb12u1']);
  assert.deepEqual(parseMadison(''), []);
});

test('series files', () => {
  assert.deepEqual(parseSeries('# header\n0001-a.patch\n\n  0002-b.patch  # note\n'), ['0001-a.patch', '0002-b.patch']);
  assert.deepEqual(parseSeries(formatSeries(['0001-a.patch'])), ['0001-a.patch']);
});

test('parsePatchIds', () => {
  const id = 'f'.repeat(40);
  assert.deepEqual(parsePatchIds(`${id} ${'0'.repeat(40)}\nnoise\n`), [{ patchId: id, commit: '0'.repeat(40) }]);
});

test('compareTree', () => {
  const tree = (ids: string[], dirty: string[] = []): TreeInfo => ({ commits: ids.map((id) => ({ sha: id, subject: `s${id}`, patchId: id })), dirty });
  const series = [{ name: '1.patch', patchId: 'a' }, { name: '2.patch', patchId: 'b' }];
  assert.deepEqual(compareTree(tree(['a', 'b']), series), { kind: 'in-sync' });
  assert.equal(compareTree(tree(['a', 'b', 'c']), series).kind, 'unexported');
  assert.equal(compareTree(tree(['a', 'b'], [' M mm/x.c']), series).kind, 'unexported');
  assert.deepEqual(compareTree(tree(['a']), series), { kind: 'lacking', missing: [{ name: '2.patch', patchId: 'b' }], work: undefined });
  assert.deepEqual(compareTree(tree([]), []), { kind: 'in-sync' });
});

test('compareTree: a tree lacking a series patch still reports its own work (amended patch, changes, branches, stashes)', () => {
  const tree = (ids: string[], more: Partial<TreeInfo> = {}): TreeInfo => ({ commits: ids.map((id) => ({ sha: id, subject: `s${id}`, patchId: id })), dirty: [], ...more });
  const series = [{ name: '1.patch', patchId: 'a' }, { name: '2.patch', patchId: 'b' }];
  // Amending 2.patch in the tree: the tree lacks b and has b'.
  const amended = compareTree(tree(['a', "b'"]), series);
  assert.equal(amended.kind, 'lacking');
  assert.deepEqual(amended.kind === 'lacking' && amended.work?.extra.map((c) => c.subject), ["sb'"]);
  const dirty = compareTree(tree(['a'], { dirty: ['!! mm/new.c'] }), series);
  assert.equal(dirty.kind === 'lacking' && dirty.work?.dirty, true);
  const other = compareTree(tree(['a'], { offHead: [{ sha: 'x', subject: 'wip', patchId: 'x' }, { sha: 'y', subject: 'old b', patchId: 'b' }] }), series);
  assert.deepEqual(other.kind === 'lacking' && other.work?.offHead.map((c) => c.subject), ['wip'], 'a branch holding a series patch holds nothing new');
  const stash = compareTree(tree(['a', 'b'], { stashes: ['stash@{0}: WIP on master'] }), series);
  assert.equal(stash.kind === 'unexported' && stash.work.stashes, 1);

  // The build names the way out that keeps the work: export first, never tree --force.
  const report = treeReport('build/linux', amended, 2);
  assert.equal(report.level, 'error');
  assert.match(report.text, /^build\/linux lacks 1 patch\(es\) of patches\/series \(first: 2\.patch\) and has 1 commit\(s\) not in patches\/ .*run \.\/mmview export first/);
  assert.doesNotMatch(report.text, /tree --force/);
  assert.doesNotMatch(report.text, /\n/);
  assert.match(treeReport('build/linux', compareTree(tree(['a']), series), 2).text, /run \.\/mmview tree --force/);
  assert.match(treeReport('build/linux', dirty, 2).text, /commit your changes \(git add -f for new files\), then run \.\/mmview export first/);
});

/** A tiny stand-in for the Debian kernel source package. */
async function fakeSource(dir: string): Promise<Pin> {
  const top = join(dir, 'src', 'linux-source-6.12');
  mkdirSync(join(top, 'mm'), { recursive: true });
  writeFileSync(join(top, '.gitignore'), '/*\n'); // like Debian's: ignores the whole top level
  writeFileSync(join(top, 'Makefile'), 'all:\n');
  writeFileSync(join(top, 'mm', 'memory.c'), 'int a;\nint b;\nint c;\n');
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
  mkdirSync(join(pkg, 'usr', 'src'), { recursive: true });
  sh(join(dir, 'src'), 'tar', ['-cJf', join(pkg, 'usr', 'src', 'linux-source-6.12.tar.xz'), 'linux-source-6.12']);
  writeFileSync(join(pkg, 'DEBIAN', 'control'), 'Package: linux-source-6.12\nVersion: 6.12.117-1~deb12u1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: test\n');
  const cache = join(dir, 'cache');
  mkdirSync(cache);
  const deb = join(cache, 'linux-source-6.12_6.12.117-1~deb12u1_all.deb');
  sh(dir, 'dpkg-deb', ['--root-owner-group', '-Zxz', '--build', pkg, deb]);
  return {
    package: 'linux-source-6.12',
    version: '6.12.117-1~deb12u1',
    suite: 'bookworm-security',
    debFile: 'linux-source-6.12_6.12.117-1~deb12u1_all.deb',
    debSha256: await sha256File(deb),
    tarball: 'usr/src/linux-source-6.12.tar.xz',
    tarballSha256: await sha256File(join(pkg, 'usr', 'src', 'linux-source-6.12.tar.xz')),
    topDir: 'linux-source-6.12',
  };
}

test('source: extract, verify, cache; checksum mismatch is a one-line error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmview-src-'));
  const pin = await fakeSource(dir);
  const cache = join(dir, 'cache');
  const first = await fetchSource({ pin, cacheDir: cache });
  assert.equal(first.action, 'extracted');
  assert.equal(first.upstream, '6.12.117');
  assert.equal(await sha256File(first.tarball), pin.tarballSha256);
  assert.equal((await fetchSource({ pin, cacheDir: cache })).action, 'cached');
  rmSync(first.tarball);
  await assert.rejects(fetchSource({ pin: { ...pin, debSha256: '0'.repeat(64) }, cacheDir: cache }), (e: Error) => e instanceof UserError && /does not match kernel\/pin.json/.test(e.message) && !e.message.includes('\n'));
});

/** A fake verified source and the paths of a work tree and its patches/ (empty series). */
async function treeWorkspace(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const pin = await fakeSource(dir);
  const source = await fetchSource({ pin, cacheDir: join(dir, 'cache') });
  const tree = join(dir, 'build', 'linux');
  const patches = join(dir, 'patches');
  const seriesFile = join(patches, 'series');
  const log = join(dir, 'tree.log');
  mkdirSync(patches);
  return { dir, source, tree, patches, seriesFile, log };
}

test('tree: create, export, recreate with --force, refuse to lose work, bad patch', async () => {
  const { source, tree, patches, seriesFile, log } = await treeWorkspace('mmview-tree-');

  await createTree({ tree, patchesDir: patches, series: [], source, force: false, logFile: log });
  assert.equal(sh(tree, 'git', ['log', '--format=%s']).trim(), 'Linux 6.12.117 (Debian linux-source-6.12 6.12.117-1~deb12u1)');
  assert.equal(sh(tree, 'git', ['ls-files']).split('\n').filter(Boolean).length, 3, 'git add -f took the ignored top level');
  await assert.rejects(createTree({ tree, patchesDir: patches, series: [], source, force: false, logFile: log }), /already exists; pass --force/);

  // Kernel work: one commit changing a file, one adding a new (ignored) file.
  appendFileSync(join(tree, 'mm', 'memory.c'), 'int mmview;\n');
  sh(tree, 'git', [...GIT_ID, 'commit', '-qam', 'mm: add mmview']);
  writeFileSync(join(tree, 'mm', 'mmview.c'), 'int v;\n');
  let state = await inspectTree(tree);
  assert.equal(state.dirty.length, 1, 'a new file hidden by .gitignore still counts as uncommitted work');
  await assert.rejects(createTree({ tree, patchesDir: patches, series: [], source, force: true, logFile: log }), /refusing to recreate .*1 commit\(s\) not in patches\/ .*and uncommitted changes/);
  sh(tree, 'git', ['add', '-f', 'mm/mmview.c']);
  sh(tree, 'git', [...GIT_ID, 'commit', '-qm', 'mm: add mmview.c']);

  const exported = await exportPatches(tree, patches, seriesFile);
  assert.deepEqual(exported.written, ['0001-mm-add-mmview.patch', '0002-mm-add-mmview.c.patch']);
  assert.deepEqual(exported.uncommitted, []);
  const patchText = readFileSync(join(patches, '0001-mm-add-mmview.patch'), 'utf8');
  assert.match(patchText, /^From 0{40} /);
  assert.match(patchText, /^Subject: \[PATCH\] mm: add mmview$/m);
  const series = await readSeriesPatches(patches, seriesFile);
  assert.equal(series.length, 2);
  state = await inspectTree(tree);
  assert.deepEqual(compareTree(state, series), { kind: 'in-sync' });

  // Everything is exported: --force may recreate, and the result matches the series.
  const created = await createTree({ tree, patchesDir: patches, series, source, force: true, logFile: log });
  assert.equal(created.applied, 2);
  assert.deepEqual(compareTree(await inspectTree(tree), series), { kind: 'in-sync' });
  assert.ok(existsSync(join(tree, 'mm', 'mmview.c')));

  // Re-export keeps the same series; old patch files are replaced.
  writeFileSync(join(patches, '0009-stale.patch'), 'x');
  const again = await exportPatches(tree, patches, seriesFile);
  assert.ok(again.removed.includes('0009-stale.patch'));
  assert.ok(!existsSync(join(patches, '0009-stale.patch')));

  // A tree lacking a series patch.
  sh(tree, 'git', [...GIT_ID, 'reset', '-q', '--hard', 'HEAD~1']);
  assert.equal(compareTree(await inspectTree(tree), series).kind, 'lacking');

  // A patch that does not apply names itself.
  writeFileSync(join(patches, '0003-bad.patch'), patchText.replace('int c;\n+int mmview;', 'int zzz;\n+int mmview;').replace(' int c;', ' int zzz;'));
  const bad = [...series, { name: '0003-bad.patch', patchId: undefined }];
  await assert.rejects(
    createTree({ tree, patchesDir: patches, series: bad, source, force: true, logFile: log }),
    (e: Error) => /^patch 0003-bad.patch does not apply to .* \(2 of 3 applied; see /.test(e.message),
  );
});

test('tree --force re-extracts a tree made from another source version', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmview-tree2-'));
  const pin = await fakeSource(dir);
  const source = await fetchSource({ pin, cacheDir: join(dir, 'cache') });
  const tree = join(dir, 'linux');
  const req = { tree, patchesDir: dir, series: [], source, logFile: join(dir, 'log') };
  await createTree({ ...req, force: false });
  sh(tree, 'git', [...GIT_ID, 'commit', '-q', '--amend', '-m', 'Linux 6.12.1 (Debian linux-source-6.12 6.12.1-1)']);
  writeFileSync(join(tree, 'marker'), 'x');
  sh(tree, 'git', ['add', '-f', 'marker']);
  sh(tree, 'git', [...GIT_ID, 'commit', '-q', '--amend', '--no-edit']);
  await createTree({ ...req, force: true });
  assert.equal(sh(tree, 'git', ['log', '--format=%s']).trim(), rootCommitMessage(source));
  assert.ok(!existsSync(join(tree, 'marker')));
});

test('tree --force refuses a tree lacking a series patch while it holds work, and deletes nothing', async () => {
  const { source, tree, patches, seriesFile, log } = await treeWorkspace('mmview-tree3-');
  await createTree({ tree, patchesDir: patches, series: [], source, force: false, logFile: log });
  appendFileSync(join(tree, 'mm', 'memory.c'), 'int one;\n');
  sh(tree, 'git', [...GIT_ID, 'commit', '-qam', 'mm: one']);
  appendFileSync(join(tree, 'mm', 'memory.c'), 'int two;\n');
  sh(tree, 'git', [...GIT_ID, 'commit', '-qam', 'mm: two']);
  await exportPatches(tree, patches, seriesFile);
  const series = await readSeriesPatches(patches, seriesFile);
  const force = () => createTree({ tree, patchesDir: patches, series, source, force: true, logFile: log });
  const head = () => sh(tree, 'git', ['rev-parse', 'HEAD']).trim();
  const refused = async (what: RegExp): Promise<void> => {
    const before = head();
    await assert.rejects(force(), (e: Error) => e instanceof UserError && /^refusing to recreate /.test(e.message) && what.test(e.message) && !e.message.includes('\n'));
    assert.equal(head(), before, 'nothing was reset');
  };

  // The README's workflow: amend a patch in the tree. The tree lacks 0002 and has the amended commit.
  appendFileSync(join(tree, 'mm', 'memory.c'), 'int amended;\n');
  sh(tree, 'git', [...GIT_ID, 'commit', '-qa', '--amend', '--no-edit']);
  assert.equal(compareTree(await inspectTree(tree), series).kind, 'lacking');
  await refused(/1 commit\(s\) not in patches\/ \(first: "mm: two"\).*run \.\/mmview export first/);
  assert.match(readFileSync(join(tree, 'mm', 'memory.c'), 'utf8'), /int amended;/);

  // The amended commit kept only on another branch.
  sh(tree, 'git', ['branch', 'keep']);
  sh(tree, 'git', [...GIT_ID, 'reset', '-q', '--hard', 'HEAD~1']);
  await refused(/1 commit\(s\) on other branches or tags \(first: "mm: two"\)/);
  sh(tree, 'git', ['branch', '-q', '-D', 'keep']);

  // Uncommitted changes to a tracked file.
  appendFileSync(join(tree, 'mm', 'memory.c'), 'int uncommitted;\n');
  await refused(/uncommitted changes.*commit your changes/);
  assert.match(readFileSync(join(tree, 'mm', 'memory.c'), 'utf8'), /int uncommitted;/);
  sh(tree, 'git', ['checkout', '-q', '--', 'mm/memory.c']);

  // A new file (ignored by Debian's top-level .gitignore).
  writeFileSync(join(tree, 'mm', 'mmview.c'), 'int v;\n');
  await refused(/uncommitted changes/);
  assert.ok(existsSync(join(tree, 'mm', 'mmview.c')), 'git clean did not run');
  rmSync(join(tree, 'mm', 'mmview.c'));

  // A stash.
  appendFileSync(join(tree, 'mm', 'memory.c'), 'int stashed;\n');
  sh(tree, 'git', [...GIT_ID, 'stash', '-q']);
  await refused(/1 stash\(es\)/);
  sh(tree, 'git', ['stash', 'drop', '-q']);

  // Only lacking, nothing of its own: --force recreates it.
  assert.deepEqual(compareTree(await inspectTree(tree), series), { kind: 'lacking', missing: [series[1]], work: undefined });
  assert.equal((await force()).applied, 2);
  assert.deepEqual(compareTree(await inspectTree(tree), series), { kind: 'in-sync' });
});
