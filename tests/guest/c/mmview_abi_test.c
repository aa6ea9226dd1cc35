// SPDX-License-Identifier: GPL-2.0
/*
 * mmview ABI and errno tests: every errno row of the four calls, through the
 * libmmview wrappers and through syscall(2) by number, plus EPERM for tasks
 * that share the address space without being threads, and the per-process
 * view limit (/proc/sys/vm/mmview_max_views).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

/* The numbers of the original mmview kernel: binaries built for it use them. */
#define NR_CREATE	1000
#define NR_MIGRATE	1001
#define NR_UNSHARE	1002
#define NR_DELETE	1003

#define MAX_VIEWS_SYSCTL "/proc/sys/vm/mmview_max_views"

TEST(syscall_numbers)
{
	/* The ABI numbers are fixed (generic syscall table, x86_64 and arm64). */
	EXPECT_EQ(NR_UNSHARE, __NR_mmview_unshare);
	EXPECT_EQ(NR_CREATE, __NR_mmview_create);
	EXPECT_EQ(NR_MIGRATE, __NR_mmview_migrate);
	EXPECT_EQ(NR_DELETE, __NR_mmview_delete);
}

/*
 * Load/store probe of one word through the base view (this thread) and a
 * worker thread that sits in another view.  For a shared page stores are
 * visible both ways; for an unshared page neither way.  The page must have
 * been written before the worker's view was created.
 */
static void probe_word(struct __test_metadata *_metadata,
		       const struct mvt_chan *w, volatile long *p,
		       bool unshared, long tag)
{
	long before = *p;
	struct mvt_res r;

	r = WRPC(w, MVT_LOAD, (long)p);
	ASSERT_EQ(before, r.ret)
		TH_LOG("view and base disagree at %p before any store", p);
	WOK(w, MVT_STORE, (long)p, tag);
	if (unshared) {
		ASSERT_EQ(before, *p)
			TH_LOG("store in the view leaked into base at %p (unshared page)", p);
	} else {
		ASSERT_EQ(tag, *p)
			TH_LOG("store in the view not visible in base at %p (shared page)", p);
	}
	*p = tag + 1;
	r = WRPC(w, MVT_LOAD, (long)p);
	if (unshared) {
		ASSERT_EQ(tag, r.ret)
			TH_LOG("store in base leaked into the view at %p (unshared page)", p);
	} else {
		ASSERT_EQ(tag + 1, r.ret)
			TH_LOG("store in base not visible in the view at %p (shared page)", p);
	}
}

/* ------------------------------------------------------------------------
 * mmview_unshare() argument table.
 *
 * A layout string describes consecutive pages:
 *   P private anonymous RW     R private anonymous read-only
 *   . unmapped hole            S MAP_SHARED anonymous
 *   F MAP_SHARED tmp file      M MAP_SHARED memfd        V SysV shm
 * The page after the layout is always unmapped.
 */
enum len_kind { LEN_REL, LEN_MAX, LEN_WRAP, LEN_HUGE };

FIXTURE(unshare_args) {
	struct mvt_worker w;
	char *base;
	size_t ps;
	int npages;
	char *addr;
	size_t len;
};

FIXTURE_VARIANT(unshare_args) {
	const char *layout;
	bool abs;			/* addr = abs_addr, else layout relative */
	unsigned long abs_addr;
	long addr_pages, addr_bytes;
	enum len_kind len_kind;
	long len_pages, len_bytes;
	int expect_errno;		/* 0: must succeed */
	const char *unshared;		/* per page: 'u' unshared afterwards */
};

