import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { check } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import type { ImageEntry } from './filelist.ts';
import { DEMO_PATH, renderInit, shellQuote } from './init.ts';
import { MM_GUEST_DIR as MM_DIR, MM_INVIEW_SUFFIX, MM_LIST, MM_RUNNER, renderProgramList, type MmProgram } from '../mmselftests/programs.ts';

export interface GuestProgram {
  name: string;
  path: string;
}

export interface ImageSpec {
  /** Static busybox of the guest's arch (busybox-static). */
  busybox: string;
  /** A busybox the host can run, to list the applets (default: busybox). */
  appletsFrom?: string;
  /** Folder for generated files (init, etc/...). */
  stagingDir: string;
  tests: readonly GuestProgram[];
  /** Benchmark programs (/bench), run by /init in bench mode, and at tiny size after the tests in test mode. */
  benches: readonly GuestProgram[];
  /** Arguments of every benchmark program in bench mode (stored in /etc/mmview/bench-args). */
  benchArgs: readonly string[];
  /** The kernel's mm selftests (/mm-selftests, run after the tests in test mode): their build folder and the programs to include. */
  mmSelftests?: { dir: string; programs: readonly MmProgram[] };
  demo: string | undefined;
  /** The live-patching demo, /usr/bin/mmpatch-demo (the default `run` program). */
  patchDemo?: string;
  /** Folder with libmmview.* and mmview.pc. */
  libDir: string | undefined;
  /** Command line for `run` mode (stored in /etc/mmview/cmd). */
  command: readonly string[];
  /** Host files and folders copied to /<basename> (`run --add`). */
  adds: readonly string[];
  /** More entries at fixed guest paths (the soak's programs and libraries, soak/image.ts). */
  extraEntries?: readonly ImageEntry[];
}

/** Applet paths of busybox (`busybox --list-full`, e.g. "bin/sh"). */
export async function busyboxApplets(busybox: string): Promise<string[]> {
  const out = await check('busybox --list-full', busybox, ['--list-full']);
  return out.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.includes(' '));
}

/** Entries for a host folder copied recursively to `dest` (symlinks kept as symlinks). */
export function treeEntries(src: string, dest: string): ImageEntry[] {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) return [{ type: 'slink', path: dest, target: readlinkSync(src) }];
  if (st.isDirectory()) {
    const out: ImageEntry[] = [{ type: 'dir', path: dest, mode: st.mode & 0o7777 }];
    for (const name of readdirSync(src).sort()) out.push(...treeEntries(join(src, name), `${dest}/${name}`));
    return out;
  }
  if (st.isFile()) return [{ type: 'file', path: dest, source: src, mode: st.mode & 0o7777 }];
  return []; // sockets, fifos, devices: not copied
}

const RESERVED = new Set(['bin', 'sbin', 'usr', 'etc', 'dev', 'proc', 'sys', 'tmp', 'tests', 'bench', 'init', 'root', 'lib']);

/** Check a `run --add` path (exists, a file or folder, not a name of the guest system); throws a UserError. */
export function checkAddPath(hostPath: string): { abs: string; name: string; st: Stats } {
  const abs = resolve(hostPath);
  if (!existsSync(abs)) throw new UserError(`--add ${hostPath}: no such file or folder`);
  const name = basename(abs);
  if (RESERVED.has(name)) throw new UserError(`--add ${hostPath}: /${name} is part of the guest system; rename it`);
  const st = statSync(abs); // follow a symlink given on the command line
  if (!st.isDirectory() && !st.isFile()) throw new UserError(`--add ${hostPath}: not a regular file or folder`);
  return { abs, name, st };
}

/** Entries of a `run --add` path: /<basename>, folders recursively. */
export function addEntries(hostPath: string): ImageEntry[] {
  const { abs, name, st } = checkAddPath(hostPath);
  if (st.isDirectory()) return treeEntries(abs, `/${name}`);
  return [{ type: 'file', path: `/${name}`, source: abs, mode: st.mode & 0o7777 }];
}

