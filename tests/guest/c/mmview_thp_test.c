// SPDX-License-Identifier: GPL-2.0
/*
 * Transparent huge page collapse with views: MADV_COLLAPSE from a view and
 * khugepaged collapse shared memory in the base view, which holds its one
 * copy, so every view keeps seeing the same pages; unshared memory
 * collapses in the calling view only and keeps its contents per view.
 *
 * Huge pages made by faults are the process's too: a huge zero page read in
 * one view and written in another, an mTHP (64 KiB) first touched from a
 * view, and a THP split by MADV_DONTNEED or mprotect() of part of it from a
 * view stay one set of pages for every view, also where views merged VMAs
 * that the base keeps apart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "../../../mm/gup_test.h"
#include "mmview_test_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define NW		3	/* worker i runs in view i; worker 0 in base */
#define HPAGE		(2UL << 20)
#define SMAPS_SIZE	(256 * 1024)
#define KHUGEPAGED	"/sys/kernel/mm/transparent_hugepage/khugepaged/"

FIXTURE(thp) {
	struct mvt_worker w[NW];
	long view[NW];
	pid_t tid[NW];
	char *smaps;
	char *sh;	/* one huge page of shared memory, in small pages */
	char *un;	/* one huge page of unshared memory, in small pages */
};

/* @len bytes at a huge page boundary, faulted in small pages. */
static char *map_aligned(size_t len)
{
	char *p = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(a, len, MADV_NOHUGEPAGE))
		return NULL;
	return a;
}

FIXTURE_SETUP(thp)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	/* mvt_process_setup() keeps other tests' page counts small. */
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 0L, 0L, 0L, 0L));
	self->smaps = malloc(SMAPS_SIZE);
	ASSERT_NE(NULL, self->smaps);
	self->sh = map_aligned(HPAGE);
	self->un = map_aligned(HPAGE);
	ASSERT_NE(NULL, self->sh);
	ASSERT_NE(NULL, self->un);
	memset(self->un, 0x55, HPAGE);
	ASSERT_EQ(0, mmview_unshare(self->un, HPAGE));
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
		self->tid[i] = self->w[i].tid;
	}
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(thp)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	free(self->smaps);
}

#define WCH(i) (&self->w[i].ch)

/* AnonHugePages (kB) of the VMA at @p in thread @tid's view, or -1. */
static long anon_huge_kb(FIXTURE_DATA(thp) *self, pid_t tid, void *p)
{
	return mvt_smaps_value(tid, p, "AnonHugePages:", self->smaps,
			       SMAPS_SIZE);
}

/* Shared memory in every view, written through one view, read in all. */
static void expect_shared(struct __test_metadata *_metadata,
			  FIXTURE_DATA(thp) *self, long value, int writer)
{
	int64_t pfn0;
	int i;

	ASSERT_EQ(0, WOK(WCH(writer), MVT_FILL, (long)self->sh, HPAGE, value));
	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		ASSERT_EQ(0, WOK(WCH(i), MVT_CHECK, (long)self->sh, HPAGE,
				 value))
			TH_LOG("view %ld: shared memory diverged", view);
	}
	pfn0 = mvt_pfn(self->tid[0], self->sh + HPAGE / 2);
	ASSERT_LT(0, pfn0);
	for (i = 1; i < NW; i++)
		ASSERT_EQ(pfn0, mvt_pfn(self->tid[i], self->sh + HPAGE / 2));
}

/* Every view's copy of the unshared memory is its own, intact. */
static void expect_unshared(struct __test_metadata *_metadata,
			    FIXTURE_DATA(thp) *self)
{
	int i;

	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, WOK(WCH(i), MVT_CHECK, (long)self->un, HPAGE,
				 0x1000 + i));
}

static void populate(struct __test_metadata *_metadata,
		     FIXTURE_DATA(thp) *self)
{
	int i;

	/*
	 * Half through view 1, half in the base: pages a view maps count as
	 * shared for khugepaged (max_ptes_shared), as after fork.
	 */
	ASSERT_EQ(0, WOK(WCH(1), MVT_FILL, (long)self->sh, HPAGE / 2, 0x11));
	memset(self->sh + HPAGE / 2, 0x11, HPAGE / 2);
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, WOK(WCH(i), MVT_FILL, (long)self->un, HPAGE,
				 0x1000 + i));
	ASSERT_EQ(0, anon_huge_kb(self, self->tid[0], self->sh));
	ASSERT_EQ(0, madvise(self->sh, HPAGE, MADV_HUGEPAGE));
	ASSERT_EQ(0, madvise(self->un, HPAGE, MADV_HUGEPAGE));
}

