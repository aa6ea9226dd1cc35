// SPDX-License-Identifier: GPL-2.0
/*
 * Readers of page-table state report what the process has, from any view.
 *
 * A view's page tables for shared memory are a cache of the base's: they
 * hold what the view's threads touched since the base last invalidated the
 * range. /proc/PID/pagemap, the PAGEMAP_SCAN ioctl and mincore() called from
 * (or naming a thread of) a view must report the base's entries there:
 *
 *  - pages only the base touched are present, with the base's PFN;
 *  - pages the base swapped out show the swap entry;
 *  - mincore() counts them resident;
 *  - PAGEMAP_SCAN finds them, and its uffd-wp write-protection (async mode)
 *    acts on the base, so that a store through a view after the scan is
 *    seen by the next scan, even when the view had mapped the page writable
 *    before;
 *  - unshared ranges stay the view's own;
 *  - soft-dirty (x86_64: CONFIG_MEM_SOFT_DIRTY): /proc/PID/clear_refs
 *    written for a thread of a view clears the bits pagemap reports there,
 *    the base's, and a later store through any view sets them again.
 *
 * Each thread that works in a view is a pthread started in the base that
 * migrates, does its part and migrates back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define NPAGES		16
#define TOUCHED		8	/* the base populates pages [0, TOUCHED) */

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_SOFT_DIRTY	(1ULL << 55)
#define PM_PFN_MASK	((1ULL << 55) - 1)
#define CLEAR_SOFT_DIRTY "4"

struct in_view {
	long view;
	long (*fn)(void *arg);
	void *arg;
	long ret;
	long came_from;
};

static void *in_view_thread(void *p)
{
	struct in_view *iv = p;

	iv->came_from = mmview_migrate(iv->view);
	if (iv->came_from < 0)
		return NULL;
	iv->ret = iv->fn(iv->arg);
	mmview_migrate(0);
	return NULL;
}

/* fn(arg) on a new thread in @view: its return value, -1000 on failure. */
static long run_in_view(long view, long (*fn)(void *), void *arg)
{
	struct in_view iv = { .view = view, .fn = fn, .arg = arg };
	pthread_t th;

	if (pthread_create(&th, NULL, in_view_thread, &iv))
		return -1000;
	pthread_join(th, NULL);
	return iv.came_from < 0 ? -1000 : iv.ret;
}

/* What a thread in a view records about the region. */
struct walk_io {
	char *p;
	size_t ps;
	uint64_t ent[NPAGES];		/* its /proc/self/task/TID/pagemap */
	unsigned char vec[NPAGES];	/* its mincore() */
	long scan_ret;			/* PAGEMAP_SCAN result */
	struct page_region regions[NPAGES];
	int scan_errno;
	long value;			/* a store/load operand */
	int page;			/* its page index */
};

static long read_pagemap(void *arg)
{
	struct walk_io *io = arg;
	pid_t tid = mvt_gettid();
	int i;

	for (i = 0; i < NPAGES; i++)
		if (mvt_pagemap(tid, io->p + i * io->ps, &io->ent[i]))
			return -1;
	return 0;
}

static long do_mincore(void *arg)
{
	struct walk_io *io = arg;

	return mincore(io->p, NPAGES * io->ps, io->vec) ? -errno : 0;
}

/* PAGEMAP_SCAN of the region on /proc/self/pagemap, from the caller. */
static long pagemap_scan(struct walk_io *io, unsigned long flags,
			 unsigned long category, unsigned long return_mask)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = flags,
		.start = (unsigned long)io->p,
		.end = (unsigned long)io->p + NPAGES * io->ps,
		.vec = (unsigned long)io->regions,
		.vec_len = NPAGES,
		.category_mask = category,
		.return_mask = return_mask,
	};
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(io->regions, 0, sizeof(io->regions));
	io->scan_ret = ioctl(fd, PAGEMAP_SCAN, &arg);
	io->scan_errno = io->scan_ret < 0 ? errno : 0;
	close(fd);
	return 0;
}

static long scan_present(void *arg)
{
	return pagemap_scan(arg, 0, PAGE_IS_PRESENT, PAGE_IS_PRESENT);
}

/* Report written pages and write-protect them again (uffd-wp async). */
static long scan_written_and_protect(void *arg)
{
	return pagemap_scan(arg, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			    PAGE_IS_WRITTEN, PAGE_IS_WRITTEN);
}

