// SPDX-License-Identifier: GPL-2.0
/*
 * A secondary MMU on a view: test_hmm's device mirror (CONFIG_TEST_HMM,
 * /dev/hmm_dmirror0) opened by a thread of a view registers on that view's
 * mm and mirrors the process's memory through it.
 *
 * The view's page tables for shared private memory are a cache of the
 * base's: when the base changes a page, the base's invalidation drops the
 * view's copy, and the view's own notifiers (the device) must hear of it,
 * or the device keeps reading a page the process no longer has.
 *
 * Migrating memory to the device from a view (migrate_vma_setup() on the
 * view's VMA) must move the pages the process has, the base's, also where
 * the view maps nothing yet, and the CPU must get them back in every view.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"
#include "../../../lib/test_hmm_uapi.h"

#define PAGES	16
#define DEVICE	"/dev/hmm_dmirror0"

struct job {
	char *p;		/* PAGES pages of shared private memory */
	size_t ps;
	long view, came_from;
	int fd;			/* the device, opened in the view */
	int (*fn)(struct job *j);
	int ret;
	struct hmm_dmirror_cmd cmd;
	char *addr;		/* what the device works on: p by default */
	size_t npages;
	char *bounce;		/* what the device read */
};

static void *job_thread(void *arg)
{
	struct job *j = arg;

	j->came_from = mmview_migrate(j->view);
	if (j->came_from < 0)
		return NULL;
	j->ret = j->fn(j);
	mmview_migrate(0);
	return NULL;
}

static int run_in_view(struct job *j)
{
	pthread_t th;

	j->ret = -1000;
	if (pthread_create(&th, NULL, job_thread, j))
		return -1000;
	pthread_join(th, NULL);
	return j->came_from < 0 ? -1000 : j->ret;
}

/* Open the device from the view: its mirror registers on the view's mm. */
static int open_device(struct job *j)
{
	j->fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	return j->fd < 0 ? -errno : 0;
}

static int device_cmd(struct job *j, unsigned long request)
{
	memset(j->bounce, 0, j->npages * j->ps);
	j->cmd = (struct hmm_dmirror_cmd) {
		.addr = (uintptr_t)j->addr,
		.ptr = (uintptr_t)j->bounce,
		.npages = j->npages,
	};
	return ioctl(j->fd, request, &j->cmd) ? -errno : 0;
}

static int device_read(struct job *j)
{
	return device_cmd(j, HMM_DMIRROR_READ);
}

static int device_migrate(struct job *j)
{
	return device_cmd(j, HMM_DMIRROR_MIGRATE_TO_DEV);
}

/* The view reads every page of the job's range back (CPU faults). */
static int cpu_read(struct job *j)
{
	size_t i;

	for (i = 0; i < j->npages * j->ps; i++)
		j->bounce[i] = ((volatile char *)j->addr)[i];
	return 0;
}


/* The first page whose first byte in @buf is not @c, or -1. */
static int first_not(const struct job *j, const char *buf, char c)
{
	int i;

	for (i = 0; i < PAGES; i++)
		if (buf[i * j->ps] != c || buf[i * j->ps + j->ps - 1] != c)
			return i;
	return -1;
}

FIXTURE(hmm) {
	struct job job;
};

FIXTURE_SETUP(hmm)
{
	struct job *j = &self->job;

	if (access(DEVICE, F_OK))
		SKIP(return, DEVICE " is missing (no CONFIG_TEST_HMM)");
	ASSERT_EQ(0, mvt_process_setup());
	j->ps = mvt_page_size();
	j->fd = -1;
	j->p = mmap(NULL, PAGES * j->ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, j->p);
	ASSERT_EQ(0, madvise(j->p, PAGES * j->ps, MADV_NOHUGEPAGE));
	j->addr = j->p;
	j->npages = PAGES;
	j->bounce = mvt_map_populated(PAGES * j->ps);
	ASSERT_NE(NULL, j->bounce);
	memset(j->p, 'A', PAGES * j->ps);
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	j->fn = open_device;
	ASSERT_EQ(0, run_in_view(j)) TH_LOG("open " DEVICE " from the view");
}

