// SPDX-License-Identifier: GPL-2.0
/*
 * A view's page tables for shared memory are a cache of the base's: paths
 * that need the truth must not read that cache.
 *
 *  - fork() from a view: the child reads what the forking thread would read
 *    in its view at that moment, page by page, whatever the view's page
 *    tables happened to hold (untouched pages, pages the base wrote, after
 *    the base forked, malloc'd heap), and unshared pages are the forking
 *    view's own, never another view's;
 *  - a store through a view after MADV_FREE keeps the page (madvise(2)):
 *    the view writes only through a dirty base entry, so the discard sees
 *    the store;
 *  - MADV_DONTFORK memory is the process's: every view maps it, and a
 *    sealed mapping cannot be replaced from any view (EPERM, no warning).
 *
 * Each thread that works in a view is a pthread started in the base that
 * migrates, does its part and migrates back. Results cross views through
 * memory the base populated before the views existed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
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

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef __NR_mseal
#define __NR_mseal 462
#endif

/* Initialised data: a child that lost it reads 0 here. */
static volatile long truth_global = 0x5eed5eedL;

struct in_view {
	long view;
	long (*fn)(void *arg);
	void *arg;
	long ret;
	int err;
	long came_from;
};

static void *in_view_thread(void *p)
{
	struct in_view *iv = p;

	iv->came_from = mmview_migrate(iv->view);
	if (iv->came_from < 0) {
		iv->err = errno;
		iv->ret = -1;
		return NULL;
	}
	errno = 0;
	iv->ret = iv->fn(iv->arg);
	iv->err = errno;
	mmview_migrate(0);
	return NULL;
}

/* Run fn(arg) on a new thread in @view; its return value, -1000 if the
 * thread could not start or migrate. */
static long run_in_view(long view, long (*fn)(void *), void *arg, int *err)
{
	struct in_view iv = { .view = view, .fn = fn, .arg = arg };
	pthread_t th;

	if (pthread_create(&th, NULL, in_view_thread, &iv))
		return -1000;
	pthread_join(th, NULL);
	if (err)
		*err = iv.err;
	if (iv.came_from < 0)
		return -1000;
	return iv.ret;
}

/*
 * fork() here; the child checks @len bytes at @p against @expect and exits
 * 0 if all match, 1 + the page of the first mismatch otherwise (capped), 100
 * if the global lost its value. Returns the child's exit status or -1.
 */
struct fork_check {
	const volatile unsigned char *p;
	size_t len;
	unsigned char expect;
};