static long scan_written(void *arg)
{
	return pagemap_scan(arg, 0, PAGE_IS_WRITTEN, PAGE_IS_WRITTEN);
}

static long store_page(void *arg)
{
	struct walk_io *io = arg;

	*(volatile long *)(io->p + io->page * io->ps) = io->value;
	return 0;
}

static long load_page(void *arg)
{
	struct walk_io *io = arg;

	return *(volatile long *)(io->p + io->page * io->ps);
}

/* Write to /proc/self/task/<the caller>/clear_refs: 0 or -errno. */
static long clear_refs(const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/clear_refs",
		 (int)mvt_gettid());
	return mvt_write_file(path, what);
}

static long clear_soft_dirty(void *arg)
{
	return clear_refs(CLEAR_SOFT_DIRTY);
}

/* Store into every page of the region, then read its pagemap. */
static long store_all_and_read_pagemap(void *arg)
{
	struct walk_io *io = arg;
	int i;

	for (i = 0; i < NPAGES; i++)
		*(volatile long *)(io->p + i * io->ps) = io->value + i;
	return read_pagemap(arg);
}

/*
 * Does this kernel track soft-dirty (CONFIG_MEM_SOFT_DIRTY)? A new mapping
 * is soft-dirty where it does: without it, pagemap never reports the bit.
 */
static bool have_soft_dirty(size_t ps)
{
	char *q = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t ent = 0;

	if (q == MAP_FAILED)
		return false;
	*(volatile char *)q = 1;
	mvt_pagemap(mvt_gettid(), q, &ent);
	munmap(q, ps);
	return ent & PM_SOFT_DIRTY;
}

FIXTURE(walk) {
	size_t ps;
	char *p;
	long view;
	struct walk_io io;
};

FIXTURE_SETUP(walk)
{
	int i;

	self->ps = mvt_page_size();
	self->p = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->p);
	/* No THP: the cases count single pages. */
	ASSERT_EQ(0, madvise(self->p, NPAGES * self->ps, MADV_NOHUGEPAGE));
	self->view = mmview_create();
	ASSERT_LT(0, self->view) TH_LOG("mmview_create: %s", strerror(errno));
	/* Populated by the base after the view exists: the view has no copy. */
	for (i = 0; i < TOUCHED; i++)
		*(volatile long *)(self->p + i * self->ps) = 0x700 + i;
	self->io.p = self->p;
	self->io.ps = self->ps;
}

FIXTURE_TEARDOWN(walk)
{
	mmview_delete(self->view);
	munmap(self->p, NPAGES * self->ps);
}

TEST_F(walk, pagemap_of_a_view_shows_what_only_the_base_maps)
{
	pid_t tid = mvt_gettid();
	uint64_t base;
	int i;

	ASSERT_EQ(0, run_in_view(self->view, read_pagemap, &self->io));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, mvt_pagemap(tid, self->p + i * self->ps, &base));
		ASSERT_EQ(i < TOUCHED, !!(base & PM_PRESENT));
		ASSERT_EQ(!!(base & PM_PRESENT),
			  !!(self->io.ent[i] & PM_PRESENT))
			TH_LOG("page %d: base %#llx, view %#llx", i,
			       (unsigned long long)base,
			       (unsigned long long)self->io.ent[i]);
		ASSERT_EQ(base & PM_PFN_MASK, self->io.ent[i] & PM_PFN_MASK)
			TH_LOG("page %d: the view reports another page", i);
	}
}

TEST_F(walk, mincore_in_a_view_counts_what_only_the_base_maps)
{
	int i;

	ASSERT_EQ(0, run_in_view(self->view, do_mincore, &self->io));
	for (i = 0; i < NPAGES; i++) {
		int resident = self->io.vec[i] & 1;

		ASSERT_EQ(i < TOUCHED, resident)
			TH_LOG("page %d: mincore in the view says %d", i,
			       resident);
	}
}

/*
 * A userfaultfd registration lives in the base only, so it splits the
 * base's VMA and not the view's: the view's one VMA is walked in three
 * parts of the base's. mincore() must fill its vector across the parts.
 */
TEST_F(walk, mincore_in_a_view_across_base_vmas)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)self->p + 10 * self->ps,
			   .len = 2 * self->ps },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd, i;

	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, fd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(fd, UFFDIO_API, &api));
	ASSERT_EQ(0, ioctl(fd, UFFDIO_REGISTER, &reg));
	memset(self->io.vec, 0xee, sizeof(self->io.vec));
	ASSERT_EQ(0, run_in_view(self->view, do_mincore, &self->io));
	for (i = 0; i < NPAGES; i++) {
		int v = self->io.vec[i];

		ASSERT_EQ(i < TOUCHED, v)
			TH_LOG("page %d: mincore in the view says %#x", i, v);
	}
	close(fd);
}

