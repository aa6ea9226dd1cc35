import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PATH, shellQuote } from '../image/init.ts';
import { logFile } from '../paths.ts';
import { MarkerTracker } from '../results/markers.ts';
import { findSplats, formatSplat } from '../results/splat.ts';
import { closingLine, combineSummaries, failedStep, labelSummary, renderSummary, summarize, type Row, type Summary } from '../results/summary.ts';
import { evaluateProgram, type ProgramResult } from '../results/tap.ts';
import { evaluateBenchProgram } from '../results/bench.ts';
import { benchRunName, isBenchRunName } from '../bench/check.ts';
import { ALLOWLIST_FILE, readAllowlist, type Allowance } from '../mmselftests/allowlist.ts';
import { evaluateMmSelftest, groupAllowed, unusedAllowances, type MmEvaluation } from '../mmselftests/evaluate.ts';
import { isMmRunName, mmRunName } from '../mmselftests/programs.ts';
import { formatDifference, type CaseDifference } from '../mmselftests/compare.ts';
import type { ProgramRun } from '../results/markers.ts';
import { createTree } from '../tree/create.ts';
import { exportPatches } from '../tree/export.ts';
import { readSeriesPatches } from '../tree/state.ts';
import { resetLog } from '../build/logs.ts';
import { runConsole, runInteractive } from '../vm/console.ts';
import { qemuArgs } from '../vm/qemu.ts';
import { tailFile } from '../util/exec.ts';
import { UserError, errorLine } from '../util/errors.ts';
import { StageTimer, displayPath, formatDuration, info, warn } from '../util/log.ts';
import { TEST_ARCHES, hostArch, type ArchName, type TcgCpu, type TestArch } from '../arch.ts';
import { detectKvm } from '../host/kvm.ts';
import { checkBuild32 } from './build32.ts';
import { bootLine, chooseAccel } from './accel.ts';
import { logSuffix, makeContext, type BuildOptions, type Context } from './context.ts';
import { prepareGuest, type GuestImage } from './guest.ts';
import { ensureHostPackages, ensureSource, prepareKernel, type KernelArtifacts } from './kernel.ts';
import { runUnitCaptured, runUnitInteractive } from './unit.ts';
import { isSoakRunName } from '../soak/config.ts';
import { evaluateSoakProgram } from '../soak/evaluate.ts';
import { prepareTestSoak } from '../soak/intest.ts';

export interface RunOptions extends BuildOptions {
  /** Developer option: the TCG CPU model (its label, e.g. cortex-a57); default the arch's last (max). */
  cpu?: string;
  add: string[];
  /** Minutes; undefined: no limit. */
  timeout?: number;
  command: string[];
}

export interface TestOptions extends BuildOptions {
  /** Minutes for the whole VM run. */
  timeout: number;
  filter?: string;
  /** Seconds per guest test program. */
  testTimeout: number;
  guestTests?: string;
  /** Developer option: skip the host unit tests. */
  unit: boolean;
  /** `--arch` of test: a guest arch, or i386 for the 32-bit build check alone. */
  testArch?: TestArch;
  /** Developer option: boot only this TCG CPU model (its label, e.g. cortex-a57). */
  cpu?: string;
  /** The short soak after the tests (x86_64; soak/intest.ts); default on. */
  soak?: boolean;
}


export interface TreeOptions {
  force: boolean;
  acceptVersion?: string;
  buildDir?: string;
}

function printTimes(ctx: Context): void {
  info('time', ctx.timer.report());
}

function printConsoleTail(file: string, n = 40): void {
  const tail = tailFile(file, n);
  process.stdout.write(`--- last ${tail.length} console lines (${file}) ---\n${tail.join('\n')}\n---\n`);
}

