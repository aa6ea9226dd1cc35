// SPDX-License-Identifier: GPL-2.0
/*
 * madvise() from a thread in a non-base view, per the contract:
 *
 *  - advice that changes VMA flags (RANDOM, SEQUENTIAL, DONTFORK, DONTDUMP,
 *    WIPEONFORK, HUGEPAGE, NOHUGEPAGE, MERGEABLE and their opposites) shows
 *    in smaps VmFlags of every view;
 *  - content advice on shared ranges (REMOVE, PAGEOUT, COLD, POPULATE_READ,
 *    POPULATE_WRITE) acts on the one shared copy, also when the calling view
 *    has never mapped it;
 *  - content advice on unshared ranges (DONTNEED, PAGEOUT) acts on the
 *    calling view's copy only;
 *  - KSM: MADV_MERGEABLE from a view merges the shared memory (in the base,
 *    every view then maps the merged page), a store through a view unmerges
 *    it for every view, and MADV_UNMERGEABLE from a view leaves no KSM page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW		3	/* worker i runs in view i; worker 0 in base */
#define SMAPS_SIZE	(256 * 1024)

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

FIXTURE(advice) {
	struct mvt_worker w[NW];
	long view[NW];
	pid_t tid[NW];
	size_t ps;
	char *smaps;
	char *un;		/* 4 unshared pages */
};

FIXTURE_SETUP(advice)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->smaps = malloc(SMAPS_SIZE);
	ASSERT_NE(NULL, self->smaps);
	self->un = mvt_map_populated(4 * self->ps);
	ASSERT_NE(NULL, self->un);
	ASSERT_EQ(0, mmview_unshare(self->un, 4 * self->ps));
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
		self->tid[i] = self->w[i].tid;
	}
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(advice)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	free(self->smaps);
}

#define WCH(i) (&self->w[i].ch)

static long call_madvise(long addr, long len, long advice, long *out)
{
	(void)out;
	return madvise((void *)addr, (size_t)len, (int)advice);
}

/* madvise() from worker k: 0 or -errno. */
static int wmadvise(struct __test_metadata *_metadata,
		    FIXTURE_DATA(advice) *self, int k, void *p, size_t len,
		    int advice)
{
	struct mvt_res r = WRPC(WCH(k), MVT_CALL, (long)call_madvise, (long)p,
				(long)len, advice);

	return r.ret ? -r.err : 0;
}

static void *map_anon(struct __test_metadata *_metadata, size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS,
		       -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	return p;
}

static void expect_flag(struct __test_metadata *_metadata,
			FIXTURE_DATA(advice) *self, void *p, const char *flag,
			int set, const char *what)
{
	int k;

	for (k = 0; k < NW; k++) {
		long view = self->view[k];

		ASSERT_EQ(set, mvt_smaps_flag(self->tid[k], p, flag, self->smaps,
						 SMAPS_SIZE))
			TH_LOG("%s: VmFlags '%s' in view %ld", what, flag, view);
	}
}