TEST_F(walk, pagemap_scan_in_a_view_finds_what_only_the_base_maps)
{
	struct page_region *r = self->io.regions;

	ASSERT_EQ(0, run_in_view(self->view, scan_present, &self->io));
	ASSERT_EQ(1, self->io.scan_ret)
		TH_LOG("PAGEMAP_SCAN in the view: %ld (%s)", self->io.scan_ret,
		       strerror(self->io.scan_errno));
	ASSERT_EQ((unsigned long)self->p, r[0].start);
	ASSERT_EQ((unsigned long)self->p + TOUCHED * self->ps, r[0].end);
	ASSERT_EQ((__u64)PAGE_IS_PRESENT, r[0].categories);
}

TEST_F_TIMEOUT(walk, pagemap_of_a_view_shows_the_base_swap_entries, 300)
{
	pid_t tid = mvt_gettid();
	uint64_t base;
	int i, err;

	err = mvt_zram_swap_on(64UL << 20);
	ASSERT_EQ(0, err) TH_LOG("swap on zram0: %s", strerror(-err));
	/* The view maps the pages first: the pageout must drop its copies. */
	for (i = 0; i < TOUCHED; i++) {
		self->io.page = i;
		ASSERT_EQ(0x700 + i, run_in_view(self->view, load_page,
						  &self->io));
	}
	/* Pages still in another CPU's LRU batch are not paged out. */
	mvt_write_file("/proc/sys/vm/compact_memory", "1");
	ASSERT_EQ(0, madvise(self->p, NPAGES * self->ps, MADV_PAGEOUT));
	ASSERT_EQ(0, run_in_view(self->view, read_pagemap, &self->io));
	for (i = 0; i < TOUCHED; i++) {
		ASSERT_EQ(0, mvt_pagemap(tid, self->p + i * self->ps, &base));
		ASSERT_NE(0ULL, base & PM_SWAP)
			TH_LOG("page %d of the base not paged out", i);
		ASSERT_EQ(base, self->io.ent[i])
			TH_LOG("page %d: base %#llx, view %#llx", i,
			       (unsigned long long)base,
			       (unsigned long long)self->io.ent[i]);
	}
	for (i = 0; i < TOUCHED; i++) {
		self->io.page = i;
		ASSERT_EQ(0x700 + i, run_in_view(self->view, load_page,
						  &self->io));
	}
}

/* uffd-wp in async mode on the region, registered from the base. */
static int uffd_wp_async(struct __test_metadata *_metadata, char *p, size_t len)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
			    UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	};
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;

		close(fd);
		return -err;
	}
	EXPECT_EQ(0, ioctl(fd, UFFDIO_REGISTER, &reg))
		TH_LOG("UFFDIO_REGISTER: %s", strerror(errno));
	return fd;
}

