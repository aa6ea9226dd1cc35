/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the mmview guest tests.
 *
 * Ground rules (see tests/guest/c/README.md):
 *  - Worker stacks are pre-faulted (pthread_attr_setstack on populated
 *    memory, so the TCB and TLS live there too) and control blocks live in
 *    memory populated before the views exist: stack growth and malloc arenas
 *    are not what these tests are about.
 *  - Cross-view synchronisation uses pipes (the RPC channel); futexes across
 *    views are tested by mmview_futex_test, not used as a tool.
 *  - Worker threads migrate back to the base view before they exit, and only
 *    the main thread (always in base) joins them.
 *
 * This file must not include kselftest_harness.h (it defines globals); the
 * ASSERT-style macros at the bottom expand inside test functions only.
 */
#ifndef MMVIEW_TEST_UTIL_H
#define MMVIEW_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <pthread.h>

#include "mmview.h"

#define MVT_EXEC_FLAG "--mmview-test-exec-child"

/* Generous: the guest is an emulated, KASAN-instrumented VM. */
#define MVT_RPC_TIMEOUT_MS	(180 * 1000)
#define MVT_STACK_SIZE		(512 * 1024)

/* ---- process / memory ---- */
size_t mvt_page_size(void);
/* Disable THP for the process (no khugepaged collapse, no huge-page-sized
 * unshare rounding) so page granular expectations hold. */
int mvt_process_setup(void);
/* mmap private anonymous memory, MADV_NOHUGEPAGE, and write every byte so
 * all pages are present and exclusive to this process. */
void *mvt_map_populated(size_t len);
/* Write `bytes` of stack below the caller so those pages are present. */
void mvt_prefault_stack(size_t bytes);
pid_t mvt_gettid(void);
/*
 * fn(arg) on a new thread that migrates to @view first and back to the base
 * before it ends: fn's return value; -1000 if the thread could not start or
 * migrate.
 */
long mvt_run_in_view(long view, long (*fn)(void *arg), void *arg);

/* ---- /proc ---- */
/* MMView: id of a thread of this process; -1 if the line is missing,
 * -2 if the status file cannot be read. */
long mvt_view_of(pid_t tid);
/* Value of a /proc/meminfo field in KiB, -1 if missing. */
long mvt_meminfo_kb(const char *key);
/* PFN mapped at addr in the view of thread tid (reads
 * /proc/self/task/<tid>/pagemap): >= 0 pfn, -1 not present, -2 error,
 * -3 present but pfn hidden (not root). */
int64_t mvt_pfn(pid_t tid, const void *addr);
/* The raw /proc/self/task/<tid>/pagemap entry of addr; 0 or -1. */
int mvt_pagemap(pid_t tid, const void *addr, uint64_t *ent);
/*
 * /proc/self/task/<tid>/smaps, read into buf: the entry of the VMA that
 * contains addr (its header line; *end is the end of its VmFlags line), or
 * NULL. The value after "key" in that entry, or -1. Whether its VmFlags
 * has flag (two letters): 1, 0, or -1 without an entry.
 */
const char *mvt_smaps_vma(pid_t tid, const void *addr, char *buf, size_t size,
			  const char **end);
long mvt_smaps_value(pid_t tid, const void *addr, const char *key, char *buf,
		     size_t size);
int mvt_smaps_flag(pid_t tid, const void *addr, const char *flag, char *buf,
		   size_t size);
/* Read a whole small file into buf (NUL terminated); returns length or -1. */
ssize_t mvt_read_file(const char *path, char *buf, size_t size);
/* Write a string to a file; returns 0 or -errno. */
int mvt_write_file(const char *path, const char *s);
/* A few /proc/meminfo counters (KiB) for "was it freed" checks. AnonPages
 * counts mapped anonymous pages of every view and is not disturbed by
 * per-cpu free lists or page cache; MemFree is the cross-check. MemFree
 * leaves out the pages on the per-cpu free lists (pcp_kb, from the
 * "count:" lines of /proc/zoneinfo): with auto-tuned pcp high marks one
 * CPU's list can hold most of what an exit just freed, so "was it freed"
 * compares free_kb + pcp_kb. */