TEST_F_TIMEOUT(advice, flag_advice_applies_to_every_view, 300)
{
	static const struct {
		int advice, undo;
		const char *flag, *name;
	} adv[] = {
		{ MADV_RANDOM, MADV_NORMAL, "rr", "MADV_RANDOM" },
		{ MADV_SEQUENTIAL, MADV_NORMAL, "sr", "MADV_SEQUENTIAL" },
		{ MADV_DONTFORK, MADV_DOFORK, "dc", "MADV_DONTFORK" },
		{ MADV_DONTDUMP, MADV_DODUMP, "dd", "MADV_DONTDUMP" },
		{ MADV_WIPEONFORK, MADV_KEEPONFORK, "wf", "MADV_WIPEONFORK" },
		{ MADV_HUGEPAGE, MADV_NOHUGEPAGE, "hg", "MADV_HUGEPAGE" },
		{ MADV_MERGEABLE, MADV_UNMERGEABLE, "mg", "MADV_MERGEABLE" },
	};
	size_t len = 4 * self->ps;
	unsigned int i;
	char *p;

	for (i = 0; i < sizeof(adv) / sizeof(adv[0]); i++) {
		p = map_anon(_metadata, len, MAP_PRIVATE);
		/* A guard page keeps the VMA from merging with neighbours. */
		ASSERT_EQ(0, mprotect(p + len - self->ps, self->ps, PROT_NONE));
		p[0] = 1;
		ASSERT_EQ(0, wmadvise(_metadata, self, 1, p, len - self->ps,
				      adv[i].advice)) TH_LOG("%s", adv[i].name);
		expect_flag(_metadata, self, p, adv[i].flag, 1, adv[i].name);
		ASSERT_EQ(0, wmadvise(_metadata, self, 2, p, len - self->ps,
				      adv[i].undo)) TH_LOG("undo %s", adv[i].name);
		expect_flag(_metadata, self, p, adv[i].flag, 0, adv[i].name);
		if (adv[i].advice == MADV_HUGEPAGE)
			expect_flag(_metadata, self, p, "nh", 1,
				    "MADV_NOHUGEPAGE");
		/* The data survived every flag change, in every view. */
		ASSERT_EQ(1, WRPC(WCH(2), MVT_LOAD, (long)p).ret & 0xff);
		ASSERT_EQ(0, munmap(p, len));
	}
}

TEST_F_TIMEOUT(advice, remove_from_a_view_discards_shared_memory, 300)
{
	size_t len = 2 * self->ps;
	long *p = map_anon(_metadata, len, MAP_SHARED);
	long *q = (long *)((char *)p + self->ps);
	int k;

	*p = 0x11;
	*q = 0x22;
	for (k = 0; k < NW; k++)
		ASSERT_EQ(0x11, WRPC(WCH(k), MVT_LOAD, (long)p).ret);
	ASSERT_EQ(0, wmadvise(_metadata, self, 1, p, self->ps, MADV_REMOVE));
	for (k = 0; k < NW; k++) {
		ASSERT_EQ(0, WRPC(WCH(k), MVT_LOAD, (long)p).ret)
			TH_LOG("view %ld still sees removed data", self->view[k]);
		ASSERT_EQ(0x22, WRPC(WCH(k), MVT_LOAD, (long)q).ret);
	}
	ASSERT_EQ(0, munmap(p, len));
}

TEST_F_TIMEOUT(advice, populate_from_a_view_populates_the_shared_copy, 300)
{
	size_t len = 4 * self->ps;
	char *w = map_anon(_metadata, len, MAP_PRIVATE);
	char *r = map_anon(_metadata, len, MAP_PRIVATE);
	int64_t pfn, base;
	size_t off;

	ASSERT_EQ(0, wmadvise(_metadata, self, 1, w, len, MADV_POPULATE_WRITE));
	ASSERT_EQ(0, wmadvise(_metadata, self, 2, r, len, MADV_POPULATE_READ));
	for (off = 0; off < len; off += self->ps) {
		/* The base has the pages although only a view faulted. */
		base = mvt_pfn(self->tid[0], w + off);
		ASSERT_LE(0, base) TH_LOG("POPULATE_WRITE: base lacks page %zu",
					  off / self->ps);
		ASSERT_EQ(base, mvt_pfn(self->tid[1], w + off));
		base = mvt_pfn(self->tid[0], r + off);
		ASSERT_LE(0, base) TH_LOG("POPULATE_READ: base lacks page %zu",
					  off / self->ps);
		ASSERT_EQ(base, mvt_pfn(self->tid[2], r + off));
	}
	/* A store then reaches every view, on one page. */
	WOK(WCH(1), MVT_STORE, (long)r, 0x33);
	base = WRPC(WCH(0), MVT_PFN, (long)r).ret;
	for (int k = 0; k < NW; k++) {
		ASSERT_EQ(0x33, WRPC(WCH(k), MVT_LOAD, (long)r).ret);
		pfn = WRPC(WCH(k), MVT_PFN, (long)r).ret;
		ASSERT_EQ(base, pfn);
	}
	ASSERT_EQ(0, munmap(w, len));
	ASSERT_EQ(0, munmap(r, len));
}