/** The TCG CPU model of `run` (pure). */
export function runCpu(cpus: readonly TcgCpu[], label: string | undefined): TcgCpu {
  const pick = label === undefined ? cpus.at(-1) : cpus.find((c) => c.label === label);
  if (!pick) throw new UserError(`--cpu ${label ?? ''}: choose ${cpus.map((c) => c.label).join(' or ')}`);
  return pick;
}

export async function cmdRun(opts: RunOptions): Promise<number> {
  const ctx = makeContext(opts);
  const kernel = await prepareKernel(ctx, opts, true);
  const command = opts.command.length > 0 ? opts.command : [DEMO_PATH];
  const interactive = opts.command.length === 0 && Boolean(process.stdin.isTTY);
  const guest = await prepareGuest(ctx, kernel, { mode: 'run', command, adds: opts.add });
  if (opts.command.length === 0 && !guest.userland.patchDemo) warn(`${DEMO_PATH} is not built yet; the guest will report it missing`);
  const kvm = await chooseAccel(ctx, kernel.image, guest.initrd);
  const consoleLog = ctx.log('console-run');
  const args = qemuArgs({
    arch: ctx.target.arch,
    kernel: kernel.image,
    initrd: guest.initrd,
    kvm: kvm.usable,
    cpu: runCpu(ctx.target.arch.tcgCpus, opts.cpu).model,
    mode: 'run',
    interactive,
    consoleLog,
    rows: process.stdout.rows,
    cols: process.stdout.columns,
  });
  printTimes(ctx);

  if (interactive) {
    resetLog(consoleLog);
    info('run', `${bootLine(ctx, kvm)}; Ctrl-A X quits QEMU; console log: ${consoleLog}`);
    const code = await runInteractive(ctx.target.arch.qemu, args);
    const splats = findSplats(tailFile(consoleLog, Number.MAX_SAFE_INTEGER).map((l) => l.replace(/\r$/, '')));
    for (const s of splats) process.stderr.write(`${formatSplat(s, consoleLog)}\n`);
    if (splats.length > 0) warn(`${splats.length} kernel splat(s) in ${consoleLog}`);
    return code;
  }

  info('run', `${bootLine(ctx, kvm)}: ${shellQuote(command)}  (console log: ${consoleLog})`);
  const tracker = new MarkerTracker();
  let echo = false;
  const res = await runConsole({
    qemu: ctx.target.arch.qemu,
    args,
    logFile: consoleLog,
    timeoutMs: opts.timeout !== undefined ? opts.timeout * 60_000 : undefined,
    onLine: (line) => {
      const ev = tracker.push(line);
      if (ev?.kind === 'run-begin') echo = true;
      else if (ev?.kind === 'exit') echo = false;
      else if (echo) process.stdout.write(`${line}\n`);
    },
    finished: () => tracker.runExit !== undefined,
  });
  const splats = findSplats(res.lines);
  for (const s of splats) process.stderr.write(`${formatSplat(s, consoleLog)}\n`);
  if (splats.length > 0) warn(`${splats.length} kernel splat(s) during the run (see above)`);
  if (res.timedOut) {
    printConsoleTail(consoleLog);
    throw new UserError(`the VM did not finish within ${opts.timeout} min and was killed; console log: ${consoleLog}`);
  }
  if (tracker.runExit === undefined) {
    printConsoleTail(consoleLog);
    throw new UserError(`the guest stopped before the command finished (crash or panic?); console log: ${consoleLog}`);
  }
  return tracker.runExit;
}

function programLine(r: ProgramResult, ms: number): string {
  const counts = [`${r.passed} passed`, r.failed > 0 ? `${r.failed} failed` : '', r.skipped > 0 ? `${r.skipped} skipped` : '']
    .filter(Boolean)
    .join(', ');
  return `${r.name}: ${r.failed > 0 ? 'FAILED' : 'ok'} (${counts}; ${formatDuration(ms)})`;
}

