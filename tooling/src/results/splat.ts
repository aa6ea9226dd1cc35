/**
 * Kernel splat detection over a console log (pure). A splat is any report the
 * kernel prints when something went wrong: BUG/WARNING/Oops, KASAN, lockdep,
 * RCU stalls, lockups, hung tasks, kmemleak leaks, refcount and page state
 * errors, panics, and stack traces; on x86_64 and arm64 consoles.
 */

export interface Splat {
  /** What matched first, e.g. "WARNING" or "kmemleak". */
  kind: string;
  /** 0-based index of the first matching line. */
  line: number;
  /** The matching line itself. */
  text: string;
  /** ~15 lines around it. */
  context: string[];
}

interface Pattern {
  kind: string;
  re: RegExp;
  /** Printed outside printk (e.g. `cat /sys/kernel/debug/kmemleak`): no timestamp. */
  raw?: boolean;
}

const PATTERNS: readonly Pattern[] = [
  { kind: 'KASAN', re: /^BUG: KASAN: / },
  { kind: 'soft lockup', re: /^(watchdog: )?BUG: soft lockup - CPU#/ },
  { kind: 'bad page state', re: /^BUG: Bad page state/ },
  { kind: 'BUG', re: /^(\w+: )?BUG: / },
  { kind: 'BUG', re: /^kernel BUG at / },
  { kind: 'lockdep', re: /^WARNING: (possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage)/ },
  { kind: 'WARNING', re: /^WARNING: / },
  { kind: 'KASAN', re: /^KASAN: / },
  { kind: 'lockdep', re: /possible circular locking dependency|possible recursive locking detected|inconsistent lock state|suspicious RCU usage/ },
  { kind: 'RCU stall', re: /^rcu: INFO: rcu_|self-detected stall on CPU|detected stalls on CPUs/ },
  { kind: 'hung task', re: /^INFO: task .* blocked for more than \d+ seconds/ },
  { kind: 'lockdep', re: /^INFO: / },
  { kind: 'soft lockup', re: /soft lockup - CPU#/ },
  { kind: 'hard lockup', re: /hard LOCKUP/ },
  { kind: 'hung task', re: /blocked for more than \d+ seconds/ },
  // kmemleak: the objects that /init lists (`cat /sys/kernel/debug/kmemleak`
  // after its final scans), not the "N new suspected memory leaks" line of a
  // scan: that line also counts objects in flight, which the next scan
  // finds referenced again (seen once on arm64: three suspects, none left by
  // the cat that followed). A leak stays unreferenced and is listed.
  { kind: 'kmemleak', re: /^unreferenced object 0x[0-9a-f]+ /, raw: true },
  { kind: 'refcount', re: /^refcount_t: / },
  { kind: 'bad page state', re: /Bad page state in process/ },
  { kind: 'list corruption', re: /^list_(add|del) corruption/ },
  { kind: 'UBSAN', re: /^UBSAN: / },
  { kind: 'panic', re: /^Kernel panic - not syncing/ },
  { kind: 'Oops', re: /^Oops(: | - |\b)/ },
  { kind: 'general protection fault', re: /^general protection fault/ },
  // arm64: faults and traps in the kernel, and asynchronous (SError) aborts.
  { kind: 'Oops', re: /^Unable to handle kernel / },
  { kind: 'Oops', re: /^Internal error: / },
  { kind: 'Oops', re: /^Unexpected kernel (BRK|single-step) exception/ },
  { kind: 'SError', re: /^SError Interrupt on CPU/ },
  { kind: 'Oops', re: /^Bad mode in / },
  // pgd_ERROR() .. pmd_ERROR(), pte_ERROR(): an entry that is no page table where one was expected (it is then cleared).
  { kind: 'bad page table', re: /^\S+:\d+: bad (pgd|p4d|pud|pmd|pte)\b/ },
];

/**
 * A stack trace alone is a splat unless an expected report printed it (fault
 * injection, OOM kill, sysrq). x86 prints "Call Trace:", arm64 "Call trace:".
 */
const TRACE = /^Call [Tt]race:/;
const BENIGN_TRACE_HEADER = /FAULT_INJECTION: forcing a failure|invoked oom-killer|page allocation failure|sysrq: /;
const BENIGN_LOOKBACK = 40;

const TIMESTAMP = /\[\s*\d+\.\d+\]\s?/g;
const HAS_TIMESTAMP = /^\[\s*\d+\.\d+\]/;

/** Where kernel messages start in a console line: after each printk timestamp (or the line start). */
function messageStarts(line: string, requireTimestamp: boolean): string[] {
  const starts: string[] = [];
  if (!requireTimestamp) starts.push(line.trimStart());
  for (const m of line.matchAll(TIMESTAMP)) starts.push(line.slice((m.index ?? 0) + m[0].length));
  return starts;
}

function classify(line: string, requireTimestamp: boolean): { kind: string; weak: boolean } | undefined {
  const starts = messageStarts(line, requireTimestamp);
  const rawStart = line.replace(TIMESTAMP, '').trimStart();
  for (const p of PATTERNS) {
    const candidates = p.raw ? [rawStart, ...starts] : starts;
    if (candidates.some((s) => p.re.test(s))) return { kind: p.kind, weak: false };
  }
  if (starts.some((s) => TRACE.test(s))) return { kind: 'Call Trace', weak: true };
  return undefined;
}

export interface SplatOptions {
  /** Lines shown before / after the first line of a splat. */
  before?: number;
  after?: number;
  /** Hits within this many lines of the previous hit belong to the same splat. */
  mergeWindow?: number;
}

/** Find the splats in a console log. */
export function findSplats(lines: readonly string[], opts: SplatOptions = {}): Splat[] {
  const before = opts.before ?? 2;
  const after = opts.after ?? 13;
  const mergeWindow = opts.mergeWindow ?? 40;
  // With printk timestamps, only timestamped text is a kernel message: user output like
  // "WARNING: ..." from a test program is not a splat.
  const requireTimestamp = lines.some((l) => HAS_TIMESTAMP.test(l));
  const splats: Splat[] = [];
  let lastHit = -Infinity;
  let lastBenign = -Infinity;
  lines.forEach((line, i) => {
    if (BENIGN_TRACE_HEADER.test(line)) lastBenign = i;
    const hit = classify(line, requireTimestamp);
    if (!hit) return;
    if (i - lastHit <= mergeWindow && splats.length > 0) {
      lastHit = i;
      return;
    }
    if (hit.weak && i - lastBenign <= BENIGN_LOOKBACK) return;
    lastHit = i;
    splats.push({
      kind: hit.kind,
      line: i,
      text: line,
      context: lines.slice(Math.max(0, i - before), Math.min(lines.length, i + after + 1)),
    });
  });
  return splats;
}

export function formatSplat(s: Splat, logName: string): string {
  return [`kernel splat (${s.kind}) at ${logName}:${s.line + 1}:`, ...s.context.map((l) => `  | ${l}`)].join('\n');
}
