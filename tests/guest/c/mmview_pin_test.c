// SPDX-License-Identifier: GPL-2.0
/*
 * Shared anonymous pages of views are writable in every view without being
 * exclusive to one mm. These tests drive the kernel paths that assume
 * "writable anon PTE => exclusive page" (pinning through the slow GUP path,
 * page migration by compaction) and the group-wide MDWE state, on pages
 * present when the view was created.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#ifndef PR_SET_MDWE
#define PR_SET_MDWE			65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN	(1UL << 0)
#endif
#ifndef PR_MDWE_NO_INHERIT
#define PR_MDWE_NO_INHERIT		(1UL << 1)
#endif

#define NPAGES	64

FIXTURE(pin) {
	struct mvt_worker w;
	size_t ps;
	long words;
	volatile long *sh;	/* NPAGES shared pages, populated */
	pid_t tid;
	long view;
};

FIXTURE_SETUP(pin)
{
	long i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->words = (long)(self->ps / sizeof(long));
	self->tid = mvt_gettid();
	self->sh = mvt_map_populated(NPAGES * self->ps);
	ASSERT_NE(NULL, self->sh);
	for (i = 0; i < NPAGES; i++)
		self->sh[i * self->words] = 0x1000 + i;
	ASSERT_EQ(0, mvt_worker_start(&self->w));
	self->view = mmview_create();
	ASSERT_LE(1, self->view);
	ASSERT_EQ(0, WOK(&self->w.ch, MVT_MIGRATE, self->view));
}

FIXTURE_TEARDOWN(pin)
{
	mvt_worker_stop(&self->w);
	mmview_delete(self->view);
}

static volatile long *pg(FIXTURE_DATA(pin) *self, long i)
{
	return self->sh + i * self->words;
}

/* Every page: same pfn in both views, and stores visible both ways. */
static void check_shared(struct __test_metadata *_metadata,
			 FIXTURE_DATA(pin) *self, long tag)
{
	long i;

	for (i = 0; i < NPAGES; i++) {
		volatile long *p = pg(self, i);
		int64_t b, v;

		WRPC(&self->w.ch, MVT_STORE, (long)p, tag + i);
		ASSERT_EQ(tag + i, *p) TH_LOG("page %ld: view store lost", i);
		p[1] = tag + 0x100 + i;
		ASSERT_EQ(tag + 0x100 + i,
			  WRPC(&self->w.ch, MVT_LOAD, (long)(p + 1)).ret)
			TH_LOG("page %ld: base store lost", i);
		b = mvt_pfn(self->tid, (const void *)p);
		v = WRPC(&self->w.ch, MVT_PFN, (long)p).ret;
		ASSERT_LE(0, b);
		ASSERT_EQ(b, v) TH_LOG("page %ld: views map different pages", i);
	}
}

/* process_vm_readv/writev pin the pages (FOLL_PIN) through slow GUP. */
TEST_F_TIMEOUT(pin, process_vm_rw_on_shared_pages, 300)
{
	size_t len = NPAGES * self->ps;
	char *buf = mvt_map_populated(len);
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)self->sh, .iov_len = len };
	long i;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ((ssize_t)len, process_vm_readv(getpid(), &local, 1,
						 &remote, 1, 0))
		TH_LOG("process_vm_readv: %s", strerror(errno));
	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(0x1000 + i, *(long *)(buf + i * self->ps));

	for (i = 0; i < NPAGES; i++)
		*(long *)(buf + i * self->ps) = 0x2000 + i;
	ASSERT_EQ((ssize_t)len, process_vm_writev(getpid(), &local, 1,
						  &remote, 1, 0))
		TH_LOG("process_vm_writev: %s", strerror(errno));
	/* The write went to the page the view maps too. */
	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(0x2000 + i,
			  WRPC(&self->w.ch, MVT_LOAD, (long)pg(self, i)).ret)
			TH_LOG("page %ld: process_vm_writev not seen in the view", i);
	check_shared(_metadata, self, 0x3000);
	munmap(buf, len);
}

/*
 * Compaction migrates movable anonymous pages mapped by several views. The
 * pages are laid out so that compaction moves some of them, and it must
 * have: otherwise the test showed nothing.
 */
TEST_F_TIMEOUT(pin, compaction_keeps_views_shared, 300)
{
	volatile char *sh = (volatile char *)self->sh;
	int64_t before[NPAGES];
	int round, tries, moved = 0;
	void *filler;
	long i;

	for (tries = 0; !moved && tries < MVT_COMPACTION_TRIES; tries++) {
		filler = mvt_spread_for_compaction(sh, NPAGES, self->ps);
		ASSERT_NE(NULL, filler) TH_LOG("filler: %s", strerror(errno));
		check_shared(_metadata, self, 0x3000);
		for (i = 0; i < NPAGES; i++) {
			before[i] = mvt_pfn(self->tid, (const void *)pg(self, i));
			ASSERT_LE(0, before[i]);
		}
		ASSERT_EQ(0, mvt_write_file("/proc/sys/vm/compact_memory", "1"))
			TH_LOG("cannot trigger compaction: %s", strerror(errno));
		moved = mvt_pages_moved(self->tid, sh, NPAGES, self->ps, before);
		mvt_filler_free(filler);
	}
	ASSERT_LT(0, moved)
		TH_LOG("compaction moved none of %d pages in %d layouts",
		       NPAGES, tries);
	for (round = 0; round < 3; round++) {
		check_shared(_metadata, self, 0x4000 + round * 0x1000);
		ASSERT_EQ(0, mvt_write_file("/proc/sys/vm/compact_memory", "1"));
	}
	check_shared(_metadata, self, 0x7000);
}

/* MDWE is process state: "no inherit" must not drop it for a view. */
TEST_F_TIMEOUT(pin, mdwe_holds_in_every_view, 300)
{
	const struct mvt_chan *w = &self->w.ch;
	long x;
	struct mvt_res r;

	ASSERT_EQ(0, prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN |
			   PR_MDWE_NO_INHERIT, 0, 0, 0))
		TH_LOG("PR_SET_MDWE: %s", strerror(errno));
	/* Views existing before the prctl are the next stage's business. */
	x = mmview_create();
	ASSERT_LE(1, x);
	ASSERT_EQ(self->view, WOK(w, MVT_MIGRATE, x));
	r = WRPC(w, MVT_SYSCALL, SYS_mprotect, (long)self->sh,
		 (long)self->ps, PROT_READ | PROT_WRITE | PROT_EXEC);
	ASSERT_EQ(-1, r.ret) TH_LOG("mprotect(W|X) allowed in a new view");
	ASSERT_EQ(EACCES, r.err);
	ASSERT_EQ(x, WOK(w, MVT_MIGRATE, self->view));
	ASSERT_EQ(-1, mprotect((void *)self->sh, self->ps,
			       PROT_READ | PROT_WRITE | PROT_EXEC));
	ASSERT_EQ(EACCES, errno);
	ASSERT_EQ(0, mmview_delete(x));
}

TEST_HARNESS_MAIN