FIXTURE_TEARDOWN(hmm)
{
	struct job *j = &self->job;

	if (j->fd >= 0)
		close(j->fd);
	if (j->view > 0)
		mmview_delete(j->view);
}

TEST_F(hmm, a_device_mirroring_a_view_hears_when_the_base_drops_a_page)
{
	struct job *j = &self->job;
	int bad;

	j->fn = device_read;
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, j->bounce, 'A');
	ASSERT_EQ(-1, bad) TH_LOG("page %d: the device read %#x", bad,
				  j->bounce[bad * j->ps]);
	/* The base drops the pages and writes new ones. */
	ASSERT_EQ(0, madvise(j->p, PAGES * j->ps, MADV_DONTNEED));
	memset(j->p, 'B', PAGES * j->ps);
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, j->bounce, 'B');
	ASSERT_EQ(-1, bad)
		TH_LOG("page %d: the device still read %#x (%llu faults): it was not told",
		       bad, j->bounce[bad * j->ps],
		       (unsigned long long)j->cmd.faults);
	ASSERT_LT(0ULL, j->cmd.faults);
}

/*
 * The base's copy-on-write after fork(): the base gets a new page, the
 * view's copy of the old one goes, and the device must fault the new one.
 */
TEST_F(hmm, a_device_mirroring_a_view_hears_of_the_bases_copy_on_write)
{
	struct job *j = &self->job;
	int bad, status;
	pid_t child;

	j->fn = device_read;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ(-1, first_not(j, j->bounce, 'A'));
	child = fork();
	ASSERT_LE(0, child);
	if (!child)
		_exit(first_not(j, j->p, 'A') == -1 ? 0 : 1);
	memset(j->p, 'C', PAGES * j->ps);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("the child saw the parent's store");
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, j->bounce, 'C');
	ASSERT_EQ(-1, bad)
		TH_LOG("page %d: the device still read %#x: it was not told",
		       bad, j->bounce[bad * j->ps]);
}

/*
 * The base writes memory after the view exists, so the view maps none of
 * it: the migration must still move the base's pages, with their contents,
 * and the CPU gets them back in the base and in the view.
 */
TEST_F(hmm, migrating_from_a_view_moves_the_pages_the_process_has)
{
	struct job *j = &self->job;
	int bad;

	ASSERT_EQ(0, madvise(j->p, PAGES * j->ps, MADV_DONTNEED));
	memset(j->p, 'A', PAGES * j->ps);
	j->fn = device_migrate;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ((__u64)PAGES, j->cmd.cpages);
	bad = first_not(j, j->bounce, 'A');
	ASSERT_EQ(-1, bad) TH_LOG("page %d: the device got %#x", bad,
				  j->bounce[bad * j->ps]);
	/* The CPU gets the contents back, in the base and in the view. */
	bad = first_not(j, j->p, 'A');
	ASSERT_EQ(-1, bad) TH_LOG("page %d: the base reads %#x", bad,
				  j->p[bad * j->ps]);
	j->fn = cpu_read;
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, j->bounce, 'A');
	ASSERT_EQ(-1, bad) TH_LOG("page %d: the view reads %#x", bad,
				  j->bounce[bad * j->ps]);
	/* The device mirror reads them back from system memory. */
	j->fn = device_read;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ(-1, first_not(j, j->bounce, 'A'));
}

/*
 * Migrated from the view, brought back by the view's CPU access first: the
 * base then reads what the view reads, and a store in either shows in both.
 */
