// SPDX-License-Identifier: GPL-2.0
/*
 * mmview layout operations apply to every view: mmap (also MAP_FIXED over
 * shared and unshared memory), munmap, mremap (move, grow, shrink), brk,
 * mprotect (shared ranges everywhere, unshared ranges in the calling view
 * only), madvise advice that changes VMA flags, mlock/munlock/mlockall,
 * mseal and shmat/shmdt, and moving the vDSO, called from a thread in a
 * non-base view.
 *
 * After each call, /proc/self/task/TID/maps of threads in different views
 * list the same mappings (unshared ranges excepted where the rule says so),
 * and memory mapped by the call is the same physical page in every view.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW		3	/* worker i runs in view i; worker 0 in base */
#define MAPS_SIZE	(64 * 1024)

FIXTURE(layout) {
	struct mvt_worker w[NW];
	long view[NW];
	pid_t tid[NW];
	size_t ps;
	char *maps_a, *maps_b;	/* buffers for maps comparisons */
	char *un;		/* 4 unshared pages */
};

FIXTURE_SETUP(layout)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->maps_a = malloc(MAPS_SIZE);
	self->maps_b = malloc(MAPS_SIZE);
	ASSERT_NE(NULL, self->maps_a);
	ASSERT_NE(NULL, self->maps_b);
	self->un = mvt_map_populated(4 * self->ps);
	ASSERT_NE(NULL, self->un);
	memset(self->un, 0x5a, 4 * self->ps);
	ASSERT_EQ(0, mmview_unshare(self->un, 4 * self->ps));
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
		self->tid[i] = self->w[i].tid;
	}
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(layout)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	free(self->maps_a);
	free(self->maps_b);
}

#define WCH(i) (&self->w[i].ch)

/* ---- functions run by workers (MVT_CALL): no libc allocation ---- */

static long call_mmap(long len, long prot, long flags_fd, long *out)
{
	long flags = flags_fd & 0xffffffff;
	int fd = (int)(flags_fd >> 32) - 1;
	void *p = mmap(NULL, (size_t)len, (int)prot, (int)flags, fd, 0);

	(void)out;
	return p == MAP_FAILED ? -1 : (long)p;
}

/* Anonymous private read-write memory at addr, MAP_FIXED. */
static long call_mmap_fixed(long addr, long len, long d, long *out)
{
	void *p = mmap((void *)addr, (size_t)len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	(void)d;
	(void)out;
	return p == MAP_FAILED ? -1 : (long)p;
}

static long call_mremap(long addr, long old_len, long new_len, long *out)
{
	void *p = mremap((void *)addr, (size_t)old_len, (size_t)new_len,
			 MREMAP_MAYMOVE);

	(void)out;
	return p == MAP_FAILED ? -1 : (long)p;
}

static long call_madvise(long addr, long len, long advice, long *out)
{
	(void)out;
	return madvise((void *)addr, (size_t)len, (int)advice);
}

static long call_brk(long addr, long c, long d, long *out)
{
	(void)c;
	(void)d;
	(void)out;
	return syscall(SYS_brk, addr);
}

static long call_shmat(long id, long c, long d, long *out)
{
	void *p = shmat((int)id, NULL, 0);

	(void)c;
	(void)d;
	(void)out;
	return p == (void *)-1 ? -1 : (long)p;
}

static long call_shmdt(long addr, long c, long d, long *out)
{
	(void)c;
	(void)d;
	(void)out;
	return shmdt((void *)addr);
}

/* mmap from a worker. */
static long wmmap(struct __test_metadata *_metadata, const struct mvt_chan *ch,
		  size_t len, int prot, int flags, int fd)
{
	struct mvt_res r = mvt_rpc(ch, MVT_CALL, (long)call_mmap, (long)len,
				   prot, (long)flags | ((long)(fd + 1) << 32));

	ASSERT_EQ(0, r.rpc);
	return r.ret;
}

/* ---- maps ---- */

static void read_maps(struct __test_metadata *_metadata, pid_t tid, char *buf)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/maps", tid);
	ASSERT_LT(0, mvt_read_file(path, buf, MAPS_SIZE)) TH_LOG("%s", path);
}

/* The maps lines of [start, end), protections masked where asked. */
static void maps_range(char *dst, size_t size, const char *maps,
		       unsigned long start, unsigned long end, bool no_prot)
{
	const char *line = maps;
	size_t used = 0;

	dst[0] = '\0';
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		unsigned long a, b;
		size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < end && b > start &&
		    !memmem(line, n, "[stack]", 7) && used + n + 1 < size) {
			memcpy(dst + used, line, n);
			if (no_prot)
				memcpy(dst + used + (strchr(line, ' ') - line) + 1,
				       "----", 4);
			used += n;
			dst[used] = '\0';
		}
		line = nl ? nl + 1 : NULL;
	}
}

/* How many bytes of [start, end) the maps lines cover. */
static unsigned long maps_bytes(const char *maps, unsigned long start,
				unsigned long end)
{
	unsigned long a, b, sum = 0;
	const char *line;

	for (line = maps; line && *line; line = strchr(line, '\n'),
	     line = line ? line + 1 : NULL)
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < end && b > start)
			sum += (b < end ? b : end) - (a > start ? a : start);
	return sum;
}

