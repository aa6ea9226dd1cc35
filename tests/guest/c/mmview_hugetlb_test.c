// SPDX-License-Identifier: GPL-2.0
/*
 * Private hugetlb mappings (MAP_PRIVATE | MAP_HUGETLB) with views: like any
 * private memory that is not unshared, a huge page is one page of the
 * process, the same in every view, whichever view maps, touches or writes
 * it; the pages reserved at mmap() are the process's, so a fault from any
 * view uses them; and copy-on-write after fork() with an exhausted pool
 * behaves as without views (the mapping's owner keeps its page); a child
 * forked from a view keeps what the page held at the fork. Unsharing part of
 * a huge page unshares the whole page, copy-on-write per view.
 *
 * Worker i runs in view i (worker 0 in the base, like the main thread).
 * The guest's pool has POOL 2 MiB pages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "../../../mm/gup_test.h"
#include "mmview_test_util.h"

#define NW	3	/* worker i runs in view i; worker 0 in base */
#define HPAGE	(2UL << 20)
#define POOL	4

FIXTURE(hugetlb) {
	struct mvt_worker w[NW];
	long view[NW];
	long free0;	/* HugePages_Free before the test */
};

#define WCH(i) (&self->w[i].ch)

/* MVT_CALL: a private anonymous hugetlb mapping of @len bytes. */
static long w_mmap_huge(long len, long unused1, long unused2, long *out)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	(void)unused1;
	(void)unused2;
	(void)out;
	return p == MAP_FAILED ? -1 : (long)p;
}

static long huge_free(void)
{
	return mvt_meminfo_kb("HugePages_Free");
}

FIXTURE_SETUP(hugetlb)
{
	char buf[32];
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	snprintf(buf, sizeof(buf), "%d", POOL);
	mvt_write_file("/proc/sys/vm/nr_hugepages", buf);
	if (mvt_meminfo_kb("HugePages_Total") < POOL ||
	    mvt_meminfo_kb("Hugepagesize") != (long)(HPAGE >> 10))
		SKIP(return, "no pool of %d 2 MiB pages in this guest", POOL);
	self->free0 = huge_free();
	ASSERT_EQ(POOL, self->free0);
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(hugetlb)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	mvt_write_file("/proc/sys/vm/nr_hugepages", "0");
}

/*
 * fork() a child that waits until the parent closes pipefd[1], then exits
 * 0 if @p is NULL or *@p is still @want (its snapshot of the parent's
 * memory), else 1. The parent's end: pipefd[1]. Returns the pid or -1.
 */
static pid_t fork_waiting_child(int pipefd[2], long *p, long want)
{
	pid_t child;
	char c;

	if (pipe(pipefd))
		return -1;
	child = fork();
	if (child) {
		close(pipefd[0]);
		return child;
	}
	close(pipefd[1]);
	_exit(read(pipefd[0], &c, 1) == 0 &&
	      (!p || *(volatile long *)p == want) ? 0 : 1);
}

/*
 * Map one huge page holding @value, then the rest of the pool (*@rest,
 * written): the pool is empty afterwards. The page, or NULL.
 */
static char *map_last_page_of_pool(char **rest, long value)
{
	char *p = (char *)w_mmap_huge(HPAGE, 0, 0, NULL);

	if (p == (char *)-1)
		return NULL;
	*(volatile long *)p = value;
	*rest = (char *)w_mmap_huge((POOL - 1) * HPAGE, 0, 0, NULL);
	if (*rest == (char *)-1)
		return NULL;
	memset(*rest, 1, (POOL - 1) * HPAGE);
	return p;
}

/* Every worker and the main thread read @want at @p, from one page. */
static void expect_everywhere(struct __test_metadata *_metadata,
			      FIXTURE_DATA(hugetlb) *self, char *p, long want)
{
	int64_t pfn;
	int i;

	ASSERT_EQ(want, *(volatile long *)p);
	pfn = mvt_pfn(mvt_gettid(), p);
	ASSERT_LT(0, pfn);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(want, WRPC(WCH(i), MVT_LOAD, (long)p).ret)
			TH_LOG("view %ld reads another value", self->view[i]);
		ASSERT_EQ(pfn, WRPC(WCH(i), MVT_PFN, (long)p).ret)
			TH_LOG("view %ld maps another page", self->view[i]);
	}
}