static long fork_and_check(void *arg)
{
	struct fork_check *fc = arg;
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		size_t i;

		if (truth_global != 0x5eed5eedL)
			_exit(100);
		for (i = 0; i < fc->len; i++)
			if (fc->p[i] != fc->expect)
				_exit(1 + (int)((i / mvt_page_size()) % 90));
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 200 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static long touch_read(void *arg)
{
	struct fork_check *fc = arg;
	long sum = 0;
	size_t i;

	for (i = 0; i < fc->len; i += mvt_page_size())
		sum += fc->p[i];
	return sum >= 0 ? 0 : 1;
}

/* 0 if every byte is fc->expect, else 1 + offset of the first other. */
static long touch_check(void *arg)
{
	struct fork_check *fc = arg;
	size_t i;

	for (i = 0; i < fc->len; i++)
		if (fc->p[i] != fc->expect)
			return 1 + (long)i;
	return 0;
}

/* Fill with fc->expect; 0 if page 2 then reads it. */
static long fill_expected(void *arg)
{
	struct fork_check *fc = arg;

	memset((void *)fc->p, fc->expect, fc->len);
	return fc->p[2 * mvt_page_size()] == fc->expect ? 0 : 1;
}

FIXTURE(fork) {
	size_t ps;
	long view;
};

FIXTURE_SETUP(fork)
{
	ASSERT_MMVIEW_AVAILABLE();
	ASSERT_EQ(0, mvt_process_setup());
	self->ps = mvt_page_size();
	self->view = -1;
}

FIXTURE_TEARDOWN(fork)
{
	if (self->view > 0)
		mmview_delete(self->view);
}

/*
 * Which state the forking view's page tables are in when it forks: never
 * touched the memory, read it before the base wrote it, or the base forked
 * a child of its own first (which invalidates the views' copies).
 */
enum fork_prelude {
	UNTOUCHED,
	READ_BEFORE_BASE_WRITE,
	BASE_FORKED_FIRST,
};

FIXTURE_VARIANT(fork) {
	enum fork_prelude prelude;
	bool heap;	/* malloc'd memory rather than an mmap */
};

FIXTURE_VARIANT_ADD(fork, untouched) { .prelude = UNTOUCHED };
FIXTURE_VARIANT_ADD(fork, read_before_base_write) {
	.prelude = READ_BEFORE_BASE_WRITE
};
FIXTURE_VARIANT_ADD(fork, base_forked_first) { .prelude = BASE_FORKED_FIRST };
FIXTURE_VARIANT_ADD(fork, heap_untouched) { .prelude = UNTOUCHED, .heap = true };
FIXTURE_VARIANT_ADD(fork, heap_base_forked_first) {
	.prelude = BASE_FORKED_FIRST, .heap = true
};

/*
 * The base writes memory a view never mapped, or mapped before the write;
 * a thread in the view forks: the child reads the base's stores, and its
 * globals.
 */
TEST_F_TIMEOUT(fork, child_of_a_view_reads_what_the_view_reads, 300)
{
	size_t len = 16 * self->ps;
	struct fork_check fc;
	unsigned char *p;
	long ret;
	int err = 0;

	if (variant->heap) {
		p = malloc(len);
		ASSERT_NE(NULL, p);
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, p);
	}
	/* Untouched: the new view gets no entries for @p at all. */
	if (variant->prelude != UNTOUCHED)
		memset(p, 'z', len);
	self->view = mmview_create();
	ASSERT_LT(0, self->view);
	fc = (struct fork_check){ .p = p, .len = len, .expect = 'A' };

	if (variant->prelude == READ_BEFORE_BASE_WRITE)
		ASSERT_EQ(0, run_in_view(self->view, touch_read, &fc, NULL));
	memset(p, 'A', len);
	if (variant->prelude == BASE_FORKED_FIRST)
		ASSERT_EQ(0, fork_and_check(&fc))
			TH_LOG("the base's own child lost memory");

	ret = run_in_view(self->view, fork_and_check, &fc, &err);
	ASSERT_NE(100, ret) TH_LOG("the child of the view lost its globals");
	ASSERT_EQ(0, ret) TH_LOG("the child of the view read wrong memory: "
				 "status %ld (1+page, 200+signal), errno %d",
				 ret, err);
	/* The parent still reads its own stores after the forks. */
	ASSERT_EQ(0, touch_check(&fc));
	if (variant->heap)
		free(p);
	else
		munmap(p, len);
}

/*
 * Unshared pages: the base writes 'o', the view 'S', both read page 2 and
 * the base forks first. Each child gets its own parent view's contents,
 * never the other view's.
 */
TEST(unshared_pages_follow_the_forking_view)
{
	size_t len = 8 * mvt_page_size();
	struct fork_check base_fc, view_fc;
	unsigned char *p;
	long ret, view;

	ASSERT_MMVIEW_AVAILABLE();
	ASSERT_EQ(0, mvt_process_setup());
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 'o', len);
	ASSERT_EQ(0, mmview_unshare(p, len));
	view = mmview_create();
	ASSERT_LT(0, view);

	base_fc = (struct fork_check){ .p = p, .len = len, .expect = 'o' };
	view_fc = (struct fork_check){ .p = p, .len = len, .expect = 'S' };
	ASSERT_EQ(0, run_in_view(view, fill_expected, &view_fc, NULL));
	ASSERT_EQ('o', p[2 * mvt_page_size()]);

	ASSERT_EQ(0, fork_and_check(&base_fc))
		TH_LOG("the base's child did not read the base's pages");
	ret = run_in_view(view, fork_and_check, &view_fc, NULL);
	ASSERT_EQ(0, ret) TH_LOG("the view's child did not read the view's "
				 "pages: status %ld", ret);
	ASSERT_EQ('o', p[0]);
	ASSERT_EQ(0, mmview_delete(view));
	munmap(p, len);
}