TEST_F(walk, pagemap_scan_write_protect_from_a_view_sees_later_stores)
{
	struct page_region *r = self->io.regions;
	int fd, i;

	fd = uffd_wp_async(_metadata, self->p, NPAGES * self->ps);
	if (fd == -EINVAL || fd == -ENOSYS)
		SKIP(return, "no uffd-wp async on this kernel/arch (%s)",
		     strerror(-fd));
	ASSERT_LE(0, fd) TH_LOG("userfaultfd: %s", strerror(-fd));
	/* The view maps page 1 writable (the base's entry is dirty). */
	self->io.page = 1;
	self->io.value = 0x111;
	ASSERT_EQ(0, run_in_view(self->view, store_page, &self->io));

	/* Every page counts as written until the first protecting scan. */
	ASSERT_EQ(0, run_in_view(self->view, scan_written_and_protect,
				 &self->io));
	ASSERT_LE(0, self->io.scan_ret)
		TH_LOG("PAGEMAP_SCAN with PM_SCAN_WP_MATCHING in the view: %s",
		       strerror(self->io.scan_errno));
	ASSERT_EQ(0, run_in_view(self->view, scan_written, &self->io));
	ASSERT_EQ(0, self->io.scan_ret)
		TH_LOG("written pages right after protecting them: %ld",
		       self->io.scan_ret);

	/* A store through the view: its old writable copy must be gone. */
	self->io.value = 0x222;
	ASSERT_EQ(0, run_in_view(self->view, store_page, &self->io));
	/* A store through the base to page 5. */
	*(volatile long *)(self->p + 5 * self->ps) = 0x555;
	ASSERT_EQ(0, run_in_view(self->view, scan_written, &self->io));
	ASSERT_EQ(2, self->io.scan_ret)
		TH_LOG("written regions after two stores: %ld",
		       self->io.scan_ret);
	ASSERT_EQ((unsigned long)self->p + self->ps, r[0].start);
	ASSERT_EQ((unsigned long)self->p + 2 * self->ps, r[0].end);
	ASSERT_EQ((unsigned long)self->p + 5 * self->ps, r[1].start);
	ASSERT_EQ((unsigned long)self->p + 6 * self->ps, r[1].end);
	/* The same answer from the base. */
	pagemap_scan(&self->io, 0, PAGE_IS_WRITTEN, PAGE_IS_WRITTEN);
	ASSERT_EQ(2, self->io.scan_ret);
	ASSERT_EQ(0x222, *(volatile long *)(self->p + self->ps));
	for (i = 0; i < NPAGES; i++) {
		self->io.page = i;
		ASSERT_EQ(i == 1 ? 0x222 : i == 5 ? 0x555 : i < TOUCHED ?
			  0x700 + i : 0,
			  run_in_view(self->view, load_page, &self->io));
	}
	close(fd);
}

/*
 * CRIU's loop, with the process in a view: clear soft-dirty for a thread of
 * the view, store, read pagemap. The bits pagemap reports for shared memory
 * are the base's, so the clear must reach the base, and a store through the
 * view must mark the base's entry again, also where the view had mapped the
 * page writable before the clear.
 */
TEST_F(walk, soft_dirty_cleared_and_set_again_from_a_view)
{
	pid_t tid = mvt_gettid();
	uint64_t base;
	int i;

	if (!have_soft_dirty(self->ps))
		SKIP(return, "no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
	/* The view maps every page writable first. */
	self->io.value = 0x100;
	ASSERT_EQ(0, run_in_view(self->view, store_all_and_read_pagemap,
				 &self->io));
	ASSERT_EQ(0, run_in_view(self->view, clear_soft_dirty, &self->io));
	ASSERT_EQ(0, run_in_view(self->view, read_pagemap, &self->io));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, mvt_pagemap(tid, self->p + i * self->ps, &base));
		ASSERT_EQ(0, !!(self->io.ent[i] & PM_SOFT_DIRTY))
			TH_LOG("page %d: still soft-dirty in the view after its clear_refs (%#llx)",
			       i, (unsigned long long)self->io.ent[i]);
		ASSERT_EQ(0, !!(base & PM_SOFT_DIRTY))
			TH_LOG("page %d: still soft-dirty in the base after the view's clear_refs",
			       i);
	}
	/* Stores through the view: pagemap from both sides sees them. */
	self->io.value = 0x200;
	ASSERT_EQ(0, run_in_view(self->view, store_all_and_read_pagemap,
				 &self->io));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, mvt_pagemap(tid, self->p + i * self->ps, &base));
		ASSERT_EQ(1, !!(self->io.ent[i] & PM_SOFT_DIRTY))
			TH_LOG("page %d: a store through the view is not soft-dirty there",
			       i);
		ASSERT_EQ(1, !!(base & PM_SOFT_DIRTY))
			TH_LOG("page %d: a store through the view is not soft-dirty in the base",
			       i);
		ASSERT_EQ(0x200 + i, *(volatile long *)(self->p + i * self->ps));
	}
}

/*
 * The other way round: the base clears (its own /proc entry), a view that
 * had mapped the pages writable stores again; the base must see the store
 * as soft-dirty, or a checkpoint taken from the base misses it.
 */
TEST_F(walk, soft_dirty_clear_in_the_base_sees_later_stores_from_a_view)
{
	pid_t tid = mvt_gettid();
	uint64_t base;
	int i;

	if (!have_soft_dirty(self->ps))
		SKIP(return, "no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
	self->io.value = 0x300;
	ASSERT_EQ(0, run_in_view(self->view, store_all_and_read_pagemap,
				 &self->io));
	ASSERT_EQ(0, clear_refs(CLEAR_SOFT_DIRTY));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, mvt_pagemap(tid, self->p + i * self->ps, &base));
		ASSERT_EQ(0, !!(base & PM_SOFT_DIRTY)) TH_LOG("page %d", i);
	}
	self->io.value = 0x400;
	ASSERT_EQ(0, run_in_view(self->view, store_all_and_read_pagemap,
				 &self->io));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, mvt_pagemap(tid, self->p + i * self->ps, &base));
		ASSERT_EQ(1, !!(base & PM_SOFT_DIRTY))
			TH_LOG("page %d: the base missed a store through the view after its clear",
			       i);
		ASSERT_EQ(1, !!(self->io.ent[i] & PM_SOFT_DIRTY)) TH_LOG("page %d", i);
	}
}