/* Every thread's maps of [start, end) equal those of worker 0 (base). */
static void expect_same_maps(struct __test_metadata *_metadata,
			     FIXTURE_DATA(layout) *self, unsigned long start,
			     unsigned long end, const char *what)
{
	static char ref[MAPS_SIZE], got[MAPS_SIZE];
	int k;

	read_maps(_metadata, self->tid[0], self->maps_a);
	maps_range(ref, sizeof(ref), self->maps_a, start, end, false);
	for (k = 1; k < NW; k++) {
		read_maps(_metadata, self->tid[k], self->maps_b);
		maps_range(got, sizeof(got), self->maps_b, start, end, false);
		ASSERT_STREQ(ref, got)
			TH_LOG("%s: maps of view %ld differ from base", what,
			       self->view[k]);
	}
}

/* Every view has v at p, on the same physical page. */
static void expect_shared(struct __test_metadata *_metadata,
			  FIXTURE_DATA(layout) *self, volatile long *p, long v,
			  const char *what)
{
	int64_t pfn0 = -1, pfn;
	int k;

	for (k = 0; k < NW; k++) {
		ASSERT_EQ(v, WRPC(WCH(k), MVT_LOAD, (long)p).ret)
			TH_LOG("%s: value in view %ld", what, self->view[k]);
		pfn = WRPC(WCH(k), MVT_PFN, (long)p).ret;
		ASSERT_LE(0, pfn);
		if (!k)
			pfn0 = pfn;
		ASSERT_EQ(pfn0, pfn) TH_LOG("%s: view %ld maps another page",
					    what, self->view[k]);
	}
}

#define RANGE(p, len) (unsigned long)(p), (unsigned long)(p) + (len)

TEST_F_TIMEOUT(layout, mmap_from_a_view_maps_everywhere, 300)
{
	size_t len = 8 * self->ps;
	long p;
	int i;

	p = wmmap(_metadata, WCH(2), len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1);
	ASSERT_NE(-1, p);
	expect_same_maps(_metadata, self, RANGE(p, len), "mmap");
	for (i = 0; i < 8; i++) {
		volatile long *q = (volatile long *)(p + i * self->ps);

		WOK(WCH(i % NW), MVT_STORE, (long)q, 0x100 + i);
		expect_shared(_metadata, self, q, 0x100 + i, "new mapping");
	}
	/* munmap from view 1: gone everywhere. */
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_munmap, p, (long)len));
	expect_same_maps(_metadata, self, RANGE(p, len), "munmap");
	read_maps(_metadata, self->tid[2], self->maps_a);
	maps_range(self->maps_b, MAPS_SIZE, self->maps_a, RANGE(p, len), false);
	ASSERT_STREQ("", self->maps_b) TH_LOG("range still mapped in view 2");
}

TEST_F_TIMEOUT(layout, map_fixed_over_shared_and_unshared, 300)
{
	size_t len = 4 * self->ps;
	long p, q;

	/* Over shared memory: */
	p = wmmap(_metadata, WCH(0), len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1);
	ASSERT_NE(-1, p);
	WOK(WCH(1), MVT_STORE, p, 1);
	expect_shared(_metadata, self, (volatile long *)p, 1, "before MAP_FIXED");
	q = WOK(WCH(1), MVT_CALL, (long)call_mmap_fixed, p, (long)len);
	ASSERT_EQ(p, q);
	expect_same_maps(_metadata, self, RANGE(p, len), "MAP_FIXED");
	/* The old contents are gone everywhere. */
	ASSERT_EQ(0, WRPC(WCH(2), MVT_LOAD, p).ret);
	WOK(WCH(2), MVT_STORE, p, 2);
	expect_shared(_metadata, self, (volatile long *)p, 2, "MAP_FIXED mapping");

	/* Over unshared memory, from view 2: the new mapping is shared. */
	q = WOK(WCH(2), MVT_CALL, (long)call_mmap_fixed, (long)self->un,
		(long)self->ps);
	ASSERT_EQ((long)self->un, q);
	WOK(WCH(1), MVT_STORE, q, 3);
	expect_shared(_metadata, self, (volatile long *)q, 3,
		      "MAP_FIXED over unshared");
	/* The rest of the unshared range is still per view. */
	WOK(WCH(1), MVT_STORE, (long)(self->un + self->ps), 4);
	ASSERT_EQ(0x5a5a5a5a5a5a5a5aL, *(long *)(self->un + self->ps));
	ASSERT_EQ(0x5a5a5a5a5a5a5a5aL,
		  WRPC(WCH(2), MVT_LOAD, (long)(self->un + self->ps)).ret);
	munmap((void *)p, len);
}

