// SPDX-License-Identifier: GPL-2.0
/*
 * Layout changes stay atomic across views when memory runs out.
 *
 * A thread in one view makes layout changes (MAP_FIXED over existing
 * mappings, munmap, mremap to a fixed target, mprotect, MADV_DONTNEED) while
 * the kernel's fault injection fails its slab and page allocations
 * (failslab, fail_page_alloc, task-filter: only that thread). The call may
 * fail, with ENOMEM or the errno it would give anyway; whatever it did to
 * the caller's view must be what every view sees: after each call the maps
 * of the arena are identical in every view and every page holds the same
 * data (or is unmapped) in every view, read through
 * /proc/self/task/TID/mem. Mirroring into the other views must never leave
 * one of them with a hole or with the old mapping.
 *
 * The overcommit test checks the same for the commit charge: a change that
 * the caller's view may make must not fail in the other views.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW		3	/* worker i runs in view i; worker 0 in base */
#define ARENA_PAGES	32
#define MAPS_SIZE	(64 * 1024)
#define FAILSLAB	"/sys/kernel/debug/failslab"
#define FAILPAGE	"/sys/kernel/debug/fail_page_alloc"

enum fi_kind {
	FI_MAP_PRIVATE,
	FI_MAP_SHARED,
	FI_MUNMAP,
	FI_MREMAP,
	FI_MPROTECT,
	FI_DONTNEED,
	FI_NR_KINDS,
};

static const char *const fi_name[FI_NR_KINDS] = {
	"mmap MAP_FIXED private", "mmap MAP_FIXED shared", "munmap",
	"mremap MREMAP_FIXED", "mprotect", "madvise DONTNEED",
};

/* Filled by the main thread, read by the worker: in populated memory. */
struct fi_op {
	int kind;
	unsigned long addr, len, addr2, len2;
	int prot;
	bool inject;
};

FIXTURE(failinject) {
	struct mvt_worker w[NW];
	long view[NW];
	pid_t tid[NW];
	int mem[NW];		/* /proc/self/task/TID/mem of each worker */
	size_t ps;
	char *arena;
	char *maps_a, *maps_b, *ref, *got;
	struct fi_op *op;
	unsigned int seed, seed0;
};

FIXTURE_VARIANT(failinject) {
	bool slab, page;
	/*
	 * Failure probability of each; a layout change allocates few pages
	 * in the calling thread (the page tables of a view fill lazily), so
	 * page allocation failures need the higher one to be sure to occur.
	 */
	int slab_percent, page_percent;
};

FIXTURE_VARIANT_ADD(failinject, failslab) {
	.slab = true, .slab_percent = 20,
};

FIXTURE_VARIANT_ADD(failinject, fail_page_alloc) {
	.page = true, .page_percent = 30,
};

FIXTURE_VARIANT_ADD(failinject, both) {
	.slab = true, .page = true, .slab_percent = 10, .page_percent = 30,
};

/*
 * A positive "times" counts down with every failure injected: what is
 * left at the end tells how many there were.
 */
#define FI_TIMES	1000000L
#define FI_TIMES_STR	"1000000"

/* Failures injected so far through a fault-injection directory; -1 on error. */
static long fi_injected(const char *dir)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "%s/times", dir);
	if (mvt_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return FI_TIMES - strtol(buf, NULL, 10);
}

/* Configure a fault-injection attribute directory; 0 or -errno. */
static int fi_setup(const char *dir, int percent, bool page)
{
	static const char *const common[][2] = {
		{ "interval", "1" }, { "times", FI_TIMES_STR }, { "space", "0" },
		{ "verbose", "0" }, { "task-filter", "Y" },
		{ "ignore-gfp-wait", "N" },
	};
	char path[128], val[16];
	size_t i;
	int err;

	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, common[i][0]);
		err = mvt_write_file(path, common[i][1]);
		if (err)
			return err;
	}
	if (page) {
		snprintf(path, sizeof(path), "%s/ignore-gfp-highmem", dir);
		err = mvt_write_file(path, "N");
		if (!err) {
			snprintf(path, sizeof(path), "%s/min-order", dir);
			err = mvt_write_file(path, "0");
		}
		if (err)
			return err;
	}
	snprintf(path, sizeof(path), "%s/probability", dir);
	snprintf(val, sizeof(val), "%d", percent);
	return mvt_write_file(path, val);
}

static void fi_off(void)
{
	mvt_write_file(FAILSLAB "/probability", "0");
	mvt_write_file(FAILPAGE "/probability", "0");
}