/* ---- EINVAL ---- */
FIXTURE_VARIANT_ADD(unshare_args, einval_unaligned_addr) {
	.layout = "PP", .addr_bytes = 1, .len_pages = 1,
	.expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_unaligned_addr_half_page) {
	.layout = "PP", .addr_bytes = 2048, .len_pages = 1,
	.expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_len_zero) {
	.layout = "PP", .len_pages = 0,
	.expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_len_max_wraps) {
	.layout = "PP", .len_kind = LEN_MAX,
	.expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_wraps_to_low_address) {
	.layout = "PP", .len_kind = LEN_WRAP,
	.expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_len_beyond_user_space) {
	.layout = "PP", .len_kind = LEN_HUGE,
	.expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_top_of_user_space) {
	.layout = "PP", .abs = true, .abs_addr = 0x7ffffffff000UL,
	.len_pages = 2, .expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_kernel_address) {
	.layout = "PP", .abs = true, .abs_addr = 0xffff800000000000UL,
	.len_pages = 1, .expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_last_page_of_address_space) {
	.layout = "PP", .abs = true, .abs_addr = 0xffffffffffff0000UL,
	.len_pages = 1, .expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_null_page) {
	.layout = "PP", .abs = true, .abs_addr = 0,
	.len_pages = 1, .expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_hole_in_middle) {
	.layout = "P.P", .len_pages = 3,
	.expect_errno = EINVAL, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_hole_at_start) {
	.layout = ".PP", .len_pages = 3,
	.expect_errno = EINVAL, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_runs_past_mapping_end) {
	.layout = "PP", .addr_pages = 1, .len_pages = 2,
	.expect_errno = EINVAL, .unshared = "--",
};
FIXTURE_VARIANT_ADD(unshare_args, einval_partial_page_into_hole) {
	.layout = "PP", .addr_pages = 1, .len_pages = 1, .len_bytes = 1,
	.expect_errno = EINVAL, .unshared = "--",
};

/* ---- EACCES ---- */
FIXTURE_VARIANT_ADD(unshare_args, eacces_shared_anon) {
	.layout = "PSP", .len_pages = 3,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_shared_anon_alone) {
	.layout = "PSP", .addr_pages = 1, .len_pages = 1,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_shared_anon_first) {
	.layout = "SPP", .len_pages = 3,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_partial_page_into_shared) {
	.layout = "PSP", .len_pages = 1, .len_bytes = 1,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_shared_file) {
	.layout = "PFP", .len_pages = 3,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_shared_file_alone) {
	.layout = "PFP", .addr_pages = 1, .len_pages = 1,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_memfd_shared) {
	.layout = "PMP", .len_pages = 3,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_memfd_shared_alone) {
	.layout = "PMP", .addr_pages = 1, .len_pages = 1,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_sysv_shm) {
	.layout = "PVP", .len_pages = 3,
	.expect_errno = EACCES, .unshared = "---",
};
FIXTURE_VARIANT_ADD(unshare_args, eacces_sysv_shm_alone) {
	.layout = "PVP", .addr_pages = 1, .len_pages = 1,
	.expect_errno = EACCES, .unshared = "---",
};

/* ---- valid ---- */
FIXTURE_VARIANT_ADD(unshare_args, ok_one_page) {
	.layout = "PPPP", .len_pages = 1, .unshared = "u---",
};
FIXTURE_VARIANT_ADD(unshare_args, ok_partial_len_rounds_up) {
	.layout = "PPPP", .len_pages = 1, .len_bytes = 1, .unshared = "uu--",
};
FIXTURE_VARIANT_ADD(unshare_args, ok_one_byte) {
	.layout = "PPPP", .addr_pages = 1, .len_bytes = 1, .unshared = "-u--",
};
FIXTURE_VARIANT_ADD(unshare_args, ok_page_minus_one_byte) {
	.layout = "PPPP", .addr_pages = 2, .len_pages = 1, .len_bytes = -1,
	.unshared = "--u-",
};
FIXTURE_VARIANT_ADD(unshare_args, ok_ends_mid_page) {
	.layout = "PPPP", .addr_pages = 1, .len_pages = 2, .len_bytes = -8,
	.unshared = "-uu-",
};
FIXTURE_VARIANT_ADD(unshare_args, ok_whole_mapping) {
	.layout = "PPPP", .len_pages = 4, .unshared = "uuuu",
};
FIXTURE_VARIANT_ADD(unshare_args, ok_up_to_mapping_end) {
	.layout = "PPP", .addr_pages = 1, .len_pages = 2, .unshared = "-uu",
};
FIXTURE_VARIANT_ADD(unshare_args, ok_mixed_protections) {
	.layout = "PRP", .len_pages = 3, .unshared = "uuu",
};

