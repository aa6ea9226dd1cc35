// SPDX-License-Identifier: GPL-2.0
/*
 * mmview lifecycle tests: ids, migrate and delete semantics, deleted views
 * that stay in use, freeing when the last thread leaves or exits, thread
 * creation, create-from-a-view, fork, execve and exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

extern char **environ;

#define NR_MIGRATE	1001

#define S0	0x5100L		/* initial shared word */
#define U0	0x0b0bL		/* initial unshared word (base) */

#define BIG		(16UL << 20)	/* COW payload per view */
#define BIG_KB		((long)(BIG >> 10))
#define CTL_SIZE	(1UL << 20)
#define RAW_STACK	(256UL << 10)

/* Raw clone threads: structures in control memory populated up front. */
struct inherit_arg {
	volatile long *u;	/* unshared word to read */
	volatile long *u2;	/* unshared word to write */
	long new_val;
	int ready_wr, go_rd;
	long view_in, load_in, migrate_ret, load_after, view_after;
};

struct exitview_arg {
	long view;
	char *big;
	size_t len, ps;
	long val;
	int ready_wr, go_rd;
	long migrate_ret;
};

struct ctl {
	struct mvt_raw_thread rt[2];
	struct inherit_arg ia[2];
	struct exitview_arg ea;
};

FIXTURE(lc) {
	struct mvt_worker w[3];
	size_t ps;
	volatile long *sh;	/* 4 shared pages */
	volatile long *un;	/* 4 unshared pages */
	char *ctlmem;
	struct ctl *ctl;
};

FIXTURE_SETUP(lc)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->sh = mvt_map_populated(4 * self->ps);
	self->un = mvt_map_populated(4 * self->ps);
	ASSERT_NE(NULL, self->sh);
	ASSERT_NE(NULL, self->un);
	self->sh[0] = S0;
	self->un[0] = U0;
	ASSERT_EQ(0, mmview_unshare((void *)self->un, 4 * self->ps))
		TH_LOG("mmview_unshare: %s", strerror(errno));

	self->ctlmem = mvt_map_populated(CTL_SIZE);
	ASSERT_NE(NULL, self->ctlmem);
	self->ctl = (struct ctl *)(self->ctlmem + 2 * RAW_STACK);
	for (i = 0; i < 2; i++) {
		self->ctl->rt[i].stack = self->ctlmem + i * RAW_STACK;
		self->ctl->rt[i].stack_size = RAW_STACK;
	}
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	}
}

FIXTURE_TEARDOWN(lc)
{
	int i;

	for (i = 0; i < 3; i++)
		mvt_worker_stop(&self->w[i]);
}

#define W0 (&self->w[0].ch)
#define W1 (&self->w[1].ch)
#define W2 (&self->w[2].ch)

static long load_via(struct __test_metadata *_metadata,
		     const struct mvt_chan *w, volatile long *p)
{
	return WRPC(w, MVT_LOAD, (long)p).ret;
}

TEST_F_TIMEOUT(lc, ids_unique_never_reused, 300)
{
	long seen[64], live[4] = { 0 }, home;
	int n = 0, round, j, slot;

	/* w0 sits in its own view and creates every other view from there:
	 * one id space per process, whoever creates. */
	home = mmview_create();
	ASSERT_LE(1, home);
	seen[n++] = home;
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, home));

	for (round = 0; round < 24; round++) {
		long id;

		if (round % 3 == 2)
			id = WOK(W0, MVT_CREATE);
		else
			id = mmview_create();
		ASSERT_LE(1, id) TH_LOG("create in round %d: %s", round, strerror(errno));
		for (j = 0; j < n; j++) {
			ASSERT_NE(seen[j], id) TH_LOG("id %ld reused (round %d)", id, round);
		}
		seen[n++] = id;

		slot = round % 4;
		if (live[slot]) {
			ASSERT_EQ(0, mmview_delete(live[slot]));
			errno = 0;
			ASSERT_EQ(-1, mmview_migrate(live[slot]));
			ASSERT_EQ(EINVAL, errno);
		}
		live[slot] = id;
	}
	for (slot = 0; slot < 4; slot++) {
		ASSERT_EQ(0, mmview_delete(live[slot]));
	}
	ASSERT_EQ(home, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(home));
}

