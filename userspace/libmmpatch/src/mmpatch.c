// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmmpatch: live patching with address-space views.
 *
 * The program's executable segments are unshared at startup, so every view
 * can hold its own copy of the text.  A patch is applied by one thread, the
 * patcher: it loads the patch, creates a view from the view every thread
 * runs in, moves itself there, writes the jumps (only that view's text
 * changes), and publishes the view.  Each thread moves into it at its next
 * quiescence point; when the last one has moved, the old view is deleted.
 * A thread runs either the old text or the new one, never a mix, and never
 * waits for another thread.
 *
 * Synchronisation: one mutex and one condition variable for every state
 * change, plus a generation counter that threads read without the lock in
 * mmpatch_quiescent(); it changes whenever threads have something to do.
 * Whether every thread has moved is read from /proc/self/task/TID/status
 * (MMView:), so threads that never registered anywhere count too.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mmview.h>

#include "internal.h"

#define DEFAULT_TIMEOUT_MS	5000
#define MAX_DEPTH		64
/* How often the patcher rereads every thread's view while it waits. */
#define RESCAN_NS		(20 * 1000 * 1000ULL)

/* A function entry some patch replaces, with its original bytes. */
struct site {
	uintptr_t addr;
	size_t room;
	size_t dirty;		/* bytes that ever differed from orig */
	unsigned char orig[MMP_MAX_JUMP];
	const struct mmp_text *text;
};

/* One change of the text: site gets bytes (before: what it had). */
struct change {
	struct site *site;
	size_t len;
	unsigned char bytes[MMP_MAX_JUMP];
	unsigned char before[MMP_MAX_JUMP];
};

struct plan {
	struct change *c;
	size_t n;
	struct mmp_patch *stack[MAX_DEPTH];	/* the patches afterwards */
	unsigned int depth;
	struct mmp_patch *added, *removed;
};

struct request {
	bool revert;
	enum mmpatch_method how;
	const char *path;
	uint64_t t0;
	struct mmpatch_result res;
	int ret;
	bool done;
	struct request *next;
};

/* Read without the lock by mmpatch_quiescent(): on a line of its own. */
static atomic_uint mp_gen __attribute__((aligned(64)));

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* any state change below */
	/* under lock */
	long view;			/* every thread's view; -1: none yet */
	long pending;			/* view being switched to, or -1 */
	unsigned long moved;		/* threads moved into pending */
	bool barrier;			/* a global patch waits */
	unsigned int barrier_gen;	/* bumped when the barrier opens */
	pid_t *arrived;			/* threads waiting at the barrier */
	size_t narrived, arrived_cap;
	struct request *head, *tail;
	/* set by mmpatch_init() */
	bool ready, views, debug;
	int wake[2];
	int listen_fd;
	unsigned int timeout_ms;
	pid_t patcher_tid;
	/* the patcher's own */
	struct mmp_program prog;
	struct mmp_patch *stack[MAX_DEPTH];
	unsigned int depth;
	struct site *sites;
	size_t nsites, sites_cap;
} mp = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.view = -1,
	.pending = -1,
	.wake = { -1, -1 },
	.listen_fd = -1,
};

static __thread unsigned int my_gen;
static __thread long my_view = -2;	/* unknown until the first move */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void wait_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000ULL,
		.tv_nsec = deadline_ns % 1000000000ULL,
	};

	pthread_cond_timedwait(&mp.cond, &mp.lock, &ts);
}

/* MMPATCH_DEBUG=1: the time of each step of a patch, on stderr. */
static void trace(const struct request *rq, const char *what)
{
	if (mp.debug)
		fprintf(stderr, "mmpatch: %9.3f ms  %s\n",
			(now_ns() - rq->t0) / 1e6, what);
}

static void bump_gen_locked(void)
{
	atomic_fetch_add_explicit(&mp_gen, 1, memory_order_release);
	pthread_cond_broadcast(&mp.cond);
}

static long patcher_view(void)
{
	return mp.view < 0 ? 0 : mp.view;
}

/* ---- quiescence points ---- */

