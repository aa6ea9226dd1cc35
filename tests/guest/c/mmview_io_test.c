// SPDX-License-Identifier: GPL-2.0
/*
 * Asynchronous I/O between threads in different views: an io_uring (plain
 * and SQPOLL) set up in one view is used from the others, an io-wq worker
 * keeps a deleted view alive until its request completes, and a Linux AIO
 * context created in one view is usable from every view.
 *
 * Raw system calls only (no liburing), so that the test builds for every
 * architecture from the kernel's uapi headers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW	3	/* worker i runs in view i; worker 0 in base */
#define BUFLEN	4096

struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array, *sq_flags;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq_ptr, *cq_ptr;
	size_t sq_len, cq_len, sqes_len;
	unsigned int flags;
};

/* Set up a ring of 8 entries in the calling thread's view; 0 or -errno. */
static int ring_setup(struct ring *r, unsigned int flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	memset(r, 0, sizeof(*r));
	p.flags = flags;
	p.sq_thread_idle = 1000;
	r->fd = syscall(SYS_io_uring_setup, 8, &p);
	if (r->fd < 0)
		return -errno;
	r->flags = flags;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sq_ptr = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	r->cq_ptr = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sq_ptr == MAP_FAILED || r->cq_ptr == MAP_FAILED ||
	    r->sqes == MAP_FAILED)
		return -errno;
	r->sq_tail = (unsigned int *)((char *)r->sq_ptr + p.sq_off.tail);
	r->sq_mask = (unsigned int *)((char *)r->sq_ptr + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)((char *)r->sq_ptr + p.sq_off.array);
	r->sq_flags = (unsigned int *)((char *)r->sq_ptr + p.sq_off.flags);
	r->cq_head = (unsigned int *)((char *)r->cq_ptr + p.cq_off.head);
	r->cq_tail = (unsigned int *)((char *)r->cq_ptr + p.cq_off.tail);
	r->cq_mask = (unsigned int *)((char *)r->cq_ptr + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)r->cq_ptr + p.cq_off.cqes);
	return 0;
}

static void ring_free(struct ring *r)
{
	munmap(r->sqes, r->sqes_len);
	munmap(r->cq_ptr, r->cq_len);
	munmap(r->sq_ptr, r->sq_len);
	close(r->fd);
}

/*
 * Queue a read of @len bytes of @fd at @off into @buf (IOSQE_ASYNC: through
 * an io-wq worker), submit it, and return the io_uring_enter() result.
 */
static long ring_read(struct ring *r, int fd, void *buf, unsigned int len,
		      long off, bool async)
{
	unsigned int tail = atomic_load_explicit((_Atomic unsigned int *)r->sq_tail,
						 memory_order_relaxed);
	unsigned int idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	unsigned int enter = 0;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (unsigned long)buf;
	sqe->len = len;
	sqe->off = off;
	sqe->flags = async ? IOSQE_ASYNC : 0;
	sqe->user_data = 0x1234 + tail;
	r->sq_array[idx] = idx;
	atomic_store_explicit((_Atomic unsigned int *)r->sq_tail, tail + 1,
			      memory_order_release);
	if (r->flags & IORING_SETUP_SQPOLL) {
		atomic_thread_fence(memory_order_seq_cst);
		if (*r->sq_flags & IORING_SQ_NEED_WAKEUP)
			enter = IORING_ENTER_SQ_WAKEUP;
		return syscall(SYS_io_uring_enter, r->fd, 0, 0, enter, NULL, 0);
	}
	return syscall(SYS_io_uring_enter, r->fd, 1, 0, 0, NULL, 0);
}

/* Wait for one completion; its result, or -ETIME after @ms. */
static long ring_wait(struct ring *r, unsigned int ms)
{
	uint64_t end = mvt_now_ms() + ms;
	unsigned int head = *r->cq_head;
	long res;

	while (atomic_load_explicit((_Atomic unsigned int *)r->cq_tail,
				    memory_order_acquire) == head) {
		if (mvt_now_ms() > end)
			return -ETIME;
		syscall(SYS_io_uring_enter, r->fd, 0, 1,
			IORING_ENTER_GETEVENTS, NULL, 0);
	}
	res = r->cqes[head & *r->cq_mask].res;
	atomic_store_explicit((_Atomic unsigned int *)r->cq_head, head + 1,
			      memory_order_release);
	return res;
}

FIXTURE(io) {
	struct mvt_worker w[NW];
	long view[NW];
	int file;		/* memfd: BUFLEN bytes of 'f' */
	char *buf;		/* shared, BUFLEN */
};

FIXTURE_SETUP(io)
{
	char data[BUFLEN];
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->file = memfd_create("mmview-io", 0);
	ASSERT_LE(0, self->file);
	memset(data, 'f', sizeof(data));
	ASSERT_EQ(BUFLEN, write(self->file, data, BUFLEN));
	self->buf = mvt_map_populated(BUFLEN);
	ASSERT_NE(NULL, self->buf);
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(io)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	close(self->file);
}

#define WCH(i) (&self->w[i].ch)

static struct ring test_ring;

/* MVT_CALL: ring_read() of the file into @buf, then wait; the result. */
static long w_ring_read(long fd, long buf, long async, long *out)
{
	long ret = ring_read(&test_ring, fd, (void *)buf, BUFLEN, 0, async);

	out[0] = ret;
	if (ret < 0)
		return ret;
	return ring_wait(&test_ring, 30000);
}

