import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { checkBenchRun } from '../src/bench/check.ts';
import { collectBenchRuns } from '../src/bench/collect.ts';
import { parseCpuModel, parseQemuVersion } from '../src/bench/environment.ts';
import { documentLines, extractBenchDoc } from '../src/bench/extract.ts';
import {
  computeFigures,
  figureDefs,
  formatRatio,
  formatTarget,
  judge,
  verdictText,
  PROGRAMS,
  type FigureDef,
  type KernelDocs,
} from '../src/bench/figures.ts';
import { formatBytes, formatNs, renderReport, standing } from '../src/bench/report.ts';
import { docsOf, figureRecord, RESULTS_SCHEMA, type BenchResults, type BootRun, type KernelInfo } from '../src/bench/results.ts';
import { caseKey, validateBenchDoc, type BenchDoc } from '../src/bench/schema.ts';
import { exact, quantile, ratioOf, relativeIqr, summarizeSamples } from '../src/bench/stats.ts';
import { barChart, escapeXml, lineChart, niceTicks, wantsLog } from '../src/bench/svg.ts';
import { countTargets, renderRatioTable } from '../src/bench/table.ts';
import { renderInit } from '../src/image/init.ts';
import { benchArgs, bootOrder } from '../src/pipeline/bench.ts';
import { vanillaMismatches } from '../src/pipeline/vanilla.ts';
import { evaluateBenchProgram } from '../src/results/bench.ts';
import { kernelCmdline } from '../src/vm/qemu.ts';
import { archSpec } from '../src/arch.ts';

// ---- fixtures: documents in the form the guest programs print ----

type RawCase = Record<string, unknown>;

function measured(id: string, params: Record<string, string | number>, samples: number[], unit = 'ns'): RawCase {
  return { id, what: `${id} op`, unit, params, inner: 10, samples };
}

function na(id: string, params: Record<string, string | number>, reason = 'the kernel has no mmview system calls (ENOSYS)'): RawCase {
  return { id, what: `${id} op`, unit: 'ns', params, na: reason };
}

function rawDoc(program: string, cases: RawCase[], o: { mmview?: boolean; size?: string; errors?: number } = {}): Record<string, unknown> {
  return {
    schema: 'mmview-bench/1',
    program,
    summary: 'a benchmark',
    size: o.size ?? 'default',
    reps: 5,
    system: {
      release: '6.12.117',
      version: '#1 SMP',
      machine: 'x86_64',
      cpus: 2,
      mem_total_kib: 3000000,
      page_size: 4096,
      thp: 'always [madvise] never',
      mmview: o.mmview ?? true,
      mmview_probe: 'syscall',
      pinned_cpu: 0,
    },
    cases,
    errors: o.errors ?? 0,
  };
}

function valid(raw: unknown): BenchDoc {
  const v = validateBenchDoc(raw);
  if (!v.ok) throw new Error(v.errors.join('; '));
  return v.doc;
}

/** A printed document as console lines, with progress and kernel lines around and inside. */
function consoleLines(raw: unknown): string[] {
  const text = JSON.stringify(raw, null, 1).split('\n');
  return ['# mmview_bench_x: starting', '# case 1 ...', ...text.slice(0, 3), '[   12.345678] random: crng init done', ...text.slice(3)];
}

const run = (name: string, lines: string[], status: number | null = 0, timedOut = false) => ({ name, lines, status: status ?? undefined, timedOut });

// ---- statistics ----

test('quantile interpolates between order statistics (type 7)', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
  assert.equal(quantile([5], 0.75), 5);
  assert.equal(quantile([1, 3], 0), 1);
  assert.equal(quantile([1, 3], 1), 3);
  assert.throws(() => quantile([], 0.5));
});

test('summarizeSamples: median, quartiles, extremes; order does not matter', () => {
  const s = summarizeSamples([9, 1, 5, 3, 7]);
  assert.deepEqual(s, { n: 5, median: 5, q1: 3, q3: 7, min: 1, max: 9 });
  assert.equal(relativeIqr(s), 0.8);
  assert.deepEqual(summarizeSamples([2, 4]), { n: 2, median: 3, q1: 2.5, q3: 3.5, min: 2, max: 4 });
});

