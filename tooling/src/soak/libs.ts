/**
 * Dynamically linked Debian programs for the busybox guest: download the
 * programs' packages (`apt-get download`, also for a foreign arch, see
 * host/foreign.ts) and the shared libraries they need, found from the
 * DT_NEEDED entries (readelf -d), one package dependency level at a time.
 * Only the libraries in the closure of the programs' sonames go into the
 * image, each at the path it has in its package (/lib/<triplet>/...,
 * /usr/lib/<triplet>/...), plus the program interpreter (the dynamic loader).
 */
import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import { foreignPackage } from '../host/foreign.ts';
import { capture, check } from '../util/exec.ts';
import { UserError } from '../util/errors.ts';

/** `readelf -d`: the DT_NEEDED sonames, in order (pure). */
export function parseNeeded(readelfDynamic: string): string[] {
  return [...readelfDynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1] as string);
}

/** `readelf -l`: the PT_INTERP path, undefined for a static program (pure). */
export function parseInterpreter(readelfProgramHeaders: string): string | undefined {
  return /\[Requesting program interpreter: ([^\]]+)\]/.exec(readelfProgramHeaders)?.[1];
}

/**
 * `apt-cache depends <pkg>`: the packages of its Depends and Pre-Depends, the
 * first of each group of alternatives, without arch qualifiers; virtual
 * packages (<name>) are left out (pure).
 */
export function parseDepends(aptCacheDepends: string): string[] {
  const out: string[] = [];
  let inAlternatives = false;
  for (const line of aptCacheDepends.split('\n')) {
    const m = /^\s*(\|)?(Pre)?Depends:\s+(\S+)/.exec(line);
    if (!m) {
      if (/^\s*\|?\w[\w-]*:/.test(line)) inAlternatives = false;
      continue;
    }
    const name = (m[3] as string).replace(/:[a-z0-9]+$/, '');
    // "|Depends: a" is followed by the alternatives of a: take a only.
    if (!inAlternatives && !name.startsWith('<') && !out.includes(name)) out.push(name);
    inAlternatives = m[1] === '|';
  }
  return out;
}

/** A shared library found in an extracted package. */
export interface LibFile {
  soname: string;
  pkg: string;
  /** Its path in the guest (as in the package), e.g. /lib/x86_64-linux-gnu/libc.so.6. */
  guestPath: string;
  /** The regular file on the host (symlinks in the package resolved). */
  hostFile: string;
  needed: readonly string[];
}

/** A needed soname and the package whose program or library needs it. */
export interface Need {
  soname: string;
  by: string;
}

export interface Closure {
  libs: LibFile[];
  /** Sonames no known package provides, with the package that needs each. */
  missing: Need[];
}

/** The libraries needed by `roots`, transitively, from an index of sonames (pure). */
export function libraryClosure(roots: readonly Need[], index: ReadonlyMap<string, LibFile>): Closure {
  const libs: LibFile[] = [];
  const missing: Need[] = [];
  const seen = new Set<string>();
  const queue = [...roots];
  for (let need = queue.shift(); need !== undefined; need = queue.shift()) {
    if (seen.has(need.soname)) continue;
    seen.add(need.soname);
    const lib = index.get(need.soname);
    if (!lib) {
      missing.push(need);
      continue;
    }
    libs.push(lib);
    queue.push(...lib.needed.map((soname) => ({ soname, by: lib.pkg })));
  }
  return { libs, missing };
}

/** Library folders of a Debian package for one multiarch triplet. */
export function libraryDirs(triplet: string): string[] {
  return [`lib/${triplet}`, `usr/lib/${triplet}`, 'lib', 'usr/lib', 'lib64'];
}

async function readelf(flag: string, file: string): Promise<string> {
  return check(`readelf ${flag} ${basename(file)}`, 'readelf', [flag, '-W', file]);
}

/** The .so files of an extracted package's library folders, by file name (symlinks included, folders not). */
function scanLibraries(root: string, pkg: string, triplet: string): Array<Omit<LibFile, 'needed'>> {
  const out: Array<Omit<LibFile, 'needed'>> = [];
  for (const dir of libraryDirs(triplet)) {
    const abs = join(root, dir);
    if (!existsSync(abs) || !lstatSync(abs).isDirectory()) continue;
    for (const name of readdirSync(abs).sort()) {
      if (!/\.so(\.|$)/.test(name)) continue;
      const file = join(abs, name);
      let real: string;
      try {
        real = realpathSync(file);
      } catch {
        continue; // a dangling link (into another package)
      }
      if (!lstatSync(real).isFile()) continue;
      out.push({ soname: name, pkg, guestPath: `/${dir}/${name}`, hostFile: real });
    }
  }
  return out;
}

export interface ProgramRequest {
  pkg: string;
  /** Paths inside the package, e.g. usr/bin/stress-ng. */
  binaries: readonly string[];
}

