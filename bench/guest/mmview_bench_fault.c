// SPDX-License-Identifier: GPL-2.0
/*
 * First-touch anonymous faults with 0, 1, 8 and 64 views, touched from the
 * base view and from a non-base view.  Each repetition maps a fresh region
 * (after the views exist), writes one byte per page and unmaps it; a sample
 * is the time per page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "bench_util.h"

struct run {
	int views;
	/* Touch from view 1 instead of the base view. */
	bool in_view;
	size_t region;
};

static int measure(struct bench_child_ctx *ctx, void *arg)
{
	const struct run *r = arg;
	size_t ps = bench_page_size(), pages = r->region / ps;
	long ids[64], first = 0;

	for (int v = 0; v < r->views; v++) {
		ids[v] = mmview_create();
		if (ids[v] < 0)
			return bench_fail(ctx, "mmview_create (view %d): %s", v + 1, strerror(errno));
		if (v == 0)
			first = ids[v];
	}
	for (int i = -1; i < bench_ctx_reps(ctx); i++) {
		char *p = mmap(NULL, r->region, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t t0, t1;

		if (p == MAP_FAILED)
			return bench_fail(ctx, "mmap: %s", strerror(errno));
		madvise(p, r->region, MADV_NOHUGEPAGE);
		if (r->in_view && mmview_migrate(first) != 0)
			return bench_fail(ctx, "mmview_migrate: %s", strerror(errno));
		t0 = bench_now_ns();
		for (size_t k = 0; k < pages; k++)
			p[k * ps] = 1;
		t1 = bench_now_ns();
		if (r->in_view && mmview_migrate(0) != first)
			return bench_fail(ctx, "mmview_migrate back: %s", strerror(errno));
		if (munmap(p, r->region))
			return bench_fail(ctx, "munmap: %s", strerror(errno));
		if (i >= 0)
			bench_ctx_samples(ctx, 0)[i] = (double)(t1 - t0) / pages;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const int full_views[] = { 0, 1, 8, 64 };
	static const int tiny_views[] = { 0, 1, 8 };
	struct bench_case c = { .id = "first_touch", .unit = "ns" };
	struct bench_opts o;
	const int *views;
	int nviews;
	size_t region;

	bench_init(argc, argv, "mmview_bench_fault",
		   "first-touch anonymous faults with 0, 1, 8, 64 views, in the base and a non-base view",
		   15, 2, &o);
	views = o.tiny ? tiny_views : full_views;
	nviews = o.tiny ? 3 : 4;
	region = o.tiny ? 256 << 10 : 16 << 20;
	c.inner = (long)(region / bench_page_size());
	for (int i = 0; i < nviews; i++) {
		for (int in_view = 0; in_view <= 1; in_view++) {
			struct run r = { .views = views[i], .in_view = in_view, .region = region };

			if (in_view && r.views == 0)
				continue;
			c.what = in_view ? "first write to an anonymous page, from a non-base view"
					 : "first write to an anonymous page, from the base view";
			snprintf(c.params, sizeof(c.params), "{\"views\":%d,\"in\":\"%s\"}",
				 r.views, in_view ? "view" : "base");
			if (r.views > 0 && !bench_have_mmview())
				bench_report_na(&c, BENCH_NA_NO_MMVIEW);
			else
				bench_run_cases(&c, 1, o.reps, measure, &r);
		}
	}
	return bench_finish();
}
