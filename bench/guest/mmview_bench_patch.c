// SPDX-License-Identifier: GPL-2.0
/*
 * Tail latency of a server while it is live-patched (figure P7): runs the
 * live-patching demo (/usr/bin/mmpatch-demo, userspace/libmmpatch) once per
 * repetition with --stats and reports, for each method (views, global
 * quiescence), the p99 latency of the requests sent while no patch was in
 * progress and of those sent from the first trigger until the last patch was
 * complete. The host divides the second by the first. A run in which any
 * answer came from a half-applied patch, or a request was lost, is an error:
 * its latencies would not mean anything.
 *
 * The demo runs unpinned: its worker threads and load generator need every
 * vCPU, as in `./mmview run`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "bench_util.h"

#define DEMO		"/usr/bin/mmpatch-demo"
#define NCASES		4
#define MAX_REPS	16

static const char *const methods[2] = { "view", "global" };

struct demo_stats {
	double steady[2], during[2];	/* ns, per method */
	bool seen[2];
};

/*
 * Parse one "mmpatch-stats method=... ..." line; 0 if it is not one. A
 * problem with the run goes to err.
 */
static int parse_stats(const char *line, struct demo_stats *st, char *err,
		       size_t errlen)
{
	char method[16];
	double steady, during;
	long sn, dn;
	int ok, m;

	if (sscanf(line,
		   "mmpatch-stats method=%15s steady_p99_ns=%lf during_p99_ns=%lf steady_n=%ld during_n=%ld ok=%d",
		   method, &steady, &during, &sn, &dn, &ok) != 6)
		return 0;
	for (m = 0; m < 2; m++) {
		if (strcmp(method, methods[m]))
			continue;
		if (!ok)
			snprintf(err, errlen, "the %s run saw a lost, inconsistent or out-of-order answer", method);
		else if (sn < 1 || dn < 1)
			snprintf(err, errlen, "the %s run has no requests in a window (steady %ld, during %ld)",
				 method, sn, dn);
		st->steady[m] = steady;
		st->during[m] = during;
		st->seen[m] = true;
		return 1;
	}
	snprintf(err, errlen, "unknown method %s in a stats line", method);
	return 1;
}

/* One run of the demo: 0 and *st filled, or -1 with err set. */
static int run_demo(bool tiny, struct demo_stats *st, char *err, size_t errlen)
{
	char *argv[] = { DEMO, "--stats", "--phase", tiny ? "1" : "3",
			 "--gap", tiny ? "0.2" : "0.5", NULL };
	char line[512], scratch[256];
	cpu_set_t all;
	int pfd[2], status, i;
	FILE *out;
	pid_t pid;

	memset(st, 0, sizeof(*st));
	err[0] = '\0';
	if (pipe(pfd) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (!pid) {
		CPU_ZERO(&all);
		for (i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &all);
		sched_setaffinity(0, sizeof(all), &all);
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execv(DEMO, argv);
		fprintf(stderr, "# %s: %s\n", DEMO, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	out = fdopen(pfd[0], "r");
	while (out && fgets(line, sizeof(line), out)) {
		/* The demo's table goes to the console as progress lines. */
		if (!parse_stats(line, st, err[0] ? scratch : err,
				 err[0] ? sizeof(scratch) : errlen))
			bench_progress("%.*s", (int)strcspn(line, "\n"), line);
	}
	if (out)
		fclose(out);
	else
		close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid) {
		snprintf(err, errlen, "waitpid: %s", strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		if (!err[0])
			snprintf(err, errlen, "%s failed (wait status %#x)", DEMO, status);
		return -1;
	}
	if (!err[0] && (!st->seen[0] || !st->seen[1]))
		snprintf(err, errlen, "%s printed no stats line for %s", DEMO,
			 st->seen[0] ? "global" : "view");
	return err[0] ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct bench_case cases[NCASES];
	double samples[NCASES][MAX_REPS];
	struct bench_opts opts;
	char err[256];
	int m, i, r;

	bench_init(argc, argv, "mmview_bench_patch",
		   "p99 latency of the live-patching demo's server while patching and in steady state, with views and with global quiescence",
		   3, 1, &opts);
	for (m = 0; m < 2; m++) {
		cases[2 * m] = (struct bench_case){
			.id = "p99_steady",
			.what = "p99 request latency while no patch is in progress (before and after)",
			.unit = "ns",
			.inner = 1,
		};
		cases[2 * m + 1] = (struct bench_case){
			.id = "p99_during",
			.what = "p99 request latency from the first trigger until the last patch is complete",
			.unit = "ns",
			.inner = 1,
		};
		for (i = 0; i < 2; i++)
			snprintf(cases[2 * m + i].params, sizeof(cases[0].params),
				 "{\"method\":\"%s\"}", methods[m]);
	}
	if (!bench_have_mmview() || access(DEMO, X_OK)) {
		const char *why = bench_have_mmview() ?
			DEMO " is not in this image" : BENCH_NA_NO_MMVIEW;

		for (i = 0; i < NCASES; i++)
			bench_report_na(&cases[i], why);
		return bench_finish();
	}
	if (opts.reps > MAX_REPS)
		opts.reps = MAX_REPS;
	for (r = 0; r < opts.reps; r++) {
		struct demo_stats st;

		bench_progress("demo run %d of %d", r + 1, opts.reps);
		if (run_demo(opts.tiny, &st, err, sizeof(err))) {
			for (i = 0; i < NCASES; i++)
				bench_report_error(&cases[i], err);
			return bench_finish();
		}
		for (m = 0; m < 2; m++) {
			samples[2 * m][r] = st.steady[m];
			samples[2 * m + 1][r] = st.during[m];
		}
	}
	for (i = 0; i < NCASES; i++)
		bench_report(&cases[i], samples[i], opts.reps);
	return bench_finish();
}
