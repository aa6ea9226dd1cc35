/**
 * The short soak that `./mmview test` runs on x86_64 after the tests (rows
 * soak/stress-ng and soak/trinity; --no-soak leaves it out): fixed durations
 * and a fixed trinity seed, so that CI runs the same soak every time.
 */
import type { ArchName } from '../arch.ts';
import type { Context } from '../pipeline/context.ts';
import type { ImageEntry } from '../image/filelist.ts';
import { SOAK_TOOLS, defaultSettings, soakRunName, type SoakSettings, type SoakTool } from './config.ts';
import { prepareSoakFiles } from './image.ts';

/** Seconds of stress-ng and of trinity in `test`. */
export const TEST_SOAK_SECONDS = 60;
/** Trinity's seed in `test` (issue 14). */
export const TEST_SOAK_SEED = 14;
/** The arches whose `test` includes the soak (arm64 runs under TCG only: too slow for CI). */
export const TEST_SOAK_ARCHES: readonly ArchName[] = ['x86_64'];

/** The soak tools `test` runs on this arch with these options (pure). */
export function testSoakTools(arch: ArchName, opts: { filter?: string; guestTests?: string; soak?: boolean }): SoakTool[] {
  if (opts.soak !== true || opts.guestTests !== undefined || !TEST_SOAK_ARCHES.includes(arch)) return [];
  return SOAK_TOOLS.filter((t) => opts.filter === undefined || soakRunName(t).includes(opts.filter));
}

export function testSoakSettings(arch: ArchName, tools: readonly SoakTool[]): SoakSettings {
  return { ...defaultSettings(arch, TEST_SOAK_SECONDS, TEST_SOAK_SECONDS, TEST_SOAK_SEED), tools };
}

/** The image entries and run names of the soak of `test` (none when it does not run). */
export async function prepareTestSoak(
  ctx: Context,
  headers: string | undefined,
  opts: { filter?: string; guestTests?: string; soak?: boolean },
): Promise<{ entries: ImageEntry[]; runs: string[] }> {
  const tools = testSoakTools(ctx.target.arch.name, opts);
  if (tools.length === 0) return { entries: [], runs: [] };
  const files = await prepareSoakFiles(ctx, testSoakSettings(ctx.target.arch.name, tools), headers);
  return { entries: files.entries, runs: tools.map(soakRunName) };
}
