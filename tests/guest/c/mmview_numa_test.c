// SPDX-License-Identifier: GPL-2.0
/*
 * NUMA from views: memory policies, page migration and NUMA balancing.
 *
 * The pages of shared private memory are the base's, and the base
 * allocates them for every view. So a policy that a view sets (mbind(),
 * set_mempolicy_home_node()) must be the base's too, as must a VMA name;
 * migration asked for from a view (move_pages(), mbind() with
 * MPOL_MF_MOVE, migrate_pages() of a view's thread) must find the pages the
 * base maps, also those the view never touched (its page tables are a lazy
 * cache); and NUMA balancing must scan the memory of threads that all run
 * in views. Test guests have two NUMA nodes (tooling/src/vm/qemu.ts).
 *
 * Each thread that works in a view is a pthread started in the base that
 * migrates, does its part and migrates back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA		0x53564d41
#define PR_SET_VMA_ANON_NAME	0
#endif
#ifndef __NR_set_mempolicy_home_node
#define __NR_set_mempolicy_home_node 450
#endif

#define PAGES		256
#define NODEMASK_BITS	64

static char maps_buf[1 << 20];

static long sys_mbind(void *p, size_t len, int mode, unsigned long mask,
		      unsigned int flags)
{
	return syscall(SYS_mbind, p, len, mode, mask ? &mask : NULL,
		       mask ? NODEMASK_BITS : 0, flags);
}

/* The policy of the caller's view at @p: mode, and the nodes in *mask. */
static long policy_at(void *p, unsigned long *mask)
{
	int mode = -1;

	*mask = 0;
	if (syscall(SYS_get_mempolicy, &mode, mask, NODEMASK_BITS, p,
		    MPOL_F_ADDR))
		return -errno;
	return mode;
}

/* move_pages(2) of the caller's process: status of each page. */
static long move_pages_of(size_t n, void **pages, const int *nodes,
			  int *status, int flags)
{
	return syscall(SYS_move_pages, 0, n, pages, nodes, status, flags);
}

/* Pin the caller to the first CPU of @node; 0 or -errno. */
static int pin_to_node(int node)
{
	char path[80], buf[64];
	cpu_set_t set;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist",
		 node);
	if (mvt_read_file(path, buf, sizeof(buf)) <= 0 || buf[0] < '0' ||
	    buf[0] > '9')
		return -ENOENT;
	CPU_ZERO(&set);
	CPU_SET(atoi(buf), &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * A field of /proc/self/sched (the main thread's, CONFIG_SCHED_DEBUG): the
 * test kernels count no VM events, so /proc/vmstat has no NUMA counters.
 */
static long sched_value(const char *key)
{
	static char buf[16384];
	const char *line;
	size_t klen = strlen(key);

	if (mvt_read_file("/proc/self/sched", buf, sizeof(buf)) < 0)
		return -1;
	for (line = buf; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			line = strchr(line, ':');
			return line ? strtol(line + 1, NULL, 10) : -1;
		}
	}
	return -1;
}

struct job {
	char *p;
	size_t ps, len;
	long (*fn)(struct job *j);
	long view;
	int node;		/* the node a step asks for */
	long seconds;		/* how long a step may run */
	int status[PAGES];
	void *pages[PAGES];
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

static long bind_to_node(struct job *j)
{
	return sys_mbind(j->p, j->len, MPOL_BIND, 1UL << j->node, 0) ?
	       -errno : 0;
}

static long bind_and_move(struct job *j)
{
	size_t i;

	/* Touch every fourth page: the others only the base maps. */
	for (i = 0; i < j->len / j->ps; i += 4)
		(void)*(volatile long *)(j->p + i * j->ps);
	return sys_mbind(j->p, j->len, MPOL_BIND, 1UL << j->node,
			 MPOL_MF_MOVE | MPOL_MF_STRICT) ? -errno : 0;
}

static long name_and_bind(struct job *j)
{
	size_t half = j->len / 2;

	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, j->p, half,
		  "mvt-numa-named"))
		return -errno;
	if (sys_mbind(j->p + half, half, MPOL_BIND, 1UL << j->node, 0))
		return -errno - 1000;
	return 0;
}

