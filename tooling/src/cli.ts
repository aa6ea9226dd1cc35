import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ARCHES, FLAVOURS, TEST_ARCH_CHOICES, hostArch, type ArchName, type Flavour, type TestArch } from './arch.ts';
import { UserError, errorLine } from './util/errors.ts';
import type { BuildOptions } from './pipeline/context.ts';
import type { RunOptions, TestOptions, TreeOptions } from './pipeline/commands.ts';
import type { BenchOptions } from './pipeline/bench.ts';
import type { SoakOptions } from './pipeline/soak.ts';
import { checkBenchInputs, checkCpu, checkRunInputs, checkTestInputs } from './pipeline/inputs.ts';
import { makePaths } from './paths.ts';
import { machine } from 'node:os';

/** What each command does; injected so argument parsing can be tested alone. */
export interface Actions {
  run(o: RunOptions): Promise<number>;
  test(o: TestOptions): Promise<number>;
  build(o: BuildOptions): Promise<number>;
  tree(o: TreeOptions): Promise<number>;
  export(o: { buildDir?: string }): Promise<number>;
  unit(): Promise<number>;
  bench(o: BenchOptions): Promise<number>;
  soak(o: SoakOptions): Promise<number>;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const defaultIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

function positiveNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number.`);
    return n;
  };
}

function positiveInteger(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive integer.`);
    return n;
  };
}

function memorySize(value: string): string {
  if (!/^[1-9]\d*[MG]$/.test(value)) throw new InvalidArgumentError('--memory must look like 3G or 3072M.');
  return value;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const ARCH_HELP = 'guest architecture (default: the host\'s; arm64 on an x86_64 host is cross-built and runs under TCG)';

/** Options of every command that builds a kernel (the hidden ones are for developing the tooling). */
function buildOptions(cmd: Command, arch: Option = new Option('--arch <arch>', ARCH_HELP).choices(ARCHES)): Command {
  return cmd
    .addOption(new Option('--config <flavour>', 'kernel configuration').choices(FLAVOURS).default('test'))
    .addOption(arch)
    .addOption(new Option('--accept-version <version>', 'build this Debian linux-source version instead of the pinned one'))
    .addOption(new Option('--kernel <bzImage>', 'boot this kernel image instead of building one').hideHelp())
    .addOption(new Option('--build-dir <dir>', 'build folder (default: build/)').hideHelp());
}

/** --smp, --memory and --dry-run of run and test (default size: 4 vCPUs, 2G). */
function vmOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--smp <n>', 'guest vCPUs (default 4)').argParser(positiveInteger('--smp')))
    .addOption(new Option('--memory <size>', 'guest memory, e.g. 2G or 3072M (default 2G)').argParser(memorySize))
    .option('--dry-run', 'print the QEMU command line and exit: nothing is installed, built or booted', false);
}

interface RawVm {
  smp?: number;
  memory?: string;
  dryRun: boolean;
}

function toVm(o: RawVm): { smp?: number; memory?: string; dryRun?: boolean } {
  return { ...(o.smp !== undefined ? { smp: o.smp } : {}), ...(o.memory !== undefined ? { memory: o.memory } : {}), ...(o.dryRun ? { dryRun: true } : {}) };
}

/** Developer option of run and test: one TCG CPU model (cortex-a57 or max on arm64). */
function cpuOption(): Option {
  return new Option('--cpu <label>', 'TCG CPU model to boot (arm64: cortex-a57 or max)').hideHelp();
}

interface RawBuild {
  config: Flavour;
  acceptVersion?: string;
  kernel?: string;
  buildDir?: string;
  arch?: ArchName;
}

function toBuild(o: RawBuild): BuildOptions {
  return { config: o.config, acceptVersion: o.acceptVersion, kernel: o.kernel, buildDir: o.buildDir, arch: o.arch };
}

function isGuestArch(a: TestArch | undefined): a is ArchName | undefined {
  return a === undefined || (ARCHES as readonly string[]).includes(a);
}