TEST_F_TIMEOUT(thp, madv_collapse_from_a_view, 300)
{
	struct mvt_res r;

	populate(_metadata, self);
	r = WRPC(WCH(1), MVT_SYSCALL, SYS_madvise, (long)self->sh, HPAGE,
		 MADV_COLLAPSE);
	ASSERT_EQ(0, r.ret) TH_LOG("MADV_COLLAPSE: %s", strerror(r.err));
	/* Collapsed where the one copy is: in the base. */
	ASSERT_EQ(2048, anon_huge_kb(self, self->tid[0], self->sh));
	expect_shared(_metadata, self, 0x22, 2);
	expect_shared(_metadata, self, 0x33, 0);

	/* Unshared: view 2's copy only. */
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_madvise, (long)self->un,
			 HPAGE, MADV_COLLAPSE));
	ASSERT_EQ(2048, anon_huge_kb(self, self->tid[2], self->un));
	expect_unshared(_metadata, self);
	/* (khugepaged may collapse view 1's copy too, but never into view 2's.) */
	ASSERT_NE(mvt_pfn(self->tid[1], self->un + HPAGE / 2),
		  mvt_pfn(self->tid[2], self->un + HPAGE / 2));
}

/* khugepaged, scanning fast, collapses the shared range in the base. */
TEST_F_TIMEOUT(thp, khugepaged_collapses_in_the_base, 300)
{
	char old_sleep[32] = "", old_shared[32] = "";
	long huge = 0;
	int i;

	if (mvt_read_file(KHUGEPAGED "scan_sleep_millisecs", old_sleep,
			  sizeof(old_sleep) - 1) <= 0)
		SKIP(return, "no khugepaged");
	mvt_read_file(KHUGEPAGED "max_ptes_shared", old_shared,
		      sizeof(old_shared) - 1);
	ASSERT_EQ(0, mvt_write_file(KHUGEPAGED "max_ptes_shared", "511"));
	ASSERT_EQ(0, mvt_write_file(KHUGEPAGED "scan_sleep_millisecs", "20"));
	populate(_metadata, self);
	for (i = 0; i < 30 * 10 && huge < 2048; i++) {
		mvt_sleep_ms(100);
		huge = anon_huge_kb(self, self->tid[0], self->sh);
	}
	mvt_write_file(KHUGEPAGED "scan_sleep_millisecs", old_sleep);
	mvt_write_file(KHUGEPAGED "max_ptes_shared", old_shared);
	ASSERT_EQ(2048, huge) TH_LOG("khugepaged did not collapse in 30 s");
	expect_shared(_metadata, self, 0x44, 1);
	expect_shared(_metadata, self, 0x55, 2);
	expect_unshared(_metadata, self);
}

/* @len bytes at a huge page boundary, MADV_HUGEPAGE, untouched. */
static char *map_huge(size_t len)
{
	char *a = map_aligned(len);

	if (!a || madvise(a, len, MADV_HUGEPAGE))
		return NULL;
	return a;
}

/* The page at @p is the same one in every view; its pfn. */
static int64_t expect_same_pfn(struct __test_metadata *_metadata,
			       FIXTURE_DATA(thp) *self, char *p)
{
	int64_t pfn = mvt_pfn(mvt_gettid(), p);
	int i;

	EXPECT_LT(0, pfn);
	for (i = 0; i < NW; i++) {
		WRPC(WCH(i), MVT_LOAD, (long)p);
		EXPECT_EQ(pfn, WRPC(WCH(i), MVT_PFN, (long)p).ret)
			TH_LOG("view %ld maps another page at %p",
			       self->view[i], p);
	}
	return pfn;
}

