// SPDX-License-Identifier: GPL-2.0
/*
 * A view's page tables for shared private memory fill on demand (issue 16).
 *
 * mmview_create() copies the VMAs and the unshared ranges only: the new
 * view maps none of the base's pages of shared memory. A fault in the view
 * on a page the base already maps takes over every present entry of the
 * same base page table (fault-around); a first touch maps only its page.
 * Each case checks what the view maps through its own smaps (the one
 * reader that shows the view's cache), and that the contents are the
 * base's whichever way they were mapped.
 *
 * Each thread that works in a view is a pthread started in the base that
 * migrates, does its part and migrates back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define PM_UFFD_WP	(1ULL << 57)

#define REGION		(8UL << 20)	/* four page tables' worth on 4 KiB pages */
#define PMD_SPAN	(2UL << 20)

static char smaps_buf[1 << 20];

struct job {
	char *p;
	size_t ps, len;
	long (*fn)(struct job *j);
	long view;
	long page;		/* the page a step touches */
	long value;
	long rss_kb[2];		/* the view's Rss of the region: before, after */
	long pte_kb[2];		/* the view's VmPTE: before, after */
};

/* j->fn(j) on a new thread in j->view: its return value, -1000 on failure. */
static long job_call(void *arg)
{
	struct job *j = arg;

	return j->fn(j);
}

static long run_in_view(struct job *j)
{
	return mvt_run_in_view(j->view, job_call, j);
}

static long rss_kb(struct job *j)
{
	return mvt_smaps_value(mvt_gettid(), j->p, "Rss:", smaps_buf,
			       sizeof(smaps_buf));
}

/* VmPTE of the caller's view, in KiB. */
static long vm_pte_kb(void)
{
	char path[64], buf[4096];
	const char *line;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status",
		 (int)mvt_gettid());
	if (mvt_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	line = strstr(buf, "VmPTE:");
	return line ? strtol(line + 6, NULL, 10) : -1;
}

/* Read j->page; Rss before and after. The value read is returned. */
static long read_one(struct job *j)
{
	long v;

	j->rss_kb[0] = rss_kb(j);
	v = *(volatile long *)(j->p + j->page * j->ps);
	j->rss_kb[1] = rss_kb(j);
	return v;
}

/* Write j->value to j->page; Rss before and after. */
static long write_one(struct job *j)
{
	j->rss_kb[0] = rss_kb(j);
	*(volatile long *)(j->p + j->page * j->ps) = j->value;
	j->rss_kb[1] = rss_kb(j);
	return 0;
}

/* Sum of every page's first word; VmPTE before and after. */
static long read_all(struct job *j)
{
	long sum = 0;
	size_t i;

	j->pte_kb[0] = vm_pte_kb();
	for (i = 0; i < j->len / j->ps; i++)
		sum += *(volatile long *)(j->p + i * j->ps);
	j->pte_kb[1] = vm_pte_kb();
	return sum;
}

/* Read j->page, then store j->value + i into every page. */
static long read_one_then_write_all(struct job *j)
{
	size_t i;

	(void)*(volatile long *)(j->p + j->page * j->ps);
	for (i = 0; i < j->len / j->ps; i++)
		*(volatile long *)(j->p + i * j->ps) = j->value + i;
	return 0;
}

FIXTURE(lazy) {
	size_t ps;
	char *map;	/* with a PROT_NONE guard page on each side */
	struct job job;
};

