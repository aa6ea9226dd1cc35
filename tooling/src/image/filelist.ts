import { posix } from 'node:path';
import { UserError } from '../util/errors.ts';

/** One entry of the initramfs, in gen_init_cpio's terms. */
export type ImageEntry =
  | { type: 'dir'; path: string; mode: number }
  | { type: 'file'; path: string; source: string; mode: number }
  | { type: 'slink'; path: string; target: string }
  | { type: 'nod'; path: string; mode: number; dev: 'c' | 'b'; major: number; minor: number };

function checkName(name: string, what: string): void {
  if (/\s/.test(name)) throw new UserError(`cannot put ${what} "${name}" into the initramfs: whitespace in names is not supported`);
}

/** Add the parent folders entries need and drop duplicates; the first entry for a path wins (pure). */
export function withParents(entries: readonly ImageEntry[]): ImageEntry[] {
  const out: ImageEntry[] = [];
  const seen = new Set<string>();
  const add = (e: ImageEntry): void => {
    if (seen.has(e.path)) return;
    seen.add(e.path);
    out.push(e);
  };
  for (const e of entries) {
    const parts = e.path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) add({ type: 'dir', path: `/${parts.slice(0, i).join('/')}`, mode: 0o755 });
    add(e);
  }
  return out;
}

/** Render a gen_init_cpio file list (pure). Paths must be absolute. */
export function renderFileList(entries: readonly ImageEntry[]): string {
  const mode = (m: number): string => (m & 0o7777).toString(8).padStart(4, '0');
  return withParents(entries)
    .map((e) => {
      if (!posix.isAbsolute(e.path)) throw new Error(`image path must be absolute: ${e.path}`);
      checkName(e.path, 'path');
      switch (e.type) {
        case 'dir':
          return `dir ${e.path} ${mode(e.mode)} 0 0`;
        case 'file':
          checkName(e.source, 'file');
          return `file ${e.path} ${e.source} ${mode(e.mode)} 0 0`;
        case 'slink':
          checkName(e.target, 'symlink target');
          return `slink ${e.path} ${e.target} 0777 0 0`;
        case 'nod':
          return `nod ${e.path} ${mode(e.mode)} 0 0 ${e.dev} ${e.major} ${e.minor}`;
      }
    })
    .map((l) => `${l}\n`)
    .join('');
}
