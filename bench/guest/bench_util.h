/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the mmview guest benchmarks.
 *
 * Every benchmark program prints exactly one JSON document on stdout (schema
 * "mmview-bench/1", see bench/README.md) and progress lines starting with "# "
 * on stderr.  It measures repetitions and reports every sample; the host
 * computes medians and spreads.  Cases that need the mmview system calls are
 * reported as not applicable ("na") on a kernel without them (ENOSYS).
 *
 * Options of every program:
 *   --tiny      a few repetitions of small sizes (the test suite's smoke run)
 *   --reps N    N timed repetitions per case (after one untimed warm-up)
 */
#ifndef MMVIEW_BENCH_UTIL_H
#define MMVIEW_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mmview.h"

#define BENCH_SCHEMA	"mmview-bench/1"
#define BENCH_MAX_REPS	1000

struct bench_opts {
	bool tiny;
	/* Timed repetitions per case. */
	int reps;
};

/*
 * Parse the command line, disable THP, pin the process to CPU 0 and start
 * the JSON document.  default_reps and tiny_reps are the program's defaults.
 */
void bench_init(int argc, char **argv, const char *program, const char *summary,
		int default_reps, int tiny_reps, struct bench_opts *opts);

/* Print the JSON document; returns the exit status for main(). */
int bench_finish(void);

/* Whether the running kernel has the mmview system calls (probed once). */
bool bench_have_mmview(void);
/* For programs that must never call them: bench_have_mmview() then looks
 * for /proc/sys/vm/mmview_max_views instead of calling mmview_migrate(-1). */
void bench_probe_without_syscall(void);
/* Reason string for cases that need mmview on a kernel without it. */
#define BENCH_NA_NO_MMVIEW "the kernel has no mmview system calls (ENOSYS)"

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- results ---- */

/*
 * One measured case.  params is the text of a JSON object ("{}" when the
 * case has none), e.g. {"views":8,"in":"base"}.
 */
struct bench_case {
	const char *id;
	const char *what;
	/* "ns" (time per operation) or "bytes". */
	const char *unit;
	char params[160];
	/* Operations per sample (a sample is the mean over them). */
	long inner;
};

/* Report the samples of a case (n of them). */
void bench_report(const struct bench_case *c, const double *samples, int n);
/* Report the samples with extra details: text of a JSON object or NULL. */
void bench_report_details(const struct bench_case *c, const double *samples, int n,
			  const char *details_json);
/* Report a case that does not apply here, with the reason. */
void bench_report_na(const struct bench_case *c, const char *reason);
/* Report a case whose measurement failed; makes the program exit 1. */
void bench_report_error(const struct bench_case *c, const char *error);

/* ---- measuring in a fresh child process ---- */

#define BENCH_MAX_CASES		12
#define BENCH_DETAILS_SIZE	2048

/* What a measurement function fills in (lives in memory shared with the parent). */
struct bench_child_ctx;

/* Timed repetitions per case. */
int bench_ctx_reps(const struct bench_child_ctx *ctx);
/* The sample array of case i (bench_ctx_reps() entries). */
double *bench_ctx_samples(struct bench_child_ctx *ctx, int i);
/* Case i has only n samples (default: bench_ctx_reps()). */
void bench_ctx_count(struct bench_child_ctx *ctx, int i, int n);
/* Case i does not apply (e.g. not enough memory); the reason is reported. */
void bench_ctx_na(struct bench_child_ctx *ctx, int i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Extra details of case i: the text of a JSON object. */
void bench_ctx_details(struct bench_child_ctx *ctx, int i, const char *json);
/* Record a failure of the whole group (printf format); returns -1. */
int bench_fail(struct bench_child_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Fills the samples of every case of a group; 0 on success, -1 after bench_fail(). */
typedef int (*bench_child_fn)(struct bench_child_ctx *ctx, void *arg);

/*
 * Run fn in a forked child (a fresh process that never had views) and
 * report every case of the group: its samples, "na" with the reason, or an
 * error when fn failed or the child died.
 */
void bench_run_cases(const struct bench_case *cases, int ncases, int reps,
		     bench_child_fn fn, void *arg);

/* ---- memory ---- */

size_t bench_page_size(void);
/* mmap private anonymous memory (no THP) and write every page. NULL on error. */
void *bench_map_populated(size_t len);
/* A /proc/meminfo field in KiB, -1 if missing. */
long bench_meminfo_kb(const char *key);
/* Fold the per-CPU vmstat deltas into the global counters that /proc/meminfo
 * shows (writes /proc/sys/vm/stat_refresh; best effort). */
void bench_vmstat_refresh(void);

/* Per-cache bytes of the active objects in /proc/slabinfo, for deltas. */
struct bench_slab_snapshot {
	int n;
	struct {
		char name[64];
		long long bytes;
	} cache[512];
};
int bench_slabinfo_snapshot(struct bench_slab_snapshot *s);
/*
 * The caches that grew most between two snapshots, divided by div, as a JSON
 * array of {"cache":..,"bytes":..} (at most top entries) into buf.
 */
void bench_slab_growth_json(const struct bench_slab_snapshot *before,
			    const struct bench_slab_snapshot *after, double div,
			    int top, char *buf, size_t size);

/* Progress line on stderr ("# ..."). */
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* MMVIEW_BENCH_UTIL_H */