export interface ResolvedProgram {
  pkg: string;
  version: string;
  /** Guest path -> host file. */
  binaries: Array<{ guestPath: string; hostFile: string }>;
}

export interface Bundle {
  programs: ResolvedProgram[];
  libs: LibFile[];
  /** The program interpreter: its guest path and the host file of the loader. */
  interpreter: { guestPath: string; hostFile: string } | undefined;
  /** Every package extracted, with its version. */
  packages: Array<{ pkg: string; version: string }>;
}

export interface BundleRequest {
  programs: readonly ProgramRequest[];
  /** Debian architecture (amd64, arm64). */
  debianArch: string;
  /** Multiarch triplet of the libraries (x86_64-linux-gnu, aarch64-linux-gnu). */
  triplet: string;
  /** build/cache/debs: packages are downloaded and extracted below <cacheDir>/<arch>/. */
  cacheDir: string;
  logFile: string;
  /** Package dependency levels to follow at most. */
  maxRounds?: number;
}

/**
 * Download the programs' packages and the libraries they need. Packages are
 * fetched level by level: first the programs', then the Depends of every
 * package that provided something, until every needed soname is found.
 */
export async function bundlePrograms(req: BundleRequest): Promise<Bundle> {
  const roots = new Map<string, string>(); // pkg -> extracted root
  const versions = new Map<string, string>();
  const index = new Map<string, LibFile>();
  const fetch = async (pkg: string): Promise<void> => {
    if (roots.has(pkg)) return;
    const p = await foreignPackage(pkg, req.debianArch, req.cacheDir, req.logFile);
    roots.set(pkg, p.root);
    versions.set(pkg, p.version);
    for (const lib of scanLibraries(p.root, pkg, req.triplet)) {
      if (index.has(lib.soname)) continue;
      index.set(lib.soname, { ...lib, needed: parseNeeded(await readelf('-d', lib.hostFile)) });
    }
  };

  const programs: ResolvedProgram[] = [];
  const rootNeeded: Need[] = [];
  let interpreterPath: string | undefined;
  for (const prog of req.programs) {
    await fetch(prog.pkg);
    const root = roots.get(prog.pkg) as string;
    const binaries = [];
    for (const bin of prog.binaries) {
      const hostFile = join(root, bin);
      if (!existsSync(hostFile)) throw new UserError(`${prog.pkg}:${req.debianArch} ${versions.get(prog.pkg)} has no ${bin}`);
      rootNeeded.push(...parseNeeded(await readelf('-d', hostFile)).map((soname) => ({ soname, by: prog.pkg })));
      interpreterPath ??= parseInterpreter(await readelf('-l', hostFile));
      binaries.push({ guestPath: `/${bin}`, hostFile });
    }
    programs.push({ pkg: prog.pkg, version: versions.get(prog.pkg) ?? '?', binaries });
  }
  if (interpreterPath) rootNeeded.push({ soname: basename(interpreterPath), by: req.programs[0]?.pkg ?? '?' });

  const dependsOf = new Map<string, string[]>();
  const depends = async (pkg: string): Promise<string[]> => {
    let d = dependsOf.get(pkg);
    if (!d) {
      const r = await capture('apt-cache', ['depends', `${pkg}:${req.debianArch}`]);
      d = r.code === 0 ? parseDepends(r.stdout) : [];
      dependsOf.set(pkg, d);
    }
    return d;
  };

  // A missing soname is looked for in the Depends of the package that needs it.
  const tried = new Set<string>();
  let closure = libraryClosure(rootNeeded, index);
  for (let round = 0; closure.missing.length > 0 && round < (req.maxRounds ?? 8); round++) {
    const next = new Set<string>();
    for (const by of new Set(closure.missing.map((m) => m.by))) for (const d of await depends(by)) if (!roots.has(d) && !tried.has(d)) next.add(d);
    if (next.size === 0) break;
    for (const pkg of [...next].sort()) {
      tried.add(pkg);
      try {
        await fetch(pkg);
      } catch (e) {
        // Architecture: all packages (data, no libraries) and virtual ones have no <pkg>:<arch>.
        if (!(e instanceof UserError)) throw e;
      }
    }
    closure = libraryClosure(rootNeeded, index);
  }
  if (closure.missing.length > 0) {
    const what = closure.missing.map((m) => `${m.soname} (needed by ${m.by})`).join(', ');
    throw new UserError(`no ${req.debianArch} package found for ${what}; see ${req.logFile}`);
  }

  let interpreter: Bundle['interpreter'];
  if (interpreterPath) {
    const loader = index.get(basename(interpreterPath));
    if (!loader) throw new UserError(`the dynamic loader ${interpreterPath} is in no package`);
    interpreter = { guestPath: interpreterPath, hostFile: loader.hostFile };
  }
  return {
    programs,
    libs: closure.libs,
    interpreter,
    packages: [...versions].map(([pkg, version]) => ({ pkg, version })),
  };
}