TEST_F_TIMEOUT(layout, mprotect_shared_everywhere_unshared_per_view, 300)
{
	size_t len = 4 * self->ps;
	static char ref[MAPS_SIZE], got[MAPS_SIZE];
	long p;

	p = (long)mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(-1, p);
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_mprotect, p + self->ps,
			 (long)self->ps, PROT_READ));
	expect_same_maps(_metadata, self, RANGE(p, len), "mprotect shared");

	/* Unshared: only view 1 changes. */
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_mprotect, (long)self->un,
			 (long)(2 * self->ps), PROT_READ | PROT_EXEC));
	read_maps(_metadata, self->tid[1], self->maps_a);
	maps_range(got, sizeof(got), self->maps_a, RANGE(self->un, self->ps), false);
	ASSERT_NE(NULL, strstr(got, " r-xp ")) TH_LOG("view 1: %s\nun=%p maps:\n%s", got, self->un, self->maps_a);
	read_maps(_metadata, self->tid[2], self->maps_a);
	maps_range(got, sizeof(got), self->maps_a, RANGE(self->un, self->ps), false);
	ASSERT_NE(NULL, strstr(got, " rw-p ")) TH_LOG("view 2: %s", got);
	read_maps(_metadata, self->tid[0], self->maps_a);
	maps_range(ref, sizeof(ref), self->maps_a, RANGE(self->un, self->ps), false);
	ASSERT_NE(NULL, strstr(ref, " rw-p ")) TH_LOG("base: %s", ref);

	/* A range mixing both: shared part everywhere, unshared per view. */
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_mprotect,
			 (long)self->un + 3 * self->ps, (long)self->ps,
			 PROT_READ));
	read_maps(_metadata, self->tid[2], self->maps_a);
	maps_range(got, sizeof(got), self->maps_a,
		   RANGE(self->un + 3 * self->ps, self->ps), false);
	ASSERT_NE(NULL, strstr(got, " r--p ")) TH_LOG("view 2: %s", got);
	read_maps(_metadata, self->tid[0], self->maps_a);
	maps_range(got, sizeof(got), self->maps_a,
		   RANGE(self->un + 3 * self->ps, self->ps), false);
	ASSERT_NE(NULL, strstr(got, " rw-p ")) TH_LOG("base: %s", got);
	munmap((void *)p, len);
}

TEST_F_TIMEOUT(layout, mremap_move_grow_shrink_from_a_view, 300)
{
	size_t len = 4 * self->ps;
	struct mvt_res r;
	long p, q;
	int i;

	p = (long)mmap(NULL, len + self->ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(-1, p);
	for (i = 0; i < 4; i++)
		((long *)(p + i * self->ps))[0] = 0x700 + i;
	/* A guard page blocks growth in place: the grow must move. */
	ASSERT_EQ(0, mprotect((void *)(p + len), self->ps, PROT_NONE));
	/* Grow and move from view 1. */
	r = mvt_rpc(WCH(1), MVT_CALL, (long)call_mremap, p, (long)len,
		    (long)(16 * self->ps));
	ASSERT_EQ(0, r.rpc);
	q = r.ret;
	ASSERT_NE(-1, q) TH_LOG("mremap: %s", strerror(r.err));
	ASSERT_NE(p, q);
	expect_same_maps(_metadata, self, RANGE(p, len), "mremap old range");
	expect_same_maps(_metadata, self, RANGE(q, 16 * self->ps), "mremap grow");
	for (i = 0; i < 4; i++)
		expect_shared(_metadata, self, (volatile long *)(q + i * self->ps),
			      0x700 + i, "after mremap grow");
	WOK(WCH(2), MVT_STORE, q + 10 * self->ps, 0x710);
	expect_shared(_metadata, self, (volatile long *)(q + 10 * self->ps),
		      0x710, "grown part");
	/* Shrink from view 2. */
	r = mvt_rpc(WCH(2), MVT_CALL, (long)call_mremap, q,
		    (long)(16 * self->ps), (long)(2 * self->ps));
	ASSERT_EQ(0, r.rpc);
	ASSERT_EQ(q, r.ret);
	expect_same_maps(_metadata, self, RANGE(q, 16 * self->ps), "mremap shrink");
	expect_shared(_metadata, self, (volatile long *)(q + self->ps), 0x701,
		      "after shrink");
	munmap((void *)q, 2 * self->ps);
}

TEST_F_TIMEOUT(layout, brk_from_a_view, 300)
{
	long cur, next;

	cur = syscall(SYS_brk, 0);
	ASSERT_LT(0, cur);
	next = WOK(WCH(1), MVT_CALL, (long)call_brk, cur + 16 * (long)self->ps);
	ASSERT_EQ(cur + 16 * (long)self->ps, next);
	ASSERT_EQ(next, syscall(SYS_brk, 0)) TH_LOG("brk differs in base");
	ASSERT_EQ(next, WOK(WCH(2), MVT_CALL, (long)call_brk, 0));
	expect_same_maps(_metadata, self, cur - self->ps, next, "brk grow");
	WOK(WCH(2), MVT_STORE, cur + 8 * (long)self->ps, 0x800);
	expect_shared(_metadata, self, (volatile long *)(cur + 8 * self->ps),
		      0x800, "heap grown by a view");
	ASSERT_EQ(cur, WOK(WCH(2), MVT_CALL, (long)call_brk, cur));
	ASSERT_EQ(cur, syscall(SYS_brk, 0));
	expect_same_maps(_metadata, self, cur - self->ps, next, "brk shrink");
}

TEST_F_TIMEOUT(layout, madvise_mlock_mseal_apply_everywhere, 300)
{
	size_t len = 4 * self->ps;
	long p;

	p = (long)mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(-1, p);
	ASSERT_EQ(0, WOK(WCH(1), MVT_CALL, (long)call_madvise, p,
			 (long)self->ps, MADV_DONTFORK));
	expect_same_maps(_metadata, self, RANGE(p, len), "MADV_DONTFORK");
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_mlock, p + self->ps,
			 (long)self->ps));
	expect_same_maps(_metadata, self, RANGE(p, len), "mlock");
	WOK(WCH(0), MVT_STORE, p + self->ps, 0x900);
	expect_shared(_metadata, self, (volatile long *)(p + self->ps), 0x900,
		      "mlocked page");
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_munlock, p + self->ps,
			 (long)self->ps));
	expect_same_maps(_metadata, self, RANGE(p, len), "munlock");
