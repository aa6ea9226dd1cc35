// SPDX-License-Identifier: GPL-2.0
/*
 * Futexes between threads in different views of one process: private and
 * shared futex wait/wake and requeue, PI futexes, robust lists, and the
 * pthread mutex (plain, PI, robust), condition variable, rwlock, barrier and
 * join built on them. A waiter in one view must be woken by a thread in
 * another view, and a robust mutex whose owner dies in another view must be
 * reported as such.
 *
 * membarrier: registration is per process, in whichever view it is made, and
 * the expedited barriers interrupt the CPUs running threads of any view.
 *
 * rseq: the concurrency ids (mm_cid) of threads running at once are unique
 * across the whole process, whatever view each thread runs in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <linux/rseq.h>
#include <stddef.h>
#include <sched.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW	3

/* In the data segment: present in every view from the start. */
static uint32_t futex_word;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static volatile int flag, waiting;
static uint32_t futex_word2;
static pthread_mutex_t pi_mutex, robust_mutex;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t barrier;

FIXTURE(futex) {
	struct mvt_worker w[NW];
	long view[NW];
};

FIXTURE_SETUP(futex)
{
	int i;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	futex_word = 0;
	futex_word2 = 0;
	flag = 0;
	waiting = 0;
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(0, mvt_worker_start(&self->w[i]));
	}
	ASSERT_EQ(0, mvt_workers_to_views(self->w, self->view, NW));
}

FIXTURE_TEARDOWN(futex)
{
	mvt_workers_stop_views(self->w, self->view, NW);
}

static long w_futex_wait(long op, long c, long d, long *out)
{
	long r;

	(void)c;
	(void)d;
	(void)out;
	waiting = 1;
	do {
		r = syscall(SYS_futex, &futex_word, (int)op, 0, NULL, NULL, 0);
	} while (r && errno == EINTR);
	return r;
}

static long w_mutex_lock(long b, long c, long d, long *out)
{
	(void)b;
	(void)c;
	(void)d;
	(void)out;
	waiting = 1;
	pthread_mutex_lock(&mutex);
	flag = 1;
	pthread_mutex_unlock(&mutex);
	return 0;
}

static long w_cond_wait(long b, long c, long d, long *out)
{
	(void)b;
	(void)c;
	(void)d;
	(void)out;
	pthread_mutex_lock(&mutex);
	waiting = 1;
	while (!flag)
		pthread_cond_wait(&cond, &mutex);
	pthread_mutex_unlock(&mutex);
	return 0;
}

struct call {
	const struct mvt_chan *ch;
	mvt_call_fn fn;
	long arg;
	struct mvt_res res;
};

static void *call_rpc(void *p)
{
	struct call *c = p;

	c->res = mvt_rpc(c->ch, MVT_CALL, (long)c->fn, c->arg, 0, 0);
	return NULL;
}

/* Start fn in a worker, wait until it is about to block. */
static void start_call(struct __test_metadata *_metadata, struct call *c,
		       pthread_t *th)
{
	ASSERT_EQ(0, pthread_create(th, NULL, call_rpc, c));
	while (!__atomic_load_n(&waiting, __ATOMIC_ACQUIRE))
		usleep(1000);
	usleep(200 * 1000);	/* into the futex wait */
}

/* Wake one waiter at futex_word, retrying while it is still on its way. */
static long wake(int op)
{
	long woken = 0;
	int i;

	for (i = 0; i < 50 && !woken; i++) {
		woken = syscall(SYS_futex, &futex_word, op, 1, NULL, NULL, 0);
		if (!woken)
			usleep(20 * 1000);
	}
	return woken;
}

/* Worker k waits with wait_op in its view; the base wakes with wake_op. */
static void wait_in_view_woken_from_base(struct __test_metadata *_metadata,
					 FIXTURE_DATA(futex) *self, int k,
					 int wait_op, int wake_op)
{
	struct call c = { .ch = &self->w[k].ch, .fn = w_futex_wait,
			  .arg = wait_op };
	pthread_t th;

	start_call(_metadata, &c, &th);
	ASSERT_EQ(1, wake(wake_op))
		TH_LOG("the waiter in view %ld was not found", self->view[k]);
	pthread_join(th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0, c.res.ret);
}

