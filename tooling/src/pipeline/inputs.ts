/**
 * The command line's inputs, checked before anything is installed, built or
 * booted: `--add` paths, `--kernel`, `--guest-tests`, `--cpu` and a
 * `--filter` that matches no guest program. Each problem is one UserError.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { archSpec, hostArch, type ArchName } from '../arch.ts';
import { listExecutables } from '../build/userland.ts';
import { checkAddPath } from '../image/contents.ts';
import { forArch, mmRunName, parseProgramList } from '../mmselftests/programs.ts';
import type { Paths } from '../paths.ts';
import { soakRunName } from '../soak/config.ts';
import { testSoakTools } from '../soak/intest.ts';
import { UserError } from '../util/errors.ts';
import { testPlan, type PlanOptions } from './plan.ts';

/** The words of a make variable (`NAME := a b \` continued lines), undefined when it is not set (pure). */
export function makeVariable(makefile: string, name: string): string[] | undefined {
  const lines = makefile.replace(/\\\n/g, ' ').split('\n');
  const re = new RegExp(`^${name}\\s*:?=(.*)$`);
  for (const l of lines) {
    const m = re.exec(l.trim());
    if (m) return (m[1] ?? '').split(/\s+/).filter(Boolean);
  }
  return undefined;
}

function makeList(makefile: string, name: string): string[] | undefined {
  return existsSync(makefile) ? makeVariable(readFileSync(makefile, 'utf8'), name) : undefined;
}

/**
 * The names `test --filter` matches on one arch, from the sources (nothing is
 * built yet): the guest test programs, mm/<program> of the mm selftests, the
 * benchmark programs, soak/<tool>; undefined when the sources do not say.
 */
export function guestProgramNames(paths: Pick<Paths, 'guestTestsSrc' | 'mmSelftestsSrc' | 'benchSrc'>, arch: ArchName, opts: { guestTests?: string; soak?: boolean }): string[] | undefined {
  if (opts.guestTests !== undefined) return listExecutables(resolve(opts.guestTests));
  const tests = makeList(join(paths.guestTestsSrc, 'Makefile'), 'TESTS');
  const benches = makeList(join(paths.benchSrc, 'Makefile'), 'BENCHES');
  const list = join(paths.mmSelftestsSrc, 'programs.txt');
  if (tests === undefined || benches === undefined || !existsSync(list)) return undefined;
  const mm = parseProgramList(readFileSync(list, 'utf8'), list).filter((p) => !p.disabled && forArch(p, arch)).map((p) => mmRunName(p.name));
  const soak = testSoakTools(arch, { soak: opts.soak ?? false }).map(soakRunName);
  return [...tests, ...mm, ...benches, ...soak];
}

/** --filter must match a program on every arch that runs (pure). */
export function checkFilter(filter: string | undefined, namesByArch: ReadonlyMap<ArchName, readonly string[] | undefined>): void {
  if (filter === undefined) return;
  for (const [arch, names] of namesByArch) {
    if (names === undefined || names.some((n) => n.includes(filter))) continue;
    const other = [...namesByArch].filter(([a, ns]) => a !== arch && ns?.some((n) => n.includes(filter))).map(([a]) => a);
    const hint = other.length > 0 ? `; it matches on ${other.join(', ')}: add --arch ${other[0]}` : `; available: ${names.join(', ') || 'none'}`;
    throw new UserError(`no guest test program matches --filter ${filter} on ${arch}${hint}`);
  }
}

/** --cpu must be a TCG CPU model of every arch that boots (pure). */
export function checkCpu(label: string | undefined, arches: readonly ArchName[]): void {
  if (label === undefined) return;
  for (const arch of arches) {
    const labels = archSpec(arch).tcgCpus.map((c) => c.label);
    if (!labels.includes(label)) {
      const hint = arches.length > 1 ? `; pick the arch with --arch` : '';
      throw new UserError(`--cpu ${label}: ${arch} boots ${labels.join(' or ')}${hint}`);
    }
  }
}

function checkFile(option: string, path: string | undefined, kind: 'file' | 'folder'): void {
  if (path === undefined) return;
  const st = existsSync(path) ? statSync(path) : undefined;
  if (!st) throw new UserError(`${option} ${path}: no such ${kind}`);
  if (kind === 'file' ? !st.isFile() : !st.isDirectory()) throw new UserError(`${option} ${path}: not a ${kind}`);
}

export interface RunInputs {
  arch?: ArchName;
  add: readonly string[];
  cpu?: string;
  kernel?: string;
}

export function checkRunInputs(o: RunInputs, hostMachine: string): void {
  for (const a of o.add) checkAddPath(a);
  checkFile('--kernel', o.kernel, 'file');
  checkCpu(o.cpu, [o.arch ?? hostArch(hostMachine)]);
}

export interface TestInputs extends PlanOptions {
  cpu?: string;
  filter?: string;
  soak?: boolean;
}

export function checkTestInputs(o: TestInputs, paths: Pick<Paths, 'guestTestsSrc' | 'mmSelftestsSrc' | 'benchSrc'>, hostMachine: string): void {
  checkFile('--kernel', o.kernel, 'file');
  checkFile('--guest-tests', o.guestTests, 'folder');
  const plan = testPlan(o, hostArch(hostMachine));
  checkCpu(o.cpu, plan.arches);
  checkFilter(o.filter, new Map(plan.arches.map((a) => [a, guestProgramNames(paths, a, o)])));
}

/** `bench --filter` must match a benchmark program of bench/guest. */
export function checkBenchInputs(filter: string | undefined, paths: Pick<Paths, 'benchSrc'>): void {
  if (filter === undefined) return;
  const benches = makeList(join(paths.benchSrc, 'Makefile'), 'BENCHES');
  if (benches === undefined || benches.some((b) => b.includes(filter))) return;
  throw new UserError(`no benchmark program matches --filter ${filter} (available: ${benches.join(', ')})`);
}