static void arrive_locked(pid_t tid)
{
	pid_t *a;

	if (mp.narrived == mp.arrived_cap) {
		a = realloc(mp.arrived, (mp.arrived_cap * 2 + 16) * sizeof(*a));
		if (!a)
			return;	/* counted as missing: the patch times out */
		mp.arrived = a;
		mp.arrived_cap = mp.arrived_cap * 2 + 16;
	}
	mp.arrived[mp.narrived++] = tid;
}

/*
 * Do what the calling thread has to do at a quiescence point: move to the
 * view every thread should run in, wait at an open barrier.  Called and
 * returns with mp.lock held.
 */
static void participate_locked(void)
{
	unsigned int g;

	if (!mp.ready) {
		my_gen = atomic_load(&mp_gen);
		return;
	}
	do {
		g = atomic_load_explicit(&mp_gen, memory_order_relaxed);
		if (mp.views && mp.view >= 0 && my_view != mp.view) {
			long target = mp.view, r;

			/* Others keep moving meanwhile. */
			pthread_mutex_unlock(&mp.lock);
			r = mmview_migrate(target);
			pthread_mutex_lock(&mp.lock);
			if (r >= 0) {
				my_view = target;
				if (target == mp.pending)
					mp.moved++;
				pthread_cond_broadcast(&mp.cond);
			} else if (g == atomic_load(&mp_gen)) {
				/*
				 * Only a view the patcher already gave up can
				 * be gone; it reports this thread, and the next
				 * change of mp_gen brings it here again.
				 */
				break;
			}
		}
		if (mp.barrier && g == atomic_load(&mp_gen)) {
			unsigned int b = mp.barrier_gen;

			arrive_locked(my_tid());
			pthread_cond_broadcast(&mp.cond);
			while (mp.barrier && mp.barrier_gen == b)
				pthread_cond_wait(&mp.cond, &mp.lock);
			/* The text may have changed under this CPU. */
			mmp_sync_core();
		}
	} while (g != atomic_load_explicit(&mp_gen, memory_order_relaxed));
	my_gen = g;
}

MMP_EXPORT void mmpatch_quiescent(void)
{
	if (atomic_load_explicit(&mp_gen, memory_order_acquire) == my_gen)
		return;
	pthread_mutex_lock(&mp.lock);
	participate_locked();
	pthread_mutex_unlock(&mp.lock);
}

/* ---- the threads of the process ---- */

struct laggards {
	int n;
	char text[200];
};

static void note_laggard(struct laggards *lg, pid_t tid)
{
	char path[64], comm[32] = "?";
	size_t used = strlen(lg->text);
	ssize_t r;
	int fd;

	if (lg->n++ >= 4) {
		if (lg->n == 5 && used + 5 < sizeof(lg->text))
			strcat(lg->text, ", ...");
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		r = read(fd, comm, sizeof(comm) - 1);
		comm[r > 0 ? r : 0] = 0;
		comm[strcspn(comm, "\n")] = 0;
		close(fd);
	}
	snprintf(lg->text + used, sizeof(lg->text) - used, "%s%d (%s)",
		 used ? ", " : "", tid, comm);
}

/* MMView: of a thread; -1 if it is gone, -2 without the line. */
static long view_of(pid_t tid)
{
	char path[64], buf[8192], *p;
	size_t n = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (n < sizeof(buf) - 1 &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	close(fd);
	if (!n)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nMMView:");
	return p ? strtol(p + 8, NULL, 10) : -2;
}

static bool has_arrived(pid_t tid, const pid_t *arrived, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (arrived[i] == tid)
			return true;
	return false;
}

enum scan {
	SCAN_COUNT,	/* how many threads the process has */
	SCAN_VIEW,	/* how many are not in the view */
	SCAN_BARRIER,	/* how many are not at the barrier (but the patcher) */
};

/* Count threads of the process; lg (may be NULL) names the missing ones. */
static int scan_threads(enum scan what, long view, const pid_t *arrived,
			size_t narrived, struct laggards *lg)
{
	struct dirent *de;
	int missing = 0;
	DIR *d;

	d = opendir("/proc/self/task");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
		long v;

		if (tid <= 0)
			continue;
		if (what == SCAN_COUNT) {
			missing++;
			continue;
		}
		if (what == SCAN_BARRIER) {
			if (tid == mp.patcher_tid ||
			    has_arrived(tid, arrived, narrived))
				continue;
		} else {
			v = view_of(tid);
			if (v == view || v == -1)
				continue;
		}
		missing++;
		if (lg)
			note_laggard(lg, tid);
	}
	closedir(d);
	return missing;
}