TEST_F(hmm, pages_migrated_from_a_view_come_back_to_every_view)
{
	struct job *j = &self->job;
	int bad;

	j->fn = device_migrate;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ((__u64)PAGES, j->cmd.cpages);
	j->fn = cpu_read;
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, j->bounce, 'A');
	ASSERT_EQ(-1, bad) TH_LOG("page %d: the view reads %#x", bad,
				  j->bounce[bad * j->ps]);
	memset(j->p, 'D', PAGES * j->ps);
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, j->bounce, 'D');
	ASSERT_EQ(-1, bad) TH_LOG("page %d: the view reads %#x after the base's store",
				  bad, j->bounce[bad * j->ps]);
}

/*
 * Memory the process never touched: from a view, as without views, the
 * device gets zeroed pages for it, and the process reads zeros afterwards
 * in the base and in the view (no page inserted into the view alone).
 */
TEST_F(hmm, migrating_untouched_memory_from_a_view)
{
	struct job *j = &self->job;
	char *fresh;
	int bad;

	fresh = mmap(NULL, PAGES * j->ps, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fresh);
	ASSERT_EQ(0, madvise(fresh, PAGES * j->ps, MADV_NOHUGEPAGE));
	j->addr = fresh;
	j->fn = device_migrate;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ((__u64)PAGES, j->cmd.cpages);
	ASSERT_EQ(-1, first_not(j, j->bounce, 0));
	/* A store in the base shows in the view: one page per address. */
	memset(fresh, 'E', PAGES * j->ps);
	j->fn = cpu_read;
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, j->bounce, 'E');
	ASSERT_EQ(-1, bad) TH_LOG("page %d: the view reads %#x", bad,
				  j->bounce[bad * j->ps]);
	munmap(fresh, PAGES * j->ps);
}

/*
 * As a program that runs in a view (hmm-tests inside views): the view maps
 * the memory, writes it and migrates it, all from the view; a second view
 * exists. Every page must move, with its contents.
 */
static int map_write_migrate(struct job *j)
{
	size_t i, len = PAGES * j->ps;
	int ret;

	j->addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j->addr == MAP_FAILED)
		return -errno;
	for (i = 0; i < len / sizeof(int); i++)
		((int *)j->addr)[i] = (int)i;
	ret = device_migrate(j);
	if (ret)
		return ret;
	for (i = 0; i < len / sizeof(int); i++)
		if (((int *)j->bounce)[i] != (int)i)
			return -1000 - (int)(i * sizeof(int) / j->ps);
	for (i = 0; i < len / sizeof(int); i++)
		if (((int *)j->addr)[i] != (int)i)
			return -2000 - (int)(i * sizeof(int) / j->ps);
	return munmap(j->addr, len);
}

TEST_F(hmm, a_view_migrates_memory_it_mapped_and_wrote)
{
	struct job *j = &self->job;
	long other = mmview_create();

	ASSERT_LT(0, other);
	j->fn = map_write_migrate;
	ASSERT_EQ(0, run_in_view(j))
		TH_LOG("-2: not every page migrated; -10xx: the device got a wrong page xx; -20xx: the CPU reads a wrong page xx");
	ASSERT_EQ((__u64)PAGES, j->cmd.cpages);
	ASSERT_EQ(0, mmview_delete(other));
}

/*
 * Pages the base already moved to this device: a migration from a view
 * must leave them there, as one from the base does (MIGRATE_VMA_SELECT_SYSTEM
 * collects system memory only). Faulting them back to RAM first would call
 * the driver's migrate_to_ram() from inside its own migration.
 */
