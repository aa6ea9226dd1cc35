// SPDX-License-Identifier: GPL-2.0
/*
 * Debugging a process with views: a tracer (a forked child) attaches to
 * threads in two different views.
 *
 *  - PTRACE_PEEKDATA reads each thread's own view: shared memory is the
 *    same, unshared memory is the thread's view's copy;
 *  - PTRACE_POKEDATA on unshared memory changes that view only, on shared
 *    memory every view;
 *  - a breakpoint poked into shared text through one view traps a thread
 *    of another view;
 *  - process_vm_readv()/process_vm_writev() on a thread's TID use that
 *    thread's view;
 *  - a uprobe on a function of the (shared) text hits in every view, and
 *    the one XOL area it executes the probed instruction from is mapped at
 *    the same address in every view.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW	3

static volatile long shared_var;

FIXTURE(debug) {
	struct mvt_worker w[NW];
	long view[NW];
	size_t ps;
	long *un;	/* one unshared page */
};

FIXTURE_SETUP(debug)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	self->ps = mvt_page_size();
	shared_var = 0x5151;
	self->un = mvt_map_populated(self->ps);
	ASSERT_NE(NULL, self->un);
	ASSERT_EQ(0, mmview_unshare(self->un, self->ps));
	for (i = 0; i < NW; i++)
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
	for (i = 0; i < NW; i++)
		ASSERT_LE(0, mvt_rpc(&self->w[i].ch, MVT_STORE, (long)self->un,
				     0x7000 + i, 0, 0).ret);
}

FIXTURE_TEARDOWN(debug)
{
	mvt_workers_stop_views(self->w, self->view, NW);
}

#define WCH(i) (&self->w[i].ch)

static __attribute__((noinline)) long bp_target(long b, long c, long d,
						 long *out)
{
	(void)c;
	(void)d;
	(void)out;
	return b + 1;
}

/* Tracer results, written to the pipe for the test to check. */
struct tracer_report {
	long peek_shared[2], peek_un[2], vm_read_un[2];
	int err;		/* 0, or the line of the first failure */
	int trapped;		/* the view 2 thread stopped at the breakpoint */
};

/*
 * The software breakpoint and where the PC stands after it traps:
 * x86 int3 (1 byte, PC after it), arm64 brk #0 (4 bytes, PC at it).
 */
#if defined(__x86_64__)
#define BP_INSN		0xccUL
#define BP_MASK		0xffUL
#define BP_TRAP_PC(a)	((unsigned long)(a) + 1)
#define REGS_PC(r)	((r).rip)
#elif defined(__aarch64__)
#define BP_INSN		0xd4200000UL
#define BP_MASK		0xffffffffUL
#define BP_TRAP_PC(a)	((unsigned long)(a))
#define REGS_PC(r)	((r).pc)
#else
#error "no breakpoint instruction for this architecture"
#endif

/* The general registers of a stopped tracee (NT_PRSTATUS works on both). */
static int get_regs(pid_t tid, struct user_regs_struct *regs)
{
	struct iovec iov = { regs, sizeof(*regs) };

	return ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov);
}

static int set_regs(pid_t tid, struct user_regs_struct *regs)
{
	struct iovec iov = { regs, sizeof(*regs) };

	return ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov);
}

#define TRY(cond) do { if (!(cond)) { rep->err = __LINE__; return; } } while (0)

static int stop(pid_t tid)
{
	int status;

	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0))
		return -1;
	if (waitpid(tid, &status, __WALL) != tid || !WIFSTOPPED(status))
		return -1;
	return 0;
}

static bool vm_read(pid_t tid, long *addr, long *val)
{
	struct iovec local = { val, sizeof(*val) };
	struct iovec remote = { addr, sizeof(*val) };

	return process_vm_readv(tid, &local, 1, &remote, 1, 0) == sizeof(*val);
}

static bool vm_write(pid_t tid, long *addr, long val)
{
	struct iovec local = { &val, sizeof(val) };
	struct iovec remote = { addr, sizeof(val) };

	return process_vm_writev(tid, &local, 1, &remote, 1, 0) == sizeof(val);
}

/* In the child: attach to t1 (view 1) and t2 (view 2), then sync with rd. */
static void tracer(pid_t t1, pid_t t2, long *un, int rd, int wr,
		   struct tracer_report *rep)
{
	struct user_regs_struct regs;
	long orig, word;
	int status;
	char go;