/** What `test` runs: guest arches in order, and whether the 32-bit build check runs (pure). */
export function testPlan(opts: Pick<TestOptions, 'arch' | 'testArch' | 'kernel' | 'guestTests'>, host: ArchName): { arches: ArchName[]; build32: boolean } {
  const selected = opts.testArch ?? opts.arch;
  if (selected === 'i386') return { arches: [], build32: true };
  if (selected !== undefined) return { arches: [selected], build32: false };
  // A prebuilt kernel or test folder belongs to one arch: the host's.
  if (opts.kernel !== undefined || opts.guestTests !== undefined) return { arches: [host], build32: false };
  return { arches: [...TEST_ARCHES], build32: true };
}

/** The accepted differences of the mm selftests (one line per allowlist entry used) and a warning for each stale entry. */
function reportMmSelftests(evaluations: readonly MmEvaluation[], allowlist: readonly Allowance[], label: string): void {
  for (const ev of evaluations) {
    for (const [by, ds] of groupAllowed(ev)) {
      const what = ds.length === 1 ? formatDifference(ds[0] as CaseDifference) : `${ds.length} cases`;
      info('test', `${label} ${ev.result.name}: known difference inside views (${ALLOWLIST_FILE}:${by.line}, ${by.case}): ${what}`);
    }
  }
  for (const a of unusedAllowances(allowlist, evaluations, label)) {
    warn(`${label}: ${ALLOWLIST_FILE}:${a.line} (${a.program} | ${a.case}) matched no difference; remove it if the bug is fixed`);
  }
}

/** Boot one kernel on one CPU model and run the programs: the boot's labelled summary. */
async function bootAndTest(
  ctx: Context,
  opts: TestOptions,
  kernel: KernelArtifacts,
  guest: GuestImage,
  cpu: TcgCpu,
  label: string,
  allowlist: readonly Allowance[],
): Promise<Summary> {
  const arch = ctx.target.arch;
  const kvm = await chooseAccel(ctx, kernel.image, guest.initrd);
  const multiCpu = !kvm.usable && arch.tcgCpus.length > 1;
  const consoleLog = logFile(ctx.paths, `console-test${logSuffix(arch.name)}${multiCpu ? `-${cpu.label}` : ''}`);
  const env = kvm.usable ? {} : arch.tcgTestEnv;
  const args = qemuArgs({
    arch,
    kernel: kernel.image,
    initrd: guest.initrd,
    kvm: kvm.usable,
    cpu: cpu.model,
    env,
    mode: 'test',
    interactive: false,
    testTimeout: opts.testTimeout,
  });
  const mmNote = guest.mmSelftests.length > 0 ? `, ${guest.mmSelftests.length} kernel mm selftest(s) normally and inside views` : '';
  const benchNote = `${mmNote}${guest.benches.length > 0 ? ` and ${guest.benches.length} benchmark program(s) at tiny size` : ''}`;
  const soakNote = guest.extraRuns?.length ? `, then the soak (${guest.extraRuns.join(', ')})` : '';
  const envNote = soakNote + (Object.keys(env).length > 0 ? `; ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}` : '');
  const cpuNote = kvm.usable ? '' : ` on -cpu ${cpu.model}`;
  info('test', `${bootLine(ctx, kvm)}${cpuNote}: ${guest.tests.length} test program(s)${benchNote}${envNote}; console log: ${displayPath(consoleLog)}`);
  // Test programs print TAP; benchmark programs one JSON document, checked for form only;
  // mm selftest pairs are compared case by case, with the allowlist.
  const mmEvaluations = new Map<string, MmEvaluation>();
  const evaluate = (p: ProgramRun): ProgramResult => {
    if (isBenchRunName(p.name)) return evaluateBenchProgram(p, { size: 'tiny', mmview: true }, opts.testTimeout);
    if (isSoakRunName(p.name)) return evaluateSoakProgram(p, opts.testTimeout);
    if (isMmRunName(p.name)) {
      const ev = evaluateMmSelftest(p, allowlist, label, opts.testTimeout);
      mmEvaluations.set(p.name, ev);
      return ev.result;
    }
    return evaluateProgram(p, opts.testTimeout);
  };

  const tracker = new MarkerTracker();
  let begun = Date.now();
  const res = await ctx.timer.run(multiCpu ? `boot+tests(${cpu.label})` : 'boot+tests', () =>
    runConsole({
      qemu: arch.qemu,
      args,
      logFile: consoleLog,
      timeoutMs: opts.timeout * 60_000,
      onLine: (line) => {
        const ev = tracker.push(line);
        if (ev?.kind === 'begin') {
          begun = Date.now();
          if (ctx.tty) process.stdout.write(`[test] ${label} ${ev.name} ...`);
        } else if (ev?.kind === 'end') {
          const r = evaluate(ev.program);
          process.stdout.write(`${ctx.tty ? '\r\x1b[K' : ''}[test] ${label} ${programLine(r, Date.now() - begun)}\n`);
        }
      },
      finished: () => tracker.done,
    }),
  );
  if (ctx.tty && tracker.programs.some((p) => p.status === undefined)) process.stdout.write('\n');

  const results = tracker.programs.map(evaluate);
  const seen = new Set(results.map((r) => r.name));
  for (const name of [...guest.tests.map((t) => t.name), ...guest.mmSelftests.map(mmRunName), ...guest.benches.map((b) => benchRunName(b.name)), ...(guest.extraRuns ?? [])]) {
    if (!seen.has(name)) {
      results.push({ name, passed: 0, failed: 1, skipped: 0, status: undefined, problems: [`${name}: did not run`], failures: [] });
    }
  }
  reportMmSelftests([...mmEvaluations.values()], allowlist, label);
  const splats = findSplats(res.lines);
  for (const s of splats) process.stdout.write(`${formatSplat(s, consoleLog)}\n`);
  const panicked = res.lines.some((l) => /Kernel panic - not syncing/.test(l));
  if (res.timedOut || !tracker.done) printConsoleTail(consoleLog);
  if (res.timedOut) warn(`${label}: the VM did not finish within ${opts.timeout} min and was killed`);
  return labelSummary(summarize(results, splats, { done: tracker.done, vmTimedOut: res.timedOut, panicked }), label);
}