static long bind_both_home(struct job *j)
{
	if (sys_mbind(j->p, j->len, MPOL_BIND, 3, 0))
		return -errno;
	if (syscall(__NR_set_mempolicy_home_node, j->p, j->len, j->node, 0))
		return -errno - 1000;
	return 0;
}

static long stat_pages(struct job *j)
{
	return move_pages_of(j->len / j->ps, j->pages, NULL, j->status, 0) ?
	       -errno : 0;
}

static long move_to_node(struct job *j)
{
	int nodes[PAGES];
	size_t i;

	/* Touch every other page: the others only the base maps. */
	for (i = 0; i < j->len / j->ps; i += 2)
		(void)*(volatile long *)(j->p + i * j->ps);
	for (i = 0; i < j->len / j->ps; i++)
		nodes[i] = j->node;
	return move_pages_of(j->len / j->ps, j->pages, nodes, j->status,
			     MPOL_MF_MOVE) ? -errno : 0;
}

/* Map the region's last page in the view, then move it by an unaligned address. */
static long move_last_page_unaligned(struct job *j)
{
	char *last = j->p + j->len - j->ps;
	void *page = last + 1;
	int node = j->node;

	(void)*(volatile long *)last;
	return move_pages_of(1, &page, &node, j->status, MPOL_MF_MOVE) ?
	       -errno : 0;
}

FIXTURE(numa) {
	size_t ps;
	char *map;	/* with a PROT_NONE guard page on each side */
	struct job job;
};

