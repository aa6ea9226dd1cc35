// SPDX-License-Identifier: GPL-2.0
/*
 * libmmpatch: live patches applied to this program while its threads run.
 *
 * Worker threads call pt_answer() and pt_other() in a loop and publish
 * what they returned; in RUN mode they call mmpatch_quiescent() every
 * round, in HOLD mode they do not (a thread that has not reached its
 * quiescence point).  Every check reads the values each thread observed
 * after the event, and the view each thread runs in.
 *
 * The patches (the files in mmview_patch/) are built for this binary by the
 * Makefile and stored in it as sections mmpatch.<name>; each test writes
 * them to a folder in /tmp first.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mmpatch.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"
#include "mmview_patch/pt.h"

#define NWORKERS	3
#define OBSERVE_MS	(120 * 1000)
/* Long enough for the slowest emulated guest, short enough for a test. */
#define PATCH_TIMEOUT_MS (60 * 1000)
#define SHORT_TIMEOUT_MS 3000

/* ---- the code the patches replace ---- */

int pt_base = 100;

MMPATCH_PATCHABLE int pt_helper(int x)
{
	return 2 * x;
}

MMPATCH_PATCHABLE int pt_answer(void)
{
	return 1;
}

MMPATCH_PATCHABLE int pt_other(void)
{
	return 10;
}

MMPATCH_PATCHABLE void pt_tiny(void)
{
}

/* ---- workers ---- */

enum { W_RUN, W_HOLD, W_EXIT };

struct pt_worker {
	pthread_t th;
	atomic_int mode;
	atomic_int answer, other;
	atomic_long view;
	atomic_ulong rounds;
	atomic_int tid;
};

static void *worker_main(void *arg)
{
	struct pt_worker *w = arg;
	int mode;

	atomic_store(&w->tid, mvt_gettid());
	while ((mode = atomic_load(&w->mode)) != W_EXIT) {
		if (mode == W_RUN)
			mmpatch_quiescent();
		atomic_store(&w->answer, pt_answer());
		atomic_store(&w->other, pt_other());
		atomic_store(&w->view, mmview_migrate(-1));
		atomic_fetch_add(&w->rounds, 1);
		usleep(200);
	}
	return NULL;
}

struct observed {
	int answer, other;
	long view;
};

/* What a worker returns in rounds that started after this call. */
static int observe(struct pt_worker *w, struct observed *o)
{
	unsigned long start = atomic_load(&w->rounds);
	uint64_t deadline = mvt_now_ms() + OBSERVE_MS;

	while (atomic_load(&w->rounds) < start + 2) {
		if (mvt_now_ms() > deadline)
			return -1;
		usleep(500);
	}
	o->answer = atomic_load(&w->answer);
	o->other = atomic_load(&w->other);
	o->view = atomic_load(&w->view);
	return 0;
}

/* ---- the patches stored in this binary ---- */

static char patch_dir[64];

static int extract_patches(void)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const char *strs;
	struct stat st;
	void *file;
	int fd, i, n = 0;

	snprintf(patch_dir, sizeof(patch_dir), "/tmp/mmview_patch_test.%d",
		 (int)getpid());
	if (mkdir(patch_dir, 0755) && errno != EEXIST)
		return -1;
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		return -1;
	file = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (file == MAP_FAILED)
		return -1;
	eh = file;
	sh = (const Elf64_Shdr *)((const char *)file + eh->e_shoff);
	strs = (const char *)file + sh[eh->e_shstrndx].sh_offset;
	for (i = 0; i < eh->e_shnum; i++) {
		const char *name = strs + sh[i].sh_name;
		char path[128];
		ssize_t w;

		if (strncmp(name, "mmpatch.", 8))
			continue;
		snprintf(path, sizeof(path), "%s/%s.mmpatch", patch_dir, name + 8);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		w = write(fd, (const char *)file + sh[i].sh_offset, sh[i].sh_size);
		close(fd);
		if (w != (ssize_t)sh[i].sh_size)
			return -1;
		n++;
	}
	munmap(file, st.st_size);
	return n;
}

static const char *patch(const char *name)
{
	static char path[8][128];
	static int next;
	char *p = path[next++ % 8];

	snprintf(p, sizeof(path[0]), "%s/%s.mmpatch", patch_dir, name);
	return p;
}

static void remove_patches(void)
{
	static const char *const names[] = {
		"answer2", "answer3_other", "other_data", "unknown", "badref",
		"tiny", "foreign",
	};
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(patch(names[i]));
	rmdir(patch_dir);
}

/* ---- fixture ---- */

FIXTURE(patch) {
	struct pt_worker w[NWORKERS];
	int started;
};