	TRY(!ptrace(PTRACE_SEIZE, t1, 0, 0) && !ptrace(PTRACE_SEIZE, t2, 0, 0));
	TRY(!stop(t1) && !stop(t2));
	errno = 0;
	rep->peek_shared[0] = ptrace(PTRACE_PEEKDATA, t1, &shared_var, 0);
	rep->peek_shared[1] = ptrace(PTRACE_PEEKDATA, t2, &shared_var, 0);
	rep->peek_un[0] = ptrace(PTRACE_PEEKDATA, t1, un, 0);
	rep->peek_un[1] = ptrace(PTRACE_PEEKDATA, t2, un, 0);
	TRY(!errno);
	TRY(vm_read(t1, un, &rep->vm_read_un[0]) && vm_read(t2, un, &rep->vm_read_un[1]));
	/* Written into view 1's copy, then set to its final value by POKE. */
	TRY(vm_write(t1, un, 0x8881));
	TRY(vm_read(t1, un, &word) && word == 0x8881);
	TRY(vm_write(t1, un, 0x7001));
	TRY(!ptrace(PTRACE_POKEDATA, t2, un, 0x9992));
	TRY(!ptrace(PTRACE_POKEDATA, t1, &shared_var, 0x6161));
	/* A breakpoint at bp_target, written through view 1. */
	orig = ptrace(PTRACE_PEEKTEXT, t1, bp_target, 0);
	TRY(!errno);
	word = (long)(((unsigned long)orig & ~BP_MASK) | BP_INSN);
	TRY(!ptrace(PTRACE_POKETEXT, t1, bp_target, word));
	TRY(!ptrace(PTRACE_CONT, t1, 0, 0) && !ptrace(PTRACE_CONT, t2, 0, 0));
	TRY(write(wr, rep, sizeof(*rep)) == sizeof(*rep));
	/* The test now calls bp_target in view 2. */
	TRY(waitpid(t2, &status, __WALL) == t2);
	TRY(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP);
	TRY(!get_regs(t2, &regs));
	rep->trapped = REGS_PC(regs) == BP_TRAP_PC(bp_target);
	/* Remove it (through view 2 this time) and let the call run. */
	TRY(!ptrace(PTRACE_POKETEXT, t2, bp_target, orig));
	REGS_PC(regs) = (unsigned long)bp_target;
	TRY(!set_regs(t2, &regs));
	TRY(!ptrace(PTRACE_DETACH, t2, 0, 0));
	TRY(!stop(t1) && !ptrace(PTRACE_DETACH, t1, 0, 0));
	TRY(read(rd, &go, 1) == 1);
}

struct bp_call {
	const struct mvt_chan *ch;
	struct mvt_res res;
};

static void *call_bp(void *p)
{
	struct bp_call *c = p;

	c->res = mvt_rpc(c->ch, MVT_CALL, (long)bp_target, 41, 0, 0);
	return NULL;
}