struct mvt_mem {
	long free_kb, avail_kb, anon_kb, slab_kb, pagetables_kb, pcp_kb;
};
int mvt_mem_read(struct mvt_mem *m);
/* Before "was it freed" measurements: sync and drop caches; with
 * shrink_slabs also shrink every slab cache (this flushes the KASAN
 * quarantine, but is slow under emulation).  Best effort. */
void mvt_settle_memory(bool shrink_slabs);

/*
 * Lay out the @n pages at @p (one every @ps bytes) so that compaction moves
 * some of them: see mmview_test_util.c. Returns a filler mapping for
 * mvt_filler_free(), or NULL with errno set.
 */
void *mvt_spread_for_compaction(volatile char *p, size_t n, size_t ps);
void mvt_filler_free(void *filler);
/* How many of the @n pages at @p no longer have the pfns in @before. */
int mvt_pages_moved(pid_t tid, const volatile char *p, size_t n, size_t ps,
		    const int64_t *before);
/* Layouts to try before a compaction test gives up on moving a page. */
#define MVT_COMPACTION_TRIES	5

/* Swap on the guest's zram0 (once per boot; a no-op if any swap is on):
 * 0 or -errno. */
int mvt_zram_swap_on(size_t bytes);

/* ---- raw syscalls (no errno, usable from raw clone threads) ---- */
long mvt_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f);
#define mvt_raw0(n)			mvt_raw_syscall6(n, 0, 0, 0, 0, 0, 0)
#define mvt_raw1(n, a)			mvt_raw_syscall6(n, (long)(a), 0, 0, 0, 0, 0)
#define mvt_raw2(n, a, b)		mvt_raw_syscall6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define mvt_raw3(n, a, b, c)		mvt_raw_syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
/* MMView of the calling thread using raw syscalls only; -1 missing, <-1 error */
long mvt_raw_own_view(void);

/* ---- RPC to a worker (thread or forked child) over pipes ---- */
enum mvt_op {
	MVT_NOP = 0,
	MVT_QUIT,	/* migrate(0) (threads), reply, then exit */
	MVT_MIGRATE,	/* a = id */
	MVT_CREATE,
	MVT_DELETE,	/* a = id */
	MVT_UNSHARE,	/* a = addr, b = len */
	MVT_LOAD,	/* a = addr: ret = *(long *)a */
	MVT_STORE,	/* a = addr, b = value */
	MVT_FILL,	/* a = addr, b = len, c = value: every long := c */
	MVT_CHECK,	/* a = addr, b = len, c = value: ret = 0 if every long == c,
			 * else 1 + byte offset of first mismatch, out[0] = found */
	MVT_PFN,	/* a = addr: ret = mvt_pfn(own tid, a) */
	MVT_VIEW,	/* ret = own MMView id (mvt_view_of) */
	MVT_TID,	/* ret = own tid */
	MVT_FORK,	/* a = cmd fd, b = rsp fd, c = cmd write end to close in
			 * child: raw fork; child serves RPCs; ret = child pid */
	MVT_EXEC,	/* a = path, b = argv (NULL terminated array of char *):
			 * execve; returns only on failure */
	MVT_CALL,	/* a = fn(long b, long c, long d, long *out) */
	MVT_SYSCALL,	/* a = nr, b, c, d = args: raw syscall(2) via libc */
};

struct mvt_req {
	long op, a, b, c, d;
};

struct mvt_res {
	int rpc;	/* 0: answered; -1: channel broken or timed out */
	int err;	/* errno after the operation (0 if it succeeded) */
	long ret;
	long out[4];
};

typedef long (*mvt_call_fn)(long b, long c, long d, long *out);

struct mvt_chan {
	int cmd_wr;	/* requests go here */
	int rsp_rd;	/* replies come from here */
};

struct mvt_worker {
	struct mvt_chan ch;
	int cmd_rd, rsp_wr;	/* worker side */
	pthread_t th;
	void *stack;
	size_t stack_size;
	pid_t tid;
	bool running;
};

struct mvt_res mvt_rpc(const struct mvt_chan *ch, long op, long a, long b,
		       long c, long d);
struct mvt_res mvt_rpc_timeout(const struct mvt_chan *ch, int timeout_ms,
			       long op, long a, long b, long c, long d);