#ifdef SYS_mseal
	{
		struct mvt_res r;

		r = WRPC(WCH(2), MVT_SYSCALL, SYS_mseal, p + 2 * self->ps,
			 (long)self->ps, 0);
		ASSERT_EQ(0, r.ret) TH_LOG("mseal: %s", strerror(r.err));
		/* Sealed in every view: munmap fails from another view. */
		WERR(WCH(1), EPERM, MVT_SYSCALL, SYS_munmap, p + 2 * self->ps,
		     (long)self->ps);
		ASSERT_EQ(-1, munmap((void *)(p + 2 * self->ps), self->ps));
		ASSERT_EQ(EPERM, errno);
		expect_same_maps(_metadata, self, RANGE(p, len), "mseal");
	}
#endif
}

TEST_F_TIMEOUT(layout, shmat_shmdt_from_a_view, 300)
{
	size_t len = 4 * self->ps;
	int id = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
	long p;

	ASSERT_LE(0, id);
	p = WOK(WCH(1), MVT_CALL, (long)call_shmat, id);
	expect_same_maps(_metadata, self, RANGE(p, len), "shmat");
	WOK(WCH(2), MVT_STORE, p + self->ps, 0xa00);
	expect_shared(_metadata, self, (volatile long *)(p + self->ps), 0xa00,
		      "shm segment");
	ASSERT_EQ(0, WOK(WCH(2), MVT_CALL, (long)call_shmdt, p));
	expect_same_maps(_metadata, self, RANGE(p, len), "shmdt");
	read_maps(_metadata, self->tid[1], self->maps_a);
	maps_range(self->maps_b, MAPS_SIZE, self->maps_a, RANGE(p, len), false);
	ASSERT_STREQ("", self->maps_b);
	shmctl(id, IPC_RMID, NULL);
}

/* A process-wide check: outside [stack], every view lists the same maps. */
TEST_F_TIMEOUT(layout, whole_maps_equal_after_mixed_operations, 300)
{
	size_t len = 8 * self->ps;
	static char ref[MAPS_SIZE], got[MAPS_SIZE];
	long p;
	int k;

	p = wmmap(_metadata, WCH(1), len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1);
	ASSERT_NE(-1, p);
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_mprotect, p, (long)self->ps,
			 PROT_READ));
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_munmap, p + 3 * self->ps,
			 (long)self->ps));
	read_maps(_metadata, self->tid[0], self->maps_a);
	maps_range(ref, sizeof(ref), self->maps_a, 0, ~0UL, true);
	for (k = 1; k < NW; k++) {
		read_maps(_metadata, self->tid[k], self->maps_b);
		maps_range(got, sizeof(got), self->maps_b, 0, ~0UL, true);
		ASSERT_STREQ(ref, got) TH_LOG("view %ld", self->view[k]);
	}
}

/* The [stack] line of a thread's maps. */
static void stack_line(struct __test_metadata *_metadata, pid_t tid, char *buf,
		       char *line, size_t size)
{
	char *p, *e;

	read_maps(_metadata, tid, buf);
	p = strstr(buf, "[stack]");
	ASSERT_NE(NULL, p);
	e = p;
	while (p > buf && p[-1] != '\n')
		p--;
	ASSERT_LT((size_t)(e - p), size - 1);
	memcpy(line, p, e - p);
	line[e - p] = '\0';
}

static void expect_same_stack(struct __test_metadata *_metadata,
			      FIXTURE_DATA(layout) *self, const char *what)
{
	char ref[256], got[256];
	int k;

	stack_line(_metadata, mvt_gettid(), self->maps_a, ref, sizeof(ref));
	for (k = 0; k < NW; k++) {
		stack_line(_metadata, self->tid[k], self->maps_a, got, sizeof(got));
		ASSERT_STREQ(ref, got) TH_LOG("%s: [stack] of view %ld", what,
					      self->view[k]);
	}
}

static void __attribute__((noinline)) grow_stack(size_t bytes)
{
	mvt_prefault_stack(bytes);
}

/* The main thread's stack grows in base, or through a view: all views. */
TEST_F_TIMEOUT(layout, stack_growth_in_every_view, 300)
{
	unsigned long start, end;
	char line[256];
	long p;

	expect_same_stack(_metadata, self, "before");
	grow_stack(512 * 1024);
	expect_same_stack(_metadata, self, "grown by the base");

	/* A store below the stack from a thread in view 2 grows it too. */
	stack_line(_metadata, mvt_gettid(), self->maps_a, line, sizeof(line));
	ASSERT_EQ(2, sscanf(line, "%lx-%lx", &start, &end));
	p = (long)start - 8 * (long)self->ps;
	WOK(WCH(2), MVT_STORE, p, 0xc00);
	expect_same_stack(_metadata, self, "grown by view 2");
	ASSERT_EQ(0xc00, *(volatile long *)p);
	expect_shared(_metadata, self, (volatile long *)p, 0xc00, "stack page");
}