FIXTURE_SETUP(lazy)
{
	size_t ps = mvt_page_size();

	ASSERT_EQ(0, mvt_process_setup());
	self->ps = ps;
	self->map = mmap(NULL, REGION + 2 * ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	/* Guards: the region is a VMA of its own, whatever is mapped next. */
	ASSERT_EQ(0, mprotect(self->map, ps, PROT_NONE));
	ASSERT_EQ(0, mprotect(self->map + ps + REGION, ps, PROT_NONE));
	self->job.p = self->map + ps;
	self->job.ps = ps;
	self->job.len = REGION;
	/* Page-granular: one entry per page. */
	ASSERT_EQ(0, madvise(self->job.p, REGION, MADV_NOHUGEPAGE));
}

FIXTURE_TEARDOWN(lazy)
{
	if (self->job.view > 0)
		mmview_delete(self->job.view);
	munmap(self->map, REGION + 2 * self->ps);
}

/* Bytes of [p, p + len) in the page table (PMD_SPAN block) of @addr. */
static size_t table_share(const char *p, size_t len, const char *addr)
{
	uintptr_t lo = (uintptr_t)addr & ~(PMD_SPAN - 1), hi = lo + PMD_SPAN;
	uintptr_t s = (uintptr_t)p, e = s + len;

	if (s > lo)
		lo = s;
	if (e < hi)
		hi = e;
	return hi > lo ? hi - lo : 0;
}

TEST_F(lazy, a_new_view_maps_no_shared_page_until_it_faults)
{
	struct job *j = &self->job;
	size_t pages = REGION / self->ps, i, expect;
	long sum = 0;

	for (i = 0; i < pages; i++) {
		*(long *)(j->p + i * self->ps) = 0x1000 + i;
		sum += 0x1000 + i;
	}
	j->view = mmview_create();
	ASSERT_LT(0, j->view) TH_LOG("mmview_create: %s", strerror(errno));

	/* One read in the middle of the region: its page table, whole. */
	j->page = pages / 2 + 3;
	j->fn = read_one;
	ASSERT_EQ(0x1000 + j->page, run_in_view(j));
	ASSERT_EQ(0, j->rss_kb[0])
		TH_LOG("a fresh view maps %ld KiB of the base's memory", j->rss_kb[0]);
	expect = table_share(j->p, REGION, j->p + j->page * self->ps);
	ASSERT_EQ((long)(expect >> 10), j->rss_kb[1])
		TH_LOG("one fault mapped %ld KiB, its page table holds %zu KiB of the region",
		       j->rss_kb[1], expect >> 10);

	/* Every page reads the base's value, and the page tables grow. */
	j->fn = read_all;
	ASSERT_EQ(sum, run_in_view(j));
	ASSERT_LE(0, j->pte_kb[0]);
	/*
	 * The region covers REGION / PMD_SPAN - 1 page tables of its own
	 * (the two at its ends may be shared with neighbours), one of which
	 * the first read made: the others are made now, a copy at creation
	 * would have made them all.
	 */
	ASSERT_LE((long)(REGION / PMD_SPAN - 2) * (long)(self->ps >> 10),
		  j->pte_kb[1] - j->pte_kb[0])
		TH_LOG("VmPTE grew from %ld to %ld KiB reading the region",
		       j->pte_kb[0], j->pte_kb[1]);
}

TEST_F(lazy, a_first_touch_in_a_view_maps_only_its_page)
{
	struct job *j = &self->job;

	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	j->page = 17;
	j->value = 0x77;
	j->fn = write_one;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ(0, j->rss_kb[0]);
	ASSERT_EQ((long)(self->ps >> 10), j->rss_kb[1]);
	ASSERT_EQ(0x77, *(long *)(j->p + 17 * self->ps));
	/* The neighbours were never touched: zero in the base too. */
	ASSERT_EQ(0, *(long *)(j->p + 16 * self->ps));
}

TEST_F(lazy, fault_around_maps_only_what_the_base_maps)
{
	struct job *j = &self->job;
	size_t i, pages = PMD_SPAN / self->ps;
	char *block;

	/* The first whole page table of the region: every third page. */
	block = (char *)(((uintptr_t)j->p + PMD_SPAN - 1) & ~(PMD_SPAN - 1));
	for (i = 0; i < pages; i += 3)
		*(long *)(block + i * self->ps) = 0x3000 + i;
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	j->page = (block - j->p) / self->ps + 6;
	j->fn = read_one;
	ASSERT_EQ(0x3000 + 6, run_in_view(j));
	ASSERT_EQ(0, j->rss_kb[0]);
	ASSERT_EQ((long)(((pages + 2) / 3) * (self->ps >> 10)), j->rss_kb[1]);
}

/*
 * Fault-around maps clean pages read-only: a store through the view after
 * it must still fault through the base and dirty the base's entry, or a
 * discard of lazily freed memory would drop it (issue 14 item 2).
 */
TEST_F(lazy, stores_after_fault_around_survive_lazy_free)
{
	struct job *j = &self->job;
	size_t i, pages = 64;

	j->len = pages * self->ps;
	for (i = 0; i < pages; i++)
		*(long *)(j->p + i * self->ps) = 0x4000 + i;
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	ASSERT_EQ(0, madvise(j->p, j->len, MADV_FREE));
	j->page = 5;
	j->value = 0x5000;
	j->fn = read_one_then_write_all;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ(0, madvise(j->p, j->len, MADV_PAGEOUT));
	for (i = 0; i < pages; i++)
		ASSERT_EQ(0x5000 + (long)i, *(long *)(j->p + i * self->ps))
			TH_LOG("page %zu: the view's store was lost", i);
}

/*
 * Creation touches nothing in the base: pages shared with a fork() child
 * stay shared, and the first store through a view copies them in the base
 * for every view, leaving the child's copy alone.
 */
TEST_F(lazy, pages_shared_with_a_child_are_copied_on_the_views_first_store)
{
	struct job *j = &self->job;
	int go[2], back[2];
	long seen = 0;
	pid_t pid;

	*(long *)j->p = 0x6000;
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(back));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char c;
		long v;

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		v = *(volatile long *)j->p;
		_exit(write(back[1], &v, sizeof(v)) == sizeof(v) ? 0 : 3);
	}
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	j->page = 0;
	j->value = 0x6001;
	j->fn = write_one;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ(0x6001, *(volatile long *)j->p);
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ((ssize_t)sizeof(seen), read(back[0], &seen, sizeof(seen)));
	ASSERT_EQ(0x6000, seen) TH_LOG("the child sees the view's store");
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
}