test('ratioOf: ratio of medians with a conservative interval', () => {
  const r = ratioOf(summarizeSamples([8, 10, 12]), summarizeSamples([18, 20, 22]));
  assert.ok(r);
  assert.equal(r.value, 0.5);
  assert.equal(r.lo, 9 / 21);
  assert.equal(r.hi, 11 / 19);
  assert.deepEqual(ratioOf(exact(5), exact(10)), { value: 0.5, lo: 0.5, hi: 0.5 });
  assert.equal(ratioOf(exact(5), exact(0)), undefined);
});

// ---- the JSON schema ----

test('validateBenchDoc accepts what the guest prints', () => {
  const doc = valid(
    rawDoc('mmview_bench_fault', [
      measured('first_touch', { views: 0, in: 'base' }, [100, 110]),
      na('first_touch', { views: 1, in: 'base' }),
      { id: 'first_touch', what: 'x', unit: 'ns', params: { views: 8, in: 'base' }, error: 'mmview_create: ENOMEM' },
      { ...measured('slabinfo_per_view', { rss_mib: 1 }, [-512, 0, 4096], 'bytes'), details: { top: [] } },
    ], { errors: 1 }),
  );
  assert.equal(doc.program, 'mmview_bench_fault');
  assert.equal(doc.system.memTotalKib, 3000000);
  assert.deepEqual(doc.cases.map((c) => c.kind), ['measured', 'na', 'error', 'measured']);
  const first = doc.cases[0];
  assert.ok(first?.kind === 'measured');
  assert.deepEqual(first.samples, [100, 110]);
  assert.equal(first.inner, 10);
});

test('validateBenchDoc rejects malformed documents with reasons', () => {
  const bad = (raw: unknown): string[] => {
    const v = validateBenchDoc(raw);
    assert.equal(v.ok, false);
    return v.ok ? [] : v.errors;
  };
  assert.match(bad([1, 2]).join(), /not a JSON object/);
  assert.match(bad({ ...rawDoc('p', [measured('a', {}, [1])]), schema: 'mmview-bench/0' }).join(), /schema/);
  assert.match(bad(rawDoc('p', [])).join(), /cases: expected a non-empty array/);
  assert.match(bad(rawDoc('p', [{ ...measured('a', {}, [1]), na: 'x' }])).join(), /exactly one of samples, na, error/);
  assert.match(bad(rawDoc('p', [measured('a', {}, [])])).join(), /non-empty array/);
  assert.match(bad(rawDoc('p', [measured('a', {}, [1, null as unknown as number])])).join(), /samples\[1\]: expected a finite number/);
  assert.match(bad(rawDoc('p', [measured('a', {}, [0])])).join(), /time must be > 0/);
  assert.match(bad(rawDoc('p', [measured('a', {}, [1], 'parsecs')])).join(), /not ns or bytes/);
  assert.match(bad(rawDoc('p', [measured('a', { v: 1 }, [1]), measured('a', { v: 1 }, [2])])).join(), /appears twice/);
  assert.match(bad(rawDoc('p', [measured('a', {}, [1])], { errors: 2 })).join(), /errors: says 2, but 0/);
  assert.match(bad(rawDoc('p', [measured('a', { x: [1] as unknown as number }, [1])])).join(), /params\.x/);
  const noSystem = rawDoc('p', [measured('a', {}, [1])]);
  delete noSystem.system;
  assert.match(bad(noSystem).join(), /system/);
});

test('caseKey sorts params', () => {
  assert.equal(caseKey('first_touch', { views: 8, in: 'base' }), 'first_touch{in=base,views=8}');
  assert.equal(caseKey('getpid', {}), 'getpid');
});

// ---- console extraction and checks ----

test('extractBenchDoc skips progress and kernel lines', () => {
  const raw = rawDoc('mmview_bench_x', [measured('a', {}, [1, 2])]);
  const lines = consoleLines(raw);
  assert.ok(!documentLines(lines).some((l) => l.startsWith('#') || l.includes('crng')));
  const x = extractBenchDoc(lines);
  assert.ok(x.ok);
  assert.deepEqual(x.raw, raw);
});

test('extractBenchDoc: missing, truncated and invalid documents', () => {
  const none = extractBenchDoc(['# only progress', 'Segmentation fault']);
  assert.ok(!none.ok && /no JSON document/.test(none.errors.join()));
  const lines = consoleLines(rawDoc('p', [measured('a', {}, [1])]));
  const cut = extractBenchDoc(lines.slice(0, -2));
  assert.ok(!cut.ok && /malformed JSON/.test(cut.errors.join()));
  const invalid = extractBenchDoc(['{"schema":"mmview-bench/1"}']);
  assert.ok(!invalid.ok);
});

