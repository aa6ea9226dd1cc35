// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmview-demo: address-space views in a nutshell.
 *
 * A shared and an unshared region are filled in the base view, a view is
 * created, a helper thread migrates into it and writes both regions.  The
 * shared region then reads the same in both views, the unshared one differs.
 * The demo also shows the values mmview_migrate() and mmview_delete() return.
 *
 * Exit status 0: everything behaved as the mmview contract says; 1: it did
 * not (each mismatch is printed), or the kernel has no mmview.
 *
 * The helper thread only touches memory that existed and was written before
 * the view was created (its stack is pre-faulted), and talks to the main
 * thread through pipes: that is all this demo relies on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mmview.h>

#define STACK_SIZE	(256 * 1024)
#define TEXT_LEN	32

struct report {
	long migrate_in;	/* mmview_migrate(view) */
	long current;		/* mmview_migrate(-1) inside the view */
	long status_view;	/* MMView: line of /proc/self/task/TID/status */
	char shared[TEXT_LEN], unshared[TEXT_LEN];	/* as seen in the view */
	long migrate_back;	/* mmview_migrate(0) */
	int err;
};

struct helper {
	int cmd[2], rep[2];
	char *shared, *unshared;
};

static int failures;

static void check(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	failures++;
	printf("  MISMATCH: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static long own_view_line(void)
{
	char path[64], buf[4096];
	ssize_t n;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/status",
		 (long)syscall(SYS_gettid));
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -2;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -2;
	buf[n] = 0;
	p = strstr(buf, "\nMMView:");
	return p ? strtol(p + 8, NULL, 10) : -1;
}

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	struct report r;
	long view;

	if (read(h->cmd[0], &view, sizeof(view)) != sizeof(view))
		return NULL;
	memset(&r, 0, sizeof(r));
	r.migrate_in = mmview_migrate(view);
	r.err = errno;
	if (r.migrate_in >= 0) {
		r.current = mmview_migrate(-1);
		r.status_view = own_view_line();
		snprintf(h->shared, TEXT_LEN, "written in view %ld", view);
		snprintf(h->unshared, TEXT_LEN, "written in view %ld", view);
		memcpy(r.shared, h->shared, TEXT_LEN);
		memcpy(r.unshared, h->unshared, TEXT_LEN);
		r.migrate_back = mmview_migrate(0);	/* leave before exiting */
	}
	if (write(h->rep[1], &r, sizeof(r)) != sizeof(r))
		return NULL;
	return NULL;
}

static void *map_filled(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, len);	/* present before the view is created */
	return p;
}

int main(void)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	struct helper h;
	struct report r;
	pthread_attr_t attr;
	pthread_t th;
	void *stack;
	char expect[TEXT_LEN];
	long view, ret;
	bool ok;

	printf("mmview-demo: one shared and one unshared region, two views\n\n");

	h.shared = map_filled(ps);
	h.unshared = map_filled(ps);
	stack = map_filled(STACK_SIZE);
	if (!h.shared || !h.unshared || !stack || pipe(h.cmd) || pipe(h.rep)) {
		perror("setup");
		return 1;
	}
	strcpy(h.shared, "written in base");
	strcpy(h.unshared, "written in base");

	if (mmview_unshare(h.unshared, ps)) {
		printf("mmview_unshare: %s%s\n", strerror(errno),
		       errno == ENOSYS ? " (this kernel has no mmview)" : "");
		return 1;
	}
	printf("base view:  wrote \"written in base\" to both regions\n");
	printf("            mmview_unshare(unshared region) = 0\n");

	/* The helper exists before the view, so everything it uses does too. */
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, stack, STACK_SIZE);
	if (pthread_create(&th, &attr, helper_main, &h)) {
		printf("pthread_create failed\n");
		return 1;
	}

	view = mmview_create();
	if (view < 1) {
		printf("mmview_create: %s\n", strerror(errno));
		return 1;
	}
	printf("            mmview_create() = %ld\n", view);

	if (write(h.cmd[1], &view, sizeof(view)) != sizeof(view) ||
	    read(h.rep[0], &r, sizeof(r)) != sizeof(r)) {
		printf("helper thread did not answer\n");
		return 1;
	}
	if (r.migrate_in < 0) {
		printf("helper: mmview_migrate(%ld) failed: %s\n", view, strerror(r.err));
		return 1;
	}
	pthread_join(th, NULL);

	printf("helper:     mmview_migrate(%ld) = %ld   (previous view: base)\n",
	       view, r.migrate_in);
	check(r.migrate_in == 0, "expected 0, the base view");
	printf("            mmview_migrate(-1) = %ld  (current view)\n", r.current);
	check(r.current == view, "expected %ld", view);
	if (r.status_view == -1)
		printf("            /proc status has no MMView: line\n");
	else
		printf("            /proc/self/task/TID/status: MMView: %ld\n",
		       r.status_view);
	check(r.status_view == view, "MMView: should read %ld", view);
	printf("            wrote \"written in view %ld\" to both regions\n", view);
	printf("            mmview_migrate(0) = %ld   (back to base)\n\n",
	       r.migrate_back);
	check(r.migrate_back == view, "expected %ld", view);

	snprintf(expect, sizeof(expect), "written in view %ld", view);
	printf("  %-9s  %-22s  %-22s  %s\n", "region", "base view 0 sees",
	       "the view sees", "verdict");
	ok = !strcmp(h.shared, expect) && !strcmp(r.shared, expect);
	printf("  %-9s  %-22s  %-22s  %s\n", "shared", h.shared, r.shared,
	       ok ? "same: ok" : "WRONG");
	check(ok, "both views must read \"%s\" from the shared region", expect);
	ok = !strcmp(h.unshared, "written in base") && !strcmp(r.unshared, expect);
	printf("  %-9s  %-22s  %-22s  %s\n\n", "unshared", h.unshared, r.unshared,
	       ok ? "differ: ok" : "WRONG");
	check(ok, "base must keep \"written in base\", the view \"%s\"", expect);

	ret = mmview_delete(view);
	printf("main:       mmview_delete(%ld) = %ld\n", view, ret);
	check(ret == 0, "expected 0");
	errno = 0;
	ret = mmview_migrate(view);
	printf("            mmview_migrate(%ld) = %ld, %s   (deleted)\n", view, ret,
	       strerror(errno));
	check(ret == -1 && errno == EINVAL, "expected -1 with EINVAL");
	errno = 0;
	ret = mmview_delete(view);
	printf("            mmview_delete(%ld) = %ld, %s   (already deleted)\n",
	       view, ret, strerror(errno));
	check(ret == -1 && errno == EINVAL, "expected -1 with EINVAL");

	if (failures) {
		printf("\nFAIL: %d mismatch%s with the mmview contract\n", failures,
		       failures == 1 ? "" : "es");
		return 1;
	}
	printf("\nPASS: shared memory is shared, unshared memory is per view\n");
	return 0;
}