TEST_F_TIMEOUT(futex, private_wait_in_view_woken_from_base, 120)
{
	wait_in_view_woken_from_base(_metadata, self, 1, FUTEX_WAIT_PRIVATE,
				     FUTEX_WAKE_PRIVATE);
}

TEST_F_TIMEOUT(futex, shared_wait_in_view_woken_from_base, 120)
{
	wait_in_view_woken_from_base(_metadata, self, 2, FUTEX_WAIT,
				     FUTEX_WAKE);
}

/*
 * The test holds a lock; worker k runs fn, which must block on the lock
 * (flag stays 0) until release() drops it, then take it and set flag.
 */
static void blocked_until_released(struct __test_metadata *_metadata,
				   FIXTURE_DATA(futex) *self, int k,
				   mvt_call_fn fn, int (*release)(void),
				   const char *what)
{
	struct call c = { .ch = &self->w[k].ch, .fn = fn };
	pthread_t th;

	start_call(_metadata, &c, &th);
	ASSERT_EQ(0, flag) TH_LOG("view %ld took a held %s", self->view[k], what);
	ASSERT_EQ(0, release());
	pthread_join(th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0, c.res.ret);
	ASSERT_EQ(1, flag);
}

static int release_mutex(void)
{
	return pthread_mutex_unlock(&mutex);
}

TEST_F_TIMEOUT(futex, pthread_mutex_between_views, 120)
{
	ASSERT_EQ(0, pthread_mutex_lock(&mutex));
	blocked_until_released(_metadata, self, 1, w_mutex_lock, release_mutex,
			       "mutex");
}

static long w_requeue_wait(long b, long c, long d, long *out)
{
	long r;

	(void)b;
	(void)c;
	(void)d;
	(void)out;
	waiting = 1;
	do {
		r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0,
			    NULL, NULL, 0);
	} while (r && errno == EINTR);
	return r;
}

TEST_F_TIMEOUT(futex, requeue_from_base_to_a_waiter_in_a_view, 120)
{
	struct call c = { .ch = &self->w[1].ch, .fn = w_requeue_wait };
	long moved = 0, woken = 0;
	pthread_t th;
	int i;

	start_call(_metadata, &c, &th);
	/* Move the waiter to futex_word2, then wake it there. */
	for (i = 0; i < 50 && !moved; i++) {
		moved = syscall(SYS_futex, &futex_word, FUTEX_CMP_REQUEUE_PRIVATE,
				0, 1, &futex_word2, 0);
		if (!moved)
			usleep(20 * 1000);
	}
	ASSERT_EQ(1, moved) TH_LOG("the waiter in view 1 was not requeued");
	woken = syscall(SYS_futex, &futex_word2, FUTEX_WAKE_PRIVATE, 1, NULL,
			NULL, 0);
	ASSERT_EQ(1, woken);
	pthread_join(th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0, c.res.ret);
}

static long w_pi_lock(long b, long c, long d, long *out)
{
	int err;

	(void)b;
	(void)c;
	(void)d;
	(void)out;
	waiting = 1;
	err = pthread_mutex_lock(&pi_mutex);
	if (err)
		return -err;
	flag = 1;
	/* The kernel saw the lock contended: the owner's TID is ours. */
	out[0] = *(volatile int *)&pi_mutex.__data.__lock & FUTEX_TID_MASK;
	out[1] = mvt_gettid();
	return pthread_mutex_unlock(&pi_mutex);
}

