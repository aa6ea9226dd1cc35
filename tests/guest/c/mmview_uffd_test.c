// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd in a process with views. A userfaultfd opened and registered
 * from any view covers the process's shared private memory: a fault from a
 * thread in any view is delivered once, with that thread's id, and
 * UFFDIO_COPY, UFFDIO_ZEROPAGE, UFFDIO_WRITEPROTECT and UFFDIO_MOVE
 * resolve it for every view at once (the same page in all of them). A
 * munmap() of a registered range from any view gives exactly one UNMAP
 * event.
 *
 * Worker i runs in view i (worker 0 in the base, like the main thread).
 * The main thread reads the userfaultfd and resolves the faults.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW	3	/* worker i runs in view i; worker 0 in base */
#define NPAGES	8

FIXTURE(uffd) {
	struct mvt_worker w[NW];
	long view[NW];
	size_t ps;
	char *area;	/* NPAGES private anonymous pages, never touched */
	int fd;
	uint64_t features;	/* what the kernel offers */
};

#define WCH(i) (&self->w[i].ch)

/* MVT_CALL: open a userfaultfd with @features in the calling view. */
static long w_uffd_open(long features, long unused1, long unused2, long *out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	long fd;

	(void)unused1;
	(void)unused2;
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	out[0] = api.features;
	return fd;
}

static int uffd_fd;	/* the process's: every thread finds it in the table */

/* MVT_CALL: UFFDIO_REGISTER [addr, addr + len) with @mode. */
static long w_register(long addr, long len, long mode, long *out)
{
	struct uffdio_register reg = {
		.range = { .start = addr, .len = len },
		.mode = mode,
	};

	(void)out;
	return ioctl(uffd_fd, UFFDIO_REGISTER, &reg);
}

/* MVT_CALL: UFFDIO_MOVE @len bytes from @src to @dst. */
static long w_uffd_move(long dst, long src, long len, long *out)
{
	struct uffdio_move mv = { .dst = dst, .src = src, .len = len };

	if (ioctl(uffd_fd, UFFDIO_MOVE, &mv))
		return -1;
	out[0] = mv.move;
	return 0;
}

FIXTURE_SETUP(uffd)
{
	struct mvt_res r;
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->area = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->area);
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));

	/* Opened in view 1, after the views exist. */
	r = WRPC(WCH(1), MVT_CALL, (long)w_uffd_open,
		 UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EVENT_UNMAP);
	ASSERT_LE(0, r.ret) TH_LOG("userfaultfd in view %ld: %s",
				   self->view[1], strerror(r.err));
	self->fd = r.ret;
	self->features = r.out[0];
	uffd_fd = self->fd;
}

FIXTURE_TEARDOWN(uffd)
{
	close(self->fd);
	mvt_workers_stop_views(self->w, self->view, NW);
	munmap(self->area, NPAGES * self->ps);
}

/* An RPC to a worker that blocks in a userfault: run it in a thread. */
struct async {
	const struct mvt_chan *ch;
	long op, a, b, c;
	struct mvt_res res;
	pthread_t th;
};

static void *async_rpc(void *p)
{
	struct async *c = p;

	c->res = mvt_rpc_timeout(c->ch, 60000, c->op, c->a, c->b, c->c, 0);
	return NULL;
}

static int async_start(struct async *c, const struct mvt_chan *ch, long op,
		       long a, long b, long cc)
{
	c->ch = ch;
	c->op = op;
	c->a = a;
	c->b = b;
	c->c = cc;
	return pthread_create(&c->th, NULL, async_rpc, c);
}

/* The next message within @ms: 1, or 0 if none came. */
static int read_msg(int fd, struct uffd_msg *msg, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	return read(fd, msg, sizeof(*msg)) == sizeof(*msg);
}