static const char *tmp_dirs[] = { "/tmp", "/dev/shm", "/var/tmp", "." };

static void map_page(struct __test_metadata *_metadata, char *addr, char kind,
		     size_t ps, long tag)
{
	void *p = MAP_FAILED;
	char path[PATH_MAX];
	unsigned int i;
	int fd = -1, id;

	switch (kind) {
	case '.':
		ASSERT_EQ(0, munmap(addr, ps));
		return;
	case 'P':
	case 'R':
		p = mmap(addr, ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 'S':
		p = mmap(addr, ps, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 'F':
		for (i = 0; i < ARRAY_SIZE(tmp_dirs) && fd < 0; i++) {
			snprintf(path, sizeof(path), "%s/mmview_abi_XXXXXX",
				 tmp_dirs[i]);
			fd = mkstemp(path);
		}
		ASSERT_LE(0, fd) TH_LOG("cannot create a temporary file");
		unlink(path);
		ASSERT_EQ(0, ftruncate(fd, (off_t)ps));
		p = mmap(addr, ps, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		close(fd);
		break;
	case 'M':
		fd = memfd_create("mmview_abi", MFD_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ftruncate(fd, (off_t)ps));
		p = mmap(addr, ps, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		close(fd);
		break;
	case 'V':
		id = shmget(IPC_PRIVATE, ps, IPC_CREAT | 0600);
		ASSERT_LE(0, id) TH_LOG("shmget: %s", strerror(errno));
		p = shmat(id, addr, SHM_REMAP);
		shmctl(id, IPC_RMID, NULL);	/* destroyed at the last detach */
		if (p == (void *)-1)
			p = MAP_FAILED;
		break;
	default:
		ASSERT_TRUE(0) TH_LOG("bad layout char '%c'", kind);
	}
	ASSERT_EQ(addr, p) TH_LOG("mapping page '%c': %s", kind, strerror(errno));
	if (kind == 'P' || kind == 'R')
		madvise(addr, ps, MADV_NOHUGEPAGE);
	memset(addr, 0, ps);		/* populate */
	*(long *)addr = tag;
	if (kind == 'R') {
		ASSERT_EQ(0, mprotect(addr, ps, PROT_READ));
	}
}

static long page_tag(int i)
{
	return 0x5ab0000L + i;
}

FIXTURE_SETUP(unshare_args)
{
	const char *l = variant->layout;
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	/* The worker's stack must not land in the layout's holes: start it first. */
	ASSERT_EQ(0, mvt_worker_start(&self->w));

	self->ps = mvt_page_size();
	self->npages = (int)strlen(l);
	self->base = mmap(NULL, (self->npages + 1) * self->ps, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->base);
	ASSERT_EQ(0, munmap(self->base + self->npages * self->ps, self->ps));
	for (i = 0; i < self->npages; i++)
		map_page(_metadata, self->base + i * self->ps, l[i], self->ps,
			 page_tag(i));

	if (variant->abs)
		self->addr = (char *)variant->abs_addr;
	else
		self->addr = self->base + variant->addr_pages * (long)self->ps +
			     variant->addr_bytes;
	switch (variant->len_kind) {
	case LEN_REL:
		self->len = (size_t)(variant->len_pages * (long)self->ps +
				     variant->len_bytes);
		break;
	case LEN_MAX:
		self->len = SIZE_MAX;
		break;
	case LEN_WRAP:	/* addr + len == one page: wraps around */
		self->len = (size_t)0 - (uintptr_t)self->addr + self->ps;
		break;
	case LEN_HUGE:
		self->len = 1UL << 62;
		break;
	}
}

FIXTURE_TEARDOWN(unshare_args)
{
	mvt_worker_stop(&self->w);
}

TEST_F_TIMEOUT(unshare_args, library_and_syscall, 300)
{
	const struct mvt_chan *w = &self->w.ch;
	long ret, view;
	int err, i;

	/* Library path. */
	errno = 0;
	ret = mmview_unshare(self->addr, self->len);
	err = errno;
	if (variant->expect_errno) {
		ASSERT_EQ(-1, ret) TH_LOG("mmview_unshare(%p, %#zx) succeeded",
					  self->addr, self->len);
		ASSERT_EQ(variant->expect_errno, err)
			TH_LOG("errno %d (%s)", err, strerror(err));
	} else {
		ASSERT_EQ(0, ret) TH_LOG("mmview_unshare(%p, %#zx): errno %d (%s)",
					 self->addr, self->len, err, strerror(err));
	}

	/* Syscall-by-number path: same result (a second valid call is fine). */
	errno = 0;
	ret = syscall(NR_UNSHARE, self->addr, self->len);
	err = errno;
	if (variant->expect_errno) {
		ASSERT_EQ(-1, ret);
		ASSERT_EQ(variant->expect_errno, err)
			TH_LOG("errno %d (%s)", err, strerror(err));
	} else {
		ASSERT_EQ(0, ret) TH_LOG("second call: errno %d (%s)", err,
					 strerror(err));
	}

	/* Behaviour: exactly the expected pages diverge between views. */
	view = mmview_create();
	ASSERT_LE(1, view) TH_LOG("mmview_create: %s", strerror(errno));
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, view));

	if (!variant->expect_errno) {
		/* With a view in existence, the same valid call is EPERM. */
		errno = 0;
		ASSERT_EQ(-1, mmview_unshare(self->addr, self->len));
		ASSERT_EQ(EPERM, errno);
	}

	for (i = 0; i < self->npages; i++) {
		char k = variant->layout[i];
		volatile long *p = (volatile long *)(self->base + i * self->ps);
		bool unshared = variant->unshared[i] == 'u';

		if (k == '.')
			continue;
		if (k == 'R') {
			struct mvt_res r = WRPC(w, MVT_LOAD, (long)p);

			ASSERT_EQ(page_tag(i), *p);
			ASSERT_EQ(page_tag(i), r.ret);
			continue;
		}
		probe_word(_metadata, w, p, unshared, 0x7000 + i);
	}

	ASSERT_EQ(view, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(view));
}

/* ------------------------------------------------------------------------
 * create / migrate / delete errno rows, EPERM rules
 */
FIXTURE(views) {
	struct mvt_worker w, w2;
	size_t ps;
	char *region;		/* 4 pages, populated */
};

FIXTURE_SETUP(views)
{
	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->region = mvt_map_populated(4 * self->ps);
	ASSERT_NE(NULL, self->region);
	ASSERT_EQ(0, mvt_worker_start(&self->w));
	ASSERT_EQ(0, mvt_worker_start(&self->w2));
}

FIXTURE_TEARDOWN(views)
{
	mvt_worker_stop(&self->w);
	mvt_worker_stop(&self->w2);
}

TEST_F_TIMEOUT(views, create_returns_unique_ids, 300)
{
	long ids[8];
	int i, j;

	for (i = 0; i < 8; i++) {
		errno = 0;
		ids[i] = (i & 1) ? syscall(NR_CREATE) : mmview_create();
		ASSERT_LE(1, ids[i]) TH_LOG("create #%d: errno %d (%s)", i,
					    errno, strerror(errno));
		for (j = 0; j < i; j++) {
			ASSERT_NE(ids[j], ids[i]) TH_LOG("id %ld handed out twice", ids[i]);
		}
	}
	/* The caller stays where it is. */
	ASSERT_EQ(0, mmview_migrate(-1));
	ASSERT_EQ(0, mvt_view_of(mvt_gettid()));
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, (i & 1) ? syscall(NR_DELETE, ids[i]) : mmview_delete(ids[i]));
	}
}