/* Read as the huge zero page through view 1, written through view 2. */
TEST_F_TIMEOUT(thp, huge_zero_page_then_write, 300)
{
	char *q;
	int i;

	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	mvt_write_file("/sys/kernel/mm/transparent_hugepage/use_zero_page",
		       "1");
	q = map_huge(HPAGE);
	ASSERT_NE(NULL, q);
	ASSERT_EQ(0, WRPC(WCH(1), MVT_LOAD, (long)q + 4096).ret);
	ASSERT_EQ(0, *(volatile long *)(q + 8192));
	WOK(WCH(2), MVT_STORE, (long)q + 4096, 0x2e0);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0x2e0, WRPC(WCH(i), MVT_LOAD, (long)q + 4096).ret)
			TH_LOG("view %ld", self->view[i]);
		ASSERT_EQ(0, WRPC(WCH(i), MVT_LOAD, (long)q + 8192).ret);
	}
	ASSERT_EQ(0x2e0, *(volatile long *)(q + 4096));
	expect_same_pfn(_metadata, self, q + 4096);
}

#define MTHP_DIR "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/"

/* A 64 KiB mTHP first touched from view 1: one folio for every view. */
TEST_F_TIMEOUT(thp, mthp_first_touch_from_a_view, 300)
{
	long before, after;
	int64_t pfn0, pfn;
	char buf[64];
	char *q;
	int i;

	if (mvt_write_file(MTHP_DIR "enabled", "always"))
		SKIP(return, "no 64 KiB mTHP in this kernel");
	mvt_read_file(MTHP_DIR "stats/anon_fault_alloc", buf, sizeof(buf));
	before = atol(buf);
	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "never");
	q = map_huge(HPAGE);	/* 2 MiB pages are off: "never" above */
	ASSERT_NE(NULL, q);

	WOK(WCH(1), MVT_STORE, (long)q + 3 * 4096, 0x64);
	mvt_read_file(MTHP_DIR "stats/anon_fault_alloc", buf, sizeof(buf));
	after = atol(buf);
	mvt_write_file(MTHP_DIR "enabled", "never");
	ASSERT_EQ(before + 1, after) TH_LOG("the fault made no 64 KiB folio");

	/* All 16 pages: the folio's, the same in every view. */
	pfn0 = expect_same_pfn(_metadata, self, q);
	for (i = 1; i < 16; i++) {
		pfn = expect_same_pfn(_metadata, self, q + i * 4096);
		ASSERT_EQ(pfn0 + i, pfn);
	}
	ASSERT_EQ(0x64, *(volatile long *)(q + 3 * 4096));
	WOK(WCH(2), MVT_STORE, (long)q + 9 * 4096, 0x65);
	ASSERT_EQ(0x65, *(volatile long *)(q + 9 * 4096));
	ASSERT_EQ(0x65, WRPC(WCH(1), MVT_LOAD, (long)q + 9 * 4096).ret);
	ASSERT_EQ(pfn0 + 9, expect_same_pfn(_metadata, self, q + 9 * 4096));
}

/* A THP split by MADV_DONTNEED and mprotect() of 4 KiB from views. */
TEST_F_TIMEOUT(thp, split_from_a_view, 300)
{
	char *q;
	int i;

	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	q = map_huge(HPAGE);
	ASSERT_NE(NULL, q);
	ASSERT_EQ(0, WOK(WCH(1), MVT_FILL, (long)q, HPAGE, 0x5b));
	if (anon_huge_kb(self, mvt_gettid(), q) < (long)(HPAGE >> 10))
		SKIP(return, "no THP for the range");

	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_madvise, (long)q + 3 * 4096,
			 4096, MADV_DONTNEED));
	ASSERT_EQ(0, WRPC(WCH(2), MVT_SYSCALL, SYS_mprotect,
			  (long)q + 7 * 4096, 4096, PROT_READ).ret);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, WRPC(WCH(i), MVT_LOAD, (long)q + 3 * 4096).ret)
			TH_LOG("view %ld still maps the dropped page",
			       self->view[i]);
		ASSERT_EQ(0, WOK(WCH(i), MVT_CHECK, (long)q, 3 * 4096, 0x5b));
		ASSERT_EQ(0, WOK(WCH(i), MVT_CHECK, (long)q + 4 * 4096,
				 HPAGE - 4 * 4096, 0x5b));
	}
	ASSERT_EQ(0, *(volatile long *)(q + 3 * 4096));
	expect_same_pfn(_metadata, self, q + 4 * 4096);
	expect_same_pfn(_metadata, self, q + 7 * 4096);
	/* Read-only in every view now; the page after it is writable. */
	WOK(WCH(1), MVT_STORE, (long)q + 8 * 4096, 0x5c);
	ASSERT_EQ(0x5c, *(volatile long *)(q + 8 * 4096));
	ASSERT_EQ(0x5c, WRPC(WCH(2), MVT_LOAD, (long)q + 8 * 4096).ret);
	ASSERT_EQ(0, mvt_smaps_flag(self->tid[2], q + 7 * 4096, "wr",
				    self->smaps, SMAPS_SIZE));
	ASSERT_EQ(1, mvt_smaps_flag(self->tid[1], q + 8 * 4096, "wr",
				    self->smaps, SMAPS_SIZE));
}

