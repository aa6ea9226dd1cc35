/**
 * ./mmview soak: stress-ng's vm stressors, then trinity's vm syscall group,
 * for a given time in the guest with every process inside views (issue 14).
 * Reuses the stages of `run` and `test`: kernel, userland, image, QEMU.
 * Fails on any kernel splat, a hang (a tool that does not stop after its
 * deadline, a VM that does not finish), a stress-ng verify failure or a
 * process that could not enter views.
 */
import { randomInt } from 'node:crypto';
import { MarkerTracker } from '../results/markers.ts';
import { findSplats, formatSplat } from '../results/splat.ts';
import { runConsole } from '../vm/console.ts';
import { qemuArgs } from '../vm/qemu.ts';
import { tailFile } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { displayPath, formatDuration, info, warn } from '../util/log.ts';
import { defaultSettings, soakBudgetSeconds, splitMinutes, type SoakSettings } from '../soak/config.ts';
import { prepareSoakFiles } from '../soak/image.ts';
import { judgeSoak } from '../soak/evaluate.ts';
import { describeSoak, parseSoak } from '../soak/results.ts';
import { bootLine, chooseAccel } from './accel.ts';
import { runCpu } from './boots.ts';
import { makeContext, type BuildOptions } from './context.ts';
import { prepareGuest } from './guest.ts';
import { prepareKernel } from './kernel.ts';

export interface SoakOptions extends BuildOptions {
  /** Minutes of soaking: half stress-ng, half trinity. */
  minutes: number;
  /** Trinity's seed; default: a random one (printed). */
  seed?: number;
  /** Minutes for the whole VM; default: the soak's budget plus 15 minutes for boot and start-up. */
  timeout?: number;
  /** Developer option: the TCG CPU model (arm64: cortex-a57 or max; default max). */
  cpu?: string;
  memory?: string;
  smp?: number;
  /** false: a control run with every process outside views (default true). */
  views?: boolean;
}

/** Settings of a `soak` run (pure). */
export function soakSettings(opts: Pick<SoakOptions, 'minutes' | 'seed' | 'views'>, arch: 'x86_64' | 'arm64', seed: number): SoakSettings {
  const { stressSeconds, trinitySeconds } = splitMinutes(opts.minutes);
  return { ...defaultSettings(arch, stressSeconds, trinitySeconds, opts.seed ?? seed), views: opts.views ?? true };
}

export async function cmdSoak(opts: SoakOptions): Promise<number> {
  const ctx = makeContext(opts);
  const started = Date.now();
  const kernel = await prepareKernel(ctx, opts, true);
  const settings = soakSettings(opts, ctx.target.arch.name, randomInt(1, 2 ** 31 - 1));
  const soak = await prepareSoakFiles(ctx, settings, kernel.headers);
  const guest = await prepareGuest(ctx, kernel, { mode: 'soak', command: [], adds: [], extraEntries: soak.entries });
  const kvm = await chooseAccel(ctx, kernel.image, guest.initrd);
  const budget = soakBudgetSeconds(settings);
  const timeoutMin = opts.timeout ?? Math.ceil(budget / 60) + 15;
  const consoleLog = ctx.log('console-soak');
  const args = qemuArgs({
    arch: ctx.target.arch,
    kernel: kernel.image,
    initrd: guest.initrd,
    kvm: kvm.usable,
    cpu: runCpu(ctx.target.arch.tcgCpus, opts.cpu).model,
    mode: 'soak',
    interactive: false,
    // Per tool (the runner's own deadline and grace come first).
    testTimeout: Math.max(settings.stressSeconds, settings.trinitySeconds) + settings.grace + 300,
    ...(opts.memory ? { memory: opts.memory } : {}),
    ...(opts.smp ? { smp: opts.smp } : {}),
  });
  info('time', ctx.timer.report());
  info(
    'soak',
    `${bootLine(ctx, kvm)}: stress-ng (${settings.stressors.length} vm stressors) ${settings.stressSeconds} s, ` +
      `then trinity -g vm ${settings.trinitySeconds} s with seed ${settings.seed}, ` +
      `${settings.views ? 'every process inside views' : 'every process outside views (control run)'}; ` +
      `VM limit ${timeoutMin} min; console log: ${displayPath(consoleLog)}`,
  );

  const tracker = new MarkerTracker();
  let begun = Date.now();
  const res = await ctx.timer.run('soak', () =>
    runConsole({
      qemu: ctx.target.arch.qemu,
      args,
      logFile: consoleLog,
      timeoutMs: timeoutMin * 60_000,
      onLine: (line) => {
        const ev = tracker.push(line);
        if (ev?.kind === 'begin') {
          begun = Date.now();
          info('soak', `${ev.name} ...`);
        } else if (ev?.kind === 'end') {
          const r = parseSoak(ev.program.lines)[0];
          info('soak', `${r ? describeSoak(r) : ev.program.name} (${formatDuration(Date.now() - begun)})`);
        } else if (/SOAK-(DEADLINE|HANG|UNKILLABLE)|mmview-inview: FAILED|stress-ng: fail:/.test(line)) {
          process.stdout.write(`  ${line.trim()}\n`);
        }
      },
      finished: () => tracker.done,
    }),
  );

  const splats = findSplats(res.lines);
  const panicked = res.lines.some((l) => /Kernel panic - not syncing/.test(l));
  const verdict = judgeSoak(res.lines, splats, { done: tracker.done, vmTimedOut: res.timedOut, panicked });
  for (const { splat, during } of verdict.splatsBy) process.stdout.write(`${formatSplat(splat, displayPath(consoleLog))}\n  (${during})\n`);
  if (res.timedOut || !tracker.done) {
    const tail = tailFile(consoleLog, 40);
    process.stdout.write(`--- last ${tail.length} console lines (${consoleLog}) ---\n${tail.join('\n')}\n---\n`);
  }
  info('time', `${ctx.timer.report()}; total ${formatDuration(Date.now() - started)}`);
  if (!verdict.ok) {
    for (const p of verdict.problems) process.stdout.write(`  ${p}\n`);
    const more = verdict.problems.length > 1 ? ` (and ${verdict.problems.length - 1} more, see above)` : '';
    throw new UserError(`soak failed: ${verdict.problems[0]}${more}; console log: ${displayPath(consoleLog)}`);
  }
  const seedNote = verdict.tools.find((t) => t.tool === 'trinity')?.config.seed;
  const what = settings.views ? 'no splat, hang, verify failure or view failure' : 'no splat, hang or verify failure in the control run outside views';
  info('soak', `passed: ${what}${seedNote ? ` (trinity seed ${seedNote})` : ''}`);
  if (res.killedAfterFinish) warn('QEMU did not power off by itself after the soak and was killed');
  return 0;
}