TEST_F_TIMEOUT(views, migrate_return_values_and_einval, 300)
{
	const struct mvt_chan *w = &self->w.ch;
	/* The kernel reads an int: these are negative in their low 32 bits. */
	const long negatives[] = { -1, -2, -1000, INT_MIN, 0xffffffffL,
				   0x7fffffff80000000L, LONG_MAX };
	long a, b, dead, bogus;
	unsigned int i;

	a = mmview_create();
	ASSERT_LE(1, a);
	b = syscall(NR_CREATE);
	ASSERT_LE(1, b);
	dead = mmview_create();
	ASSERT_LE(1, dead);
	ASSERT_EQ(0, mmview_delete(dead));
	bogus = (a > b ? a : b) + (dead > a ? dead : a) + 1000;

	/* Negative ids: return the current id, change nothing. */
	for (i = 0; i < ARRAY_SIZE(negatives); i++) {
		ASSERT_EQ(0, mmview_migrate(negatives[i]));
		ASSERT_EQ(0, syscall(NR_MIGRATE, negatives[i]));
	}
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, a));		/* previous: base */
	for (i = 0; i < ARRAY_SIZE(negatives); i++) {
		ASSERT_EQ(a, WOK(w, MVT_MIGRATE, negatives[i]));
		ASSERT_EQ(a, WOK(w, MVT_SYSCALL, NR_MIGRATE, negatives[i]));
	}
	ASSERT_EQ(a, WOK(w, MVT_VIEW));
	/* Migrating to the current view: no-op returning its id. */
	ASSERT_EQ(a, WOK(w, MVT_MIGRATE, a));
	ASSERT_EQ(a, WOK(w, MVT_VIEW));
	/* View to view. */
	ASSERT_EQ(a, WOK(w, MVT_SYSCALL, NR_MIGRATE, b));
	ASSERT_EQ(b, WOK(w, MVT_VIEW));

	/* Unknown and deleted ids: EINVAL, nothing changes. */
	WERR(w, EINVAL, MVT_MIGRATE, bogus);
	WERR(w, EINVAL, MVT_MIGRATE, INT_MAX);
	WERR(w, EINVAL, MVT_MIGRATE, (1L << 40) + bogus);
	/* Upper 32 bits ignored: 2^40 + b is b, 2^40 is the base. */
	ASSERT_EQ(b, WOK(w, MVT_SYSCALL, NR_MIGRATE, (1L << 40) + b));
	ASSERT_EQ(b, WOK(w, MVT_VIEW));
	WERR(w, EINVAL, MVT_MIGRATE, dead);
	WERR(w, EINVAL, MVT_SYSCALL, NR_MIGRATE, dead);
	WERR(w, EINVAL, MVT_SYSCALL, NR_MIGRATE, bogus);
	ASSERT_EQ(b, WOK(w, MVT_MIGRATE, -1));
	ASSERT_EQ(b, WOK(w, MVT_VIEW));

	errno = 0;
	ASSERT_EQ(-1, mmview_migrate(dead));
	ASSERT_EQ(EINVAL, errno);
	errno = 0;
	ASSERT_EQ(-1, mmview_migrate(bogus));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, mmview_migrate(-1));

	/* Back to base returns where it came from. */
	ASSERT_EQ(b, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, WOK(w, MVT_VIEW));
	ASSERT_EQ(0, mmview_delete(a));
	ASSERT_EQ(0, mmview_delete(b));
}