/* Worker threads: pre-faulted user stack, started and parked on the pipe
 * before returning.  Must be called before views exist (or at least the
 * caller must be in the base view). */
int mvt_worker_start(struct mvt_worker *w);
/* Ask the worker to go back to base and exit; joins it if it did. */
int mvt_worker_stop(struct mvt_worker *w);
/* Workers 1..n-1 each into a new view (view[i]); worker 0 stays in base.
 * Returns 0 or -errno. */
int mvt_workers_to_views(struct mvt_worker *w, long *view, int n);
/* Stop workers 0..n-1, then delete views view[1..n-1] (best effort). */
void mvt_workers_stop_views(struct mvt_worker *w, long *view, int n);
/* Serve RPCs on the given fds until QUIT/EOF (used by forked children). */
void mvt_serve(int cmd_rd, int rsp_wr, bool is_thread);

/* Pipes for a forked child's RPC channel. */
struct mvt_child {
	struct mvt_chan ch;
	int cmd_rd, rsp_wr;
	pid_t pid;
};
int mvt_child_pipes(struct mvt_child *c);
/* Ask a forked (MVT_FORK) child to exit and reap it; returns exit status
 * as from waitpid, or -1. */
int mvt_child_finish(struct mvt_child *c);

/* ---- raw clone threads (no glibc thread state) ---- */
struct mvt_raw_thread {
	volatile int ctid;	/* cleared by the kernel at thread exit */
	int tid;
	void *stack;
	size_t stack_size;
};
/* t must live in memory populated before any view exists. The thread starts
 * in the caller's current view.  fn may use mvt_raw*() only. */
int mvt_raw_thread_start(struct mvt_raw_thread *t, int (*fn)(void *), void *arg);
/* Wait until the thread has exited (ctid cleared); 0 or -1 on timeout. */
int mvt_raw_thread_wait(struct mvt_raw_thread *t, int timeout_ms);

/* ---- misc ---- */
const char *mvt_self_exe(void);	/* resolved at first call, cache it early */
uint64_t mvt_now_ms(void);
void mvt_sleep_ms(unsigned int ms);

/* ---- assertion helpers for test bodies (need kselftest_harness.h) ---- */

/* Run op on a worker; the RPC itself must work. Evaluates to the result.
 * Arguments are longs (cast pointers with (long)); missing ones are 0. */
#define WRPC(chp, op, ...) ({						\
	long __a[] = { 0, ##__VA_ARGS__, 0, 0, 0, 0 };			\
	struct mvt_res __r = mvt_rpc((chp), (op), __a[1], __a[2],	\
				     __a[3], __a[4]);			\
	ASSERT_EQ(0, __r.rpc) TH_LOG("worker did not answer op %d", (int)(op)); \
	__r;								\
})

/* Op must succeed (ret >= 0); evaluates to ret. */
#define WOK(chp, op, ...) ({						\
	struct mvt_res __w = WRPC(chp, op, ##__VA_ARGS__);			\
	ASSERT_LE(0, __w.ret) TH_LOG("op %d failed: errno %d (%s)",	\
				     (int)(op), __w.err, strerror(__w.err)); \
	__w.ret;							\
})

/* Op must fail with errno e. */
#define WERR(chp, e, op, ...) do {					\
	struct mvt_res __w = WRPC(chp, op, ##__VA_ARGS__);			\
	ASSERT_EQ(-1, __w.ret) TH_LOG("op %d unexpectedly returned %ld", \
				      (int)(op), __w.ret);		\
	ASSERT_EQ((e), __w.err) TH_LOG("op %d: errno %d (%s), expected %s", \
				       (int)(op), __w.err, strerror(__w.err), #e); \
} while (0)

/* Check that the kernel has mmview at all, with a clear message. */
#define ASSERT_MMVIEW_AVAILABLE() do {					\
	long __v = mmview_migrate(-1);					\
	int __e = errno;						\
	ASSERT_EQ(0, __v) TH_LOG("mmview_migrate(-1) = %ld, errno %d (%s): " \
				 "kernel without mmview?", __v, __e, strerror(__e)); \
} while (0)

#endif /* MMVIEW_TEST_UTIL_H */
