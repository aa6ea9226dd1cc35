// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the mmview guest tests.  See mmview_test_util.h for the
 * rules they follow.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mmview_test_util.h"

extern char **environ;

size_t mvt_page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

int mvt_process_setup(void)
{
	mvt_page_size();
	mvt_self_exe();
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		return -errno;
	return 0;
}

void *mvt_map_populated(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);	/* may fail without THP: fine */
	memset(p, 0, len);
	return p;
}

void __attribute__((noinline)) mvt_prefault_stack(size_t bytes)
{
	volatile char *p = __builtin_alloca(bytes);
	size_t i;

	for (i = 0; i < bytes; i += 128)
		p[i] = 0;
	p[bytes - 1] = 0;
}

pid_t mvt_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

struct mvt_view_call {
	long view, ret;
	long (*fn)(void *arg);
	void *arg;
};

static void *mvt_view_call_thread(void *p)
{
	struct mvt_view_call *c = p;

	if (mmview_migrate(c->view) < 0)
		return NULL;
	c->ret = c->fn(c->arg);
	mmview_migrate(0);
	return NULL;
}

long mvt_run_in_view(long view, long (*fn)(void *arg), void *arg)
{
	struct mvt_view_call c = { .view = view, .ret = -1000, .fn = fn,
				   .arg = arg };
	pthread_t th;

	if (pthread_create(&th, NULL, mvt_view_call_thread, &c))
		return -1000;
	pthread_join(th, NULL);
	return c.ret;
}

/* ---------------------------------------------------------------- /proc */

static int read_all_fd(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, size - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	return (int)n;
}

ssize_t mvt_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int n;

	if (fd < 0)
		return -1;
	n = read_all_fd(fd, buf, size);
	close(fd);
	return n;
}

int mvt_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(s);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, s, len);
	if (r < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	return (size_t)r == len ? 0 : -EIO;
}

static long parse_view_line(const char *buf)
{
	const char *p = buf;

	for (;;) {
		if (!strncmp(p, "MMView:", 7)) {
			long v = 0;
			bool neg = false;

			p += 7;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '-') {
				neg = true;
				p++;
			}
			if (*p < '0' || *p > '9')
				return -2;
			while (*p >= '0' && *p <= '9')
				v = v * 10 + (*p++ - '0');
			return neg ? -v : v;
		}
		p = strchr(p, '\n');
		if (!p)
			return -1;
		p++;
	}
}

long mvt_view_of(pid_t tid)
{
	char path[64], buf[8192];

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if (mvt_read_file(path, buf, sizeof(buf)) < 0)
		return -2;
	return parse_view_line(buf);
}