TEST_F_TIMEOUT(futex, pi_mutex_between_views, 120)
{
	struct call c = { .ch = &self->w[2].ch, .fn = w_pi_lock };
	pthread_mutexattr_t attr;
	pthread_t th;

	ASSERT_EQ(0, pthread_mutexattr_init(&attr));
	ASSERT_EQ(0, pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT));
	ASSERT_EQ(0, pthread_mutex_init(&pi_mutex, &attr));
	ASSERT_EQ(0, pthread_mutex_lock(&pi_mutex));
	start_call(_metadata, &c, &th);
	ASSERT_EQ(0, flag) TH_LOG("view 2 took a locked PI mutex");
	/* The waiter in view 2 is queued on the PI futex in the kernel. */
	ASSERT_NE(0U, (unsigned int)pi_mutex.__data.__lock & FUTEX_WAITERS);
	ASSERT_EQ(0, pthread_mutex_unlock(&pi_mutex));
	pthread_join(th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0, c.res.ret);
	ASSERT_EQ(1, flag);
	ASSERT_EQ(c.res.out[1], c.res.out[0]);
	pthread_mutex_destroy(&pi_mutex);
}

/* A thread that takes robust_mutex in view `arg` and dies there. */
static void *robust_owner(void *arg)
{
	if (mmview_migrate((long)arg) < 0)
		return (void *)1L;
	if (pthread_mutex_lock(&robust_mutex))
		return (void *)2L;
	__atomic_store_n(&waiting, 1, __ATOMIC_RELEASE);
	usleep(300 * 1000);	/* the main thread blocks on the mutex */
	return NULL;		/* exits in the view, holding the mutex */
}

TEST_F_TIMEOUT(futex, robust_mutex_owner_dies_in_another_view, 120)
{
	pthread_mutexattr_t attr;
	void *ret = (void *)-1L;
	pthread_t th;

	ASSERT_EQ(0, pthread_mutexattr_init(&attr));
	ASSERT_EQ(0, pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST));
	ASSERT_EQ(0, pthread_mutex_init(&robust_mutex, &attr));
	ASSERT_EQ(0, pthread_create(&th, NULL, robust_owner,
				    (void *)self->view[1]));
	while (!__atomic_load_n(&waiting, __ATOMIC_ACQUIRE))
		usleep(1000);
	/* Blocks until the owner's exit releases it through its robust list. */
	ASSERT_EQ(EOWNERDEAD, pthread_mutex_lock(&robust_mutex));
	ASSERT_EQ(0, pthread_mutex_consistent(&robust_mutex));
	ASSERT_EQ(0, pthread_mutex_unlock(&robust_mutex));
	/* pthread_join: the kernel clears and wakes the TID from view 1. */
	ASSERT_EQ(0, pthread_join(th, &ret));
	ASSERT_EQ(NULL, ret);
	pthread_mutex_destroy(&robust_mutex);
}

static long w_rdlock(long b, long c, long d, long *out)
{
	(void)b;
	(void)c;
	(void)d;
	(void)out;
	waiting = 1;
	if (pthread_rwlock_rdlock(&rwlock))
		return -1;
	flag = 1;
	return pthread_rwlock_unlock(&rwlock);
}

static int release_rwlock(void)
{
	return pthread_rwlock_unlock(&rwlock);
}

TEST_F_TIMEOUT(futex, pthread_rwlock_between_views, 120)
{
	ASSERT_EQ(0, pthread_rwlock_wrlock(&rwlock));
	blocked_until_released(_metadata, self, 1, w_rdlock, release_rwlock,
			       "write-locked rwlock");
}

static long w_barrier(long b, long c, long d, long *out)
{
	int r;

	(void)b;
	(void)c;
	(void)d;
	(void)out;
	__atomic_add_fetch(&waiting, 1, __ATOMIC_ACQ_REL);
	r = pthread_barrier_wait(&barrier);
	return r == PTHREAD_BARRIER_SERIAL_THREAD ? 1 : r;
}

TEST_F_TIMEOUT(futex, pthread_barrier_between_views, 120)
{
	struct call c1 = { .ch = &self->w[1].ch, .fn = w_barrier };
	struct call c2 = { .ch = &self->w[2].ch, .fn = w_barrier };
	pthread_t th1, th2;
	int serial, r;

	ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, 3));
	ASSERT_EQ(0, pthread_create(&th1, NULL, call_rpc, &c1));
	ASSERT_EQ(0, pthread_create(&th2, NULL, call_rpc, &c2));
	while (__atomic_load_n(&waiting, __ATOMIC_ACQUIRE) < 2)
		usleep(1000);
	usleep(200 * 1000);
	r = pthread_barrier_wait(&barrier);
	ASSERT_TRUE(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
	pthread_join(th1, NULL);
	pthread_join(th2, NULL);
	ASSERT_EQ(0, c1.res.rpc);
	ASSERT_EQ(0, c2.res.rpc);
	/* Exactly one of the three is the serial thread. */
	serial = (r == PTHREAD_BARRIER_SERIAL_THREAD) + (c1.res.ret == 1) +
		 (c2.res.ret == 1);
	ASSERT_EQ(1, serial);
	ASSERT_EQ(0, c1.res.ret < 0 || c2.res.ret < 0);
	pthread_barrier_destroy(&barrier);
}