/* Mapped from view 1, written from view 2 and the base: one page. */
TEST_F_TIMEOUT(hugetlb, private_page_is_one_page_in_every_view, 120)
{
	char *p;

	p = (char *)WOK(WCH(1), MVT_CALL, (long)w_mmap_huge, HPAGE);
	WOK(WCH(2), MVT_STORE, (long)p + 4096, 0x2222);
	expect_everywhere(_metadata, self, p + 4096, 0x2222);
	*(volatile long *)p = 0x1111;
	expect_everywhere(_metadata, self, p, 0x1111);
	ASSERT_EQ(0x2222, WRPC(WCH(1), MVT_LOAD, (long)p + 4096).ret);
	/* One huge page for the process, not one per view. */
	ASSERT_EQ(self->free0 - 1, huge_free());
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_munmap, (long)p, HPAGE));
	ASSERT_EQ(self->free0, huge_free());
}

/* A page written before a view exists stays shared with the new view. */
TEST_F_TIMEOUT(hugetlb, existing_page_is_shared_with_a_new_view, 120)
{
	char *p;
	long v;

	p = (char *)w_mmap_huge(HPAGE, 0, 0, NULL);
	ASSERT_NE((char *)-1, p);
	*(volatile long *)p = 0x3333;
	v = mmview_create();
	ASSERT_LT(0, v);
	ASSERT_EQ(self->view[2], WOK(WCH(2), MVT_MIGRATE, v));
	ASSERT_EQ(0x3333, WRPC(WCH(2), MVT_LOAD, (long)p).ret);
	WOK(WCH(2), MVT_STORE, (long)p, 0x4444);
	ASSERT_EQ(0x4444, *(volatile long *)p);
	expect_everywhere(_metadata, self, p, 0x4444);
	ASSERT_EQ(self->free0 - 1, huge_free());
	ASSERT_EQ(v, WOK(WCH(2), MVT_MIGRATE, self->view[2]));
	ASSERT_EQ(0, mmview_delete(v));
	munmap(p, HPAGE);
}

/*
 * After mprotect() to read-only and back, the base maps a huge page
 * read-only while the views map it too. A store, from the base or from a
 * view (which faults in the base), must reuse the page: it is still the
 * process's alone (PageAnonExclusive), however many views map it. Before,
 * hugetlb_wp() counted the views' mappings as other sharers: a kernel BUG
 * under DEBUG_VM (the kernel's cow selftest inside views hit it), and
 * without DEBUG_VM a copy for the base, from a page the process may not
 * have in its pool.
 */
TEST_F_TIMEOUT(hugetlb, store_after_mprotect_reuses_the_page_views_map, 120)
{
	int64_t pfn;
	char *p;

	p = (char *)w_mmap_huge(HPAGE, 0, 0, NULL);
	ASSERT_NE((char *)-1, p);
	*(volatile long *)p = 0x4141;
	pfn = mvt_pfn(mvt_gettid(), p);
	ASSERT_LT(0, pfn);

	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ));
	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ | PROT_WRITE));
	expect_everywhere(_metadata, self, p, 0x4141);
	*(volatile long *)p = 0x4242;
	expect_everywhere(_metadata, self, p, 0x4242);
	ASSERT_EQ(pfn, mvt_pfn(mvt_gettid(), p)) TH_LOG("the base copied");

	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ));
	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ | PROT_WRITE));
	expect_everywhere(_metadata, self, p, 0x4242);
	WOK(WCH(1), MVT_STORE, (long)p, 0x4343);
	expect_everywhere(_metadata, self, p, 0x4343);
	ASSERT_EQ(pfn, mvt_pfn(mvt_gettid(), p)) TH_LOG("the base copied");

	ASSERT_EQ(self->free0 - 1, huge_free());
	ASSERT_EQ(0, munmap(p, HPAGE));
	ASSERT_EQ(self->free0, huge_free());
}

/*
 * A long-term pin taken from a thread in a view (gup_test, as io_uring's
 * fixed buffers or RDMA would) pins the process's page: a fork() from the
 * base must then copy the page for the child instead of sharing it, so
 * that the parent's next store reaches the pinned page. Before, the pin
 * marked only the view's mm (MMF_HAS_PINNED), fork() shared the page, the
 * store copied it for the parent, and the pin read the old contents.
 */