/*
 * A write below the stack through /proc/PID/task/TID/mem of a thread in
 * view 1, as a debugger does, grows the stack of every view.
 */
TEST_F_TIMEOUT(layout, stack_growth_through_proc_mem, 300)
{
	unsigned long start, end;
	char line[256], path[64];
	long v = 0xd00, p;
	int fd;

	stack_line(_metadata, mvt_gettid(), self->maps_a, line, sizeof(line));
	ASSERT_EQ(2, sscanf(line, "%lx-%lx", &start, &end));
	p = (long)start - 16 * (long)self->ps;
	snprintf(path, sizeof(path), "/proc/self/task/%d/mem", self->tid[1]);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)sizeof(v), pwrite(fd, &v, sizeof(v), p))
		TH_LOG("write below the stack through view %ld: %s",
		       self->view[1], strerror(errno));
	close(fd);
	expect_same_stack(_metadata, self, "grown through /proc/PID/mem");
	ASSERT_EQ(0xd00, *(volatile long *)p);
	expect_shared(_metadata, self, (volatile long *)p, 0xd00, "stack page");
}

static long call_mremap_dontunmap(long addr, long len, long d, long *out)
{
	(void)d;
	(void)out;
	return syscall(SYS_mremap, addr, len, len,
		       MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0L);
}

TEST_F_TIMEOUT(layout, mremap_dontunmap_from_a_view, 300)
{
	size_t len = 4 * self->ps;
	long p, q;
	int i;

	p = (long)mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(-1, p);
	for (i = 0; i < 4; i++)
		((long *)(p + i * self->ps))[0] = 0xd00 + i;
	q = WOK(WCH(1), MVT_CALL, (long)call_mremap_dontunmap, p, (long)len);
	ASSERT_NE(p, q);
	expect_same_maps(_metadata, self, RANGE(p, len), "DONTUNMAP old range");
	expect_same_maps(_metadata, self, RANGE(q, len), "DONTUNMAP new range");
	for (i = 0; i < 4; i++) {
		/* The pages moved; the old range is mapped and empty. */
		expect_shared(_metadata, self, (volatile long *)(q + i * self->ps),
			      0xd00 + i, "moved page");
		expect_shared(_metadata, self, (volatile long *)(p + i * self->ps),
			      0, "old range after DONTUNMAP");
	}
	munmap((void *)p, len);
	munmap((void *)q, len);
}

static long call_mremap_fixed(long addr, long len, long to, long *out)
{
	(void)out;
	return syscall(SYS_mremap, addr, len, len,
		       MREMAP_MAYMOVE | MREMAP_FIXED, to);
}

/*
 * Views merge and split VMAs on their own: a view that mprotect()ed a page of
 * an unshared range covers the range with three VMAs where the caller of
 * mremap() has one. Worker @split makes the split, worker @caller moves the
 * range; every view still has its own contents at the new place, and its own
 * protections there.
 */
static void mremap_over_other_split(struct __test_metadata *_metadata,
				    FIXTURE_DATA(layout) *self, int split,
				    int caller)
{
	static char got[MAPS_SIZE];
	size_t len = 4 * self->ps;
	long un = (long)self->un;
	long to;
	int i, k;

	for (k = 0; k < NW; k++)
		for (i = 0; i < 4; i++)
			WOK(WCH(k), MVT_STORE, un + i * self->ps,
			    0x1000 * (k + 1) + i);
	ASSERT_EQ(0, WOK(WCH(split), MVT_SYSCALL, SYS_mprotect,
			 un + self->ps, (long)self->ps, PROT_READ));
	/* A free target: reserve it, then let mremap() replace it. */
	to = (long)mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	ASSERT_NE(-1, to);
	ASSERT_EQ(to, WOK(WCH(caller), MVT_CALL, (long)call_mremap_fixed, un,
			  (long)len, to));

	/*
	 * The new range is mapped in full everywhere (by one VMA, or three in
	 * the view that split it); the old range is gone in every view.
	 */
	for (k = 0; k < NW; k++) {
		read_maps(_metadata, self->tid[k], self->maps_b);
		ASSERT_EQ(len, maps_bytes(self->maps_b, RANGE(to, len)))
			TH_LOG("new range of view %ld:\n%s", self->view[k],
			       self->maps_b);
		maps_range(got, sizeof(got), self->maps_b, RANGE(un, len), false);
		ASSERT_STREQ("", got) TH_LOG("old range of view %ld", self->view[k]);
		/* Each view kept its own pages, and its own protection. */
		for (i = 0; i < 4; i++)
			ASSERT_EQ(0x1000 * (k + 1) + i,
				  WRPC(WCH(k), MVT_LOAD, to + i * self->ps).ret)
				TH_LOG("page %d in view %ld", i, self->view[k]);
		maps_range(got, sizeof(got), self->maps_b,
			   RANGE(to + self->ps, self->ps), false);
		ASSERT_NE(NULL, strstr(got, k == split ? " r--p " : " rw-p "))
			TH_LOG("view %ld: %s", self->view[k], got);
	}
	self->un = (char *)to;
}

TEST_F_TIMEOUT(layout, mremap_moves_a_view_whose_vmas_split_the_source, 300)
{
	mremap_over_other_split(_metadata, self, 1, 0);
}