long mvt_meminfo_kb(const char *key)
{
	char buf[8192];
	size_t klen = strlen(key);
	const char *p = buf;

	if (mvt_read_file("/proc/meminfo", buf, sizeof(buf)) < 0)
		return -1;
	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* Pages on the per-cpu free lists of every zone (KiB), or -1. */
static long pcp_free_kb(void)
{
	static char buf[1 << 17];
	const char *p;
	long pages = 0, n;

	if (mvt_read_file("/proc/zoneinfo", buf, sizeof(buf)) <= 0)
		return -1;
	for (p = strstr(buf, "count:"); p; p = strstr(p + 1, "count:")) {
		if (sscanf(p, "count: %ld", &n) != 1)
			return -1;
		pages += n;
	}
	return pages * (sysconf(_SC_PAGESIZE) >> 10);
}

int mvt_mem_read(struct mvt_mem *m)
{
	long sr, su;

	m->free_kb = mvt_meminfo_kb("MemFree");
	m->avail_kb = mvt_meminfo_kb("MemAvailable");
	m->anon_kb = mvt_meminfo_kb("AnonPages");
	m->pagetables_kb = mvt_meminfo_kb("PageTables");
	sr = mvt_meminfo_kb("SReclaimable");
	su = mvt_meminfo_kb("SUnreclaim");
	m->slab_kb = sr < 0 || su < 0 ? -1 : sr + su;
	m->pcp_kb = pcp_free_kb();
	if (m->free_kb < 0 || m->avail_kb < 0 || m->anon_kb < 0 ||
	    m->pagetables_kb < 0 || m->slab_kb < 0 || m->pcp_kb < 0)
		return -1;
	return 0;
}

const char *mvt_smaps_vma(pid_t tid, const void *addr, char *buf, size_t size,
			  const char **end)
{
	unsigned long start, stop, a = (unsigned long)addr;
	const char *line;
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/smaps", tid);
	if (mvt_read_file(path, buf, size) <= 0)
		return NULL;
	for (line = buf; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		/* Header lines: "start-end perms ...", before their newline. */
		if (sscanf(line, "%lx-%lx ", &start, &stop) == 2 &&
		    strchr(line, ' ') < strchr(line, '\n') &&
		    start <= a && a < stop)
			break;
	}
	if (!line)
		return NULL;
	*end = strstr(line, "VmFlags:");
	if (*end)
		*end = strchr(*end, '\n');
	return line;
}

long mvt_smaps_value(pid_t tid, const void *addr, const char *key, char *buf,
		     size_t size)
{
	const char *vma, *end, *line;

	vma = mvt_smaps_vma(tid, addr, buf, size, &end);
	if (!vma)
		return -1;
	line = strstr(vma, key);
	if (!line || (end && line > end))
		return -1;
	return strtol(line + strlen(key), NULL, 0);
}

int mvt_smaps_flag(pid_t tid, const void *addr, const char *flag, char *buf,
		   size_t size)
{
	const char *vma, *end, *flags, *f;
	char want[8];

	vma = mvt_smaps_vma(tid, addr, buf, size, &end);
	if (!vma)
		return -1;
	flags = strstr(vma, "VmFlags:");
	if (!flags)
		return -1;
	snprintf(want, sizeof(want), " %s", flag);
	for (f = strstr(flags, want); f && (!end || f < end);
	     f = strstr(f + 1, want))
		if (f[3] == ' ' || f[3] == '\n')
			return 1;
	return 0;
}

int mvt_pagemap(pid_t tid, const void *addr, uint64_t *ent)
{
	char path[64];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/pagemap", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = pread(fd, ent, sizeof(*ent),
		  (off_t)((uintptr_t)addr / mvt_page_size() * sizeof(*ent)));
	close(fd);
	return r == sizeof(*ent) ? 0 : -1;
}

int64_t mvt_pfn(pid_t tid, const void *addr)
{
	uint64_t ent;

	if (mvt_pagemap(tid, addr, &ent))
		return -2;
	if (!(ent >> 63))
		return -1;
	ent &= (1ULL << 55) - 1;
	if (!ent)
		return -3;
	return (int64_t)ent;
}

#define MVT_FILLER_BYTES	(64UL << 20)

/*
 * Compaction moves pages out of partly used pageblocks low in a zone into
 * the free pages of partly used pageblocks above them; whole free blocks
 * are no target. A freshly booted guest is mostly whole free blocks, so
 * compact_memory may move nothing at all. Discard the pages at @p, fault
 * them in again one at a time among the pages of a 64 MiB filler, so that
 * they spread over the filler's physical range, then free every other
 * filler page: some of ours now sit below free pages that compaction fills.
 */
void *mvt_spread_for_compaction(volatile char *p, size_t n, size_t ps)
{
	size_t nfill = MVT_FILLER_BYTES / ps, every = nfill / n, i, k = 0;
	char *fill;

	if (!n || !every)
		return errno = EINVAL, NULL;
	/* Shared memory keeps its pages on MADV_DONTNEED: punch them out. */
	if (madvise((void *)p, n * ps, MADV_REMOVE) &&
	    madvise((void *)p, n * ps, MADV_DONTNEED))
		return NULL;
	fill = mmap(NULL, MVT_FILLER_BYTES, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fill == MAP_FAILED)
		return NULL;
	/* Page by page: a THP would not spread. */
	madvise(fill, MVT_FILLER_BYTES, MADV_NOHUGEPAGE);
	madvise((void *)p, n * ps, MADV_NOHUGEPAGE);
	for (i = 0; i < nfill; i++) {
		fill[i * ps] = 1;
		if (i % every == every / 2 && k < n)
			p[k++ * ps] = 0;
	}
	for (i = 1; i < nfill; i += 2)
		madvise(fill + i * ps, ps, MADV_DONTNEED);
	return fill;
}

void mvt_filler_free(void *filler)
{
	if (filler)
		munmap(filler, MVT_FILLER_BYTES);
}

