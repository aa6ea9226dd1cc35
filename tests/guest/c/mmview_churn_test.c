// SPDX-License-Identifier: GPL-2.0
/*
 * mmview churn: 8 threads hop between random views while they also create
 * and delete views, for a bounded time.  Every return value is checked
 * against the contract, and after every hop the thread checks a shared and
 * an unshared region:
 *  - shared: each thread owns one word on its own page and increments it
 *    after every hop, from whatever view it is in; the word must always hold
 *    the thread's previous value (written through a different view);
 *  - unshared: a view's creator stamps every page of the unshared region
 *    with the view's id before publishing the view, and each thread owns one
 *    word per page pair whose high half is the view id; a thread must always
 *    find its own view's id there, and the low half must be the last value
 *    it wrote in that view.
 * The view table lives in memory populated before any view exists; threads
 * coordinate with atomics only (no futexes across views).
 *
 * MMVIEW_CHURN_SECONDS overrides the run time (default 30 s).
 *
 * A second test changes the layout from a view (mmap over, mprotect splits,
 * mremap moves) while compaction migrates the base's pages: reclaim,
 * migration and compaction invalidate the base holding only a page's
 * anon_vma lock, which excludes no layout change, and must still drop every
 * view's copy (a KASAN report or a page that reads differently in two views
 * fails it). It runs twice: with 4 KiB pages, and with THP on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NTHREADS	8
#define NSLOTS		12		/* published views at most */
#define UPAGES		8		/* unshared region pages */
#define MAX_IDS		65536
#define DEFAULT_SECONDS	30
#define ID_CACHE	64

/* slot word: (id << 2) | state */
enum { ST_EMPTY = 0, ST_RESERVED = 1, ST_LIVE = 2, ST_DELETING = 3 };

struct churn_shared {
	_Atomic unsigned long slot[NSLOTS];
	atomic_int stop;
	atomic_long nids;
	long ids[MAX_IDS];
};

struct thread_result {
	long hops, einval_hops, creates, deletes, checks;
	long failures;
	char first_failure[200];
};

struct churn_arg {
	int idx;
	int go_rd;
	int res_wr;
	struct churn_shared *cs;
	volatile long *sh;	/* NTHREADS pages */
	volatile long *un;	/* UPAGES pages */
	size_t ps;
	unsigned long seed;
	/* thread-local state lives on the thread's (pre-faulted) stack */
};

static unsigned long xorshift(unsigned long *s)
{
	unsigned long x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

#define FAIL(res, ...) do {						\
	if (!(res)->failures++)						\
		snprintf((res)->first_failure,				\
			 sizeof((res)->first_failure), __VA_ARGS__);	\
} while (0)

struct tstate {
	long cur;		/* current view id */
	long counter;		/* value in own shared word */
	long cache_id[ID_CACHE], cache_seq[ID_CACHE];
	long seq;
};

/* Word owned by thread t in unshared page p. */
static volatile long *uword(const struct churn_arg *a, int p, int t)
{
	return a->un + p * (a->ps / sizeof(long)) + 1 + t;
}

static void check_view_memory(const struct churn_arg *a, struct tstate *st,
			      struct thread_result *res)
{
	volatile long *own = a->sh + a->idx * (a->ps / sizeof(long));
	long id = st->cur, v;
	int p, c;

	res->checks++;
	/* Shared: my word carries my last value, whichever view wrote it. */
	v = *own;
	if (v != st->counter)
		FAIL(res, "view %ld: own shared word %ld, expected %ld", id, v,
		     st->counter);
	*own = ++st->counter;

