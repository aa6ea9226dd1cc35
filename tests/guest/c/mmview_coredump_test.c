// SPDX-License-Identifier: GPL-2.0
/*
 * Coredump of a process with threads in three views: the dump completes,
 * it has a register set (NT_PRSTATUS) for every thread of every view, and
 * its memory is the view of the thread that dumped: an unshared page holds
 * that view's contents, shared memory the one shared contents, also where
 * only the base maps it (a view's page tables are a cache of the base's).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NW		3	/* worker i runs in view i; worker 0 in base */
#define CORE_PATTERN	"/tmp/mmview-core.%p"

/* What the child tells the test before it dies. */
struct child_info {
	unsigned long unshared, shared;
	unsigned long base_only;	/* written by the base after the views */
	pid_t tids[NW + 1];	/* the main thread, then the workers */
	int err;
};

static volatile long shared_word;

static long call_abort(long b, long c, long d, long *out)
{
	(void)b;
	(void)c;
	(void)d;
	(void)out;
	abort();
}

/* The child: threads in views 0, 1, 2; the thread of view 2 dumps. */
static void child(int wr)
{
	struct mvt_worker w[NW];
	struct child_info info = { 0 };
	long view[NW];
	size_t ps = mvt_page_size();
	long *un, *base_only;
	int i;

	if (mvt_process_setup())
		info.err = 1;
	un = mvt_map_populated(ps);
	if (!un || mmview_unshare(un, ps))
		info.err = 2;
	shared_word = 0x5a5a;
	for (i = 0; !info.err && i < NW; i++)
		if (mvt_worker_start(&w[i]))
			info.err = 3;
	if (!info.err && mvt_workers_to_views(w, view, NW))
		info.err = 4;
	for (i = 0; !info.err && i < NW; i++)
		if (mvt_rpc(&w[i].ch, MVT_STORE, (long)un, 0xc0de0000 + i, 0,
			    0).ret < 0)
			info.err = 5;
	/*
	 * A mapping made and written by the base after the views exist: the
	 * dumping view never touched it, so only the base maps its page.
	 */
	base_only = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base_only == MAP_FAILED)
		info.err = 6;
	else
		base_only[ps / sizeof(long)] = 0xba5e;
	info.base_only = (unsigned long)(base_only + ps / sizeof(long));
	info.unshared = (unsigned long)un;
	info.shared = (unsigned long)&shared_word;
	info.tids[0] = mvt_gettid();
	for (i = 0; i < NW; i++)
		info.tids[i + 1] = w[i].tid;
	if (write(wr, &info, sizeof(info)) != sizeof(info) || info.err)
		_exit(1);
	mvt_rpc(&w[2].ch, MVT_CALL, (long)call_abort, 0, 0, 0);
	_exit(2);	/* not reached: the process dumps core */
}

static ssize_t read_all(const char *path, char **buf)
{
	struct stat st;
	ssize_t n = 0, r;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		return -1;
	*buf = malloc(st.st_size);
	while (*buf && n < st.st_size) {
		r = read(fd, *buf + n, st.st_size - n);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	return n;
}

/* The 8 bytes at vaddr in the core's memory, or -1 if not dumped. */
static int core_load(const char *core, size_t size, unsigned long vaddr,
		     long *val)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)core;
	int i;

	for (i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)
			(core + eh->e_phoff + i * eh->e_phentsize);

		if (ph->p_type != PT_LOAD || vaddr < ph->p_vaddr ||
		    vaddr + 8 > ph->p_vaddr + ph->p_filesz)
			continue;
		if (ph->p_offset + (vaddr - ph->p_vaddr) + 8 > size)
			return -1;
		memcpy(val, core + ph->p_offset + (vaddr - ph->p_vaddr), 8);
		return 0;
	}
	return -1;
}

/* The pids of the NT_PRSTATUS notes; returns how many. */
static int core_threads(const char *core, size_t size, pid_t *pids, int max)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)core;
	int i, n = 0;

	for (i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)
			(core + eh->e_phoff + i * eh->e_phentsize);
		size_t off, end;

		if (ph->p_type != PT_NOTE || ph->p_offset + ph->p_filesz > size)
			continue;
		off = ph->p_offset;
		end = off + ph->p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(core + off);
			size_t desc = off + sizeof(*nh) +
				      ((nh->n_namesz + 3) & ~3UL);

			/* struct elf_prstatus: pr_pid at offset 32. */
			if (nh->n_type == NT_PRSTATUS && n < max &&
			    nh->n_descsz >= 36)
				memcpy(&pids[n++], core + desc + 32,
				       sizeof(pid_t));
			off = desc + ((nh->n_descsz + 3) & ~3UL);
		}
	}
	return n;
}

TEST(dump_has_every_thread_and_the_dumpers_view)
{
	char old_pattern[256] = "", core_path[64];
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct child_info info;
	pid_t pid, pids[16];
	int pipefd[2], status, n, i, j;
	char *core = NULL;
	ssize_t size;
	long val;

	ASSERT_MMVIEW_AVAILABLE();
	ASSERT_LT(0, mvt_read_file("/proc/sys/kernel/core_pattern",
				   old_pattern, sizeof(old_pattern)));
	ASSERT_EQ(0, mvt_write_file("/proc/sys/kernel/core_pattern",
				    CORE_PATTERN));
	ASSERT_EQ(0, setrlimit(RLIMIT_CORE, &unlimited));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(pipefd[0]);
		prctl(PR_SET_DUMPABLE, 1);
		child(pipefd[1]);
	}
	close(pipefd[1]);
	ASSERT_EQ((ssize_t)sizeof(info), read(pipefd[0], &info, sizeof(info)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	mvt_write_file("/proc/sys/kernel/core_pattern", old_pattern);
	ASSERT_EQ(0, info.err) TH_LOG("child setup failed at step %d", info.err);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	ASSERT_TRUE(WCOREDUMP(status)) TH_LOG("no core dumped");

	snprintf(core_path, sizeof(core_path), "/tmp/mmview-core.%d", pid);
	size = read_all(core_path, &core);
	unlink(core_path);
	ASSERT_LT((ssize_t)sizeof(Elf64_Ehdr), size);
	ASSERT_EQ(0, memcmp(core, ELFMAG, SELFMAG));
	ASSERT_EQ(ET_CORE, ((Elf64_Ehdr *)core)->e_type);

	/* A register set for each of the 4 threads, whatever their view. */
	n = core_threads(core, size, pids, 16);
	ASSERT_EQ(NW + 1, n);
	for (i = 0; i < NW + 1; i++) {
		for (j = 0; j < n && pids[j] != info.tids[i]; j++)
			;
		ASSERT_LT(j, n) TH_LOG("thread %d (tid %d) missing from the core",
				       i, info.tids[i]);
	}
	/* Memory: the dumper's (view 2's) copy, and the shared contents. */
	ASSERT_EQ(0, core_load(core, size, info.unshared, &val));
	ASSERT_EQ(0xc0de0002, val) TH_LOG("unshared page of another view");
	ASSERT_EQ(0, core_load(core, size, info.shared, &val));
	ASSERT_EQ(0x5a5a, val);
	/* The view's page tables never held it: the dump reads the base's. */
	ASSERT_EQ(0, core_load(core, size, info.base_only, &val))
		TH_LOG("the base's page is not in the dump of a view");
	ASSERT_EQ(0xba5e, val) TH_LOG("the dump of a view lost the base's store");
	free(core);
}

TEST_HARNESS_MAIN