test('checkBenchRun: a good run has no problems', () => {
  const c = checkBenchRun(run('bench/mmview_bench_x', consoleLines(rawDoc('mmview_bench_x', [measured('a', {}, [1])]))), { size: 'default', mmview: true });
  assert.deepEqual(c.problems, []);
  assert.equal(c.program, 'mmview_bench_x');
  assert.equal(c.doc?.program, 'mmview_bench_x');
});

test('checkBenchRun: every way a run can be unusable', () => {
  const good = consoleLines(rawDoc('mmview_bench_x', [measured('a', {}, [1])]));
  const problems = (r: ReturnType<typeof run>, size: 'tiny' | 'default' = 'default', mmview?: boolean): string =>
    checkBenchRun(r, { size, mmview }, 60).problems.join(' | ');
  assert.match(problems(run('bench/mmview_bench_x', good, null)), /did not finish/);
  assert.match(problems(run('bench/mmview_bench_x', good, 137, true)), /per-program timeout \(60 s\)/);
  assert.match(problems(run('bench/mmview_bench_x', ['Killed'], 137)), /malformed output: no JSON document.*\| exited with status 137/);
  assert.match(problems(run('bench/mmview_bench_y', good)), /names program mmview_bench_x, expected mmview_bench_y/);
  assert.match(problems(run('bench/mmview_bench_x', good), 'tiny'), /size default, expected tiny/);
  assert.match(problems(run('bench/mmview_bench_x', good, 1)), /exited with status 1/);
  assert.match(problems(run('bench/mmview_bench_x', good), 'default', false), /has mmview system calls, expected none/);
  const vanilla = consoleLines(rawDoc('mmview_bench_x', [measured('a', {}, [1]), na('b', {})], { mmview: false }));
  assert.match(problems(run('bench/mmview_bench_x', vanilla), 'default', true), /no mmview system calls/);
  assert.equal(problems(run('bench/mmview_bench_x', vanilla), 'default', false), '');
  const skipped = consoleLines(rawDoc('mmview_bench_x', [measured('a', {}, [1]), na('b', {})]));
  assert.match(problems(run('bench/mmview_bench_x', skipped)), /1 case\(s\) not run for lack of mmview/);
  const failed = consoleLines(
    rawDoc('mmview_bench_x', [{ id: 'c', what: 'c', unit: 'ns', params: { views: 64 }, error: 'mmview_create: ENOMEM' }], { errors: 1 }),
  );
  assert.match(problems(run('bench/mmview_bench_x', failed, 1)), /case c \{"views":64\} failed: mmview_create: ENOMEM$/);
});

test('evaluateBenchProgram: one summary row, failed with the reasons', () => {
  const ok = evaluateBenchProgram(run('bench/mmview_bench_x', consoleLines(rawDoc('mmview_bench_x', [measured('a', {}, [1])], { size: 'tiny' }))), { size: 'tiny' });
  assert.deepEqual([ok.passed, ok.failed, ok.skipped, ok.problems], [1, 0, 0, []]);
  const bad = evaluateBenchProgram(run('bench/mmview_bench_x', ['{"schema":'], 0), { size: 'tiny' });
  assert.deepEqual([bad.passed, bad.failed], [0, 1]);
  assert.match(bad.problems[0] ?? '', /^bench\/mmview_bench_x: malformed output: malformed JSON/);
});

test('collectBenchRuns: outcomes in expected order, documents of usable runs, missing programs', () => {
  const a = run('bench/mmview_bench_a', consoleLines(rawDoc('mmview_bench_a', [measured('x', {}, [1])])));
  const b = run('bench/mmview_bench_b', ['garbage'], 1);
  const c = collectBenchRuns([b, a], ['mmview_bench_a', 'mmview_bench_b', 'mmview_bench_c'], { size: 'default', mmview: true }, new Map([['mmview_bench_a', 12.5]]));
  assert.deepEqual(c.programs.map((p) => [p.program, p.ok, p.seconds]), [
    ['mmview_bench_a', true, 12.5],
    ['mmview_bench_b', false, undefined],
    ['mmview_bench_c', false, undefined],
  ]);
  assert.match(c.programs[2]?.problems[0] ?? '', /did not run/);
  assert.equal(c.raw.length, 1);
  assert.equal(c.release, '6.12.117');
});

// ---- figures ----

