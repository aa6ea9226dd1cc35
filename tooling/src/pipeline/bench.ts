/**
 * `./mmview bench`: build the vanilla and the mmview release kernels and the
 * benchmark programs, boot each kernel in the same QEMU setup, collect the
 * programs' JSON, write build/bench/results.json and report.html, print the
 * table of ratios.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { ArchName } from '../arch.ts';
import { collectBenchRuns } from '../bench/collect.ts';
import { hostInfo, qemuVersion } from '../bench/environment.ts';
import { computeFigures, KERNEL_KEYS, type KernelKey } from '../bench/figures.ts';
import { renderReport } from '../bench/report.ts';
import { docsOf, figureRecord, readResults, RESULTS_SCHEMA, type BenchResults, type BootRun, type Environment, type KernelInfo } from '../bench/results.ts';
import { renderRatioTable } from '../bench/table.ts';
import { buildBench, listExecutables } from '../build/userland.ts';
import { logFile } from '../paths.ts';
import { MarkerTracker } from '../results/markers.ts';
import { findSplats } from '../results/splat.ts';
import { readSeries } from '../tree/series.ts';
import { git } from '../tree/git.ts';
import { UserError } from '../util/errors.ts';
import { tailFile } from '../util/exec.ts';
import { displayPath, formatDuration, info, warn } from '../util/log.ts';
import { runConsole } from '../vm/console.ts';
import { qemuArgs } from '../vm/qemu.ts';
import { chooseAccel, type Accel } from './accel.ts';
import { makeContext, type Context } from './context.ts';
import { packImage, selectTests } from './guest.ts';
import { ensureHostPackages, ensureSource, prepareKernel, type KernelArtifacts } from './kernel.ts';
import { prepareVanillaKernel, vanillaImage } from './vanilla.ts';

export interface BenchOptions {
  /** Repetitions per case (each program's default when undefined). */
  reps?: number;
  tiny: boolean;
  /** Only programs whose name contains this. */
  filter?: string;
  /** Use the kernels built before; build only the benchmark programs. */
  skipBuild: boolean;
  /** Build both kernels and stop. */
  buildOnly: boolean;
  /** Boots per kernel (alternating); samples are pooled over them. */
  rounds: number;
  /** Minutes per VM run. */
  timeout: number;
  smp: number;
  memory: string;
  acceptVersion?: string;
  buildDir?: string;
  arch?: ArchName;
  /** Developer option: re-render the table and report from this results.json. */
  from?: string;
}

/** Seconds one benchmark program may run in the guest. */
const PROGRAM_TIMEOUT_S = 1800;

/** Boot order: rounds alternate which kernel goes first (ABBA), so a slow drift of the host hits both alike (pure). */
export function bootOrder(rounds: number): { kernel: KernelKey; round: number }[] {
  const out: { kernel: KernelKey; round: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const keys = round % 2 === 1 ? KERNEL_KEYS : [...KERNEL_KEYS].reverse();
    for (const kernel of keys) out.push({ kernel, round });
  }
  return out;
}

/** Arguments of every benchmark program (pure). */
export function benchArgs(o: Pick<BenchOptions, 'tiny' | 'reps'>): string[] {
  return [...(o.tiny ? ['--tiny'] : []), ...(o.reps !== undefined ? ['--reps', String(o.reps)] : [])];
}

interface Kernels {
  mmview: KernelArtifacts;
  vanilla: string;
}

function prebuilt(ctx: Context): Kernels {
  const image = join(ctx.obj, ctx.target.arch.image);
  const headers = join(ctx.obj, 'usr-headers');
  const vanilla = vanillaImage(ctx);
  for (const f of [image, join(headers, 'include'), vanilla]) {
    if (!existsSync(f)) throw new UserError(`--skip-build: ${displayPath(f)} does not exist; run ./mmview bench --build-only first`);
  }
  return { mmview: { image, headers }, vanilla };
}

async function buildKernels(ctx: Context, opts: BenchOptions): Promise<Kernels> {
  info('bench', 'building the mmview kernel (release configuration)');
  const mmview = await prepareKernel(ctx, { config: 'release', acceptVersion: opts.acceptVersion }, true);
  info('bench', 'building the vanilla kernel (same source, no patches, release configuration)');
  const source = await ensureSource(ctx, opts.acceptVersion);
  const vanilla = await prepareVanillaKernel(ctx, source);
  return { mmview, vanilla };
}

