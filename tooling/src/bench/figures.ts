/**
 * The figures of the benchmark report: each is a measured case divided by a
 * baseline from the same run (another case, on this or the vanilla kernel, or
 * the RSS), with the targets of issue 5 (pure).
 */
import { caseKey, type BenchCase, type BenchDoc, type Params } from './schema.ts';
import { exact, ratioOf, summarizeSamples, type Ratio, type Stats } from './stats.ts';

export type KernelKey = 'vanilla' | 'mmview';
export const KERNEL_KEYS: readonly KernelKey[] = ['vanilla', 'mmview'];

export interface CaseRef {
  kernel: KernelKey;
  program: string;
  id: string;
  params: Params;
}

export type Baseline = { kind: 'case'; ref: CaseRef } | { kind: 'rss'; mib: number };

export type GroupKey = 'migrate' | 'create' | 'memory' | 'fault' | 'layout' | 'noview' | 'patch';

export const GROUPS: readonly { key: GroupKey; title: string }[] = [
  { key: 'migrate', title: 'Migrate round trip (mmview kernel)' },
  { key: 'create', title: 'mmview_create vs fork (mmview kernel)' },
  { key: 'memory', title: 'Memory added per view (mmview kernel)' },
  { key: 'fault', title: 'First-touch anonymous faults with views, vs vanilla' },
  { key: 'layout', title: 'mmap+munmap and mprotect with views, vs vanilla' },
  { key: 'noview', title: 'Processes without views, mmview kernel vs vanilla' },
  { key: 'patch', title: 'P7: tail latency of a server while it is live-patched (mmview kernel)' },
];

export interface FigureDef {
  key: string;
  group: GroupKey;
  label: string;
  num: CaseRef;
  den: Baseline;
  /** The ratio must be <= target. */
  target?: number;
  /** How the ratio is shown: "0.42×" or "0.19 %". */
  format: 'times' | 'percent';
  note?: string;
}

export const PROGRAMS = {
  migrate: 'mmview_bench_migrate',
  create: 'mmview_bench_create',
  fault: 'mmview_bench_fault',
  layout: 'mmview_bench_layout',
  noview: 'mmview_bench_noview',
  patch: 'mmview_bench_patch',
} as const;

/** Creating a view ÷ fork+exit+wait at 1 GiB (issue 16: views that cost what they use). */
export const LAZY_CREATE_TARGET = 0.05;
/** Page tables of a fresh view ÷ RSS (issue 16). */
export const LAZY_PAGETABLES_TARGET = 0.0001;

/** P7: p99 while patching ÷ steady state, with views (issue 15). */
export const PATCH_TARGET = 1.05;

export const RSS_MIB = [1, 64, 1024] as const;
export const VIEWS = [0, 1, 8, 64] as const;

/** Allowed cost of a process without views relative to vanilla. */
export const NOVIEW_TARGET = 1.01;

const ref = (kernel: KernelKey, program: string, id: string, params: Params = {}): CaseRef => ({ kernel, program, id, params });
const against = (r: CaseRef): Baseline => ({ kind: 'case', ref: r });

function migrateFigures(): FigureDef[] {
  const p = PROGRAMS.migrate;
  const rt = ref('mmview', p, 'migrate_rt');
  const f = (key: string, label: string, den: string, target?: number): FigureDef => ({
    key: `migrate.${key}`,
    group: 'migrate',
    label,
    num: rt,
    den: against(ref('mmview', p, den)),
    target,
    format: 'times',
  });
  return [
    f('process', 'migrate round trip ÷ process ping-pong (pipes)', 'pipe_process_rt', 0.5),
    f('thread_futex', 'migrate round trip ÷ thread ping-pong (futex)', 'futex_thread_rt'),
    f('thread_pipe', 'migrate round trip ÷ thread ping-pong (pipes)', 'pipe_thread_rt'),
    f('getpid', 'migrate round trip ÷ getpid()', 'getpid'),
  ];
}