FIXTURE_SETUP(patch)
{
	ASSERT_MMVIEW_AVAILABLE();
	ASSERT_EQ(7, extract_patches())
		TH_LOG("the patches are not in the binary: build it with tests/guest/c/Makefile");
	self->started = 0;
}

FIXTURE_TEARDOWN(patch)
{
	int i;

	for (i = 0; i < self->started; i++)
		atomic_store(&self->w[i].mode, W_EXIT);
	for (i = 0; i < self->started; i++)
		pthread_join(self->w[i].th, NULL);
	remove_patches();
}

static int start(struct _test_data_patch *self, unsigned int timeout_ms,
		 const char *sock)
{
	struct mmpatch_config cfg = {
		.control_socket = sock,
		.timeout_ms = timeout_ms,
	};
	int err, i;

	err = mmpatch_init(&cfg);
	if (err)
		return err;
	for (i = 0; i < NWORKERS; i++) {
		atomic_store(&self->w[i].mode, W_RUN);
		atomic_store(&self->w[i].rounds, 0);
		if (pthread_create(&self->w[i].th, NULL, worker_main, &self->w[i]))
			return -EAGAIN;
		self->started++;
	}
	return 0;
}

/* Every worker, and the calling thread, returns answer and other. */
#define EXPECT_ALL(ans, oth) do {						\
	struct observed __o;							\
	int __i;								\
	for (__i = 0; __i < NWORKERS; __i++) {				\
		ASSERT_EQ(0, observe(&self->w[__i], &__o))			\
			TH_LOG("worker %d stopped", __i);			\
		EXPECT_EQ((ans), __o.answer)					\
			TH_LOG("worker %d: pt_answer()", __i);			\
		EXPECT_EQ((oth), __o.other)					\
			TH_LOG("worker %d: pt_other()", __i);			\
	}									\
	EXPECT_EQ((ans), pt_answer()) TH_LOG("main thread: pt_answer()");	\
	EXPECT_EQ((oth), pt_other()) TH_LOG("main thread: pt_other()");	\
} while (0)

/* Every worker and the calling thread run in view v. */
#define EXPECT_VIEW(v) do {							\
	struct observed __o;							\
	int __i;								\
	for (__i = 0; __i < NWORKERS; __i++) {				\
		ASSERT_EQ(0, observe(&self->w[__i], &__o));			\
		EXPECT_EQ((long)(v), __o.view) TH_LOG("worker %d", __i);	\
	}									\
	EXPECT_EQ((long)(v), mmview_migrate(-1)) TH_LOG("main thread");	\
} while (0)

#define APPLY_OK(how, name, res) do {						\
	int __r = mmpatch_apply(patch(name), (how), (res));			\
	ASSERT_EQ(0, __r) TH_LOG("apply %s: %s", name, (res)->message);	\
} while (0)

#define REVERT_OK(how, res) do {						\
	int __r = mmpatch_revert((how), (res));				\
	ASSERT_EQ(0, __r) TH_LOG("revert: %s", (res)->message);		\
} while (0)

/* ---- every thread moves; the old view goes ---- */

TEST_F_TIMEOUT(patch, every_thread_runs_the_new_code, 600)
{
	struct mmpatch_result r1, r2;
	struct mmpatch_status st;

	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	EXPECT_ALL(1, 10);
	EXPECT_VIEW(0);

	APPLY_OK(MMPATCH_VIEW, "answer2", &r1);
	EXPECT_LT(0, r1.view);
	EXPECT_EQ(1U, r1.depth);
	EXPECT_LE(r1.prepare_ns, r1.switch_ns);
	EXPECT_ALL(2, 10);
	EXPECT_VIEW(r1.view);

	APPLY_OK(MMPATCH_VIEW, "answer3_other", &r2);
	EXPECT_NE(r1.view, r2.view);
	EXPECT_EQ(2U, r2.depth);
	EXPECT_ALL(3, 30);
	EXPECT_VIEW(r2.view);
	/* Every thread left r1.view, so the patcher deleted it. */
	EXPECT_EQ(-1, mmview_migrate(r1.view));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, mmpatch_status(&st));
	EXPECT_EQ(r2.view, st.view);
	EXPECT_EQ(-1, st.pending_view);
	EXPECT_EQ(2U, st.depth);
}