/*
 * Wait until every thread runs in view.  Rereading every thread's status
 * is slow, so it is done when the moves counted so far could account for
 * all threads, and every RESCAN_NS in case a thread got there otherwise
 * (created by a thread already in the view).
 */
static int wait_view(long view, uint64_t deadline, struct laggards *lg)
{
	uint64_t last_scan = 0, t;
	unsigned long moved;
	int threads;

	for (;;) {
		pthread_mutex_lock(&mp.lock);
		moved = mp.moved;
		pthread_mutex_unlock(&mp.lock);
		t = now_ns();
		threads = scan_threads(SCAN_COUNT, 0, NULL, 0, NULL);
		/* + 1: the patcher moved itself */
		if (threads < 0 || (int)moved + 1 >= threads ||
		    t - last_scan >= RESCAN_NS || t >= deadline) {
			last_scan = t;
			memset(lg, 0, sizeof(*lg));
			if (!scan_threads(SCAN_VIEW, view, NULL, 0, lg))
				return 0;
		}
		if (t >= deadline)
			return -ETIMEDOUT;
		pthread_mutex_lock(&mp.lock);
		if (mp.moved == moved) {
			t += RESCAN_NS / 4;
			wait_until(t < deadline ? t : deadline);
		}
		pthread_mutex_unlock(&mp.lock);
	}
}

/* ---- planning and writing the text ---- */

static struct site *site_get(const struct mmp_repl *r, struct mmp_err *e)
{
	struct site *s;
	size_t i;

	for (i = 0; i < mp.nsites; i++)
		if (mp.sites[i].addr == r->site)
			return &mp.sites[i];
	if (mp.nsites == mp.sites_cap) {
		size_t cap = mp.sites_cap * 2 + 32;
		struct site *n = realloc(mp.sites, cap * sizeof(*n));

		if (!n) {
			mmp_fail(e, ENOMEM, "out of memory");
			return NULL;
		}
		/* Patches keep no pointers into the table. */
		mp.sites = n;
		mp.sites_cap = cap;
	}
	s = &mp.sites[mp.nsites++];
	memset(s, 0, sizeof(*s));
	s->addr = r->site;
	s->room = r->room;
	s->text = r->text;
	/* No patch touched it yet: the committed view has the original. */
	memcpy(s->orig, (const void *)r->site,
	       r->room < MMP_MAX_JUMP ? r->room : MMP_MAX_JUMP);
	return s;
}

/* The topmost patch of the stack that replaces the function at site. */
static const struct mmp_repl *top_repl(struct mmp_patch *const *stack,
				       unsigned int depth, uintptr_t site)
{
	unsigned int i, j;

	for (i = depth; i-- > 0;)
		for (j = 0; j < stack[i]->nrepl; j++)
			if (stack[i]->repl[j].site == site)
				return &stack[i]->repl[j];
	return NULL;
}


static void plan_discard(struct plan *pl, bool free_added)
{
	if (free_added)
		mmp_patch_free(pl->added);
	free(pl->c);
	pl->c = NULL;
}

/*
 * What the text of the committed view must become: for every function any
 * patch ever replaced, a jump to its topmost replacement, or the original
 * bytes.  Only sites that differ are changed.
 */
static int plan_build(const struct request *rq, struct plan *pl,
		      struct mmp_err *e)
{
	unsigned int i;
	size_t k;
	int err;