TEST_F_TIMEOUT(lc, migrate_moves_only_the_calling_thread, 300)
{
	volatile long *u = self->un;
	long x;

	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));

	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, -1));
	ASSERT_EQ(x, WOK(W0, MVT_VIEW));
	ASSERT_EQ(x, mvt_view_of(self->w[0].tid)) TH_LOG("MMView: of w0 seen from main");
	ASSERT_EQ(0, WOK(W1, MVT_MIGRATE, -1));
	ASSERT_EQ(0, WOK(W1, MVT_VIEW));
	ASSERT_EQ(0, mmview_migrate(-1));
	ASSERT_EQ(0, mvt_view_of(mvt_gettid()));

	/* Memory follows the thread's view. */
	WOK(W0, MVT_STORE, (long)u, 0xa1);
	ASSERT_EQ(U0, *u);
	ASSERT_EQ(U0, load_via(_metadata, W1, u));
	WOK(W1, MVT_STORE, (long)u, 0xb1);
	ASSERT_EQ(0xb1, *u);
	ASSERT_EQ(0xa1, load_via(_metadata, W0, u));

	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
}

TEST_F_TIMEOUT(lc, migrate_between_views_returns_previous, 300)
{
	volatile long *u = self->un;
	long x, y;

	x = mmview_create();
	y = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_LE(1, y);
	/* Give each view its own unshared value. */
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));
	WOK(W0, MVT_STORE, (long)u, 0x1001);
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, y));
	WOK(W0, MVT_STORE, (long)u, 0x2002);

	ASSERT_EQ(y, WOK(W0, MVT_MIGRATE, y));		/* no-op */
	ASSERT_EQ(y, WOK(W0, MVT_VIEW));
	ASSERT_EQ(0x2002, load_via(_metadata, W0, u));
	ASSERT_EQ(y, WOK(W0, MVT_MIGRATE, x));
	ASSERT_EQ(x, WOK(W0, MVT_VIEW));
	ASSERT_EQ(0x1001, load_via(_metadata, W0, u));
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0, WOK(W0, MVT_VIEW));
	ASSERT_EQ(U0, load_via(_metadata, W0, u));
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, 0));		/* no-op in base */
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, y));
	ASSERT_EQ(0x2002, load_via(_metadata, W0, u));
	ASSERT_EQ(y, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
	ASSERT_EQ(0, mmview_delete(y));
}

TEST_F_TIMEOUT(lc, delete_own_current_view, 300)
{
	volatile long *u = self->un, *s = self->sh;
	long x;

	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));
	ASSERT_EQ(0, WOK(W0, MVT_DELETE, x)) TH_LOG("deleting the own current view");

	/* The thread keeps running in it. */
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, -1));
	ASSERT_EQ(x, WOK(W0, MVT_VIEW));
	WOK(W0, MVT_STORE, (long)u, 0xdead1);
	ASSERT_EQ(0xdead1, load_via(_metadata, W0, u));
	ASSERT_EQ(U0, *u);
	WOK(W0, MVT_STORE, (long)s, 0x5eed1);
	ASSERT_EQ(0x5eed1, *s);
	*s = 0x5eed2;
	ASSERT_EQ(0x5eed2, load_via(_metadata, W0, s));

	/* Nobody can enter it, nor delete it again. */
	WERR(W1, EINVAL, MVT_MIGRATE, x);
	WERR(W0, EINVAL, MVT_DELETE, x);
	ASSERT_EQ(x, WOK(W0, MVT_VIEW));

	/* Once left, it cannot be re-entered. */
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	WERR(W0, EINVAL, MVT_MIGRATE, x);
	ASSERT_EQ(0, WOK(W0, MVT_VIEW));
}

TEST_F_TIMEOUT(lc, deleted_view_keeps_working, 300)
{
	volatile long *u = self->un, *s = self->sh;
	long x, y;

	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));
	ASSERT_EQ(0, WOK(W1, MVT_MIGRATE, x));
	WOK(W0, MVT_STORE, (long)u, 0x7001);
	ASSERT_EQ(0, mmview_delete(x));

	/* Both threads keep working in x, and x still has its own copy. */
	ASSERT_EQ(x, WOK(W0, MVT_VIEW));
	ASSERT_EQ(x, WOK(W1, MVT_VIEW));
	ASSERT_EQ(x, mvt_view_of(self->w[1].tid));
	ASSERT_EQ(0x7001, load_via(_metadata, W1, u));
	WOK(W1, MVT_STORE, (long)u, 0x7002);
	ASSERT_EQ(0x7002, load_via(_metadata, W0, u));
	ASSERT_EQ(U0, *u);
	/* ...and stays in sync for shared memory. */
	*s = 0x5001;
	ASSERT_EQ(0x5001, load_via(_metadata, W0, s));
	WOK(W1, MVT_STORE, (long)s, 0x5002);
	ASSERT_EQ(0x5002, *s);

	/* A new view from base is independent of the deleted one. */
	y = mmview_create();
	ASSERT_LE(1, y);
	ASSERT_NE(x, y);
	ASSERT_EQ(0, WOK(W2, MVT_MIGRATE, y));
	ASSERT_EQ(U0, load_via(_metadata, W2, u));
	WOK(W2, MVT_STORE, (long)u, 0x7003);
	ASSERT_EQ(0x7002, load_via(_metadata, W0, u));
	WERR(W2, EINVAL, MVT_MIGRATE, x);

	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0x7002, load_via(_metadata, W1, u)) TH_LOG("x vanished under w1");
	ASSERT_EQ(x, WOK(W1, MVT_MIGRATE, 0));
	WERR(W1, EINVAL, MVT_MIGRATE, x);
	ASSERT_EQ(y, WOK(W2, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(y));
}