/*
 * A view's copy of a page in a locked VMA counts as a mapping that locks it:
 * the copies that fault-around makes, and that the base's notifier drops
 * again, must leave the pages mlocked (Mlocked in /proc/meminfo).
 */
TEST_F(lazy, copies_in_a_locked_vma_keep_the_pages_mlocked)
{
	struct job *j = &self->job;
	long before, after;
	int round;

	ASSERT_EQ(0, mlock(j->p, REGION)) TH_LOG("mlock: %s", strerror(errno));
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	mvt_write_file("/proc/sys/vm/stat_refresh", "1");
	before = mvt_meminfo_kb("Mlocked");
	ASSERT_LE((long)(REGION >> 10), before);
	for (round = 0; round < 3; round++) {
		/* The view maps a page table's worth; the base drops it again. */
		j->page = (REGION / self->ps) / 2;
		j->fn = read_one;
		ASSERT_EQ(0, run_in_view(j));
		ASSERT_LT(0, j->rss_kb[1]);
		ASSERT_EQ(0, mprotect(j->p, REGION, PROT_READ));
		ASSERT_EQ(0, mprotect(j->p, REGION, PROT_READ | PROT_WRITE));
	}
	mvt_write_file("/proc/sys/vm/stat_refresh", "1");
	after = mvt_meminfo_kb("Mlocked");
	ASSERT_GT(1024, before - after)
		TH_LOG("Mlocked fell from %ld to %ld KiB while the region stayed locked",
		       before, after);
	ASSERT_EQ(0, munlock(j->p, REGION));
}

/*
 * Fault-around peeks at the base's page tables before the base fault. For
 * hugetlb there is no page table to peek at: a leaf or non-present huge
 * entry read as a table would be "bad" and cleared, and with it the uffd-wp
 * marker of a write-protected, unpopulated huge page (arm64).
 */
TEST(hugetlb_uffd_wp_marker_survives_a_view_fault)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	};
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	const size_t hp = 2UL << 20;
	struct job j = { 0 };
	uint64_t ent = 0;
	int uffd;
	char *p;

	mvt_write_file("/proc/sys/vm/nr_hugepages", "4");
	if (mvt_meminfo_kb("HugePages_Free") < 1 ||
	    mvt_meminfo_kb("Hugepagesize") != (long)(hp >> 10))
		SKIP(return, "no free 2 MiB huge page in this guest");
	p = mmap(NULL, hp, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api))
		TH_LOG("UFFDIO_API with WP_HUGETLBFS_SHMEM: %s", strerror(errno));
	reg.range.start = (unsigned long)p;
	reg.range.len = hp;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	/* Unpopulated: the protection is a marker in the huge entry. */
	wp.range = reg.range;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_WRITEPROTECT, &wp));

	j.view = mmview_create();
	ASSERT_LT(0, j.view);
	j.p = p;
	j.ps = mvt_page_size();
	j.len = hp;
	j.page = 0;
	j.fn = read_one;
	ASSERT_EQ(0, run_in_view(&j));
	/* The read populated the page in the base, still write-protected. */
	ASSERT_EQ(0, mvt_pagemap(mvt_gettid(), p, &ent));
	ASSERT_EQ(1, !!(ent & PM_UFFD_WP))
		TH_LOG("the base's huge page lost its uffd-wp protection (pagemap %#llx)",
		       (unsigned long long)ent);
	ASSERT_EQ(0, mmview_delete(j.view));
	close(uffd);
	munmap(p, hp);
}

TEST_HARNESS_MAIN