TEST_F_TIMEOUT(views, delete_einval, 300)
{
	long a, bogus;

	a = mmview_create();
	ASSERT_LE(1, a);
	bogus = a + 1000;

	errno = 0;
	ASSERT_EQ(-1, mmview_delete(0));
	ASSERT_EQ(EINVAL, errno);
	errno = 0;
	ASSERT_EQ(-1, syscall(NR_DELETE, 0L));
	ASSERT_EQ(EINVAL, errno);
	errno = 0;
	ASSERT_EQ(-1, mmview_delete(-1));
	ASSERT_EQ(EINVAL, errno);
	errno = 0;
	ASSERT_EQ(-1, mmview_delete(INT_MIN));
	ASSERT_EQ(EINVAL, errno);
	/* An int -1 through syscall(2): upper bits clear, still -1. */
	errno = 0;
	ASSERT_EQ(-1, syscall(NR_DELETE, 0xffffffffL));
	ASSERT_EQ(EINVAL, errno);
	/* LONG_MIN is 0 in its low 32 bits: the base, which cannot go. */
	errno = 0;
	ASSERT_EQ(-1, mmview_delete(LONG_MIN));
	ASSERT_EQ(EINVAL, errno);
	errno = 0;
	ASSERT_EQ(-1, mmview_delete(bogus));
	ASSERT_EQ(EINVAL, errno);
	errno = 0;
	ASSERT_EQ(-1, syscall(NR_DELETE, (long)INT_MAX));
	ASSERT_EQ(EINVAL, errno);

	ASSERT_EQ(0, syscall(NR_DELETE, a));
	errno = 0;
	ASSERT_EQ(-1, mmview_delete(a)) TH_LOG("deleted twice");
	ASSERT_EQ(EINVAL, errno);
	errno = 0;
	ASSERT_EQ(-1, syscall(NR_DELETE, a));
	ASSERT_EQ(EINVAL, errno);
	errno = 0;
	ASSERT_EQ(-1, mmview_migrate(a)) TH_LOG("migrated into a deleted view");
	ASSERT_EQ(EINVAL, errno);
}