/*
 * Memory accounting: AnonPages must show the view's COW copies and drop by
 * (nearly) the same amount once the view is freed; the free pages (MemFree
 * plus the per-cpu free lists, which MemFree leaves out) must recover at
 * least half of what the copies took: the rest of the system allocates
 * meanwhile, but a view whose pages were only unmapped, not freed, gives
 * back nothing.
 */
static void expect_freed(struct __test_metadata *_metadata, const char *what,
			 const struct mvt_mem *before, const struct mvt_mem *filled,
			 long expect_kb)
{
	long anon_used = filled->anon_kb - before->anon_kb;
	long free_used = (before->free_kb + before->pcp_kb) -
			 (filled->free_kb + filled->pcp_kb);
	uint64_t deadline = mvt_now_ms() + 30000;
	struct mvt_mem now;
	long anon_back = 0, free_back = 0;

	TH_LOG("%s: used AnonPages %ld KiB, free pages %ld KiB (expected ~%ld KiB)",
	       what, anon_used, free_used, expect_kb);
	ASSERT_LE(expect_kb * 3 / 4, anon_used)
		TH_LOG("the copies did not show up in AnonPages");
	for (;;) {
		ASSERT_EQ(0, mvt_mem_read(&now));
		anon_back = filled->anon_kb - now.anon_kb;
		free_back = (now.free_kb + now.pcp_kb) -
			    (filled->free_kb + filled->pcp_kb);
		if ((anon_back >= anon_used * 9 / 10 &&
		     free_back >= free_used / 2) || mvt_now_ms() > deadline)
			break;
		mvt_sleep_ms(250);
	}
	TH_LOG("%s: recovered AnonPages %ld KiB, free pages %ld KiB (of them on per-cpu lists %+ld KiB)",
	       what, anon_back, free_back, now.pcp_kb - filled->pcp_kb);
	ASSERT_LE(anon_used * 9 / 10, anon_back)
		TH_LOG("%s: anonymous pages not freed", what);
	ASSERT_LE(free_used / 2, free_back) TH_LOG("%s: the free pages did not recover", what);
}

TEST_F_TIMEOUT(lc, deleted_view_freed_when_last_thread_leaves, 300)
{
	struct mvt_mem before, filled;
	char *big;
	long x;

	big = mvt_map_populated(BIG);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, mmview_unshare(big, BIG));
	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));
	ASSERT_EQ(0, WOK(W1, MVT_MIGRATE, x));

	mvt_settle_memory(false);
	ASSERT_EQ(0, mvt_mem_read(&before));
	WOK(W0, MVT_FILL, (long)big, (long)BIG, 0x3c3c);
	ASSERT_EQ(0, mvt_mem_read(&filled));
	ASSERT_EQ(0, mmview_delete(x));

	/* First thread leaves: the view stays, with its contents. */
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0, WOK(W1, MVT_CHECK, (long)big, (long)BIG, 0x3c3c))
		TH_LOG("deleted view lost its contents while still in use");
	ASSERT_EQ(0, WOK(W0, MVT_CHECK, (long)big, (long)BIG, 0))
		TH_LOG("base sees the view's copy");

	/* Last thread leaves: freed. */
	ASSERT_EQ(x, WOK(W1, MVT_MIGRATE, 0));
	expect_freed(_metadata, "last thread left", &before, &filled, BIG_KB);
}

static int exitview_fn(void *p)
{
	struct exitview_arg *a = p;
	char c = 'r';
	size_t off;

	a->migrate_ret = mvt_raw1(NR_MIGRATE, a->view);
	if (a->migrate_ret == 0)
		for (off = 0; off < a->len; off += a->ps)
			*(volatile long *)(a->big + off) = a->val;
	mvt_raw3(SYS_write, a->ready_wr, &c, 1);
	mvt_raw3(SYS_read, a->go_rd, &c, 1);
	return 0;	/* exits in the view */
}