function docsFor(): KernelDocs {
  const ns = (m: number): number[] => [m * 0.9, m, m * 1.1];
  const mm: BenchDoc[] = [
    valid(
      rawDoc(PROGRAMS.migrate, [
        measured('getpid', {}, ns(100)),
        measured('migrate_rt', {}, ns(1000)),
        measured('pipe_process_rt', {}, ns(4000)),
        measured('pipe_thread_rt', {}, ns(3000)),
        measured('futex_thread_rt', {}, ns(2000)),
      ]),
    ),
    valid(
      rawDoc(PROGRAMS.create, [
        measured('fork_exit_wait', { rss_mib: 1024 }, ns(1e8)),
        measured('create_delete', { rss_mib: 1024 }, ns(7e7)),
        measured('create', { rss_mib: 1024 }, ns(6e7)),
        measured('pagetables_per_view', { rss_mib: 1024 }, [2.2e6, 2.2e6, 2.2e6], 'bytes'),
        measured('pagetables_per_fork', { rss_mib: 1024 }, [2.1e6, 2.1e6, 2.1e6], 'bytes'),
        na('slab_per_view', { rss_mib: 1024 }, 'not enough memory'),
      ]),
    ),
    valid(
      rawDoc(PROGRAMS.fault, [
        measured('first_touch', { views: 0, in: 'base' }, ns(1000)),
        measured('first_touch', { views: 8, in: 'base' }, [1050, 1150, 1250]),
        measured('first_touch', { views: 8, in: 'view' }, ns(3000)),
      ]),
    ),
  ];
  const van: BenchDoc[] = [
    valid(rawDoc(PROGRAMS.migrate, [measured('getpid', {}, ns(100)), na('migrate_rt', {}), measured('pipe_process_rt', {}, ns(4100))], { mmview: false })),
    valid(rawDoc(PROGRAMS.fault, [measured('first_touch', { views: 0, in: 'base' }, ns(1000))], { mmview: false })),
  ];
  return { mmview: mm, vanilla: van };
}

test('figureDefs: unique keys, every target from issue 5', () => {
  const defs = figureDefs();
  assert.equal(new Set(defs.map((d) => d.key)).size, defs.length);
  const target = (key: string): number | undefined => defs.find((d) => d.key === key)?.target;
  assert.equal(target('migrate.process'), 0.5);
  assert.equal(target('create.create_delete.1024'), 0.05);
  assert.equal(target('create.create.1024'), 0.05);
  assert.equal(target('create.view_read.64'), 0.25);
  assert.equal(target('create.view_read.1'), undefined);
  assert.equal(target('create.stall.1024'), 0.05);
  assert.equal(target('create.stall.64'), undefined);
  const stall = defs.find((d) => d.key === 'create.stall.1024');
  assert.equal(stall?.num.id, 'stall_create');
  assert.equal(stall?.den.kind === 'case' ? stall.den.ref.id : undefined, 'stall_fork');
  assert.equal(target('fault.base.8'), 1.2);
  assert.equal(target('fault.view.8'), 1.2);
  assert.equal(target('layout.mmap_munmap.8'), 5);
  assert.equal(target('layout.mmap_munmap.64'), 33);
  assert.equal(target('layout.mmap_munmap.0'), 1.01);
  assert.equal(target('layout.mmap_munmap.others'), 1.1);
  const others = defs.find((d) => d.key === 'layout.mmap_munmap.others');
  assert.deepEqual(others?.num.params, { views: 1, others: 10000 });
  assert.deepEqual(others?.den.kind === 'case' ? others.den.ref.params : undefined, { views: 1, others: 10 });
  assert.equal(target('noview.first_touch'), 1.01);
  assert.equal(target('noview.fork_exit_wait'), 1.01);
  assert.equal(target('noview.mmap_munmap'), 1.01);
  assert.equal(target('memory.pagetables.1024'), 0.0001);
  assert.equal(target('memory.pagetables.64'), 0.0001);
  assert.equal(target('memory.pagetables.1'), undefined);
});

