// SPDX-License-Identifier: GPL-2.0
/*
 * mmview coherence of shared memory touched after the views were created:
 *  - a first touch through any view (anonymous private, MAP_PRIVATE file with
 *    fault-around, zero page read then write, MAP_SHARED anonymous, memfd,
 *    SysV shm) gives the same physical page in every view;
 *  - concurrent first touches of one page and of one THP-sized range from
 *    several views agree;
 *  - events that replace the page behind an address (write after a zero-page
 *    read, first write to a MAP_PRIVATE file page, write through
 *    /proc/self/mem, compaction) are seen through every view at once.
 *
 * Values are checked per view, physical pages through
 * /proc/self/task/TID/pagemap of threads in different views.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NPAGES	16
#define NW	4

/* ---- concurrent first touches ---- */

struct race {
	volatile long *start;	/* NW threads touch here at once */
	volatile int go;
	volatile int ready;
	long stride;		/* words between the threads' stores */
	long nwords;		/* words each thread writes */
};

static long race_touch(long b, long c, long d, long *out)
{
	struct race *r = (struct race *)b;
	long idx = c, i;

	(void)d;
	(void)out;
	__atomic_fetch_add(&r->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
		;
	for (i = 0; i < r->nwords; i++)
		r->start[i * r->stride + idx] = 0x1000 * (idx + 1) + i;
	return 0;
}

enum backing {
	ANON_PRIVATE,
	FILE_PRIVATE,
	ANON_SHARED,
	MEMFD_SHARED,
	SYSV_SHM,
};

FIXTURE(sync) {
	struct mvt_worker w[NW];
	long view[NW];		/* view of worker i */
	size_t ps;
	long words;
	volatile long *mem;	/* NPAGES pages, never touched before create */
	size_t len;
	int shmid;
	pid_t tid;
	struct race *race;	/* populated before the views exist */
};

FIXTURE_VARIANT(sync) {
	enum backing backing;
};

FIXTURE_VARIANT_ADD(sync, anon_private) { .backing = ANON_PRIVATE };
FIXTURE_VARIANT_ADD(sync, file_private) { .backing = FILE_PRIVATE };
FIXTURE_VARIANT_ADD(sync, anon_shared) { .backing = ANON_SHARED };
FIXTURE_VARIANT_ADD(sync, memfd_shared) { .backing = MEMFD_SHARED };
FIXTURE_VARIANT_ADD(sync, sysv_shm) { .backing = SYSV_SHM };

/* Initial contents of word w of page i of a file-backed region. */
static long file_word(int i, long w)
{
	return 0x100000L * (i + 1) + w;
}

static int make_file(size_t len, size_t ps, bool memfd)
{
	char path[] = "/tmp/mmview-sync-XXXXXX";
	long *buf;
	size_t i, words = ps / sizeof(long);
	int fd;

	if (memfd) {
		fd = memfd_create("mmview-sync", 0);
	} else {
		fd = mkstemp(path);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return -1;
	buf = malloc(ps);
	if (!buf) {
		close(fd);
		return -1;
	}
	for (i = 0; i < len / ps; i++) {
		size_t w;

		for (w = 0; w < words; w++)
			buf[w] = file_word(i, w);
		if (write(fd, buf, ps) != (ssize_t)ps) {
			free(buf);
			close(fd);
			return -1;
		}
	}
	free(buf);
	/* Drop the page cache copy so the views fault it in from the file. */
	fsync(fd);
	posix_fadvise(fd, 0, len, POSIX_FADV_DONTNEED);
	return fd;
}

static bool file_backed(enum backing b)
{
	return b == FILE_PRIVATE || b == MEMFD_SHARED;
}

FIXTURE_SETUP(sync)
{
	int i, fd = -1;
	void *p;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->words = (long)(self->ps / sizeof(long));
	self->len = NPAGES * self->ps;
	self->tid = mvt_gettid();
	self->shmid = -1;

	switch (variant->backing) {
	case ANON_PRIVATE:
		p = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case ANON_SHARED:
		p = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		break;
	case FILE_PRIVATE:
	case MEMFD_SHARED:
		fd = make_file(self->len, self->ps,
			       variant->backing == MEMFD_SHARED);
		ASSERT_LE(0, fd) TH_LOG("test file: %s", strerror(errno));
		p = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 variant->backing == FILE_PRIVATE ? MAP_PRIVATE :
			 MAP_SHARED, fd, 0);
		close(fd);
		break;
	case SYSV_SHM:
		self->shmid = shmget(IPC_PRIVATE, self->len, IPC_CREAT | 0600);
		ASSERT_LE(0, self->shmid) TH_LOG("shmget: %s", strerror(errno));
		p = shmat(self->shmid, NULL, 0);
		if (p == (void *)-1)
			p = MAP_FAILED;
		break;
	default:
		p = MAP_FAILED;
	}
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mapping: %s", strerror(errno));
	self->mem = p;
	self->race = mvt_map_populated(self->ps);
	ASSERT_NE(NULL, self->race);

	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	}
	/* Worker i in view i (worker 0 stays in base). */
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(sync)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	if (self->shmid >= 0) {
		shmdt((void *)self->mem);
		shmctl(self->shmid, IPC_RMID, NULL);
	} else {
		munmap((void *)self->mem, self->len);
	}
}