TEST_F_TIMEOUT(hugetlb, pin_from_a_view_survives_fork_of_the_base, 120)
{
	struct pin_longterm_test pin = { .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE };
	int pipefd[2], fd, status;
	long *pinned;	/* a page: the ioctl copies whole pages */
	pid_t child;
	__u64 buf;
	char *p;

	fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (fd < 0)
		SKIP(return, "no gup_test (CONFIG_GUP_TEST)");
	p = (char *)w_mmap_huge(HPAGE, 0, 0, NULL);
	ASSERT_NE((char *)-1, p);
	*(volatile long *)p = 0x1234;
	pin.addr = (uintptr_t)p;
	pin.size = sysconf(_SC_PAGESIZE);
	pinned = mvt_map_populated(pin.size);
	ASSERT_NE(NULL, pinned);
	buf = (uintptr_t)pinned;
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_ioctl, fd,
			 PIN_LONGTERM_TEST_START, (long)&pin))
		TH_LOG("pin from view %ld", self->view[1]);

	child = fork_waiting_child(pipefd, (long *)p, 0x1234);
	ASSERT_LE(0, child);
	*(volatile long *)p = 0x5678;
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_READ, &buf));
	close(pipefd[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_STOP));
	close(fd);
	ASSERT_EQ(0x5678, pinned[0])
		TH_LOG("the pinned page went to the child: it reads %#lx", pinned[0]);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("the child saw the parent's store");
	ASSERT_EQ(0, munmap(p, HPAGE));
}

/*
 * Pages reserved by an mmap() from view 1 serve faults from every view, even
 * when no page outside the reservation is left; a further mapping fails as
 * it would without views.
 */
TEST_F_TIMEOUT(hugetlb, reservation_serves_every_view, 120)
{
	long rsvd0 = mvt_meminfo_kb("HugePages_Rsvd");
	struct mvt_res r;
	char *p;

	p = (char *)WOK(WCH(1), MVT_CALL, (long)w_mmap_huge, POOL * HPAGE);
	ASSERT_EQ(rsvd0 + POOL, mvt_meminfo_kb("HugePages_Rsvd"));
	r = WRPC(WCH(2), MVT_CALL, (long)w_mmap_huge, HPAGE);
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(ENOMEM, r.err);

	WOK(WCH(2), MVT_STORE, (long)p, 0x10);
	WOK(WCH(0), MVT_STORE, (long)p + HPAGE, 0x11);
	*(volatile long *)(p + 2 * HPAGE) = 0x12;
	WOK(WCH(1), MVT_STORE, (long)p + 3 * HPAGE, 0x13);
	ASSERT_EQ(0, huge_free());
	ASSERT_EQ(rsvd0, mvt_meminfo_kb("HugePages_Rsvd"));
	expect_everywhere(_metadata, self, p, 0x10);
	expect_everywhere(_metadata, self, p + HPAGE, 0x11);
	expect_everywhere(_metadata, self, p + 2 * HPAGE, 0x12);
	expect_everywhere(_metadata, self, p + 3 * HPAGE, 0x13);

	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_munmap, (long)p,
			 POOL * HPAGE));
	ASSERT_EQ(self->free0, huge_free());
	ASSERT_EQ(rsvd0, mvt_meminfo_kb("HugePages_Rsvd"));
}

/*
 * After fork(), the child shares the page copy-on-write. With the pool
 * exhausted, a store from view 1 still succeeds, as a store of the mapping's
 * owner does without views, and every view sees it.
 */