static void expect_pfns_alike(struct __test_metadata *_metadata,
			      FIXTURE_DATA(uffd) *self, void *addr)
{
	int64_t pfn = mvt_pfn(mvt_gettid(), addr);
	int i;

	ASSERT_LT(0, pfn);
	for (i = 0; i < NW; i++) {
		/* MVT_LOAD first: a view maps the base's page on its fault. */
		WRPC(WCH(i), MVT_LOAD, (long)addr);
		ASSERT_EQ(pfn, WRPC(WCH(i), MVT_PFN, (long)addr).ret)
			TH_LOG("view %ld maps another page", self->view[i]);
	}
}

/*
 * Registered from view 1; a thread of view 2 and one of the base fault:
 * each fault is delivered once, named by its thread, and resolved for all.
 */
TEST_F_TIMEOUT(uffd, missing_faults_from_every_view, 120)
{
	char *page0 = self->area, *page1 = self->area + self->ps;
	struct uffdio_copy copy;
	struct uffdio_zeropage zero;
	struct uffd_msg msg;
	struct async c;
	char *src;

	ASSERT_EQ(0, WRPC(WCH(1), MVT_CALL, (long)w_register,
			  (long)self->area, NPAGES * self->ps,
			  UFFDIO_REGISTER_MODE_MISSING).ret);

	/* A load from view 2 waits for the main thread. */
	ASSERT_EQ(0, async_start(&c, WCH(2), MVT_LOAD, (long)page0, 0, 0));
	ASSERT_EQ(1, read_msg(self->fd, &msg, 10000));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_EQ((uint64_t)(uintptr_t)page0, msg.arg.pagefault.address);
	ASSERT_EQ((uint32_t)self->w[2].tid, msg.arg.pagefault.feat.ptid);
	ASSERT_EQ(0, read_msg(self->fd, &msg, 300)) TH_LOG("delivered twice");

	/*
	 * The waiting thread holds no lock of its view: a layout change,
	 * which takes every view's, goes through (the source buffer).
	 */
	src = mvt_map_populated(self->ps);
	ASSERT_NE(NULL, src);
	memset(src, 0x5a, self->ps);
	copy = (struct uffdio_copy){ .dst = (uintptr_t)page0,
				     .src = (uintptr_t)src,
				     .len = self->ps };
	ASSERT_EQ(0, ioctl(self->fd, UFFDIO_COPY, &copy));
	ASSERT_EQ((int64_t)self->ps, copy.copy);
	pthread_join(c.th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0x5a5a5a5a5a5a5a5aL, c.res.ret);
	ASSERT_EQ(0x5a5a5a5a5a5a5a5aL, WRPC(WCH(1), MVT_LOAD, (long)page0).ret);
	ASSERT_EQ(0x5a5a5a5a5a5a5a5aL, *(volatile long *)page0);
	expect_pfns_alike(_metadata, self, page0);

	/* A store from the base's worker: resolved with the zero page. */
	ASSERT_EQ(0, async_start(&c, WCH(0), MVT_STORE, (long)page1, 0x77, 0));
	ASSERT_EQ(1, read_msg(self->fd, &msg, 10000));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_EQ((uint64_t)(uintptr_t)page1, msg.arg.pagefault.address);
	ASSERT_EQ((uint32_t)self->w[0].tid, msg.arg.pagefault.feat.ptid);
	ASSERT_TRUE(!!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE));
	zero = (struct uffdio_zeropage){ .range = { .start = (uintptr_t)page1,
						    .len = self->ps } };
	ASSERT_EQ(0, ioctl(self->fd, UFFDIO_ZEROPAGE, &zero));
	pthread_join(c.th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0, c.res.ret);
	/* The store replaced the zero page: every view sees it. */
	ASSERT_EQ(0x77, WRPC(WCH(2), MVT_LOAD, (long)page1).ret);
	ASSERT_EQ(0x77, WRPC(WCH(1), MVT_LOAD, (long)page1).ret);
	ASSERT_EQ(0x77, *(volatile long *)page1);
	ASSERT_EQ(0, read_msg(self->fd, &msg, 100));
	munmap(src, self->ps);
}