TEST_F_TIMEOUT(views, unshare_eperm_while_views_exist, 300)
{
	const struct mvt_chan *w = &self->w.ch;
	size_t ps = self->ps;
	char *r = self->region;
	long a, b;

	a = mmview_create();
	ASSERT_LE(1, a);

	errno = 0;
	ASSERT_EQ(-1, mmview_unshare(r, ps));
	ASSERT_EQ(EPERM, errno);
	errno = 0;
	ASSERT_EQ(-1, syscall(NR_UNSHARE, r, ps));
	ASSERT_EQ(EPERM, errno);
	/* A worker (another thread, also in base) gets the same answer. */
	WERR(w, EPERM, MVT_UNSHARE, (long)r, (long)ps);
	/* ...and so does a thread in the view. */
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, a));
	WERR(w, EPERM, MVT_UNSHARE, (long)r, (long)ps);
	/* Nothing changed: the page is still shared. */
	probe_word(_metadata, w, (volatile long *)r, false, 0x1111);
	ASSERT_EQ(a, WOK(w, MVT_MIGRATE, 0));

	/* Once the only extra view is deleted (and unused), allowed again. */
	ASSERT_EQ(0, mmview_delete(a));
	ASSERT_EQ(0, mmview_unshare(r, ps))
		TH_LOG("unshare after all views are gone: %s", strerror(errno));

	/* ...and it took effect. */
	b = mmview_create();
	ASSERT_LE(1, b);
	ASSERT_NE(a, b);
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, b));
	probe_word(_metadata, w, (volatile long *)r, true, 0x2222);
	probe_word(_metadata, w, (volatile long *)(r + ps), false, 0x3333);
	ASSERT_EQ(b, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(b));
}

TEST_F_TIMEOUT(views, unshare_eperm_deleted_view_in_use, 300)
{
	const struct mvt_chan *w = &self->w.ch;
	size_t ps = self->ps;
	char *r = self->region;
	long a;

	a = mmview_create();
	ASSERT_LE(1, a);
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, a));
	ASSERT_EQ(0, mmview_delete(a));

	/* Deleted, but a thread still uses it: still counts. */
	errno = 0;
	ASSERT_EQ(-1, mmview_unshare(r, ps));
	ASSERT_EQ(EPERM, errno);
	WERR(w, EPERM, MVT_UNSHARE, (long)r, (long)ps);

	/* The last thread leaves: the view is gone, unshare allowed again. */
	ASSERT_EQ(a, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_unshare(r, ps))
		TH_LOG("unshare after the last thread left the deleted view: %s",
		       strerror(errno));
}

/*
 * Tasks sharing the address space without being threads of the process:
 * every call is EPERM.
 */
#define EPERM_CALLS 10
static const char *const eperm_names[EPERM_CALLS] = {
	"mmview_unshare", "syscall(1002)", "mmview_create", "syscall(1000)",
	"mmview_migrate(-1)", "mmview_migrate(0)", "syscall(1001, -1)",
	"mmview_migrate(view)", "mmview_delete(view)", "syscall(1003, view)",
};

struct eperm_report {
	long ret[EPERM_CALLS];
	int err[EPERM_CALLS];
};

struct eperm_args {
	int fd;
	void *region;
	size_t ps;
	long view;
};