TEST_F_TIMEOUT(hugetlb, cow_with_exhausted_pool, 120)
{
	int pipefd[2];
	char *p, *rest;
	pid_t child;
	int status;

	p = map_last_page_of_pool(&rest, 0x5555);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, huge_free());

	child = fork_waiting_child(pipefd, NULL, 0);
	ASSERT_LE(0, child);

	ASSERT_EQ(0x5555, WRPC(WCH(2), MVT_LOAD, (long)p).ret);
	WOK(WCH(1), MVT_STORE, (long)p, 0x6666);
	expect_everywhere(_metadata, self, p, 0x6666);
	ASSERT_EQ(0, huge_free());

	close(pipefd[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	munmap(rest, (POOL - 1) * HPAGE);
	munmap(p, HPAGE);
	ASSERT_EQ(self->free0, huge_free());
}

/* A thread that moves to view *arg, reads the long at hp_read_at, and back. */
static char *hp_read_at;

static void *read_in_view(void *arg)
{
	long v = *(long *)arg;

	if (mmview_migrate(v) < 0)
		return (void *)1;
	*(long *)arg = *(volatile long *)hp_read_at;
	mmview_migrate(0);
	return NULL;
}

static sigjmp_buf hp_jmp;

static void hp_on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(hp_jmp, 1);
}

/*
 * Child side: the parent unmapped the page, so it is ours alone, but not
 * marked exclusive (we shared it). A view of ours copies it, then we store:
 * that must reuse the page, although its mapcount counts the view's copy
 * too. With the pool empty a copy fails, and we do not own the mapping's
 * reservation: SIGBUS. Exit 0 on reuse, 2 on SIGBUS, 3 otherwise.
 */
static int store_after_a_view_copied(int ready_fd, char *p)
{
	pthread_t th;
	int64_t pfn;
	long v;
	char c;

	if (read(ready_fd, &c, 1) != 0)
		return 3;
	pfn = mvt_pfn(mvt_gettid(), p);
	v = mmview_create();
	if (v <= 0 || pfn <= 0)
		return 3;
	hp_read_at = p;
	if (pthread_create(&th, NULL, read_in_view, &v) || pthread_join(th, NULL))
		return 3;
	if (v != 0x7777)
		return 3;
	signal(SIGBUS, hp_on_sigbus);
	if (sigsetjmp(hp_jmp, 1))
		return 2;
	*(volatile long *)p = 0x8888;
	return *(volatile long *)p == 0x8888 &&
	       mvt_pfn(mvt_gettid(), p) == pfn ? 0 : 3;
}

TEST_F_TIMEOUT(hugetlb, page_shared_only_with_views_is_reused, 120)
{
	int pipefd[2], status;
	char *p, *rest;
	pid_t child;

	p = map_last_page_of_pool(&rest, 0x7777);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, huge_free());

	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		close(pipefd[1]);
		_exit(store_after_a_view_copied(pipefd[0], p));
	}
	close(pipefd[0]);
	ASSERT_EQ(0, munmap(p, HPAGE));
	close(pipefd[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status))
		TH_LOG("the child's store: %s", WEXITSTATUS(status) == 2 ?
		       "SIGBUS (the view's copy counted as a sharer)" :
		       "wrong value, or copied");
	munmap(rest, (POOL - 1) * HPAGE);
	ASSERT_EQ(self->free0, huge_free());
}

/*
 * A child forked from view 2 keeps the page as it was at the fork, while
 * the parent's stores from any view stay visible in all of its views.
 */
TEST_F_TIMEOUT(hugetlb, fork_from_a_view_keeps_the_childs_snapshot, 120)
{
	struct mvt_child c;
	int status;
	char *p;

	p = (char *)WOK(WCH(1), MVT_CALL, (long)w_mmap_huge, HPAGE);
	WOK(WCH(2), MVT_STORE, (long)p, 0x7777);
	ASSERT_EQ(0, mvt_child_pipes(&c));
	c.pid = (pid_t)WOK(WCH(2), MVT_FORK, c.cmd_rd, c.rsp_wr, c.ch.cmd_wr);
	ASSERT_LT(0, c.pid);

	WOK(WCH(2), MVT_STORE, (long)p, 0x8888);
	expect_everywhere(_metadata, self, p, 0x8888);
	ASSERT_EQ(0x7777, WRPC(&c.ch, MVT_LOAD, (long)p).ret)
		TH_LOG("the child sees the parent's store");
	WOK(&c.ch, MVT_STORE, (long)p, 0x9999);
	expect_everywhere(_metadata, self, p, 0x8888);

	status = mvt_child_finish(&c);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_munmap, (long)p, HPAGE));
	ASSERT_EQ(self->free0, huge_free());
}

