// SPDX-License-Identifier: GPL-2.0
/*
 * Process-wide state is the same in every view, and moving a thread to
 * another view does not shed it: the dumpable mode, the coredump filter,
 * MDWE, PR_SET_THP_DISABLE, KSM's PR_SET_MEMORY_MERGE, seccomp filters and
 * no_new_privs (TSYNC from a view), protection keys (pkey_alloc/pkey_free
 * and pkey_mprotect on shared and unshared ranges), the x86 LDT, the
 * overcommit charge (Committed_AS counts the process's memory once), and what
 * prctl(PR_SET_MM) describes (argument bounds, auxv, exe_file).
 *
 * Worker i runs in view i (worker 0 and the main thread in the base). Each
 * change is made from one view and observed from the others.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <linux/auxvec.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef __x86_64__
#include <asm/ldt.h>
#endif

#include "mvt_harness.h"
#include "mmview_test_util.h"

#ifndef PR_SET_MDWE
#define PR_SET_MDWE			65
#define PR_GET_MDWE			66
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN	(1UL << 0)
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE		67
#define PR_GET_MEMORY_MERGE		68
#endif

#define NW		3	/* worker i runs in view i; worker 0 in base */
#define SMAPS_SIZE	(256 * 1024)

FIXTURE(procstate) {
	struct mvt_worker w[NW];
	long view[NW];
	pid_t tid[NW];
	size_t ps;
	char *smaps;
	char *sh;		/* 2 shared pages, then 2 unshared pages */
};

FIXTURE_SETUP(procstate)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	self->smaps = malloc(SMAPS_SIZE);
	ASSERT_NE(NULL, self->smaps);
	self->sh = mvt_map_populated(4 * self->ps);
	ASSERT_NE(NULL, self->sh);
	ASSERT_EQ(0, mmview_unshare(self->sh + 2 * self->ps, 2 * self->ps));
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
		self->tid[i] = self->w[i].tid;
	}
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(procstate)
{
	mvt_workers_stop_views(self->w, self->view, NW);
	free(self->smaps);
}

#define WCH(i) (&self->w[i].ch)

/* MVT_CALL: a private anonymous read-write mapping of @len bytes. */
static long w_mmap_private(long len, long unused1, long unused2, long *out)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)unused1;
	(void)unused2;
	(void)out;
	return p == MAP_FAILED ? -1 : (long)p;
}

/* MVT_CALL: prctl(option, arg2, 0, 0, 0) in the worker. */
static long w_prctl(long option, long arg2, long unused, long *out)
{
	(void)unused;
	(void)out;
	return prctl(option, arg2, 0L, 0L, 0L);
}

/* prctl(option, arg2) in worker i (its view); the result. */
static long wprctl(struct __test_metadata *_metadata,
		   FIXTURE_DATA(procstate) *self, int i, long option,
		   long arg2)
{
	struct mvt_res r = WRPC(WCH(i), MVT_CALL, (long)w_prctl, option, arg2);

	if (r.ret < 0)
		TH_LOG("prctl(%ld) in view %ld: %s", option, self->view[i],
		       strerror(r.err));
	return r.ret;
}

/* Every worker (so every view) and the main thread see @get == @want. */
static void expect_prctl(struct __test_metadata *_metadata,
			 FIXTURE_DATA(procstate) *self, long get, long want)
{
	int i;

	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		ASSERT_EQ(want, wprctl(_metadata, self, i, get, 0))
			TH_LOG("prctl(%ld) in view %ld", get, view);
	}
	ASSERT_EQ(want, prctl(get, 0L, 0L, 0L, 0L));
}

/* Does the VmFlags line of the VMA at @p in thread @tid's view have @flag? */
static int vmflag(FIXTURE_DATA(procstate) *self, pid_t tid, void *p,
		  const char *flag)
{
	return mvt_smaps_flag(tid, p, flag, self->smaps, SMAPS_SIZE);
}

TEST_F_TIMEOUT(procstate, dumpable_is_process_wide, 300)
{
	ASSERT_EQ(0, wprctl(_metadata, self, 1, PR_SET_DUMPABLE, 0));
	expect_prctl(_metadata, self, PR_GET_DUMPABLE, 0);
	ASSERT_EQ(0, wprctl(_metadata, self, 2, PR_SET_DUMPABLE, 1));
	expect_prctl(_metadata, self, PR_GET_DUMPABLE, 1);
	/* Set from the base: seen in the views. */
	ASSERT_EQ(0, prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L));
	expect_prctl(_metadata, self, PR_GET_DUMPABLE, 0);
	ASSERT_EQ(0, prctl(PR_SET_DUMPABLE, 1L, 0L, 0L, 0L));
}

