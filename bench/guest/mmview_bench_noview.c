// SPDX-License-Identifier: GPL-2.0
/*
 * Processes that never use views: first-touch faults, mmap + munmap pairs,
 * fork + _exit + waitpid at 16 MiB RSS, and getpid() as a control (no mmview
 * code on its path, so its ratio between two kernels shows the noise of the
 * setup).  Every case runs twice: with no other process using views
 * ("others":"none") and while a helper process holds a view
 * ("others":"views"), which switches on the kernel's views-in-use paths.  The
 * measured processes never call an mmview system call; the program tells
 * whether the kernel has them from /proc/sys/vm/mmview_max_views.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "bench_util.h"

struct sizes {
	size_t fault_region;
	long inner_map;
	long inner_syscall;
	long fork_rss_mib;
	long inner_fork;
};

static int measure_getpid(struct bench_child_ctx *ctx, void *arg)
{
	const struct sizes *sz = arg;

	for (int i = -1; i < bench_ctx_reps(ctx); i++) {
		uint64_t t0 = bench_now_ns();

		for (long k = 0; k < sz->inner_syscall; k++)
			syscall(SYS_getpid);
		if (i >= 0)
			bench_ctx_samples(ctx, 0)[i] = (double)(bench_now_ns() - t0) / sz->inner_syscall;
	}
	return 0;
}

static int measure_faults(struct bench_child_ctx *ctx, void *arg)
{
	const struct sizes *sz = arg;
	size_t ps = bench_page_size(), pages = sz->fault_region / ps;

	for (int i = -1; i < bench_ctx_reps(ctx); i++) {
		char *p = mmap(NULL, sz->fault_region, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t t0;

		if (p == MAP_FAILED)
			return bench_fail(ctx, "mmap: %s", strerror(errno));
		madvise(p, sz->fault_region, MADV_NOHUGEPAGE);
		t0 = bench_now_ns();
		for (size_t k = 0; k < pages; k++)
			p[k * ps] = 1;
		if (i >= 0)
			bench_ctx_samples(ctx, 0)[i] = (double)(bench_now_ns() - t0) / pages;
		munmap(p, sz->fault_region);
	}
	return 0;
}

static int measure_mmap(struct bench_child_ctx *ctx, void *arg)
{
	const struct sizes *sz = arg;

	for (int i = -1; i < bench_ctx_reps(ctx); i++) {
		uint64_t t0 = bench_now_ns();

		for (long k = 0; k < sz->inner_map; k++) {
			void *p = mmap(NULL, 16 << 10, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED || munmap(p, 16 << 10))
				return bench_fail(ctx, "mmap/munmap: %s", strerror(errno));
		}
		if (i >= 0)
			bench_ctx_samples(ctx, 0)[i] = (double)(bench_now_ns() - t0) / sz->inner_map;
	}
	return 0;
}

static int measure_fork(struct bench_child_ctx *ctx, void *arg)
{
	const struct sizes *sz = arg;

	if (!bench_map_populated((size_t)sz->fork_rss_mib << 20))
		return bench_fail(ctx, "mmap: %s", strerror(errno));
	for (int i = -1; i < bench_ctx_reps(ctx); i++) {
		uint64_t t0 = bench_now_ns();

		for (long k = 0; k < sz->inner_fork; k++) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) != pid)
				return bench_fail(ctx, "fork/waitpid: %s", strerror(errno));
		}
		if (i >= 0)
			bench_ctx_samples(ctx, 0)[i] = (double)(bench_now_ns() - t0) / sz->inner_fork;
	}
	return 0;
}

/*
 * A helper process that holds a view until the pipe closes, so that the
 * kernel's "some process uses views" state is on. Returns the write end of
 * the pipe, -1 on error.
 */
static int start_view_holder(pid_t *pid)
{
	int gate[2], ready[2];
	char c = 0;

	if (pipe(gate) || pipe(ready))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		close(gate[1]);
		close(ready[0]);
		c = mmview_create() < 0;
		if (write(ready[1], &c, 1) != 1 || c)
			_exit(1);
		_exit(read(gate[0], &c, 1) < 0);
	}
	close(gate[0]);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1 || c) {
		close(gate[1]);
		waitpid(*pid, NULL, 0);
		return -1;
	}
	close(ready[0]);
	return gate[1];
}

/* All cases of one setting of "others": what other processes do meanwhile. */
static void run_cases(struct sizes *sz, const struct bench_opts *o, const char *others, const char *na)
{
	struct bench_case c = { .unit = "ns" };

	snprintf(c.params, sizeof(c.params), "{\"others\":\"%s\"}", others);
#define RUN(fn) do { if (na) bench_report_na(&c, na); else bench_run_cases(&c, 1, o->reps, fn, sz); } while (0)
	c.id = "getpid";
	c.what = "getpid() system call (control)";
	c.inner = sz->inner_syscall;
	RUN(measure_getpid);

	c.id = "first_touch";
	c.what = "first write to an anonymous page";
	c.inner = (long)(sz->fault_region / bench_page_size());
	RUN(measure_faults);

	c.id = "mmap_munmap";
	c.what = "mmap + munmap of 16 KiB anonymous memory (untouched)";
	c.inner = sz->inner_map;
	RUN(measure_mmap);

	c.id = "fork_exit_wait";
	c.what = "fork() + _exit() in the child + waitpid()";
	c.inner = sz->inner_fork;
	snprintf(c.params, sizeof(c.params), "{\"others\":\"%s\",\"rss_mib\":%ld}", others, sz->fork_rss_mib);
	RUN(measure_fork);
#undef RUN
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct sizes sz;
	pid_t holder;
	int gate;

	bench_probe_without_syscall();
	bench_init(argc, argv, "mmview_bench_noview",
		   "processes without views: faults, mmap+munmap, fork+exit+wait, getpid control; "
		   "alone and while another process holds a view",
		   15, 2, &o);
	sz.fault_region = o.tiny ? 256 << 10 : 16 << 20;
	sz.inner_map = o.tiny ? 20 : 4000;
	sz.inner_syscall = o.tiny ? 200 : 20000;
	sz.fork_rss_mib = o.tiny ? 1 : 16;
	sz.inner_fork = o.tiny ? 2 : 20;

	run_cases(&sz, &o, "none", NULL);
	if (!bench_have_mmview()) {
		run_cases(&sz, &o, "views", BENCH_NA_NO_MMVIEW);
		return bench_finish();
	}
	gate = start_view_holder(&holder);
	if (gate < 0) {
		run_cases(&sz, &o, "views", "could not start a process holding a view");
		return bench_finish();
	}
	run_cases(&sz, &o, "views", NULL);
	close(gate);
	waitpid(holder, NULL, 0);
	return bench_finish();
}