TEST_F_TIMEOUT(patch, new_threads_run_the_new_code, 600)
{
	struct mmpatch_result r;
	struct pt_worker late = { .mode = W_RUN };
	struct observed o;

	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	APPLY_OK(MMPATCH_VIEW, "answer2", &r);
	ASSERT_EQ(0, pthread_create(&late.th, NULL, worker_main, &late));
	ASSERT_EQ(0, observe(&late, &o));
	EXPECT_EQ(2, o.answer);
	EXPECT_EQ(r.view, o.view);
	atomic_store(&late.mode, W_EXIT);
	pthread_join(late.th, NULL);
}

/* ---- a thread that has not reached its quiescence point ---- */

struct applier {
	pthread_t th;
	const char *path;
	int ret;
	struct mmpatch_result res;
};

static void *applier_main(void *arg)
{
	struct applier *a = arg;

	a->ret = mmpatch_apply(a->path, MMPATCH_VIEW, &a->res);
	return NULL;
}

TEST_F_TIMEOUT(patch, threads_not_yet_quiescent_run_the_old_code, 600)
{
	struct applier a = { .path = patch("answer2") };
	struct mmpatch_status st;
	struct observed o;
	uint64_t deadline;

	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	atomic_store(&self->w[1].mode, W_HOLD);
	ASSERT_EQ(0, pthread_create(&a.th, NULL, applier_main, &a));

	/* The patched view exists; worker 0 moves, worker 1 does not. */
	deadline = mvt_now_ms() + OBSERVE_MS;
	do {
		ASSERT_EQ(0, mmpatch_status(&st));
		ASSERT_LT(mvt_now_ms(), deadline) TH_LOG("no patch pending");
		usleep(1000);
	} while (st.pending_view < 0);

	ASSERT_EQ(0, observe(&self->w[0], &o));
	EXPECT_EQ(2, o.answer);
	EXPECT_EQ(st.pending_view, o.view);
	ASSERT_EQ(0, observe(&self->w[1], &o));
	EXPECT_EQ(1, o.answer);
	EXPECT_EQ(0, o.view);
	/* Neither has this thread: it runs the old code too. */
	EXPECT_EQ(1, pt_answer());
	EXPECT_EQ(0, mmview_migrate(-1));

	mmpatch_quiescent();
	EXPECT_EQ(2, pt_answer());
	EXPECT_EQ(st.pending_view, mmview_migrate(-1));
	ASSERT_EQ(0, observe(&self->w[1], &o));
	EXPECT_EQ(1, o.answer) TH_LOG("worker 1 moved without a quiescence point");
	ASSERT_EQ(0, mmpatch_status(&st));
	EXPECT_LE(0, st.pending_view) TH_LOG("complete while a thread is behind");

	atomic_store(&self->w[1].mode, W_RUN);
	pthread_join(a.th, NULL);
	ASSERT_EQ(0, a.ret) TH_LOG("%s", a.res.message);
	EXPECT_ALL(2, 10);
	EXPECT_VIEW(a.res.view);
}

/* ---- revert and stacking ---- */

TEST_F_TIMEOUT(patch, revert, 600)
{
	struct mmpatch_result r;

	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	APPLY_OK(MMPATCH_VIEW, "answer2", &r);
	EXPECT_ALL(2, 10);
	REVERT_OK(MMPATCH_VIEW, &r);
	EXPECT_EQ(0U, r.depth);
	EXPECT_ALL(1, 10);
	EXPECT_VIEW(r.view);

	EXPECT_EQ(-ENOENT, mmpatch_revert(MMPATCH_VIEW, &r));
	EXPECT_NE(NULL, strstr(r.message, "no patch to revert")) TH_LOG("%s", r.message);
	EXPECT_ALL(1, 10);
}

TEST_F_TIMEOUT(patch, stacked_patches, 900)
{
	struct mmpatch_result r;

	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	APPLY_OK(MMPATCH_VIEW, "answer2", &r);
	EXPECT_ALL(2, 10);
	/* Reads the program's pt_base, calls its pt_helper(). */
	APPLY_OK(MMPATCH_VIEW, "other_data", &r);
	EXPECT_ALL(2, 220);
	APPLY_OK(MMPATCH_VIEW, "answer3_other", &r);
	EXPECT_EQ(3U, r.depth);
	EXPECT_ALL(3, 30);
	REVERT_OK(MMPATCH_VIEW, &r);
	EXPECT_ALL(2, 220);
	/* pt_base is shared by every view: a store shows in the patch. */
	pt_base = 7;
	EXPECT_ALL(2, 34);
	pt_base = 100;
	REVERT_OK(MMPATCH_VIEW, &r);
	EXPECT_ALL(2, 10);
	REVERT_OK(MMPATCH_VIEW, &r);
	EXPECT_ALL(1, 10);
	EXPECT_EQ(0U, r.depth);
	EXPECT_VIEW(r.view);
}