#define WCH(i) (&self->w[i].ch)
#define PAGE(i) (self->mem + (i) * self->words)

static long initial(FIXTURE_VARIANT(sync) const *variant, int i, long w)
{
	return file_backed(variant->backing) ? file_word(i, w) : 0;
}

/* pfn of p in the view of worker k (which touches it first, reading). */
static int64_t pfn_in(struct __test_metadata *_metadata,
		      FIXTURE_DATA(sync) *self, int k, volatile long *p)
{
	int64_t pfn;

	WRPC(WCH(k), MVT_LOAD, (long)p);
	pfn = WRPC(WCH(k), MVT_PFN, (long)p).ret;
	ASSERT_LE(0, pfn) TH_LOG("pagemap of worker %d: %lld (-1 not present, "
				 "-2 error, -3 pfn hidden)", k, (long long)pfn);
	return pfn;
}

/* Every worker (view) sees value v at p and maps the same page there. */
static void expect_everywhere(struct __test_metadata *_metadata,
			      FIXTURE_DATA(sync) *self, volatile long *p,
			      long v, const char *what)
{
	int64_t pfn0 = -1, pfn;
	int k;

	for (k = 0; k < NW; k++) {
		ASSERT_EQ(v, WRPC(WCH(k), MVT_LOAD, (long)p).ret)
			TH_LOG("%s: wrong value in view %ld", what, self->view[k]);
		pfn = pfn_in(_metadata, self, k, p);
		if (k == 0)
			pfn0 = pfn;
		ASSERT_EQ(pfn0, pfn)
			TH_LOG("%s: view %ld maps another page than base", what,
			       self->view[k]);
	}
	ASSERT_EQ(v, *p) TH_LOG("%s: wrong value in the main thread", what);
	ASSERT_EQ(pfn0, mvt_pfn(self->tid, (const void *)p));
}

/* The first touch of each page is a store from a different view. */
TEST_F_TIMEOUT(sync, first_touch_store_from_any_view, 600)
{
	int i;

	for (i = 0; i < NPAGES; i++) {
		volatile long *p = PAGE(i);
		int k = i % NW;

		WOK(WCH(k), MVT_STORE, (long)(p + 3), 0x7000 + i);
		expect_everywhere(_metadata, self, p + 3, 0x7000 + i,
				  "first touch by a store");
		/* The rest of the page is the backing's content. */
		ASSERT_EQ(initial(variant, i, 5),
			  WRPC(WCH((k + 1) % NW), MVT_LOAD, (long)(p + 5)).ret);
	}
}

/*
 * First touch is a read (zero page or page cache, and fault-around maps the
 * neighbours), then another view writes: the reader must see the new page.
 */
TEST_F_TIMEOUT(sync, read_then_write_in_another_view, 600)
{
	int i, k;

	for (i = 0; i < NPAGES; i++) {
		volatile long *p = PAGE(i);

		/* Every view reads first. */
		for (k = 0; k < NW; k++)
			ASSERT_EQ(initial(variant, i, 7),
				  WRPC(WCH(k), MVT_LOAD, (long)(p + 7)).ret);
		/* One view writes: copy-on-write of the zero or file page. */
		k = (i + 1) % NW;
		WOK(WCH(k), MVT_STORE, (long)(p + 7), 0x8000 + i);
		expect_everywhere(_metadata, self, p + 7, 0x8000 + i,
				  "read, then write in another view");
		/* And the backing's content stayed in the copy. */
		ASSERT_EQ(initial(variant, i, 9),
			  WRPC(WCH((k + 2) % NW), MVT_LOAD, (long)(p + 9)).ret);
	}
}