/*
 * mmview_unshare() of 4 KiB inside a huge page, before any view exists,
 * unshares the whole huge page: each view then has its own copy of all of
 * it, while the next huge page of the mapping stays shared.
 */
TEST(unshare_takes_whole_huge_pages)
{
	struct mvt_worker w;
	char buf[32];
	char *p;
	long v;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	snprintf(buf, sizeof(buf), "%d", POOL);
	mvt_write_file("/proc/sys/vm/nr_hugepages", buf);
	if (huge_free() < 3)
		SKIP(return, "no pool of 2 MiB pages in this guest");
	p = (char *)w_mmap_huge(2 * HPAGE, 0, 0, NULL);
	ASSERT_NE((char *)-1, p);
	*(volatile long *)p = 0xa;
	*(volatile long *)(p + HPAGE) = 0xb;
	ASSERT_EQ(0, mmview_unshare(p + 4096, 4096));
	ASSERT_EQ(0, mvt_worker_start(&w));
	v = mmview_create();
	ASSERT_LT(0, v);
	ASSERT_EQ(0, WOK(&w.ch, MVT_MIGRATE, v));

	/* The snapshot, then stores that stay in their view. */
	ASSERT_EQ(0xa, WRPC(&w.ch, MVT_LOAD, (long)p).ret);
	WOK(&w.ch, MVT_STORE, (long)p, 0xc);
	WOK(&w.ch, MVT_STORE, (long)p + HPAGE - 8, 0xf);
	*(volatile long *)(p + 8) = 0xd;
	ASSERT_EQ(0xa, *(volatile long *)p);
	ASSERT_EQ(0, *(volatile long *)(p + HPAGE - 8));
	ASSERT_EQ(0, WRPC(&w.ch, MVT_LOAD, (long)p + 8).ret);
	ASSERT_EQ(0xc, WRPC(&w.ch, MVT_LOAD, (long)p).ret);
	/* The next huge page is shared. */
	WOK(&w.ch, MVT_STORE, (long)p + HPAGE, 0xe);
	ASSERT_EQ(0xe, *(volatile long *)(p + HPAGE));

	ASSERT_EQ(v, WOK(&w.ch, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mvt_worker_stop(&w));
	ASSERT_EQ(0, mmview_delete(v));
	munmap(p, 2 * HPAGE);
	mvt_write_file("/proc/sys/vm/nr_hugepages", "0");
}

/* MVT_CALL: MAP_PRIVATE of the hugetlbfs file @fd, @len bytes. */
static long w_mmap_file(long fd, long len, long unused, long *out)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	(void)unused;
	(void)out;
	return p == MAP_FAILED ? -1 : (long)p;
}

/*
 * A private mapping of a hugetlbfs file (memfd with MFD_HUGETLB), made in
 * view 1: every view reads the file's page, a store from view 2 copies it
 * once for the process (every view sees the copy) and leaves the file alone.
 */
TEST_F_TIMEOUT(hugetlb, private_file_mapping_copies_once, 120)
{
	char *shared, *p;
	int fd;

	fd = memfd_create("mmview-huge", MFD_HUGETLB);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, HPAGE));
	shared = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, shared);
	*(volatile long *)shared = 0xf11e;
	ASSERT_EQ(self->free0 - 1, huge_free());

	p = (char *)WOK(WCH(1), MVT_CALL, (long)w_mmap_file, fd, HPAGE);
	/* Reads map the file's page in every view. */
	expect_everywhere(_metadata, self, p, 0xf11e);
	ASSERT_EQ(mvt_pfn(mvt_gettid(), shared), mvt_pfn(mvt_gettid(), p));

	WOK(WCH(2), MVT_STORE, (long)p, 0xc0b);
	expect_everywhere(_metadata, self, p, 0xc0b);
	ASSERT_NE(mvt_pfn(mvt_gettid(), shared), mvt_pfn(mvt_gettid(), p));
	ASSERT_EQ(0xf11e, *(volatile long *)shared);
	/* One copy for the process. */
	ASSERT_EQ(self->free0 - 2, huge_free());

	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_munmap, (long)p, HPAGE));
	munmap(shared, HPAGE);
	close(fd);
	ASSERT_EQ(self->free0, huge_free());
}

TEST_HARNESS_MAIN
