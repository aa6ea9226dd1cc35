import { spawn, type SpawnOptions } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { UserError } from './errors.ts';

export interface CaptureResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/**
 * The error of a command that could not start. spawn() reports a missing
 * working folder with the same ENOENT as a missing command: tell them apart.
 */
export function spawnError(e: NodeJS.ErrnoException, cmd: string, cwd: string | undefined): Error {
  if (cwd !== undefined && !existsSync(cwd)) return new UserError(`folder not found: ${cwd} (needed to run ${cmd})`);
  if (cwd !== undefined && !statSync(cwd).isDirectory()) return new UserError(`not a folder: ${cwd} (needed to run ${cmd})`);
  if (e.code === 'ENOENT') return new UserError(`command not found: ${cmd}`);
  return e;
}

/** Run a command to completion and capture its output. Never throws for a non-zero exit. */
export function capture(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<CaptureResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e: NodeJS.ErrnoException) => reject(spawnError(e, cmd, opts.cwd)));
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like capture(), but a non-zero exit becomes a one-line UserError naming `what`. */
export async function check(what: string, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await capture(cmd, args, opts);
  if (r.code !== 0) {
    const detail = lastLine(r.stderr) || lastLine(r.stdout);
    throw new UserError(`${what} failed (exit ${r.code})${detail ? `: ${detail}` : ''}`);
  }
  return r.stdout;
}

export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? '';
}

export interface LoggedRun {
  cmd: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Appended to (created if needed); every output line goes there. */
  logFile: string;
  /** Called for each complete line of stdout and stderr. */
  onLine?: (line: string) => void;
}

export interface LoggedResult {
  code: number;
  signal: NodeJS.Signals | null;
}

/** Run a command with its combined output going to a log file (and, line by line, to onLine). */
export function runLogged(run: LoggedRun): Promise<LoggedResult> {
  mkdirSync(dirname(run.logFile), { recursive: true });
  const log = createWriteStream(run.logFile, { flags: 'a' });
  log.write(`$ ${[run.cmd, ...run.args].join(' ')}${run.cwd ? `   (in ${run.cwd})` : ''}\n`);
  return new Promise((resolve, reject) => {
    const opts: SpawnOptions = { cwd: run.cwd, env: run.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] };
    const child = spawn(run.cmd, run.args, opts);
    const splitters = [lineSplitter(run.onLine), lineSplitter(run.onLine)];
    child.stdout?.on('data', (d: Buffer) => {
      log.write(d);
      splitters[0]?.push(d);
    });
    child.stderr?.on('data', (d: Buffer) => {
      log.write(d);
      splitters[1]?.push(d);
    });
    let failed = false;
    child.on('error', (e: NodeJS.ErrnoException) => {
      failed = true;
      log.end(`[could not start: ${e.message}]\n`);
      reject(spawnError(e, run.cmd, run.cwd));
    });
    child.on('close', (code, signal) => {
      // A command that could not start still closes; the error above said it all.
      if (failed) return;
      for (const s of splitters) s.flush();
      log.end(`[exit ${code ?? signal}]\n`, () => resolve({ code: code ?? 128, signal }));
    });
  });
}

export interface LineSplitter {
  push(chunk: Buffer | string): void;
  flush(): void;
}

/** Turns a byte stream into lines (\n or \r\n terminated) for a callback. */
export function lineSplitter(onLine?: (line: string) => void): LineSplitter {
  let rest = '';
  return {
    push(chunk) {
      if (!onLine) return;
      rest += chunk.toString();
      let i: number;
      while ((i = rest.indexOf('\n')) >= 0) {
        onLine(rest.slice(0, i).replace(/\r+$/, ''));
        rest = rest.slice(i + 1);
      }
    },
    flush() {
      if (onLine && rest.length > 0) onLine(rest.replace(/\r+$/, ''));
      rest = '';
    },
  };
}

/** Find an executable in PATH (like `command -v`). */
export function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** The last `n` lines of a file (for failure reports). */
export function tailFile(file: string, n: number, filter?: (line: string) => boolean): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  let lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (filter) {
    const picked = lines.filter(filter);
    if (picked.length > 0) lines = picked;
  }
  return lines.slice(-n);
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