/** Build, pack and boot one arch (each TCG CPU model in turn); a failed build is a failed row. */
async function testArch(opts: TestOptions, arch: ArchName, timer: StageTimer): Promise<Summary[]> {
  const ctx = makeContext({ ...opts, arch }, timer.scoped(arch));
  try {
    const allowlist = readAllowlist(join(ctx.paths.mmSelftestsSrc, ALLOWLIST_FILE));
    const kernel = await prepareKernel(ctx, opts, true);
    const soak = await prepareTestSoak(ctx, kernel.headers, opts);
    const guest = await prepareGuest(ctx, kernel, {
      mode: 'test',
      command: [],
      adds: [],
      filter: opts.filter,
      guestTests: opts.guestTests,
      extraEntries: soak.entries,
      extraRuns: soak.runs,
    });
    const kvm = detectKvm(ctx.target.arch, ctx.hostMachine).usable;
    const all = ctx.target.arch.tcgCpus;
    const cpus = kvm ? all.slice(-1) : opts.cpu !== undefined ? all.filter((c) => c.label === opts.cpu) : all;
    if (cpus.length === 0) throw new UserError(`--cpu ${opts.cpu ?? ''}: ${arch} boots ${all.map((c) => c.label).join(' or ')}`);
    const out: Summary[] = [];
    for (const cpu of cpus) {
      const label = !kvm && all.length > 1 ? `${arch}/${cpu.label}` : arch;
      out.push(await bootAndTest(ctx, opts, kernel, guest, cpu, label, allowlist));
    }
    return out;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    process.stdout.write(`mmview: ${arch}: ${errorLine(e)}\n`);
    return [failedStep(arch, 'build and boot', errorLine(e))];
  }
}