static void read_byte(struct __test_metadata *_metadata, int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	ASSERT_EQ(1, poll(&pfd, 1, timeout_ms)) TH_LOG("peer did not answer");
	ASSERT_EQ(1, read(fd, &c, 1));
}

TEST_F_TIMEOUT(lc, deleted_view_freed_when_last_thread_exits, 300)
{
	struct exitview_arg *a = &self->ctl->ea;
	struct mvt_raw_thread *t = &self->ctl->rt[0];
	struct mvt_mem before, filled;
	int ready[2], go[2];
	char *big;
	long x;

	big = mvt_map_populated(BIG);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, mmview_unshare(big, BIG));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	x = mmview_create();
	ASSERT_LE(1, x);

	a->view = x;
	a->big = big;
	a->len = BIG;
	a->ps = self->ps;
	a->val = 0x4d4d;
	a->ready_wr = ready[1];
	a->go_rd = go[0];
	a->migrate_ret = -12345;

	mvt_settle_memory(false);
	ASSERT_EQ(0, mvt_mem_read(&before));
	ASSERT_EQ(0, mvt_raw_thread_start(t, exitview_fn, a));
	read_byte(_metadata, ready[0], MVT_RPC_TIMEOUT_MS);
	ASSERT_EQ(0, a->migrate_ret) TH_LOG("raw thread could not migrate");
	ASSERT_EQ(0, mvt_mem_read(&filled));
	ASSERT_EQ(x, mvt_view_of(t->tid));
	ASSERT_EQ(0, mmview_delete(x));
	ASSERT_EQ(x, mvt_view_of(t->tid)) TH_LOG("MMView: changed by delete");
	ASSERT_EQ(0, *(volatile long *)big);

	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_EQ(0, mvt_raw_thread_wait(t, MVT_RPC_TIMEOUT_MS))
		TH_LOG("thread did not exit");
	expect_freed(_metadata, "last thread exited", &before, &filled, BIG_KB);
	errno = 0;
	ASSERT_EQ(-1, mmview_migrate(x));
	ASSERT_EQ(EINVAL, errno);
}

static int inherit_thread_fn(void *p)
{
	struct inherit_arg *a = p;
	long view, load, m, load2, view2;
	char c = 'r';

	view = mvt_raw_own_view();
	load = *a->u;
	*a->u2 = a->new_val;
	a->view_in = view;
	a->load_in = load;
	mvt_raw3(SYS_write, a->ready_wr, &c, 1);
	mvt_raw3(SYS_read, a->go_rd, &c, 1);
	m = mvt_raw1(NR_MIGRATE, 0);
	load2 = *a->u;
	view2 = mvt_raw_own_view();
	a->migrate_ret = m;
	a->load_after = load2;
	a->view_after = view2;
	return 0;
}

static long spawn_inherit(long t, long arg, long unused, long *out)
{
	int r = mvt_raw_thread_start((struct mvt_raw_thread *)t,
				     inherit_thread_fn, (void *)arg);

	(void)unused;
	(void)out;
	if (r) {
		errno = -r;
		return -1;
	}
	return ((struct mvt_raw_thread *)t)->tid;
}

TEST_F_TIMEOUT(lc, new_thread_inherits_view, 300)
{
	struct mvt_raw_thread *t;
	struct inherit_arg *a;
	volatile long *u = self->un, *u2 = self->un + self->ps / sizeof(long);
	int ready[2], go[2], i;
	long x, tid;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));
	WOK(W0, MVT_STORE, (long)u, 0x1e1e);
	WOK(W0, MVT_STORE, (long)u2, 0);
	*u2 = 0;

	for (i = 0; i < 2; i++) {
		/* i == 0: created by w0 in x; i == 1: created by main in base */
		long view = i == 0 ? x : 0;

		t = &self->ctl->rt[i];
		a = &self->ctl->ia[i];
		memset(a, 0, sizeof(*a));
		a->u = u;
		a->u2 = u2;
		a->new_val = 0x2e2e + i;
		a->ready_wr = ready[1];
		a->go_rd = go[0];
		a->view_in = a->migrate_ret = -12345;
		if (i == 0) {
			tid = WOK(W0, MVT_CALL, (long)spawn_inherit, (long)t, (long)a);
		} else {
			tid = spawn_inherit((long)t, (long)a, 0, NULL);
			ASSERT_LT(0, tid);
		}
		read_byte(_metadata, ready[0], MVT_RPC_TIMEOUT_MS);

		ASSERT_EQ(view, a->view_in) TH_LOG("new thread's own MMView: (created in view %ld)", view);
		ASSERT_EQ(view, mvt_view_of((pid_t)tid)) TH_LOG("MMView: of the new thread");
		ASSERT_EQ(i == 0 ? 0x1e1e : U0, a->load_in)
			TH_LOG("new thread does not see its creator's view");
		/* Its store landed in its view only. */
		if (i == 0) {
			ASSERT_EQ(0x2e2e, load_via(_metadata, W0, u2));
			ASSERT_EQ(0, *u2);
		} else {
			ASSERT_EQ(0x2e2f, *u2);
			ASSERT_EQ(0x2e2e, load_via(_metadata, W0, u2));
		}

		ASSERT_EQ(1, write(go[1], "g", 1));
		ASSERT_EQ(0, mvt_raw_thread_wait(t, MVT_RPC_TIMEOUT_MS));
		ASSERT_EQ(view, a->migrate_ret);
		ASSERT_EQ(U0, a->load_after);
		ASSERT_EQ(0, a->view_after);
	}
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
}

