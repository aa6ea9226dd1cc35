// SPDX-License-Identifier: GPL-2.0
/*
 * Creating a view against forking a process, at a populated anonymous RSS of
 * 1 MiB, 64 MiB and 1 GiB: the time of mmview_create() (+ mmview_delete())
 * against fork() + _exit() + waitpid(), and the memory a view adds (page
 * tables and slab from /proc/meminfo, slab caches from /proc/slabinfo)
 * against the memory a forked child adds; and how fast a thread in a fresh
 * view reads memory the base populated (one byte per page: the view's page
 * tables fill on demand, a page table per fault) against the base's own
 * first touch of as much fresh memory.  And how long another thread of the
 * process, one that maps, touches and unmaps a page in a loop, is held up
 * at most while the process creates a view, against while it forks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "bench_util.h"

/* Cases measured together in one process holding the populated memory. */
enum {
	C_FORK,			/* fork + _exit + waitpid */
	C_CREATE,		/* mmview_create */
	C_DELETE,		/* mmview_delete of an unused view */
	C_CREATE_DELETE,	/* both */
	C_PT_VIEW,		/* PageTables added per view */
	C_SLAB_VIEW,		/* Slab added per view */
	C_SLABINFO_VIEW,	/* /proc/slabinfo bytes added per view */
	C_PT_FORK,		/* PageTables added by a forked child */
	C_VIEW_READ,		/* a fresh view reads every page, per page */
	C_FIRST_TOUCH,		/* the base writes fresh memory, per page */
	C_STALL_FORK,		/* longest stall of a busy thread during fork */
	C_STALL_CREATE,		/* the same during mmview_create */
	C_COUNT
};

struct run {
	long rss_mib;
	/* Views created at once for the memory cases: enough that the
	 * page-granular slab counters move. */
	int mem_views;
	/* Forked children kept at once for pagetables_per_fork. */
	int mem_children;
	/* Repetitions of the memory cases (the counters are exact). */
	int mem_reps;
};

static long settle_kb(const char *key)
{
	/* Let deferred frees (RCU) of earlier iterations finish. */
	usleep(20000);
	bench_vmstat_refresh();
	return bench_meminfo_kb(key);
}

static int time_fork(struct bench_child_ctx *ctx)
{
	for (int i = -1; i < bench_ctx_reps(ctx); i++) {
		uint64_t t0 = bench_now_ns();
		int status;
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0)
			return bench_fail(ctx, "fork: %s", strerror(errno));
		if (waitpid(pid, &status, 0) != pid)
			return bench_fail(ctx, "waitpid: %s", strerror(errno));
		if (i >= 0)
			bench_ctx_samples(ctx, C_FORK)[i] = (double)(bench_now_ns() - t0);
	}
	return 0;
}

static int time_create(struct bench_child_ctx *ctx)
{
	for (int i = -1; i < bench_ctx_reps(ctx); i++) {
		uint64_t t0 = bench_now_ns(), t1, t2;
		long id = mmview_create();

		t1 = bench_now_ns();
		if (id < 0)
			return bench_fail(ctx, "mmview_create: %s", strerror(errno));
		if (mmview_delete(id))
			return bench_fail(ctx, "mmview_delete: %s", strerror(errno));
		t2 = bench_now_ns();
		if (i >= 0) {
			bench_ctx_samples(ctx, C_CREATE)[i] = (double)(t1 - t0);
			bench_ctx_samples(ctx, C_DELETE)[i] = (double)(t2 - t1);
			bench_ctx_samples(ctx, C_CREATE_DELETE)[i] = (double)(t2 - t0);
		}
	}
	return 0;
}

static struct bench_slab_snapshot slab_before, slab_after;