	memset(pl, 0, sizeof(*pl));
	memcpy(pl->stack, mp.stack, mp.depth * sizeof(*pl->stack));
	pl->depth = mp.depth;
	if (rq->revert) {
		if (!mp.depth)
			return mmp_fail(e, ENOENT, "no patch to revert");
		pl->removed = pl->stack[--pl->depth];
	} else {
		if (mp.depth == MAX_DEPTH)
			return mmp_fail(e, ENOSPC, "%d patches are applied already",
					MAX_DEPTH);
		err = mmp_patch_load(&mp.prog, rq->path, &pl->added, e);
		if (err)
			return err;
		pl->stack[pl->depth++] = pl->added;
		for (i = 0; i < pl->added->nrepl; i++)
			if (!site_get(&pl->added->repl[i], e))
				return -ENOMEM;
	}
	pl->c = calloc(mp.nsites ? mp.nsites : 1, sizeof(*pl->c));
	if (!pl->c)
		return mmp_fail(e, ENOMEM, "out of memory");
	for (k = 0; k < mp.nsites; k++) {
		struct site *s = &mp.sites[k];
		const struct mmp_repl *r = top_repl(pl->stack, pl->depth, s->addr);
		unsigned char jump[MMP_MAX_JUMP];
		struct change *c = &pl->c[pl->n];
		size_t len = 0;

		if (r) {
			len = mmp_encode_jump(s->addr, r->new_func, s->room, jump);
			if (!len)
				return mmp_fail(e, ENOSPC,
						"%s is too small (%zu bytes) for a jump to its replacement",
						r->old_name, s->room);
		}
		c->site = s;
		c->len = len > s->dirty ? len : s->dirty;
		memcpy(c->bytes, s->orig, c->len);
		memcpy(c->bytes, jump, len);
		memcpy(c->before, (const void *)s->addr, c->len);
		if (memcmp(c->bytes, c->before, c->len))
			pl->n++;
	}
	return 0;
}

static void plan_commit(struct plan *pl)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		if (pl->c[i].len > pl->c[i].site->dirty)
			pl->c[i].site->dirty = pl->c[i].len;
	pthread_mutex_lock(&mp.lock);
	memcpy(mp.stack, pl->stack, pl->depth * sizeof(*mp.stack));
	mp.depth = pl->depth;
	pthread_mutex_unlock(&mp.lock);
	/* No view maps the text that jumped into it any more. */
	mmp_patch_free(pl->removed);
	plan_discard(pl, false);
}

/* Write code at a site of the calling thread's view. */
static int poke(const struct site *s, const unsigned char *bytes, size_t len,
		struct mmp_err *e)
{
	uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = s->addr & ~(ps - 1);
	uintptr_t b = (s->addr + len + ps - 1) & ~(ps - 1);
	int fd, err;