	if (id == 0)
		return;	/* base has no stamp */
	/* Unshared: every page carries this view's stamp. */
	for (p = 0; p < UPAGES; p++) {
		v = a->un[p * (a->ps / sizeof(long))];
		if (v != id) {
			FAIL(res, "view %ld: unshared page %d stamped %ld", id, p, v);
			break;
		}
	}
	/* My word in this view: high half id, low half my last value here. */
	p = a->idx % UPAGES;
	v = *uword(a, p, a->idx);
	if ((v >> 32) != id) {
		FAIL(res, "view %ld: own unshared word %#lx from another view", id, v);
		return;
	}
	c = (int)(id % ID_CACHE);
	if (st->cache_id[c] == id && (v & 0xffffffffL) != st->cache_seq[c])
		FAIL(res, "view %ld: own unshared word seq %ld, expected %ld", id,
		     v & 0xffffffffL, st->cache_seq[c]);
	st->seq = (st->seq + 1) & 0x7fffffffL;
	*uword(a, p, a->idx) = (id << 32) | st->seq;
	st->cache_id[c] = id;
	st->cache_seq[c] = st->seq;
}

static void do_migrate(const struct churn_arg *a, struct tstate *st,
		       struct thread_result *res, long to, unsigned long slotword)
{
	long r;

	errno = 0;
	r = mmview_migrate(to);
	if (r >= 0) {
		if (r != st->cur)
			FAIL(res, "migrate(%ld) returned %ld, was in %ld", to, r, st->cur);
		st->cur = to;
		res->hops++;
		if (to != 0 && mmview_migrate(-1) != to)
			FAIL(res, "migrate(-1) after entering %ld", to);
		check_view_memory(a, st, res);
		return;
	}
	if (errno != EINVAL) {
		FAIL(res, "migrate(%ld): errno %d", to, errno);
		return;
	}
	/* EINVAL is fine only if the view was already being deleted. */
	if (to == 0 || atomic_load(&a->cs->slot[slotword % NSLOTS]) ==
		       (((unsigned long)to << 2) | ST_LIVE))
		FAIL(res, "migrate(%ld) EINVAL while the view is live", to);
	res->einval_hops++;
	if (mmview_migrate(-1) != st->cur)
		FAIL(res, "failed migrate changed the current view");
}

static void do_create(const struct churn_arg *a, struct tstate *st,
		      struct thread_result *res, unsigned long rnd)
{
	struct churn_shared *cs = a->cs;
	unsigned long expect = ST_EMPTY;
	long id, r, n;
	int s = (int)(rnd % NSLOTS), p, t;

	if (!atomic_compare_exchange_strong(&cs->slot[s], &expect, ST_RESERVED))
		return;
	/* Views are created from base only: a non-base creator's view could be
	 * deleted under it, and creating from a deleted view is not specified. */
	if (st->cur != 0) {
		r = mmview_migrate(0);
		if (r != st->cur)
			FAIL(res, "migrate(0) returned %ld, was in %ld", r, st->cur);
		st->cur = 0;
		check_view_memory(a, st, res);
	}
	id = mmview_create();
	if (id < 1) {
		FAIL(res, "create: errno %d", errno);
		atomic_store(&cs->slot[s], ST_EMPTY);
		return;
	}
	n = atomic_fetch_add(&cs->nids, 1);
	if (n < MAX_IDS)
		cs->ids[n] = id;
	res->creates++;
	/* Enter it and stamp the unshared region before anyone else can. */
	r = mmview_migrate(id);
	if (r != 0) {
		FAIL(res, "migrate into new view %ld: %ld errno %d", id, r, errno);
		atomic_store(&cs->slot[s], ST_EMPTY);
		return;
	}
	st->cur = id;
	for (p = 0; p < UPAGES; p++) {
		a->un[p * (a->ps / sizeof(long))] = id;
		for (t = 0; t < NTHREADS; t++)
			if (t % UPAGES == p)
				*uword(a, p, t) = id << 32;
	}
	st->cache_id[id % ID_CACHE] = id;
	st->cache_seq[id % ID_CACHE] = 0;
	check_view_memory(a, st, res);
	atomic_store(&cs->slot[s], ((unsigned long)id << 2) | ST_LIVE);
}

static void do_delete(const struct churn_arg *a, struct tstate *st,
		      struct thread_result *res, unsigned long rnd)
{
	struct churn_shared *cs = a->cs;
	int s = (int)(rnd % NSLOTS);
	unsigned long w = atomic_load(&cs->slot[s]);
	long id = (long)(w >> 2), r;