/* Memory added per view: create mem_views views, compare counters, delete them. */
static int memory_per_view(struct bench_child_ctx *ctx, const struct run *r)
{
	long ids[64];
	int n = r->mem_views;
	bool slabinfo = true;

	for (int i = -1; i < r->mem_reps; i++) {
		long pt0 = settle_kb("PageTables"), slab0 = bench_meminfo_kb("Slab");
		long pt1, slab1;

		slabinfo = slabinfo && bench_slabinfo_snapshot(&slab_before) == 0;
		for (int v = 0; v < n; v++) {
			ids[v] = mmview_create();
			if (ids[v] < 0)
				return bench_fail(ctx, "mmview_create: %s", strerror(errno));
		}
		pt1 = settle_kb("PageTables");
		slab1 = bench_meminfo_kb("Slab");
		slabinfo = slabinfo && bench_slabinfo_snapshot(&slab_after) == 0;
		for (int v = 0; v < n; v++)
			if (mmview_delete(ids[v]))
				return bench_fail(ctx, "mmview_delete: %s", strerror(errno));
		if (i < 0)
			continue;
		bench_ctx_samples(ctx, C_PT_VIEW)[i] = (double)(pt1 - pt0) * 1024 / n;
		bench_ctx_samples(ctx, C_SLAB_VIEW)[i] = (double)(slab1 - slab0) * 1024 / n;
		if (slabinfo) {
			long long before = 0, after = 0;
			char json[BENCH_DETAILS_SIZE - 64], details[BENCH_DETAILS_SIZE];

			for (int k = 0; k < slab_before.n; k++)
				before += slab_before.cache[k].bytes;
			for (int k = 0; k < slab_after.n; k++)
				after += slab_after.cache[k].bytes;
			bench_ctx_samples(ctx, C_SLABINFO_VIEW)[i] = (double)(after - before) / n;
			if (i == r->mem_reps - 1) {
				bench_slab_growth_json(&slab_before, &slab_after, n, 8, json, sizeof(json));
				snprintf(details, sizeof(details), "{\"top_caches_last_rep\":%s}", json);
				bench_ctx_details(ctx, C_SLABINFO_VIEW, details);
			}
		}
	}
	for (int k = C_PT_VIEW; k <= C_SLABINFO_VIEW; k++)
		bench_ctx_count(ctx, k, r->mem_reps);
	if (!slabinfo)
		bench_ctx_na(ctx, C_SLABINFO_VIEW, "/proc/slabinfo is not readable (CONFIG_SLUB_DEBUG?)");
	return 0;
}

/* Page tables added by forked children that wait (they never touch memory). */
static int memory_per_fork(struct bench_child_ctx *ctx, const struct run *r)
{
	pid_t pids[64];
	int n = r->mem_children;

	bench_ctx_count(ctx, C_PT_FORK, r->mem_reps);
	for (int i = -1; i < r->mem_reps; i++) {
		int gate[2];
		long pt0, pt1;
		char c;

		if (pipe(gate))
			return bench_fail(ctx, "pipe: %s", strerror(errno));
		pt0 = settle_kb("PageTables");
		for (int k = 0; k < n; k++) {
			pids[k] = fork();
			if (pids[k] < 0)
				return bench_fail(ctx, "fork: %s", strerror(errno));
			if (pids[k] == 0) {
				close(gate[1]);
				_exit(read(gate[0], &c, 1) < 0);
			}
		}
		pt1 = settle_kb("PageTables");
		close(gate[0]);
		close(gate[1]);
		for (int k = 0; k < n; k++)
			waitpid(pids[k], NULL, 0);
		if (i >= 0)
			bench_ctx_samples(ctx, C_PT_FORK)[i] = (double)(pt1 - pt0) * 1024 / n;
	}
	return 0;
}

/* A fresh view, one byte per page of the populated memory, per page. */
static int time_view_read(struct bench_child_ctx *ctx, const struct run *r,
			  const char *mem, size_t len)
{
	size_t ps = bench_page_size(), pages = len / ps;

	bench_ctx_count(ctx, C_VIEW_READ, r->mem_reps);
	for (int i = -1; i < r->mem_reps; i++) {
		volatile long sum = 0;
		long id = mmview_create();
		uint64_t t0, t1;

		if (id < 0)
			return bench_fail(ctx, "mmview_create: %s", strerror(errno));
		if (mmview_migrate(id) < 0)
			return bench_fail(ctx, "mmview_migrate: %s", strerror(errno));
		t0 = bench_now_ns();
		for (size_t k = 0; k < pages; k++)
			sum += ((const volatile char *)mem)[k * ps];
		t1 = bench_now_ns();
		if (mmview_migrate(0) < 0 || mmview_delete(id))
			return bench_fail(ctx, "leaving the view: %s", strerror(errno));
		if (i >= 0)
			bench_ctx_samples(ctx, C_VIEW_READ)[i] = (double)(t1 - t0) / pages;
	}
	return 0;
}