FIXTURE_SETUP(numa)
{
	size_t ps = mvt_page_size(), i;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node: the guest has no second one");
	ASSERT_EQ(0, mvt_process_setup());
	/* The base's own allocations are local to node 0. */
	ASSERT_EQ(0, pin_to_node(0));
	self->ps = ps;
	self->map = mmap(NULL, (PAGES + 2) * ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(0, mprotect(self->map, ps, PROT_NONE));
	ASSERT_EQ(0, mprotect(self->map + (PAGES + 1) * ps, ps, PROT_NONE));
	self->job.p = self->map + ps;
	self->job.ps = ps;
	self->job.len = PAGES * ps;
	for (i = 0; i < PAGES; i++)
		self->job.pages[i] = self->job.p + i * ps;
	ASSERT_EQ(0, madvise(self->job.p, self->job.len, MADV_NOHUGEPAGE));
}

FIXTURE_TEARDOWN(numa)
{
	if (self->job.view > 0)
		mmview_delete(self->job.view);
	if (self->map)
		munmap(self->map, (PAGES + 2) * self->ps);
}

/* Fill every page from the base (on node 0, where the base runs). */
static void fill(struct job *j, long tag)
{
	size_t i;

	for (i = 0; i < j->len / j->ps; i++)
		*(long *)(j->p + i * j->ps) = tag + i;
}

/* How many pages of the region the base has on @node (move_pages status). */
static long pages_on(struct job *j, int node, int *first_other)
{
	int status[PAGES];
	long n = 0;
	size_t i;

	*first_other = -1;
	if (move_pages_of(j->len / j->ps, j->pages, NULL, status, 0))
		return -errno;
	for (i = 0; i < j->len / j->ps; i++) {
		if (status[i] == node)
			n++;
		else if (*first_other < 0)
			*first_other = status[i];
	}
	return n;
}

/* The first page whose status is not @want, or -1. */
static int first_not(const struct job *j, int want)
{
	size_t i;

	for (i = 0; i < j->len / j->ps; i++)
		if (j->status[i] != want)
			return i;
	return -1;
}

static int contents_intact(struct job *j, long tag)
{
	size_t i;

	for (i = 0; i < j->len / j->ps; i++)
		if (*(long *)(j->p + i * j->ps) != tag + (long)i)
			return 0;
	return 1;
}

TEST_F(numa, mbind_from_a_view_places_the_pages_the_base_allocates)
{
	struct job *j = &self->job;
	unsigned long mask;
	int other;

	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	j->node = 1;
	j->fn = bind_to_node;
	ASSERT_EQ(0, run_in_view(j));
	/* The base's VMA has the policy: it allocates for every view. */
	ASSERT_EQ(MPOL_BIND, policy_at(j->p, &mask))
		TH_LOG("the base's policy after a view's mbind()");
	ASSERT_EQ(2UL, mask);
	fill(j, 0x100);
	ASSERT_EQ(PAGES, pages_on(j, 1, &other))
		TH_LOG("a page the base allocated is on node %d, not 1", other);
	ASSERT_TRUE(contents_intact(j, 0x100));
}

TEST_F(numa, policies_and_names_from_a_view_are_in_every_view)
{
	struct job *j = &self->job;
	size_t half = j->len / 2;
	unsigned long mask;
	char path[64];
	long other_view;

	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	other_view = mmview_create();
	ASSERT_LT(0, other_view);
	j->node = 1;
	j->fn = name_and_bind;
	ASSERT_EQ(0, run_in_view(j));
	/* In the base: */
	ASSERT_EQ(MPOL_DEFAULT, policy_at(j->p, &mask));
	ASSERT_EQ(MPOL_BIND, policy_at(j->p + half, &mask));
	snprintf(path, sizeof(path), "/proc/self/task/%d/maps",
		 (int)mvt_gettid());
	ASSERT_LT(0, mvt_read_file(path, maps_buf, sizeof(maps_buf)));
	ASSERT_NE(NULL, strstr(maps_buf, "[anon:mvt-numa-named]"))
		TH_LOG("the base's maps do not show the name a view gave");
	/* And in a view that did nothing: */
	ASSERT_LE(0, mmview_migrate(other_view));
	ASSERT_EQ(MPOL_BIND, policy_at(j->p + half, &mask));
	ASSERT_EQ(2UL, mask);
	ASSERT_LT(0, mvt_read_file(path, maps_buf, sizeof(maps_buf)));
	ASSERT_LE(0, mmview_migrate(0));
	ASSERT_NE(NULL, strstr(maps_buf, "[anon:mvt-numa-named]"));
	mmview_delete(other_view);
}

TEST_F(numa, a_home_node_set_from_a_view_places_the_base_s_pages)
{
	struct job *j = &self->job;
	unsigned long mask;
	int other;

	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	j->node = 1;
	j->fn = bind_both_home;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ(MPOL_BIND, policy_at(j->p, &mask));
	ASSERT_EQ(3UL, mask);
	/* Bound to both nodes, the base on node 0: the home node decides. */
	fill(j, 0x200);
	ASSERT_EQ(PAGES, pages_on(j, 1, &other))
		TH_LOG("a page is on node %d: the home node did not reach the base",
		       other);
}

TEST_F(numa, move_pages_from_a_view_sees_and_moves_the_base_s_pages)
{
	struct job *j = &self->job;
	int other, bad;

	fill(j, 0x300);
	ASSERT_EQ(PAGES, pages_on(j, 0, &other));
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	/* A fresh view maps none of them, yet they are there. */
	j->fn = stat_pages;
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, 0);
	ASSERT_EQ(-1, bad)
		TH_LOG("page %d: status %d from the view", bad,
		       j->status[bad]);
	j->node = 1;
	j->fn = move_to_node;
	ASSERT_EQ(0, run_in_view(j));
	bad = first_not(j, 1);
	ASSERT_EQ(-1, bad)
		TH_LOG("page %d: move_pages() from the view gave %d", bad,
		       j->status[bad]);
	ASSERT_EQ(PAGES, pages_on(j, 1, &other));
	ASSERT_TRUE(contents_intact(j, 0x300));
}

/*
 * move_pages() takes any address in a page: the copies the view drops
 * first are whole pages, also for the last page of a mapping (a zap of a
 * range that ends inside a page would run past the mapping's end).
 */
TEST_F(numa, move_pages_from_a_view_by_an_unaligned_address_in_the_last_page)
{
	struct job *j = &self->job;
	void *last = j->p + j->len - j->ps;
	int status = -1;

	fill(j, 0x380);
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	j->node = 1;
	j->fn = move_last_page_unaligned;
	ASSERT_EQ(0, run_in_view(j));
	ASSERT_EQ(1, j->status[0]);
	ASSERT_EQ(0, move_pages_of(1, &last, NULL, &status, 0));
	ASSERT_EQ(1, status);
	ASSERT_TRUE(contents_intact(j, 0x380));
}