/** Everything that goes into the initramfs. Writes generated files into spec.stagingDir. */
export async function collectEntries(spec: ImageSpec): Promise<ImageEntry[]> {
  mkdirSync(spec.stagingDir, { recursive: true });
  const staged = (name: string, text: string): string => {
    const file = join(spec.stagingDir, name);
    writeFileSync(file, text);
    return file;
  };
  const entries: ImageEntry[] = [
    { type: 'file', path: '/init', source: staged('init', renderInit()), mode: 0o755 },
    { type: 'dir', path: '/dev', mode: 0o755 },
    { type: 'nod', path: '/dev/console', mode: 0o600, dev: 'c', major: 5, minor: 1 },
    { type: 'nod', path: '/dev/null', mode: 0o666, dev: 'c', major: 1, minor: 3 },
    ...['/proc', '/sys', '/tmp', '/root', '/mnt'].map((path): ImageEntry => ({ type: 'dir', path, mode: path === '/tmp' ? 0o1777 : 0o755 })),
    { type: 'file', path: '/bin/busybox', source: spec.busybox, mode: 0o755 },
    { type: 'file', path: '/etc/passwd', source: staged('passwd', 'root:x:0:0:root:/root:/bin/sh\n'), mode: 0o644 },
    { type: 'file', path: '/etc/group', source: staged('group', 'root:x:0:\n'), mode: 0o644 },
    { type: 'file', path: '/etc/mmview/cmd', source: staged('cmd', `${shellQuote(spec.command)}\n`), mode: 0o644 },
    { type: 'file', path: '/etc/mmview/bench-args', source: staged('bench-args', `${shellQuote(spec.benchArgs)}\n`), mode: 0o644 },
  ];
  for (const applet of await busyboxApplets(spec.appletsFrom ?? spec.busybox)) {
    const path = `/${applet.replace(/^\/+/, '')}`;
    if (path !== '/bin/busybox' && path !== '/init') entries.push({ type: 'slink', path, target: '/bin/busybox' });
  }
  entries.push({ type: 'dir', path: '/tests', mode: 0o755 });
  for (const t of spec.tests) entries.push({ type: 'file', path: `/tests/${t.name}`, source: t.path, mode: 0o755 });
  entries.push({ type: 'dir', path: '/bench', mode: 0o755 });
  for (const b of spec.benches) entries.push({ type: 'file', path: `/bench/${b.name}`, source: b.path, mode: 0o755 });
  if (spec.mmSelftests && spec.mmSelftests.programs.length > 0) {
    const { dir, programs } = spec.mmSelftests;
    entries.push({ type: 'dir', path: MM_DIR, mode: 0o755 });
    entries.push({ type: 'file', path: `${MM_DIR}/${MM_RUNNER}`, source: join(dir, MM_RUNNER), mode: 0o755 });
    // The list of exactly these programs: the runner runs what it lists.
    entries.push({ type: 'file', path: `${MM_DIR}/${MM_LIST}`, source: staged('mm-selftests.txt', renderProgramList(programs)), mode: 0o644 });
    // <binary>@<variant> entries share their binary.
    for (const binary of new Set(programs.map((p) => p.binary))) {
      for (const name of [binary, `${binary}${MM_INVIEW_SUFFIX}`]) entries.push({ type: 'file', path: `${MM_DIR}/${name}`, source: join(dir, name), mode: 0o755 });
    }
  }
  if (spec.demo) entries.push({ type: 'file', path: '/usr/bin/mmview-demo', source: spec.demo, mode: 0o755 });
  if (spec.patchDemo) entries.push({ type: 'file', path: DEMO_PATH, source: spec.patchDemo, mode: 0o755 });
  if (spec.libDir && existsSync(spec.libDir)) {
    for (const name of readdirSync(spec.libDir).sort()) {
      const src = join(spec.libDir, name);
      if (/^libmmview\.(a|so)(\.|$)/.test(name)) entries.push(...treeEntries(src, `/usr/lib/${name}`));
      else if (name === 'mmview.pc') entries.push(...treeEntries(src, `/usr/lib/pkgconfig/${name}`));
    }
  }
  entries.push(...(spec.extraEntries ?? []));
  const taken = new Set(entries.map((e) => e.path));
  for (const add of spec.adds) {
    const more = addEntries(add);
    const first = more[0];
    if (first && taken.has(first.path)) throw new UserError(`--add ${add}: ${first.path} is added twice`);
    for (const e of more) taken.add(e.path);
    entries.push(...more);
  }
  return entries;
}
