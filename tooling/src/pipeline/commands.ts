import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PATH, shellQuote } from '../image/init.ts';
import { logFile } from '../paths.ts';
import { MarkerTracker } from '../results/markers.ts';
import { findSplats, formatSplat } from '../results/splat.ts';
import { closingLine, combineSummaries, failedStep, labelSummary, renderSummary, summarize, type Row, type Summary } from '../results/summary.ts';
import type { ProgramResult } from '../results/tap.ts';
import { benchRunName } from '../bench/check.ts';
import { ALLOWLIST_FILE, readAllowlist, type Allowance } from '../mmselftests/allowlist.ts';
import { readSkipList, SKIPS_FILE, type SkipAllowance } from '../results/skips.ts';
import { groupAllowed, unusedAllowances, type MmEvaluation } from '../mmselftests/evaluate.ts';
import { mmRunName } from '../mmselftests/programs.ts';
import { formatDifference, type CaseDifference } from '../mmselftests/compare.ts';
import { createTree } from '../tree/create.ts';
import { exportPatches } from '../tree/export.ts';
import { readSeriesPatches } from '../tree/state.ts';
import { resetLog } from '../build/logs.ts';
import { runConsole, runInteractive } from '../vm/console.ts';
import type { TestPart } from '../vm/qemu.ts';
import { tailFile } from '../util/exec.ts';
import { UserError, errorLine } from '../util/errors.ts';
import { StageTimer, displayPath, formatDuration, info, warn } from '../util/log.ts';
import { hostArch, type ArchName, type TcgCpu, type TestArch } from '../arch.ts';
import { ensurePrerequisites, type Prerequisites } from '../host/prerequisites.ts';
import type { Source } from '../source/fetch.ts';
import { checkBuild32, type Build32Result } from './build32.ts';
import { bootLine, chooseAccel, THIS_HOST, type Accel, type KvmHost } from './accel.ts';
import { runQemuArgs, testBootParts, testCpus, testQemuArgs, type VmSize } from './boots.ts';
import { dryRunRun, dryRunTest, renderDryRun } from './dryrun.ts';
import { testPlan, testPrerequisites } from './plan.ts';
import { logSuffix, makeContext, type BuildOptions, type Context } from './context.ts';
import { guestForParts, prepareGuest, type GuestImage } from './guest.ts';
import { ensureHostPackages, ensureSource, ensureTree, prepareKernel, type KernelArtifacts, type TreeCreator } from './kernel.ts';
import { runUnitCaptured, runUnitInteractive, type UnitRun } from './unit.ts';
import { programJudge } from './verdict.ts';
import { prepareTestSoak } from '../soak/intest.ts';

export { runCpu } from './boots.ts';
export { testPlan } from './plan.ts';

export interface RunOptions extends BuildOptions, VmSize {
  /** Print the QEMU command line and exit: nothing is installed, built or booted. */
  dryRun?: boolean;
  /** Developer option: the TCG CPU model (its label, e.g. cortex-a57); default the arch's last (max). */
  cpu?: string;
  add: string[];
  /** Minutes; undefined: no limit. */
  timeout?: number;
  command: string[];
}