function sizeLabel(mib: number): string {
  return mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

function createFigures(): FigureDef[] {
  const p = PROGRAMS.create;
  return RSS_MIB.flatMap((mib): FigureDef[] => {
    const fork = against(ref('mmview', p, 'fork_exit_wait', { rss_mib: mib }));
    return [
      {
        key: `create.create_delete.${mib}`,
        group: 'create',
        label: `create+delete ÷ fork+exit+wait, ${sizeLabel(mib)} RSS`,
        num: ref('mmview', p, 'create_delete', { rss_mib: mib }),
        den: fork,
        target: mib === 1024 ? LAZY_CREATE_TARGET : undefined,
        format: 'times',
      },
      {
        key: `create.create.${mib}`,
        group: 'create',
        label: `create alone ÷ fork+exit+wait, ${sizeLabel(mib)} RSS`,
        num: ref('mmview', p, 'create', { rss_mib: mib }),
        den: fork,
        target: mib === 1024 ? LAZY_CREATE_TARGET : undefined,
        format: 'times',
      },
      {
        key: `create.view_read.${mib}`,
        group: 'create',
        label: `a fresh view reads every page ÷ the base's first touch, ${sizeLabel(mib)}`,
        num: ref('mmview', p, 'view_read', { rss_mib: mib }),
        den: against(ref('mmview', p, 'first_touch', { rss_mib: mib })),
        target: mib >= 64 ? 0.25 : undefined,
        format: 'times',
        note: 'per page; the view fills its page tables on demand, a page table per fault (fault-around)',
      },
      {
        key: `create.stall.${mib}`,
        group: 'create',
        label: `longest stall of a thread that maps and faults in a loop: across mmview_create ÷ across fork, ${sizeLabel(mib)}`,
        num: ref('mmview', p, 'stall_create', { rss_mib: mib }),
        den: against(ref('mmview', p, 'stall_fork', { rss_mib: mib })),
        target: mib === 1024 ? LAZY_CREATE_TARGET : undefined,
        format: 'times',
      },
    ];
  });
}

function memoryFigures(): FigureDef[] {
  const p = PROGRAMS.create;
  return RSS_MIB.flatMap((mib): FigureDef[] => [
    {
      key: `memory.pagetables.${mib}`,
      group: 'memory',
      label: `page tables per view ÷ RSS, ${sizeLabel(mib)}`,
      num: ref('mmview', p, 'pagetables_per_view', { rss_mib: mib }),
      den: { kind: 'rss', mib },
      target: mib >= 64 ? LAZY_PAGETABLES_TARGET : undefined,
      format: 'percent',
      note: mib < 64 ? 'fixed per-view page tables (upper levels, the program itself) dominate a small RSS: no target' : undefined,
    },
    {
      key: `memory.slab.${mib}`,
      group: 'memory',
      label: `slab per view ÷ RSS, ${sizeLabel(mib)}`,
      num: ref('mmview', p, 'slab_per_view', { rss_mib: mib }),
      den: { kind: 'rss', mib },
      format: 'percent',
    },
    {
      key: `memory.vs_fork.${mib}`,
      group: 'memory',
      label: `page tables per view ÷ per forked child, ${sizeLabel(mib)}`,
      num: ref('mmview', p, 'pagetables_per_view', { rss_mib: mib }),
      den: against(ref('mmview', p, 'pagetables_per_fork', { rss_mib: mib })),
      format: 'times',
    },
  ]);
}

function faultFigures(): FigureDef[] {
  const p = PROGRAMS.fault;
  const vanilla = against(ref('vanilla', p, 'first_touch', { views: 0, in: 'base' }));
  const out: FigureDef[] = [];
  for (const where of ['base', 'view'] as const) {
    for (const views of VIEWS) {
      if (where === 'view' && views === 0) continue;
      out.push({
        key: `fault.${where}.${views}`,
        group: 'fault',
        label: `first touch, ${views} view${views === 1 ? '' : 's'}, in ${where === 'base' ? 'the base view' : 'a non-base view'} ÷ vanilla`,
        num: ref('mmview', p, 'first_touch', { views, in: where }),
        den: vanilla,
        // Issue 5 set 1.2 for the base and 2 for a view; issue 16 keeps 1.2 for both.
        target: views === 8 ? 1.2 : undefined,
        format: 'times',
      });
    }
  }
  return out;
}

function layoutFigures(): FigureDef[] {
  const p = PROGRAMS.layout;
  return VIEWS.flatMap((views): FigureDef[] => [
    {
      key: `layout.mmap_munmap.${views}`,
      group: 'layout',
      label: `mmap+munmap, ${views} view${views === 1 ? '' : 's'} ÷ vanilla`,
      num: ref('mmview', p, 'mmap_munmap', { views }),
      den: against(ref('vanilla', p, 'mmap_munmap', { views: 0 })),
      target: views === 0 ? NOVIEW_TARGET : 1 + 0.5 * views,
      format: 'times',
    },
    {
      key: `layout.mprotect.${views}`,
      group: 'layout',
      label: `mprotect, ${views} view${views === 1 ? '' : 's'} ÷ vanilla`,
      num: ref('mmview', p, 'mprotect', { views }),
      den: against(ref('vanilla', p, 'mprotect', { views: 0 })),
      format: 'times',
    },
  ]);
}

/** A layout change with 1 view and 10,000 other mappings ÷ with 10 (issue 16). */
function mappingsFigure(): FigureDef {
  const p = PROGRAMS.layout;
  return {
    key: 'layout.mmap_munmap.others',
    group: 'layout',
    label: 'mmap+munmap, 1 view, 10,000 other mappings ÷ 10 other mappings',
    num: ref('mmview', p, 'mmap_munmap', { views: 1, others: 10000 }),
    den: against(ref('mmview', p, 'mmap_munmap', { views: 1, others: 10 })),
    target: 1.1,
    format: 'times',
  };
}

function noviewFigures(): FigureDef[] {
  const p = PROGRAMS.noview;
  const f = (key: string, label: string, num: CaseRef, target?: number, note?: string, den?: CaseRef): FigureDef => ({
    key: `noview.${key}`,
    group: 'noview',
    label,
    num,
    den: against(den ?? { ...num, kernel: 'vanilla' }),
    target,
    format: 'times',
    note,
  });
  const alone = { others: 'none' };
  const busy = { others: 'views' };
  const busyNote = 'while another process holds a view (the kernel\'s views-in-use paths are on)';
  const forkNote = 'measured by mmview_bench_create before it creates any view';
  return [
    f('first_touch', 'no-view process: first-touch fault ÷ vanilla', ref('mmview', p, 'first_touch', alone), NOVIEW_TARGET),
    f('mmap_munmap', 'no-view process: mmap+munmap ÷ vanilla', ref('mmview', p, 'mmap_munmap', alone), NOVIEW_TARGET),
    f('fork_exit_wait', 'no-view process: fork+exit+wait, 16 MiB ÷ vanilla', ref('mmview', p, 'fork_exit_wait', { ...alone, rss_mib: 16 }), NOVIEW_TARGET),
    ...([64, 1024] as const).map((mib) =>
      f(
        `fork_exit_wait.${mib}`,
        `no-view process: fork+exit+wait, ${sizeLabel(mib)} ÷ vanilla`,
        ref('mmview', PROGRAMS.create, 'fork_exit_wait', { rss_mib: mib }),
        NOVIEW_TARGET,
        forkNote,
      ),
    ),
    f('first_touch.busy', 'no views here, views elsewhere: first touch ÷ vanilla', ref('mmview', p, 'first_touch', busy), NOVIEW_TARGET, busyNote, ref('vanilla', p, 'first_touch', alone)),
    f('mmap_munmap.busy', 'no views here, views elsewhere: mmap+munmap ÷ vanilla', ref('mmview', p, 'mmap_munmap', busy), NOVIEW_TARGET, busyNote, ref('vanilla', p, 'mmap_munmap', alone)),
    f(
      'fork_exit_wait.busy',
      'no views here, views elsewhere: fork, 16 MiB ÷ vanilla',
      ref('mmview', p, 'fork_exit_wait', { ...busy, rss_mib: 16 }),
      NOVIEW_TARGET,
      busyNote,
      ref('vanilla', p, 'fork_exit_wait', { ...alone, rss_mib: 16 }),
    ),
    f('pipe_process_rt', 'process ping-pong (context switches) ÷ vanilla', ref('mmview', PROGRAMS.migrate, 'pipe_process_rt')),
    f('getpid', 'getpid() (control: no mmview code) ÷ vanilla', ref('mmview', p, 'getpid', alone), undefined, 'shows the noise between the boots of the two kernels'),
  ];
}

function patchFigures(): FigureDef[] {
  const p = PROGRAMS.patch;
  const f = (method: 'view' | 'global', label: string, target?: number, note?: string): FigureDef => ({
    key: `patch.p99.${method}`,
    group: 'patch',
    label,
    num: ref('mmview', p, 'p99_during', { method }),
    den: against(ref('mmview', p, 'p99_steady', { method })),
    target,
    format: 'times',
    note,
  });
  return [
    f('view', 'P7: p99 latency while patching ÷ steady state, with views', PATCH_TARGET),
    f('global', 'P7: the same with global quiescence (for comparison)', undefined, 'every thread waits at a barrier while the text is patched in place'),
  ];
}

/** Every figure of the report, in report order. */
export function figureDefs(): FigureDef[] {
  return [...migrateFigures(), ...createFigures(), ...memoryFigures(), ...faultFigures(), ...layoutFigures(), mappingsFigure(), ...noviewFigures(), ...patchFigures()];
}

/** The documents of one kernel's run, by program. */
export type KernelDocs = Readonly<Partial<Record<KernelKey, readonly BenchDoc[]>>>;

/**
 * Look up cases by kernel, program, id and params. A case measured in
 * several documents (one per boot) has their samples pooled; it is n/a or
 * failed only when no document measured it.
 */
export class CaseIndex {
  private readonly cases = new Map<string, BenchCase>();

  constructor(docs: KernelDocs) {
    for (const kernel of KERNEL_KEYS) {
      for (const doc of docs[kernel] ?? []) {
        for (const c of doc.cases) {
          const key = CaseIndex.key(kernel, doc.program, c.id, c.params);
          const prev = this.cases.get(key);
          if (!prev || (prev.kind !== 'measured' && c.kind === 'measured')) this.cases.set(key, c);
          else if (prev.kind === 'measured' && c.kind === 'measured') this.cases.set(key, { ...prev, samples: [...prev.samples, ...c.samples] });
        }
      }
    }
  }

  static key(kernel: KernelKey, program: string, id: string, params: Params): string {
    return `${kernel}/${program}/${caseKey(id, params)}`;
  }

  get(r: CaseRef): BenchCase | undefined {
    return this.cases.get(CaseIndex.key(r.kernel, r.program, r.id, r.params));
  }
}

export type Verdict = 'pass' | 'miss' | 'info' | 'n/a';

export interface Side {
  stats: Stats;
  unit: 'ns' | 'bytes';
}

export interface FigureResult {
  def: FigureDef;
  num?: Side;
  den?: Side;
  ratio?: Ratio;
  verdict: Verdict;
  /** pass/miss only: the whole spread interval is on the verdict's side of the target. */
  clear: boolean;
  /** Why there is no ratio (n/a). */
  reason?: string;
}

function describeRef(r: CaseRef): string {
  return `${r.kernel} ${r.program} ${caseKey(r.id, r.params)}`;
}

function side(index: CaseIndex, r: CaseRef): Side | string {
  const c = index.get(r);
  if (!c) return `${describeRef(r)}: not measured`;
  if (c.kind === 'na') return `${describeRef(r)}: not applicable (${c.reason})`;
  if (c.kind === 'error') return `${describeRef(r)}: failed (${c.error})`;
  return { stats: summarizeSamples(c.samples), unit: c.unit };
}

/** Verdict of a ratio against a target (pure). */
export function judge(ratio: Ratio, target: number | undefined): { verdict: Verdict; clear: boolean } {
  if (target === undefined) return { verdict: 'info', clear: true };
  if (ratio.value <= target) return { verdict: 'pass', clear: ratio.hi <= target };
  return { verdict: 'miss', clear: ratio.lo > target };
}

export function computeFigure(def: FigureDef, index: CaseIndex): FigureResult {
  const num = side(index, def.num);
  if (typeof num === 'string') return { def, verdict: 'n/a', clear: false, reason: num };
  let den: Side | string;
  if (def.den.kind === 'rss') den = { stats: exact(def.den.mib * 1024 * 1024), unit: 'bytes' };
  else den = side(index, def.den.ref);
  if (typeof den === 'string') return { def, num, verdict: 'n/a', clear: false, reason: den };
  const ratio = ratioOf(num.stats, den.stats);
  if (!ratio) return { def, num, den, verdict: 'n/a', clear: false, reason: 'the baseline is zero' };
  return { def, num, den, ratio, ...judge(ratio, def.target) };
}

export function computeFigures(docs: KernelDocs, defs: readonly FigureDef[] = figureDefs()): FigureResult[] {
  const index = new CaseIndex(docs);
  return defs.map((d) => computeFigure(d, index));
}

/** "0.42×", "0.19 %" (pure). */
export function formatRatio(value: number, format: FigureDef['format']): string {
  if (format === 'percent') {
    const pct = value * 100;
    return `${pct !== 0 && Math.abs(pct) < 0.01 ? pct.toExponential(1) : pct.toPrecision(3)} %`;
  }
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
  return `${value.toFixed(digits)}×`;
}

/** "≤ 0.5×", "≤ 0.25 %" (pure). */
export function formatTarget(def: FigureDef): string {
  if (def.target === undefined) return '';
  return `≤ ${def.format === 'percent' ? `${+(def.target * 100).toPrecision(3)} %` : `${+def.target.toPrecision(4)}×`}`;
}

/** "pass", "miss", "pass (within spread)", ... (pure). */
export function verdictText(f: Pick<FigureResult, 'verdict' | 'clear'>): string {
  if (f.verdict === 'pass' || f.verdict === 'miss') return f.clear ? f.verdict : `${f.verdict} (within spread)`;
  return f.verdict;
}