TEST_F_TIMEOUT(futex, pthread_cond_between_views, 120)
{
	struct call c = { .ch = &self->w[2].ch, .fn = w_cond_wait };
	pthread_t th;

	start_call(_metadata, &c, &th);
	ASSERT_EQ(0, pthread_mutex_lock(&mutex));
	flag = 1;
	ASSERT_EQ(0, pthread_cond_broadcast(&cond));
	ASSERT_EQ(0, pthread_mutex_unlock(&mutex));
	pthread_join(th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0, c.res.ret);
}

static long membarrier(int cmd, unsigned int flags)
{
	return syscall(SYS_membarrier, cmd, flags, 0);
}

static long w_membarrier(long cmd, long c, long d, long *out)
{
	(void)c;
	(void)d;
	(void)out;
	return membarrier((int)cmd, 0);
}

TEST_F_TIMEOUT(futex, membarrier_registration_is_per_process, 120)
{
	long id;

	/* Registered in base, used in view 1. */
	ASSERT_EQ(0, membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0));
	ASSERT_EQ(0, WOK(&self->w[1].ch, MVT_CALL, (long)w_membarrier,
			 MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		TH_LOG("view %ld: not registered", self->view[1]);
	/* Registered in view 2, used in base: what code patching needs. */
	ASSERT_EQ(0, WOK(&self->w[2].ch, MVT_CALL, (long)w_membarrier,
			 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE));
	ASSERT_EQ(0, membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0));
	/* A view created afterwards is registered too. */
	id = WOK(&self->w[0].ch, MVT_CREATE);
	ASSERT_EQ(0, WOK(&self->w[0].ch, MVT_MIGRATE, id));
	ASSERT_EQ(0, WOK(&self->w[0].ch, MVT_CALL, (long)w_membarrier,
			 MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE));
	WOK(&self->w[0].ch, MVT_MIGRATE, 0);
}

static cpu_set_t spin_cpu;
static volatile int spin_stop;

static long w_spin(long b, long c, long d, long *out)
{
	(void)b;
	(void)c;
	(void)d;
	(void)out;
	if (sched_setaffinity(0, sizeof(spin_cpu), &spin_cpu))
		return -1;
	waiting = 1;
	while (!__atomic_load_n(&spin_stop, __ATOMIC_ACQUIRE))
		;
	return 0;
}

/*
 * Function call interrupts received by @cpu so far: the x86 "CAL:" row, or
 * the arm64 "IPIn: ... Function call interrupts" row.
 */