/* /proc/PID/coredump_filter acts on the leader's view; every view reads it. */
TEST_F_TIMEOUT(procstate, coredump_filter_is_process_wide, 300)
{
	char buf[32];
	int i;

	ASSERT_LE(0, mmview_migrate(self->view[1]));
	ASSERT_EQ(0, mvt_write_file("/proc/self/coredump_filter", "0x2d"));
	for (i = 0; i < NW; i++) {
		ASSERT_LE(0, mmview_migrate(self->view[i]));
		memset(buf, 0, sizeof(buf));
		ASSERT_LT(0, mvt_read_file("/proc/self/coredump_filter", buf,
					   sizeof(buf) - 1));
		ASSERT_EQ(0x2d, strtol(buf, NULL, 16))
			TH_LOG("view %ld: coredump_filter %s", self->view[i],
			       buf);
	}
	ASSERT_LE(0, mmview_migrate(0));
}

/* MDWE set from view 1 after the views exist binds all of them. */
TEST_F_TIMEOUT(procstate, mdwe_set_in_a_view_binds_all, 300)
{
	struct mvt_res r;
	void *p;

	r = WRPC(WCH(1), MVT_CALL, (long)w_prctl, PR_SET_MDWE,
		 PR_MDWE_REFUSE_EXEC_GAIN);
	if (r.ret < 0 && r.err == EINVAL)
		SKIP(return, "MDWE not supported here");
	ASSERT_EQ(0, r.ret);
	expect_prctl(_metadata, self, PR_GET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN);

	/* Through a worker in view 2: W|X mapping refused. */
	r = WRPC(WCH(2), MVT_SYSCALL, SYS_mprotect, (long)self->sh,
		 (long)self->ps, PROT_READ | PROT_WRITE | PROT_EXEC);
	ASSERT_EQ(-1, r.ret) TH_LOG("view 2 made a page W|X");
	ASSERT_EQ(EACCES, r.err);
	/* In the base, and after moving to view 2. */
	p = mmap(NULL, self->ps, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EACCES, errno);
	ASSERT_LE(0, mmview_migrate(self->view[2]));
	ASSERT_EQ(-1, mprotect(self->sh + 2 * self->ps, self->ps,
			       PROT_READ | PROT_WRITE | PROT_EXEC));
	ASSERT_EQ(EACCES, errno);
	ASSERT_LE(0, mmview_migrate(0));
}

TEST_F_TIMEOUT(procstate, thp_disable_is_process_wide, 300)
{
	ASSERT_EQ(0, wprctl(_metadata, self, 1, PR_SET_THP_DISABLE, 1));
	expect_prctl(_metadata, self, PR_GET_THP_DISABLE, 1);
	ASSERT_EQ(0, prctl(PR_SET_THP_DISABLE, 0L, 0L, 0L, 0L));
	expect_prctl(_metadata, self, PR_GET_THP_DISABLE, 0);
}

/* PR_SET_MEMORY_MERGE from a view: every view, and every VMA, merges. */
TEST_F_TIMEOUT(procstate, memory_merge_is_process_wide, 300)
{
	struct mvt_res r;
	int i;

	r = WRPC(WCH(2), MVT_CALL, (long)w_prctl, PR_SET_MEMORY_MERGE, 1);
	if (r.ret < 0 && r.err == EINVAL)
		SKIP(return, "KSM not configured");
	ASSERT_EQ(0, r.ret) TH_LOG("PR_SET_MEMORY_MERGE: %s",
				   strerror(r.err));
	expect_prctl(_metadata, self, PR_GET_MEMORY_MERGE, 1);
	for (i = 0; i < NW; i++) {
		pid_t tid = self->tid[i];

		ASSERT_EQ(1, vmflag(self, tid, self->sh, "mg"))
			TH_LOG("view %ld: shared range not mergeable",
			       self->view[i]);
		ASSERT_EQ(1, vmflag(self, tid, self->sh + 2 * self->ps, "mg"))
			TH_LOG("view %ld: unshared range not mergeable",
			       self->view[i]);
	}
	ASSERT_EQ(0, wprctl(_metadata, self, 1, PR_SET_MEMORY_MERGE, 0));
	expect_prctl(_metadata, self, PR_GET_MEMORY_MERGE, 0);
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, vmflag(self, self->tid[i], self->sh, "mg"));
}