export function createProgram(actions: Actions, io: Io, setResult: (code: number) => void): Command {
  const program = new Command('mmview');
  program
    .description('Build, boot and test Linux with mmview (address-space views) under QEMU.')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      outputError: (str, write) => write(`mmview: ${str.replace(/^error: /, '')}`),
    })
    .showSuggestionAfterError(true);

  buildOptions(
    vmOptions(program.command('run'))
      .usage('[options] [-- command...]')
      .description('build everything and boot it: runs the live-patching demo mmpatch-demo (then a shell on a terminal), or the given command')
      .argument('[command...]', 'command to run in the guest, after --')
      .addOption(new Option('--add <path>', 'copy a host file or folder into the guest at /<basename> (repeatable)').argParser(collect))
      .addOption(new Option('--timeout <minutes>', 'kill the VM after this long').argParser(positiveNumber('--timeout')))
      .addOption(cpuOption())
      .passThroughOptions(),
  ).action(async (command: string[], o: RawBuild & RawVm & { add?: string[]; timeout?: number; cpu?: string }) => {
    const add = o.add ?? [];
    // Input errors before anything is installed, built or booted.
    checkRunInputs({ arch: o.arch, add, cpu: o.cpu, kernel: o.kernel }, machine());
    setResult(await actions.run({ ...toBuild(o), add, timeout: o.timeout, command, ...(o.cpu !== undefined ? { cpu: o.cpu } : {}), ...toVm(o) }));
  });

  buildOptions(
    vmOptions(program.command('test'))
      .description('run the host unit tests, then every guest test program; scan for kernel splats; print a summary')
      .addOption(new Option('--timeout <minutes>', 'kill the VM after this long').argParser(positiveNumber('--timeout')).default(60))
      .addOption(new Option('--filter <substring>', 'only guest test programs whose name contains this'))
      .addOption(new Option('--test-timeout <seconds>', 'per test program timeout').argParser(positiveNumber('--test-timeout')).default(900).hideHelp())
      .addOption(new Option('--guest-tests <dir>', 'use the executables in this folder as test programs').hideHelp())
      .addOption(new Option('--no-unit', 'skip the host unit tests').hideHelp())
      .addOption(new Option('--no-soak', 'leave out the short soak inside views that follows the x86_64 tests'))
      .addOption(cpuOption()),
    new Option(
      '--arch <arch>',
      'only this architecture (default: x86_64, then arm64 under TCG on cortex-a57 and on max, then the i386 build check); ' +
        'i386: only the 32-bit build check',
    ).choices(TEST_ARCH_CHOICES),
  ).action(async (o: Omit<RawBuild, 'arch'> & RawVm & { arch?: TestArch; timeout: number; filter?: string; testTimeout: number; guestTests?: string; unit: boolean; soak?: boolean; cpu?: string }) => {
    const testArch = o.arch;
    const arch = isGuestArch(testArch) ? testArch : undefined;
    // Input errors before anything is installed, built or booted.
    checkTestInputs(
      { arch, testArch, kernel: o.kernel, guestTests: o.guestTests, cpu: o.cpu, filter: o.filter, soak: o.soak !== false },
      makePaths(undefined, o.buildDir),
      machine(),
    );
    setResult(
      await actions.test({
        ...toBuild({ ...o, arch }),
        ...(testArch !== undefined ? { testArch } : {}),
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
        timeout: o.timeout,
        filter: o.filter,
        testTimeout: o.testTimeout,
        guestTests: o.guestTests,
        unit: o.unit,
        soak: o.soak !== false,
        ...toVm(o),
      }),
    );
  });

  buildOptions(program.command('build').description('build the kernel only (and install its headers)')).action(async (o: RawBuild) => {
    setResult(await actions.build(toBuild(o)));
  });

  program
    .command('tree')
    .description('create build/linux: pinned source, root commit, patches/series applied with git am')
    .option('--force', 'recreate build/linux (refused if it has work not exported to patches/)', false)
    .addOption(new Option('--accept-version <version>', 'use this Debian linux-source version instead of the pinned one'))
    .addOption(new Option('--build-dir <dir>').hideHelp())
    .action(async (o: { force: boolean; acceptVersion?: string; buildDir?: string }) => {
      setResult(await actions.tree({ force: o.force, acceptVersion: o.acceptVersion, buildDir: o.buildDir }));
    });

  program
    .command('export')
    .description('write the commits of build/linux to patches/ (git format-patch) and patches/series')
    .addOption(new Option('--build-dir <dir>').hideHelp())
    .action(async (o: { buildDir?: string }) => {
      setResult(await actions.export({ buildDir: o.buildDir }));
    });

  program
    .command('bench')
    .description(
      'build the vanilla and the mmview release kernels, run the benchmarks on both in QEMU, ' +
        'write build/bench/results.json and report.html, print the ratios against the targets',
    )
    .addOption(new Option('--reps <n>', 'repetitions per case (default: each program\'s own, see README)').argParser(positiveInteger('--reps')))
    .addOption(new Option('--rounds <n>', 'boots per kernel, alternating between the kernels (samples are pooled)').argParser(positiveInteger('--rounds')).default(3))
    .option('--tiny', 'tiny sizes, 2 repetitions, 1 round: checks the whole pipeline in a minute', false)
    .addOption(new Option('--filter <substring>', 'only benchmark programs whose name contains this'))
    .option('--skip-build', 'use the kernels built before (--build-only or an earlier run); build only the benchmark programs', false)
    .option('--build-only', 'build both kernels and stop', false)
    .addOption(new Option('--timeout <minutes>', 'kill a VM after this long').argParser(positiveNumber('--timeout')).default(45))
    .addOption(new Option('--smp <n>', 'vCPUs of both VMs').argParser(positiveInteger('--smp')).default(2))
    .addOption(new Option('--memory <size>', 'memory of both VMs').argParser(memorySize).default('3G'))
    .addOption(new Option('--accept-version <version>', 'build this Debian linux-source version instead of the pinned one'))
    .addOption(new Option('--from <results.json>', 're-render the table and report from earlier results').hideHelp())
    .addOption(new Option('--build-dir <dir>', 'build folder (default: build/)').hideHelp())
    .addOption(new Option('--arch <arch>', 'guest architecture').choices(ARCHES).hideHelp())
    .action(
      async (o: {
        reps?: number;
        rounds: number;
        tiny: boolean;
        filter?: string;
        skipBuild: boolean;
        buildOnly: boolean;
        timeout: number;
        smp: number;
        memory: string;
        acceptVersion?: string;
        from?: string;
        buildDir?: string;
        arch?: ArchName;
      }) => {
        if (o.skipBuild && o.buildOnly) throw new UserError('--skip-build and --build-only exclude each other');
        if (o.from === undefined) checkBenchInputs(o.filter, makePaths(undefined, o.buildDir));
        setResult(
          await actions.bench({
            reps: o.reps,
            rounds: o.tiny && o.rounds === 3 ? 1 : o.rounds,
            tiny: o.tiny,
            filter: o.filter,
            skipBuild: o.skipBuild,
            buildOnly: o.buildOnly,
            timeout: o.timeout,
            smp: o.smp,
            memory: o.memory,
            acceptVersion: o.acceptVersion,
            from: o.from,
            buildDir: o.buildDir,
            arch: o.arch,
          }),
        );
      },
    );

  buildOptions(
    program
      .command('soak')
      .description(
        "soak the kernel with every process inside views: stress-ng's vm stressors (with --verify), then trinity's vm syscall group; " +
          'fails on any kernel splat, hang, verify failure or process outside views',
      )
      .addOption(new Option('--minutes <n>', 'soak time, half stress-ng, half trinity').argParser(positiveNumber('--minutes')).default(3))
      .addOption(new Option('--seed <n>', "trinity's random seed (default: a random one, printed)").argParser(positiveInteger('--seed')))
      .addOption(new Option('--timeout <minutes>', 'kill the VM after this long (default: the soak time plus its grace periods and 15 minutes)').argParser(positiveNumber('--timeout')))
      .addOption(new Option('--memory <size>', 'guest memory').argParser(memorySize).default('2G'))
      .addOption(new Option('--smp <n>', 'guest vCPUs').argParser(positiveInteger('--smp')).default(4))
      .addOption(new Option('--no-views', 'control run: the same soak with every process outside views, to tell what views add'))
      .addOption(cpuOption()),
  ).action(async (o: RawBuild & { minutes: number; seed?: number; timeout?: number; memory: string; smp: number; cpu?: string; views: boolean }) => {
    checkCpu(o.cpu, [o.arch ?? hostArch(machine())]);
    setResult(
      await actions.soak({
        ...toBuild(o),
        minutes: o.minutes,
        memory: o.memory,
        smp: o.smp,
        views: o.views,
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
      }),
    );
  });

  program
    .command('unit')
    .description('run the host unit tests of the tooling')
    .action(async () => {
      setResult(await actions.unit());
    });

  return program;
}

