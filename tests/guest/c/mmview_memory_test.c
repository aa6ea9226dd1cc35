// SPDX-License-Identifier: GPL-2.0
/*
 * mmview memory semantics: shared pages that are present when a view is
 * created are the same physical pages in the view (values both ways, pfn
 * equality via /proc/self/task/TID/pagemap); unshared ranges are
 * copy-on-write per view (pfns equal until written, then different; values
 * isolated both ways); partial-page unshare covers whole pages; several
 * views; views created from views.
 *
 * Only memory populated before the views were created is used (first touch
 * after create and mappings created later are not covered here).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NPAGES	8
#define NW	4

FIXTURE(mem) {
	struct mvt_worker w[NW];
	size_t ps;
	long words;		/* longs per page */
	volatile long *sh;	/* NPAGES shared pages */
	volatile long *un;	/* NPAGES unshared pages */
	pid_t tid;		/* main thread, always in base */
};

static volatile long *page(FIXTURE_DATA(mem) *self, volatile long *r, int i)
{
	return r + i * self->words;
}

FIXTURE_SETUP(mem)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->words = (long)(self->ps / sizeof(long));
	self->tid = mvt_gettid();
	self->sh = mvt_map_populated(NPAGES * self->ps);
	self->un = mvt_map_populated(NPAGES * self->ps);
	ASSERT_NE(NULL, self->sh);
	ASSERT_NE(NULL, self->un);
	for (i = 0; i < NPAGES; i++) {
		page(self, self->sh, i)[0] = 0x5000 + i;
		page(self, self->sh, i)[self->words - 1] = 0x5100 + i;
		page(self, self->un, i)[0] = 0x9000 + i;
		page(self, self->un, i)[self->words - 1] = 0x9100 + i;
	}
	ASSERT_EQ(0, mmview_unshare((void *)self->un, NPAGES * self->ps))
		TH_LOG("mmview_unshare: %s", strerror(errno));
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	}
}

FIXTURE_TEARDOWN(mem)
{
	int i;

	for (i = 0; i < NW; i++)
		mvt_worker_stop(&self->w[i]);
}

#define WCH(i) (&self->w[i].ch)

static long wload(struct __test_metadata *_metadata, const struct mvt_chan *w,
		  volatile long *p)
{
	return WRPC(w, MVT_LOAD, (long)p).ret;
}

/* pfn of p as seen by the worker's view; the worker loads it first. */
static int64_t wpfn(struct __test_metadata *_metadata, const struct mvt_chan *w,
		    volatile long *p)
{
	int64_t pfn;

	WRPC(w, MVT_LOAD, (long)p);
	pfn = WRPC(w, MVT_PFN, (long)p).ret;
	ASSERT_LE(0, pfn) TH_LOG("pagemap in the view: %lld (-1 not present, "
				 "-2 error, -3 pfn hidden)", (long long)pfn);
	return pfn;
}

static int64_t bpfn(struct __test_metadata *_metadata, pid_t tid,
		    volatile long *p)
{
	int64_t pfn;

	(void)*p;
	pfn = mvt_pfn(tid, (const void *)p);
	ASSERT_LE(0, pfn) TH_LOG("pagemap in base: %lld", (long long)pfn);
	return pfn;
}

TEST_F_TIMEOUT(mem, shared_pages_present_at_create_are_identical, 300)
{
	const struct mvt_chan *w = WCH(0);
	long x, last = self->words - 1;
	int i;

	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, x));

	for (i = 0; i < NPAGES; i++) {
		volatile long *p = page(self, self->sh, i);

		ASSERT_EQ(bpfn(_metadata, self->tid, p), wpfn(_metadata, w, p))
			TH_LOG("shared page %d: different physical pages", i);
		/* Values, both ways, at both ends of the page. */
		ASSERT_EQ(0x5000 + i, wload(_metadata, w, p));
		ASSERT_EQ(0x5100 + i, wload(_metadata, w, p + last));
		WOK(w, MVT_STORE, (long)p, 0x6000 + i);
		ASSERT_EQ(0x6000 + i, p[0]) TH_LOG("view store invisible in base, page %d", i);
		p[last] = 0x6100 + i;
		ASSERT_EQ(0x6100 + i, wload(_metadata, w, p + last))
			TH_LOG("base store invisible in the view, page %d", i);
		/* Still the same page after the stores. */
		ASSERT_EQ(bpfn(_metadata, self->tid, p), wpfn(_metadata, w, p));
	}
	ASSERT_EQ(x, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
}

