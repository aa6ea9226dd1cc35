// SPDX-License-Identifier: GPL-2.0
/*
 * Memory cgroups and views: a process with views is charged once per page
 * of shared memory, stays charged to its cgroup when no thread runs in the
 * base view (which holds that memory) and when the base's memcg owner exits,
 * is paged out and in under the cgroup's limit with every view's contents
 * intact, and is OOM-killed as a whole, leaving nothing charged.
 *
 * Each test runs in a cgroup v2 of its own under /sys/fs/cgroup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW		3	/* worker i runs in view i; worker 0 in base */
#define MiB		(1024L * 1024)
#define SHARED_LEN	(16 * MiB)
#define UNSHARED_LEN	(4 * MiB)
#define CG_ROOT		"/sys/fs/cgroup"

FIXTURE(memcg) {
	struct mvt_worker w[NW];
	long view[NW];
	size_t ps;
	char cg[128];
	char *un;		/* UNSHARED_LEN, unshared before the views */
};

/* cgroup v2 mounted with the memory controller enabled for children. */
static int cg_ready(void)
{
	struct stat st;

	if (stat(CG_ROOT "/cgroup.controllers", &st) &&
	    mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
		return -1;
	return mvt_write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
}

/* Write @value to file @name of cgroup @cg. */
static int cg_write(const char *cg, const char *name, const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, name);
	return mvt_write_file(path, value);
}

/* The value of @key in the flat-keyed file @name of @cg ("anon 4096"). */
static long cg_key(const char *cg, const char *name, const char *key)
{
	char path[256], buf[8192], *p;
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "%s/%s", cg, name);
	memset(buf, 0, sizeof(buf));
	if (mvt_read_file(path, buf, sizeof(buf) - 1) <= 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtol(p + klen + 1, NULL, 10);
	return -1;
}

/* The single number in file @name of @cg (memory.current). */
static long cg_value(const char *cg, const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "%s/%s", cg, name);
	memset(buf, 0, sizeof(buf));
	if (mvt_read_file(path, buf, sizeof(buf) - 1) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

FIXTURE_SETUP(memcg)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	if (cg_ready())
		SKIP(return, "no cgroup v2 memory controller: %s",
		     strerror(errno));
	snprintf(self->cg, sizeof(self->cg), CG_ROOT "/mmview-%d", getpid());
	ASSERT_EQ(0, mkdir(self->cg, 0755));
	ASSERT_EQ(0, cg_write(self->cg, "cgroup.procs", "0"));
	self->un = mvt_map_populated(UNSHARED_LEN);
	ASSERT_NE(NULL, self->un);
	ASSERT_EQ(0, mmview_unshare(self->un, UNSHARED_LEN));
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(memcg)
{
	if (!self->cg[0])
		return;
	mvt_workers_stop_views(self->w, self->view, NW);
	mvt_write_file(CG_ROOT "/cgroup.procs", "0");
	rmdir(self->cg);
}

#define WCH(i) (&self->w[i].ch)

static char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Shared memory touched through two views is charged once. */
TEST_F_TIMEOUT(memcg, shared_memory_charged_once, 300)
{
	long before, after;
	char *p;

	p = map_anon(SHARED_LEN);
	ASSERT_NE(NULL, p);
	before = cg_key(self->cg, "memory.stat", "anon");
	ASSERT_LE(0, before);
	ASSERT_EQ(0, WOK(WCH(1), MVT_FILL, (long)p, SHARED_LEN, 0x5a5a));
	ASSERT_EQ(0, WOK(WCH(2), MVT_CHECK, (long)p, SHARED_LEN, 0x5a5a));
	ASSERT_EQ(0, WOK(WCH(2), MVT_FILL, (long)p, SHARED_LEN, 0xa5a5));
	ASSERT_EQ(0, WOK(WCH(0), MVT_CHECK, (long)p, SHARED_LEN, 0xa5a5));
	after = cg_key(self->cg, "memory.stat", "anon");
	ASSERT_LE(before + SHARED_LEN, after)
		TH_LOG("anon %ld -> %ld: not charged to the cgroup", before,
		       after);
	ASSERT_GE(before + SHARED_LEN + 4 * MiB, after)
		TH_LOG("anon %ld -> %ld: charged per view", before, after);
	ASSERT_EQ(0, munmap(p, SHARED_LEN));
}

/*
 * No thread runs in the base, which holds the shared memory, and the base's
 * memcg owner exits: faults through the other views stay charged to the
 * process's cgroup (before, to the root cgroup).
 */
TEST_F_TIMEOUT(memcg, base_without_threads_stays_charged, 300)
{
	long before, after;
	char *p;

	p = map_anon(2 * SHARED_LEN);
	ASSERT_NE(NULL, p);
	ASSERT_LE(0, mmview_migrate(self->view[2]));
	ASSERT_EQ(0, WOK(WCH(0), MVT_MIGRATE, self->view[1]));
	before = cg_key(self->cg, "memory.stat", "anon");
	ASSERT_EQ(0, WOK(WCH(1), MVT_FILL, (long)p, SHARED_LEN, 0x1111));
	after = cg_key(self->cg, "memory.stat", "anon");
	/* Other anonymous memory may be freed meanwhile: 3/4 of it. */
	ASSERT_LE(before + SHARED_LEN * 3 / 4, after)
		TH_LOG("anon %ld -> %ld: base faults escaped the cgroup",
		       before, after);

	/* Worker 0 owned the base last; it exits (from the base). */
	ASSERT_EQ(0, mvt_worker_stop(&self->w[0]));
	before = after;
	ASSERT_EQ(0, WOK(WCH(2), MVT_FILL, (long)(p + SHARED_LEN), SHARED_LEN,
			 0x2222));
	after = cg_key(self->cg, "memory.stat", "anon");
	ASSERT_LE(before + SHARED_LEN * 3 / 4, after)
		TH_LOG("anon %ld -> %ld: escaped after the owner exited",
		       before, after);
	ASSERT_EQ(0, WOK(WCH(1), MVT_CHECK, (long)(p + SHARED_LEN),
			 SHARED_LEN, 0x2222));
	ASSERT_LE(0, mmview_migrate(0));
	ASSERT_EQ(0, munmap(p, 2 * SHARED_LEN));
}

/*
 * The limit pages shared and unshared memory out; all views read it back and
 * write it, each seeing its own unshared copy.
 */
TEST_F_TIMEOUT(memcg, swap_under_the_limit, 600)
{
	long swapped;
	char *p;
	int i;

	if (mvt_zram_swap_on(128 * MiB))
		SKIP(return, "no zram swap");
	p = map_anon(2 * SHARED_LEN);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, WOK(WCH(1), MVT_FILL, (long)p, 2 * SHARED_LEN, 0x3131));
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, WOK(WCH(i), MVT_FILL, (long)self->un,
				 UNSHARED_LEN, 0x7000 + i));
	/*
	 * memory.high reclaims down to the limit in the writer, like
	 * memory.max, but throttles instead of OOM-killing when reclaim is
	 * slow (a smaller swap set up by another test, TCG).
	 */
	ASSERT_EQ(0, cg_write(self->cg, "memory.high", "16M"));
	swapped = cg_value(self->cg, "memory.swap.current");
	ASSERT_LE(8 * MiB, swapped)
		TH_LOG("only %ld bytes swapped under the limit", swapped);
	/*
	 * Room for all of it again: reading 32 MiB sequentially under a
	 * 16 MiB limit only measures thrashing.
	 */
	ASSERT_EQ(0, cg_write(self->cg, "memory.high", "max"));

	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		ASSERT_EQ(0, WOK(WCH(i), MVT_CHECK, (long)p, 2 * SHARED_LEN,
				 0x3131))
			TH_LOG("view %ld: shared memory lost", view);
		ASSERT_EQ(0, WOK(WCH(i), MVT_CHECK, (long)self->un,
				 UNSHARED_LEN, 0x7000 + i))
			TH_LOG("view %ld: its unshared copy lost", view);
	}
	/* Written through view 2 while swapped out, read through view 1. */
	ASSERT_EQ(0, WOK(WCH(2), MVT_FILL, (long)p, 2 * SHARED_LEN, 0x3232));
	ASSERT_EQ(0, WOK(WCH(1), MVT_CHECK, (long)p, 2 * SHARED_LEN, 0x3232));
	ASSERT_EQ(0, WOK(WCH(0), MVT_CHECK, (long)self->un, UNSHARED_LEN,
			 0x7000));
	ASSERT_EQ(0, munmap(p, 2 * SHARED_LEN));
}