TEST_F_TIMEOUT(layout, mremap_moves_the_base_whose_vmas_split_the_source, 300)
{
	mremap_over_other_split(_metadata, self, 0, 1);
}

/* VMAs of the thread's view: maps lines, but the gate area is none. */
static int view_vma_count(struct __test_metadata *_metadata,
			  FIXTURE_DATA(layout) *self, int k)
{
	const char *line;
	int n = 0;

	read_maps(_metadata, self->tid[k], self->maps_a);
	for (line = self->maps_a; line && *line; ) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		n += !memmem(line, len, "[vsyscall]", 10);
		line = nl ? nl + 1 : NULL;
	}
	return n;
}

static long unmap_middle_and_grow_first(long p, long ps, long unused,
					long *out)
{
	(void)unused;
	(void)out;
	if (munmap((char *)p + ps, ps))
		return -1;
	return (long)mremap((void *)p, ps, 2 * ps, 0);
}

/*
 * mremap() growing a VMA in place into the hole before its neighbour merges
 * the two, from a view as from a process without views (the kernel's
 * mremap_test "expand merge"), and every view follows.
 */
TEST_F(layout, mremap_growing_into_a_hole_merges_in_every_view)
{
	static char range[MAPS_SIZE];
	unsigned long start, end;
	struct mvt_res r;
	char *nl;
	long p;
	int k, lines;

	p = (long)mmap(NULL, 3 * self->ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(-1, p);
	start = p;
	end = p + 3 * self->ps;
	r = WRPC(WCH(1), MVT_CALL, (long)unmap_middle_and_grow_first, p,
		 (long)self->ps);
	ASSERT_EQ(p, r.ret) TH_LOG("mremap in view 1: %s", strerror(r.err));
	for (k = 0; k < NW; k++) {
		long view = self->view[k];

		read_maps(_metadata, self->tid[k], self->maps_a);
		maps_range(range, sizeof(range), self->maps_a, start, end,
			   false);
		lines = 0;
		for (nl = range; (nl = strchr(nl, '\n')); nl++)
			lines++;
		ASSERT_EQ(3 * self->ps, maps_bytes(self->maps_a, start, end));
		ASSERT_EQ(1, lines)
			TH_LOG("view %ld maps the range as:\n%s", view,
			       range);
	}
	ASSERT_EQ(0, munmap((void *)p, 3 * self->ps));
}

/*
 * A view may hold more VMAs than the caller (its own mprotect() splits of an
 * unshared range). At vm.max_map_count, a change that the caller may make
 * must still reach that view: the view follows the split instead of failing
 * it, which made the mirror retry without end.
 */
TEST_F_TIMEOUT(layout, split_in_a_view_at_max_map_count, 300)
{
	size_t len = 4 * self->ps;
	char saved[32], limit[32];
	struct mvt_res r, m;
	long p;

	p = (long)mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(-1, p);
	((long *)p)[0] = 0xc01;
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_mprotect,
			 (long)self->un + self->ps, (long)self->ps, PROT_READ));
	ASSERT_EQ(view_vma_count(_metadata, self, 0) + 2,
		  view_vma_count(_metadata, self, 1));
	ASSERT_LT(0, mvt_read_file("/proc/sys/vm/max_map_count", saved,
				   sizeof(saved)));
	snprintf(limit, sizeof(limit), "%d", view_vma_count(_metadata, self, 1));
	ASSERT_EQ(0, mvt_write_file("/proc/sys/vm/max_map_count", limit));
	/* The base splits one VMA into three, mprotect() two into more. */
	r = mvt_rpc_timeout(WCH(0), 60 * 1000, MVT_SYSCALL, SYS_munmap,
			    p + self->ps, (long)self->ps, 0);
	m = mvt_rpc_timeout(WCH(2), 60 * 1000, MVT_SYSCALL, SYS_mprotect,
			    p + 2 * self->ps, (long)self->ps, PROT_READ);
	mvt_write_file("/proc/sys/vm/max_map_count", saved);
	ASSERT_EQ(0, r.rpc) TH_LOG("munmap from the base did not return");
	ASSERT_EQ(0, r.ret) TH_LOG("munmap: %s", strerror(r.err));
	ASSERT_EQ(0, m.rpc) TH_LOG("mprotect from view 2 did not return");
	ASSERT_EQ(0, m.ret) TH_LOG("mprotect: %s", strerror(m.err));
	expect_same_maps(_metadata, self, RANGE(p, len), "split at the limit");
	expect_shared(_metadata, self, (volatile long *)p, 0xc01,
		      "first page after the splits");
	munmap((void *)p, len);
}

TEST_F_TIMEOUT(layout, mlockall_future_applies_to_mappings_of_every_view, 300)
{
	static char line[MAPS_SIZE];
	size_t len = 2 * self->ps;
	long p;
	int k;

	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_mlockall,
			 MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT));
	/* A mapping made later, from another view, is locked everywhere. */
	p = wmmap(_metadata, WCH(1), len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1);
	ASSERT_NE(-1, p);
	expect_same_maps(_metadata, self, RANGE(p, len), "mmap after mlockall");
	for (k = 0; k < NW; k++) {
		char path[64], *e;

		snprintf(path, sizeof(path), "/proc/self/task/%d/smaps",
			 self->tid[k]);
		ASSERT_LT(0, mvt_read_file(path, self->maps_a, MAPS_SIZE));
		snprintf(line, sizeof(line), "%lx-", (unsigned long)p);
		e = strstr(self->maps_a, line);
		ASSERT_NE(NULL, e) TH_LOG("view %ld: no smaps entry", self->view[k]);
		e = strstr(e, "VmFlags:");
		ASSERT_NE(NULL, e);
		*strchrnul(e, '\n') = '\0';
		ASSERT_NE(NULL, strstr(e, " lo")) TH_LOG("view %ld: %s",
							 self->view[k], e);
	}
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_munlockall));
	munmap((void *)p, len);
}