static int swapped(pid_t tid, const void *addr)
{
	uint64_t ent;

	if (mvt_pagemap(tid, addr, &ent))
		return -1;
	return (int)((ent >> 62) & 1);
}

TEST_F_TIMEOUT(advice, pageout_from_a_view_pages_out_the_shared_copy, 300)
{
	size_t len = 4 * self->ps, off;
	char *p;
	int k, err;

	err = mvt_zram_swap_on(64UL << 20);
	ASSERT_EQ(0, err) TH_LOG("swap on zram0: %s", strerror(-err));
	p = map_anon(_metadata, len, MAP_PRIVATE);
	for (off = 0; off < len; off += self->ps)
		*(long *)(p + off) = 0x100 + (long)off;
	/* View 2 maps the pages, view 1 has never touched them. */
	for (off = 0; off < len; off += self->ps)
		ASSERT_EQ(0x100 + (long)off,
			  WRPC(WCH(2), MVT_LOAD, (long)(p + off)).ret);
	/* Pages still in another CPU's LRU batch are not paged out. */
	mvt_write_file("/proc/sys/vm/compact_memory", "1");
	ASSERT_EQ(0, wmadvise(_metadata, self, 1, p, len, MADV_PAGEOUT));
	for (off = 0; off < len; off += self->ps) {
		size_t page = off / self->ps;

		ASSERT_EQ(1, swapped(self->tid[0], p + off))
			TH_LOG("page %zu of the base not paged out", page);
	}
	/* Deactivating is only a hint: it must not lose data either. */
	ASSERT_EQ(0, wmadvise(_metadata, self, 2, p, len, MADV_COLD));
	for (k = 0; k < NW; k++)
		for (off = 0; off < len; off += self->ps)
			ASSERT_EQ(0x100 + (long)off,
				  WRPC(WCH(k), MVT_LOAD, (long)(p + off)).ret);
	ASSERT_EQ(0, munmap(p, len));
}

TEST_F_TIMEOUT(advice, content_advice_on_unshared_acts_on_the_caller, 300)
{
	char *page1 = self->un + self->ps, *page2 = self->un + 2 * self->ps;
	int k, err;

	err = mvt_zram_swap_on(64UL << 20);
	ASSERT_EQ(0, err) TH_LOG("swap on zram0: %s", strerror(-err));
	for (k = 0; k < NW; k++) {
		WOK(WCH(k), MVT_STORE, (long)page1, 0x40 + k);
		WOK(WCH(k), MVT_STORE, (long)page2, 0x50 + k);
	}
	/* DONTNEED: the caller's copy is discarded, the others stay. */
	ASSERT_EQ(0, wmadvise(_metadata, self, 1, page1, self->ps,
			      MADV_DONTNEED));
	for (k = 0; k < NW; k++) {
		long view = self->view[k];

		ASSERT_EQ(k == 1 ? 0 : 0x40 + k,
			  WRPC(WCH(k), MVT_LOAD, (long)page1).ret)
			TH_LOG("view %ld", view);
	}
	/* PAGEOUT: only the caller's copy goes to swap. */
	ASSERT_EQ(0, wmadvise(_metadata, self, 2, page2, self->ps,
			      MADV_PAGEOUT));
	ASSERT_EQ(1, swapped(self->tid[2], page2));
	ASSERT_EQ(0, swapped(self->tid[0], page2));
	ASSERT_EQ(0, swapped(self->tid[1], page2));
	for (k = 0; k < NW; k++)
		ASSERT_EQ(0x50 + k, WRPC(WCH(k), MVT_LOAD, (long)page2).ret);
}

/*
 * /sys/kernel/mm/ksm/<name>. (KPF_KSM of /proc/kpageflags cannot tell: in
 * 6.12 it is set for every anonymous page.)
 */