/** Parse arguments and run; returns the process exit code. Errors become one `mmview: ...` line. */
export async function runCli(argv: readonly string[], actions: Actions, io: Io = defaultIo): Promise<number> {
  let code = 0;
  const program = createProgram(actions, io, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; parse errors were already printed as one line.
      return e.exitCode;
    }
    if (e instanceof UserError) {
      io.err(`mmview: ${errorLine(e)}\n`);
      return 1;
    }
    io.err(`mmview: internal error: ${errorLine(e)}${process.env.MMVIEW_DEBUG ? `\n${(e as Error).stack ?? ''}` : ' (set MMVIEW_DEBUG=1 for details)'}\n`);
    return 1;
  }
}

async function main(): Promise<void> {
  // ./mmview starts node in the repo (so `--import tsx` resolves); go back to the caller's folder.
  const callerCwd = process.env.MMVIEW_CALLER_CWD;
  if (callerCwd) process.chdir(callerCwd);
  const commands = await import('./pipeline/commands.ts');
  const { cmdBench } = await import('./pipeline/bench.ts');
  const { cmdSoak } = await import('./pipeline/soak.ts');
  const actions: Actions = {
    run: commands.cmdRun,
    test: commands.cmdTest,
    build: commands.cmdBuild,
    tree: commands.cmdTree,
    export: commands.cmdExport,
    unit: commands.cmdUnit,
    bench: cmdBench,
    soak: cmdSoak,
  };
  process.exitCode = await runCli(process.argv.slice(2), actions);
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  await main();
}