/* The main thread (base) reads everything first, views write later. */
TEST_F_TIMEOUT(sync, base_reads_first_views_write, 600)
{
	int i;

	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(initial(variant, i, 1), PAGE(i)[1]);
	for (i = 0; i < NPAGES; i++) {
		WOK(WCH(1 + i % (NW - 1)), MVT_STORE, (long)(PAGE(i) + 1),
		    0x9000 + i);
		ASSERT_EQ(0x9000 + i, PAGE(i)[1])
			TH_LOG("page %d: view store invisible in base", i);
	}
	for (i = 0; i < NPAGES; i++)
		expect_everywhere(_metadata, self, PAGE(i) + 1, 0x9000 + i,
				  "base read first");
}

/* A write through /proc/self/mem replaces the page in the base. */
TEST_F_TIMEOUT(sync, proc_mem_write_seen_by_views, 600)
{
	long v = 0xabcdef;
	int fd, i;

	for (i = 0; i < NPAGES; i++) {
		volatile long *p = PAGE(i) + 11;
		int k;

		for (k = 1; k < NW; k++)
			ASSERT_EQ(initial(variant, i, 11),
				  WRPC(WCH(k), MVT_LOAD, (long)p).ret);
		fd = open("/proc/self/mem", O_RDWR);
		ASSERT_LE(0, fd);
		v = 0xabc000 + i;
		ASSERT_EQ((ssize_t)sizeof(v),
			  pwrite(fd, &v, sizeof(v), (off_t)(uintptr_t)p));
		close(fd);
		expect_everywhere(_metadata, self, p, v, "/proc/self/mem write");
	}
}

/* Compaction migrates pages: every view follows. */
TEST_F_TIMEOUT(sync, compaction_keeps_views_coherent, 600)
{
	volatile char *mem = (volatile char *)self->mem;
	int i, tries, moved = 0;
	int64_t before[NPAGES];
	void *filler;

	/* Laid out so that compaction moves some pages; it must have. */
	for (tries = 0; !moved && tries < MVT_COMPACTION_TRIES; tries++) {
		filler = mvt_spread_for_compaction(mem, NPAGES, self->ps);
		ASSERT_NE(NULL, filler) TH_LOG("filler: %s", strerror(errno));
		for (i = 0; i < NPAGES; i++) {
			WOK(WCH(i % NW), MVT_STORE, (long)PAGE(i), 0xc000 + i);
			before[i] = mvt_pfn(mvt_gettid(), (const void *)PAGE(i));
			ASSERT_LE(0, before[i]);
		}
		ASSERT_EQ(0, mvt_write_file("/proc/sys/vm/compact_memory", "1"));
		moved = mvt_pages_moved(mvt_gettid(), mem, NPAGES, self->ps,
					before);
		mvt_filler_free(filler);
	}
	ASSERT_LT(0, moved)
		TH_LOG("compaction moved none of %d pages in %d layouts",
		       NPAGES, tries);
	for (i = 0; i < NPAGES; i++) {
		WOK(WCH((i + 1) % NW), MVT_STORE, (long)(PAGE(i) + 1),
		    0xd000 + i);
		expect_everywhere(_metadata, self, PAGE(i), 0xc000 + i,
				  "after compaction");
		expect_everywhere(_metadata, self, PAGE(i) + 1, 0xd000 + i,
				  "store after compaction");
	}
}

/*
 * fork() from a view after first touches there: a private mapping keeps the
 * values of the fork in the child, a shared one shows the child the
 * parent's later stores; the parent's views keep agreeing with each other.
 */
