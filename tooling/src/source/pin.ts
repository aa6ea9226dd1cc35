import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.ts';

/** kernel/pin.json: the exact Debian kernel source package the patches apply to. */
export interface Pin {
  package: string;
  version: string;
  suite: string;
  debFile: string;
  debSha256: string;
  /** Path of the source tarball inside the .deb (e.g. usr/src/linux-source-6.12.tar.xz). */
  tarball: string;
  tarballSha256: string;
  /** Top-level folder inside the tarball. */
  topDir: string;
}

const FIELDS = ['package', 'version', 'suite', 'debFile', 'debSha256', 'tarball', 'tarballSha256', 'topDir'] as const;

export function parsePin(text: string, where = 'kernel/pin.json'): Pin {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${where}: invalid JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null) throw new UserError(`${where}: expected a JSON object`);
  const obj = data as Record<string, unknown>;
  const out: Partial<Record<(typeof FIELDS)[number], string>> = {};
  for (const f of FIELDS) {
    const v = obj[f];
    if (typeof v !== 'string' || v.length === 0) throw new UserError(`${where}: field "${f}" must be a non-empty string`);
    out[f] = v;
  }
  for (const f of ['debSha256', 'tarballSha256'] as const) {
    if (!/^[0-9a-f]{64}$/.test(out[f] ?? '')) throw new UserError(`${where}: field "${f}" is not a sha256 hex digest`);
  }
  return out as Pin;
}

export function readPin(file: string): Pin {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`cannot read ${file}`);
  }
  return parsePin(text, file);
}

/** Upstream kernel version of a Debian version: "6.12.117-1~deb12u1" -> "6.12.117". */
export function upstreamVersion(debVersion: string): string {
  const noEpoch = debVersion.replace(/^\d+:/, '');
  const dash = noEpoch.lastIndexOf('-');
  return dash > 0 ? noEpoch.slice(0, dash) : noEpoch;
}

/** File name apt-get download gives a package version (epoch colon is URL-encoded). */
export function debFileName(pkg: string, version: string, arch = 'all'): string {
  return `${pkg}_${version.replace(/:/g, '%3a')}_${arch}.deb`;
}

/** Parse `apt-cache madison` output into versions, in apt's order (newest first). */
export function parseMadison(out: string): string[] {
  const versions: string[] = [];
  for (const line of out.split('\n')) {
    const cols = line.split('|').map((c) => c.trim());
    const v = cols[1];
    if (cols.length >= 3 && v && !versions.includes(v)) versions.push(v);
  }
  return versions;
}