	if ((w & 3) != ST_LIVE)
		return;
	if (!atomic_compare_exchange_strong(&cs->slot[s], &w,
					    ((unsigned long)id << 2) | ST_DELETING))
		return;
	errno = 0;
	r = mmview_delete(id);
	if (r != 0)
		FAIL(res, "delete(%ld) of a live view: %ld errno %d", id, r, errno);
	res->deletes++;
	errno = 0;
	r = mmview_delete(id);
	if (r != -1 || errno != EINVAL)
		FAIL(res, "second delete(%ld): %ld errno %d", id, r, errno);
	if (st->cur != id) {
		errno = 0;
		r = mmview_migrate(id);
		if (r != -1 || errno != EINVAL)
			FAIL(res, "migrate into deleted %ld: %ld errno %d", id, r, errno);
		if (r >= 0)
			st->cur = id;
	} else {
		/* Still in it: keeps working. */
		if (mmview_migrate(-1) != id)
			FAIL(res, "migrate(-1) in own deleted view %ld", id);
		check_view_memory(a, st, res);
	}
	atomic_store(&cs->slot[s], ST_EMPTY);
}

static void *churn_thread(void *p)
{
	const struct churn_arg *a = p;
	struct thread_result res;
	struct tstate st;
	unsigned long rnd = a->seed;
	char c;
	long r;

	memset(&res, 0, sizeof(res));
	memset(&st, 0, sizeof(st));
	if (read(a->go_rd, &c, 1) != 1)
		return NULL;

	while (!atomic_load(&a->cs->stop)) {
		unsigned long x = xorshift(&rnd), op = x % 100;

		if (op < 60) {
			unsigned long sw = x >> 8, w;
			int s = (int)(sw % NSLOTS);

			w = atomic_load(&a->cs->slot[s]);
			if ((w & 3) == ST_LIVE)
				do_migrate(a, &st, &res, (long)(w >> 2), sw);
			else if ((w & 3) == ST_DELETING)
				do_migrate(a, &st, &res, (long)(w >> 2), sw);
			else
				do_migrate(a, &st, &res, 0, 0);
		} else if (op < 75) {
			do_create(a, &st, &res, x >> 8);
		} else if (op < 90) {
			do_delete(a, &st, &res, x >> 8);
		} else if (op < 95) {
			r = mvt_view_of(mvt_gettid());
			if (r != st.cur)
				FAIL(&res, "MMView: %ld, expected %ld", r, st.cur);
		} else {
			check_view_memory(a, &st, &res);
		}
		if (res.failures > 20)
			break;
	}
	/* Back to base before exiting. */
	r = mmview_migrate(0);
	if (r != st.cur)
		FAIL(&res, "final migrate(0) returned %ld, was in %ld", r, st.cur);
	st.cur = 0;
	check_view_memory(a, &st, &res);
	if (write(a->res_wr, &res, sizeof(res)) != sizeof(res))
		return NULL;
	return NULL;
}

FIXTURE(churn) {
	pthread_t th[NTHREADS];
	void *stacks[NTHREADS];
	struct churn_arg *args;
	struct churn_shared *cs;
	int go[2], res[2][NTHREADS];
	int started;
};