/*
 * A THP the base maps with a PMD is mapped with a PMD by every view that
 * faults on it (AnonHugePages of the view's VMA), before and after a store
 * through a view, and a store through one view is seen in all of them.
 */
TEST_F_TIMEOUT(thp, views_map_the_base_thp_with_a_pmd, 300)
{
	char *q;
	int i;

	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	q = map_huge(HPAGE);
	ASSERT_NE(NULL, q);
	memset(q, 0x5d, HPAGE);
	if (anon_huge_kb(self, mvt_gettid(), q) < (long)(HPAGE >> 10))
		SKIP(return, "no THP for the range");

	for (i = 1; i < NW; i++) {
		ASSERT_EQ(0x5d5d5d5d5d5d5d5dL,
			  WRPC(WCH(i), MVT_LOAD, (long)q + 5 * 4096).ret);
		ASSERT_EQ((long)(HPAGE >> 10),
			  anon_huge_kb(self, self->tid[i], q))
			TH_LOG("view %ld maps the THP with PTEs",
			       self->view[i]);
	}
	WOK(WCH(2), MVT_STORE, (long)q + 9 * 4096, 0x5e);
	ASSERT_EQ((long)(HPAGE >> 10), anon_huge_kb(self, self->tid[2], q))
		TH_LOG("a store split the view's huge mapping");
	ASSERT_EQ(0x5e, *(volatile long *)(q + 9 * 4096));
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0x5e, WRPC(WCH(i), MVT_LOAD, (long)q + 9 * 4096).ret);
	expect_same_pfn(_metadata, self, q + 9 * 4096);
	ASSERT_EQ(0, WOK(WCH(1), MVT_CHECK, (long)q + 10 * 4096,
			 HPAGE - 10 * 4096, 0x5d5d5d5d5d5d5d5dL));
}

/*
 * Views merge VMAs that the base keeps apart: a fresh huge-page range next
 * to touched memory gets an anon_vma of its own in the base at its first
 * fault, then MADV_NOHUGEPAGE makes both neighbours' flags equal. The views,
 * which had not touched the fresh range, merge it into the touched one,
 * whose anon_vma has another root. Such a view must map the base's THP
 * with PTEs: splitting a PMD mapping in a VMA of another root trips rmap's
 * checks (VM_BUG_ON_FOLIO in __page_check_anon_rmap()). Then a 4 KiB
 * mprotect() splits every view's VMA and mapping, and all views still
 * share the pages.
 */
