/**
 * The program list of tests/guest/mm-selftests (programs.txt, copied next to
 * the executables by its Makefile) and the console names of their runs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';

/** Console marker names of the mm selftest pairs: mm/<program>. */
export const MM_PREFIX = 'mm/';

export function mmRunName(program: string): string {
  return `${MM_PREFIX}${program}`;
}

export function isMmRunName(name: string): boolean {
  return name.startsWith(MM_PREFIX);
}

/** The guest folder of the runner, the list and both builds of every program. */
export const MM_GUEST_DIR = '/mm-selftests';
/** The guest runner and the list, next to the executables. */
export const MM_RUNNER = 'run-mm-selftests';
export const MM_LIST = 'programs.txt';
export const MM_INVIEW_SUFFIX = '.inview';

export interface MmProgram {
  /** <binary>, or <binary>@<variant> for another set of arguments. */
  name: string;
  /** The executable's name (<binary> and <binary>.inview). */
  binary: string;
  /** Listed as "!<name>": built, but run only when named (see programs.txt). */
  disabled: boolean;
  /** Seconds per run (each program runs twice). */
  timeout: number;
  /** 'all' or the arches it is built for. */
  arches: string[];
  args: string[];
}

/** Parse programs.txt: `[!]<program>[@<variant>] <timeout s> <arches> [args...]` per line (pure). */
export function parseProgramList(text: string, file = MM_LIST): MmProgram[] {
  const out: MmProgram[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [field, timeout, arches, ...args] = line.split(/\s+/);
    const disabled = field?.startsWith('!') ?? false;
    const name = disabled ? field?.slice(1) : field;
    const seconds = Number(timeout);
    if (!name || !arches || !Number.isInteger(seconds) || seconds <= 0) {
      throw new UserError(`${file}:${i + 1}: expected "<program> <timeout s> <arches> [args...]", got: ${line}`);
    }
    out.push({ name, binary: name.split('@')[0] as string, disabled, timeout: seconds, arches: arches.split(','), args });
  });
  return out;
}

function isExecutable(path: string): boolean {
  return existsSync(path) && statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0;
}

/** Is a program listed for this arch (x86_64, arm64) (pure)? */
export function forArch(p: Pick<MmProgram, 'arches'>, arch: string): boolean {
  return p.arches.includes('all') || p.arches.includes(arch);
}

/** The listed programs of a build folder for this arch, not disabled, that exist in both builds, in list order. */
export function builtMmPrograms(dir: string, arch: string): MmProgram[] {
  const list = join(dir, MM_LIST);
  if (!existsSync(list) || !isExecutable(join(dir, MM_RUNNER))) return [];
  return parseProgramList(readFileSync(list, 'utf8'), list).filter(
    (p) => !p.disabled && forArch(p, arch) && isExecutable(join(dir, p.binary)) && isExecutable(join(dir, `${p.binary}${MM_INVIEW_SUFFIX}`)),
  );
}


/** programs.txt with only these programs, as the guest image carries it (pure). */
export function renderProgramList(programs: readonly MmProgram[]): string {
  const lines = programs.map((p) => [p.name, String(p.timeout), p.arches.join(','), ...p.args].join(' '));
  return `# The mm selftests of this image (generated from tests/guest/mm-selftests/programs.txt).\n${lines.map((l) => `${l}\n`).join('')}`;
}
