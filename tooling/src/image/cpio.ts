import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { check } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';
import { renderFileList, type ImageEntry } from './filelist.ts';

/**
 * The kernel's usr/gen_init_cpio: the one the kernel build made, else compiled
 * from the work tree's usr/gen_init_cpio.c into build/host-tools.
 */
export async function genInitCpio(candidates: { built?: string; source?: string; outDir: string }): Promise<string> {
  if (candidates.built && existsSync(candidates.built)) return candidates.built;
  const src = candidates.source;
  if (!src || !existsSync(src)) throw new UserError('cannot find gen_init_cpio: build the kernel or create build/linux first');
  const out = join(candidates.outDir, 'gen_init_cpio');
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(candidates.outDir, { recursive: true });
    await check('compiling gen_init_cpio', 'gcc', ['-O2', '-o', out, src]);
  }
  return out;
}

/** The file entries whose host file is missing (gen_init_cpio would report them only by line number). */
export function missingSources(entries: readonly ImageEntry[]): { path: string; source: string }[] {
  return entries.flatMap((e) => (e.type === 'file' && !existsSync(e.source) ? [{ path: e.path, source: e.source }] : []));
}

/** gen_init_cpio <list> | gzip > out. Returns the image size in bytes. */
export async function writeInitramfs(entries: readonly ImageEntry[], tool: string, out: string): Promise<number> {
  const missing = missingSources(entries);
  if (missing.length > 0) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    throw new UserError(`cannot build ${out}: ${missing[0]?.path} would come from ${missing[0]?.source}, which does not exist${more}`);
  }
  mkdirSync(dirname(out), { recursive: true });
  const list = `${out}.list`;
  writeFileSync(list, renderFileList(entries));
  const child = spawn(tool, [list], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  const tmp = `${out}.partial`;
  const [, code] = await Promise.all([pipeline(child.stdout, createGzip({ level: 6 }), createWriteStream(tmp)), exited]);
  if (code !== 0) throw new UserError(`gen_init_cpio failed: ${errorLines(err) || `exit ${code}`} (list: ${list})`);
  renameSync(tmp, out);
  return statSync(out).size;
}

/** gen_init_cpio's error text in one line: it prints the problem, then " line N" on a line of its own. */
function errorLines(err: string): string {
  return err
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-4)
    .join('; ');
}