TEST_F_TIMEOUT(thp, thp_in_a_vma_merged_only_in_views, 300)
{
	long merged_kb = (long)(2 * HPAGE >> 10);
	char *m, *q;
	int i;

	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	m = map_aligned(2 * HPAGE);
	ASSERT_NE(NULL, m);
	q = m + HPAGE;
	/* The first half: an anon_vma in the base, linked by every view. */
	memset(m, 0x61, HPAGE);
	for (i = 1; i < NW; i++)
		ASSERT_EQ(0x6161616161616161L, WRPC(WCH(i), MVT_LOAD,
						    (long)m).ret);
	/* The second half: fresh, huge, faulted in the base only. */
	ASSERT_EQ(q, mmap(q, HPAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	ASSERT_EQ(0, madvise(q, HPAGE, MADV_HUGEPAGE));
	memset(q, 0x62, HPAGE);
	ASSERT_EQ((long)(HPAGE >> 10), anon_huge_kb(self, mvt_gettid(), q))
		TH_LOG("the base got no THP for the range");
	ASSERT_EQ(0, madvise(q, HPAGE, MADV_NOHUGEPAGE));
	/* The state this test is about: one VMA in the views, two in the base. */
	ASSERT_EQ((long)(HPAGE >> 10),
		  mvt_smaps_value(mvt_gettid(), q, "Size:", self->smaps,
				  SMAPS_SIZE));
	for (i = 1; i < NW; i++) {
		long view = self->view[i];

		ASSERT_EQ(merged_kb, mvt_smaps_value(self->tid[i], q, "Size:",
						     self->smaps, SMAPS_SIZE))
			TH_LOG("view %ld did not merge the halves", view);
	}

	for (i = 1; i < NW; i++) {
		long view = self->view[i];

		ASSERT_EQ(0x6262626262626262L,
			  WRPC(WCH(i), MVT_LOAD, (long)q + 5 * 4096).ret);
		ASSERT_EQ(0, anon_huge_kb(self, self->tid[i], q))
			TH_LOG("view %ld maps a THP of another anon_vma root "
			       "with a PMD", view);
	}
	ASSERT_EQ((long)(HPAGE >> 10), anon_huge_kb(self, mvt_gettid(), q));

	/* Splits the VMAs (and the base's PMD) in every view. */
	ASSERT_EQ(0, WRPC(WCH(2), MVT_SYSCALL, SYS_mprotect,
			  (long)q + 7 * 4096, 4096, PROT_READ).ret);
	WOK(WCH(1), MVT_STORE, (long)q + 9 * 4096, 0x63);
	ASSERT_EQ(0x63, *(volatile long *)(q + 9 * 4096));
	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		ASSERT_EQ(0x63, WRPC(WCH(i), MVT_LOAD, (long)q + 9 * 4096).ret)
			TH_LOG("view %ld", view);
		ASSERT_EQ(0, WOK(WCH(i), MVT_CHECK, (long)q + 10 * 4096,
				 HPAGE - 10 * 4096, 0x6262626262626262L));
		ASSERT_EQ(0, WOK(WCH(i), MVT_CHECK, (long)m, HPAGE,
				 0x6161616161616161L));
	}
	expect_same_pfn(_metadata, self, q + 5 * 4096);
	expect_same_pfn(_metadata, self, q + 9 * 4096);
	ASSERT_EQ(0, mvt_smaps_flag(self->tid[1], q + 7 * 4096, "wr",
				    self->smaps, SMAPS_SIZE));
}

/*
 * MADV_COLLAPSE from a view over a range that changes under it: while it
 * collapses the view's unshared huge pages (taking mmap_lock again for
 * each), another thread of the view moves shared memory over the far end
 * of the range with mremap(), a layout change that every view applies, and
 * reads it. The view's own collapse stops where the unshared range now
 * ends; the shared part collapses in the base (madvise_collapse_base()),
 * never into a private copy of the view that the base's later stores would
 * not reach. (The collapse, and khugepaged, look the VMA up again after
 * dropping mmap_lock, and refuse shared memory there too; that narrower
 * window, between a scan and the collapse it starts, is not timed here.)
 */
#define CU_HPAGES	32
#define CU_MOVED	8	/* huge pages moved over the end of the range */

static struct {
	char *mem;
	long view;
	atomic_int started, done;
	int ret, err;
} cu;

static void *cu_collapser(void *arg)
{
	(void)arg;
	if (mmview_migrate(cu.view) < 0) {
		cu.ret = -1;
		cu.err = errno;
	} else {
		atomic_store(&cu.started, 1);
		cu.ret = madvise(cu.mem, CU_HPAGES * HPAGE, MADV_COLLAPSE);
		cu.err = errno;
	}
	atomic_store(&cu.done, 1);
	return NULL;
}

/* No fixture data: the views come after mmview_unshare(). */
FIXTURE(collapse) {
};

FIXTURE_SETUP(collapse)
{
}

FIXTURE_TEARDOWN(collapse)
{
}

TEST_F_TIMEOUT(collapse, from_a_view_while_shared_memory_moves_in, 600)
{
	size_t len = CU_HPAGES * HPAGE, moved = CU_MOVED * HPAGE, k;
	char *sh, *dst, *smaps = malloc(SMAPS_SIZE);
	long huge_kb;
	pthread_t th;
	int64_t pfn;

	ASSERT_NE(NULL, smaps);
	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 0L, 0L, 0L, 0L));
	/* Faults map small pages; only MADV_COLLAPSE makes huge ones. */
	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "never");
	cu.mem = map_aligned(len);
	sh = map_aligned(moved);
	ASSERT_NE(NULL, cu.mem);
	ASSERT_NE(NULL, sh);
	dst = cu.mem + len - moved;
	ASSERT_EQ(0, madvise(cu.mem, len, MADV_HUGEPAGE));
	ASSERT_EQ(0, madvise(sh, moved, MADV_HUGEPAGE));
	ASSERT_EQ(0, mmview_unshare(cu.mem, len));
	cu.view = mmview_create();
	ASSERT_LE(1, cu.view);
	memset(sh, 0x72, moved);
	ASSERT_LE(0, mmview_migrate(cu.view));
	/* The view's own writable copies: read-only ones do not collapse. */
	memset(cu.mem, 0x71, len);
	ASSERT_EQ(0, pthread_create(&th, NULL, cu_collapser, NULL));

	/* Well inside the MADV_COLLAPSE call, far from its end. */
	while (!atomic_load(&cu.started))
		;
	mvt_sleep_ms(100);
	ASSERT_FALSE(atomic_load(&cu.done))
		TH_LOG("MADV_COLLAPSE ended (%d, %s) before the move", cu.ret,
		       strerror(cu.err));
	ASSERT_EQ(dst, mremap(sh, moved, moved, MREMAP_MAYMOVE | MREMAP_FIXED,
			      dst));
	/* One read per page table: fault-around maps the rest. */
	for (k = 0; k < moved; k += HPAGE)
		ASSERT_EQ(0x72, ((volatile char *)dst)[k]);
	ASSERT_EQ(0, pthread_join(th, NULL));
	/*
	 * EINVAL only when the move came just as the collapse reached it:
	 * the range changed under it, and the base's part was not tried.
	 */
	if (cu.ret)
		ASSERT_EQ(EINVAL, cu.err) TH_LOG("MADV_COLLAPSE: %s",
						 strerror(cu.err));
	huge_kb = mvt_smaps_value(mvt_gettid(), cu.mem, "AnonHugePages:",
				  smaps, SMAPS_SIZE);
	ASSERT_EQ((long)((len - moved) >> 10), huge_kb)
		TH_LOG("the view's unshared huge pages");

	ASSERT_LE(0, mmview_migrate(0));
	if (!cu.ret)
		ASSERT_EQ((long)(moved >> 10),
			  mvt_smaps_value(mvt_gettid(), dst, "AnonHugePages:",
					  smaps, SMAPS_SIZE))
			TH_LOG("the base did not collapse the shared memory");
	memset(dst, 0x73, moved);
	pfn = mvt_pfn(mvt_gettid(), dst + 5 * 4096);
	ASSERT_LT(0, pfn);
	ASSERT_LE(0, mmview_migrate(cu.view));
	ASSERT_EQ(0, mvt_smaps_value(mvt_gettid(), dst, "AnonHugePages:",
				     smaps, SMAPS_SIZE))
		TH_LOG("the view collapsed shared memory into its own copy");
	for (k = 0; k < moved; k += 4096)
		ASSERT_EQ(0x73, ((volatile char *)dst)[k])
			TH_LOG("the view reads a copy of its own at +%zu", k);
	ASSERT_EQ(pfn, mvt_pfn(mvt_gettid(), dst + 5 * 4096));
	/* The unshared range keeps the view's own contents. */
	ASSERT_EQ(0x71, cu.mem[0]);
	ASSERT_LE(0, mmview_migrate(0));
	ASSERT_EQ(0, cu.mem[0]);
	free(smaps);
}