	/*
	 * The text is unshared, so the protection changes in this view only.
	 * It stays executable: the page may hold code running right now.
	 */
	if (!mprotect((void *)a, b - a, PROT_READ | PROT_WRITE | PROT_EXEC)) {
		memcpy((void *)s->addr, bytes, len);
		if (mprotect((void *)a, b - a, s->text->prot))
			return mmp_fail(e, errno,
					"cannot restore the protection of the text: %s",
					strerror(errno));
	} else if (errno == EACCES) {
		/*
		 * Memory-deny-write-execute forbids a writable text.  The
		 * thread's own /proc mem file writes its view all the same.
		 */
		fd = open("/proc/thread-self/mem", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return mmp_fail(e, errno, "cannot write the text: %s",
					strerror(errno));
		err = pwrite(fd, bytes, len, (off_t)s->addr) == (ssize_t)len ?
		      0 : (errno ? errno : EIO);
		close(fd);
		if (err)
			return mmp_fail(e, err, "cannot write the text: %s",
					strerror(err));
	} else {
		return mmp_fail(e, errno, "cannot make the text writable: %s",
				strerror(errno));
	}
	__builtin___clear_cache((char *)s->addr, (char *)s->addr + len);
	return 0;
}

static int write_changes(const struct plan *pl, bool undo, struct mmp_err *e)
{
	size_t i, j;
	int err = 0;

	for (i = 0; i < pl->n && !err; i++)
		err = poke(pl->c[i].site, pl->c[i].bytes, pl->c[i].len, e);
	for (j = 0; j < pl->n && !err; j++)
		if (memcmp((const void *)pl->c[j].site->addr, pl->c[j].bytes,
			   pl->c[j].len))
			err = mmp_fail(e, EIO, "the text reads back differently");
	if (err && undo)
		for (j = 0; j < i; j++)
			poke(pl->c[j].site, pl->c[j].before, pl->c[j].len, NULL);
	return err;
}

/* ---- the two methods ---- */

static int switch_view(struct request *rq, struct plan *pl, struct mmp_err *e)
{
	long old = patcher_view(), nv;
	struct laggards lg, back;
	int err;

	if (!mp.views)
		return mmp_fail(e, ENOSYS,
				"the kernel has no address-space views: only the global method works");
	nv = mmview_create();
	if (nv < 0)
		return mmp_fail(e, errno, "mmview_create: %s", strerror(errno));
	trace(rq, "view created");
	if (mmview_migrate(nv) < 0) {
		err = mmp_fail(e, errno, "mmview_migrate: %s", strerror(errno));
		mmview_delete(nv);
		return err;
	}
	/* Only the new view's text changes; nobody runs in it yet. */
	err = write_changes(pl, false, e);
	if (err) {
		mmview_migrate(old);
		mmview_delete(nv);
		return err;
	}
	rq->res.prepare_ns = now_ns() - rq->t0;
	trace(rq, "text of the new view written");

	pthread_mutex_lock(&mp.lock);
	mp.pending = nv;
	mp.moved = 0;
	mp.view = nv;
	bump_gen_locked();
	pthread_mutex_unlock(&mp.lock);

	/* The threads' time to get there runs from now. */
	err = wait_view(nv, now_ns() + mp.timeout_ms * 1000000ULL, &lg);
	if (!err) {
		rq->res.switch_ns = now_ns() - rq->t0;
		trace(rq, "every thread in the new view");
		pthread_mutex_lock(&mp.lock);
		mp.pending = -1;
		pthread_mutex_unlock(&mp.lock);
		/* Every thread has left it; the base view (0) stays. */
		if (old > 0)
			mmview_delete(old);
		return 0;
	}

	/* Give up: the threads that moved go back to the old text. */
	pthread_mutex_lock(&mp.lock);
	mp.view = old;
	mp.pending = -1;
	bump_gen_locked();
	pthread_mutex_unlock(&mp.lock);
	mmview_migrate(old);
	err = wait_view(old, now_ns() + mp.timeout_ms * 1000000ULL, &back);
	mmview_delete(nv);
	if (err) {
		/* Threads may still run the patch's code: keep it mapped. */
		pl->added = NULL;
		return mmp_fail(e, ETIMEDOUT,
				"%d thread(s) did not reach a quiescence point within %u ms: %s; the patch is not applied, but %d thread(s) have not come back from it yet: %s",
				lg.n, mp.timeout_ms, lg.text, back.n, back.text);
	}
	return mmp_fail(e, ETIMEDOUT,
			"%d thread(s) did not reach a quiescence point within %u ms: %s; the patch is not applied",
			lg.n, mp.timeout_ms, lg.text);
}

static int switch_global(struct request *rq, struct plan *pl,
			 struct mmp_err *e)
{
	uint64_t deadline = now_ns() + mp.timeout_ms * 1000000ULL, t;
	pid_t *seen = NULL;
	size_t nseen = 0;
	struct laggards lg;
	int missing, err;

	pthread_mutex_lock(&mp.lock);
	mp.barrier = true;
	mp.narrived = 0;
	bump_gen_locked();
	for (;;) {
		pid_t *n = realloc(seen, (mp.narrived + 1) * sizeof(*seen));

		if (n) {
			seen = n;
			nseen = mp.narrived;
			memcpy(seen, mp.arrived, nseen * sizeof(*seen));
		}
		pthread_mutex_unlock(&mp.lock);
		memset(&lg, 0, sizeof(lg));
		missing = scan_threads(SCAN_BARRIER, 0, seen, nseen, &lg);
		t = now_ns();
		pthread_mutex_lock(&mp.lock);
		if (!missing)
			break;
		if (t >= deadline) {
			mp.barrier = false;
			mp.barrier_gen++;
			bump_gen_locked();
			pthread_mutex_unlock(&mp.lock);
			free(seen);
			return mmp_fail(e, ETIMEDOUT,
					"%d thread(s) did not reach a quiescence point within %u ms: %s; the patch is not applied",
					lg.n, mp.timeout_ms, lg.text);
		}
		if (mp.narrived == nseen) {
			t += 5 * 1000000ULL;
			wait_until(t < deadline ? t : deadline);
		}
	}
	pthread_mutex_unlock(&mp.lock);
	free(seen);
	trace(rq, "every thread at the barrier");