FIXTURE_SETUP(churn)
{
	size_t ps;
	volatile long *sh, *un;
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	ps = mvt_page_size();
	self->cs = mvt_map_populated(sizeof(*self->cs));
	self->args = mvt_map_populated(NTHREADS * sizeof(*self->args));
	sh = mvt_map_populated(NTHREADS * ps);
	un = mvt_map_populated(UPAGES * ps);
	ASSERT_NE(NULL, self->cs);
	ASSERT_NE(NULL, self->args);
	ASSERT_NE(NULL, sh);
	ASSERT_NE(NULL, un);
	ASSERT_EQ(0, mmview_unshare((void *)un, UPAGES * ps));
	ASSERT_EQ(0, pipe(self->go));

	for (i = 0; i < NTHREADS; i++) {
		struct churn_arg *a = &self->args[i];
		pthread_attr_t attr;
		int fds[2];

		ASSERT_EQ(0, pipe(fds));
		self->res[0][i] = fds[0];
		self->res[1][i] = fds[1];
		a->idx = i;
		a->go_rd = self->go[0];
		a->res_wr = fds[1];
		a->cs = self->cs;
		a->sh = sh;
		a->un = un;
		a->ps = ps;
		a->seed = 0x9e3779b97f4a7c15UL * (unsigned long)(i + 1) ^
			  (unsigned long)getpid();
		self->stacks[i] = mvt_map_populated(MVT_STACK_SIZE);
		ASSERT_NE(NULL, self->stacks[i]);
		pthread_attr_init(&attr);
		ASSERT_EQ(0, pthread_attr_setstack(&attr, self->stacks[i],
						   MVT_STACK_SIZE));
		ASSERT_EQ(0, pthread_create(&self->th[i], &attr, churn_thread, a));
		pthread_attr_destroy(&attr);
		self->started++;
	}
}