export interface TestOptions extends BuildOptions, VmSize {
  /** Print the QEMU command lines and exit: nothing is installed, built or booted. */
  dryRun?: boolean;
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

export async function cmdRun(opts: RunOptions): Promise<number> {
  const interactive = opts.command.length === 0 && Boolean(process.stdin.isTTY);
  if (opts.dryRun) {
    process.stdout.write(renderDryRun([await dryRunRun(opts, interactive)]));
    return 0;
  }
  const ctx = makeContext(opts);
  const kernel = await prepareKernel(ctx, opts, true);
  const command = opts.command.length > 0 ? opts.command : [DEMO_PATH];
  const guest = await prepareGuest(ctx, kernel, { mode: 'run', command, adds: opts.add });
  if (opts.command.length === 0 && !guest.userland.patchDemo) warn(`${DEMO_PATH} is not built yet; the guest will report it missing`);
  const kvm = await chooseAccel(ctx, kernel.image, guest.initrd);
  const consoleLog = ctx.log('console-run');
  const args = runQemuArgs(ctx.target.arch, {
    image: kernel.image,
    initrd: guest.initrd,
    kvm: kvm.usable,
    cpu: opts.cpu,
    interactive,
    consoleLog,
    size: { smp: opts.smp, memory: opts.memory },
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

/** One boot of `test`: one kernel on one CPU model, running some parts of the image. */
export interface ArchBoot {
  ctx: Context;
  opts: TestOptions;
  kernel: KernelArtifacts;
  image: GuestImage;
  kvm: Accel;
  cpu: TcgCpu;
  parts: readonly TestPart[];
  label: string;
  allowlist: readonly Allowance[];
  skipList: readonly SkipAllowance[];
}

/** Boot one kernel on one CPU model and run the programs: the boot's labelled summary. */
async function bootAndTest(b: ArchBoot): Promise<Summary> {
  const { ctx, opts, kernel, image, kvm, cpu, parts, label, allowlist, skipList } = b;
  const arch = ctx.target.arch;
  const guest = guestForParts(image, parts);
  const multiCpu = !kvm.usable && arch.tcgCpus.length > 1;
  const consoleLog = logFile(ctx.paths, `console-test${logSuffix(arch.name)}${multiCpu ? `-${cpu.label}` : ''}`);
  const { args, env } = testQemuArgs(arch, {
    image: kernel.image,
    initrd: guest.initrd,
    kvm: kvm.usable,
    cpu,
    testTimeout: opts.testTimeout,
    parts,
    size: { smp: opts.smp, memory: opts.memory },
  });
  const mmNote = guest.mmSelftests.length > 0 ? `, ${guest.mmSelftests.length} kernel mm selftest(s) normally and inside views` : '';
  const benchNote = `${mmNote}${guest.benches.length > 0 ? ` and ${guest.benches.length} benchmark program(s) at tiny size` : ''}`;
  const soakNote = guest.extraRuns?.length ? `, then the soak (${guest.extraRuns.join(', ')})` : '';
  const envNote = soakNote + (Object.keys(env).length > 0 ? `; ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}` : '');
  const cpuNote = kvm.usable ? '' : ` on -cpu ${cpu.model}`;
  info('test', `${bootLine(ctx, kvm)}${cpuNote}: ${guest.tests.length} test program(s)${benchNote}${envNote}; console log: ${displayPath(consoleLog)}`);
  const { evaluate, mmEvaluations } = programJudge({ label, testTimeout: opts.testTimeout, allowlist, skipList });

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

/** Kernel, soak programs and initramfs of one arch. */
async function prepareArch(ctx: Context, opts: TestOptions): Promise<{ kernel: KernelArtifacts; guest: GuestImage }> {
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
  return { kernel, guest };
}

/** What testArch does around its KVM decision and CPU models; tests stand in for the builds, the host's KVM and the boots. */
export interface ArchSteps {
  prepare: (ctx: Context, opts: TestOptions) => Promise<{ kernel: KernelArtifacts; guest: GuestImage }>;
  kvmHost: KvmHost;
  boot: (b: ArchBoot) => Promise<Summary>;
}

const BUILD_AND_BOOT: ArchSteps = { prepare: prepareArch, kvmHost: THIS_HOST, boot: bootAndTest };

/** Build, pack and boot one arch (each TCG CPU model in turn); a failed build is a failed row. */
export async function testArch(opts: TestOptions, arch: ArchName, timer: StageTimer, steps: ArchSteps = BUILD_AND_BOOT): Promise<Summary[]> {
  const ctx = makeContext({ ...opts, arch }, timer.scoped(arch));
  try {
    const allowlist = readAllowlist(join(ctx.paths.mmSelftestsSrc, ALLOWLIST_FILE));
    const skipList = readSkipList(join(ctx.paths.guestTestsSrc, SKIPS_FILE));
    const { kernel, guest } = await steps.prepare(ctx, opts);
    // One decision per arch (the same rule as run, bench and soak): it picks the CPU models too.
    const kvm = await chooseAccel(ctx, kernel.image, guest.initrd, { boot: true, host: steps.kvmHost });
    const multi = !kvm.usable && ctx.target.arch.tcgCpus.length > 1;
    const out: Summary[] = [];
    const cpus = testCpus(ctx.target.arch, kvm.usable, opts.cpu);
    for (const [i, cpu] of cpus.entries()) {
      const label = multi ? `${arch}/${cpu.label}` : arch;
      out.push(await steps.boot({ ctx, opts, kernel, image: guest, kvm, cpu, parts: testBootParts(cpus.length, i), label, allowlist, skipList }));
    }
    return out;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    process.stdout.write(`mmview: ${arch}: ${errorLine(e)}\n`);
    return [failedStep(arch, 'build and boot', errorLine(e))];
  }
}

/** The steps of cmdTest that touch the host (install, run node, build, boot); tests stand in for them to check the order. */
export interface TestSteps {
  prerequisites: (p: Prerequisites, logFile: string) => Promise<{ installed: string[]; enabled: string[] }>;
  unit: (repo: string, dir: string, hostArch: ArchName) => Promise<UnitRun>;
  arch: (opts: TestOptions, arch: ArchName, timer: StageTimer) => Promise<Summary[]>;
  source: (ctx: Context, acceptVersion: string | undefined) => Promise<Source>;
  createTree: TreeCreator;
  build32: (ctx: Context) => Promise<Build32Result>;
}

const HOST_TEST_STEPS: TestSteps = {
  prerequisites: ensurePrerequisites,
  unit: runUnitCaptured,
  arch: testArch,
  source: ensureSource,
  createTree,
  build32: checkBuild32,
};

export async function cmdTest(opts: TestOptions, steps: TestSteps = HOST_TEST_STEPS): Promise<number> {
  const timer = new StageTimer();
  const host = makeContext({ config: opts.config, buildDir: opts.buildDir }, timer);
  const plan = testPlan(opts, hostArch(host.hostMachine));
  if (opts.dryRun) {
    const boots = await dryRunTest(opts, plan);
    process.stdout.write(renderDryRun(boots, plan.build32 ? ['i386: the 32-bit build check (built, never booted)'] : []));
    return 0;
  }
  // Everything every part needs from the host, before the unit tests (git, dpkg-deb, xz) and the first build.
  await timer.run('packages', async () => {
    const got = await steps.prerequisites(testPrerequisites(plan, opts, host.hostMachine), logFile(host.paths, 'packages'));
    if (got.enabled.length > 0) info('packages', `enabled Debian's ${got.enabled.join(', ')} architecture(s)`);
    if (got.installed.length > 0) info('packages', `installed ${got.installed.join(' ')}`);
  });
  const unitRows: Row[] = [];
  if (opts.unit) {
    const unit = await timer.run('unit', () => steps.unit(host.paths.repo, host.paths.unitTests, hostArch(host.hostMachine)));
    info('unit', `host unit tests: ${unit.row.passed} passed, ${unit.row.failed} failed, ${unit.row.skipped} skipped`);
    if (!unit.ok) {
      process.stdout.write(unit.output.split('\n').filter((l) => /not ok|error|Error|expected|actual|at .*\.ts/.test(l)).slice(0, 60).join('\n') + '\n');
      for (const p of unit.problems) process.stdout.write(`${p}\n`);
      process.stdout.write(`${closingLine(unit.row)}\n`);
      return 1;
    }
    unitRows.push(unit.row);
  }
  const parts: Summary[] = [];
  for (const arch of plan.arches) parts.push(...(await steps.arch(opts, arch, timer)));
  if (plan.build32) {
    const ctx = makeContext({ config: opts.config, buildDir: opts.buildDir, arch: 'x86_64' }, timer);
    // Alone (--arch i386) nothing else made build/linux: make sure it is there and matches patches/.
    if (plan.arches.length === 0) await ensureTree(ctx, await steps.source(ctx, opts.acceptVersion), steps.createTree);
    const b = await steps.build32(ctx);
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
  await ensureHostPackages(ctx, { tree: false, kernel: false, guest: false, unit: true });
  return runUnitInteractive(ctx.paths.repo, ctx.paths.unitTests);
}
