// SPDX-License-Identifier: GPL-2.0
/*
 * Switching cost: a migrate round trip (base -> view -> base) against a
 * getpid() system call, a round trip between two processes over pipes, and a
 * round trip between two threads (pipes, futex).  Everything runs on CPU 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "bench_util.h"

struct sizes {
	long inner_syscall;	/* getpid calls per sample */
	long inner_rt;		/* round trips per sample */
};

/* One warm-up sample, then the timed ones. */
#define FOR_SAMPLES(ctx, i) for (int i = -1; i < bench_ctx_reps(ctx); i++)
#define STORE(ctx, case_i, i, value) \
	do { if ((i) >= 0) bench_ctx_samples(ctx, case_i)[i] = (value); } while (0)

static int measure_getpid(struct bench_child_ctx *ctx, void *arg)
{
	const struct sizes *sz = arg;

	FOR_SAMPLES(ctx, i) {
		uint64_t t0 = bench_now_ns();

		for (long k = 0; k < sz->inner_syscall; k++)
			syscall(SYS_getpid);
		STORE(ctx, 0, i, (double)(bench_now_ns() - t0) / sz->inner_syscall);
	}
	return 0;
}

static int measure_migrate(struct bench_child_ctx *ctx, void *arg)
{
	const struct sizes *sz = arg;
	long id = mmview_create();

	if (id < 0)
		return bench_fail(ctx, "mmview_create: %s", strerror(errno));
	FOR_SAMPLES(ctx, i) {
		uint64_t t0 = bench_now_ns();

		for (long k = 0; k < sz->inner_rt; k++) {
			if (mmview_migrate(id) != 0 || mmview_migrate(0) != id)
				return bench_fail(ctx, "mmview_migrate: %s", strerror(errno));
		}
		STORE(ctx, 0, i, (double)(bench_now_ns() - t0) / sz->inner_rt);
	}
	if (mmview_delete(id))
		return bench_fail(ctx, "mmview_delete: %s", strerror(errno));
	return 0;
}

/* Echo one byte from rfd to wfd until EOF. */
static void echo_loop(int rfd, int wfd)
{
	char c;

	while (read(rfd, &c, 1) == 1)
		if (write(wfd, &c, 1) != 1)
			break;
}

/* Round trips over a pair of pipes to an echoing partner. */
static int pipe_round_trips(struct bench_child_ctx *ctx, const struct sizes *sz, int wfd, int rfd)
{
	char c = 'x';

	FOR_SAMPLES(ctx, i) {
		uint64_t t0 = bench_now_ns();

		for (long k = 0; k < sz->inner_rt; k++) {
			if (write(wfd, &c, 1) != 1 || read(rfd, &c, 1) != 1)
				return bench_fail(ctx, "pipe round trip: %s", strerror(errno));
		}
		STORE(ctx, 0, i, (double)(bench_now_ns() - t0) / sz->inner_rt);
	}
	return 0;
}

static int measure_pipe_process(struct bench_child_ctx *ctx, void *arg)
{
	int to[2], from[2], status, r;
	pid_t pid;

	if (pipe(to) || pipe(from))
		return bench_fail(ctx, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return bench_fail(ctx, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		echo_loop(to[0], from[1]);
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	r = pipe_round_trips(ctx, arg, to[1], from[0]);
	close(to[1]);
	waitpid(pid, &status, 0);
	return r;
}

struct echo_thread {
	int rfd, wfd;
};

static void *echo_thread_fn(void *p)
{
	struct echo_thread *e = p;

	echo_loop(e->rfd, e->wfd);
	return NULL;
}

static int measure_pipe_thread(struct bench_child_ctx *ctx, void *arg)
{
	int to[2], from[2], r;
	struct echo_thread e;
	pthread_t t;

	if (pipe(to) || pipe(from))
		return bench_fail(ctx, "pipe: %s", strerror(errno));
	e.rfd = to[0];
	e.wfd = from[1];
	if (pthread_create(&t, NULL, echo_thread_fn, &e))
		return bench_fail(ctx, "pthread_create failed");
	r = pipe_round_trips(ctx, arg, to[1], from[0]);
	close(to[1]);
	pthread_join(t, NULL);
	return r;
}

/*
 * Futex ping-pong: the main thread stores an odd value and wakes the
 * partner, which answers with the next even value.  0 ends the partner.
 */
static _Atomic unsigned int word;

static void futex_wait(unsigned int expected)
{
	syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(void)
{
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *futex_partner(void *p)
{
	unsigned int v, last = 0;

	(void)p;
	for (;;) {
		while ((v = atomic_load(&word)) == last || v % 2 == 0) {
			if (v == 0 && last != 0)
				return NULL;
			futex_wait(v);
		}
		last = v + 1;
		atomic_store(&word, last);
		futex_wake();
	}
}

static int measure_futex_thread(struct bench_child_ctx *ctx, void *arg)
{
	const struct sizes *sz = arg;
	unsigned int v = 0;
	pthread_t t;

	atomic_store(&word, 0);
	if (pthread_create(&t, NULL, futex_partner, NULL))
		return bench_fail(ctx, "pthread_create failed");
	FOR_SAMPLES(ctx, i) {
		uint64_t t0 = bench_now_ns();

		for (long k = 0; k < sz->inner_rt; k++) {
			unsigned int sent = v + 1, got;

			atomic_store(&word, sent);
			futex_wake();
			while ((got = atomic_load(&word)) == sent)
				futex_wait(sent);
			v = got;
		}
		STORE(ctx, 0, i, (double)(bench_now_ns() - t0) / sz->inner_rt);
	}
	atomic_store(&word, 0);
	futex_wake();
	pthread_join(t, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct sizes sz;
	struct bench_case c = { .unit = "ns", .params = "{}" };

	bench_init(argc, argv, "mmview_bench_migrate",
		   "migrate round trip vs getpid, process and thread ping-pong", 15, 2, &o);
	sz.inner_syscall = o.tiny ? 200 : 20000;
	sz.inner_rt = o.tiny ? 50 : 2000;

	c.id = "getpid";
	c.what = "getpid() system call";
	c.inner = sz.inner_syscall;
	bench_run_cases(&c, 1, o.reps, measure_getpid, &sz);

	c.id = "migrate_rt";
	c.what = "mmview_migrate round trip: base -> view -> base";
	c.inner = sz.inner_rt;
	if (bench_have_mmview())
		bench_run_cases(&c, 1, o.reps, measure_migrate, &sz);
	else
		bench_report_na(&c, BENCH_NA_NO_MMVIEW);

	c.id = "pipe_process_rt";
	c.what = "round trip between two processes over pipes (1 byte each way)";
	bench_run_cases(&c, 1, o.reps, measure_pipe_process, &sz);

	c.id = "pipe_thread_rt";
	c.what = "round trip between two threads over pipes (1 byte each way)";
	bench_run_cases(&c, 1, o.reps, measure_pipe_thread, &sz);

	c.id = "futex_thread_rt";
	c.what = "round trip between two threads with futex wait/wake";
	bench_run_cases(&c, 1, o.reps, measure_futex_thread, &sz);

	return bench_finish();
}