static long ksm_count(const char *name)
{
	char path[64], buf[32];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	if (mvt_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* /proc/self/task/<tid>/ksm_merging_pages: what a thread's view reports. */
static long ksm_merging_pages(pid_t tid)
{
	char path[64], buf[32];

	snprintf(path, sizeof(path), "/proc/self/task/%d/ksm_merging_pages",
		 tid);
	if (mvt_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/*
 * With use_zero_pages, ksmd maps zero-filled pages to the zero page and
 * counts them (ksm_zero_pages) in the base. The views' copies of those
 * entries are not KSM's: zapping them (here when the base unmerges)
 * must not uncount anything.
 */
TEST_F_TIMEOUT(advice, ksm_zero_pages_are_counted_once, 600)
{
	size_t len = 4 * self->ps, off;
	char *p = map_anon(_metadata, len, MAP_PRIVATE);
	long before, merged;
	uint64_t deadline;
	int k;

	if (access("/sys/kernel/mm/ksm/use_zero_pages", F_OK) ||
	    access("/sys/kernel/mm/ksm/ksm_zero_pages", F_OK))
		SKIP(return, "kernel without KSM zero pages");
	before = ksm_count("ksm_zero_pages");
	for (off = 0; off < len; off += self->ps)
		*(volatile long *)(p + off) = 0;
	ASSERT_EQ(0, wmadvise(_metadata, self, 1, p, len, MADV_MERGEABLE));
	ASSERT_EQ(0, mvt_write_file("/sys/kernel/mm/ksm/use_zero_pages", "1"));
	ASSERT_EQ(0, mvt_write_file("/sys/kernel/mm/ksm/pages_to_scan", "1000"));
	ASSERT_EQ(0, mvt_write_file("/sys/kernel/mm/ksm/sleep_millisecs", "10"));
	ASSERT_EQ(0, mvt_write_file("/sys/kernel/mm/ksm/run", "1"));
	deadline = mvt_now_ms() + 120 * 1000;
	while (ksm_count("ksm_zero_pages") - before < 4 &&
	       mvt_now_ms() < deadline)
		mvt_sleep_ms(50);
	merged = ksm_count("ksm_zero_pages") - before;
	mvt_write_file("/sys/kernel/mm/ksm/run", "0");
	ASSERT_EQ(4, merged) TH_LOG("ksmd did not map the zero-filled pages to the zero page");
	/* Every view maps the base's zero-page entries. */
	for (k = 0; k < NW; k++)
		for (off = 0; off < len; off += self->ps)
			ASSERT_EQ(0, WRPC(WCH(k), MVT_LOAD, (long)(p + off)).ret);
	/* Unmerging replaces the base's entries and drops the views' copies. */
	ASSERT_EQ(0, madvise(p, len, MADV_UNMERGEABLE));
	mvt_write_file("/sys/kernel/mm/ksm/use_zero_pages", "0");
	ASSERT_EQ(before, ksm_count("ksm_zero_pages"))
		TH_LOG("KSM zero pages miscounted after the views' copies went");
	for (k = 0; k < NW; k++)
		ASSERT_EQ(0, WRPC(WCH(k), MVT_LOAD, (long)p).ret);
	ASSERT_EQ(0, munmap(p, len));
}

TEST_F_TIMEOUT(advice, ksm_merges_and_unmerges_for_every_view, 600)
{
	size_t len = 4 * self->ps;
	char *p = map_anon(_metadata, len, MAP_PRIVATE);
	uint64_t deadline;
	int64_t pfn0, pfn, merged;
	int k, i;

	if (access("/sys/kernel/mm/ksm/run", F_OK))
		SKIP(return, "kernel without KSM");
	/* Pages 0 and 1 identical, 2 and 3 unique. */
	for (i = 0; i < 4; i++)
		memset(p + i * self->ps, i < 2 ? 0x6b : 0x70 + i, self->ps);
	for (k = 0; k < NW; k++)
		ASSERT_EQ(0x6b, WRPC(WCH(k), MVT_LOAD, (long)p).ret & 0xff);
	ASSERT_EQ(0, wmadvise(_metadata, self, 1, p, len, MADV_MERGEABLE));
	ASSERT_EQ(0, mvt_write_file("/sys/kernel/mm/ksm/pages_to_scan", "1000"));
	ASSERT_EQ(0, mvt_write_file("/sys/kernel/mm/ksm/sleep_millisecs", "10"));
	ASSERT_EQ(0, mvt_write_file("/sys/kernel/mm/ksm/run", "1"));
	deadline = mvt_now_ms() + 120 * 1000;
	while (mvt_pfn(self->tid[0], p) != mvt_pfn(self->tid[0], p + self->ps) &&
	       mvt_now_ms() < deadline)
		mvt_sleep_ms(50);
	pfn0 = mvt_pfn(self->tid[0], p);
	ASSERT_EQ(pfn0, mvt_pfn(self->tid[0], p + self->ps))
		TH_LOG("ksmd did not merge the base's identical pages");
	/* Two mappings of one KSM page: the base's, not one per view. */
	ASSERT_EQ(1, ksm_count("pages_shared"));
	ASSERT_EQ(1, ksm_count("pages_sharing"));
	/* The process merged two pages, whichever view reports it. */
	for (k = 0; k < NW; k++) {
		long view = self->view[k];

		ASSERT_EQ(2, ksm_merging_pages(self->tid[k]))
			TH_LOG("ksm_merging_pages of view %ld", view);
	}
	/* Every view reads the merged page, and never merged on its own. */
	for (k = 0; k < NW; k++) {
		for (i = 0; i < 4; i++) {
			ASSERT_EQ(i < 2 ? 0x6b : 0x70 + i,
				  WRPC(WCH(k), MVT_LOAD,
				       (long)(p + i * self->ps)).ret & 0xff);
			pfn = WRPC(WCH(k), MVT_PFN, (long)(p + i * self->ps)).ret;
			ASSERT_EQ(mvt_pfn(self->tid[0], p + i * self->ps), pfn)
				TH_LOG("view %ld page %d is not the base's",
				       self->view[k], i);
		}
	}
	merged = pfn0;
	/* A store through view 2 unmerges page 0 for every view. */
	WOK(WCH(2), MVT_STORE, (long)p, 0x1234);
	pfn0 = mvt_pfn(self->tid[0], p);
	ASSERT_LE(0, pfn0);
	ASSERT_NE(pfn0, mvt_pfn(self->tid[0], p + self->ps));
	for (k = 0; k < NW; k++) {
		ASSERT_EQ(0x1234, WRPC(WCH(k), MVT_LOAD, (long)p).ret);
		ASSERT_EQ(pfn0, WRPC(WCH(k), MVT_PFN, (long)p).ret);
		ASSERT_EQ(0x6b, WRPC(WCH(k), MVT_LOAD,
				     (long)(p + self->ps)).ret & 0xff);
	}
	/*
	 * MADV_UNMERGEABLE from view 1 leaves no KSM page, in the base too,
	 * also where view 1 does not map it: a protection change in the
	 * base drops the views' copies first.
	 */
	ASSERT_EQ(0, mprotect(p, len, PROT_READ));
	ASSERT_EQ(0, mprotect(p, len, PROT_READ | PROT_WRITE));
	/* View 1's own mappings (smaps counts the view's): none left. */
	ASSERT_EQ(0, mvt_smaps_value(self->tid[1], p, "Rss:", self->smaps,
				     SMAPS_SIZE));
	ASSERT_EQ(0, wmadvise(_metadata, self, 1, p, len, MADV_UNMERGEABLE));
	mvt_write_file("/sys/kernel/mm/ksm/run", "0");
	/* The base broke its KSM page although view 1 did not map it. */
	ASSERT_NE(merged, mvt_pfn(self->tid[0], p + self->ps))
		TH_LOG("the base still maps the KSM page");
	for (i = 0; i < 4; i++) {
		for (k = 0; k < NW; k++)
			ASSERT_EQ(i == 0 ? 0x34 : i < 2 ? 0x6b : 0x70 + i,
				  WRPC(WCH(k), MVT_LOAD,
				       (long)(p + i * self->ps)).ret & 0xff);
	}
	ASSERT_EQ(0, munmap(p, len));
}

TEST_HARNESS_MAIN