/* The OOM victim: threads in views 1 and 2; view 2 touches too much. */
static void oom_child(const char *cg)
{
	struct mvt_worker w[NW];
	long view[NW];
	char *p;

	if (cg_write(cg, "cgroup.procs", "0"))
		_exit(10);
	p = map_anon(8 * SHARED_LEN);
	if (!p)
		_exit(11);
	memset(&w, 0, sizeof(w));
	for (int i = 0; i < NW; i++)
		if (mvt_worker_start(&w[i]))
			_exit(12);
	if (mvt_workers_to_views(w, view, NW))
		_exit(13);
	mvt_rpc(&w[1].ch, MVT_FILL, (long)p, SHARED_LEN, 1, 0);
	mvt_rpc(&w[2].ch, MVT_FILL, (long)p, 8 * SHARED_LEN, 2, 0);
	_exit(14);	/* survived the limit */
}

TEST_F_TIMEOUT(memcg, oom_kills_the_whole_process, 300)
{
	char cg[160];
	long cur = -1;
	int status, i;
	pid_t pid;

	snprintf(cg, sizeof(cg), "%s-oom", self->cg);
	ASSERT_EQ(0, mkdir(cg, 0755));
	ASSERT_EQ(0, cg_write(cg, "memory.max", "32M"));
	cg_write(cg, "memory.swap.max", "0");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		oom_child(cg);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status))
		TH_LOG("victim exited with %d", WEXITSTATUS(status));
	ASSERT_EQ(SIGKILL, WTERMSIG(status));
	ASSERT_LE(1, cg_key(cg, "memory.events", "oom_kill"));
	/* cgroup.procs is empty: no thread of any view is left. */
	ASSERT_EQ(-1, cg_value(cg, "cgroup.procs"));
	/* Everything it had is uncharged (views' page tables included). */
	for (i = 0; i < 100; i++) {
		cur = cg_value(cg, "memory.current");
		if (cur >= 0 && cur < 2 * MiB)
			break;
		mvt_sleep_ms(100);
	}
	ASSERT_EQ(0, cg_key(cg, "memory.stat", "anon"));
	ASSERT_GT(2 * MiB, cur) TH_LOG("%ld bytes still charged", cur);
	ASSERT_EQ(0, rmdir(cg));
}

TEST_HARNESS_MAIN