/* Installs a filter failing sysinfo() with EPERM, for every thread. */
static long w_seccomp_tsync(long unused1, long unused2, long unused3,
			    long *out)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sysinfo, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(insns) / sizeof(insns[0]),
		.filter = insns,
	};

	(void)unused1;
	(void)unused2;
	(void)unused3;
	(void)out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L))
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		       SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

static long w_sysinfo(long unused1, long unused2, long unused3, long *out)
{
	char info[256];

	(void)unused1;
	(void)unused2;
	(void)unused3;
	(void)out;
	return syscall(SYS_sysinfo, info);
}

/* A seccomp filter synchronised from view 1 binds threads of every view. */
TEST_F_TIMEOUT(procstate, seccomp_tsync_from_a_view, 300)
{
	struct mvt_res r;
	int i;

	ASSERT_EQ(0, WRPC(WCH(1), MVT_CALL, (long)w_sysinfo).ret);
	ASSERT_EQ(0, WOK(WCH(1), MVT_CALL, (long)w_seccomp_tsync));
	expect_prctl(_metadata, self, PR_GET_NO_NEW_PRIVS, 1);
	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		r = WRPC(WCH(i), MVT_CALL, (long)w_sysinfo);
		ASSERT_EQ(-1, r.ret) TH_LOG("view %ld: sysinfo allowed", view);
		ASSERT_EQ(EPERM, r.err);
	}
	/* Moving does not shed the filter: it belongs to the thread. */
	ASSERT_EQ(self->view[2], WOK(WCH(2), MVT_MIGRATE, self->view[1]));
	r = WRPC(WCH(2), MVT_CALL, (long)w_sysinfo);
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(EPERM, r.err);
	ASSERT_EQ(self->view[1], WOK(WCH(2), MVT_MIGRATE, self->view[2]));
	ASSERT_LE(0, mmview_migrate(self->view[2]));
	ASSERT_EQ(-1, syscall(SYS_sysinfo, self->smaps));
	ASSERT_EQ(EPERM, errno);
	ASSERT_LE(0, mmview_migrate(0));
}

/*
 * Overcommit counts the process's memory once: a private writable mapping
 * made from a view, mirrored into every view, and a view created while it
 * exists add its size to Committed_AS once; unmapping from another view
 * gives it all back.
 */
TEST_F_TIMEOUT(procstate, overcommit_counts_once, 300)
{
	const long len = 64L << 20, slack_kb = 4096;
	long before, mapped, created, after, view;
	struct mvt_res r;

	before = mvt_meminfo_kb("Committed_AS");
	ASSERT_LT(0, before);
	r = WRPC(WCH(1), MVT_CALL, (long)w_mmap_private, len);
	ASSERT_NE(-1, r.ret) TH_LOG("mmap: %s", strerror(r.err));
	mapped = mvt_meminfo_kb("Committed_AS");
	ASSERT_LE(before + len / 1024 - slack_kb, mapped);
	ASSERT_GE(before + len / 1024 + slack_kb, mapped)
		TH_LOG("Committed_AS %ld -> %ld kB for %ld kB in 3 views",
		       before, mapped, len / 1024);

	view = mmview_create();
	ASSERT_LE(1, view);
	created = mvt_meminfo_kb("Committed_AS");
	ASSERT_GE(mapped + slack_kb, created)
		TH_LOG("a new view added %ld kB", created - mapped);

	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_munmap, r.ret, len));
	ASSERT_EQ(0, mmview_delete(view));
	after = mvt_meminfo_kb("Committed_AS");
	ASSERT_GE(before + slack_kb, after)
		TH_LOG("Committed_AS %ld -> %ld kB after munmap", before, after);
	ASSERT_LE(before - slack_kb, after)
		TH_LOG("Committed_AS %ld -> %ld kB: uncharged twice", before,
		       after);
}

#if defined(SYS_pkey_alloc)
/* pkey_alloc() in worker i, or SKIP where the CPU has no protection keys. */
#define PKEY_ALLOC_OR_SKIP(i) ({					\
	struct mvt_res __r = WRPC(WCH(i), MVT_SYSCALL, SYS_pkey_alloc, 0, 0); \
	if (__r.ret < 0 && (__r.err == ENOSPC || __r.err == EINVAL ||	\
			    __r.err == ENOSYS))				\
		SKIP(return, "no protection keys: %s", strerror(__r.err)); \
	ASSERT_LE(1, __r.ret);						\
	__r.ret;							\
})