/*
 * THP on for this process; *@p: a huge page of 0x41 bytes that the base
 * maps with a PMD (collapsed from small pages), and *@view: a view that has
 * a page table there (it read the zero page before the collapse), so that
 * it maps the THP's pages with PTEs.
 */
static void thp_under_a_view_page_table(struct __test_metadata *_metadata,
					char **p, long *view, char *smaps)
{
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 0L, 0L, 0L, 0L));
	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	*p = map_aligned(HPAGE);
	ASSERT_NE(NULL, *p);
	*view = mmview_create();
	ASSERT_LE(1, *view);
	ASSERT_LE(0, mmview_migrate(*view));
	ASSERT_EQ(0, ((volatile char *)*p)[0]);
	ASSERT_LE(0, mmview_migrate(0));
	ASSERT_EQ(0, madvise(*p, HPAGE, MADV_HUGEPAGE));
	memset(*p, 0x41, HPAGE);
	ASSERT_EQ(0, madvise(*p, HPAGE, MADV_COLLAPSE));
	ASSERT_EQ((long)(HPAGE >> 10),
		  mvt_smaps_value(mvt_gettid(), *p, "AnonHugePages:", smaps,
				  SMAPS_SIZE));
}

/*
 * A view that maps one page of a base THP with a PTE (it had a page table
 * there before the base collapsed the range) must not mark that page
 * exclusive on its own: while the base maps the THP with a PMD, only the
 * head page says whether the process owns it. A fork() after the view is
 * gone shares the THP with the child and clears the head's mark; a stale
 * mark on the page would let the child's write reuse it, and the parent
 * would read the child's data.
 */