/** "build/linux at 1a2b3c4 "subject" (+ uncommitted changes); patches/series: N patches". */
async function describeMmviewTree(ctx: Context): Promise<string> {
  const head = await git(ctx.paths.tree, ['log', '-1', '--format=%h "%s"']);
  const dirty = await git(ctx.paths.tree, ['diff', '--quiet', 'HEAD']);
  let series = 0;
  try {
    series = readSeries(ctx.paths.series).length;
  } catch {
    /* no series file */
  }
  return (
    `mmview: build/linux at ${head.stdout.trim() || '?'}${dirty.code === 1 ? ' + uncommitted changes' : ''}; ` +
    `patches/series has ${series} patch(es); release configuration`
  );
}

interface VmRun {
  key: KernelKey;
  round: number;
  image: string;
  initrd: string;
  accel: Accel;
  programs: readonly string[];
}

function loads(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

async function runBoot(ctx: Context, opts: BenchOptions, vm: VmRun): Promise<BootRun & { release?: string; version?: string }> {
  const name = opts.rounds > 1 ? `${vm.key} (round ${vm.round}/${opts.rounds})` : vm.key;
  const consoleLog = logFile(ctx.paths, opts.rounds > 1 ? `console-bench-${vm.key}-${vm.round}` : `console-bench-${vm.key}`);
  const args = qemuArgs({
    arch: ctx.target.arch,
    kernel: vm.image,
    initrd: vm.initrd,
    kvm: vm.accel.usable,
    mode: 'bench',
    interactive: false,
    memory: opts.memory,
    smp: opts.smp,
    testTimeout: PROGRAM_TIMEOUT_S,
  });
  info('bench', `${name}: booting ${displayPath(vm.image)} ${vm.accel.usable ? 'with KVM' : 'under TCG'} (${opts.smp} vCPUs, ${opts.memory}); console log: ${displayPath(consoleLog)}`);
  const tracker = new MarkerTracker();
  const seconds = new Map<string, number>();
  const loadavgBefore = loads();
  const started = Date.now();
  let begun = started;
  const res = await ctx.timer.run(`${vm.key} ${vm.round}`, () =>
    runConsole({
      qemu: ctx.target.arch.qemu,
      args,
      logFile: consoleLog,
      timeoutMs: opts.timeout * 60_000,
      onLine: (line) => {
        const ev = tracker.push(line);
        if (ev?.kind === 'begin') {
          begun = Date.now();
        } else if (ev?.kind === 'end') {
          const program = ev.program.name.replace(/^bench\//, '');
          const ms = Date.now() - begun;
          seconds.set(program, Math.round(ms / 100) / 10);
          info('bench', `${name}: ${program} ${ev.program.status === 0 ? 'done' : `exited with status ${ev.program.status}`} (${formatDuration(ms)})`);
        }
      },
      finished: () => tracker.done,
    }),
  );
  const collected = collectBenchRuns(tracker.programs, vm.programs, { size: opts.tiny ? 'tiny' : 'default', mmview: vm.key === 'mmview' }, seconds, PROGRAM_TIMEOUT_S);
  const splats = findSplats(res.lines).map((s) => `${s.kind}: ${s.text.trim()}`);
  if (res.timedOut) warn(`${name}: the VM did not finish within ${opts.timeout} min and was killed (see ${displayPath(consoleLog)})`);
  else if (!tracker.done) {
    warn(`${name}: the guest stopped before finishing the benchmarks; last console lines:`);
    process.stderr.write(`${tailFile(consoleLog, 20).join('\n')}\n`);
  }
  for (const p of collected.programs) if (!p.ok) warn(`${name}: ${p.program}: ${p.problems.join('; ')}`);
  if (splats.length > 0) warn(`${name}: ${splats.length} kernel splat(s) on the console: ${splats.join(' | ')}`);
  return {
    kernel: vm.key,
    round: vm.round,
    programs: collected.programs,
    splats,
    consoleLog,
    seconds: Math.round((Date.now() - started) / 1000),
    loadavgBefore,
    loadavgAfter: loads(),
    raw: collected.raw,
    release: collected.release,
    version: collected.version,
  };
}

/** Write results.json and report.html, print the table; returns the files. */
function publish(results: Omit<BenchResults, 'figures'>, outDir: string): { json: string; html: string } {
  const docs = docsOf(results.boots);
  const figures = computeFigures(docs);
  const full: BenchResults = { ...results, figures: figures.map(figureRecord) };
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'results.json');
  const html = join(outDir, 'report.html');
  writeFileSync(json, `${JSON.stringify(full, null, 1)}\n`);
  writeFileSync(html, renderReport(full, figures, docs));
  const env = results.environment;
  process.stdout.write(
    `\nmmview benchmarks (${env.accel === 'kvm' ? 'KVM' : 'emulated, QEMU TCG'}; ${env.vcpus} vCPUs, ${env.memory}; host ${env.host.cpuModel})\n` +
      `ratios of medians; spread: q1/q3 of the measurement over q3/q1 of the baseline\n\n${renderRatioTable(figures)}\n\n`,
  );
  return { json, html };
}

export async function cmdBench(opts: BenchOptions): Promise<number> {
  const ctx = makeContext({ config: 'release', buildDir: opts.buildDir, arch: opts.arch });
  if (opts.from !== undefined) {
    const prev = readResults(opts.from);
    const files = publish(prev, ctx.paths.benchOut);
    info('bench', `re-rendered ${displayPath(files.json)} and ${displayPath(files.html)} from ${opts.from}`);
    return 0;
  }
  // Building checks the host packages itself.
  if (opts.skipBuild) await ensureHostPackages(ctx, { tree: false, kernel: false, guest: true });
  const kernels = opts.skipBuild ? prebuilt(ctx) : await buildKernels(ctx, opts);
  if (opts.buildOnly) {
    info('bench', `kernels: ${displayPath(kernels.mmview.image)}, ${displayPath(kernels.vanilla)}`);
    info('time', ctx.timer.report());
    return 0;
  }
  if (!kernels.mmview.headers) throw new UserError('the mmview kernel has no installed headers; build it without --kernel');
  const { paths } = ctx;
  const built = await ctx.timer.run('bench-programs', () =>
    buildBench({
      libmmviewSrc: paths.libmmviewSrc,
      libmmpatchSrc: paths.libmmpatchSrc,
      benchSrc: paths.benchSrc,
      headers: kernels.mmview.headers as string,
      outDir: ctx.guest,
      makeVars: ctx.userMakeVars,
      jobs: ctx.jobs,
      logDir: paths.logs,
    }),
  );
  if (!built.benchDir) throw new UserError(`the benchmark programs could not be built (${displayPath(paths.benchSrc)})`);
  const all = listExecutables(built.benchDir);
  const programs = selectTests(all, opts.filter);
  if (programs.length === 0) throw new UserError(`no benchmark program matches --filter ${opts.filter ?? ''} (available: ${all.join(', ')})`);
  const initrd = await packImage(ctx, {
    mode: 'bench',
    tests: [],
    benches: programs.map((name) => ({ name, path: join(built.benchDir as string, name) })),
    benchArgs: benchArgs(opts),
    demo: undefined,
    // mmview_bench_patch runs the live-patching demo (figure P7).
    patchDemo: built.patchDemo,
    libDir: undefined,
    command: [],
    adds: [],
    obj: ctx.obj,
  });
  const accel = await chooseAccel(ctx, kernels.mmview.image, initrd);
  const host = hostInfo();
  const date = new Date().toISOString();
  const descriptions: Record<KernelKey, string> = {
    vanilla: `vanilla: ${displayPath(paths.vanillaTree)}, the pinned source without patches; release configuration`,
    mmview: await describeMmviewTree(ctx),
  };
  const images: Record<KernelKey, string> = { vanilla: kernels.vanilla, mmview: kernels.mmview.image };
  const boots: (BootRun & { release?: string; version?: string })[] = [];
  for (const { kernel, round } of bootOrder(opts.rounds)) {
    boots.push(await runBoot(ctx, opts, { key: kernel, round, image: images[kernel], initrd, accel, programs }));
  }
  const infos: KernelInfo[] = KERNEL_KEYS.map((key) => {
    const b = boots.find((x) => x.kernel === key && x.release !== undefined);
    return { key, description: descriptions[key], image: images[key], release: b?.release, version: b?.version };
  });
  const environment: Environment = {
    date,
    accel: accel.usable ? 'kvm' : 'tcg',
    accelReason: accel.reason,
    vcpus: opts.smp,
    memory: opts.memory,
    host,
    loadavgEnd: hostInfo().loadavg,
    qemu: await qemuVersion(ctx.target.arch.qemu),
    size: opts.tiny ? 'tiny' : 'default',
    reps: opts.reps,
    rounds: opts.rounds,
  };
  const files = publish(
    { schema: RESULTS_SCHEMA, environment, kernels: infos, boots: boots.map(({ release: _r, version: _v, ...b }) => b) },
    paths.benchOut,
  );
  info('time', ctx.timer.report());
  info('bench', `results: ${displayPath(files.json)}; report: ${displayPath(files.html)}`);
  const failed = boots.flatMap((b) => b.programs.filter((p) => !p.ok).map((p) => `${b.kernel}#${b.round}/${p.program}`));
  if (failed.length > 0) {
    warn(`benchmark program(s) without usable output: ${failed.join(', ')} (their figures are missing)`);
    return 1;
  }
  return 0;
}
