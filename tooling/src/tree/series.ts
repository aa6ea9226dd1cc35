import { existsSync, readFileSync } from 'node:fs';

/** Patch file names listed in patches/series (blank lines and `#` comments ignored). */
export function parseSeries(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l.length > 0);
}

export function formatSeries(names: readonly string[]): string {
  const header = '# Patch series applied on top of the pinned kernel source (kernel/pin.json), in order.\n' +
    '# Written by ./mmview export; ./mmview tree applies it with git am.\n';
  return header + names.map((n) => `${n}\n`).join('');
}

export function readSeries(file: string): string[] {
  return existsSync(file) ? parseSeries(readFileSync(file, 'utf8')) : [];
}