	/* Every other thread waits at the barrier: patch in place. */
	err = write_changes(pl, true, e);
	rq->res.prepare_ns = now_ns() - rq->t0;
	trace(rq, "text written");

	pthread_mutex_lock(&mp.lock);
	mp.barrier = false;
	mp.barrier_gen++;
	bump_gen_locked();
	pthread_mutex_unlock(&mp.lock);
	rq->res.switch_ns = now_ns() - rq->t0;
	return err;
}

static void run_request(struct request *rq)
{
	struct mmp_err e = { rq->res.message, sizeof(rq->res.message) };
	struct plan pl;
	int err;

	rq->res.message[0] = 0;
	if (rq->how != MMPATCH_VIEW && rq->how != MMPATCH_GLOBAL) {
		err = mmp_fail(&e, EINVAL, "unknown method %d", (int)rq->how);
		memset(&pl, 0, sizeof(pl));
	} else {
		err = plan_build(rq, &pl, &e);
		trace(rq, err ? "refused" : "patch loaded, changes planned");
	}
	if (!err)
		err = rq->how == MMPATCH_GLOBAL ? switch_global(rq, &pl, &e) :
						  switch_view(rq, &pl, &e);
	if (!err)
		plan_commit(&pl);
	else
		plan_discard(&pl, true);
	rq->ret = err;
	rq->res.error = -err;
	pthread_mutex_lock(&mp.lock);
	rq->res.view = patcher_view();
	rq->res.depth = mp.depth;
	pthread_mutex_unlock(&mp.lock);
}

/* ---- the patcher thread and its control socket ---- */

static void reply_line(int fd, const char *s)
{
	size_t len = strlen(s), done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, s + done, len - done, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		done += n;
	}
}

static void format_result(const struct request *rq, char *buf, size_t len)
{
	const char *name;

	if (!rq->ret) {
		snprintf(buf, len, "ok view=%ld depth=%u prepare_us=%llu switch_us=%llu\n",
			 rq->res.view, rq->res.depth,
			 (unsigned long long)rq->res.prepare_ns / 1000,
			 (unsigned long long)rq->res.switch_ns / 1000);
		return;
	}
	name = strerrorname_np(-rq->ret);
	snprintf(buf, len, "error %s: %s\n", name ? name : "?",
		 rq->res.message);
}

/*
 * One command per connection: "apply <path> [view|global]",
 * "revert [view|global]" or "status"; one reply line.
 */
