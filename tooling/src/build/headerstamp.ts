import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Name of the stamp file kept in a userland output folder. */
export const HEADER_STAMP = '.kernel-headers.sha256';

/** sha256 over the installed uapi headers (paths and contents, sorted; pure apart from reading files). */
export function hashHeaders(headersDir: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      if (statSync(path).isDirectory()) walk(path, relPath);
      else hash.update(relPath).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  if (existsSync(headersDir)) walk(headersDir, '');
  return hash.digest('hex');
}

/**
 * The guest programs' Makefiles do not track the kernel headers, so a program
 * built against other headers (other system call numbers, say) would count as
 * up to date. Empty the output folder when the headers differ from the ones of
 * its last build; returns whether it did.
 */
export function resetOnHeaderChange(outDir: string, headersDir: string): boolean {
  const stamp = join(outDir, HEADER_STAMP);
  const current = hashHeaders(headersDir);
  const previous = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : undefined;
  const reset = previous !== current && existsSync(outDir) && readdirSync(outDir).length > 0;
  if (reset) rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(stamp, `${current}\n`);
  return reset;
}