TEST_F_TIMEOUT(mem, unshared_pages_cow_per_view, 300)
{
	const struct mvt_chan *w = WCH(0);
	int64_t pb, pv;
	long x;
	int i;

	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, x));

	/* Snapshot: same values and, until written, the same pages. */
	for (i = 0; i < NPAGES; i++) {
		volatile long *p = page(self, self->un, i);

		ASSERT_EQ(0x9000 + i, wload(_metadata, w, p));
		ASSERT_EQ(bpfn(_metadata, self->tid, p), wpfn(_metadata, w, p))
			TH_LOG("unshared page %d copied before any write", i);
	}
	/* Even pages: written in the view; odd pages: written in base. */
	for (i = 0; i < NPAGES; i++) {
		volatile long *p = page(self, self->un, i);

		if (i % 2 == 0) {
			WOK(w, MVT_STORE, (long)p, 0xa000 + i);
			ASSERT_EQ(0x9000 + i, p[0]) TH_LOG("view store leaked to base, page %d", i);
		} else {
			p[0] = 0xb000 + i;
			ASSERT_EQ(0x9000 + i, wload(_metadata, w, p))
				TH_LOG("base store leaked to the view, page %d", i);
		}
		pb = bpfn(_metadata, self->tid, p);
		pv = wpfn(_metadata, w, p);
		ASSERT_NE(pb, pv) TH_LOG("page %d still shared after a write", i);
	}
	/* Both directions, after the copy. */
	for (i = 0; i < NPAGES; i++) {
		volatile long *p = page(self, self->un, i);

		ASSERT_EQ(i % 2 ? 0x9000 + i : 0xa000 + i, wload(_metadata, w, p));
		ASSERT_EQ(i % 2 ? 0xb000 + i : 0x9000 + i, p[0]);
		ASSERT_EQ(0x9100 + i, p[self->words - 1]);
		ASSERT_EQ(0x9100 + i, wload(_metadata, w, p + self->words - 1));
		p[1] = 0xc000 + i;
		WOK(w, MVT_STORE, (long)(p + 2), 0xd000 + i);
		ASSERT_EQ(0, wload(_metadata, w, p + 1));
		ASSERT_EQ(0, p[2]);
	}
	ASSERT_EQ(x, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
}

static void check_page_value(struct __test_metadata *_metadata,
			     volatile long *p, long words, long v, const char *what)
{
	long i;

	for (i = 0; i < words; i++) {
		ASSERT_EQ(v, p[i]) TH_LOG("%s: word %ld", what, i);
	}
}

TEST_F_TIMEOUT(mem, partial_page_unshare_covers_whole_pages, 300)
{
	const struct mvt_chan *w = WCH(0);
	size_t ps = self->ps;
	volatile long *r;
	long x;
	int i;

	/* 5 pages: unshare [1 page - 0, page + 1 byte) -> pages 0 and 1, and
	 * one byte at the start of page 3 -> page 3 only. */
	r = mvt_map_populated(5 * ps);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, mmview_unshare((void *)r, ps + 1));
	ASSERT_EQ(0, mmview_unshare((char *)r + 3 * ps, 1));

	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, x));
	for (i = 0; i < 5; i++)
		WOK(w, MVT_FILL, (long)((char *)r + i * ps), (long)ps, 0x70 + i);
	for (i = 0; i < 5; i++) {
		volatile long *p = (volatile long *)((char *)r + i * ps);
		bool unshared = i == 0 || i == 1 || i == 3;
		char what[64];

		snprintf(what, sizeof(what), "page %d (%s)", i,
			 unshared ? "unshared" : "shared");
		/* Every word of the page follows the page's rule. */
		check_page_value(_metadata, p, self->words, unshared ? 0 : 0x70 + i, what);
		ASSERT_EQ(0, WOK(w, MVT_CHECK, (long)p, (long)ps, 0x70 + i))
			TH_LOG("%s: the view lost its own stores", what);
	}
	ASSERT_EQ(x, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
}

TEST_F_TIMEOUT(mem, multiple_views_isolated, 300)
{
	volatile long *u = self->un, *s = self->sh;
	long v[NW];
	int i, j;

	for (i = 0; i < NW; i++) {
		v[i] = mmview_create();
		ASSERT_LE(1, v[i]);
		ASSERT_EQ(0, WOK(WCH(i), MVT_MIGRATE, v[i]));
	}
	for (i = 0; i < NW; i++) {
		WOK(WCH(i), MVT_STORE, (long)u, 0xe000 + i);
		WOK(WCH(i), MVT_STORE, (long)(s + 1 + i), 0xf000 + i);
	}
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(v[i], WOK(WCH(i), MVT_VIEW));
		ASSERT_EQ(0xe000 + i, wload(_metadata, WCH(i), u))
			TH_LOG("view %d sees another view's unshared store", i);
		for (j = 0; j < NW; j++) {
			ASSERT_EQ(0xf000 + j, wload(_metadata, WCH(i), s + 1 + j))
				TH_LOG("view %d misses view %d's shared store", i, j);
		}
		ASSERT_EQ(0xf000 + i, s[1 + i]);
		/* All views map the same shared page. */
		ASSERT_EQ(bpfn(_metadata, self->tid, s), wpfn(_metadata, WCH(i), s));
	}
	ASSERT_EQ(0x9000, *u);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(v[i], WOK(WCH(i), MVT_MIGRATE, 0));
		ASSERT_EQ(0, mmview_delete(v[i]));
	}
}