TEST_F(hmm, pages_on_the_device_stay_there_when_a_view_migrates)
{
	struct job *j = &self->job;
	struct job base = *j;
	int bad, i;

	base.fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, base.fd);
	ASSERT_EQ(0, device_migrate(&base));
	ASSERT_EQ((__u64)PAGES, base.cmd.cpages);
	/*
	 * test_hmm reads back what its mirror migrated: nothing, so ENOENT.
	 * Before the fix the view's fill faulted the pages back to RAM and
	 * the migration took all PAGES of them again.
	 */
	j->fn = device_migrate;
	ASSERT_EQ(-ENOENT, run_in_view(j))
		TH_LOG("the view's migration took %llu pages",
		       (unsigned long long)j->cmd.cpages);
	/* The base's entries still name the device's pages. */
	ASSERT_EQ(0, device_cmd(&base, HMM_DMIRROR_SNAPSHOT));
	for (i = 0; i < PAGES; i++)
		EXPECT_EQ(HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
			  HMM_DMIRROR_PROT_WRITE, base.bounce[i])
			TH_LOG("page %d: the base's entry is %#x", i,
			       base.bounce[i]);
	bad = first_not(j, j->p, 'A');
	EXPECT_EQ(-1, bad) TH_LOG("page %d: the base reads %#x", bad,
				  j->p[bad * j->ps]);
	close(base.fd);
}

/*
 * Filling the view before the migration reads the base's pages: no store,
 * so what the process never wrote stays clean for soft-dirty trackers
 * (CRIU's pre-dump), as after a migration from the base.
 */
#define PM_SOFT_DIRTY	(1ULL << 55)

static bool soft_dirty(const void *addr)
{
	uint64_t ent = 0;

	mvt_pagemap(mvt_gettid(), addr, &ent);
	return ent & PM_SOFT_DIRTY;
}