TEST_F_TIMEOUT(debug, ptrace_and_process_vm_access_across_views, 300)
{
	int to_child[2], to_parent[2], status, k;
	struct tracer_report rep = { 0 };
	struct bp_call call = { 0 };
	pthread_t th;
	pid_t child;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		tracer(self->w[1].tid, self->w[2].tid, self->un, to_child[0],
		       to_parent[1], &rep);
		if (write(to_parent[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(2);
		_exit(rep.err ? 1 : 0);
	}
	ASSERT_EQ((ssize_t)sizeof(rep), read(to_parent[0], &rep, sizeof(rep)));
	ASSERT_EQ(0, rep.err) TH_LOG("tracer failed at line %d", rep.err);
	ASSERT_EQ(0x5151, rep.peek_shared[0]);
	ASSERT_EQ(0x5151, rep.peek_shared[1]);
	ASSERT_EQ(0x7001, rep.peek_un[0]) TH_LOG("PEEK read another view");
	ASSERT_EQ(0x7002, rep.peek_un[1]) TH_LOG("PEEK read another view");
	ASSERT_EQ(0x7001, rep.vm_read_un[0]) TH_LOG("process_vm_readv: view");
	ASSERT_EQ(0x7002, rep.vm_read_un[1]) TH_LOG("process_vm_readv: view");
	/* POKE on unshared memory: that view only; on shared: every view. */
	for (k = 0; k < NW; k++) {
		long want = k == 2 ? 0x9992 : 0x7000 + k;

		ASSERT_EQ(want, WRPC(WCH(k), MVT_LOAD, (long)self->un).ret);
		ASSERT_EQ(0x6161, WRPC(WCH(k), MVT_LOAD, (long)&shared_var).ret);
	}
	/* The breakpoint set through view 1 traps in view 2. */
	call.ch = WCH(2);
	ASSERT_EQ(0, pthread_create(&th, NULL, call_bp, &call));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, call.res.rpc);
	ASSERT_EQ(42, call.res.ret);
	ASSERT_EQ(1, write(to_child[1], "g", 1));
	ASSERT_EQ((ssize_t)sizeof(rep), read(to_parent[0], &rep, sizeof(rep)));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_EQ(0, rep.err) TH_LOG("tracer failed at line %d", rep.err);
	ASSERT_EQ(1, rep.trapped) TH_LOG("no trap at the breakpoint in view 2");
	ASSERT_EQ(0, status);
	/* The text is back in every view. */
	ASSERT_EQ(42, WRPC(WCH(0), MVT_CALL, (long)bp_target, 41).ret);
}

#define TRACEFS "/sys/kernel/tracing/"

/*
 * The probed function, in assembly so that the probed first instruction is
 * one the kernel executes out of line (x86 emulates endbr64, nops, pushes
 * and branches without the XOL area): uprobe_target(b, ...) == 2 * b.
 */
long uprobe_target(long b, long c, long d, long *out);
__asm__(".text\n"
	".globl uprobe_target\n"
	".type uprobe_target, @function\n"
	"uprobe_target:\n"
#ifdef __x86_64__
	"	lea (%rdi,%rdi,1), %rax\n"
	"	ret\n"
#else
	"	add x0, x0, x0\n"
	"	ret\n"
#endif
	".size uprobe_target, . - uprobe_target\n");

/* File offset of @fn in the executable mapping that holds it; its path. */
static long text_offset(void *fn, char *path, size_t size)
{
	static char maps[65536];
	unsigned long a, e, off;
	char *line = maps, *name;

	if (mvt_read_file("/proc/self/maps", maps, sizeof(maps)) <= 0)
		return -1;
	while (line && *line) {
		if (sscanf(line, "%lx-%lx %*s %lx", &a, &e, &off) == 3 &&
		    a <= (unsigned long)fn && (unsigned long)fn < e) {
			name = strchr(line, '/');
			if (!name)
				return -1;
			snprintf(path, size, "%.*s", (int)strcspn(name, "\n"),
				 name);
			return (long)((unsigned long)fn - a + off);
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

/* The [uprobes] line of thread @tid's maps into @line, or "". */
static void xol_line(pid_t tid, char *line, size_t size)
{
	static char maps[65536];
	char path[64], *p, *b;

	line[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/task/%d/maps", tid);
	if (mvt_read_file(path, maps, sizeof(maps)) <= 0)
		return;
	p = strstr(maps, "[uprobes]");
	if (!p)
		return;
	for (b = p; b > maps && b[-1] != '\n'; b--)
		;
	snprintf(line, size, "%.*s", (int)(p - b), b);
}

/* The base has an XOL area, and every view maps it at the same place. */
static void expect_xol_everywhere(struct __test_metadata *_metadata,
				  FIXTURE_DATA(debug) *self, const char *when)
{
	char ref[128], got[128];
	int k;

	xol_line(mvt_gettid(), ref, sizeof(ref));
	ASSERT_NE(0, ref[0]) TH_LOG("no XOL area in the base %s", when);
	for (k = 0; k < NW; k++) {
		long view = self->view[k];

		xol_line(self->w[k].tid, got, sizeof(got));
		ASSERT_STREQ(ref, got) TH_LOG("view %ld %s", view, when);
	}
}

/*
 * A uprobe on shared text: threads of the base and of two views call the
 * function, every call hits, returns the right value (the probed
 * instruction ran out of line), and every view maps one XOL area.
 */
TEST_F_TIMEOUT(debug, uprobe_hits_in_every_view, 300)
{
	char path[256], cmd[512], buf[4096], *p;
	long off, hits;
	int i, k, n = 5;

	if (access(TRACEFS "uprobe_events", F_OK))
		mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL);
	if (access(TRACEFS "uprobe_events", F_OK))
		SKIP(return, "kernel without uprobe events");
	off = text_offset((void *)uprobe_target, path, sizeof(path));
	ASSERT_LT(0, off);
	snprintf(cmd, sizeof(cmd), "p:mmview/target %s:0x%lx", path, off);
	ASSERT_EQ(0, mvt_write_file(TRACEFS "uprobe_events", cmd))
		TH_LOG("%s", cmd);
	ASSERT_EQ(0, mvt_write_file(TRACEFS "events/mmview/target/enable",
				    "1"));

	/*
	 * The base hits first: its XOL area is mapped in every view at once,
	 * not only in views whose threads hit later.
	 */
	ASSERT_EQ(2 * 7, uprobe_target(7, 0, 0, NULL));
	expect_xol_everywhere(_metadata, self, "before the views' hits");

	for (i = 0; i < n; i++) {
		ASSERT_EQ(2 * i, uprobe_target(i, 0, 0, NULL));
		for (k = 0; k < NW; k++) {
			long view = self->view[k];

			ASSERT_EQ(2 * (i + k), WRPC(WCH(k), MVT_CALL,
						    (long)uprobe_target,
						    i + k).ret)
				TH_LOG("view %ld", view);
		}
	}

	ASSERT_LT(0, mvt_read_file(TRACEFS "uprobe_profile", buf, sizeof(buf)));
	p = strstr(buf, "target");
	ASSERT_NE(NULL, p) TH_LOG("uprobe_profile: %s", buf);
	hits = strtol(p + strlen("target"), NULL, 10);
	ASSERT_EQ((NW + 1) * n + 1, hits) TH_LOG("uprobe_profile: %s", buf);

	expect_xol_everywhere(_metadata, self, "after every view's hits");

	ASSERT_EQ(0, mvt_write_file(TRACEFS "events/mmview/target/enable",
				    "0"));
	ASSERT_EQ(0, mvt_write_file(TRACEFS "uprobe_events",
				    "-:mmview/target"));
	/* Gone from every view's text: no more hits, right results. */
	for (k = 0; k < NW; k++)
		ASSERT_EQ(2 * k, WRPC(WCH(k), MVT_CALL, (long)uprobe_target,
				      k).ret);
}

TEST_HARNESS_MAIN