FIXTURE_TEARDOWN(churn)
{
	/* Threads end by themselves once stop is set; nothing to join here if
	 * the test failed early (the process exit frees everything). */
	atomic_store(&self->cs->stop, 1);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

TEST_F_TIMEOUT(churn, random_hops_creates_deletes, 400)
{
	struct thread_result res, total;
	struct churn_shared *cs = self->cs;
	const char *env = getenv("MMVIEW_CHURN_SECONDS");
	unsigned int secs = env ? (unsigned int)atoi(env) : DEFAULT_SECONDS;
	long n, i, live = 0;
	int t;
	char c[NTHREADS];

	if (!secs || secs > 300)
		secs = DEFAULT_SECONDS;
	memset(&total, 0, sizeof(total));
	memset(c, 'g', sizeof(c));
	ASSERT_EQ(NTHREADS, write(self->go[1], c, NTHREADS));
	mvt_sleep_ms(secs * 1000);
	atomic_store(&cs->stop, 1);

	for (t = 0; t < NTHREADS; t++) {
		struct pollfd pfd = { .fd = self->res[0][t], .events = POLLIN };

		ASSERT_EQ(1, poll(&pfd, 1, MVT_RPC_TIMEOUT_MS))
			TH_LOG("thread %d did not finish", t);
		ASSERT_EQ((ssize_t)sizeof(res), read(self->res[0][t], &res, sizeof(res)));
		TH_LOG("thread %d: %ld hops (%ld EINVAL), %ld creates, %ld deletes, "
		       "%ld checks, %ld failures", t, res.hops, res.einval_hops,
		       res.creates, res.deletes, res.checks, res.failures);
		if (res.failures)
			TH_LOG("thread %d first failure: %s", t, res.first_failure);
		EXPECT_EQ(0, res.failures);
		total.hops += res.hops;
		total.creates += res.creates;
		total.deletes += res.deletes;
		total.einval_hops += res.einval_hops;
	}
	/* Every thread ended in base; join them. */
	for (t = 0; t < NTHREADS; t++) {
		ASSERT_EQ(0, pthread_join(self->th[t], NULL));
	}
	ASSERT_EQ(0, mmview_migrate(-1));

	/* The run did exercise all operations. */
	ASSERT_LT(0, total.hops);
	ASSERT_LT(0, total.creates);
	ASSERT_LT(0, total.deletes);

	/* Ids: unique, never reused. */
	n = atomic_load(&cs->nids);
	if (n > MAX_IDS)
		n = MAX_IDS;	/* only the first MAX_IDS were recorded */
	qsort(cs->ids, (size_t)n, sizeof(long), cmp_long);
	for (i = 0; i < n; i++) {
		ASSERT_LE(1, cs->ids[i]);
		if (i) {
			ASSERT_NE(cs->ids[i - 1], cs->ids[i])
				TH_LOG("id %ld handed out twice", cs->ids[i]);
		}
	}

	/* Delete what is left; then the process has no views at all. */
	for (t = 0; t < NSLOTS; t++) {
		unsigned long w = atomic_load(&cs->slot[t]);

		if ((w & 3) == ST_LIVE) {
			ASSERT_EQ(0, mmview_delete((long)(w >> 2)));
			live++;
		} else {
			ASSERT_EQ((unsigned long)ST_EMPTY, w) TH_LOG("slot %d in state %lu", t, w & 3);
		}
	}
	TH_LOG("total: %ld hops, %ld creates, %ld deletes, %ld EINVAL hops, "
	       "%ld views left live", total.hops, total.creates, total.deletes,
	       total.einval_hops, live);
	ASSERT_EQ(0, mmview_unshare((void *)self->args[0].sh, mvt_page_size()))
		TH_LOG("views remain after all were deleted and left: %s",
		       strerror(errno));
}

/* ---- layout changes from a view while compaction moves the base's pages ---- */

#define LC_CHUNK	(2UL << 20)
#define LC_CHUNKS	8
#define LC_SECONDS	10

static struct {
	char *mem;
	size_t ps;
	atomic_bool stop;
	atomic_ulong layout_ops, compactions, touches;
	long view;
	int error;
} lc;

static __thread sigjmp_buf lc_jump;

/* Pages come and go under the threads: a fault skips the access. */
static void lc_segv(int sig)
{
	(void)sig;
	siglongjmp(lc_jump, 1);
}

static void *lc_compactor(void *arg)
{
	(void)arg;
	while (!atomic_load(&lc.stop)) {
		int err = mvt_write_file("/proc/sys/vm/compact_memory", "1");

		if (err) {
			lc.error = -err;
			break;
		}
		atomic_fetch_add(&lc.compactions, 1);
	}
	return NULL;
}

/* In the base: store to random pages, so the base holds what compaction moves. */
static void *lc_base_writer(void *arg)
{
	unsigned int seed = 7;
	size_t pages = LC_CHUNKS * LC_CHUNK / lc.ps;

	(void)arg;
	while (!atomic_load(&lc.stop)) {
		volatile char *p = lc.mem + (rand_r(&seed) % pages) * lc.ps;

		if (sigsetjmp(lc_jump, 1))
			continue;
		*p = *p + 1;
		atomic_fetch_add(&lc.touches, 1);
	}
	return NULL;
}

/* In a view: replace, split and move chunks; read a few pages. */
static void *lc_view_layout(void *arg)
{
	unsigned int seed = 11;
	size_t pages = LC_CHUNK / lc.ps;

	(void)arg;
	if (mmview_migrate(lc.view) < 0) {
		lc.error = errno;
		return NULL;
	}
	while (!atomic_load(&lc.stop)) {
		char *p = lc.mem + (rand_r(&seed) % LC_CHUNKS) * LC_CHUNK;
		size_t off = (rand_r(&seed) % (pages - 4)) * lc.ps;

		switch (rand_r(&seed) % 4) {
		case 0:
			if (mmap(p, LC_CHUNK, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
				lc.error = errno;
			madvise(p, LC_CHUNK, MADV_NOHUGEPAGE);
			break;
		case 1:
			mprotect(p + off, 4 * lc.ps, PROT_READ);
			mprotect(p + off, 4 * lc.ps, PROT_READ | PROT_WRITE);
			break;
		case 2:
			if (mremap(p, LC_CHUNK / 2, LC_CHUNK / 2,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   p + LC_CHUNK / 2) == MAP_FAILED)
				lc.error = errno;
			if (mmap(p, LC_CHUNK / 2, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
				lc.error = errno;
			madvise(p, LC_CHUNK, MADV_NOHUGEPAGE);
			break;
		case 3:
			for (int k = 0; k < 8; k++)
				(void)((volatile char *)p)[(rand_r(&seed) % pages) * lc.ps];
			break;
		}
		if (lc.error)
			break;
		atomic_fetch_add(&lc.layout_ops, 1);
	}
	return NULL;
}

/*
 * @thp: leave THP on. The chunks are MADV_NOHUGEPAGE, but a chunk the view
 * maps anew is huge until its madvise(): the base's stores fault THPs there
 * and the views merge that chunk into its neighbours (they had not touched
 * it), whose anon_vma has another root. That once hit a VM_BUG_ON in
 * split_huge_pmd_locked() on arm64: see thp_in_a_vma_merged_only_in_views
 * in mmview_thp_test.c.
 */
static void layout_changes_under_compaction(struct __test_metadata *_metadata,
					    bool thp)
{
	size_t len = LC_CHUNKS * LC_CHUNK, pages, k;
	long reader_view, differ = 0;
	struct sigaction sa = { .sa_handler = lc_segv };
	pthread_t th[3];
	unsigned int seed = 3;
	char *raw, *seen;
	unsigned long end;

	/* Else no THP, as in every test here: 4 KiB pages. */
	if (!thp)
		ASSERT_EQ(0, mvt_process_setup());
	lc.ps = mvt_page_size();
	pages = len / lc.ps;
	raw = mmap(NULL, len + LC_CHUNK, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	lc.mem = (char *)(((uintptr_t)raw + LC_CHUNK - 1) & ~(LC_CHUNK - 1));
	/* 4 KiB pages: compaction moves them one by one. */
	ASSERT_EQ(0, madvise(lc.mem, len, MADV_NOHUGEPAGE));
	for (k = 0; k < pages; k++)
		lc.mem[k * lc.ps] = 1;
	seen = malloc(pages);
	ASSERT_NE(NULL, seen);
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	lc.view = mmview_create();
	ASSERT_LE(1, lc.view);
	reader_view = mmview_create();
	ASSERT_LE(1, reader_view);
	ASSERT_EQ(0, pthread_create(&th[0], NULL, lc_compactor, NULL));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, lc_base_writer, NULL));
	ASSERT_EQ(0, pthread_create(&th[2], NULL, lc_view_layout, NULL));

	/* This thread reads from a third view, keeping copies there. */
	ASSERT_LE(0, mmview_migrate(reader_view));
	end = mvt_now_ms() + LC_SECONDS * 1000UL;
	while (mvt_now_ms() < end) {
		size_t off = (rand_r(&seed) % pages) * lc.ps;

		if (sigsetjmp(lc_jump, 1))
			continue;
		(void)((volatile char *)lc.mem)[off];
	}
	atomic_store(&lc.stop, true);
	for (k = 0; k < 3; k++)
		ASSERT_EQ(0, pthread_join(th[k], NULL));
	ASSERT_EQ(0, lc.error) TH_LOG("a thread failed: %s", strerror(lc.error));

	/* Quiet now: each page reads the same in this view, the base and the other. */
	for (k = 0; k < pages; k++)
		seen[k] = ((volatile char *)lc.mem)[k * lc.ps];
	ASSERT_LE(0, mmview_migrate(0));
	for (k = 0; k < pages; k++)
		differ += seen[k] != ((volatile char *)lc.mem)[k * lc.ps];
	ASSERT_LE(0, mmview_migrate(lc.view));
	for (k = 0; k < pages; k++)
		differ += seen[k] != ((volatile char *)lc.mem)[k * lc.ps];
	ASSERT_LE(0, mmview_migrate(0));
	TH_LOG("%lu layout changes, %lu compactions, %lu stores in the base",
	       atomic_load(&lc.layout_ops), atomic_load(&lc.compactions),
	       atomic_load(&lc.touches));
	EXPECT_EQ(0, differ);
	EXPECT_LT(0UL, atomic_load(&lc.layout_ops));
	EXPECT_LT(0UL, atomic_load(&lc.compactions));
	EXPECT_LT(0UL, atomic_load(&lc.touches));
	free(seen);
}

TEST(compaction_during_layout_changes_keeps_views_coherent)
{
	layout_changes_under_compaction(_metadata, false);
}

TEST(compaction_during_layout_changes_with_thp_keeps_views_coherent)
{
	layout_changes_under_compaction(_metadata, true);
}

TEST_HARNESS_MAIN