TEST_F_TIMEOUT(lc, create_copies_calling_threads_view, 300)
{
	volatile long *u = self->un, *s = self->sh;
	long x, y;

	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));
	WOK(W0, MVT_STORE, (long)u, 0xc0de1);

	y = WOK(W0, MVT_CREATE);
	ASSERT_LE(1, y);
	ASSERT_NE(x, y);
	/* The creator stays where it is. */
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, -1));
	ASSERT_EQ(x, WOK(W0, MVT_VIEW));

	/* y starts as a copy of x, not of base. */
	ASSERT_EQ(0, WOK(W1, MVT_MIGRATE, y));
	ASSERT_EQ(0xc0de1, load_via(_metadata, W1, u))
		TH_LOG("view created from view %ld did not copy it", x);
	ASSERT_EQ(U0, *u);

	/* ...and is independent afterwards. */
	WOK(W0, MVT_STORE, (long)u, 0xc0de2);
	ASSERT_EQ(0xc0de1, load_via(_metadata, W1, u));
	WOK(W1, MVT_STORE, (long)u, 0xc0de3);
	ASSERT_EQ(0xc0de2, load_via(_metadata, W0, u));
	ASSERT_EQ(U0, *u);

	/* Shared memory is shared with y as well. */
	WOK(W1, MVT_STORE, (long)s, 0x5a5a1);
	ASSERT_EQ(0x5a5a1, *s);
	ASSERT_EQ(0x5a5a1, load_via(_metadata, W0, s));

	ASSERT_EQ(y, WOK(W1, MVT_MIGRATE, 0));
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
	ASSERT_EQ(0, mmview_delete(y));
}

static void fork_from(struct __test_metadata *_metadata,
		      const struct mvt_chan *w, struct mvt_child *c)
{
	ASSERT_EQ(0, mvt_child_pipes(c));
	c->pid = (pid_t)WOK(w, MVT_FORK, c->cmd_rd, c->rsp_wr, c->ch.cmd_wr);
	ASSERT_LT(0, c->pid);
	ASSERT_EQ(0, WOK(&c->ch, MVT_NOP)) TH_LOG("forked child does not answer");
}

static void finish_child(struct __test_metadata *_metadata, struct mvt_child *c)
{
	int status = mvt_child_finish(c);

	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child status %#x", status);
	ASSERT_EQ(0, WEXITSTATUS(status));
}