TEST_F_TIMEOUT(sync, fork_from_view_after_first_touch, 600)
{
	bool private = variant->backing == ANON_PRIVATE ||
		       variant->backing == FILE_PRIVATE;
	struct mvt_child c;
	int i, status;

	for (i = 0; i < NPAGES; i++)
		WOK(WCH(2), MVT_STORE, (long)PAGE(i), 0xe000 + i);
	ASSERT_EQ(0, mvt_child_pipes(&c));
	c.pid = (pid_t)WOK(WCH(2), MVT_FORK, c.cmd_rd, c.rsp_wr, c.ch.cmd_wr);
	ASSERT_LT(0, c.pid);
	for (i = 0; i < NPAGES; i++) {
		WOK(WCH(1), MVT_STORE, (long)PAGE(i), 0xf000 + i);
		expect_everywhere(_metadata, self, PAGE(i), 0xf000 + i,
				  "store after fork");
		ASSERT_EQ(private ? 0xe000 + i : 0xf000 + i,
			  WRPC(&c.ch, MVT_LOAD, (long)PAGE(i)).ret)
			TH_LOG("page %d: the child sees %s", i, private ?
			       "the parent's store in a private mapping" :
			       "a stale value of a shared mapping");
	}
	status = mvt_child_finish(&c);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

struct race_arg {
	const struct mvt_chan *ch;
	struct race *r;
	int idx;
	struct mvt_res res;
};

static void *race_rpc(void *p)
{
	struct race_arg *a = p;

	a->res = mvt_rpc(a->ch, MVT_CALL, (long)race_touch, (long)a->r,
			 a->idx, 0);
	return NULL;
}

/* All views store into the same untouched pages at the same time. */
static void race_first_touch(struct __test_metadata *_metadata,
			     FIXTURE_DATA(sync) *self, struct race *r,
			     long npages)
{
	struct race_arg a[NW];
	pthread_t th[NW];
	long i, k;

	r->go = 0;
	r->ready = 0;
	for (k = 0; k < NW; k++) {
		a[k] = (struct race_arg){ .ch = WCH(k), .r = r, .idx = (int)k };
		ASSERT_EQ(0, pthread_create(&th[k], NULL, race_rpc, &a[k]));
	}
	while (__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE) < NW)
		usleep(1000);
	__atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
	for (k = 0; k < NW; k++) {
		pthread_join(th[k], NULL);
		ASSERT_EQ(0, a[k].res.rpc);
	}
	/* Every store survived, in every view, on one page per address. */
	for (i = 0; i < r->nwords; i++)
		for (k = 0; k < NW; k++) {
			volatile long *p = r->start + i * r->stride + k;
			long v = 0x1000 * (k + 1) + i;

			ASSERT_EQ(v, *p) TH_LOG("store of view %ld lost", self->view[k]);
		}
	for (i = 0; i < npages; i++)
		expect_everywhere(_metadata, self,
				  r->start + i * self->words,
				  *(r->start + i * self->words),
				  "concurrent first touch");
}

TEST_F_TIMEOUT(sync, concurrent_first_touch_one_page, 600)
{
	struct race *r = self->race;

	r->start = PAGE(0);
	r->stride = NW;
	r->nwords = 8;
	race_first_touch(_metadata, self, r, 1);
}

TEST_F_TIMEOUT(sync, concurrent_first_touch_many_pages, 600)
{
	struct race *r = self->race;

	r->start = PAGE(0);
	/* One word per thread on every page. */
	r->stride = self->words;
	r->nwords = NPAGES - 1;
	race_first_touch(_metadata, self, r, NPAGES - 1);
}

/* ---- transparent huge pages: one 2 MiB range touched from all views ---- */

#define THP_SIZE	(2UL << 20)

FIXTURE(thp) {
	struct mvt_worker w[NW];
	long view[NW];
	volatile long *mem;	/* THP_SIZE, aligned, MADV_HUGEPAGE */
	void *map;
	size_t ps;
	long words;
	pid_t tid;
	struct race *race;
};

FIXTURE_SETUP(thp)
{
	char buf[64];
	uintptr_t a;
	int i;

	ASSERT_MMVIEW_AVAILABLE();
	if (mvt_read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf,
			  sizeof(buf)) < 0)
		SKIP(return, "kernel without transparent huge pages");
	mvt_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise");
	self->ps = mvt_page_size();
	self->words = (long)(self->ps / sizeof(long));
	self->tid = mvt_gettid();
	self->map = mmap(NULL, 2 * THP_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	a = ((uintptr_t)self->map + THP_SIZE - 1) & ~(THP_SIZE - 1);
	self->mem = (volatile long *)a;
	ASSERT_EQ(0, madvise((void *)a, THP_SIZE, MADV_HUGEPAGE));
	self->race = mvt_map_populated(self->ps);
	ASSERT_NE(NULL, self->race);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	}
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(thp)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	munmap(self->map, 2 * THP_SIZE);
}

