// SPDX-License-Identifier: GPL-2.0
/*
 * inview.c - linked into the "<program>.inview" build of each kernel mm
 * selftest: every process of the program runs inside a view.
 *
 * Before main() the process creates two views and moves its (only) thread
 * into the second one; the child of every fork() does the same, because the
 * child of a fork is an ordinary process with only its base view (see
 * semantics.md, "Threads, processes, programs").  Threads started later
 * begin in their creator's view.  vfork()/posix_spawn() children share the
 * parent's view and exec at once; they are left alone (the calls would give
 * EPERM there).
 *
 * Any failure prints one line to stderr and exits with status 99, so that a
 * kernel without views never passes as "same results as outside views".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "mmview.h"

#define INVIEW_EXIT 99

static void inview_fail(const char *where, const char *what, long ret, int err, int in_child)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "mmview inview: %s: %s returned %ld (%s); cannot run the program inside views\n",
			 where, what, ret, ret < 0 ? strerror(err) : "unexpected value");

	if (n > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	/* A forked child must not run the parent's atexit handlers or flush its stdio. */
	if (in_child)
		_exit(INVIEW_EXIT);
	exit(INVIEW_EXIT);
}

/* Create two views and move the calling thread into the second; returns its id. */
static long enter_views(const char *where, int in_child)
{
	long first, second, prev, cur;

	first = syscall(__NR_mmview_create);
	if (first < 1)
		inview_fail(where, "mmview_create()", first, errno, in_child);
	second = syscall(__NR_mmview_create);
	if (second < 1 || second == first)
		inview_fail(where, "the second mmview_create()", second, errno, in_child);
	prev = syscall(__NR_mmview_migrate, second);
	if (prev != 0)
		inview_fail(where, "mmview_migrate(second view)", prev, errno, in_child);
	cur = syscall(__NR_mmview_migrate, -1L);
	if (cur != second)
		inview_fail(where, "mmview_migrate(-1) after the move", cur, errno, in_child);
	return second;
}

static void inview_atfork_child(void)
{
	enter_views("forked child", 1);
}

__attribute__((constructor(101)))
static void inview_init(void)
{
	long id = enter_views("startup", 0);
	int err = pthread_atfork(NULL, NULL, inview_atfork_child);

	if (err)
		inview_fail("startup", "pthread_atfork()", -1, err, 0);
	if (getenv("MMVIEW_INVIEW_QUIET") == NULL)
		fprintf(stderr, "# mmview inview: pid %d runs in view %ld of 2; forked children enter views too\n",
			(int)getpid(), id);
}
