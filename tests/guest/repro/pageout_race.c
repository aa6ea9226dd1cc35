// SPDX-License-Identifier: GPL-2.0
/*
 * Reproducer for the intermittent "MADV_PAGEOUT did not work, is swap
 * enabled?" skips of the kernel's cow selftest: a page faulted in and paged
 * out at once is sometimes not paged out, with or without views.
 *
 * A new anonymous folio first goes to the faulting CPU's LRU batch;
 * MADV_PAGEOUT drains the batch of the CPU it runs on only, and cannot
 * isolate a folio that is not on the LRU yet.  A thread that moved to
 * another CPU between its store and its madvise() leaves the folio behind.
 *
 * Each round: mmap one page, store to it, MADV_PAGEOUT, read the swap bit
 * of /proc/self/pagemap.  It reports the pages that were not swapped out,
 * in the base and inside a view, unpinned and pinned to one CPU; pinned
 * should give none.  Swap on zram0 is set up if none is on.
 *
 * Usage: pageout_race [rounds]   (default 3000)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mmview.h"

#define PAGE 4096UL

static void swap_on_zram(void)
{
	size_t bytes = 64UL << 20;
	char buf[64];
	uint32_t *hdr;
	int fd;

	fd = open("/proc/swaps", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (strchr(buf, '\n') && strchr(buf, '\n')[1])
			return;
	}
	fd = open("/sys/block/zram0/disksize", O_WRONLY);
	if (fd < 0 || dprintf(fd, "%zu", bytes) < 0)
		perror("zram0 disksize");
	if (fd >= 0)
		close(fd);
	fd = open("/dev/zram0", O_RDWR);
	hdr = calloc(1, PAGE);
	if (fd < 0 || !hdr) {
		perror("zram0");
		exit(1);
	}
	/* union swap_header: version 1, last page, "SWAPSPACE2" magic. */
	hdr[1024 / 4] = 1;
	hdr[1024 / 4 + 1] = (uint32_t)(bytes / PAGE - 1);
	memcpy((char *)hdr + PAGE - 10, "SWAPSPACE2", 10);
	if (pwrite(fd, hdr, PAGE, 0) != (ssize_t)PAGE || fsync(fd) ||
	    syscall(SYS_swapon, "/dev/zram0", 0)) {
		perror("swapon zram0");
		exit(1);
	}
	free(hdr);
	close(fd);
}

static int swapped(int pagemap, const void *p)
{
	uint64_t e = 0;

	if (pread(pagemap, &e, sizeof(e), (uintptr_t)p / PAGE * sizeof(e)) != sizeof(e)) {
		perror("pagemap");
		exit(1);
	}
	return !!(e & (1ULL << 62));
}

static int rounds_not_swapped(int rounds)
{
	int pagemap = open("/proc/self/pagemap", O_RDONLY), missed = 0;

	for (int i = 0; i < rounds; i++) {
		char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("mmap");
			exit(1);
		}
		madvise(p, PAGE, MADV_NOHUGEPAGE);
		memset(p, 0, PAGE);
		madvise(p, PAGE, MADV_PAGEOUT);
		missed += !swapped(pagemap, p);
		munmap(p, PAGE);
	}
	close(pagemap);
	return missed;
}

static void report(const char *where, int rounds)
{
	cpu_set_t one;

	printf("%s, unpinned: %d of %d not swapped out\n", where,
	       rounds_not_swapped(rounds), rounds);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		perror("sched_setaffinity");
	printf("%s, pinned to CPU 0: %d of %d not swapped out\n", where,
	       rounds_not_swapped(rounds), rounds);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		CPU_SET(c, &one);
	sched_setaffinity(0, sizeof(one), &one);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3000;
	long view;

	swap_on_zram();
	report("base", rounds);
	view = syscall(__NR_mmview_create);
	if (view < 1 || syscall(__NR_mmview_migrate, view) != 0) {
		perror("mmview_create/migrate");
		return 1;
	}
	report("view", rounds);
	return 0;
}