/*
 * hugetlb mappings made from a view: shared ones are one page cache page in
 * every view; private ones keep their reservation with the caller's VMA.
 */
TEST_F_TIMEOUT(layout, hugetlb_mappings_from_a_view, 300)
{
	size_t len = 2UL << 20;
	char buf[32];
	long p, q;

	mvt_write_file("/proc/sys/vm/nr_hugepages", "4");
	if (mvt_read_file("/proc/sys/vm/nr_hugepages", buf, sizeof(buf)) <= 0 ||
	    atoi(buf) < 2)
		SKIP(return, "no 2 MiB huge pages in this guest");

	p = wmmap(_metadata, WCH(1), len, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1);
	ASSERT_NE(-1, p);
	expect_same_maps(_metadata, self, RANGE(p, len), "shared hugetlb");
	WOK(WCH(1), MVT_STORE, p + 4096, 0xe00);
	ASSERT_EQ(0xe00, *(volatile long *)(p + 4096));
	ASSERT_EQ(0xe00, WRPC(WCH(2), MVT_LOAD, p + 4096).ret);

	q = wmmap(_metadata, WCH(2), len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1);
	ASSERT_NE(-1, q);
	expect_same_maps(_metadata, self, RANGE(q, len), "private hugetlb");
	WOK(WCH(2), MVT_STORE, q, 0xe01);
	ASSERT_EQ(0xe01, WRPC(WCH(2), MVT_LOAD, q).ret);

	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_munmap, q, (long)len));
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_munmap, p, (long)len));
	expect_same_maps(_metadata, self, RANGE(p, len), "hugetlb unmapped");
	mvt_write_file("/proc/sys/vm/nr_hugepages", "0");
}

/* A reader spinning in a view while another view replaces its page. */
struct spin {
	volatile long *p;	/* read in a loop */
	volatile int stop;	/* set by the main thread */
	volatile int started;
	volatile long last;	/* the reader's last value after stop */
};

static long spin_reader(long b, long c, long d, long *out)
{
	struct spin *sp = (struct spin *)b;
	long v = 0;

	(void)c;
	(void)d;
	(void)out;
	sp->started = 1;
	while (!__atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE))
		v += *sp->p;
	sp->last = *sp->p;
	return v != 0;
}

struct spin_arg {
	const struct mvt_chan *ch;
	struct spin *sp;
	struct mvt_res res;
};

static void *spin_rpc(void *a)
{
	struct spin_arg *sa = a;

	sa->res = mvt_rpc(sa->ch, MVT_CALL, (long)spin_reader, (long)sa->sp,
			  0, 0);
	return NULL;
}

/*
 * No stale TLB entry: a thread in view 1 keeps loading a page while the
 * base replaces it (MADV_DONTNEED, then MAP_FIXED over it) and write-
 * protects it; right after each call the reader sees the new contents.
 */