TEST_F(numa, mbind_move_from_a_view_migrates_what_only_the_base_maps)
{
	struct job *j = &self->job;
	int other;

	fill(j, 0x400);
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	j->node = 1;
	j->fn = bind_and_move;
	ASSERT_EQ(0, run_in_view(j))
		TH_LOG("mbind(MPOL_MF_MOVE | MPOL_MF_STRICT) from the view");
	ASSERT_EQ(PAGES, pages_on(j, 1, &other))
		TH_LOG("a page stayed on node %d", other);
	ASSERT_TRUE(contents_intact(j, 0x400));
}

struct sleeper {
	long view, came_from;
	pid_t tid;
	int go[2], done[2];
};

static void *sleeper_thread(void *arg)
{
	struct sleeper *s = arg;
	char c;

	s->came_from = mmview_migrate(s->view);
	s->tid = mvt_gettid();
	if (write(s->go[1], "r", 1) != 1 || read(s->done[0], &c, 1) != 1)
		c = 0;
	if (s->came_from >= 0)
		mmview_migrate(0);
	return NULL;
}

TEST_F(numa, migrate_pages_of_a_thread_in_a_view_moves_the_base_s_pages)
{
	struct job *j = &self->job;
	unsigned long from = 1, to = 2;
	struct sleeper s = { 0 };
	pthread_t th;
	long left;
	char c;
	int other;

	fill(j, 0x500);
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	s.view = j->view;
	ASSERT_EQ(0, pipe(s.go));
	ASSERT_EQ(0, pipe(s.done));
	ASSERT_EQ(0, pthread_create(&th, NULL, sleeper_thread, &s));
	ASSERT_EQ(1, read(s.go[0], &c, 1));
	ASSERT_LE(0, s.came_from);
	/* The thread's mm is the view, which maps none of the region. */
	left = syscall(SYS_migrate_pages, s.tid, NODEMASK_BITS, &from, &to);
	ASSERT_EQ(1, write(s.done[1], "d", 1));
	pthread_join(th, NULL);
	ASSERT_LE(0, left) TH_LOG("migrate_pages: %s", strerror(errno));
	ASSERT_EQ(PAGES, pages_on(j, 1, &other))
		TH_LOG("a page stayed on node %d", other);
	ASSERT_TRUE(contents_intact(j, 0x500));
}

/* Reads the region for j->seconds; how many passes found it intact. */
static long read_for_a_while(struct job *j)
{
	struct timespec start, now;
	long passes = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (!contents_intact(j, 0x600))
			return -1;
		passes++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < j->seconds);
	return passes;
}

/*
 * After a live patch every thread runs in a view and none in the base:
 * NUMA balancing must still scan the shared memory (in the base, where the
 * pages are) and take the hinting faults, which must resolve.
 */
TEST_F(numa, balancing_scans_memory_that_only_threads_in_views_use)
{
	struct job *j = &self->job;
	long faults, migrated, passes;
	char old[16] = "0";

	fill(j, 0x600);
	j->view = mmview_create();
	ASSERT_LT(0, j->view);
	ASSERT_EQ(0, sched_value("total_numa_faults"))
		TH_LOG("NUMA faults before balancing was on");
	ASSERT_LT(0, mvt_read_file("/proc/sys/kernel/numa_balancing", old,
				   sizeof(old)));
	ASSERT_EQ(0, mvt_write_file("/proc/sys/kernel/numa_balancing", "1"));
	/* This thread, the only one, moves into the view and stays there. */
	ASSERT_LE(0, mmview_migrate(j->view));
	j->seconds = 20;
	passes = read_for_a_while(j);
	ASSERT_LE(0, mmview_migrate(0));
	mvt_write_file("/proc/sys/kernel/numa_balancing", old);
	faults = sched_value("total_numa_faults");
	migrated = sched_value("numa_pages_migrated");
	ASSERT_LT(0, passes) TH_LOG("the region read wrong under balancing");
	/*
	 * The thread's hinting faults, counted at each scan pass of its mm:
	 * none unless the shared memory, all this thread uses, was marked.
	 */
	ASSERT_LT(0, faults)
		TH_LOG("no NUMA hinting fault in 20 s (%ld passes, %ld pages migrated)",
		       passes, migrated);
	TH_LOG("%ld NUMA faults, %ld pages migrated, %ld passes", faults,
	       migrated, passes);
}

TEST_HARNESS_MAIN