TEST_F_TIMEOUT(thp, concurrent_first_touch_of_a_huge_range, 600)
{
	struct race *r = self->race;
	long npages = THP_SIZE / self->ps, i, k;
	int64_t pfn, p0;

	r->start = self->mem;
	r->stride = self->words * 64;	/* every 64th page */
	r->nwords = npages / 64;
	{
		struct race_arg a[NW];
		pthread_t th[NW];

		r->go = 0;
		r->ready = 0;
		for (k = 0; k < NW; k++) {
			a[k] = (struct race_arg){ .ch = &self->w[k].ch, .r = r,
						  .idx = (int)k };
			ASSERT_EQ(0, pthread_create(&th[k], NULL, race_rpc, &a[k]));
		}
		while (__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE) < NW)
			usleep(1000);
		__atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
		for (k = 0; k < NW; k++) {
			pthread_join(th[k], NULL);
			ASSERT_EQ(0, a[k].res.rpc);
		}
	}
	/* Each stored word, read by every view, on the same page. */
	for (i = 0; i < r->nwords; i++) {
		for (k = 0; k < NW; k++) {
			volatile long *p = r->start + i * r->stride + k;
			long v = 0x1000 * (k + 1) + i;
			int j;

			ASSERT_EQ(v, *p);
			p0 = mvt_pfn(self->tid, (const void *)p);
			ASSERT_LE(0, p0);
			for (j = 0; j < NW; j++) {
				ASSERT_EQ(v, WRPC(&self->w[j].ch, MVT_LOAD, (long)p).ret)
					TH_LOG("view %ld lost the store of view %ld",
					       self->view[j], self->view[k]);
				pfn = WRPC(&self->w[j].ch, MVT_PFN, (long)p).ret;
				ASSERT_EQ(p0, pfn)
					TH_LOG("view %ld maps another page at +%ld",
					       self->view[j], i * r->stride * 8);
			}
		}
	}
}

/* ---- swap: pages of the base swapped out, swapped in through views ---- */

/* Is the page at addr swapped out in the view of thread tid? */
static int swapped(pid_t tid, const void *addr)
{
	uint64_t ent;

	if (mvt_pagemap(tid, addr, &ent))
		return -1;
	return (int)((ent >> 62) & 1);
}

FIXTURE(swap) {
	struct mvt_worker w[NW];
	long view[NW];
	volatile long *mem;
	size_t ps;
	long words;
	pid_t tid;
};

FIXTURE_SETUP(swap)
{
	int i, err;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	err = mvt_zram_swap_on(64UL << 20);
	ASSERT_EQ(0, err) TH_LOG("swap on zram0: %s", strerror(-err));
	self->ps = mvt_page_size();
	self->words = (long)(self->ps / sizeof(long));
	self->tid = mvt_gettid();
	self->mem = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	}
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(swap)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	munmap((void *)self->mem, NPAGES * self->ps);
}

TEST_F_TIMEOUT(swap, swapped_out_in_base_swapped_in_through_views, 600)
{
	int i, out = 0;

	/* Written after the views exist, by the base only. */
	for (i = 0; i < NPAGES; i++)
		self->mem[i * self->words] = 0x5a000 + i;
	ASSERT_EQ(0, madvise((void *)self->mem, NPAGES * self->ps,
			     MADV_PAGEOUT));
	for (i = 0; i < NPAGES; i++)
		out += swapped(self->tid, (const void *)(self->mem + i * self->words)) == 1;
	ASSERT_LT(NPAGES / 2, out) TH_LOG("only %d of %d pages swapped out", out, NPAGES);

	/* Read in view 2, written in view 3, checked everywhere. */
	for (i = 0; i < NPAGES; i++) {
		volatile long *p = self->mem + i * self->words;

		ASSERT_EQ(0x5a000 + i, WRPC(WCH(2), MVT_LOAD, (long)p).ret)
			TH_LOG("page %d read through view 2 after swap-out", i);
		WOK(WCH(3), MVT_STORE, (long)(p + 1), 0x5b000 + i);
	}
	for (i = 0; i < NPAGES; i++) {
		volatile long *p = self->mem + i * self->words;
		int64_t pfn0 = mvt_pfn(self->tid, (const void *)p);
		int k;

		ASSERT_EQ(0x5a000 + i, p[0]);
		ASSERT_EQ(0x5b000 + i, p[1]) TH_LOG("page %d: view 3's store", i);
		ASSERT_LE(0, pfn0);
		for (k = 1; k < NW; k++) {
			ASSERT_EQ(0x5b000 + i, WRPC(WCH(k), MVT_LOAD, (long)(p + 1)).ret);
			ASSERT_EQ(pfn0, WRPC(WCH(k), MVT_PFN, (long)p).ret)
				TH_LOG("page %d: view %ld maps another page", i,
				       self->view[k]);
		}
	}
}

TEST_HARNESS_MAIN