int mvt_pages_moved(pid_t tid, const volatile char *p, size_t n, size_t ps,
		    const int64_t *before)
{
	int moved = 0;
	size_t i;

	for (i = 0; i < n; i++)
		moved += mvt_pfn(tid, (const void *)(p + i * ps)) != before[i];
	return moved;
}

void mvt_settle_memory(bool shrink_slabs)
{
	DIR *d;
	struct dirent *de;
	char path[PATH_MAX];

	sync();
	mvt_write_file("/proc/sys/vm/drop_caches", "3");
	if (!shrink_slabs)
		return;
	d = opendir("/sys/kernel/slab");
	if (d) {
		while ((de = readdir(d))) {
			/* skip dot entries and aliases (symlinks to merged caches) */
			if (de->d_name[0] == '.' || de->d_type == DT_LNK)
				continue;
			snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
				 de->d_name);
			mvt_write_file(path, "1");
		}
		closedir(d);
	}
	mvt_write_file("/proc/sys/vm/drop_caches", "3");
}

/* --------------------------------------------------------- raw syscalls */

long mvt_raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory", "cc");
	return x0;
#else
#error "mmview tests support x86_64 and arm64 only"
#endif
}

long mvt_raw_own_view(void)
{
	char path[64] = "/proc/self/task/";
	char buf[8192];
	char digits[16];
	long tid = mvt_raw0(SYS_gettid);
	int nd = 0, pos = 16, fd;
	long n = 0, r;

	do {
		digits[nd++] = (char)('0' + tid % 10);
		tid /= 10;
	} while (tid);
	while (nd)
		path[pos++] = digits[--nd];
	memcpy(path + pos, "/status", 8);

	fd = (int)mvt_raw_syscall6(SYS_openat, AT_FDCWD, (long)path, O_RDONLY,
				   0, 0, 0);
	if (fd < 0)
		return -3;
	while (n < (long)sizeof(buf) - 1) {
		r = mvt_raw3(SYS_read, fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	mvt_raw1(SYS_close, fd);
	buf[n] = 0;
	return parse_view_line(buf);
}

/* ----------------------------------------------------------------- RPC */

static int write_full(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t r = write(fd, c, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		len -= (size_t)r;
	}
	return 0;
}

static int read_full(int fd, void *p, size_t len)
{
	char *c = p;

	while (len) {
		ssize_t r = read(fd, c, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		len -= (size_t)r;
	}
	return 0;
}

struct mvt_res mvt_rpc_timeout(const struct mvt_chan *ch, int timeout_ms,
			       long op, long a, long b, long c, long d)
{
	struct mvt_req q = { .op = op, .a = a, .b = b, .c = c, .d = d };
	struct mvt_res res = { .rpc = -1, .err = EIO, .ret = -1 };
	struct pollfd pfd = { .fd = ch->rsp_rd, .events = POLLIN };
	uint64_t deadline = mvt_now_ms() + (uint64_t)timeout_ms;
	int r;

	if (write_full(ch->cmd_wr, &q, sizeof(q)))
		return res;
	for (;;) {
		int left = timeout_ms < 0 ? -1 :
			   (int)(deadline > mvt_now_ms() ? deadline - mvt_now_ms() : 0);

		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	if (r != 1)
		return res;
	if (read_full(ch->rsp_rd, &res, sizeof(res))) {
		res.rpc = -1;
		return res;
	}
	res.rpc = 0;
	return res;
}

struct mvt_res mvt_rpc(const struct mvt_chan *ch, long op, long a, long b,
		       long c, long d)
{
	return mvt_rpc_timeout(ch, MVT_RPC_TIMEOUT_MS, op, a, b, c, d);
}

static long do_op(const struct mvt_req *q, long *out, int cmd_rd, int rsp_wr)
{
	volatile long *p = (volatile long *)q->a;
	size_t i, n;
	long pid;

	(void)cmd_rd;
	(void)rsp_wr;
	switch (q->op) {
	case MVT_NOP:
		return 0;
	case MVT_MIGRATE:
		return mmview_migrate(q->a);
	case MVT_CREATE:
		return mmview_create();
	case MVT_DELETE:
		return mmview_delete(q->a);
	case MVT_UNSHARE:
		return mmview_unshare((void *)q->a, (size_t)q->b);
	case MVT_LOAD:
		return *p;
	case MVT_STORE:
		*p = q->b;
		return 0;
	case MVT_FILL:
		n = (size_t)q->b / sizeof(long);
		for (i = 0; i < n; i++)
			p[i] = q->c;
		return 0;
	case MVT_CHECK:
		n = (size_t)q->b / sizeof(long);
		for (i = 0; i < n; i++) {
			if (p[i] != q->c) {
				out[0] = p[i];
				return 1 + (long)(i * sizeof(long));
			}
		}
		return 0;
	case MVT_PFN:
		return (long)mvt_pfn(mvt_gettid(), (const void *)q->a);
	case MVT_VIEW:
		return mvt_view_of(mvt_gettid());
	case MVT_TID:
		return mvt_gettid();
	case MVT_FORK:
		/* Raw fork: no glibc atfork handlers, no global lock traffic. */
		pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
		if (pid == 0) {
			close((int)q->c);
			mvt_serve((int)q->a, (int)q->b, false);
			syscall(SYS_exit_group, 0);
		}
		return pid;
	case MVT_EXEC:
		execve((const char *)q->a, (char *const *)q->b, environ);
		return -1;
	case MVT_CALL:
		return ((mvt_call_fn)q->a)(q->b, q->c, q->d, out);
	case MVT_SYSCALL:
		return syscall(q->a, q->b, q->c, q->d);
	}
	errno = ENOTTY;
	return -1;
}

void mvt_serve(int cmd_rd, int rsp_wr, bool is_thread)
{
	for (;;) {
		struct mvt_req q;
		struct mvt_res r;

		if (read_full(cmd_rd, &q, sizeof(q)))
			return;	/* EOF: the test is gone */
		memset(&r, 0, sizeof(r));
		errno = 0;
		if (q.op == MVT_QUIT) {
			r.ret = is_thread ? mmview_migrate(0) : 0;
			r.err = errno;
			write_full(rsp_wr, &r, sizeof(r));
			if (!is_thread)
				syscall(SYS_exit_group, 0);
			return;
		}
		r.ret = do_op(&q, r.out, cmd_rd, rsp_wr);
		r.err = errno;
		if (write_full(rsp_wr, &r, sizeof(r)))
			return;
	}
}

static void *worker_main(void *arg)
{
	struct mvt_worker *w = arg;
	int cmd = w->cmd_rd, rsp = w->rsp_wr;
	pid_t tid = mvt_gettid();

	if (write_full(rsp, &tid, sizeof(tid)))
		return NULL;
	mvt_serve(cmd, rsp, true);
	return NULL;
}

int mvt_worker_start(struct mvt_worker *w)
{
	int cmd[2], rsp[2];
	pthread_attr_t attr;
	struct pollfd pfd;
	int r;

	memset(w, 0, sizeof(*w));
	if (pipe2(cmd, O_CLOEXEC))
		return -errno;
	if (pipe2(rsp, O_CLOEXEC))
		return -errno;
	w->cmd_rd = cmd[0];
	w->ch.cmd_wr = cmd[1];
	w->ch.rsp_rd = rsp[0];
	w->rsp_wr = rsp[1];
	w->stack_size = MVT_STACK_SIZE;
	w->stack = mvt_map_populated(w->stack_size);
	if (!w->stack)
		return -ENOMEM;
	pthread_attr_init(&attr);
	r = pthread_attr_setstack(&attr, w->stack, w->stack_size);
	if (!r)
		r = pthread_create(&w->th, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (r)
		return -r;
	pfd.fd = w->ch.rsp_rd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, MVT_RPC_TIMEOUT_MS) != 1)
		return -ETIMEDOUT;
	if (read_full(w->ch.rsp_rd, &w->tid, sizeof(w->tid)))
		return -EIO;
	w->running = true;
	return 0;
}

int mvt_worker_stop(struct mvt_worker *w)
{
	struct mvt_res r;

	if (!w->running)
		return 0;
	w->running = false;
	r = mvt_rpc_timeout(&w->ch, 60 * 1000, MVT_QUIT, 0, 0, 0, 0);
	if (r.rpc || r.ret < 0)
		return -1;	/* do not join: it may be stuck in another view */
	pthread_join(w->th, NULL);
	close(w->ch.cmd_wr);
	close(w->ch.rsp_rd);
	close(w->cmd_rd);
	close(w->rsp_wr);
	munmap(w->stack, w->stack_size);
	return 0;
}

int mvt_child_pipes(struct mvt_child *c)
{
	int cmd[2], rsp[2];

	memset(c, 0, sizeof(*c));
	if (pipe2(cmd, O_CLOEXEC) || pipe2(rsp, O_CLOEXEC))
		return -errno;
	c->cmd_rd = cmd[0];
	c->ch.cmd_wr = cmd[1];
	c->ch.rsp_rd = rsp[0];
	c->rsp_wr = rsp[1];
	return 0;
}

int mvt_child_finish(struct mvt_child *c)
{
	int status = -1;

	if (c->pid <= 0)
		return -1;
	mvt_rpc_timeout(&c->ch, 60 * 1000, MVT_QUIT, 0, 0, 0, 0);
	if (waitpid(c->pid, &status, 0) != c->pid)
		status = -1;
	c->pid = 0;
	return status;
}

/* ---------------------------------------------------- raw clone threads */

int mvt_raw_thread_start(struct mvt_raw_thread *t, int (*fn)(void *), void *arg)
{
	const int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			  CLONE_THREAD | CLONE_SYSVSEM | CLONE_PARENT_SETTID |
			  CLONE_CHILD_CLEARTID;
	char *top;
	int r;

	if (!t->stack || t->stack_size < 65536)
		return -EINVAL;
	top = (char *)(((uintptr_t)t->stack + t->stack_size - 64) & ~(uintptr_t)63);
	t->ctid = 1;
	r = clone(fn, top, flags, arg, &t->tid, NULL, &t->ctid);
	if (r < 0)
		return -errno;
	return 0;
}

int mvt_raw_thread_wait(struct mvt_raw_thread *t, int timeout_ms)
{
	uint64_t deadline = mvt_now_ms() + (uint64_t)timeout_ms;

	while (__atomic_load_n(&t->ctid, __ATOMIC_ACQUIRE)) {
		if (mvt_now_ms() > deadline)
			return -1;
		mvt_sleep_ms(5);
	}
	return 0;
}

/* ---------------------------------------------------------------- misc */

const char *mvt_self_exe(void)
{
	static char path[PATH_MAX];

	if (!path[0]) {
		ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

		if (n < 0)
			return NULL;
		path[n] = 0;
	}
	return path;
}

uint64_t mvt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void mvt_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int mvt_workers_to_views(struct mvt_worker *w, long *view, int n)
{
	struct mvt_res r;
	int i;

	view[0] = 0;
	for (i = 1; i < n; i++) {
		view[i] = mmview_create();
		if (view[i] < 1)
			return -errno;
		r = mvt_rpc(&w[i].ch, MVT_MIGRATE, view[i], 0, 0, 0);
		if (r.rpc || r.ret != 0)
			return -EIO;
	}
	return 0;
}

void mvt_workers_stop_views(struct mvt_worker *w, long *view, int n)
{
	int i;

	for (i = 0; i < n; i++)
		mvt_worker_stop(&w[i]);
	for (i = 1; i < n; i++)
		if (view[i] > 0)
			mmview_delete(view[i]);
}

/* Swap on zram0 of the guest, set up once per boot. */
int mvt_zram_swap_on(size_t bytes)
{
	char buf[64];
	size_t ps = mvt_page_size();
	uint32_t *hdr;
	int fd, err = 0;

	if (mvt_read_file("/proc/swaps", buf, sizeof(buf)) > 0 &&
	    strchr(buf, '\n') && strchr(buf, '\n')[1])
		return 0;	/* a swap area is active */
	snprintf(buf, sizeof(buf), "%zu", bytes);
	mvt_write_file("/sys/block/zram0/disksize", buf);
	fd = open("/dev/zram0", O_RDWR);
	if (fd < 0)
		return -errno;
	hdr = calloc(1, ps);
	if (!hdr) {
		close(fd);
		return -ENOMEM;
	}
	/* union swap_header: version 1, last page, "SWAPSPACE2" magic. */
	hdr[1024 / 4] = 1;
	hdr[1024 / 4 + 1] = (uint32_t)(bytes / ps - 1);
	memcpy((char *)hdr + ps - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, hdr, ps, 0) != (ssize_t)ps)
		err = -EIO;
	free(hdr);
	fsync(fd);
	close(fd);
	if (!err && syscall(SYS_swapon, "/dev/zram0", 0))
		err = -errno;
	return err;
}