/* Write-protected from view 2; a store from view 1 waits for the unprotect. */
TEST_F_TIMEOUT(uffd, writeprotect_fault_from_another_view, 120)
{
	char *page = self->area + 2 * self->ps;
	struct uffdio_writeprotect wp;
	struct uffdio_copy copy;
	struct uffd_msg msg;
	struct async c;
	char *src;

	if (!(self->features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		SKIP(return, "no userfaultfd write protection for anonymous memory");
	ASSERT_EQ(0, WRPC(WCH(2), MVT_CALL, (long)w_register, (long)page,
			  self->ps, UFFDIO_REGISTER_MODE_MISSING |
			  UFFDIO_REGISTER_MODE_WP).ret);
	src = mvt_map_populated(self->ps);
	ASSERT_NE(NULL, src);
	memset(src, 0x11, self->ps);
	copy = (struct uffdio_copy){ .dst = (uintptr_t)page,
				     .src = (uintptr_t)src, .len = self->ps,
				     .mode = UFFDIO_COPY_MODE_WP };
	ASSERT_EQ(0, ioctl(self->fd, UFFDIO_COPY, &copy));

	/* Reads need nothing. */
	ASSERT_EQ(0x1111111111111111L, WRPC(WCH(1), MVT_LOAD, (long)page).ret);
	ASSERT_EQ(0, read_msg(self->fd, &msg, 100));

	ASSERT_EQ(0, async_start(&c, WCH(1), MVT_STORE, (long)page, 0x22, 0));
	ASSERT_EQ(1, read_msg(self->fd, &msg, 10000));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_TRUE(!!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP));
	ASSERT_EQ((uint32_t)self->w[1].tid, msg.arg.pagefault.feat.ptid);
	/* Still protected: nobody sees the store yet. */
	ASSERT_EQ(0x1111111111111111L, *(volatile long *)page);
	ASSERT_EQ(0, read_msg(self->fd, &msg, 300)) TH_LOG("delivered twice");

	wp = (struct uffdio_writeprotect){ .range = { .start = (uintptr_t)page,
						      .len = self->ps } };
	ASSERT_EQ(0, ioctl(self->fd, UFFDIO_WRITEPROTECT, &wp));
	pthread_join(c.th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0, c.res.ret);
	ASSERT_EQ(0x22, *(volatile long *)page);
	ASSERT_EQ(0x22, WRPC(WCH(2), MVT_LOAD, (long)page).ret);
	expect_pfns_alike(_metadata, self, page);
	munmap(src, self->ps);
}

/*
 * Flag advice from a view (mirrored into the base) keeps the base's
 * registration: the base's VMA must keep its userfaultfd flags along with
 * its context (the kernel BUG()s on a mismatch when the userfaultfd is
 * closed), and faults must still be delivered.
 */
TEST_F_TIMEOUT(uffd, registration_survives_flag_advice_from_a_view, 120)
{
	char *page = self->area + self->ps;
	struct uffdio_zeropage zp;
	struct uffd_msg msg;
	struct async c;

	ASSERT_EQ(0, WRPC(WCH(2), MVT_CALL, (long)w_register,
			  (long)self->area, NPAGES * self->ps,
			  UFFDIO_REGISTER_MODE_MISSING).ret);
	ASSERT_EQ(0, WRPC(WCH(1), MVT_SYSCALL, SYS_madvise, (long)self->area,
			  NPAGES * self->ps, MADV_RANDOM).ret);
	ASSERT_EQ(0, WRPC(WCH(2), MVT_SYSCALL, SYS_madvise, (long)self->area,
			  NPAGES * self->ps, MADV_NORMAL).ret);

	ASSERT_EQ(0, async_start(&c, WCH(1), MVT_STORE, (long)page, 0x33, 0));
	ASSERT_EQ(1, read_msg(self->fd, &msg, 10000))
		TH_LOG("no fault delivered after the advice");
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_EQ((uint64_t)(uintptr_t)page,
		  msg.arg.pagefault.address & ~(uint64_t)(self->ps - 1));
	zp = (struct uffdio_zeropage){ .range = { .start = (uintptr_t)page,
						  .len = self->ps } };
	ASSERT_EQ(0, ioctl(self->fd, UFFDIO_ZEROPAGE, &zp));
	pthread_join(c.th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0x33, *(volatile long *)page);
	/* The teardown closes the userfaultfd: the release walks the VMAs. */
}

/* UFFDIO_MOVE issued from view 2 moves the base's page for every view. */
TEST_F_TIMEOUT(uffd, move_from_a_view, 120)
{
	char *dst = self->area + 3 * self->ps;
	char *src;
	struct mvt_res r;

	if (!(self->features & UFFD_FEATURE_MOVE))
		SKIP(return, "no UFFDIO_MOVE");
	ASSERT_EQ(0, WRPC(WCH(1), MVT_CALL, (long)w_register, (long)dst,
			  self->ps, UFFDIO_REGISTER_MODE_MISSING).ret);
	src = mvt_map_populated(self->ps);
	ASSERT_NE(NULL, src);
	*(volatile long *)src = 0x4d4f5645;
	ASSERT_EQ(0x4d4f5645, WRPC(WCH(1), MVT_LOAD, (long)src).ret);

	r = WRPC(WCH(2), MVT_CALL, (long)w_uffd_move, (long)dst, (long)src,
		 self->ps);
	ASSERT_EQ(0, r.ret) TH_LOG("UFFDIO_MOVE from view %ld: %s",
				   self->view[2], strerror(r.err));
	ASSERT_EQ((long)self->ps, r.out[0]);
	ASSERT_EQ(0x4d4f5645, *(volatile long *)dst);
	ASSERT_EQ(0x4d4f5645, WRPC(WCH(1), MVT_LOAD, (long)dst).ret);
	ASSERT_EQ(0x4d4f5645, WRPC(WCH(2), MVT_LOAD, (long)dst).ret);
	expect_pfns_alike(_metadata, self, dst);
	/* The source is empty now, in every view. */
	ASSERT_EQ(0, WRPC(WCH(1), MVT_LOAD, (long)src).ret);
	ASSERT_EQ(0, *(volatile long *)src);
	munmap(src, self->ps);
}

/* munmap() of a registered range from a view or the base: one UNMAP each. */
TEST_F_TIMEOUT(uffd, one_unmap_event_per_munmap, 120)
{
	size_t len = 2 * self->ps;
	struct uffd_msg msg;
	struct async c;
	int k;

	ASSERT_EQ(0, WRPC(WCH(1), MVT_CALL, (long)w_register,
			  (long)self->area, NPAGES * self->ps,
			  UFFDIO_REGISTER_MODE_MISSING).ret);
	/* From view 2, then from the base's worker. */
	for (k = 2; k >= 0; k -= 2) {
		char *start = self->area + (k + 2) * self->ps;

		/* munmap() waits until the event is read. */
		ASSERT_EQ(0, async_start(&c, WCH(k), MVT_SYSCALL, SYS_munmap,
					 (long)start, len));
		ASSERT_EQ(1, read_msg(self->fd, &msg, 10000))
			TH_LOG("no UNMAP event for munmap() in view %ld",
			       self->view[k]);
		ASSERT_EQ(UFFD_EVENT_UNMAP, msg.event);
		ASSERT_EQ((uint64_t)(uintptr_t)start, msg.arg.remove.start);
		ASSERT_EQ((uint64_t)(uintptr_t)start + len, msg.arg.remove.end);
		pthread_join(c.th, NULL);
		ASSERT_EQ(0, c.res.rpc);
		ASSERT_EQ(0, c.res.ret);
		ASSERT_EQ(0, read_msg(self->fd, &msg, 300))
			TH_LOG("a second event %d for munmap() in view %ld",
			       msg.event, self->view[k]);
		ASSERT_EQ(-1, msync(start, len, MS_ASYNC));
		ASSERT_EQ(ENOMEM, errno);
	}
}

TEST_HARNESS_MAIN