test('computeFigures: ratios against same-run baselines, verdicts, n/a reasons', () => {
  const figs = computeFigures(docsFor());
  const f = (key: string) => {
    const r = figs.find((x) => x.def.key === key);
    assert.ok(r, key);
    return r;
  };
  assert.equal(f('migrate.process').ratio?.value, 0.25);
  assert.deepEqual([f('migrate.process').verdict, f('migrate.process').clear], ['pass', true]);
  assert.equal(f('migrate.getpid').verdict, 'info');
  assert.equal(f('create.create_delete.1024').verdict, 'miss');
  assert.equal(f('create.create_delete.1024').ratio?.value, 0.7);
  const pt = f('memory.pagetables.1024');
  assert.equal(pt.ratio?.value, 2.2e6 / 2 ** 30);
  // 0.2 %: what copying every entry at creation cost, against issue 16's 0.01 %.
  assert.equal(pt.verdict, 'miss');
  assert.equal(pt.den?.unit, 'bytes');
  const base8 = f('fault.base.8');
  assert.equal(base8.ratio?.value, 1.15);
  assert.deepEqual([base8.verdict, base8.clear], ['pass', false]); // q3 ratio 1.2/0.95 crosses 1.2
  assert.deepEqual([f('fault.view.8').verdict, f('fault.view.8').clear], ['miss', true]);
  assert.equal(f('noview.pipe_process_rt').ratio?.value, 4000 / 4100);
  const slab = f('memory.slab.1024');
  assert.equal(slab.verdict, 'n/a');
  assert.match(slab.reason ?? '', /not applicable \(not enough memory\)/);
  assert.match(f('fault.base.64').reason ?? '', /not measured/);
  assert.match(f('noview.first_touch').reason ?? '', /^mmview mmview_bench_noview first_touch\{others=none\}: not measured/);
});

test('judge: pass and miss, clear or within the spread', () => {
  assert.deepEqual(judge({ value: 0.4, lo: 0.3, hi: 0.45 }, 0.5), { verdict: 'pass', clear: true });
  assert.deepEqual(judge({ value: 0.4, lo: 0.3, hi: 0.55 }, 0.5), { verdict: 'pass', clear: false });
  assert.deepEqual(judge({ value: 0.6, lo: 0.55, hi: 0.7 }, 0.5), { verdict: 'miss', clear: true });
  assert.deepEqual(judge({ value: 0.6, lo: 0.45, hi: 0.7 }, 0.5), { verdict: 'miss', clear: false });
  assert.deepEqual(judge({ value: 9, lo: 9, hi: 9 }, undefined), { verdict: 'info', clear: true });
  assert.equal(verdictText({ verdict: 'miss', clear: false }), 'miss (within spread)');
});

test('ratio and target formatting', () => {
  assert.equal(formatRatio(0.4234, 'times'), '0.423×');
  assert.equal(formatRatio(1.234, 'times'), '1.23×');
  assert.equal(formatRatio(33.3, 'times'), '33.3×');
  assert.equal(formatRatio(0.002049, 'percent'), '0.205 %');
  assert.equal(formatRatio(5.96e-7, 'percent'), '6.0e-5 %');
  assert.equal(formatRatio(0, 'percent'), '0.00 %');
  const def = (target: number | undefined, format: FigureDef['format']): FigureDef =>
    ({ key: 'k', group: 'fault', label: 'l', num: { kernel: 'mmview', program: 'p', id: 'i', params: {} }, den: { kind: 'rss', mib: 1 }, target, format });
  assert.equal(formatTarget(def(0.0025, 'percent')), '≤ 0.25 %');
  assert.equal(formatTarget(def(1.01, 'times')), '≤ 1.01×');
  assert.equal(formatTarget(def(undefined, 'times')), '');
  assert.equal(formatNs(1234), '1.23 µs');
  assert.equal(formatNs(12), '12.0 ns');
  assert.equal(formatBytes(2.2e6), '2.10 MiB');
});

test('renderRatioTable: groups, ratios, targets, verdicts, counts', () => {
  const figs = computeFigures(docsFor());
  const t = renderRatioTable(figs);
  assert.match(t, /^figure\s+ratio\s+spread \(IQR\)\s+target\s+verdict$/m);
  assert.match(t, /^Migrate round trip \(mmview kernel\)$/m);
  assert.match(t, /migrate round trip ÷ process ping-pong \(pipes\)\s+0\.250×\s+\S+ \.\. \S+\s+≤ 0\.5×\s+pass$/m);
  assert.match(t, /first touch, 8 views, in the base view ÷ vanilla\s+1\.15×.*pass \(within spread\)$/m);
  const c = countTargets(figs);
  assert.match(t, new RegExp(`targets: ${c.pass} met, ${c.miss} missed, ${c.unknown} not measured`));
  assert.match(t, /not measured: no-view process: first-touch fault ÷ vanilla: mmview mmview_bench_noview/);
});

// ---- report ----