/* pkey_mprotect(addr, len, PROT_READ | PROT_WRITE, key) in the worker. */
static long w_pkey_mprotect(long addr, long len, long key, long *out)
{
	(void)out;
	return syscall(SYS_pkey_mprotect, addr, len, PROT_READ | PROT_WRITE,
		       key);
}

/* The pkey of the VMA at @p in every view, against @want[view]. */
static void expect_pkeys(struct __test_metadata *_metadata,
			 FIXTURE_DATA(procstate) *self, void *p,
			 const long want[NW])
{
	int i;

	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		ASSERT_EQ(want[i], mvt_smaps_value(self->tid[i], p,
						   "ProtectionKey:", self->smaps,
						   SMAPS_SIZE))
			TH_LOG("view %ld: pkey of %p", view, p);
	}
}

/* The allocated keys are process state; pkey_mprotect follows the rules. */
TEST_F_TIMEOUT(procstate, pkeys_are_process_wide, 300)
{
	char *sh = self->sh, *un = self->sh + 2 * self->ps;
	long k1, k2, both[NW], one[NW];
	struct mvt_res r;
	int i;

	k1 = PKEY_ALLOC_OR_SKIP(1);
	k2 = PKEY_ALLOC_OR_SKIP(2);
	ASSERT_NE(k1, k2) TH_LOG("views 1 and 2 got the same key %ld", k1);

	/* Allocated in view 1: usable from the base. */
	ASSERT_EQ(0, syscall(SYS_pkey_mprotect, sh, self->ps,
			     PROT_READ | PROT_WRITE, k1));
	for (i = 0; i < NW; i++)
		both[i] = k1;
	expect_pkeys(_metadata, self, sh, both);

	/* A range of a shared and an unshared page, from view 1. */
	ASSERT_EQ(0, WOK(WCH(1), MVT_CALL, (long)w_pkey_mprotect,
			 (long)(un - self->ps), (long)(2 * self->ps), k2));
	for (i = 0; i < NW; i++) {
		both[i] = k2;
		one[i] = i == 1 ? k2 : 0;
	}
	expect_pkeys(_metadata, self, un - self->ps, both);
	expect_pkeys(_metadata, self, un, one);

	/* Freed from view 2: gone everywhere. */
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_pkey_free, k1));
	r = WRPC(WCH(1), MVT_SYSCALL, SYS_pkey_free, k1);
	ASSERT_EQ(-1, r.ret) TH_LOG("key %ld still allocated in view 1", k1);
	ASSERT_EQ(EINVAL, r.err);
	ASSERT_EQ(-1, syscall(SYS_pkey_mprotect, sh, self->ps, PROT_READ, k1));
	ASSERT_EQ(EINVAL, errno);
	/* Allocated again, from the base this time: view 2 can use it. */
	ASSERT_EQ(k1, syscall(SYS_pkey_alloc, 0, 0));
	ASSERT_EQ(0, WOK(WCH(2), MVT_SYSCALL, SYS_pkey_free, k1));
	ASSERT_EQ(0, WOK(WCH(1), MVT_SYSCALL, SYS_pkey_free, k2));
}
#endif

#ifdef __x86_64__
#define LDT_ADDR	0x20000000UL
#define LDT_SEL(e)	(((e) << 3) | 4 | 3)	/* LDT, RPL 3 */

/* Entry @e: a 32-bit data segment based at @base, one page long. */
static long w_ldt_write(long e, long base, long unused, long *out)
{
	struct user_desc d = {
		.entry_number = e,
		.base_addr = base,
		.limit = 0,
		.seg_32bit = 1,
		.contents = 0,
		.read_exec_only = 0,
		.limit_in_pages = 1,
		.seg_not_present = 0,
		.useable = 1,
	};

	(void)unused;
	(void)out;
	return syscall(SYS_modify_ldt, 0x11, &d, sizeof(d));
}

/* The long at offset 0 of LDT segment @e, loaded into %gs. */
static long w_ldt_load(long e, long unused1, long unused2, long *out)
{
	unsigned short sel = LDT_SEL(e), zero = 0;
	long v;

	(void)unused1;
	(void)unused2;
	(void)out;
	asm volatile("mov %1, %%gs\n\t"
		     "mov %%gs:0, %0\n\t"
		     "mov %2, %%gs"
		     : "=r"(v) : "rm"(sel), "rm"(zero) : "memory");
	return v;
}