/* ---- errors leave the old code running ---- */

/* apply fails with err, a message containing what; nothing changes. */
static void expect_refused(struct __test_metadata *_metadata,
			   struct _test_data_patch *self, const char *name,
			   int err, const char *what, int ans, long view)
{
	struct mmpatch_result r;
	struct mmpatch_status st;

	EXPECT_EQ(-err, mmpatch_apply(patch(name), MMPATCH_VIEW, &r))
		TH_LOG("%s: %s", name, r.message);
	EXPECT_EQ(err, r.error);
	EXPECT_NE(NULL, strstr(r.message, what))
		TH_LOG("%s: message \"%s\" lacks \"%s\"", name, r.message, what);
	ASSERT_EQ(0, mmpatch_status(&st));
	EXPECT_EQ(view, st.view);
	EXPECT_EQ(-1, st.pending_view);
	EXPECT_ALL(ans, 10);
	EXPECT_VIEW(view);
}

TEST_F_TIMEOUT(patch, unknown_symbol, 600)
{
	struct mmpatch_result r;

	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	expect_refused(_metadata, self, "unknown", ENOENT,
		       "unknown symbol pt_no_such_function", 1, 0);
	/* Also on top of an applied patch, which stays. */
	APPLY_OK(MMPATCH_VIEW, "answer2", &r);
	expect_refused(_metadata, self, "unknown", ENOENT,
		       "pt_no_such_function", 2, r.view);
}

TEST_F_TIMEOUT(patch, unresolved_reference, 600)
{
	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	expect_refused(_metadata, self, "badref", ENOENT,
		       "references pt_no_such_variable", 1, 0);
}

TEST_F_TIMEOUT(patch, patch_for_another_binary, 600)
{
	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	expect_refused(_metadata, self, "foreign", EXDEV,
		       "patch for another binary", 1, 0);
}

TEST_F_TIMEOUT(patch, missing_patch_file, 600)
{
	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	expect_refused(_metadata, self, "no_such_patch", ENOENT,
		       "cannot open patch", 1, 0);
}

TEST_F_TIMEOUT(patch, function_too_small_for_a_jump, 600)
{
	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
#if defined(__aarch64__)
	/* One instruction holds a branch on arm64: nothing is too small. */
	SKIP(return, "every arm64 function has room for a branch");
#endif
	expect_refused(_metadata, self, "tiny", ENOSPC, "pt_tiny is too small",
		       1, 0);
}

TEST_F_TIMEOUT(patch, quiescence_timeout_keeps_the_old_code, 600)
{
	struct mmpatch_result r;
	struct mmpatch_status st;
	char tid[32];

	ASSERT_EQ(0, start(self, SHORT_TIMEOUT_MS, NULL));
	atomic_store(&self->w[2].mode, W_HOLD);
	EXPECT_EQ(-ETIMEDOUT, mmpatch_apply(patch("answer2"), MMPATCH_VIEW, &r));
	snprintf(tid, sizeof(tid), "%d (", atomic_load(&self->w[2].tid));
	EXPECT_NE(NULL, strstr(r.message, tid))
		TH_LOG("message \"%s\" does not name thread %s", r.message, tid);
	EXPECT_NE(NULL, strstr(r.message, "not applied")) TH_LOG("%s", r.message);
	ASSERT_EQ(0, mmpatch_status(&st));
	EXPECT_EQ(0U, st.depth);
	EXPECT_EQ(-1, st.pending_view);
	/* Workers 0 and 1 moved and came back; nobody runs the patch. */
	EXPECT_ALL(1, 10);
	EXPECT_VIEW(st.view);

	/* Once the thread reaches quiescence points, the patch goes in. */
	atomic_store(&self->w[2].mode, W_RUN);
	APPLY_OK(MMPATCH_VIEW, "answer2", &r);
	EXPECT_ALL(2, 10);
	EXPECT_VIEW(r.view);
}

/* ---- global quiescence ---- */

TEST_F_TIMEOUT(patch, global_quiescence, 600)
{
	struct mmpatch_result r;

	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, NULL));
	APPLY_OK(MMPATCH_GLOBAL, "answer2", &r);
	EXPECT_ALL(2, 10);
	/* In place: no view was created. */
	EXPECT_EQ(0, r.view);
	EXPECT_VIEW(0);
	APPLY_OK(MMPATCH_GLOBAL, "answer3_other", &r);
	EXPECT_ALL(3, 30);
	REVERT_OK(MMPATCH_GLOBAL, &r);
	EXPECT_ALL(2, 10);
	/* The methods mix: a view on top of a text patched in place. */
	REVERT_OK(MMPATCH_VIEW, &r);
	EXPECT_ALL(1, 10);
	EXPECT_VIEW(r.view);
}

