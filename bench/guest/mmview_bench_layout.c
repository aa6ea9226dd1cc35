// SPDX-License-Identifier: GPL-2.0
/*
 * Layout and protection changes with 0, 1, 8 and 64 views: mmap + munmap
 * pairs of a small anonymous region, and mprotect of a populated region
 * (read-only, then read-write again).  Called from the base view.  With one
 * view, also in a process with 10 and with 10,000 other mappings
 * ("others"): a change must cost what it touches, not what the process maps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "bench_util.h"

#define MAP_LEN		(16 << 10)	/* mmap + munmap: 4 pages, never touched */
#define PROT_LEN	(256 << 10)	/* mprotect: 64 populated pages */

enum { C_MMAP, C_MPROTECT, C_COUNT };

struct run {
	int views;
	int others;	/* extra one-page mappings, made before the views */
	long inner_map;
	long inner_prot;
};

static int measure(struct bench_child_ctx *ctx, void *arg)
{
	const struct run *r = arg;
	char *region = bench_map_populated(PROT_LEN);

	if (!region)
		return bench_fail(ctx, "mmap: %s", strerror(errno));
	/* Alternating protections: no two of them merge into one VMA. */
	for (int k = 0; k < r->others; k++)
		if (mmap(NULL, bench_page_size(), k % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
			return bench_fail(ctx, "mmap (other mapping %d): %s", k, strerror(errno));
	/* The views are created after the region is populated: they map it too. */
	for (int v = 0; v < r->views; v++)
		if (mmview_create() < 0)
			return bench_fail(ctx, "mmview_create (view %d): %s", v + 1, strerror(errno));
	for (int i = -1; i < bench_ctx_reps(ctx); i++) {
		uint64_t t0 = bench_now_ns(), t1;

		for (long k = 0; k < r->inner_map; k++) {
			void *p = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				return bench_fail(ctx, "mmap: %s", strerror(errno));
			if (munmap(p, MAP_LEN))
				return bench_fail(ctx, "munmap: %s", strerror(errno));
		}
		t1 = bench_now_ns();
		if (i >= 0)
			bench_ctx_samples(ctx, C_MMAP)[i] = (double)(t1 - t0) / r->inner_map;

		t0 = bench_now_ns();
		for (long k = 0; k < r->inner_prot; k++) {
			if (mprotect(region, PROT_LEN, PROT_READ) ||
			    mprotect(region, PROT_LEN, PROT_READ | PROT_WRITE))
				return bench_fail(ctx, "mprotect: %s", strerror(errno));
		}
		t1 = bench_now_ns();
		if (i >= 0)
			bench_ctx_samples(ctx, C_MPROTECT)[i] = (double)(t1 - t0) / (2 * r->inner_prot);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const int full_views[] = { 0, 1, 8, 64 };
	static const int tiny_views[] = { 0, 1, 8 };
	struct bench_case cases[C_COUNT] = {
		[C_MMAP] = { "mmap_munmap", "mmap + munmap of 16 KiB anonymous memory (untouched)", "ns" },
		[C_MPROTECT] = { "mprotect", "mprotect of 256 KiB populated anonymous memory (one call)", "ns" },
	};
	struct bench_opts o;
	const int *views;
	int nviews;

	bench_init(argc, argv, "mmview_bench_layout",
		   "mmap+munmap pairs and mprotect with 0, 1, 8, 64 views; with 1 view and 10 or 10,000 other mappings",
		   15, 2, &o);
	views = o.tiny ? tiny_views : full_views;
	nviews = o.tiny ? 3 : 4;
	for (int i = 0; i < nviews + 2; i++) {
		bool others = i >= nviews;
		int nv = others ? 1 : views[i];
		/* Each sample takes about the same time: fewer operations with more views. */
		long scale = nv == 0 ? 4 : nv == 1 ? 2 : nv <= 8 ? 1 : 0;
		struct run r = {
			.views = nv,
			.others = !others ? 0 : i == nviews ? 10 : o.tiny ? 1000 : 10000,
			.inner_map = o.tiny ? 20 : scale ? 1000 * scale : 200,
			.inner_prot = o.tiny ? 10 : scale ? 500 * scale : 100,
		};

		cases[C_MMAP].inner = r.inner_map;
		cases[C_MPROTECT].inner = 2 * r.inner_prot;
		for (int k = 0; k < C_COUNT; k++) {
			if (others)
				snprintf(cases[k].params, sizeof(cases[k].params),
					 "{\"views\":%d,\"others\":%d}", r.views, r.others);
			else
				snprintf(cases[k].params, sizeof(cases[k].params),
					 "{\"views\":%d}", r.views);
		}
		if (r.views > 0 && !bench_have_mmview()) {
			for (int k = 0; k < C_COUNT; k++)
				bench_report_na(&cases[k], BENCH_NA_NO_MMVIEW);
			continue;
		}
		bench_run_cases(cases, C_COUNT, o.reps, measure, &r);
	}
	return bench_finish();
}
