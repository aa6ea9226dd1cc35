/**
 * Runs the generated guest /init on the host, whole, against a fake root:
 * every absolute path of the script is moved under a temporary folder, whose
 * bin/ holds stand-ins for the commands that would act on the host.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Commands /init may run for real: they only read, print or run the fake root's programs. */
const REAL = ['cat', 'date', 'ls', 'sh', 'timeout'] as const;
/** Commands that would change the host or wait (poweroff -f above all): stand-ins print `[name args]`. */
const STUBS = ['mount', 'mkdir', 'hostname', 'stty', 'setsid', 'cttyhack', 'sleep', 'sync', 'poweroff'] as const;

/** A file under the fake root, by its guest path. */
export interface GuestFile {
  text: string;
  /** Default 0o644; 0o755 for programs. */
  mode?: number;
}

/** The script with every absolute path under `root` (a slash inside a word, `./x` or `${dir}/x` is not one). */
export function relocate(init: string, root: string): string {
  return init.replace(/(?<![\w.\-\/}])\//g, `${root}/`);
}

function hostCommand(name: string): string {
  return execFileSync('/bin/sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' }).trim();
}

function put(root: string, path: string, file: GuestFile): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, file.text);
  chmodSync(full, file.mode ?? 0o644);
}

/** A fake guest root with bin/ (real commands and stand-ins), /dev/null and /tmp. */
export function fakeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'mmview-init-'));
  chmodSync(root, 0o755); // readable by the unprivileged user the script runs as
  mkdirSync(join(root, 'bin'));
  for (const c of REAL) symlinkSync(hostCommand(c), join(root, 'bin', c));
  for (const c of STUBS) put(root, `/bin/${c}`, { text: '#!/bin/sh\necho "[${0##*/}${*:+ $*}]"\n', mode: 0o755 });
  mkdirSync(join(root, 'dev'));
  symlinkSync('/dev/null', join(root, 'dev', 'null'));
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
  chmodSync(join(root, 'tmp'), 0o1777);
  return root;
}

/**
 * Boot `init` with this kernel command line and these guest files (a
 * function of the root, for files that name other files); `input` is the
 * console's. Returns the console's lines with the root taken out of paths.
 */
export function bootInit(init: string, cmdline: string, files: (root: string) => Record<string, GuestFile>, input = ''): string[] {
  const root = fakeRoot();
  try {
    put(root, '/proc/cmdline', { text: `${cmdline}\n` });
    for (const [path, file] of Object.entries(files(root))) put(root, path, file);
    writeFileSync(join(root, 'init'), relocate(init, root));
    // Not the host's busybox sh: that one runs its own applets ahead of PATH, so the
    // real mount and poweroff instead of the stand-ins. And, as root, as nobody:
    // a command the stand-ins miss is refused mount, hostname and reboot by the kernel.
    const nobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const out = execFileSync('/bin/sh', [join(root, 'init')], { cwd: root, env: {}, input, encoding: 'utf8', timeout: 60_000, ...nobody });
    return out.split(root).join('').split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