/* The first 16 bytes of the LDT (entries 0 and 1) into out[0..1]. */
static long w_ldt_read(long unused1, long unused2, long unused3, long *out)
{
	(void)unused1;
	(void)unused2;
	(void)unused3;
	memset(out, 0, 2 * sizeof(long));
	return syscall(SYS_modify_ldt, 0, out, 2 * sizeof(long));
}

/* An LDT entry written from view 1 works in every view, and vice versa. */
TEST_F_TIMEOUT(procstate, ldt_is_process_wide, 300)
{
	long *page, ref[2] = { 0, 0 }, view;
	struct mvt_res r;
	int i;

	page = mmap((void *)LDT_ADDR, 2 * self->ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ((void *)LDT_ADDR, page);
	page[0] = 0x1111;
	page[self->ps / sizeof(long)] = 0x2222;

	r = WRPC(WCH(1), MVT_CALL, (long)w_ldt_write, 0, (long)LDT_ADDR);
	if (r.ret < 0 && r.err == ENOSYS)
		SKIP(return, "modify_ldt() not configured");
	ASSERT_EQ(0, r.ret) TH_LOG("modify_ldt: %s", strerror(r.err));
	for (i = 0; i < NW; i++) {
		view = self->view[i];
		ASSERT_EQ(0x1111, WOK(WCH(i), MVT_CALL, (long)w_ldt_load, 0))
			TH_LOG("view %ld: wrong segment", view);
		r = WRPC(WCH(i), MVT_CALL, (long)w_ldt_read);
		ASSERT_EQ(16, r.ret);
		if (!i)
			memcpy(ref, r.out, sizeof(ref));
		ASSERT_EQ(0, memcmp(ref, r.out, sizeof(ref)))
			TH_LOG("view %ld: another LDT", view);
	}
	ASSERT_NE(0, ref[0]);

	/* Rebased from view 2, a second entry added from the base. */
	ASSERT_EQ(0, WOK(WCH(2), MVT_CALL, (long)w_ldt_write, 0,
			 (long)LDT_ADDR + (long)self->ps));
	ASSERT_EQ(0, w_ldt_write(1, LDT_ADDR, 0, NULL));
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0x2222, WOK(WCH(i), MVT_CALL, (long)w_ldt_load, 0));
		ASSERT_EQ(0x1111, WOK(WCH(i), MVT_CALL, (long)w_ldt_load, 1));
	}
	/* A view created now has it too. */
	view = WOK(WCH(0), MVT_CREATE);
	ASSERT_EQ(0, WOK(WCH(0), MVT_MIGRATE, view));
	ASSERT_EQ(0x1111, WOK(WCH(0), MVT_CALL, (long)w_ldt_load, 1));
	ASSERT_EQ(view, WOK(WCH(0), MVT_MIGRATE, 0));
}
#endif

/* MVT_CALL: prctl(PR_SET_MM, opt, addr, len, 0) in the worker. */
static long w_set_mm(long opt, long addr, long len, long *out)
{
	(void)out;
	return prctl(PR_SET_MM, opt, addr, len, 0L);
}

/* Copied into shared anonymous memory: /proc reads only anonymous args. */
static const char new_cmdline[] = "mmview\0set\0by\0view";

/* /proc/self/task/TID/cmdline of @tid into @buf: its length. */
static ssize_t cmdline_of(pid_t tid, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/cmdline", tid);
	return mvt_read_file(path, buf, size);
}

/*
 * PR_SET_MM from a view changes what every thread's /proc/.../cmdline and
 * auxv show, and it fails with the errno of a process without views.
 */