TEST_F_TIMEOUT(lc, fork_from_view_memory_is_snapshot, 300)
{
	volatile long *u = self->un, *s = self->sh;
	struct mvt_child c;
	const struct mvt_chan *cc = &c.ch;
	long x, y;

	*s = 0x50;
	x = mmview_create();
	y = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_LE(1, y);
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));
	ASSERT_EQ(0, WOK(W1, MVT_MIGRATE, y));
	WOK(W0, MVT_STORE, (long)u, 0xf0f0);

	fork_from(_metadata, W0, &c);

	/* The child's memory is x's at fork time. */
	ASSERT_EQ(0xf0f0, load_via(_metadata, cc, u)) TH_LOG("child is not a copy of view x");
	ASSERT_EQ(0x50, load_via(_metadata, cc, s));

	/* Later stores of the parent, through any view, are invisible. */
	*s = 0x51;					/* base */
	WOK(W0, MVT_STORE, (long)u, 0xf1f1);		/* x, unshared */
	WOK(W1, MVT_STORE, (long)(s + 1), 0x52);	/* y, shared */
	*u = 0xb0b1;					/* base, unshared */
	ASSERT_EQ(0x52, s[1]);
	ASSERT_EQ(0x50, load_via(_metadata, cc, s));
	ASSERT_EQ(0, load_via(_metadata, cc, s + 1));
	ASSERT_EQ(0xf0f0, load_via(_metadata, cc, u));

	/* The child's stores are invisible to the parent, in every view. */
	WOK(cc, MVT_STORE, (long)s, 0xc1);
	WOK(cc, MVT_STORE, (long)u, 0xc2);
	ASSERT_EQ(0x51, *s);
	ASSERT_EQ(0x51, load_via(_metadata, W0, s));
	ASSERT_EQ(0x51, load_via(_metadata, W1, s));
	ASSERT_EQ(0xb0b1, *u);
	ASSERT_EQ(0xf1f1, load_via(_metadata, W0, u));
	ASSERT_EQ(U0, load_via(_metadata, W1, u));
	ASSERT_EQ(0xc1, load_via(_metadata, cc, s));
	ASSERT_EQ(0xc2, load_via(_metadata, cc, u));

	finish_child(_metadata, &c);
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(y, WOK(W1, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
	ASSERT_EQ(0, mmview_delete(y));
}

TEST_F_TIMEOUT(lc, fork_child_has_no_views, 300)
{
	volatile long *u = self->un;
	struct mvt_child c;
	const struct mvt_chan *cc = &c.ch;
	long x, y, cv;

	x = mmview_create();
	y = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_LE(1, y);
	ASSERT_EQ(0, WOK(W0, MVT_MIGRATE, x));
	WOK(W0, MVT_STORE, (long)u, 0xd1);
	fork_from(_metadata, W0, &c);

	/* An ordinary process in its base view... */
	ASSERT_EQ(0, WOK(cc, MVT_MIGRATE, -1));
	ASSERT_EQ(0, WOK(cc, MVT_VIEW));
	/* ...with none of the parent's views... */
	WERR(cc, EINVAL, MVT_MIGRATE, x);
	WERR(cc, EINVAL, MVT_MIGRATE, y);
	WERR(cc, EINVAL, MVT_MIGRATE, 1);
	WERR(cc, EINVAL, MVT_DELETE, x);
	ASSERT_EQ(0, WOK(cc, MVT_VIEW));

	/* ...that can use mmview itself: no unshared marks, no views. */
	ASSERT_EQ(0, WOK(cc, MVT_UNSHARE, (long)u, (long)self->ps))
		TH_LOG("child may unshare: it has no views");
	cv = WOK(cc, MVT_CREATE);
	ASSERT_LE(1, cv);
	ASSERT_EQ(0, WOK(cc, MVT_MIGRATE, cv));
	ASSERT_EQ(cv, WOK(cc, MVT_VIEW));
	ASSERT_EQ(0xd1, load_via(_metadata, cc, u));
	WOK(cc, MVT_STORE, (long)u, 0xd2);
	ASSERT_EQ(cv, WOK(cc, MVT_MIGRATE, 0));
	ASSERT_EQ(0xd1, load_via(_metadata, cc, u)) TH_LOG("child's unshare had no effect");
	ASSERT_EQ(0, WOK(cc, MVT_DELETE, cv));

	/* The parent is unaffected. */
	ASSERT_EQ(0xd1, load_via(_metadata, W0, u));
	ASSERT_EQ(U0, *u);
	ASSERT_EQ(0, WOK(W1, MVT_MIGRATE, y));
	ASSERT_EQ(y, WOK(W1, MVT_MIGRATE, 0));
	errno = 0;
	ASSERT_EQ(-1, mmview_unshare((void *)u, self->ps));
	ASSERT_EQ(EPERM, errno);

	finish_child(_metadata, &c);
	ASSERT_EQ(x, WOK(W0, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(x));
	ASSERT_EQ(0, mmview_delete(y));
}

/* ------------------------------------------------------------------------
 * Whole processes: exec and exit.  A child process C builds views with COW
 * payload and threads in them, then execs or exits; the test checks what
 * the new program sees and that the memory comes back.
 */
#define EXEC_MAGIC 0x6d6d76696577UL

struct exec_report {
	unsigned long magic;
	long migrate_cur;
	long migrate_old, migrate_old_err;
	long migrate_1, migrate_1_err;
	long view_line;
	long unshare, unshare_err;
	long create, create_err;
	long del, del_err;
};

enum { MSG_READY = 1, MSG_FAIL = 2 };
struct cmsg {
	int kind;
	long v[2];
	char text[200];
};

static void __attribute__((noreturn, format(printf, 2, 3)))
cfail(int fd, const char *fmt, ...)
{
	struct cmsg m = { .kind = MSG_FAIL };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.text, sizeof(m.text), fmt, ap);
	va_end(ap);
	if (write(fd, &m, sizeof(m)) < 0)
		_exit(3);
	_exit(1);
}

enum proc_end { END_EXEC_THREAD, END_EXEC_LEADER, END_EXIT };

struct exec_argv {
	char *argv[8];
	char buf[4][32];
};

/* Runs in C.  Never returns. */
static void __attribute__((noreturn))
view_process(int st_wr, int go_rd, int rep_wr, int rgo_rd, enum proc_end end)
{
	struct mvt_worker w[2];
	struct mvt_res r;
	struct exec_argv *ea;
	struct cmsg m = { .kind = MSG_READY };
	const char *exe = mvt_self_exe();
	char *big;
	long x, y;
	char c;
	int i;

	mvt_prefault_stack(256 << 10);
	for (i = 0; i < 2; i++)
		if (mvt_worker_start(&w[i]))
			cfail(st_wr, "worker start");
	big = mvt_map_populated(BIG);
	ea = mvt_map_populated(sizeof(*ea) + 4096);
	if (!big || !ea || !exe)
		cfail(st_wr, "setup");
	if (mmview_unshare(big, BIG))
		cfail(st_wr, "unshare: %s", strerror(errno));
	x = mmview_create();
	y = mmview_create();
	if (x < 1 || y < 1)
		cfail(st_wr, "create: %s", strerror(errno));

	snprintf(ea->buf[0], sizeof(ea->buf[0]), "%d", rep_wr);
	snprintf(ea->buf[1], sizeof(ea->buf[1]), "%d", rgo_rd);
	snprintf(ea->buf[2], sizeof(ea->buf[2]), "%ld", x);
	ea->argv[0] = (char *)exe;
	ea->argv[1] = (char *)MVT_EXEC_FLAG;
	ea->argv[2] = ea->buf[0];
	ea->argv[3] = ea->buf[1];
	ea->argv[4] = ea->buf[2];
	ea->argv[5] = NULL;

	r = mvt_rpc(&w[0].ch, MVT_MIGRATE, x, 0, 0, 0);
	if (r.rpc || r.ret != 0)
		cfail(st_wr, "w0 migrate: %ld %s", r.ret, strerror(r.err));
	r = mvt_rpc(&w[1].ch, MVT_MIGRATE, y, 0, 0, 0);
	if (r.rpc || r.ret != 0)
		cfail(st_wr, "w1 migrate: %ld %s", r.ret, strerror(r.err));
	r = mvt_rpc(&w[0].ch, MVT_FILL, (long)big, BIG, 0x11, 0);
	if (r.rpc || r.ret)
		cfail(st_wr, "fill in x");
	r = mvt_rpc(&w[1].ch, MVT_FILL, (long)big, BIG, 0x22, 0);
	if (r.rpc || r.ret)
		cfail(st_wr, "fill in y");
	m.v[0] = x;
	if (write(st_wr, &m, sizeof(m)) != sizeof(m))
		_exit(4);
	if (read(go_rd, &c, 1) != 1)
		_exit(5);

	switch (end) {
	case END_EXEC_THREAD:
		r = mvt_rpc(&w[0].ch, MVT_EXEC, (long)exe, (long)ea->argv, 0, 0);
		cfail(st_wr, "execve from w0 in view %ld: %s", x, strerror(r.err));
	case END_EXEC_LEADER:
		if (mmview_migrate(x) != 0)
			cfail(st_wr, "leader migrate: %s", strerror(errno));
		execve(exe, ea->argv, environ);
		mmview_migrate(0);
		cfail(st_wr, "execve from the leader in view %ld: %s", x,
		      strerror(errno));
	case END_EXIT:
		/* The leader exits from a view too, with w0 in x and w1 in y. */
		if (mmview_migrate(y) != 0)
			cfail(st_wr, "leader migrate: %s", strerror(errno));
		_exit(0);
	}
	_exit(6);
}

/* The program execve()d by view_process(): report what it sees. */
static int exec_child_main(int argc, char **argv)
{
	struct exec_report rep = { .magic = EXEC_MAGIC };
	int rep_wr, rgo_rd;
	long old;
	void *page;
	char c;

	if (argc < 5)
		return 2;
	rep_wr = atoi(argv[2]);
	rgo_rd = atoi(argv[3]);
	old = atol(argv[4]);

	rep.migrate_cur = mmview_migrate(-1);
	errno = 0;
	rep.migrate_old = mmview_migrate(old);
	rep.migrate_old_err = errno;
	errno = 0;
	rep.migrate_1 = mmview_migrate(1);
	rep.migrate_1_err = errno;
	rep.view_line = mvt_view_of(mvt_gettid());
	page = mvt_map_populated(mvt_page_size());
	errno = 0;
	rep.unshare = page ? mmview_unshare(page, mvt_page_size()) : -2;
	rep.unshare_err = errno;
	errno = 0;
	rep.create = mmview_create();
	rep.create_err = errno;
	errno = 0;
	rep.del = rep.create > 0 ? mmview_delete(rep.create) : -2;
	rep.del_err = errno;
	if (write(rep_wr, &rep, sizeof(rep)) != sizeof(rep))
		return 3;
	/* Stay alive until the test has checked the old image's memory. */
	if (read(rgo_rd, &c, 1) != 1)
		return 4;
	return 0;
}

static void read_msg(struct __test_metadata *_metadata, int fd, struct cmsg *m)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ASSERT_EQ(1, poll(&pfd, 1, MVT_RPC_TIMEOUT_MS)) TH_LOG("child silent");
	ASSERT_EQ((ssize_t)sizeof(*m), read(fd, m, sizeof(*m)))
		TH_LOG("child died without a message");
	ASSERT_EQ(MSG_READY, m->kind) TH_LOG("child failed: %s", m->text);
}