/*
 * Unshared memory is each view's own: a clear for a thread of a view
 * clears its copy only, and a store there is soft-dirty there only.
 */
TEST_F(walk, soft_dirty_of_unshared_pages_is_per_view)
{
	pid_t tid = mvt_gettid();
	uint64_t base;
	long view;
	int i;

	if (!have_soft_dirty(self->ps))
		SKIP(return, "no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
	ASSERT_EQ(0, mmview_delete(self->view));
	ASSERT_EQ(0, mmview_unshare(self->p, NPAGES * self->ps));
	view = mmview_create();
	ASSERT_LT(0, view);
	self->view = view;
	/* The base clears, then stores into its own copy. */
	ASSERT_EQ(0, clear_refs(CLEAR_SOFT_DIRTY));
	for (i = 0; i < NPAGES; i++)
		*(volatile long *)(self->p + i * self->ps) = 0x600 + i;
	/* The view clears and stores into its copy. */
	ASSERT_EQ(0, run_in_view(view, clear_soft_dirty, &self->io));
	ASSERT_EQ(0, run_in_view(view, read_pagemap, &self->io));
	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(0, !!(self->io.ent[i] & PM_SOFT_DIRTY)) TH_LOG("page %d", i);
	self->io.value = 0x500;
	ASSERT_EQ(0, run_in_view(view, store_all_and_read_pagemap, &self->io));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, mvt_pagemap(tid, self->p + i * self->ps, &base));
		ASSERT_EQ(1, !!(self->io.ent[i] & PM_SOFT_DIRTY)) TH_LOG("page %d", i);
		ASSERT_EQ(1, !!(base & PM_SOFT_DIRTY))
			TH_LOG("page %d: the view's clear_refs cleared the base's own copy",
			       i);
		ASSERT_EQ(0x600 + i, *(volatile long *)(self->p + i * self->ps));
	}
	/* The base clears again: the view's copy keeps its bits. */
	ASSERT_EQ(0, clear_refs(CLEAR_SOFT_DIRTY));
	ASSERT_EQ(0, run_in_view(view, read_pagemap, &self->io));
	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(1, !!(self->io.ent[i] & PM_SOFT_DIRTY))
			TH_LOG("page %d: the base's clear_refs cleared the view's own copy",
			       i);
}

TEST(unshared_pages_stay_the_views_own)
{
	size_t ps = mvt_page_size();
	struct walk_io io = { .ps = ps };
	pid_t tid = mvt_gettid();
	uint64_t base;
	long view;
	char *p;
	int i;

	p = mmap(NULL, NPAGES * ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < NPAGES; i++)
		p[i * ps] = 'o';
	ASSERT_EQ(0, mmview_unshare(p, NPAGES * ps));
	view = mmview_create();
	ASSERT_LT(0, view);
	io.p = p;
	/* The view writes page 3 only: its own copy. */
	io.page = 3;
	io.value = 0x5353;
	ASSERT_EQ(0, run_in_view(view, store_page, &io));
	ASSERT_EQ(0, run_in_view(view, read_pagemap, &io));
	for (i = 0; i < NPAGES; i++) {
		ASSERT_EQ(0, mvt_pagemap(tid, p + i * ps, &base));
		ASSERT_NE(0ULL, base & PM_PRESENT);
		if (i == 3) {
			ASSERT_NE(base & PM_PFN_MASK, io.ent[i] & PM_PFN_MASK)
				TH_LOG("the view reports the base's page");
		} else {
			/* Copied at creation: the same page until written. */
			ASSERT_EQ(base & PM_PFN_MASK, io.ent[i] & PM_PFN_MASK);
		}
	}
	ASSERT_EQ('o', p[3 * ps]);
	ASSERT_EQ(0, mmview_delete(view));
	ASSERT_EQ(0, munmap(p, NPAGES * ps));
}

TEST_HARNESS_MAIN