TEST_F_TIMEOUT(collapse, subpage_mapped_by_a_view_stays_copy_on_write_after_fork,
	       300)
{
	char *p, *smaps = malloc(SMAPS_SIZE);
	int status;
	pid_t pid;
	long view;

	ASSERT_NE(NULL, smaps);
	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	thp_under_a_view_page_table(_metadata, &p, &view, smaps);
	/* With a PTE, into its page table. */
	ASSERT_LE(0, mmview_migrate(view));
	ASSERT_EQ(0x41, ((volatile char *)p)[5 * 4096]);
	ASSERT_EQ(0, mvt_smaps_value(mvt_gettid(), p, "AnonHugePages:", smaps,
				     SMAPS_SIZE));
	ASSERT_LE(0, mmview_migrate(0));
	ASSERT_EQ(0, mmview_delete(view));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		((volatile char *)p)[5 * 4096] = 0x42;
		_exit(((volatile char *)p)[5 * 4096] == 0x42 ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(0x41, ((volatile char *)p)[5 * 4096])
		TH_LOG("the child's store reached the parent's page");
	for (size_t k = 0; k < HPAGE; k += 4096)
		ASSERT_EQ(0x41, ((volatile char *)p)[k]);
	free(smaps);
}

/*
 * Read what gup_test's long-term pin holds into @pinned (a page), then drop
 * the pin and close @fd.
 */
static void read_pin_and_stop(struct __test_metadata *_metadata, int fd,
			      long *pinned)
{
	__u64 buf = (uintptr_t)pinned;

	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_READ, &buf));
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_STOP));
	close(fd);
}

/*
 * The other side of the test above: a long-term pin taken through the
 * view on that page (gup_test, as io_uring's fixed buffers would) needs
 * the page exclusive where the mapping is read-only. The base splits its
 * PMD for it, so that the page carries its own mark, and the pin then
 * holds the process's page: the base's later store reaches it. Without the
 * split, GUP would fault for an unshare again and again. Where the mapping
 * is writable, the view's writable PTE is enough and the base keeps its
 * PMD.
 */