/* The fixture's setup; also of the overcommit fixture (no injection). */
static void fi_fixture_setup(struct __test_metadata *_metadata,
			     FIXTURE_DATA(failinject) *self,
			     const FIXTURE_VARIANT(failinject) *variant)
{
	const char *env = getenv("MMVIEW_FAILINJECT_SEED");
	char path[64];
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	if (access(FAILSLAB, F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(FAILSLAB, F_OK) || access(FAILPAGE, F_OK))
		SKIP(return, "kernel without FAILSLAB/FAIL_PAGE_ALLOC debugfs");
	self->ps = mvt_page_size();
	self->maps_a = malloc(MAPS_SIZE);
	self->maps_b = malloc(MAPS_SIZE);
	self->ref = malloc(MAPS_SIZE);
	self->got = malloc(MAPS_SIZE);
	ASSERT_TRUE(self->maps_a && self->maps_b && self->ref && self->got);
	self->maps_a[0] = '\0';
	self->op = mvt_map_populated(self->ps);
	ASSERT_NE(NULL, self->op);
	self->arena = mvt_map_populated(ARENA_PAGES * self->ps);
	ASSERT_NE(NULL, self->arena);
	for (i = 0; i < ARENA_PAGES; i++)
		*(long *)(self->arena + i * self->ps) = 0x1000 + i;
	self->seed = env ? strtoul(env, NULL, 0) : (unsigned int)mvt_now_ms();
	self->seed0 = self->seed;
	TH_LOG("seed %u (MMVIEW_FAILINJECT_SEED replays it)", self->seed);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
		self->tid[i] = self->w[i].tid;
		snprintf(path, sizeof(path), "/proc/self/task/%d/mem",
			 self->tid[i]);
		self->mem[i] = open(path, O_RDONLY);
		ASSERT_LE(0, self->mem[i]);
	}
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
	if (variant->slab)
		ASSERT_EQ(0, fi_setup(FAILSLAB, variant->slab_percent, false));
	if (variant->page)
		ASSERT_EQ(0, fi_setup(FAILPAGE, variant->page_percent, true));
}

FIXTURE_SETUP(failinject)
{
	fi_fixture_setup(_metadata, self, variant);
}

static void fi_fixture_teardown(FIXTURE_DATA(failinject) *self)
{
	int i;

	fi_off();
	mvt_workers_stop_views(self->w, self->view, NW);
	for (i = 0; i < NW; i++)
		if (self->mem[i] > 0)
			close(self->mem[i]);
}

FIXTURE_TEARDOWN(failinject)
{
	fi_fixture_teardown(self);
}

#define WCH(i) (&self->w[i].ch)

/*
 * Run by a worker (MVT_CALL): the operation, with fault injection on for
 * this thread only around the system call itself.
 */
static long call_op(long opp, long c, long d, long *out)
{
	struct fi_op *op = (struct fi_op *)opp;
	int fd = -1, err;
	long ret;
	void *p;

	(void)c;
	(void)d;
	(void)out;
	if (op->inject) {
		fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
		if (fd < 0 || write(fd, "1", 1) != 1)
			return -2;
	}
	switch (op->kind) {
	case FI_MAP_PRIVATE:
	case FI_MAP_SHARED:
		p = mmap((void *)op->addr, op->len, op->prot,
			 (op->kind == FI_MAP_SHARED ? MAP_SHARED : MAP_PRIVATE) |
			 MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ret = p == MAP_FAILED ? -1 : 0;
		break;
	case FI_MUNMAP:
		ret = munmap((void *)op->addr, op->len);
		break;
	case FI_MREMAP:
		p = mremap((void *)op->addr, op->len, op->len2,
			   MREMAP_MAYMOVE | MREMAP_FIXED, (void *)op->addr2);
		ret = p == MAP_FAILED ? -1 : 0;
		break;
	case FI_MPROTECT:
		ret = mprotect((void *)op->addr, op->len, op->prot);
		break;
	default:
		ret = madvise((void *)op->addr, op->len, MADV_DONTNEED);
		break;
	}
	err = errno;
	if (fd >= 0) {
		if (write(fd, "0", 1) != 1)
			ret = -2;
		close(fd);
	}
	errno = err;
	return ret;
}

static void read_maps(struct __test_metadata *_metadata, pid_t tid, char *buf)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/maps", tid);
	ASSERT_LT(0, mvt_read_file(path, buf, MAPS_SIZE)) TH_LOG("%s", path);
}