static long w_ring_setup(long flags, long unused1, long unused2, long *out)
{
	(void)unused1;
	(void)unused2;
	(void)out;
	return ring_setup(&test_ring, flags);
}

/* A ring set up in view @owner, used by every worker in turn. */
static void ring_in_every_view(struct __test_metadata *_metadata,
			       FIXTURE_DATA(io) *self, int owner,
			       unsigned int flags)
{
	struct mvt_res r;
	int i;

	r = WRPC(WCH(owner), MVT_CALL, (long)w_ring_setup, flags);
	if (r.ret == -ENOSYS || r.ret == -EPERM)
		SKIP(return, "io_uring unavailable: %s", strerror(-r.ret));
	ASSERT_EQ(0, r.ret) TH_LOG("io_uring_setup: %s", strerror(-r.ret));
	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		memset(self->buf, 0, BUFLEN);
		ASSERT_EQ(BUFLEN, WRPC(WCH(i), MVT_CALL, (long)w_ring_read,
				       self->file, (long)self->buf, i == 2).ret)
			TH_LOG("read through the ring from view %ld", view);
		/* Landed in the shared buffer: every view sees it. */
		ASSERT_EQ(0, WOK(WCH((i + 1) % NW), MVT_CHECK, (long)self->buf,
				 BUFLEN, 0x6666666666666666L));
	}
	ring_free(&test_ring);
}

TEST_F_TIMEOUT(io, io_uring_from_every_view, 300)
{
	ring_in_every_view(_metadata, self, 1, 0);
}

TEST_F_TIMEOUT(io, io_uring_sqpoll_from_every_view, 300)
{
	ring_in_every_view(_metadata, self, 2, IORING_SETUP_SQPOLL);
}

/* MVT_CALL: queue an async read of the pipe @fd into @buf, don't wait. */
static long w_ring_read_nowait(long fd, long buf, long unused, long *out)
{
	(void)unused;
	(void)out;
	return ring_read(&test_ring, fd, (void *)buf, 64, -1, true);
}

/*
 * An io-wq worker, created by a thread in view 1, blocks in a read; view 1
 * is deleted and its thread leaves. The worker still completes the read
 * into shared memory, and everything is released with the ring.
 */
TEST_F_TIMEOUT(io, io_worker_outlives_its_deleted_view, 300)
{
	char msg[64];
	int pipefd[2];

	ASSERT_EQ(0, pipe(pipefd));
	ASSERT_EQ(0, WOK(WCH(1), MVT_CALL, (long)w_ring_setup, 0));
	memset(self->buf, 0, BUFLEN);
	ASSERT_EQ(1, WOK(WCH(1), MVT_CALL, (long)w_ring_read_nowait, pipefd[0],
			 (long)self->buf));
	mvt_sleep_ms(200);
	ASSERT_EQ(self->view[1], WOK(WCH(1), MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(self->view[1]));
	self->view[1] = 0;
	memset(msg, 'p', sizeof(msg));
	ASSERT_EQ((ssize_t)sizeof(msg), write(pipefd[1], msg, sizeof(msg)));
	ASSERT_EQ(64, ring_wait(&test_ring, 30000));
	ASSERT_EQ(0, memcmp(self->buf, msg, sizeof(msg)));
	ASSERT_EQ(0, WOK(WCH(2), MVT_CHECK, (long)self->buf, 64,
			 0x7070707070707070L));
	ring_free(&test_ring);
	close(pipefd[0]);
	close(pipefd[1]);
}

static aio_context_t test_aio;

static long w_aio_setup(long unused1, long unused2, long unused3, long *out)
{
	(void)unused1;
	(void)unused2;
	(void)unused3;
	(void)out;
	test_aio = 0;
	return syscall(SYS_io_setup, 8, &test_aio);
}

/* MVT_CALL: a read of the file into @buf through the AIO context. */
static long w_aio_read(long fd, long buf, long unused, long *out)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	long ret;

	(void)unused;
	memset(&cb, 0, sizeof(cb));
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = BUFLEN;
	cb.aio_data = 0x5678;
	ret = syscall(SYS_io_submit, test_aio, 1, cbs);
	out[0] = ret;
	if (ret != 1)
		return -1;
	ret = syscall(SYS_io_getevents, test_aio, 1, 1, &ev, NULL);
	if (ret != 1)
		return -1;
	return ev.data == 0x5678 ? (long)ev.res : -1;
}

/* An AIO context created in view 1 works from every view. */
TEST_F_TIMEOUT(io, aio_context_from_every_view, 300)
{
	struct mvt_res r;
	int i;

	ASSERT_EQ(0, WOK(WCH(1), MVT_CALL, (long)w_aio_setup));
	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		memset(self->buf, 0, BUFLEN);
		r = WRPC(WCH(i), MVT_CALL, (long)w_aio_read, self->file,
			 (long)self->buf);
		ASSERT_EQ(BUFLEN, r.ret)
			TH_LOG("AIO from view %ld: io_submit %ld, errno %s",
			       view, r.out[0], strerror(r.err));
		ASSERT_EQ(0, WOK(WCH((i + 1) % NW), MVT_CHECK, (long)self->buf,
				 BUFLEN, 0x6666666666666666L));
	}
	r = WRPC(WCH(2), MVT_SYSCALL, SYS_io_destroy, (long)test_aio);
	ASSERT_EQ(0, r.ret) TH_LOG("io_destroy from view 2: %s",
				   strerror(r.err));
}

TEST_HARNESS_MAIN