static void pin_through_a_view(struct __test_metadata *_metadata,
			       bool read_only)
{
	struct pin_longterm_test pin = { .flags = 0 };
	char *p, *smaps = malloc(SMAPS_SIZE);
	long *pinned;
	long view;
	int fd;

	ASSERT_NE(NULL, smaps);
	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (fd < 0)
		SKIP(return, "no gup_test (CONFIG_GUP_TEST)");
	thp_under_a_view_page_table(_metadata, &p, &view, smaps);
	/* Read-only: a read pin of a page not marked exclusive unshares. */
	if (read_only)
		ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ));

	pin.addr = (uintptr_t)(p + 5 * 4096);
	pin.size = 4096;
	pinned = mvt_map_populated(4096);
	ASSERT_NE(NULL, pinned);
	ASSERT_LE(0, mmview_migrate(view));
	ASSERT_EQ(0x41, ((volatile char *)p)[5 * 4096]);
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_START, &pin))
		TH_LOG("pin through view %ld: %s", view, strerror(errno));
	ASSERT_LE(0, mmview_migrate(0));
	/* Writable, the view's PTE needs no mark: the base keeps its PMD. */
	if (!read_only)
		ASSERT_EQ((long)(HPAGE >> 10),
			  mvt_smaps_value(mvt_gettid(), p, "AnonHugePages:",
					  smaps, SMAPS_SIZE));

	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ | PROT_WRITE));
	((volatile char *)p)[5 * 4096] = 0x43;
	read_pin_and_stop(_metadata, fd, pinned);
	ASSERT_EQ(0x43, ((char *)pinned)[0])
		TH_LOG("the pinned page is not the process's: it reads %#x",
		       ((char *)pinned)[0]);
	ASSERT_EQ(0x41, ((char *)pinned)[1]);
	ASSERT_EQ(0, mmview_delete(view));
	free(smaps);
}

TEST_F_TIMEOUT(collapse, pin_through_a_view_of_a_subpage_of_a_base_thp, 300)
{
	pin_through_a_view(_metadata, true);
}

TEST_F_TIMEOUT(collapse, pin_through_a_view_of_a_writable_base_thp, 300)
{
	pin_through_a_view(_metadata, false);
}

/*
 * A THP that the base maps with a PMD and that is pinned (gup_test, as an
 * io_uring fixed buffer would be) keeps its exclusive mark when a view
 * maps it: a view's own PMD mapping clears the head's mark as a fork()
 * does, and the base's next write fault after an mprotect() round trip
 * would then copy the page away from the pin. The view maps it with PTEs.
 */
TEST_F_TIMEOUT(collapse, a_view_keeps_a_pinned_base_thp_pinned, 300)
{
	struct pin_longterm_test pin = { .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE };
	char *p, *smaps = malloc(SMAPS_SIZE);
	long *pinned;
	long view;
	int fd;

	ASSERT_NE(NULL, smaps);
	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (fd < 0)
		SKIP(return, "no gup_test (CONFIG_GUP_TEST)");
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 0L, 0L, 0L, 0L));
	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	p = map_huge(HPAGE);
	ASSERT_NE(NULL, p);
	memset(p, 0x51, HPAGE);
	ASSERT_EQ((long)(HPAGE >> 10),
		  mvt_smaps_value(mvt_gettid(), p, "AnonHugePages:", smaps,
				  SMAPS_SIZE));
	view = mmview_create();
	ASSERT_LE(1, view);
	pin.addr = (uintptr_t)(p + 7 * 4096);
	pin.size = 4096;
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_START, &pin));

	ASSERT_LE(0, mmview_migrate(view));
	ASSERT_EQ(0x51, ((volatile char *)p)[7 * 4096]);
	ASSERT_EQ(0, mvt_smaps_value(mvt_gettid(), p, "AnonHugePages:", smaps,
				     SMAPS_SIZE))
		TH_LOG("view %ld maps the pinned THP with a PMD", view);
	ASSERT_LE(0, mmview_migrate(0));

	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ));
	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ | PROT_WRITE));
	((volatile char *)p)[7 * 4096] = 0x52;
	pinned = mvt_map_populated(4096);
	ASSERT_NE(NULL, pinned);
	read_pin_and_stop(_metadata, fd, pinned);
	ASSERT_EQ(0x52, ((char *)pinned)[0])
		TH_LOG("the store went to a copy, not the pinned page (%#x)",
		       ((char *)pinned)[0]);
	ASSERT_LE(0, mmview_migrate(view));
	ASSERT_EQ(0x52, ((volatile char *)p)[7 * 4096]);
	ASSERT_LE(0, mmview_migrate(0));
	ASSERT_EQ(0, mmview_delete(view));
	free(smaps);
}

TEST_HARNESS_MAIN