/*
 * The mappings that intersect [start, end), clipped to the range, with
 * adjacent VMAs of the same mapping joined: a call that failed halfway
 * leaves split VMAs in the caller's view, as it does without views, and
 * the other views need not split alike.
 */
static void maps_range(char *dst, size_t size, const char *maps,
		       unsigned long start, unsigned long end)
{
	unsigned long pa = 0, pb = 0, poff = 0, pino = 0;
	char pperms[8] = "", pdev[16] = "", pname[128] = "";
	const char *line = maps;
	size_t used = 0;

	dst[0] = '\0';
	for (;;) {
		const char *nl = line ? strchr(line, '\n') : NULL;
		unsigned long a = 0, b = 0, off, ino;
		char perms[8], dev[16], name[128] = "";
		bool more = line && *line;
		int n = 0;

		if (more && (sscanf(line, "%lx-%lx %7s %lx %15s %lu%n", &a, &b,
				    perms, &off, dev, &ino, &n) < 6 ||
			     a >= end || b <= start)) {
			line = nl ? nl + 1 : NULL;
			continue;
		}
		if (more) {
			const char *q = line + n;

			while (*q == ' ')
				q++;
			sscanf(q, "%127[^\n]", name);
		}
		if (more && pb == a && !strcmp(perms, pperms) &&
		    !strcmp(dev, pdev) && ino == pino && !strcmp(name, pname) &&
		    (!ino || poff + (pb - pa) == off)) {
			pb = b;
			line = nl ? nl + 1 : NULL;
			continue;
		}
		if (pb && used + 256 < size)
			used += snprintf(dst + used, size - used,
					 "%lx-%lx %s %s\n", pa < start ? start : pa,
					 pb > end ? end : pb, pperms, pname);
		if (!more)
			break;
		pa = a;
		pb = b;
		poff = off;
		pino = ino;
		strcpy(pperms, perms);
		strcpy(pdev, dev);
		strcpy(pname, name);
		line = nl ? nl + 1 : NULL;
	}
}

/* Maps and contents of the arena are the same in every view. */
static void expect_views_agree(struct __test_metadata *_metadata,
			       FIXTURE_DATA(failinject) *self, int step,
			       int caller)
{
	const struct fi_op *op = self->op;

	unsigned long start = (unsigned long)self->arena;
	unsigned long end = start + ARENA_PAGES * self->ps;
	long val[NW];
	ssize_t n[NW];
	int k, i;

	read_maps(_metadata, self->tid[0], self->maps_a);
	maps_range(self->ref, MAPS_SIZE, self->maps_a, start, end);
	for (k = 1; k < NW; k++) {
		read_maps(_metadata, self->tid[k], self->maps_b);
		maps_range(self->got, MAPS_SIZE, self->maps_b, start, end);
		ASSERT_STREQ(self->ref, self->got)
			TH_LOG("step %d (seed %u): maps of view %ld differ from base after %s(%#lx, %#lx, %#lx) from view %ld",
			       step, self->seed0, self->view[k],
			       fi_name[op->kind], op->addr, op->len, op->addr2,
			       self->view[caller]);
	}
	for (i = 0; i < ARENA_PAGES; i++) {
		off_t addr = (off_t)(start + i * self->ps);

		for (k = 0; k < NW; k++) {
			val[k] = 0;
			n[k] = pread(self->mem[k], &val[k], sizeof(long), addr);
		}
		for (k = 1; k < NW; k++) {
			ASSERT_EQ(n[0], n[k])
				TH_LOG("step %d (seed %u): page %d mapped in one view only",
				       step, self->seed0, i);
			ASSERT_EQ(val[0], val[k])
				TH_LOG("step %d (seed %u): page %d: base %#lx, view %ld %#lx",
				       step, self->seed0, i, val[0],
				       self->view[k], val[k]);
		}
	}
}

/* Store a new tag in every writable page of the arena, from a random view. */
static void store_tags(struct __test_metadata *_metadata,
		       FIXTURE_DATA(failinject) *self, long tag)
{
	unsigned long start = (unsigned long)self->arena;
	unsigned long end = start + ARENA_PAGES * self->ps;
	const char *line = self->maps_a;
	int k = rand_r(&self->seed) % NW;

	read_maps(_metadata, self->tid[0], self->maps_a);
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		unsigned long a, b, p;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3 &&
		    a < end && b > start && perms[1] == 'w') {
			for (p = a < start ? start : a; p < b && p < end;
			     p += self->ps)
				WOK(WCH(k), MVT_STORE, (long)p,
				    tag + (long)((p - start) / self->ps));
		}
		line = nl ? nl + 1 : NULL;
	}
}