export async function cmdTest(opts: TestOptions): Promise<number> {
  const timer = new StageTimer();
  const host = makeContext({ config: opts.config, buildDir: opts.buildDir }, timer);
  const unitRows: Row[] = [];
  if (opts.unit) {
    const unit = await timer.run('unit', () => runUnitCaptured(host.paths.repo, host.paths.unitTests));
    info('unit', `host unit tests: ${unit.row.passed} passed, ${unit.row.failed} failed`);
    if (!unit.ok) {
      process.stdout.write(unit.output.split('\n').filter((l) => /not ok|error|Error|expected|actual|at .*\.ts/.test(l)).slice(0, 60).join('\n') + '\n');
      process.stdout.write(`${closingLine(unit.row)}\n`);
      return 1;
    }
    unitRows.push(unit.row);
  }
  const plan = testPlan(opts, hostArch(host.hostMachine));
  const parts: Summary[] = [];
  for (const arch of plan.arches) parts.push(...(await testArch(opts, arch, timer)));
  if (plan.build32) {
    const ctx = makeContext({ config: opts.config, buildDir: opts.buildDir, arch: 'x86_64' }, timer);
    if (plan.arches.length === 0) await ensureHostPackages(ctx, { tree: true, kernel: true, guest: false });
    const b = await checkBuild32(ctx);
    parts.push({ rows: [b.row], totals: { ...b.row, name: 'total' }, problems: b.problems, ok: b.row.failed === 0 });
  }
  const summary = combineSummaries(parts, unitRows);
  info('time', timer.report());
  process.stdout.write(`\n${renderSummary(summary)}\n`);
  return summary.ok ? 0 : 1;
}

export async function cmdBuild(opts: BuildOptions): Promise<number> {
  const ctx = makeContext(opts);
  const k = await prepareKernel(ctx, opts, false);
  printTimes(ctx);
  info('build', `kernel: ${displayPath(k.image)}`);
  return 0;
}

export async function cmdTree(opts: TreeOptions): Promise<number> {
  const ctx = makeContext({ config: 'test', buildDir: opts.buildDir });
  if (existsSync(ctx.paths.tree) && !opts.force) {
    throw new UserError(`${displayPath(ctx.paths.tree)} already exists; pass --force to recreate it`);
  }
  await ensureHostPackages(ctx, { tree: true, kernel: false, guest: false });
  const source = await ensureSource(ctx, opts.acceptVersion);
  const series = await readSeriesPatches(ctx.paths.patches, ctx.paths.series);
  await ctx.timer.run('tree', () =>
    createTree({
      tree: ctx.paths.tree,
      patchesDir: ctx.paths.patches,
      series,
      source,
      force: opts.force,
      logFile: resetLog(logFile(ctx.paths, 'tree')),
    }),
  );
  printTimes(ctx);
  return 0;
}

export async function cmdExport(opts: { buildDir?: string }): Promise<number> {
  const ctx = makeContext({ config: 'test', buildDir: opts.buildDir });
  const r = await exportPatches(ctx.paths.tree, ctx.paths.patches, ctx.paths.series);
  const rel = displayPath;
  for (const f of r.written) info('export', `wrote ${rel(`${ctx.paths.patches}/${f}`)}`);
  info('export', `wrote ${rel(ctx.paths.series)} (${r.written.length} patch(es); ${r.removed.length} old patch file(s) replaced)`);
  if (r.uncommitted.length > 0) {
    warn(`${r.uncommitted.length} uncommitted change(s) in ${rel(ctx.paths.tree)} were not exported (commit them, then export again): ${r.uncommitted.slice(0, 5).join('; ')}`);
  }
  return 0;
}

export async function cmdUnit(): Promise<number> {
  const ctx = makeContext({ config: 'test' });
  return runUnitInteractive(ctx.paths.repo, ctx.paths.unitTests);
}
