import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { lineSplitter } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { boundToParent, findSetpriv, killChildOnSignals } from './lifetime.ts';

export interface ConsoleRun {
  qemu: string;
  args: readonly string[];
  logFile: string;
  /** Kill QEMU after this long (undefined: no limit). */
  timeoutMs?: number;
  onLine: (line: string) => void;
  /** Once this returns true the guest is done; QEMU gets `graceMs` to power off before it is killed. */
  finished: () => boolean;
  graceMs?: number;
}

export interface ConsoleResult {
  lines: string[];
  exitCode: number | null;
  timedOut: boolean;
  /** QEMU had to be killed after the guest finished (poweroff did not stop it). */
  killedAfterFinish: boolean;
}

/** Boot QEMU without stdin, stream its console line by line into a log and a callback. */
export function runConsole(run: ConsoleRun): Promise<ConsoleResult> {
  mkdirSync(dirname(run.logFile), { recursive: true });
  const log = createWriteStream(run.logFile);
  const lines: string[] = [];
  let timedOut = false;
  let killedAfterFinish = false;
  let graceTimer: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    // QEMU ends with the tool: killed with it (parent death) or on its signals.
    const bound = boundToParent(run.qemu, run.args, findSetpriv());
    const child = spawn(bound.cmd, bound.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const unhook = killChildOnSignals(child);
    const stop = (): void => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    };
    const onLine = (line: string): void => {
      lines.push(line);
      run.onLine(line);
      if (!graceTimer && run.finished()) {
        graceTimer = setTimeout(() => {
          killedAfterFinish = true;
          stop();
        }, run.graceMs ?? 20_000);
      }
    };
    const out = lineSplitter(onLine);
    const err = lineSplitter(onLine);
    child.stdout.on('data', (d: Buffer) => {
      log.write(d);
      out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      log.write(d);
      err.push(d);
    });
    const timer =
      run.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, run.timeoutMs)
        : undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      unhook();
      reject(e.code === 'ENOENT' ? new UserError(`${run.qemu} not found`) : e);
    });
    child.on('close', (code) => {
      unhook();
      if (timer) clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      out.flush();
      err.flush();
      log.end(() => resolve({ lines, exitCode: code, timedOut, killedAfterFinish }));
    });
  });
}

/** Boot QEMU on the user's terminal (stdio inherited); resolves with QEMU's exit code. */
export function runInteractive(qemu: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const bound = boundToParent(qemu, args, findSetpriv());
    const child = spawn(bound.cmd, bound.args, { stdio: 'inherit' });
    // The terminal's Ctrl-C belongs to the guest (QEMU runs the tty raw); don't let it kill us.
    const ignore = (): void => undefined;
    process.on('SIGINT', ignore);
    const unhook = killChildOnSignals(child, ['SIGINT']);
    child.on('error', (e: NodeJS.ErrnoException) => {
      process.off('SIGINT', ignore);
      unhook();
      reject(e.code === 'ENOENT' ? new UserError(`${qemu} not found`) : e);
    });
    child.on('close', (code) => {
      process.off('SIGINT', ignore);
      unhook();
      resolve(code ?? 1);
    });
  });
}
