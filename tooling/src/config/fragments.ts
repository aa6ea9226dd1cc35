import { createHash } from 'node:crypto';

/**
 * Kconfig fragments and .config files: `CONFIG_X=value` lines and
 * `# CONFIG_X is not set` (same as `CONFIG_X=n`). Values are kept as written
 * (`y`, `m`, `n`, numbers, quoted strings).
 */
export type ConfigValues = Map<string, string>;

const SET = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const UNSET = /^#\s*(CONFIG_[A-Za-z0-9_]+) is not set\s*$/;

export function parseConfig(text: string): ConfigValues {
  const values: ConfigValues = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const unset = UNSET.exec(line);
    if (unset?.[1]) {
      values.set(unset[1], 'n');
      continue;
    }
    const set = SET.exec(line);
    if (set?.[1] !== undefined && set[2] !== undefined) values.set(set[1], set[2].trim());
  }
  return values;
}

export interface Fragment {
  name: string;
  text: string;
}

export interface Override {
  option: string;
  from: string;
  to: string;
  fragment: string;
}

export interface MergedFragments {
  /** What the fragments ask for, later fragments winning (as merge_config.sh does). */
  wanted: ConfigValues;
  overrides: Override[];
}

export function mergeFragments(fragments: readonly Fragment[]): MergedFragments {
  const wanted: ConfigValues = new Map();
  const overrides: Override[] = [];
  for (const f of fragments) {
    for (const [option, value] of parseConfig(f.text)) {
      const prev = wanted.get(option);
      if (prev !== undefined && prev !== value) overrides.push({ option, from: prev, to: value, fragment: f.name });
      wanted.set(option, value);
    }
  }
  return { wanted, overrides };
}

export interface Mismatch {
  option: string;
  wanted: string;
  /** Value in the final .config; undefined when the option is absent (unset or unknown to Kconfig). */
  got: string | undefined;
}

function normalize(v: string | undefined): string {
  if (v === undefined || v === 'n') return 'n';
  return v;
}

/** Every option the fragments set must hold in the final .config (pure). */
export function verifyConfig(wanted: ConfigValues, final: ConfigValues): Mismatch[] {
  const out: Mismatch[] = [];
  for (const [option, value] of wanted) {
    const got = final.get(option);
    if (normalize(value) !== normalize(got)) out.push({ option, wanted: value, got });
  }
  return out;
}

export function formatMismatches(ms: readonly Mismatch[]): string {
  return ms.map((m) => `${m.option}=${m.wanted} (got ${m.got === undefined ? 'unset' : m.got})`).join(', ');
}

/** Fingerprint of everything the configuration depends on. */
export function configHash(parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(String(p.length));
    h.update(':');
    h.update(p);
  }
  return h.digest('hex');
}

/**
 * What a configuration that did not take the fragments' options means for
 * the build (pure). The test configuration exists to switch on what the
 * guest tests need (debug options, the features they exercise): a test
 * kernel without one of them would pass tests that never ran, so it is an
 * error. Other flavours (release, the benchmarks' kernels) warn.
 */
export function judgeMismatches(flavour: string, name: string, ms: readonly Mismatch[]): { error?: string; warning?: string } {
  if (ms.length === 0) return {};
  const what = `${ms.length} option(s) from kernel/config did not take effect in ${name}: ${formatMismatches(ms)}`;
  if (flavour === 'test') {
    return {
      error: `${what}; the tests rely on them: fix the fragment (a dependency that is not set, or an option that does not exist on this arch) and build again`,
    };
  }
  return { warning: what };
}