TEST_F(hmm, a_migration_from_a_view_stores_nothing)
{
	struct job *j = &self->job;
	int i, dirty = 0;

	if (!soft_dirty(j->p))
		SKIP(return, "no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
	ASSERT_EQ(0, mvt_write_file("/proc/self/clear_refs", "4"));
	ASSERT_FALSE(soft_dirty(j->p));
	j->fn = device_migrate;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ((__u64)PAGES, j->cmd.cpages);
	for (i = 0; i < PAGES; i++)
		dirty += soft_dirty(j->p + i * j->ps);
	EXPECT_EQ(0, dirty)
		TH_LOG("%d of %d pages soft-dirty after a migration from a view",
		       dirty, PAGES);
	ASSERT_EQ(-1, first_not(j, j->p, 'A'));
}

/*
 * mlock2(MLOCK_ONFAULT): the memory is locked, the pages the process has are
 * present in the base, and a migration from a view must move them, as one
 * from the base does (a populate of such a range faults in nothing).
 */
TEST_F(hmm, locked_on_fault_memory_migrates_from_a_view)
{
	struct job *j = &self->job;
	int bad;

	ASSERT_EQ(0, syscall(SYS_mlock2, j->p, PAGES * j->ps, MLOCK_ONFAULT));
	j->fn = device_migrate;
	ASSERT_EQ(0, run_in_view(j));
	EXPECT_EQ((__u64)PAGES, j->cmd.cpages);
	bad = first_not(j, j->bounce, 'A');
	EXPECT_EQ(-1, bad) TH_LOG("page %d: the device got %#x", bad,
				  j->bounce[bad * j->ps]);
	ASSERT_EQ(-1, first_not(j, j->p, 'A'));
	ASSERT_EQ(0, munlock(j->p, PAGES * j->ps));
}

/* The view reads the job's first page (a CPU fault). */
static int cpu_read_first(struct job *j)
{
	j->bounce[0] = *(volatile char *)j->addr;
	return 0;
}

/*
 * A page comes back to RAM from the device through the base's fault path,
 * which starts its range as MMU_NOTIFY_MIGRATE with the device's owner. A
 * driver skips those (it updates its mappings itself; amdkfd would
 * deadlock on its own lock otherwise), so the device must keep mapping the
 * pages still on it. test_hmm's invalidation clears [start, end] including
 * the end page, so a stray MMU_NOTIFY_CLEAR of page 0 costs the device its
 * mapping of page 1 too: reading pages 1.. then needs a fault.
 */
TEST_F(hmm, a_device_keeps_its_pages_when_one_comes_back)
{
	struct job *j = &self->job;
	int bad;

	j->fn = device_migrate;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ((__u64)PAGES, j->cmd.cpages);
	j->fn = cpu_read_first;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ('A', j->bounce[0]);
	j->addr = j->p + j->ps;
	j->npages = PAGES - 1;
	j->fn = device_read;
	ASSERT_EQ(0, run_in_view(j));
	EXPECT_EQ((__u64)0, j->cmd.faults)
		TH_LOG("the device lost its mapping of a page still on it");
	bad = first_not(j, j->bounce, 'A');
	EXPECT_TRUE(bad == -1 || bad == PAGES - 1)
		TH_LOG("page %d: the device reads %#x", bad + 1,
		       j->bounce[bad * j->ps]);
}

/*
 * Read-only memory the process only read maps the shared zero page: from
 * the base the device gets a zeroed page for it, and from a view too (the
 * zero page is unshared first, as GUP unshares it for a pin).
 */
TEST_F(hmm, read_only_zero_pages_migrate_from_a_view)
{
	struct job *j = &self->job;
	char *ro;
	int i;

	ro = mmap(NULL, PAGES * j->ps, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, madvise(ro, PAGES * j->ps, MADV_NOHUGEPAGE));
	ASSERT_EQ(0, mprotect(ro, PAGES * j->ps, PROT_READ));
	for (i = 0; i < PAGES; i++)
		ASSERT_EQ(0, ((volatile char *)ro)[i * j->ps]);
	j->addr = ro;
	j->fn = device_migrate;
	ASSERT_EQ(0, run_in_view(j));
	EXPECT_EQ((__u64)PAGES, j->cmd.cpages);
	EXPECT_EQ(-1, first_not(j, j->bounce, 0));
	for (i = 0; i < PAGES; i++)
		EXPECT_EQ(0, ((volatile char *)ro)[i * j->ps]);
	munmap(ro, PAGES * j->ps);
}

/* The device writes 'W' to every page of the job's range. */
static int device_write(struct job *j)
{
	memset(j->bounce, 'W', j->npages * j->ps);
	j->cmd = (struct hmm_dmirror_cmd) {
		.addr = (uintptr_t)j->addr,
		.ptr = (uintptr_t)j->bounce,
		.npages = j->npages,
	};
	return ioctl(j->fd, HMM_DMIRROR_WRITE, &j->cmd) ? -errno : 0;
}

/*
 * Two mirrors of one device: B on the view maps the process's pages (it
 * wrote them), then A on the base migrates them to the device, which frees
 * the system pages B mapped. B must drop them although the migration's
 * range names its device as the owner (the owner names the device, not the
 * mirror that migrates), and read what the process stores afterwards.
 */
TEST_F(hmm, a_second_mirror_drops_pages_the_base_migrates)
{
	struct job *j = &self->job;
	struct job base = *j;
	char *other;
	int bad;

	j->fn = device_write;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ(-1, first_not(j, j->p, 'W'));

	base.fd = open(DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, base.fd);
	ASSERT_EQ(0, device_migrate(&base));
	ASSERT_EQ((__u64)PAGES, base.cmd.cpages);
	/* Take the freed pages for other data, if they come back first. */
	other = mvt_map_populated(4 * PAGES * j->ps);
	ASSERT_NE(NULL, other);
	memset(other, 'X', 4 * PAGES * j->ps);
	memset(j->p, 'Z', PAGES * j->ps);

	/* B's mappings of the freed pages went: it faults to read. */
	j->fn = device_read;
	ASSERT_EQ(0, run_in_view(j));
	EXPECT_LT((__u64)0, j->cmd.faults)
		TH_LOG("the view's mirror still mapped the pages the base migrated");
	bad = first_not(j, j->bounce, 'Z');
	EXPECT_EQ(-1, bad) TH_LOG("page %d: the view's mirror reads %#x",
				  bad, j->bounce[bad * j->ps]);
	munmap(other, 4 * PAGES * j->ps);
	close(base.fd);
}

TEST_HARNESS_MAIN