static long cal_count(int cpu)
{
	static char buf[16384];
	char *p, *name;
	int i;

	if (mvt_read_file("/proc/interrupts", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "CAL:");
	if (!p) {
		name = strstr(buf, "Function call interrupts");
		if (!name)
			return -1;
		while (name > buf && name[-1] != '\n')
			name--;
		p = strchr(name, ':');
		if (!p)
			return -1;
	}
	p = strchr(p, ':') + 1;
	for (i = 0; i < cpu; i++)
		strtol(p, &p, 10);
	return strtol(p, NULL, 10);
}

TEST_F_TIMEOUT(futex, membarrier_interrupts_threads_of_other_views, 120)
{
	struct call c = { .ch = &self->w[1].ch, .fn = w_spin };
	cpu_set_t me;
	long before, after;
	pthread_t th;
	int i, n = 500;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || cal_count(1) < 0)
		SKIP(return, "needs 2 CPUs and a function call interrupt count");
	CPU_ZERO(&spin_cpu);
	CPU_SET(1, &spin_cpu);
	CPU_ZERO(&me);
	CPU_SET(0, &me);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(me), &me));
	ASSERT_EQ(0, membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0));

	/* A thread of view 1 spins on CPU 1; base calls from CPU 0. */
	start_call(_metadata, &c, &th);
	before = cal_count(1);
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0));
	after = cal_count(1);
	__atomic_store_n(&spin_stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	ASSERT_EQ(0, c.res.rpc);
	ASSERT_EQ(0, c.res.ret);
	/*
	 * Only CPUs running a thread of the process get one. CPU 1 is shared
	 * with whatever else wants it (kmemleak's scan, kworkers): under TCG
	 * the spinner had it for less than half of the barriers once. Without
	 * the views in the match, CPU 1 gets next to none.
	 */
	ASSERT_LE(n / 10, after - before)
		TH_LOG("CPU 1, running view %ld, got %ld IPIs for %d barriers",
		       self->view[1], after - before, n);
}

/* glibc's registration of each thread's struct rseq (sys/rseq.h). */
extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;

static volatile struct rseq *own_rseq(void)
{
	return (volatile struct rseq *)((char *)__builtin_thread_pointer() +
					__rseq_offset);
}

static int cid_arrived, cid_published, cid_stop;

/* Pinned to CPU @cpu, running, publish this thread's rseq mm_cid. */
static long w_cid(long cpu, long c, long d, long *out)
{
	cpu_set_t set;

	(void)c;
	(void)d;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -1;
	__atomic_add_fetch(&cid_arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&cid_arrived, __ATOMIC_ACQUIRE) < NW + 1)
		;
	/* Everybody runs: the ids handed out now are in use together. */
	out[0] = own_rseq()->mm_cid;
	out[1] = own_rseq()->cpu_id;
	__atomic_add_fetch(&cid_published, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&cid_stop, __ATOMIC_ACQUIRE))
		;
	return 0;
}

TEST_F_TIMEOUT(futex, rseq_mm_cid_unique_across_views, 120)
{
	struct call c[NW];
	pthread_t th[NW];
	long cid[NW + 1];
	cpu_set_t me;
	int i, j;

	if (sysconf(_SC_NPROCESSORS_ONLN) < NW + 1)
		SKIP(return, "needs %d CPUs", NW + 1);
	/*
	 * glibc registers the original 32-byte area, which has mm_cid, and
	 * tells only its feature size (20) in __rseq_size, or 0 if it did not
	 * register.
	 */
	if (!__rseq_size)
		SKIP(return, "glibc has not registered rseq");
	CPU_ZERO(&me);
	CPU_SET(0, &me);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(me), &me));
	cid_arrived = 0;
	cid_published = 0;
	cid_stop = 0;
	/* Worker 0 in the base, workers 1 and 2 alone in views of their own. */
	for (i = 0; i < NW; i++) {
		c[i] = (struct call){ .ch = &self->w[i].ch, .fn = w_cid,
				      .arg = i + 1 };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, call_rpc, &c[i]));
	}
	__atomic_add_fetch(&cid_arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&cid_published, __ATOMIC_ACQUIRE) < NW)
		usleep(1000);
	cid[NW] = own_rseq()->mm_cid;
	__atomic_store_n(&cid_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NW; i++) {
		pthread_join(th[i], NULL);
		ASSERT_EQ(0, c[i].res.rpc);
		ASSERT_EQ(0, c[i].res.ret);
		ASSERT_EQ(i + 1, c[i].res.out[1]);
		cid[i] = c[i].res.out[0];
	}
	TH_LOG("cids: base %ld (worker 0), view %ld: %ld, view %ld: %ld, base %ld (main)",
	       cid[0], self->view[1], cid[1], self->view[2], cid[2], cid[NW]);
	for (i = 0; i <= NW; i++) {
		/* Compact: below the number of threads running at once. */
		ASSERT_GT(NW + 1, cid[i]);
		for (j = 0; j < i; j++)
			ASSERT_NE(cid[j], cid[i]);
	}
}

TEST_HARNESS_MAIN