TEST_F_TIMEOUT(procstate, prctl_set_mm_is_process_wide, 300)
{
	unsigned long auxv[4] = { AT_PAGESZ, 12345, AT_NULL, 0 };
	unsigned long start = (unsigned long)self->sh;
	unsigned long got[4];
	pid_t tids[NW + 1];
	struct mvt_res r;
	char path[64], buf[256];
	int i, fd;

	for (i = 0; i < NW; i++)
		tids[i] = self->tid[i];
	tids[NW] = mvt_gettid();
	memcpy(self->sh, new_cmdline, sizeof(new_cmdline));

	/* Argument bounds, from view 1. */
	r = WRPC(WCH(1), MVT_CALL, (long)w_set_mm, PR_SET_MM_ARG_START, start,
		 0);
	ASSERT_EQ(0, r.ret) TH_LOG("PR_SET_MM_ARG_START: %s", strerror(r.err));
	r = WRPC(WCH(1), MVT_CALL, (long)w_set_mm, PR_SET_MM_ARG_END,
		 start + sizeof(new_cmdline), 0);
	ASSERT_EQ(0, r.ret) TH_LOG("PR_SET_MM_ARG_END: %s", strerror(r.err));
	for (i = 0; i <= NW; i++) {
		memset(buf, 0, sizeof(buf));
		ASSERT_EQ((ssize_t)sizeof(new_cmdline),
			  cmdline_of(tids[i], buf, sizeof(buf)))
			TH_LOG("thread %d (view %ld)", i,
			       i < NW ? self->view[i] : 0L);
		ASSERT_EQ(0, memcmp(buf, new_cmdline, sizeof(new_cmdline)));
	}

	/* A bad address fails as without views and changes nothing. */
	r = WRPC(WCH(2), MVT_CALL, (long)w_set_mm, PR_SET_MM_ARG_START, 1, 0);
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(EINVAL, r.err);
	ASSERT_EQ((ssize_t)sizeof(new_cmdline),
		  cmdline_of(tids[NW], buf, sizeof(buf)));

	/* The saved auxiliary vector, from view 2. */
	r = WRPC(WCH(2), MVT_CALL, (long)w_set_mm, PR_SET_MM_AUXV,
		 (long)auxv, sizeof(auxv));
	ASSERT_EQ(0, r.ret) TH_LOG("PR_SET_MM_AUXV: %s", strerror(r.err));
	for (i = 0; i <= NW; i++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/auxv",
			 tids[i]);
		ASSERT_LE((ssize_t)sizeof(got),
			  mvt_read_file(path, buf, sizeof(buf)));
		memcpy(got, buf, sizeof(got));
		ASSERT_EQ((unsigned long)AT_PAGESZ, got[0]);
		ASSERT_EQ(12345UL, got[1])
			TH_LOG("thread %d (view %ld)", i,
			       i < NW ? self->view[i] : 0L);
	}

	/* The running executable is mapped: EBUSY from any view. */
	fd = open("/proc/self/exe", O_RDONLY);
	ASSERT_LE(0, fd);
	r = WRPC(WCH(1), MVT_CALL, (long)w_set_mm, PR_SET_MM_EXE_FILE, fd, 0);
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(EBUSY, r.err);
	ASSERT_EQ(-1, prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, fd, 0L, 0L));
	ASSERT_EQ(EBUSY, errno);
	close(fd);
}

/* VmSize (kB) of thread @tid's view. */
static long vm_size_kb(pid_t tid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	if (mvt_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "VmSize:");
	return p ? strtol(p + 7, NULL, 10) : -1;
}

/*
 * RLIMIT_AS counts the process's mappings once, whichever view maps them:
 * every view has the same VmSize, and a mapping beyond the limit fails
 * from any view as without views.
 */
TEST_F_TIMEOUT(procstate, rlimit_as_counts_a_mapping_once, 300)
{
	long mb = 1L << 20, base_kb = vm_size_kb(mvt_gettid());
	struct rlimit rl;
	struct mvt_res r;
	int i;

	ASSERT_LT(0, base_kb);
	rl.rlim_cur = rl.rlim_max = base_kb * 1024 + 64 * mb;
	ASSERT_EQ(0, setrlimit(RLIMIT_AS, &rl));

	r = WRPC(WCH(1), MVT_CALL, (long)w_mmap_private, 32 * mb);
	ASSERT_NE(-1, r.ret) TH_LOG("32 MiB from view 1: %s", strerror(r.err));
	ASSERT_NE(MAP_FAILED, mmap(NULL, 24 * mb, PROT_READ,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	r = WRPC(WCH(2), MVT_CALL, (long)w_mmap_private, 16 * mb);
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(ENOMEM, r.err);
	for (i = 0; i < NW; i++) {
		long view = self->view[i];

		ASSERT_EQ(base_kb + 56 * 1024, vm_size_kb(self->tid[i]))
			TH_LOG("VmSize of view %ld", view);
	}
}

TEST_HARNESS_MAIN