/* The base's first touch of as much fresh memory (no THP), per page. */
static int time_first_touch(struct bench_child_ctx *ctx, const struct run *r,
			    size_t len)
{
	size_t ps = bench_page_size(), pages = len / ps;

	bench_ctx_count(ctx, C_FIRST_TOUCH, r->mem_reps);
	for (int i = -1; i < r->mem_reps; i++) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t t0, t1;

		if (p == MAP_FAILED)
			return bench_fail(ctx, "mmap: %s", strerror(errno));
		madvise(p, len, MADV_NOHUGEPAGE);
		t0 = bench_now_ns();
		for (size_t k = 0; k < pages; k++)
			p[k * ps] = 1;
		t1 = bench_now_ns();
		munmap(p, len);
		if (i >= 0)
			bench_ctx_samples(ctx, C_FIRST_TOUCH)[i] = (double)(t1 - t0) / pages;
	}
	return 0;
}

/*
 * A thread that does what a server's threads do to the memory map: map a
 * page, fault it in, unmap it, in a loop. It records the longest gap between
 * two of its iterations since the last reset; a layout lock or a fork's
 * mmap_lock held across the whole address space shows up as that gap.
 */
struct busy_thread {
	pthread_t thread;
	atomic_bool stop;
	atomic_ulong iterations;
	atomic_ullong longest_ns;
	atomic_bool reset;
	int error;
};

static void *busy_loop(void *arg)
{
	struct busy_thread *b = arg;
	size_t ps = bench_page_size();
	uint64_t last = bench_now_ns();

	while (!atomic_load(&b->stop)) {
		char *p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t now;

		if (p == MAP_FAILED) {
			b->error = errno;
			break;
		}
		*(volatile char *)p = 1;
		munmap(p, ps);
		now = bench_now_ns();
		if (atomic_exchange(&b->reset, false))
			atomic_store(&b->longest_ns, 0);
		else if (now - last > atomic_load(&b->longest_ns))
			atomic_store(&b->longest_ns, now - last);
		last = now;
		atomic_fetch_add(&b->iterations, 1);
	}
	return NULL;
}

/* Wait until the busy thread has completed @n more iterations. */
static int busy_wait(struct busy_thread *b, unsigned long n)
{
	unsigned long target = atomic_load(&b->iterations) + n;

	while (atomic_load(&b->iterations) < target) {
		if (b->error)
			return -1;
		sched_yield();
	}
	return 0;
}

/* Longest stall of the busy thread across one fork and one create. */
static int time_stalls(struct bench_child_ctx *ctx)
{
	struct busy_thread b = { 0 };
	int ret = 0;

	if (pthread_create(&b.thread, NULL, busy_loop, &b))
		return bench_fail(ctx, "pthread_create failed");
	for (int i = -1; i < bench_ctx_reps(ctx) && !ret; i++) {
		for (int k = C_STALL_FORK; k <= C_STALL_CREATE && !ret; k++) {
			long id = -1;
			pid_t pid = 0;

			/* A reset the thread has seen, then a few normal gaps. */
			atomic_store(&b.reset, true);
			if (busy_wait(&b, 3))
				break;
			if (k == C_STALL_FORK) {
				pid = fork();
				if (pid == 0)
					_exit(0);
				if (pid < 0)
					ret = bench_fail(ctx, "fork: %s", strerror(errno));
			} else {
				id = mmview_create();
				if (id < 0)
					ret = bench_fail(ctx, "mmview_create: %s", strerror(errno));
			}
			/* The stall ends with the thread's next iteration. */
			if (!ret && busy_wait(&b, 2))
				break;
			if (!ret && i >= 0)
				bench_ctx_samples(ctx, k)[i] = (double)atomic_load(&b.longest_ns);
			if (pid > 0 && waitpid(pid, NULL, 0) != pid)
				ret = bench_fail(ctx, "waitpid: %s", strerror(errno));
			if (id >= 0 && mmview_delete(id))
				ret = bench_fail(ctx, "mmview_delete: %s", strerror(errno));
		}
	}
	atomic_store(&b.stop, true);
	pthread_join(b.thread, NULL);
	if (!ret && b.error)
		ret = bench_fail(ctx, "busy thread: mmap: %s", strerror(b.error));
	return ret;
}

