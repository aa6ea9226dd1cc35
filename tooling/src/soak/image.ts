/**
 * What the soak adds to the guest image: Debian's stress-ng and trinity with
 * the shared libraries they need (soak/libs.ts), the LD_PRELOAD object that
 * puts every process inside views, the runner and its settings.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageEntry } from '../image/filelist.ts';
import type { Context } from '../pipeline/context.ts';
import { logFile } from '../paths.ts';
import { runLogged } from '../util/exec.ts';
import { failWithLog, resetLog } from '../build/logs.ts';
import { UserError } from '../util/errors.ts';
import { info } from '../util/log.ts';
import { resetOnHeaderChange } from '../build/headerstamp.ts';
import { bundlePrograms, type Bundle } from './libs.ts';
import { SOAK_ENV_FILE, SOAK_PRELOAD, SOAK_PROGRAMS, SOAK_RUNNER, renderSoakEnv, type SoakSettings } from './config.ts';

/** Multiarch triplet of a Debian architecture's libraries. */
const TRIPLETS: Record<string, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

export interface SoakFiles {
  entries: ImageEntry[];
  bundle: Bundle;
  /** Bytes of the programs and libraries added. */
  bytes: number;
}

/** The image entries of a bundle, the preload, the runner and the settings file (pure). */
export function soakEntries(bundle: Bundle, built: { preload: string; runner: string; env: string }): ImageEntry[] {
  const entries: ImageEntry[] = [];
  for (const p of bundle.programs) for (const b of p.binaries) entries.push({ type: 'file', path: b.guestPath, source: b.hostFile, mode: 0o755 });
  for (const lib of bundle.libs) entries.push({ type: 'file', path: lib.guestPath, source: lib.hostFile, mode: 0o755 });
  if (bundle.interpreter) {
    const loader = bundle.libs.find((l) => l.hostFile === bundle.interpreter?.hostFile);
    if (loader && loader.guestPath !== bundle.interpreter.guestPath) {
      entries.push({ type: 'slink', path: bundle.interpreter.guestPath, target: loader.guestPath });
    } else if (!loader) {
      entries.push({ type: 'file', path: bundle.interpreter.guestPath, source: bundle.interpreter.hostFile, mode: 0o755 });
    }
  }
  entries.push({ type: 'file', path: SOAK_PRELOAD, source: built.preload, mode: 0o755 });
  entries.push({ type: 'file', path: SOAK_RUNNER, source: built.runner, mode: 0o755 });
  entries.push({ type: 'file', path: SOAK_ENV_FILE, source: built.env, mode: 0o644 });
  return entries;
}

/** Build the preload object and the runner (tests/guest/soak) into <guest dir>/soak. */
async function buildSoakHelpers(ctx: Context, headers: string | undefined): Promise<{ preload: string; runner: string; dir: string }> {
  const src = join(ctx.paths.repo, 'tests', 'guest', 'soak');
  // The soak is prepared before the guest userland: reset the guest folder for
  // changed (or unrecorded) headers now, or the userland build would do it
  // afterwards and delete what the soak just put there.
  if (headers) resetOnHeaderChange(ctx.guest, headers);
  const out = join(ctx.guest, 'soak');
  mkdirSync(out, { recursive: true });
  const log = resetLog(ctx.log('userland-soak'));
  const vars = [`O=${out}`, ...(headers ? [`KHDR_INCLUDES=-I${join(headers, 'include')}`] : []), ...ctx.userMakeVars];
  const r = await runLogged({ cmd: 'make', args: ['-C', src, ...vars], logFile: log });
  if (r.code !== 0) failWithLog('building tests/guest/soak (the soak preload)', log);
  const preload = join(out, 'inview-preload.so');
  const runner = join(out, 'run-soak');
  if (!existsSync(preload) || !existsSync(runner)) throw new UserError(`tests/guest/soak built, but ${out} lacks inview-preload.so or run-soak`);
  return { preload, runner, dir: out };
}

/** Everything the soak needs in the image of ctx's arch, with these settings. */
export async function prepareSoakFiles(ctx: Context, settings: SoakSettings, headers: string | undefined): Promise<SoakFiles> {
  return ctx.timer.run('soak-files', async () => {
    const debianArch = ctx.target.arch.debianArch;
    const triplet = TRIPLETS[debianArch];
    if (!triplet) throw new UserError(`the soak does not know the library folder of Debian's ${debianArch}`);
    const helpers = await buildSoakHelpers(ctx, headers);
    const bundle = await bundlePrograms({
      programs: SOAK_PROGRAMS,
      debianArch,
      triplet,
      cacheDir: join(ctx.paths.cache, 'debs'),
      logFile: logFile(ctx.paths, 'packages'),
    });
    const env = join(helpers.dir, 'soak.env');
    writeFileSync(env, renderSoakEnv(settings));
    const entries = soakEntries(bundle, { preload: helpers.preload, runner: helpers.runner, env });
    const bytes = entries.reduce((n, e) => n + (e.type === 'file' ? statSync(e.source).size : 0), 0);
    const versions = bundle.programs.map((p) => `${p.pkg} ${p.version}`).join(', ');
    info('soak', `${versions}:${debianArch} with ${bundle.libs.length} shared libraries (${(bytes / 1024 / 1024).toFixed(1)} MiB)`);
    return { entries, bundle, bytes };
  });
}