/*
 * mremap() moves one VMA: take a random mapping of the arena (self->maps_a
 * holds the base's maps) as the source, so that most moves can succeed.
 */
static void pick_mremap_source(FIXTURE_DATA(failinject) *self,
			       struct fi_op *op)
{
	unsigned long start = (unsigned long)self->arena;
	unsigned long end = start + ARENA_PAGES * self->ps;
	unsigned long a, b, pick_a = 0, pick_b = 0;
	const char *line = self->maps_a;
	int seen = 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n');

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < end &&
		    b > start && rand_r(&self->seed) % ++seen == 0) {
			pick_a = a < start ? start : a;
			pick_b = b > end ? end : b;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!seen)
		return;
	op->addr = pick_a;
	op->len = pick_b - pick_a;
	op->len2 = op->len;
	a = rand_r(&self->seed) % (ARENA_PAGES - op->len / self->ps + 1);
	op->addr2 = start + a * self->ps;
}

static void random_op(FIXTURE_DATA(failinject) *self, struct fi_op *op)
{
	unsigned long base = (unsigned long)self->arena;
	unsigned long first = rand_r(&self->seed) % ARENA_PAGES;
	unsigned long pages = 1 + rand_r(&self->seed) % (ARENA_PAGES / 4);

	if (first + pages > ARENA_PAGES)
		pages = ARENA_PAGES - first;
	op->kind = rand_r(&self->seed) % FI_NR_KINDS;
	op->addr = base + first * self->ps;
	op->len = pages * self->ps;
	op->prot = rand_r(&self->seed) % 2 ? PROT_READ | PROT_WRITE : PROT_READ;
	if (op->kind == FI_MAP_PRIVATE || op->kind == FI_MAP_SHARED)
		op->prot = PROT_READ | PROT_WRITE;
	first = rand_r(&self->seed) % (ARENA_PAGES - pages + 1);
	op->addr2 = base + first * self->ps;
	op->len2 = op->len;
	if (op->kind == FI_MREMAP)
		pick_mremap_source(self, op);
	/* The target must not overlap the source. */
	if (op->kind == FI_MREMAP && op->addr2 < op->addr + op->len &&
	    op->addr < op->addr2 + op->len2)
		op->kind = FI_MPROTECT;
}

TEST_F_TIMEOUT(failinject, layout_changes_agree_under_allocation_failures, 600)
{
	int fails[FI_NR_KINDS] = { 0 }, calls[FI_NR_KINDS] = { 0 };
	int step, k, total_fails = 0;
	struct mvt_res r;

	for (step = 0; step < 240; step++) {
		k = rand_r(&self->seed) % NW;
		random_op(self, self->op);
		self->op->inject = true;
		r = WRPC(WCH(k), MVT_CALL, (long)call_op, (long)self->op);
		ASSERT_NE(-2, r.ret) TH_LOG("make-it-fail not writable");
		calls[self->op->kind]++;
		if (r.ret < 0) {
			/* The errnos these calls give without views. */
			ASSERT_TRUE(r.err == ENOMEM || r.err == EFAULT ||
				    r.err == EINVAL ||
				    (r.err == ENOSPC &&
				     self->op->kind == FI_MAP_SHARED))
				TH_LOG("step %d: %s from view %ld: errno %d",
				       step, fi_name[self->op->kind],
				       self->view[k], r.err);
			fails[self->op->kind]++;
			/* Not a hole (mprotect, madvise): injected. */
			total_fails += r.err == ENOMEM &&
				       self->op->kind <= FI_MREMAP;
		}
		expect_views_agree(_metadata, self, step, k);
		store_tags(_metadata, self, (long)(step + 1) << 16);
		expect_views_agree(_metadata, self, step, k);
	}
	for (k = 0; k < FI_NR_KINDS; k++)
		TH_LOG("%s: %d calls, %d failed", fi_name[k], calls[k],
		       fails[k]);
	/*
	 * Every injector of the variant must have failed allocations, and
	 * the slab's failures must have reached the callers at all. Page
	 * allocations alone (page tables of mremap()) reach them too rarely
	 * to count on it.
	 */
	if (variant->slab) {
		ASSERT_LT(0, fi_injected(FAILSLAB));
		ASSERT_LT(0, total_fails);
	}
	if (variant->page)
		ASSERT_LT(0, fi_injected(FAILPAGE))
			TH_LOG("fail_page_alloc injected nothing");
	TH_LOG("injected: %ld slab, %ld page allocation failures",
	       variant->slab ? fi_injected(FAILSLAB) : 0,
	       variant->page ? fi_injected(FAILPAGE) : 0);
}