static void serve_control(void)
{
	struct timeval tv = { .tv_sec = 2 };
	char line[1024], reply[512], *save, *cmd, *arg, *how;
	struct request rq;
	size_t n = 0;
	ssize_t r;
	int fd;

	fd = accept4(mp.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (n < sizeof(line) - 1) {
		r = read(fd, line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += r;
		if (memchr(line, '\n', n))
			break;
	}
	line[n] = 0;
	line[strcspn(line, "\r\n")] = 0;

	memset(&rq, 0, sizeof(rq));
	rq.t0 = now_ns();
	cmd = strtok_r(line, " \t", &save);
	arg = cmd ? strtok_r(NULL, " \t", &save) : NULL;
	how = arg ? strtok_r(NULL, " \t", &save) : NULL;
	if (cmd && !strcmp(cmd, "revert")) {
		rq.revert = true;
		how = arg;
		arg = NULL;
	}
	if (cmd && !strcmp(cmd, "status")) {
		pthread_mutex_lock(&mp.lock);
		snprintf(reply, sizeof(reply), "ok view=%ld depth=%u views=%d\n",
			 patcher_view(), mp.depth, mp.views);
		pthread_mutex_unlock(&mp.lock);
	} else if (!cmd || (strcmp(cmd, "apply") && !rq.revert) ||
		   (!rq.revert && !arg) ||
		   (how && strcmp(how, "view") && strcmp(how, "global"))) {
		snprintf(reply, sizeof(reply),
			 "error EINVAL: usage: apply <patch> [view|global] | revert [view|global] | status\n");
	} else {
		rq.how = how && !strcmp(how, "global") ? MMPATCH_GLOBAL :
							 MMPATCH_VIEW;
		rq.path = arg;
		run_request(&rq);
		format_result(&rq, reply, sizeof(reply));
	}
	reply_line(fd, reply);
	close(fd);
}

static struct request *dequeue(void)
{
	struct request *rq;

	pthread_mutex_lock(&mp.lock);
	rq = mp.head;
	if (rq) {
		mp.head = rq->next;
		if (!mp.head)
			mp.tail = NULL;
	}
	pthread_mutex_unlock(&mp.lock);
	return rq;
}

static void *patcher_main(void *arg)
{
	struct pollfd p[2];
	struct request *rq;
	char buf[64];

	(void)arg;
	prctl(PR_SET_NAME, "mmpatch", 0, 0, 0);
	mp.patcher_tid = my_tid();
	for (;;) {
		p[0] = (struct pollfd){ .fd = mp.wake[0], .events = POLLIN };
		p[1] = (struct pollfd){ .fd = mp.listen_fd, .events = POLLIN };
		if (poll(p, mp.listen_fd >= 0 ? 2 : 1, -1) < 0)
			continue;
		if (p[0].revents) {
			while (read(mp.wake[0], buf, sizeof(buf)) > 0)
				;
			while ((rq = dequeue())) {
				run_request(rq);
				pthread_mutex_lock(&mp.lock);
				rq->done = true;
				pthread_cond_broadcast(&mp.cond);
				pthread_mutex_unlock(&mp.lock);
			}
		}
		if (mp.listen_fd >= 0 && p[1].revents)
			serve_control();
	}
	return NULL;
}

/* ---- API ---- */

static int submit(struct request *rq, struct mmpatch_result *res)
{
	if (!mp.ready) {
		rq->ret = -EINVAL;
		snprintf(rq->res.message, sizeof(rq->res.message),
			 "mmpatch_init() was not called");
	} else {
		rq->t0 = now_ns();
		pthread_mutex_lock(&mp.lock);
		if (mp.tail)
			mp.tail->next = rq;
		else
			mp.head = rq;
		mp.tail = rq;
		pthread_mutex_unlock(&mp.lock);
		/* Only a full pipe fails: a wake-up is pending then anyway. */
		if (write(mp.wake[1], "", 1) < 0)
			errno = 0;
		/* Waiting here is a quiescence point of this thread. */
		pthread_mutex_lock(&mp.lock);
		for (;;) {
			participate_locked();
			if (rq->done)
				break;
			wait_until(now_ns() + 100 * 1000000ULL);
		}
		pthread_mutex_unlock(&mp.lock);
	}
	rq->res.error = -rq->ret;
	if (res)
		*res = rq->res;
	return rq->ret;
}

MMP_EXPORT int mmpatch_apply(const char *path, enum mmpatch_method how,
			     struct mmpatch_result *res)
{
	struct request rq = { .how = how, .path = path };

	return submit(&rq, res);
}

MMP_EXPORT int mmpatch_revert(enum mmpatch_method how,
			      struct mmpatch_result *res)
{
	struct request rq = { .revert = true, .how = how };

	return submit(&rq, res);
}

MMP_EXPORT int mmpatch_status(struct mmpatch_status *st)
{
	pthread_mutex_lock(&mp.lock);
	st->view = patcher_view();
	st->pending_view = mp.pending;
	st->depth = mp.depth;
	st->views = mp.views;
	pthread_mutex_unlock(&mp.lock);
	return mp.ready ? 0 : -EINVAL;
}

/* The patcher thread, the views and the barrier stay with the parent. */
static void atfork_child(void)
{
	pthread_mutex_init(&mp.lock, NULL);
	pthread_cond_init(&mp.cond, NULL);
	mp.ready = false;
	mp.barrier = false;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

static int open_control_socket(const char *path, struct mmp_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return mmp_fail(e, ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mmp_fail(e, errno, "socket: %s", strerror(errno));
	unlink(path);	/* left over from an earlier run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 8) < 0) {
		close(fd);
		return mmp_fail(e, errno, "control socket %s: %s", path,
				strerror(errno));
	}
	mp.listen_fd = fd;
	return 0;
}

static int unshare_text(struct mmp_err *e)
{
	int i;

	for (i = 0; i < mp.prog.ntext; i++) {
		const struct mmp_text *t = &mp.prog.text[i];

		if (!mmview_unshare((void *)t->start, t->end - t->start))
			continue;
		if (errno == ENOSYS) {
			mp.views = false;
			return 0;
		}
		if (errno == EPERM)
			return mmp_fail(e, EPERM,
					"the process has views already: call mmpatch_init() before any view is created");
		return mmp_fail(e, errno, "mmview_unshare of the text: %s",
				strerror(errno));
	}
	mp.views = true;
	return 0;
}

MMP_EXPORT int mmpatch_init(const struct mmpatch_config *cfg)
{
	static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
	char msg[256] = "";
	struct mmp_err e = { msg, sizeof(msg) };
	pthread_condattr_t ca;
	sigset_t all, old;
	pthread_t thread;
	int err;

	if (mp.ready)
		return -EALREADY;
	mp.timeout_ms = cfg && cfg->timeout_ms ? cfg->timeout_ms :
						 DEFAULT_TIMEOUT_MS;
	mp.debug = getenv("MMPATCH_DEBUG") && *getenv("MMPATCH_DEBUG") == '1';
	err = mmp_program_init(&mp.prog, &e);
	if (!err)
		err = unshare_text(&e);
	if (!err && pipe2(mp.wake, O_CLOEXEC | O_NONBLOCK) < 0)
		err = mmp_fail(&e, errno, "pipe: %s", strerror(errno));
	if (!err && cfg && cfg->control_socket)
		err = open_control_socket(cfg->control_socket, &e);
	if (!err) {
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&mp.cond, &ca);
		pthread_condattr_destroy(&ca);
		pthread_once(&atfork_once, register_atfork);
		/* Signals are for the program's threads, not the patcher. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		err = -pthread_create(&thread, NULL, patcher_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (err)
			mmp_fail(&e, -err, "cannot start the patcher thread: %s",
				 strerror(-err));
		else
			pthread_detach(thread);
	}
	if (err) {
		fprintf(stderr, "mmpatch: %s\n", msg);
		/* Leave nothing behind: mmpatch_init() may be called again. */
		if (mp.listen_fd >= 0)
			close(mp.listen_fd);
		if (mp.wake[0] >= 0) {
			close(mp.wake[0]);
			close(mp.wake[1]);
		}
		mp.listen_fd = mp.wake[0] = mp.wake[1] = -1;
		mmp_program_free(&mp.prog);
		return err;
	}
	mp.ready = true;
	return 0;
}

/* ---- control client ---- */

MMP_EXPORT int mmpatch_control(const char *socket_path, const char *command,
			       char *reply, size_t len, unsigned int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ns() + timeout_ms * 1000000ULL;
	char buf[1024];
	size_t n = 0;
	ssize_t r;
	int fd, err = 0;

	if (len)
		reply[0] = 0;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	snprintf(buf, sizeof(buf), "%s\n", command);
	if (send(fd, buf, strlen(buf), MSG_NOSIGNAL) != (ssize_t)strlen(buf)) {
		err = -EIO;
		goto out;
	}
	while (n < sizeof(buf) - 1 && !memchr(buf, '\n', n)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int wait = -1;

		if (timeout_ms) {
			uint64_t t = now_ns();

			if (t >= deadline) {
				err = -ETIMEDOUT;
				goto out;
			}
			wait = (int)((deadline - t) / 1000000ULL) + 1;
		}
		if (poll(&p, 1, wait) < 0 && errno != EINTR) {
			err = -errno;
			goto out;
		}
		if (!p.revents)
			continue;
		r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += r;
		buf[n] = 0;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (len)
		snprintf(reply, len, "%s", buf);
	err = strncmp(buf, "ok", 2) ? -EPROTO : 0;
out:
	close(fd);
	return err;
}