/** Tags of an XML/HTML fragment must nest (void HTML elements and self-closing tags aside). */
function assertBalanced(markup: string): void {
  const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);
  const stack: string[] = [];
  for (const m of markup.replace(/<!DOCTYPE[^>]*>/i, '').matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*?)(\/?)>/g)) {
    const [, close, name = '', , self] = m;
    const tag = name.toLowerCase();
    if (self || VOID.has(tag)) continue;
    if (close) assert.equal(stack.pop(), tag, `</${tag}> closes <${stack[stack.length] ?? '?'}>`);
    else stack.push(tag);
  }
  assert.deepEqual(stack, []);
}

function resultsFor(docs: KernelDocs): BenchResults {
  const kernel = (key: 'vanilla' | 'mmview'): KernelInfo => ({
    key,
    description: `${key} <kernel> & co`,
    image: `/b/${key}/bzImage`,
    release: '6.12.117',
    version: '#1 SMP',
  });
  const boot = (key: 'vanilla' | 'mmview', round: number): BootRun => ({
    kernel: key,
    round,
    programs: [{ program: 'mmview_bench_fault', ok: key === 'vanilla', problems: key === 'vanilla' ? [] : ['malformed output: x'], seconds: 3.5 }],
    splats: [],
    consoleLog: `/l/${key}-${round}.log`,
    seconds: 60,
    loadavgBefore: [0.5, 0.4, 0.3],
    loadavgAfter: [1, 0.5, 0.3],
    raw: [],
  });
  return {
    schema: RESULTS_SCHEMA,
    environment: {
      date: '2026-01-01T00:00:00Z',
      accel: 'tcg',
      accelReason: '/dev/kvm does not exist',
      vcpus: 2,
      memory: '3G',
      host: { cpuModel: 'AMD EPYC', cpus: 2, memGib: 23, kernel: '6.1', loadavg: [0.5, 0.4, 0.3] },
      loadavgEnd: [1, 1, 1],
      qemu: '7.2.0',
      size: 'default',
      rounds: 2,
    },
    kernels: [kernel('vanilla'), kernel('mmview')],
    boots: [boot('vanilla', 1), boot('mmview', 1), boot('mmview', 2), boot('vanilla', 2)],
    figures: computeFigures(docs).map(figureRecord),
  };
}

