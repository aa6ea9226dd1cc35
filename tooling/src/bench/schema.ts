/**
 * The JSON document a guest benchmark program prints (schema "mmview-bench/1",
 * written by bench/guest/bench_util.c, described in bench/README.md) and its
 * validation (pure).
 */

export const BENCH_SCHEMA = 'mmview-bench/1';

export type ParamValue = string | number;
export type Params = Readonly<Record<string, ParamValue>>;

export interface BenchSystem {
  release: string;
  version: string;
  machine: string;
  cpus: number;
  memTotalKib: number;
  pageSize: number;
  thp: string;
  mmview: boolean;
}

interface CaseBase {
  id: string;
  what: string;
  unit: 'ns' | 'bytes';
  params: Params;
}

/** A case with samples: each is the mean over `inner` operations. */
export interface MeasuredCase extends CaseBase {
  kind: 'measured';
  inner: number;
  samples: number[];
  details?: Readonly<Record<string, unknown>>;
}

/** A case that does not apply on this kernel or machine (e.g. no mmview syscalls). */
export interface NaCase extends CaseBase {
  kind: 'na';
  reason: string;
}

/** A case whose measurement failed in the guest. */
export interface ErrorCase extends CaseBase {
  kind: 'error';
  error: string;
}

export type BenchCase = MeasuredCase | NaCase | ErrorCase;

export interface BenchDoc {
  schema: typeof BENCH_SCHEMA;
  program: string;
  summary: string;
  size: 'tiny' | 'default';
  reps: number;
  system: BenchSystem;
  cases: BenchCase[];
  errors: number;
}

export type Validation = { ok: true; doc: BenchDoc } | { ok: false; errors: string[] };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects problems while reading fields of an untrusted object. */
class Reader {
  readonly errors: string[] = [];

  str(o: Obj, key: string, where: string): string {
    const v = o[key];
    if (typeof v === 'string') return v;
    this.errors.push(`${where}.${key}: expected a string`);
    return '';
  }

  num(o: Obj, key: string, where: string, min = -Infinity): number {
    const v = o[key];
    if (typeof v === 'number' && Number.isFinite(v) && v >= min) return v;
    this.errors.push(`${where}.${key}: expected a number${min > -Infinity ? ` >= ${min}` : ''}`);
    return 0;
  }

  bool(o: Obj, key: string, where: string): boolean {
    const v = o[key];
    if (typeof v === 'boolean') return v;
    this.errors.push(`${where}.${key}: expected true or false`);
    return false;
  }

  obj(o: Obj, key: string, where: string): Obj {
    const v = o[key];
    if (isObj(v)) return v;
    this.errors.push(`${where}.${key}: expected an object`);
    return {};
  }
}

function readParams(r: Reader, o: Obj, where: string): Params {
  const raw = r.obj(o, 'params', where);
  const out: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
    else r.errors.push(`${where}.params.${k}: expected a string or number`);
  }
  return out;
}

function readCase(r: Reader, raw: unknown, where: string): BenchCase | undefined {
  if (!isObj(raw)) {
    r.errors.push(`${where}: expected an object`);
    return undefined;
  }
  const unit = r.str(raw, 'unit', where);
  if (unit !== 'ns' && unit !== 'bytes' && unit !== '') r.errors.push(`${where}.unit: "${unit}" is not ns or bytes`);
  const base = {
    id: r.str(raw, 'id', where),
    what: r.str(raw, 'what', where),
    unit: unit === 'bytes' ? ('bytes' as const) : ('ns' as const),
    params: readParams(r, raw, where),
  };
  const has = (k: string): boolean => k in raw;
  const kinds = ['samples', 'na', 'error'].filter(has);
  if (kinds.length !== 1) {
    r.errors.push(`${where}: needs exactly one of samples, na, error (has ${kinds.join(', ') || 'none'})`);
    return undefined;
  }
  if (has('na')) return { ...base, kind: 'na', reason: r.str(raw, 'na', where) };
  if (has('error')) return { ...base, kind: 'error', error: r.str(raw, 'error', where) };
  const samples = raw.samples;
  if (!Array.isArray(samples) || samples.length === 0) {
    r.errors.push(`${where}.samples: expected a non-empty array`);
    return undefined;
  }
  const values: number[] = [];
  samples.forEach((s, i) => {
    if (typeof s === 'number' && Number.isFinite(s)) values.push(s);
    else r.errors.push(`${where}.samples[${i}]: expected a finite number`);
  });
  if (base.unit === 'ns' && values.some((v) => v <= 0)) r.errors.push(`${where}.samples: a time must be > 0`);
  const details = raw.details;
  if (details !== undefined && !isObj(details)) r.errors.push(`${where}.details: expected an object`);
  return {
    ...base,
    kind: 'measured',
    inner: r.num(raw, 'inner', where, 1),
    samples: values,
    ...(isObj(details) ? { details } : {}),
  };
}

/** Check an untrusted value (parsed JSON) against the schema. */
export function validateBenchDoc(value: unknown): Validation {
  const r = new Reader();
  if (!isObj(value)) return { ok: false, errors: ['the document is not a JSON object'] };
  if (value.schema !== BENCH_SCHEMA) {
    return { ok: false, errors: [`schema: expected "${BENCH_SCHEMA}", got ${JSON.stringify(value.schema) ?? 'nothing'}`] };
  }
  const program = r.str(value, 'program', 'doc');
  const summary = r.str(value, 'summary', 'doc');
  const reps = r.num(value, 'reps', 'doc', 1);
  const size = r.str(value, 'size', 'doc');
  if (size !== 'tiny' && size !== 'default' && size !== '') r.errors.push(`doc.size: "${size}" is not tiny or default`);
  const sys = r.obj(value, 'system', 'doc');
  const system: BenchSystem = {
    release: r.str(sys, 'release', 'system'),
    version: r.str(sys, 'version', 'system'),
    machine: r.str(sys, 'machine', 'system'),
    cpus: r.num(sys, 'cpus', 'system', 1),
    memTotalKib: r.num(sys, 'mem_total_kib', 'system', 0),
    pageSize: r.num(sys, 'page_size', 'system', 1),
    thp: r.str(sys, 'thp', 'system'),
    mmview: r.bool(sys, 'mmview', 'system'),
  };
  const rawCases = value.cases;
  const cases: BenchCase[] = [];
  if (!Array.isArray(rawCases) || rawCases.length === 0) r.errors.push('doc.cases: expected a non-empty array');
  else
    rawCases.forEach((c, i) => {
      const parsed = readCase(r, c, `cases[${i}]`);
      if (parsed) cases.push(parsed);
    });
  const errors = r.num(value, 'errors', 'doc', 0);
  const failed = cases.filter((c) => c.kind === 'error').length;
  if (errors !== failed) r.errors.push(`doc.errors: says ${errors}, but ${failed} case(s) have an error`);
  const keys = new Set<string>();
  for (const c of cases) {
    const key = caseKey(c.id, c.params);
    if (keys.has(key)) r.errors.push(`case ${key} appears twice`);
    keys.add(key);
  }
  if (r.errors.length > 0) return { ok: false, errors: r.errors };
  return {
    ok: true,
    doc: {
      schema: BENCH_SCHEMA,
      program,
      summary,
      size: size === 'tiny' ? 'tiny' : 'default',
      reps,
      system,
      cases,
      errors,
    },
  };
}

/** Stable text naming a case: `id{k=v,...}` with the params sorted (pure). */
export function caseKey(id: string, params: Params): string {
  const p = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join(',');
  return p ? `${id}{${p}}` : id;
}