TEST_F_TIMEOUT(layout, spinning_reader_sees_replacements, 300)
{
	struct spin *sp = mvt_map_populated(self->ps);
	struct spin_arg sa;
	pthread_t th;
	long p;

	/* sp was mapped after the views: fine now, every view has it. */
	ASSERT_NE(NULL, sp);
	p = (long)mmap(NULL, self->ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(-1, p);
	*(long *)p = 1;
	sp->p = (volatile long *)p;
	sa = (struct spin_arg){ .ch = WCH(1), .sp = sp };
	ASSERT_EQ(0, pthread_create(&th, NULL, spin_rpc, &sa));
	while (!sp->started)
		usleep(1000);

	/* Discard: the one copy is gone, the reader must load zero. */
	ASSERT_EQ(0, madvise((void *)p, self->ps, MADV_DONTNEED));
	__atomic_store_n(&sp->stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	ASSERT_EQ(0, sa.res.rpc);
	ASSERT_EQ(0, sp->last) TH_LOG("view 1 still reads the discarded page");

	/* Replace with MAP_FIXED from view 2 and fill it in base. */
	sp->stop = 0;
	sp->started = 0;
	ASSERT_EQ(0, pthread_create(&th, NULL, spin_rpc, &sa));
	while (!sp->started)
		usleep(1000);
	ASSERT_EQ(p, WOK(WCH(2), MVT_CALL, (long)call_mmap_fixed, p,
			 (long)self->ps));
	*(long *)p = 7;
	__atomic_store_n(&sp->stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	ASSERT_EQ(0, sa.res.rpc);
	ASSERT_EQ(7, sp->last) TH_LOG("view 1 reads the replaced page");
	expect_shared(_metadata, self, (volatile long *)p, 7, "replaced page");
	munmap((void *)p, self->ps);
}

/* More views than lockdep has subclasses: the layout lock nests them all. */
TEST_F_TIMEOUT(layout, many_views_mmap_munmap, 300)
{
	size_t len = 4 * self->ps;
	long extra[12], p;
	int i;

	for (i = 0; i < 12; i++) {
		extra[i] = mmview_create();
		ASSERT_LE(1, extra[i]);
	}
	WOK(WCH(1), MVT_MIGRATE, extra[11]);
	p = wmmap(_metadata, WCH(1), len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1);
	ASSERT_NE(-1, p);
	self->view[1] = extra[11];
	expect_same_maps(_metadata, self, RANGE(p, len), "mmap with 14 views");
	WOK(WCH(1), MVT_STORE, p, 0xb00);
	expect_shared(_metadata, self, (volatile long *)p, 0xb00, "14 views");
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_munmap, p, (long)len));
	expect_same_maps(_metadata, self, RANGE(p, len), "munmap with 14 views");
	for (i = 0; i < 12; i++)
		ASSERT_EQ(0, mmview_delete(extra[i]));
}

/* The vDSO block ([vvar*] and [vdso]) of the caller's view: its VMAs. */
struct vdso_block {
	unsigned long start[4], end[4];
	int n;
};

static int find_vdso(const char *maps, struct vdso_block *b)
{
	const char *line = maps;

	b->n = 0;
	while (line && *line) {
		unsigned long a, e;

		if (sscanf(line, "%lx-%lx", &a, &e) == 2 &&
		    (strstr(line, "[vvar") || strstr(line, "[vdso]")) &&
		    strchr(line, '\n') > strstr(line, "[v")) {
			if (b->n == 4 || (b->n && b->end[b->n - 1] != a))
				return -1;	/* not one block */
			b->start[b->n] = a;
			b->end[b->n++] = e;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return b->n ? 0 : -1;
}

/*
 * MVT_CALL: move the vDSO block @b to @dst, VMA by VMA, as CRIU does. Nothing
 * may call into the vDSO meanwhile: no clock_gettime() here.
 */
static long call_move_vdso(long b_, long dst, long d, long *out)
{
	struct vdso_block *b = (struct vdso_block *)b_;
	int i;

	(void)d;
	(void)out;
	for (i = 0; i < b->n; i++) {
		unsigned long len = b->end[i] - b->start[i];
		void *to = (void *)(dst + (b->start[i] - b->start[0]));

		if (mremap((void *)b->start[i], len, len,
			   MREMAP_MAYMOVE | MREMAP_FIXED, to) != to)
			return -1;
	}
	return 0;
}

static volatile int got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal++;
}

/*
 * The vDSO moved by mremap() from view 1 is at its new place in every view,
 * and threads of every view return from signal handlers (the arm64 return
 * trampoline is in the vDSO, found through the mm of the thread's view).
 * glibc keeps the vDSO's old function addresses, so until the base moves it
 * back nothing may call them: no RPCs (they read the clock), only signals.
 */
TEST_F_TIMEOUT(layout, vdso_moved_from_a_view, 300)
{
	struct sigaction sa = { .sa_handler = on_signal,
				.sa_flags = SA_RESTART };
	struct vdso_block b, moved;
	unsigned long len;
	struct mvt_res r;
	int k, before, spins;
	char *dst;

	read_maps(_metadata, self->tid[1], self->maps_a);
	if (find_vdso(self->maps_a, &b))
		SKIP(return, "no vDSO block in this guest");
	len = b.end[b.n - 1] - b.start[0];
	dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));

	/*
	 * Without a timeout: the RPC's timeout reads the clock after sending
	 * the request, and a worker that runs first has moved the vDSO by
	 * then (seen under load, as a SIGSEGV at the old address).
	 */
	r = mvt_rpc_timeout(WCH(1), -1, MVT_CALL, (long)call_move_vdso,
			    (long)&b, (long)dst, 0);
	ASSERT_EQ(0, r.rpc);
	ASSERT_EQ(0, r.ret) TH_LOG("mremap of the vDSO: %s", strerror(r.err));
	expect_same_maps(_metadata, self, RANGE(dst, len), "vDSO moved");
	expect_same_maps(_metadata, self, RANGE(b.start[0], len), "vDSO left");
	read_maps(_metadata, self->tid[2], self->maps_b);
	ASSERT_EQ(0, find_vdso(self->maps_b, &moved));
	ASSERT_EQ((unsigned long)dst, moved.start[0]);

	for (k = 0; k < NW; k++) {
		before = got_signal;
		ASSERT_EQ(0, syscall(SYS_tgkill, getpid(), self->tid[k],
				     SIGUSR1));
		for (spins = 0; got_signal == before && spins < 10000; spins++)
			usleep(1000);
		ASSERT_EQ(before + 1, got_signal)
			TH_LOG("view %ld: no return from the handler",
			       self->view[k]);
	}
	before = got_signal;
	ASSERT_EQ(0, raise(SIGUSR1));
	ASSERT_EQ(before + 1, got_signal);

	/* Back, from the base, for glibc's sake; then the workers answer. */
	ASSERT_EQ(0, call_move_vdso((long)&moved, (long)b.start[0], 0, NULL));
	expect_same_maps(_metadata, self, RANGE(b.start[0], len), "vDSO back");
	for (k = 0; k < NW; k++)
		ASSERT_EQ(0, WRPC(WCH(k), MVT_NOP).ret);
}

TEST_HARNESS_MAIN