test('renderReport: self-contained HTML with inline SVG, environment and targets', () => {
  const docs = docsFor();
  const figs = computeFigures(docs);
  const html = renderReport(resultsFor(docs), figs, docs);
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(!/<script|<link|src=|https?:\/\//i.test(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')), 'no external resources');
  assert.ok((html.match(/<svg /g) ?? []).length >= 6 + 4, 'a bar chart per group and four plots');
  assert.match(html, /emulated: QEMU TCG \(\/dev\/kvm does not exist\)/);
  assert.match(html, /2 vCPUs, 3G memory/);
  assert.match(html, /AMD EPYC/);
  assert.match(html, /Emulated run \(no KVM\)/);
  assert.match(html, /mmview &lt;kernel&gt; &amp; co/);
  assert.match(html, /mmview \(round 2\): mmview_bench_fault: malformed output: x/);
  assert.match(html, /2 boot\(s\) per kernel, samples pooled/);
  assert.match(html, /Targets: \d+ met, \d+ missed/);
  assertBalanced(html);
});

test('standing: one sentence per target', () => {
  const figs = computeFigures(docsFor());
  const get = (k: string) => figs.find((f) => f.def.key === k);
  assert.match(standing(get('migrate.process')!), /^met: 0\.250× \(spread .*\) against ≤ 0\.5×$/);
  assert.match(standing(get('fault.base.8')!), /^met by the median, 1\.15×, but the spread .* reaches past ≤ 1\.2×$/);
  assert.match(standing(get('fault.view.8')!), /^missed: 3\.00×/);
  assert.match(standing(get('fault.base.64')!), /^not measured: /);
});

test('SVG charts are well formed and escape labels', () => {
  const bars = barChart(
    [
      { label: 'a < b & c', value: 0.5, lo: 0.4, hi: 0.6, target: 0.5, tone: 'pass', text: '0.5×' },
      { label: 'none', tone: 'na', text: 'n/a' },
    ],
    { title: 'T "quoted"', tick: String, reference: 1 },
  );
  assertBalanced(bars);
  assert.match(bars, /a &lt; b &amp; c/);
  const long = barChart([{ label: 'x'.repeat(80), value: 1, tone: 'info', text: '1×' }], { title: 't', tick: String });
  assert.match(long, /<title>x{80}<\/title>x{54}…<\/text>/, 'long labels are shortened, the full one is the tooltip');
  assert.match(bars, /aria-label="T &quot;quoted&quot;"/);
  const lines = lineChart(
    [
      { name: 's1', values: [1, undefined, 100, 1000], color: '#000' },
      { name: 's2', values: [undefined, undefined, undefined, undefined], color: '#111', dashed: true },
    ],
    { title: 'L', xLabels: ['0', '1', '8', '64'], xTitle: 'views', yTitle: 'ns', tick: String, logY: true },
  );
  assertBalanced(lines);
  assert.equal((lines.match(/<polyline /g) ?? []).length, 1, 'a gap splits the line; a lone point is only a dot');
  assert.equal((lines.match(/<circle /g) ?? []).length, 3);
  assert.equal(escapeXml(`<&>"`), '&lt;&amp;&gt;&quot;');
});

test('bar charts switch to a log axis for ratios spanning decades', () => {
  assert.equal(wantsLog([0.4, 2, 96]), true);
  assert.equal(wantsLog([0.9, 1.2, 3]), false);
  assert.equal(wantsLog([0, 5, 500]), false, 'a zero cannot be drawn on a log axis');
  const svg = barChart(
    [
      { label: 'a', value: 0.4, lo: 0.35, hi: 0.45, target: 0.5, tone: 'pass', text: '0.4×' },
      { label: 'b', value: 96, tone: 'info', text: '96×' },
    ],
    { title: 'log', tick: (v) => `${v}×`, reference: 1, log: true },
  );
  assertBalanced(svg);
  for (const t of ['0.1×', '1×', '10×', '100×']) assert.ok(svg.includes(`>${t}</text>`), t);
});

test('niceTicks: round steps covering the range', () => {
  assert.deepEqual(niceTicks(1.08), [0, 0.5, 1]);
  assert.deepEqual(niceTicks(0.9), [0, 0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(35), [0, 10, 20, 30]);
  assert.deepEqual(niceTicks(0), [0]);
});

test('docsOf re-validates the raw documents of every boot and drops invalid ones', () => {
  const raw = rawDoc('mmview_bench_x', [measured('a', {}, [1])]);
  const boots = resultsFor({}).boots.map((b) => ({ ...b, raw: [raw, { bogus: true }] }));
  const docs = docsOf(boots);
  assert.equal(docs.mmview?.length, 2);
  assert.equal(docs.vanilla?.[0]?.program, 'mmview_bench_x');
});

test('samples of a case are pooled over boots; a round without it does not hide it', () => {
  const alone = { others: 'none' };
  const d1 = valid(rawDoc(PROGRAMS.noview, [measured('first_touch', alone, [10, 11]), measured('getpid', alone, [1])]));
  const d2 = valid(
    rawDoc(PROGRAMS.noview, [measured('first_touch', alone, [12]), { id: 'getpid', what: 'x', unit: 'ns', params: alone, error: 'boom' }], { errors: 1 }),
  );
  const v = valid(rawDoc(PROGRAMS.noview, [measured('first_touch', alone, [10]), measured('getpid', alone, [1])], { mmview: false }));
  const figs = computeFigures({ mmview: [d1, d2], vanilla: [v] });
  const ft = figs.find((f) => f.def.key === 'noview.first_touch');
  assert.equal(ft?.num?.stats.n, 3);
  assert.equal(ft?.num?.stats.median, 11);
  assert.equal(figs.find((f) => f.def.key === 'noview.getpid')?.num?.stats.n, 1);
});

test('no-view processes while another process has views are compared with vanilla alone', () => {
  const d = valid(rawDoc(PROGRAMS.noview, [measured('mmap_munmap', { others: 'views' }, [30])]));
  const v = valid(rawDoc(PROGRAMS.noview, [measured('mmap_munmap', { others: 'none' }, [20]), na('mmap_munmap', { others: 'views' })], { mmview: false }));
  const f = computeFigures({ mmview: [d], vanilla: [v] }).find((x) => x.def.key === 'noview.mmap_munmap.busy');
  assert.equal(f?.ratio?.value, 1.5);
  assert.equal(f?.def.target, 1.01);
});

test('bootOrder alternates which kernel goes first', () => {
  assert.deepEqual(bootOrder(2).map((b) => `${b.kernel}${b.round}`), ['vanilla1', 'mmview1', 'mmview2', 'vanilla2']);
  assert.equal(bootOrder(3).length, 6);
});

// ---- wiring ----

test('benchArgs for the guest programs', () => {
  assert.deepEqual(benchArgs({ tiny: false }), []);
  assert.deepEqual(benchArgs({ tiny: true, reps: 3 }), ['--tiny', '--reps', '3']);
});

test('/init: bench mode and the tiny benchmark run after the tests', () => {
  const init = renderInit();
  execFileSync('/bin/sh', ['-n', '-c', init]);
  assert.match(init, /run_benches --tiny\n/);
  assert.match(init, /bench\)\n\s+eval "run_benches \$\(cat \/etc\/mmview\/bench-args/);
  assert.match(init, /run_program "bench\/\$b" "\/bench\/\$b" "\$@"/);
});

test('/init runs benchmarks with markers and arguments (busybox-free dry run)', () => {
  // Extract run_program/run_benches and run them against a fake /bench in a temp dir.
  const init = renderInit();
  const fns = init.slice(init.indexOf('# run_program'), init.indexOf('run_tests() {'));
  const script = `test_timeout=5\n${fns.replace(/\/bench/g, '$BENCH')}\nrun_benches --tiny\n`;
  const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
  execFileSync('/bin/sh', ['-c', `printf '#!/bin/sh\\necho "args:$*"\\n' > ${dir}/b1 && chmod +x ${dir}/b1 && echo no > ${dir}/notexec`]);
  const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, BENCH: dir } });
  assert.equal(out, 'MMVIEW-BEGIN bench/b1\nargs:--tiny\nMMVIEW-END bench/b1 0\n');
});