static int measure(struct bench_child_ctx *ctx, void *arg)
{
	const struct run *r = arg;
	size_t len = (size_t)r->rss_mib << 20;
	long avail = bench_meminfo_kb("MemAvailable");
	/* The populated memory, page tables of the views, some slack. */
	long need = r->rss_mib * 1024 * 5 / 4 + 64 * 1024;
	char *mem;

	if (avail >= 0 && avail < need) {
		for (int k = 0; k < C_COUNT; k++)
			bench_ctx_na(ctx, k, "not enough memory: %ld MiB available, %ld MiB needed",
				     avail / 1024, need / 1024);
		return 0;
	}
	bench_progress("populating %ld MiB", r->rss_mib);
	mem = bench_map_populated(len);
	if (!mem)
		return bench_fail(ctx, "mmap %ld MiB: %s", r->rss_mib, strerror(errno));
	if (time_fork(ctx) || memory_per_fork(ctx, r))
		return -1;
	if (!bench_have_mmview()) {
		for (int k = C_CREATE; k <= C_SLABINFO_VIEW; k++)
			bench_ctx_na(ctx, k, BENCH_NA_NO_MMVIEW);
		bench_ctx_na(ctx, C_VIEW_READ, BENCH_NA_NO_MMVIEW);
		bench_ctx_na(ctx, C_FIRST_TOUCH, "measured beside the view read only");
		bench_ctx_na(ctx, C_STALL_FORK, "measured beside the view creation only");
		bench_ctx_na(ctx, C_STALL_CREATE, BENCH_NA_NO_MMVIEW);
		return 0;
	}
	if (time_create(ctx) || memory_per_view(ctx, r) ||
	    time_view_read(ctx, r, mem, len) || time_stalls(ctx))
		return -1;
	munmap(mem, len);
	if (time_first_touch(ctx, r, len))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const long full_sizes[] = { 1, 64, 1024 };
	static const long tiny_sizes[] = { 1, 4 };
	struct bench_case cases[C_COUNT] = {
		[C_FORK] = { "fork_exit_wait", "fork() + _exit() in the child + waitpid()", "ns" },
		[C_CREATE] = { "create", "mmview_create()", "ns" },
		[C_DELETE] = { "delete", "mmview_delete() of a view no thread uses", "ns" },
		[C_CREATE_DELETE] = { "create_delete", "mmview_create() + mmview_delete()", "ns" },
		[C_PT_VIEW] = { "pagetables_per_view", "PageTables (/proc/meminfo) added per view", "bytes" },
		[C_SLAB_VIEW] = { "slab_per_view", "Slab (/proc/meminfo) added per view", "bytes" },
		[C_SLABINFO_VIEW] = { "slabinfo_per_view", "active slab objects (/proc/slabinfo) added per view", "bytes" },
		[C_PT_FORK] = { "pagetables_per_fork", "PageTables (/proc/meminfo) added per forked child", "bytes" },
		[C_VIEW_READ] = { "view_read", "a thread in a fresh view reads one byte of every populated page, per page", "ns" },
		[C_FIRST_TOUCH] = { "first_touch", "the base writes one byte of every page of as much fresh memory, per page", "ns" },
		[C_STALL_FORK] = { "stall_fork", "longest gap between two iterations of a thread that maps, touches and unmaps a page in a loop, across one fork()", "ns" },
		[C_STALL_CREATE] = { "stall_create", "the same across one mmview_create()", "ns" },
	};
	struct bench_opts o;
	const long *sizes;
	int nsizes;

	bench_init(argc, argv, "mmview_bench_create",
		   "mmview_create vs fork+exit+wait at 1 MiB, 64 MiB, 1 GiB RSS; memory per view",
		   10, 2, &o);
	sizes = o.tiny ? tiny_sizes : full_sizes;
	nsizes = o.tiny ? 2 : 3;
	for (int s = 0; s < nsizes; s++) {
		struct run r = {
			.rss_mib = sizes[s],
			.mem_views = o.tiny ? 2 : 32,
			.mem_children = o.tiny ? 2 : 8,
			.mem_reps = o.reps < 3 ? o.reps : 3,
		};

		for (int k = 0; k < C_COUNT; k++) {
			snprintf(cases[k].params, sizeof(cases[k].params), "{\"rss_mib\":%ld}", r.rss_mib);
			cases[k].inner = k >= C_STALL_FORK ? 1 :
					 k == C_PT_FORK ? r.mem_children :
					 k >= C_VIEW_READ ? (long)((size_t)r.rss_mib << 20) / (long)bench_page_size() :
					 k >= C_PT_VIEW ? r.mem_views : 1;
		}
		bench_run_cases(cases, C_COUNT, o.reps, measure, &r);
	}
	return bench_finish();
}