static void __attribute__((noinline)) eperm_calls(const struct eperm_args *a)
{
	struct eperm_report rep;
	int i = 0;

#define REC(call) do { errno = 0; rep.ret[i] = (call); rep.err[i] = errno; i++; } while (0)
	REC(mmview_unshare(a->region, a->ps));
	REC(syscall(NR_UNSHARE, a->region, a->ps));
	REC(mmview_create());
	REC(syscall(NR_CREATE));
	REC(mmview_migrate(-1));
	REC(mmview_migrate(0));
	REC(syscall(NR_MIGRATE, -1L));
	REC(mmview_migrate(a->view));
	REC(mmview_delete(a->view));
	REC(syscall(NR_DELETE, a->view));
#undef REC
	if (write(a->fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(2);
}

static int clone_vm_child(void *arg)
{
	eperm_calls(arg);
	return 0;
}

enum eperm_how { BY_VFORK, BY_CLONE_VM };

/* Kept out of line: no setjmp()/vfork() mix in one frame. */
static pid_t __attribute__((noinline)) spawn_vfork_child(struct eperm_args *args)
{
	pid_t pid = vfork();

	if (pid == 0) {
		eperm_calls(args);
		_exit(0);
	}
	return pid;
}

static void run_eperm_child(struct __test_metadata *_metadata, enum eperm_how how,
			    void *region, size_t ps, long view)
{
	struct eperm_args args = { .region = region, .ps = ps, .view = view };
	struct eperm_report rep;
	int fds[2], status, i;
	void *stack = NULL;
	pid_t pid;

	ASSERT_EQ(0, pipe(fds));
	args.fd = fds[1];
	if (how == BY_VFORK) {
		pid = spawn_vfork_child(&args);
	} else {
		stack = mvt_map_populated(256 * 1024);
		ASSERT_NE(NULL, stack);
		pid = clone(clone_vm_child, (char *)stack + 256 * 1024 - 64,
			    CLONE_VM | SIGCHLD, &args);
	}
	ASSERT_LT(0, pid) TH_LOG("spawning the child: %s", strerror(errno));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ((ssize_t)sizeof(rep), read(fds[0], &rep, sizeof(rep)));
	close(fds[0]);
	close(fds[1]);
	if (stack)
		munmap(stack, 256 * 1024);
	for (i = 0; i < EPERM_CALLS; i++) {
		EXPECT_EQ(-1, rep.ret[i])
			TH_LOG("%s child: %s returned %ld", how == BY_VFORK ?
			       "vfork" : "clone(CLONE_VM)", eperm_names[i], rep.ret[i]);
		EXPECT_EQ(EPERM, rep.err[i])
			TH_LOG("%s child: %s errno %d (%s)", how == BY_VFORK ?
			       "vfork" : "clone(CLONE_VM)", eperm_names[i],
			       rep.err[i], strerror(rep.err[i]));
	}
}

static void check_eperm_for_mm_sharers(struct __test_metadata *_metadata,
				       FIXTURE_DATA(views) *self,
				       enum eperm_how how)
{
	const struct mvt_chan *w = &self->w.ch, *w2 = &self->w2.ch;
	char *r = self->region;
	size_t ps = self->ps;
	long v, a;

	/* No views yet: the child's calls must all fail... */
	run_eperm_child(_metadata, how, r, ps, 1);
	/* ...and leave no trace: no view was created (unshare is still
	 * allowed) and the child's unshare did not apply. */
	ASSERT_EQ(0, mmview_unshare(r + ps, ps))
		TH_LOG("parent cannot unshare after the child ran: %s",
		       strerror(errno));
	v = mmview_create();
	ASSERT_LE(1, v);
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, v));
	probe_word(_metadata, w, (volatile long *)r, false, 0x4141);
	probe_word(_metadata, w, (volatile long *)(r + ps), true, 0x4242);

	/* With a live view (and a thread in it): the child can neither delete
	 * it nor migrate into it. */
	run_eperm_child(_metadata, how, r, ps, v);
	ASSERT_EQ(0, WOK(w2, MVT_MIGRATE, v)) TH_LOG("view vanished");
	ASSERT_EQ(v, WOK(w2, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_migrate(-1));
	ASSERT_EQ(v, WOK(w, MVT_MIGRATE, 0));
	ASSERT_EQ(0, mmview_delete(v));
	/* The child created no view either time: unshare works again. */
	a = mmview_unshare(r + 2 * ps, ps);
	ASSERT_EQ(0, a) TH_LOG("extra view left behind: %s", strerror(errno));
}

TEST_F_TIMEOUT(views, eperm_vfork_child, 300)
{
	check_eperm_for_mm_sharers(_metadata, self, BY_VFORK);
}

TEST_F_TIMEOUT(views, eperm_clone_vm_child, 300)
{
	check_eperm_for_mm_sharers(_metadata, self, BY_CLONE_VM);
}

/* ------------------------------------------------------------------------
 * Per-process view limit.  The sysctl is part of the ABI: missing = fail.
 */
FIXTURE(limit) {
	char orig[32];
	struct mvt_worker w;
};

FIXTURE_SETUP(limit)
{
	ssize_t n;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	n = mvt_read_file(MAX_VIEWS_SYSCTL, self->orig, sizeof(self->orig));
	ASSERT_LT(0, n) TH_LOG(MAX_VIEWS_SYSCTL " is missing: %s", strerror(errno));
	ASSERT_LT(0, atol(self->orig)) TH_LOG("limit is '%s'", self->orig);
	ASSERT_EQ(0, mvt_worker_start(&self->w));
}

FIXTURE_TEARDOWN_PARENT(limit)
{
	/* Runs in the parent even if the test died: always restore. */
	if (self->orig[0])
		mvt_write_file(MAX_VIEWS_SYSCTL, self->orig);
}

TEST_F_TIMEOUT(limit, max_views_enomem, 300)
{
	const struct mvt_chan *w = &self->w.ch;
	long ids[4], extra;
	char buf[32];
	int i;

	ASSERT_EQ(0, mvt_write_file(MAX_VIEWS_SYSCTL, "3"));
	ASSERT_LT(0, mvt_read_file(MAX_VIEWS_SYSCTL, buf, sizeof(buf)));
	ASSERT_EQ(3, atol(buf));

	for (i = 0; i < 3; i++) {
		ids[i] = mmview_create();
		ASSERT_LE(1, ids[i]) TH_LOG("create #%d below the limit: %s", i,
					    strerror(errno));
	}
	errno = 0;
	ASSERT_EQ(-1, mmview_create()) TH_LOG("4th view allowed with limit 3");
	ASSERT_EQ(ENOMEM, errno);
	errno = 0;
	ASSERT_EQ(-1, syscall(NR_CREATE));
	ASSERT_EQ(ENOMEM, errno);
	/* Also for a thread in a view (create copies its view). */
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, ids[0]));
	WERR(w, ENOMEM, MVT_CREATE);
	ASSERT_EQ(ids[0], WOK(w, MVT_MIGRATE, 0));

	/* An unused deleted view is gone: room for one more. */
	ASSERT_EQ(0, mmview_delete(ids[2]));
	ids[2] = mmview_create();
	ASSERT_LE(1, ids[2]) TH_LOG("create after delete: %s", strerror(errno));

	/* A deleted view still in use still counts. */
	ASSERT_EQ(0, WOK(w, MVT_MIGRATE, ids[1]));
	ASSERT_EQ(0, mmview_delete(ids[1]));
	errno = 0;
	ASSERT_EQ(-1, mmview_create()) TH_LOG("deleted-but-used view not counted");
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(ids[1], WOK(w, MVT_MIGRATE, 0));
	ids[1] = mmview_create();
	ASSERT_LE(1, ids[1]) TH_LOG("create after the last user left: %s",
				    strerror(errno));

	/* Raising the limit takes effect for the running process. */
	ASSERT_EQ(0, mvt_write_file(MAX_VIEWS_SYSCTL, "4"));
	extra = mmview_create();
	ASSERT_LE(1, extra) TH_LOG("create after raising the limit: %s",
				   strerror(errno));
	errno = 0;
	ASSERT_EQ(-1, mmview_create());
	ASSERT_EQ(ENOMEM, errno);

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mmview_delete(ids[i]));
	}
	ASSERT_EQ(0, mmview_delete(extra));
	ASSERT_EQ(0, mvt_write_file(MAX_VIEWS_SYSCTL, self->orig));
}

TEST_HARNESS_MAIN