/*
 * The child of a view is charged for its memory like any child (a view
 * itself holds no overcommit charge, the base does): when it has exited,
 * Committed_AS is back where it was, not lower.
 */
static long fork_and_exit(void *arg)
{
	int status;
	pid_t pid = fork();

	(void)arg;
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static long nothing(void *arg)
{
	(void)arg;
	return 0;
}

TEST(child_of_a_view_is_charged_and_uncharged_once)
{
	const long len = 64L << 20, slack_kb = 4096;
	long before, after, view;
	char *p;

	ASSERT_MMVIEW_AVAILABLE();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	view = mmview_create();
	ASSERT_LT(0, view);
	/* glibc keeps a finished thread's stack: let it hold one first. */
	ASSERT_EQ(0, run_in_view(view, nothing, NULL, NULL));
	before = mvt_meminfo_kb("Committed_AS");
	ASSERT_LT(len / 1024, before);
	ASSERT_EQ(0, run_in_view(view, fork_and_exit, NULL, NULL));
	after = mvt_meminfo_kb("Committed_AS");
	ASSERT_LE(before - slack_kb, after)
		TH_LOG("Committed_AS %ld -> %ld kB: the child of a view was "
		       "uncharged without a charge", before, after);
	ASSERT_GE(before + slack_kb, after);
	ASSERT_EQ(0, mmview_delete(view));
	munmap(p, len);
}

/* ---- MADV_FREE: a store through a view keeps the page ---- */

struct free_args {
	unsigned char *p;
	size_t len;
	bool pageout;
};

static long view_read_write_pageout(void *arg)
{
	struct free_args *fa = arg;
	size_t i, ps = mvt_page_size();
	long sum = 0;

	for (i = 0; i < fa->len; i += ps)
		sum += ((volatile unsigned char *)fa->p)[i];
	for (i = 0; i < fa->len; i += ps)
		memset(fa->p + i, 'B', ps);
	if (fa->pageout && madvise(fa->p, fa->len, MADV_PAGEOUT))
		return -errno;
	return sum < 0;
}

static long check_b(void *arg)
{
	struct free_args *f = arg;
	size_t k;

	for (k = 0; k < f->len; k++)
		if (f->p[k] != 'B')
			return 1 + (long)k;
	return 0;
}

FIXTURE(lazyfree) {
	size_t ps;
	long view;
	unsigned char *p;
	size_t len;
};

FIXTURE_VARIANT(lazyfree) {
	bool create_after_free;	/* the view copies the clean entries */
};

FIXTURE_VARIANT_ADD(lazyfree, view_faults_after_free) {
	.create_after_free = false
};
FIXTURE_VARIANT_ADD(lazyfree, view_created_after_free) {
	.create_after_free = true
};

FIXTURE_SETUP(lazyfree)
{
	ASSERT_MMVIEW_AVAILABLE();
	ASSERT_EQ(0, mvt_process_setup());
	self->ps = mvt_page_size();
	self->len = 64 * self->ps;
	self->view = -1;
	self->p = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_TEARDOWN(lazyfree)
{
	munmap(self->p, self->len);
	if (self->view > 0)
		mmview_delete(self->view);
}

TEST_F_TIMEOUT(lazyfree, store_through_a_view_after_madv_free_is_kept, 300)
{
	struct free_args fa = { .p = self->p, .len = self->len, .pageout = true };
	size_t i, lost = 0;
	long ret;

	if (!variant->create_after_free) {
		self->view = mmview_create();
		ASSERT_LT(0, self->view);
	}
	memset(self->p, 'A', self->len);
	ASSERT_EQ(0, madvise(self->p, self->len, MADV_FREE));
	if (variant->create_after_free) {
		self->view = mmview_create();
		ASSERT_LT(0, self->view);
	}
	ret = run_in_view(self->view, view_read_write_pageout, &fa, NULL);
	ASSERT_EQ(0, ret) TH_LOG("the view's part failed: %ld", ret);
	for (i = 0; i < self->len; i += self->ps)
		lost += self->p[i] != 'B';
	ASSERT_EQ((size_t)0, lost) TH_LOG("%zu of %zu pages lost the view's store",
				  lost, self->len / self->ps);
	/* And the view reads its stores too. */
	fa.pageout = false;
	ASSERT_EQ(0, run_in_view(self->view, check_b, &fa, NULL));
}

/* ---- exclusive anonymous pages stay exclusive to the process ---- */

/*
 * A page present when a view is made stays the process's own: after
 * mprotect(PROT_READ) and back, the base's next store reuses it instead of
 * copying it (which would move it away from a FOLL_LONGTERM pin), and the
 * view then reads the store from the same page.
 */
static long view_pfn_and_load(void *arg)
{
	long *out = arg;

	out[1] = *(volatile long *)out[0];
	out[2] = mvt_pfn(mvt_gettid(), (void *)out[0]);
	return 0;
}

TEST(exclusive_page_is_reused_after_mprotect_round_trip)
{
	size_t ps = mvt_page_size();
	int64_t before, after;
	long *p, view, io[3];

	ASSERT_MMVIEW_AVAILABLE();
	ASSERT_EQ(0, mvt_process_setup());
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	before = mvt_pfn(mvt_gettid(), p);
	if (before < 0)
		SKIP(return, "pagemap hides pfns (%lld)", (long long)before);
	view = mmview_create();
	ASSERT_LT(0, view);
	io[0] = (long)p;
	ASSERT_EQ(0, run_in_view(view, view_pfn_and_load, io, NULL));
	ASSERT_EQ(1, io[1]);
	ASSERT_EQ(before, io[2]) TH_LOG("the view maps another page");

	ASSERT_EQ(0, mprotect(p, ps, PROT_READ));
	ASSERT_EQ(0, mprotect(p, ps, PROT_READ | PROT_WRITE));
	/* The view maps the page again when the base stores. */
	ASSERT_EQ(0, run_in_view(view, view_pfn_and_load, io, NULL));
	ASSERT_EQ(before, io[2]);
	p[0] = 2;
	after = mvt_pfn(mvt_gettid(), p);
	ASSERT_EQ(before, after)
		TH_LOG("the base's store copied its own exclusive page");
	ASSERT_EQ(0, run_in_view(view, view_pfn_and_load, io, NULL));
	ASSERT_EQ(2, io[1]);
	ASSERT_EQ(before, io[2]);
	ASSERT_EQ(0, mmview_delete(view));
	munmap(p, ps);
}

/* ---- MADV_DONTFORK and mseal ---- */

static long map_fixed_over(void *arg)
{
	void *q = mmap(arg, mvt_page_size(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	return q == MAP_FAILED ? -errno : 0;
}

static long unmap_it(void *arg)
{
	return munmap(arg, mvt_page_size()) ? -errno : 0;
}

static long read_first(void *arg)
{
	return *(volatile unsigned char *)arg;
}

TEST(dontfork_memory_is_in_every_view)
{
	size_t ps = mvt_page_size();
	unsigned char *p;
	long view;

	ASSERT_MMVIEW_AVAILABLE();
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 'd';
	ASSERT_EQ(0, madvise(p, ps, MADV_DONTFORK));
	view = mmview_create();
	ASSERT_LT(0, view);
	ASSERT_EQ('d', run_in_view(view, read_first, p, NULL))
		TH_LOG("a view lacks MADV_DONTFORK memory of the process");
	ASSERT_EQ(0, mmview_delete(view));
	munmap(p, ps);
}

TEST(sealed_dontfork_mapping_cannot_be_replaced_from_a_view)
{
	size_t ps = mvt_page_size();
	unsigned char *p;
	long view;
	int err;

	ASSERT_MMVIEW_AVAILABLE();
	p = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, ps, MADV_DONTFORK));
	if (syscall(__NR_mseal, p, ps, 0))
		SKIP(return, "mseal: %s", strerror(errno));
	view = mmview_create();
	ASSERT_LT(0, view);

	ASSERT_EQ(-EPERM, run_in_view(view, map_fixed_over, p, &err))
		TH_LOG("MAP_FIXED over a sealed mapping from a view");
	ASSERT_EQ(-EPERM, run_in_view(view, unmap_it, p, &err))
		TH_LOG("munmap of a sealed mapping from a view");
	ASSERT_EQ(-EPERM, map_fixed_over(p));
	/* Still there, still read-only zero, in both views. */
	ASSERT_EQ(0, run_in_view(view, read_first, p, NULL));
	ASSERT_EQ(0, p[0]);
	ASSERT_EQ(0, mmview_delete(view));
}

static long advise_random(void *arg)
{
	return madvise(arg, 4 * mvt_page_size(), MADV_RANDOM) ? -errno : 0;
}

static long unmap_four(void *arg)
{
	return munmap(arg, 4 * mvt_page_size()) ? -errno : 0;
}

/* Does the calling thread's view show "rr" (MADV_RANDOM) in VmFlags? */
static long random_flag(void *arg)
{
	static char smaps[256 * 1024];

	return mvt_smaps_flag(mvt_gettid(), arg, "rr", smaps, sizeof(smaps));
}

/*
 * Flag advice that a seal allows (the kernel's mseal_test
 * test_seal_madvise_nodiscard) reaches every view: the views follow the
 * caller's change, which passed the seal check, instead of failing it
 * (which warned in the mirror and left the views different).
 */
TEST(flag_advice_on_a_sealed_mapping_reaches_every_view)
{
	size_t ps = mvt_page_size();
	unsigned char *p;
	long view;
	int err;

	ASSERT_MMVIEW_AVAILABLE();
	p = mmap(NULL, 4 * ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	if (syscall(__NR_mseal, p, 4 * ps, 0))
		SKIP(return, "mseal: %s", strerror(errno));
	view = mmview_create();
	ASSERT_LT(0, view);

	ASSERT_EQ(0, run_in_view(view, advise_random, p, &err))
		TH_LOG("MADV_RANDOM on a sealed mapping from a view: %s",
		       strerror(err));
	ASSERT_EQ(1, random_flag(p)) TH_LOG("the base lacks the advice");
	ASSERT_EQ(1, run_in_view(view, random_flag, p, NULL));
	/* The seal still holds, from either view. */
	ASSERT_EQ(-EPERM, run_in_view(view, unmap_four, p, &err));
	ASSERT_EQ(-EPERM, unmap_four(p));
	ASSERT_EQ(0, run_in_view(view, read_first, p + 3 * ps, NULL));
	ASSERT_EQ(0, mmview_delete(view));
}

static long map_zero_and_protect(void *arg)
{
	size_t len = 4 * mvt_page_size();
	void *z;

	(void)arg;
	z = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0);
	if (z == MAP_FAILED)
		return -errno;
	if (z != NULL)
		return -1000;
	return mprotect(NULL, len, PROT_READ) ? -errno : 0;
}

static long store_and_load(void *arg)
{
	*(volatile unsigned char *)arg = 'z';
	return *(volatile unsigned char *)arg;
}

/*
 * A protection change of a mapping at address 0 (allowed to root: the
 * kernel's mseal_test maps there) made from a view is mirrored into the
 * base. Its mmu notifier range must end: an invalidation left open makes
 * every later fault of a view through the base retry for ever.
 */
TEST(protection_change_at_address_zero_leaves_views_faulting)
{
	size_t ps = mvt_page_size();
	unsigned char *p;
	long view, ret;
	int err;

	ASSERT_MMVIEW_AVAILABLE();
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	view = mmview_create();
	ASSERT_LT(0, view);
	ret = run_in_view(view, map_zero_and_protect, NULL, &err);
	if (ret == -EPERM || ret == -EACCES)
		SKIP(return, "no mapping at address 0 here: %s", strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("mmap/mprotect at 0 from a view: %ld", ret);
	/* A first touch from the view: faults through the base. */
	ASSERT_EQ('z', run_in_view(view, store_and_load, p, NULL));
	ASSERT_EQ('z', p[0]);
	ASSERT_EQ(0, munmap(NULL, 4 * ps));
	ASSERT_EQ(0, mmview_delete(view));
}

TEST_HARNESS_MAIN
