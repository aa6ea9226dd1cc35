import { existsSync } from 'node:fs';
import { DEMO_PATH, shellQuote } from '../image/init.ts';
import { logFile } from '../paths.ts';
import { MarkerTracker } from '../results/markers.ts';
import { findSplats, formatSplat } from '../results/splat.ts';
import { closingLine, renderSummary, summarize, type Row } from '../results/summary.ts';
import { evaluateProgram, type ProgramResult } from '../results/tap.ts';
import { evaluateBenchProgram } from '../results/bench.ts';
import { benchRunName, isBenchRunName } from '../bench/check.ts';
import type { ProgramRun } from '../results/markers.ts';
import { createTree } from '../tree/create.ts';
import { exportPatches } from '../tree/export.ts';
import { readSeriesPatches } from '../tree/state.ts';
import { resetLog } from '../build/logs.ts';
import { runConsole, runInteractive } from '../vm/console.ts';
import { qemuArgs } from '../vm/qemu.ts';
import { tailFile } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { displayPath, formatDuration, info, warn } from '../util/log.ts';
import { bootLine, chooseAccel } from './accel.ts';
import { makeContext, type BuildOptions, type Context } from './context.ts';
import { prepareGuest } from './guest.ts';
import { ensureHostPackages, ensureSource, prepareKernel } from './kernel.ts';
import { runUnitCaptured, runUnitInteractive } from './unit.ts';

export interface RunOptions extends BuildOptions {
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
  const ctx = makeContext(opts);
  const kernel = await prepareKernel(ctx, opts, true);
  const command = opts.command.length > 0 ? opts.command : [DEMO_PATH];
  const interactive = opts.command.length === 0 && Boolean(process.stdin.isTTY);
  const guest = await prepareGuest(ctx, kernel, { mode: 'run', command, adds: opts.add });
  if (opts.command.length === 0 && !guest.userland.demo) warn(`${DEMO_PATH} is not built yet; the guest will report it missing`);
  const kvm = await chooseAccel(ctx, kernel.image, guest.initrd);
  const consoleLog = logFile(ctx.paths, 'console-run');
  const args = qemuArgs({
    arch: ctx.target.arch,
    kernel: kernel.image,
    initrd: guest.initrd,
    kvm: kvm.usable,
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

export async function cmdTest(opts: TestOptions): Promise<number> {
  const ctx = makeContext(opts);
  const unitRows: Row[] = [];
  if (opts.unit) {
    const unit = await ctx.timer.run('unit', () => runUnitCaptured(ctx.paths.repo, ctx.paths.unitTests));
    info('unit', `host unit tests: ${unit.row.passed} passed, ${unit.row.failed} failed`);
    if (!unit.ok) {
      process.stdout.write(unit.output.split('\n').filter((l) => /not ok|error|Error|expected|actual|at .*\.ts/.test(l)).slice(0, 60).join('\n') + '\n');
      process.stdout.write(`${closingLine(unit.row)}\n`);
      return 1;
    }
    unitRows.push(unit.row);
  }
  const kernel = await prepareKernel(ctx, opts, true);
  const guest = await prepareGuest(ctx, kernel, {
    mode: 'test',
    command: [],
    adds: [],
    filter: opts.filter,
    guestTests: opts.guestTests,
  });
  const kvm = await chooseAccel(ctx, kernel.image, guest.initrd);
  const consoleLog = logFile(ctx.paths, 'console-test');
  const args = qemuArgs({
    arch: ctx.target.arch,
    kernel: kernel.image,
    initrd: guest.initrd,
    kvm: kvm.usable,
    mode: 'test',
    interactive: false,
    testTimeout: opts.testTimeout,
  });
  const benchNote = guest.benches.length > 0 ? ` and ${guest.benches.length} benchmark program(s) at tiny size` : '';
  info('test', `${bootLine(ctx, kvm)}: ${guest.tests.length} test program(s)${benchNote}; console log: ${displayPath(consoleLog)}`);
  // Test programs print TAP; benchmark programs one JSON document, checked for form only.
  const evaluate = (p: ProgramRun): ProgramResult =>
    isBenchRunName(p.name) ? evaluateBenchProgram(p, { size: 'tiny', mmview: true }, opts.testTimeout) : evaluateProgram(p, opts.testTimeout);

  const tracker = new MarkerTracker();
  let begun = Date.now();
  const res = await ctx.timer.run('boot+tests', () =>
    runConsole({
      qemu: ctx.target.arch.qemu,
      args,
      logFile: consoleLog,
      timeoutMs: opts.timeout * 60_000,
      onLine: (line) => {
        const ev = tracker.push(line);
        if (ev?.kind === 'begin') {
          begun = Date.now();
          if (ctx.tty) process.stdout.write(`[test] ${ev.name} ...`);
        } else if (ev?.kind === 'end') {
          const r = evaluate(ev.program);
          process.stdout.write(`${ctx.tty ? '\r\x1b[K' : ''}[test] ${programLine(r, Date.now() - begun)}\n`);
        }
      },
      finished: () => tracker.done,
    }),
  );
  if (ctx.tty && tracker.programs.some((p) => p.status === undefined)) process.stdout.write('\n');

  const results = tracker.programs.map(evaluate);
  const seen = new Set(results.map((r) => r.name));
  for (const name of [...guest.tests.map((t) => t.name), ...guest.benches.map((b) => benchRunName(b.name))]) {
    if (!seen.has(name)) {
      results.push({ name, passed: 0, failed: 1, skipped: 0, status: undefined, problems: [`${name}: did not run`], failures: [] });
    }
  }
  const splats = findSplats(res.lines);
  for (const s of splats) process.stdout.write(`${formatSplat(s, consoleLog)}\n`);
  const panicked = res.lines.some((l) => /Kernel panic - not syncing/.test(l));
  if (res.timedOut || !tracker.done) printConsoleTail(consoleLog);
  if (res.timedOut) warn(`the VM did not finish within ${opts.timeout} min and was killed`);
  const summary = summarize(results, splats, { done: tracker.done, vmTimedOut: res.timedOut, panicked }, unitRows);
  printTimes(ctx);
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