TEST_F_TIMEOUT(patch, global_quiescence_timeout, 600)
{
	struct mmpatch_result r;
	char tid[32];

	ASSERT_EQ(0, start(self, SHORT_TIMEOUT_MS, NULL));
	atomic_store(&self->w[0].mode, W_HOLD);
	EXPECT_EQ(-ETIMEDOUT, mmpatch_apply(patch("answer2"), MMPATCH_GLOBAL, &r));
	snprintf(tid, sizeof(tid), "%d (", atomic_load(&self->w[0].tid));
	EXPECT_NE(NULL, strstr(r.message, tid)) TH_LOG("%s", r.message);
	EXPECT_ALL(1, 10);
	atomic_store(&self->w[0].mode, W_RUN);
	APPLY_OK(MMPATCH_GLOBAL, "answer2", &r);
	EXPECT_ALL(2, 10);
}

/* ---- control socket ---- */

/*
 * Send a command from a child process: every thread of this process,
 * this one included, must keep reaching quiescence points meanwhile.
 */
static int control(const char *sock, const char *cmd, char *reply, size_t len)
{
	int p[2], status, ret = -EIO;
	ssize_t n;
	pid_t pid;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (!pid) {
		char buf[512];
		int r = mmpatch_control(sock, cmd, buf, sizeof(buf), OBSERVE_MS);

		if (write(p[1], buf, strlen(buf) + 1) < 0)
			_exit(3);
		_exit(r == 0 ? 0 : r == -EPROTO ? 1 : 2);
	}
	close(p[1]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		mmpatch_quiescent();
		usleep(1000);
	}
	n = read(p[0], reply, len - 1);
	reply[n > 0 ? n : 0] = 0;
	close(p[0]);
	if (WIFEXITED(status))
		ret = WEXITSTATUS(status) == 0 ? 0 :
		      WEXITSTATUS(status) == 1 ? -EPROTO : -EIO;
	return ret;
}

TEST_F_TIMEOUT(patch, control_socket, 600)
{
	char sock[96], cmd[256], reply[512];

	snprintf(sock, sizeof(sock), "%s.sock", patch_dir);
	ASSERT_EQ(0, start(self, PATCH_TIMEOUT_MS, sock));

	snprintf(cmd, sizeof(cmd), "apply %s view", patch("answer2"));
	ASSERT_EQ(0, control(sock, cmd, reply, sizeof(reply))) TH_LOG("%s", reply);
	EXPECT_EQ(0, strncmp(reply, "ok view=", 8)) TH_LOG("%s", reply);
	EXPECT_NE(NULL, strstr(reply, "depth=1")) TH_LOG("%s", reply);
	EXPECT_ALL(2, 10);

	snprintf(cmd, sizeof(cmd), "apply %s", patch("unknown"));
	EXPECT_EQ(-EPROTO, control(sock, cmd, reply, sizeof(reply)));
	EXPECT_EQ(0, strncmp(reply, "error ENOENT: ", 14)) TH_LOG("%s", reply);
	EXPECT_ALL(2, 10);

	snprintf(cmd, sizeof(cmd), "apply %s global", patch("answer3_other"));
	ASSERT_EQ(0, control(sock, cmd, reply, sizeof(reply))) TH_LOG("%s", reply);
	EXPECT_ALL(3, 30);

	ASSERT_EQ(0, control(sock, "status", reply, sizeof(reply)));
	EXPECT_NE(NULL, strstr(reply, "depth=2")) TH_LOG("%s", reply);
	ASSERT_EQ(0, control(sock, "revert", reply, sizeof(reply))) TH_LOG("%s", reply);
	EXPECT_ALL(2, 10);
	EXPECT_EQ(-EPROTO, control(sock, "frobnicate", reply, sizeof(reply)));
	EXPECT_EQ(0, strncmp(reply, "error EINVAL: usage", 19)) TH_LOG("%s", reply);
	unlink(sock);
}

/* ---- mmpatch_init() ---- */

TEST(init_needs_a_process_without_views)
{
	long v = mmview_create();

	ASSERT_LT(0, v) TH_LOG("mmview_create: %s", strerror(errno));
	EXPECT_EQ(-EPERM, mmpatch_init(NULL));
	EXPECT_EQ(0, mmview_delete(v));
	/* With every extra view gone it works again. */
	EXPECT_EQ(0, mmpatch_init(NULL));
	EXPECT_EQ(-EALREADY, mmpatch_init(NULL));
}

TEST_HARNESS_MAIN