/*
 * Strict overcommit with room for the caller's mapping but not for one
 * copy per view: every view must still get the mapping, because a view's
 * copy is not new memory.
 */
static void overcommit_checked_once(struct __test_metadata *_metadata,
				    FIXTURE_DATA(failinject) *self)
{
	char old_mode[16] = "", old_kb[32] = "", room[32];
	long committed = mvt_meminfo_kb("Committed_AS");
	long swap_kb = mvt_meminfo_kb("SwapTotal");
	/* Large enough that the limit below stays positive despite swap. */
	size_t len = (16UL << 20) + ((size_t)swap_kb << 11);
	struct mvt_res r;
	char *p;
	int k;

	ASSERT_LT(0, committed);
	ASSERT_LT(0, mvt_read_file("/proc/sys/vm/overcommit_memory", old_mode,
				   sizeof(old_mode)));
	ASSERT_LT(0, mvt_read_file("/proc/sys/vm/overcommit_kbytes", old_kb,
				   sizeof(old_kb)));
	fi_off();
	/* The limit leaves 1.5 mappings of room (CommitLimit = kbytes + swap). */
	snprintf(room, sizeof(room), "%ld",
		 committed + (long)(len * 3 / 2 / 1024) - swap_kb);
	ASSERT_EQ(0, mvt_write_file("/proc/sys/vm/overcommit_kbytes", room));
	ASSERT_EQ(0, mvt_write_file("/proc/sys/vm/overcommit_memory", "2"));
	self->op->kind = FI_MAP_PRIVATE;
	self->op->inject = false;
	self->op->prot = PROT_READ | PROT_WRITE;
	/* A free address: map, then unmap, in the base. */
	p = mmap(NULL, 4 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p, 4 * len));
	self->op->addr = (unsigned long)p;
	self->op->len = len;
	r = WRPC(WCH(1), MVT_CALL, (long)call_op, (long)self->op);
	if (r.ret) {
		mvt_write_file("/proc/sys/vm/overcommit_memory", old_mode);
		mvt_write_file("/proc/sys/vm/overcommit_kbytes", old_kb);
	}
	ASSERT_EQ(0, r.ret) TH_LOG("the caller's mapping: errno %d", r.err);
	/* Too large for the limit now: fails, and no view has it. */
	self->op->len = 4 * len;
	r = WRPC(WCH(2), MVT_CALL, (long)call_op, (long)self->op);
	mvt_write_file("/proc/sys/vm/overcommit_memory", old_mode);
	mvt_write_file("/proc/sys/vm/overcommit_kbytes", old_kb);
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(ENOMEM, r.err);
	self->op->len = len;
	for (k = 0; k < NW; k++) {
		off_t addr = (off_t)p + len - self->ps;
		long v;

		read_maps(_metadata, self->tid[k], self->maps_a);
		maps_range(self->ref, MAPS_SIZE, self->maps_a,
			   (unsigned long)p, (unsigned long)p + 4 * len);
		snprintf(self->got, MAPS_SIZE, "%lx-%lx rw-p \n",
			 (unsigned long)p, (unsigned long)p + len);
		ASSERT_STREQ(self->got, self->ref)
			TH_LOG("view %ld lacks the mapping made in view %ld",
			       self->view[k], self->view[1]);
		ASSERT_EQ((ssize_t)sizeof(v),
			  pread(self->mem[k], &v, sizeof(v), addr));
	}
	WOK(WCH(2), MVT_STORE, (long)p, 0x77);
	for (k = 0; k < NW; k++)
		ASSERT_EQ(0x77, WRPC(WCH(k), MVT_LOAD, (long)p).ret);
}

/*
 * The overcommit case injects nothing: a fixture of its own, without the
 * injection variants, so that it runs once.
 */
FIXTURE(overcommit) {
	FIXTURE_DATA(failinject) fi;
};

FIXTURE_SETUP(overcommit)
{
	static const FIXTURE_VARIANT(failinject) none;

	fi_fixture_setup(_metadata, &self->fi, &none);
}

FIXTURE_TEARDOWN(overcommit)
{
	fi_fixture_teardown(&self->fi);
}

TEST_F_TIMEOUT(overcommit, checked_once_per_change, 300)
{
	overcommit_checked_once(_metadata, &self->fi);
}

TEST_HARNESS_MAIN