static void run_view_process(struct __test_metadata *_metadata, enum proc_end end)
{
	int st[2], go[2], rep[2], rgo[2], status;
	struct mvt_mem before, filled;
	struct exec_report er;
	struct pollfd pfd;
	struct cmsg m;
	pid_t pid;

	ASSERT_EQ(0, pipe2(st, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, pipe(rep));	/* inherited by the exec'd program */
	ASSERT_EQ(0, pipe(rgo));

	mvt_settle_memory(false);
	ASSERT_EQ(0, mvt_mem_read(&before));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(st[0]);
		close(go[1]);
		close(rep[0]);
		close(rgo[1]);
		view_process(st[1], go[0], rep[1], rgo[0], end);
	}
	close(st[1]);
	close(go[0]);
	close(rep[1]);
	close(rgo[0]);

	read_msg(_metadata, st[0], &m);
	ASSERT_EQ(0, mvt_mem_read(&filled));
	ASSERT_EQ(1, write(go[1], "g", 1));

	if (end != END_EXIT) {
		pfd.fd = rep[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, MVT_RPC_TIMEOUT_MS) != 1 ||
		    read(rep[0], &er, sizeof(er)) != sizeof(er)) {
			/* The child says why, if it can. */
			pfd.fd = st[0];
			if (poll(&pfd, 1, 0) == 1 && read(st[0], &m, sizeof(m)) == sizeof(m))
				TH_LOG("child: %s", m.text);
			ASSERT_TRUE(0) TH_LOG("no report from the exec'd program");
		}
		ASSERT_EQ(EXEC_MAGIC, er.magic);
		EXPECT_EQ(0, er.migrate_cur) TH_LOG("new program not in base");
		EXPECT_EQ(-1, er.migrate_old) TH_LOG("old view %ld survived exec", m.v[0]);
		EXPECT_EQ(EINVAL, er.migrate_old_err);
		EXPECT_EQ(-1, er.migrate_1);
		EXPECT_EQ(EINVAL, er.migrate_1_err);
		EXPECT_EQ(0, er.view_line) TH_LOG("MMView: of the new program");
		EXPECT_EQ(0, er.unshare) TH_LOG("unshare in the new program: errno %ld",
						 er.unshare_err);
		EXPECT_LE(1, er.create) TH_LOG("create in the new program: errno %ld",
					       er.create_err);
		EXPECT_EQ(0, er.del);
		/* The old image, views included, is gone while the new program
		 * still runs. */
		expect_freed(_metadata, "execve", &before, &filled, 3 * BIG_KB);
		ASSERT_EQ(1, write(rgo[1], "g", 1));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("status %#x", status);
	ASSERT_EQ(0, WEXITSTATUS(status));
	if (end == END_EXIT)
		expect_freed(_metadata, "exit", &before, &filled, 3 * BIG_KB);
	close(st[0]);
	close(go[1]);
	close(rep[0]);
	close(rgo[1]);
}

TEST_F_TIMEOUT(lc, exec_from_thread_in_view_destroys_views, 300)
{
	run_view_process(_metadata, END_EXEC_THREAD);
}

TEST_F_TIMEOUT(lc, exec_from_leader_in_view_destroys_views, 300)
{
	run_view_process(_metadata, END_EXEC_LEADER);
}

TEST_F_TIMEOUT(lc, exit_frees_everything, 300)
{
	run_view_process(_metadata, END_EXIT);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], MVT_EXEC_FLAG))
		return exec_child_main(argc, argv);
	return test_harness_run(argc, argv);
}
