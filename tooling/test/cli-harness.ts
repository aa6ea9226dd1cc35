/**
 * The command line with recording actions: what each command would be
 * called with, and what it printed (shared by the CLI tests).
 */
import { runCli, type Actions, type Io } from '../src/cli.ts';

export interface Call {
  cmd: string;
  opts: unknown;
}

export function cliHarness(result = 0, fail?: Error) {
  const calls: Call[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t) };
  const rec = (cmd: string) => async (opts?: unknown) => {
    calls.push({ cmd, opts });
    if (fail) throw fail;
    return result;
  };
  const actions: Actions = {
    run: rec('run'),
    test: rec('test'),
    build: rec('build'),
    tree: rec('tree'),
    export: rec('export'),
    unit: rec('unit'),
    bench: rec('bench'),
    soak: rec('soak'),
  };
  return { calls, out, err, run: (argv: string[]) => runCli(argv, actions, io) };
}