test('kernel command line in bench mode carries the program timeout', () => {
  const cmd = kernelCmdline({ arch: archSpec('x86_64'), kernel: 'k', initrd: 'i', kvm: false, mode: 'bench', interactive: false, testTimeout: 1800 });
  assert.equal(cmd, 'console=ttyS0 no5lvl panic=-1 mmview.mode=bench mmview.test_timeout=1800');
});

test('vanilla kernel: the series-only options are expected to be missing', () => {
  const ms = vanillaMismatches([
    { option: 'CONFIG_MMVIEW', wanted: 'y', got: undefined },
    { option: 'CONFIG_DEBUG_KERNEL', wanted: 'n', got: 'y' },
  ]);
  assert.deepEqual(ms.map((m) => m.option), ['CONFIG_DEBUG_KERNEL']);
});

test('environment parsing', () => {
  assert.equal(parseCpuModel('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags: x\n'), 'AMD EPYC 7B13');
  assert.equal(parseCpuModel('processor: 0\n'), undefined);
  assert.equal(parseQemuVersion('QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u16)\nCopyright'), '7.2.19');
});

test('P7: p99 while patching ÷ steady state of the same demo runs, per method; target 1.05 for views only', () => {
  const defs = figureDefs();
  const view = defs.find((d) => d.key === 'patch.p99.view');
  const global = defs.find((d) => d.key === 'patch.p99.global');
  assert.equal(view?.target, 1.05);
  assert.equal(global?.target, undefined);
  const doc = valid(
    rawDoc(PROGRAMS.patch, [
      measured('p99_steady', { method: 'view' }, [1000, 1100, 1050]),
      measured('p99_during', { method: 'view' }, [1040, 1090, 1060]),
      measured('p99_steady', { method: 'global' }, [1000, 1000, 1000]),
      measured('p99_during', { method: 'global' }, [9000, 8000, 10000]),
    ]),
  );
  const figs = computeFigures({ mmview: [doc], vanilla: [] }, defs.filter((d) => d.group === 'patch'));
  const v = figs.find((f) => f.def.key === 'patch.p99.view');
  const g = figs.find((f) => f.def.key === 'patch.p99.global');
  assert.equal(v?.ratio?.value, 1060 / 1050);
  assert.equal(v?.verdict, 'pass');
  assert.equal(g?.ratio?.value, 9);
  assert.equal(g?.verdict, 'info');
  // On a kernel without views the program reports n/a: the figure says why.
  const naDoc = valid(rawDoc(PROGRAMS.patch, [na('p99_steady', { method: 'view' }), na('p99_during', { method: 'view' })], { mmview: false }));
  const n = computeFigures({ mmview: [naDoc] }, [view as NonNullable<typeof view>])[0];
  assert.equal(n?.verdict, 'n/a');
  assert.match(n?.reason ?? '', /not applicable/);
});
