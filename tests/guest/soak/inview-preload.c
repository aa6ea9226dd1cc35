// SPDX-License-Identifier: GPL-2.0
/*
 * inview-preload.c - LD_PRELOAD object of the soak run (./mmview soak):
 * every process of an unmodified, dynamically linked program (stress-ng,
 * trinity) runs inside views.
 *
 * The constructor creates two views and moves the main thread into the
 * second one.  A pthread_atfork() child handler does the same in the child of
 * every fork(): the child of a fork is an ordinary process with only its base
 * view (semantics.md, "Threads, processes, programs").  Threads start in their
 * creator's view.  A program the process execs gets this object again through
 * LD_PRELOAD (exec destroys all views).  vfork()/posix_spawn() children share
 * the parent's memory and exec at once; glibc runs no fork handlers for them.
 *
 * Never silently outside views: a call that fails prints one line naming it
 * and its errno (prefix "mmview-inview: FAILED") and the process exits with
 * status 99.  ENOMEM (memory is short under the stressors) is retried for a
 * while first.  Nothing else is printed unless MMVIEW_INVIEW_VERBOSE is set
 * (then one line per process that enters views).  With MMVIEW_INVIEW_COUNT
 * set to a file name, each process that entered its views appends one byte
 * to that file: its size counts them.
 *
 * Build: cc -shared -fPIC -O2 -o inview-preload.so inview-preload.c
 *        -I<repo>/userspace/libmmview/include
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "mmview.h"

#define INVIEW_EXIT 99
/* ENOMEM/EAGAIN retries: up to ~5 s in all. */
#define INVIEW_RETRIES 100
#define INVIEW_RETRY_NS 50000000L

static int verbose;
/* MMVIEW_INVIEW_COUNT, copied at startup: a forked child must not call getenv(). */
static char count_path[256];

/* One byte per process in views; O_APPEND keeps concurrent writers apart. */
static void count_entry(void)
{
	int fd;

	if (!count_path[0])
		return;
	fd = open(count_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd >= 0) {
		(void)!write(fd, "v", 1);
		close(fd);
	}
}

/* write(2) of a whole line; stdio may not be usable in a forked child. */
static void say(const char *line, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, line, n);

		if (w <= 0 && errno != EINTR)
			return;
		if (w > 0) {
			line += w;
			n -= (size_t)w;
		}
	}
}

static void inview_fail(const char *where, const char *what, long ret, int err, int in_child)
{
	char buf[320];
	char exe[128];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int n;

	exe[len > 0 ? len : 0] = '\0';
	n = snprintf(buf, sizeof(buf),
		     "mmview-inview: FAILED pid %d (%s) %s: %s returned %ld errno %d (%s); not running outside views\n",
		     (int)getpid(), exe, where, what, ret, ret < 0 ? err : 0,
		     ret < 0 ? strerror(err) : "unexpected value");
	if (n > 0)
		say(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	/* A forked child must not run the parent's atexit handlers or flush its stdio. */
	if (in_child)
		_exit(INVIEW_EXIT);
	exit(INVIEW_EXIT);
}

/* A view call, retried while memory is short. */
static long view_call(long nr, long arg, int *err)
{
	struct timespec ts = { 0, INVIEW_RETRY_NS };
	long ret = -1;

	for (int i = 0; i <= INVIEW_RETRIES; i++) {
		errno = 0;
		ret = nr == __NR_mmview_create ? syscall(nr) : syscall(nr, arg);
		*err = errno;
		if (ret >= 0 || (*err != ENOMEM && *err != EAGAIN))
			break;
		nanosleep(&ts, NULL);
	}
	return ret;
}

/* Create two views and move the calling thread into the second; returns its id. */
static long enter_views(const char *where, int in_child)
{
	long first, second, prev, cur;
	int err;

	first = view_call(__NR_mmview_create, 0, &err);
	if (first < 1)
		inview_fail(where, "mmview_create()", first, err, in_child);
	second = view_call(__NR_mmview_create, 0, &err);
	if (second < 1 || second == first)
		inview_fail(where, "the second mmview_create()", second, err, in_child);
	prev = view_call(__NR_mmview_migrate, second, &err);
	if (prev != 0)
		inview_fail(where, "mmview_migrate(second view)", prev, err, in_child);
	cur = view_call(__NR_mmview_migrate, -1L, &err);
	if (cur != second)
		inview_fail(where, "mmview_migrate(-1) after the move", cur, err, in_child);
	count_entry();
	if (verbose) {
		char buf[128];
		int n = snprintf(buf, sizeof(buf), "mmview-inview: pid %d (%s) runs in view %ld\n",
				 (int)getpid(), where, second);

		if (n > 0)
			say(buf, (size_t)n);
	}
	return second;
}

static void inview_atfork_child(void)
{
	enter_views("forked child", 1);
}

__attribute__((constructor(101)))
static void inview_init(void)
{
	const char *count = getenv("MMVIEW_INVIEW_COUNT");
	int err;

	verbose = getenv("MMVIEW_INVIEW_VERBOSE") != NULL;
	if (count && strlen(count) < sizeof(count_path))
		strcpy(count_path, count);
	enter_views("startup", 0);
	err = pthread_atfork(NULL, NULL, inview_atfork_child);
	if (err)
		inview_fail("startup", "pthread_atfork()", -1, err, 0);
}
