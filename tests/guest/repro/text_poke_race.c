// SPDX-License-Identifier: GPL-2.0
/*
 * Reproducer for "Oops: int3" under QEMU TCG: static-key text patching
 * while other vCPUs run the patched code. No mmview involved.
 *
 * Opening a software perf event for page faults enables the static key
 * perf_swevent_enabled[PERF_COUNT_SW_PAGE_FAULTS] (closing it disables it),
 * and that key guards perf_sw_event() in every user page fault. One thread
 * opens and closes such an event in a loop, so the kernel rewrites the
 * fault path's text over and over (on x86 with text_poke_bp(): an int3,
 * IPIs to sync every CPU, the new bytes, IPIs again); the other threads
 * take page faults as fast as they can on other CPUs.
 *
 * On a correct CPU this runs until its time is up and exits 0. A vCPU that
 * executes a stale int3 after the patcher has finished takes "Oops: int3"
 * and the guest panics or the process dies.
 *
 * Usage: text_poke_race [seconds] [fault threads]   (defaults 60, 3)
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;

static void *fault_loop(void *arg)
{
	size_t len = 64 * 4096;
	unsigned long n = 0;

	(void)arg;
	while (!stop) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t i;

		if (p == MAP_FAILED) {
			perror("mmap");
			exit(2);
		}
		for (i = 0; i < len; i += 4096)
			p[i] = 1;
		munmap(p, len);
		n++;
	}
	return (void *)n;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 60;
	int nthreads = argc > 2 ? atoi(argv[2]) : 3;
	struct perf_event_attr attr;
	unsigned long flips = 0, faults = 0;
	pthread_t th[64];
	time_t end;
	int i;

	if (nthreads < 1 || nthreads > 64 || seconds < 1) {
		fprintf(stderr, "usage: %s [seconds >= 1] [threads 1..64]\n",
			argv[0]);
		return 2;
	}
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_PAGE_FAULTS;
	attr.exclude_kernel = 1;

	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, fault_loop, NULL)) {
			perror("pthread_create");
			return 2;
		}
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		int fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);

		if (fd < 0) {
			perror("perf_event_open");
			return 2;
		}
		close(fd);
		flips++;
	}
	stop = 1;
	for (i = 0; i < nthreads; i++) {
		void *n;

		pthread_join(th[i], &n);
		faults += (unsigned long)n;
	}
	printf("text_poke_race: %lu key flips, %lu fault rounds in %d s: no crash\n",
	       flips, faults, seconds);
	return 0;
}