TEST_F_TIMEOUT(mem, views_created_from_views, 300)
{
	volatile long *u = self->un, *s = self->sh;
	long v[NW];
	int i;

	/* Chain: v0 from base (by main), v(i) from v(i-1) (by worker i-1). */
	v[0] = mmview_create();
	ASSERT_LE(1, v[0]);
	ASSERT_EQ(0, WOK(WCH(0), MVT_MIGRATE, v[0]));
	WOK(WCH(0), MVT_STORE, (long)u, 0x100);
	for (i = 1; i < NW; i++) {
		int64_t parent_pfn;

		v[i] = WOK(WCH(i - 1), MVT_CREATE);
		ASSERT_LE(1, v[i]);
		ASSERT_EQ(0, WOK(WCH(i), MVT_MIGRATE, v[i]));
		/* Snapshot of the parent view, sharing its page until written. */
		ASSERT_EQ(0x100 * i, wload(_metadata, WCH(i), u))
			TH_LOG("view %d is not a copy of view %d", i, i - 1);
		parent_pfn = wpfn(_metadata, WCH(i - 1), u);
		ASSERT_EQ(parent_pfn, wpfn(_metadata, WCH(i), u))
			TH_LOG("view %d: unshared page copied before any write", i);
		WOK(WCH(i), MVT_STORE, (long)u, 0x100 * (i + 1));
		ASSERT_NE(parent_pfn, wpfn(_metadata, WCH(i), u));
		ASSERT_EQ(0x100 * i, wload(_metadata, WCH(i - 1), u))
			TH_LOG("store in view %d leaked into its parent", i);
		/* Shared memory is the same page across the chain. */
		ASSERT_EQ(bpfn(_metadata, self->tid, s), wpfn(_metadata, WCH(i), s));
	}
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0x100 * (i + 1), wload(_metadata, WCH(i), u));
	}
	ASSERT_EQ(0x9000, *u);
	/* A shared store from the deepest view reaches everyone. */
	WOK(WCH(NW - 1), MVT_STORE, (long)s, 0x777);
	ASSERT_EQ(0x777, *s);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0x777, wload(_metadata, WCH(i), s));
	}
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(v[i], WOK(WCH(i), MVT_MIGRATE, 0));
		ASSERT_EQ(0, mmview_delete(v[i]));
	}
}

TEST_F_TIMEOUT(mem, large_unshared_region_isolated, 300)
{
	const size_t len = 4UL << 20;
	char *r;
	long x, y;

	r = mvt_map_populated(len);
	ASSERT_NE(NULL, r);
	ASSERT_EQ(0, mmview_unshare(r, len));
	x = mmview_create();
	y = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_LE(1, y);
	ASSERT_EQ(0, WOK(WCH(0), MVT_MIGRATE, x));
	ASSERT_EQ(0, WOK(WCH(1), MVT_MIGRATE, y));

	WOK(WCH(0), MVT_FILL, (long)r, (long)len, 0x1111);
	ASSERT_EQ(0, WOK(WCH(1), MVT_CHECK, (long)r, (long)len, 0))
		TH_LOG("view y sees view x's stores");
	WOK(WCH(1), MVT_FILL, (long)r, (long)len, 0x2222);
	ASSERT_EQ(0, WOK(WCH(0), MVT_CHECK, (long)r, (long)len, 0x1111));
	ASSERT_EQ(0, WOK(WCH(2), MVT_CHECK, (long)r, (long)len, 0))
		TH_LOG("base sees a view's stores");
	WOK(WCH(2), MVT_FILL, (long)r, (long)len, 0x3333);
	ASSERT_EQ(0, WOK(WCH(0), MVT_CHECK, (long)r, (long)len, 0x1111));
	ASSERT_EQ(0, WOK(WCH(1), MVT_CHECK, (long)r, (long)len, 0x2222));

	ASSERT_EQ(x, WOK(WCH(0), MVT_MIGRATE, 0));
	ASSERT_EQ(y, WOK(WCH(1), MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
	ASSERT_EQ(0, mmview_delete(y));
}

TEST_HARNESS_MAIN
