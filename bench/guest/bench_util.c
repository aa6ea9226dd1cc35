// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the mmview guest benchmarks: options, the JSON document,
 * measuring in child processes, memory counters.  See bench_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "bench_util.h"

static struct {
	const char *program;
	const char *summary;
	struct bench_opts opts;
	bool pinned;
	FILE *cases;
	char *cases_buf;
	size_t cases_len;
	int ncases;
	int errors;
} doc;

/* ---- JSON text ---- */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_number(FILE *f, double v)
{
	/* JSON has no NaN or infinity. */
	if (v != v || v > 1e300 || v < -1e300)
		fputs("null", f);
	else
		fprintf(f, "%.9g", v);
}

/* ---- options and the document ---- */

static void usage(FILE *f, const char *argv0)
{
	fprintf(f, "usage: %s [--tiny] [--reps N]\n%s: %s\n"
		"Prints one JSON document (schema %s) on stdout.\n",
		argv0, doc.program, doc.summary, BENCH_SCHEMA);
}

static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

void bench_progress(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void bench_init(int argc, char **argv, const char *program, const char *summary,
		int default_reps, int tiny_reps, struct bench_opts *opts)
{
	bool reps_given = false;
	cpu_set_t cpus;

	doc.program = program;
	doc.summary = summary;
	opts->tiny = false;
	opts->reps = default_reps;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tiny")) {
			opts->tiny = true;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);

			if (*end || n < 1 || n > BENCH_MAX_REPS) {
				fprintf(stderr, "%s: --reps must be 1..%d\n", program, BENCH_MAX_REPS);
				exit(2);
			}
			opts->reps = (int)n;
			reps_given = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout, argv[0]);
			exit(0);
		} else {
			usage(stderr, argv[0]);
			exit(2);
		}
	}
	if (opts->tiny && !reps_given)
		opts->reps = tiny_reps;
	doc.opts = *opts;

	/* Page-granular faults and page tables: no transparent huge pages. */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	/* Every process of a benchmark runs on CPU 0: ping-pong partners,
	 * fork children and threads share it, the same on every kernel. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	doc.pinned = sched_setaffinity(0, sizeof(cpus), &cpus) == 0;

	doc.cases = open_memstream(&doc.cases_buf, &doc.cases_len);
	if (!doc.cases) {
		perror("open_memstream");
		exit(1);
	}
	bench_progress("%s: %s (%s, %d reps)", program, summary,
		       opts->tiny ? "tiny" : "default", opts->reps);
}

static bool probe_by_sysctl;

void bench_probe_without_syscall(void)
{
	probe_by_sysctl = true;
}

bool bench_have_mmview(void)
{
	static int have = -1;

	if (have < 0 && probe_by_sysctl) {
		have = access("/proc/sys/vm/mmview_max_views", F_OK) == 0;
	} else if (have < 0) {
		/* id < 0: changes nothing, returns the current view id. */
		long r = syscall(__NR_mmview_migrate, -1L);

		have = !(r < 0 && errno == ENOSYS);
	}
	return have;
}

static void case_head(const struct bench_case *c)
{
	FILE *f = doc.cases;

	fputs(doc.ncases++ ? ",\n  {" : "\n  {", f);
	fputs("\"id\":", f);
	json_string(f, c->id);
	fputs(",\"what\":", f);
	json_string(f, c->what);
	fputs(",\"unit\":", f);
	json_string(f, c->unit);
	fprintf(f, ",\"params\":%s", c->params[0] ? c->params : "{}");
}

void bench_report_details(const struct bench_case *c, const double *samples, int n,
			  const char *details_json)
{
	FILE *f = doc.cases;

	case_head(c);
	fprintf(f, ",\"inner\":%ld,\"samples\":[", c->inner > 0 ? c->inner : 1);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_number(f, samples[i]);
	}
	fputc(']', f);
	if (details_json && details_json[0])
		fprintf(f, ",\"details\":%s", details_json);
	fputc('}', f);
}

void bench_report(const struct bench_case *c, const double *samples, int n)
{
	bench_report_details(c, samples, n, NULL);
}

void bench_report_na(const struct bench_case *c, const char *reason)
{
	case_head(c);
	fputs(",\"na\":", doc.cases);
	json_string(doc.cases, reason);
	fputc('}', doc.cases);
}

void bench_report_error(const struct bench_case *c, const char *error)
{
	case_head(c);
	fputs(",\"error\":", doc.cases);
	json_string(doc.cases, error);
	fputc('}', doc.cases);
	doc.errors++;
	bench_progress("%s %s: error: %s", c->id, c->params, error);
}

int bench_finish(void)
{
	struct utsname u;
	char thp[128];
	FILE *out = stdout;

	fclose(doc.cases);
	uname(&u);
	read_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));

	fputs("{\"schema\":", out);
	json_string(out, BENCH_SCHEMA);
	fputs(",\"program\":", out);
	json_string(out, doc.program);
	fputs(",\"summary\":", out);
	json_string(out, doc.summary);
	fprintf(out, ",\"size\":\"%s\",\"reps\":%d,", doc.opts.tiny ? "tiny" : "default", doc.opts.reps);
	fputs("\n \"system\":{\"release\":", out);
	json_string(out, u.release);
	fputs(",\"version\":", out);
	json_string(out, u.version);
	fputs(",\"machine\":", out);
	json_string(out, u.machine);
	fprintf(out, ",\"cpus\":%ld,\"mem_total_kib\":%ld,\"page_size\":%zu,\"thp\":",
		sysconf(_SC_NPROCESSORS_ONLN), bench_meminfo_kb("MemTotal"), bench_page_size());
	json_string(out, thp);
	fprintf(out, ",\"mmview\":%s,\"mmview_probe\":\"%s\",\"pinned_cpu\":%s},",
		bench_have_mmview() ? "true" : "false", probe_by_sysctl ? "sysctl" : "syscall",
		doc.pinned ? "0" : "null");
	fputs("\n \"cases\":[", out);
	fwrite(doc.cases_buf, 1, doc.cases_len, out);
	fprintf(out, "\n ],\n \"errors\":%d}\n", doc.errors);
	fflush(out);
	free(doc.cases_buf);
	return doc.errors ? 1 : 0;
}

/* ---- child processes ---- */

struct bench_child_ctx {
	int reps;
	int failed;
	char err[256];
	struct {
		int count;
		char na[200];
		char details[BENCH_DETAILS_SIZE];
		double samples[BENCH_MAX_REPS];
	} c[BENCH_MAX_CASES];
};

int bench_ctx_reps(const struct bench_child_ctx *ctx)
{
	return ctx->reps;
}

double *bench_ctx_samples(struct bench_child_ctx *ctx, int i)
{
	return ctx->c[i].samples;
}

void bench_ctx_count(struct bench_child_ctx *ctx, int i, int n)
{
	ctx->c[i].count = n;
}

void bench_ctx_na(struct bench_child_ctx *ctx, int i, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->c[i].na, sizeof(ctx->c[i].na), fmt, ap);
	va_end(ap);
}

void bench_ctx_details(struct bench_child_ctx *ctx, int i, const char *json)
{
	snprintf(ctx->c[i].details, sizeof(ctx->c[i].details), "%s", json);
}

int bench_fail(struct bench_child_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	ctx->failed = 1;
	return -1;
}

void bench_run_cases(const struct bench_case *cases, int ncases, int reps,
		     bench_child_fn fn, void *arg)
{
	struct bench_child_ctx *ctx;
	char err[300];
	int status;
	pid_t pid;

	if (ncases > BENCH_MAX_CASES || reps > BENCH_MAX_REPS)
		abort();
	bench_progress("%s %s ...", cases[0].id, cases[0].params);
	ctx = mmap(NULL, sizeof(*ctx), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctx == MAP_FAILED) {
		snprintf(err, sizeof(err), "mmap of the result area: %s", strerror(errno));
		for (int i = 0; i < ncases; i++)
			bench_report_error(&cases[i], err);
		return;
	}
	memset(ctx, 0, sizeof(*ctx));
	ctx->reps = reps;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (fn(ctx, arg) != 0 && !ctx->failed)
			bench_fail(ctx, "failed");
		_exit(ctx->failed ? 1 : 0);
	}
	if (pid < 0) {
		snprintf(err, sizeof(err), "fork: %s", strerror(errno));
	} else if (waitpid(pid, &status, 0) != pid) {
		snprintf(err, sizeof(err), "waitpid: %s", strerror(errno));
	} else if (WIFSIGNALED(status)) {
		snprintf(err, sizeof(err), "the measuring process was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else if (ctx->failed || WEXITSTATUS(status) != 0) {
		snprintf(err, sizeof(err), "%s", ctx->failed ? ctx->err : "the measuring process failed");
	} else {
		err[0] = '\0';
	}
	for (int i = 0; i < ncases; i++) {
		if (err[0])
			bench_report_error(&cases[i], err);
		else if (ctx->c[i].na[0])
			bench_report_na(&cases[i], ctx->c[i].na);
		else
			bench_report_details(&cases[i], ctx->c[i].samples,
					     ctx->c[i].count > 0 ? ctx->c[i].count : reps,
					     ctx->c[i].details);
	}
	munmap(ctx, sizeof(*ctx));
}

/* ---- memory ---- */

size_t bench_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

void *bench_map_populated(size_t len)
{
	size_t ps = bench_page_size();
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < len; off += ps)
		p[off] = 1;
	return p;
}

long bench_meminfo_kb(const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long val = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			val = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

void bench_vmstat_refresh(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) {
			/* Not root, or no SMP: the counters stay as they are. */
		}
		close(fd);
	}
}

int bench_slabinfo_snapshot(struct bench_slab_snapshot *s)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");

	s->n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		long active, num, objsize;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &num, &objsize) != 4)
			continue;
		if (s->n >= (int)(sizeof(s->cache) / sizeof(s->cache[0])))
			break;
		snprintf(s->cache[s->n].name, sizeof(s->cache[s->n].name), "%s", name);
		/* Active objects: finer than whole slabs (num_objs). */
		s->cache[s->n].bytes = (long long)active * objsize;
		s->n++;
	}
	fclose(f);
	return s->n > 0 ? 0 : -1;
}

void bench_slab_growth_json(const struct bench_slab_snapshot *before,
			    const struct bench_slab_snapshot *after, double div,
			    int top, char *buf, size_t size)
{
	long long grown[512];
	bool used[512] = { false };
	size_t len = 0;

	for (int i = 0; i < after->n; i++) {
		long long old = 0;

		for (int j = 0; j < before->n; j++) {
			if (!strcmp(before->cache[j].name, after->cache[i].name)) {
				old = before->cache[j].bytes;
				break;
			}
		}
		grown[i] = after->cache[i].bytes - old;
	}
	len += snprintf(buf + len, size - len, "[");
	for (int k = 0; k < top; k++) {
		int best = -1;

		for (int i = 0; i < after->n; i++)
			if (!used[i] && grown[i] > 0 && (best < 0 || grown[i] > grown[best]))
				best = i;
		if (best < 0 || len >= size)
			break;
		used[best] = true;
		len += snprintf(buf + len, size - len, "%s{\"cache\":\"%s\",\"bytes\":%.0f}",
				k ? "," : "", after->cache[best].name, (double)grown[best] / div);
	}
	if (len < size)
		snprintf(buf + len, size - len, "]");
}
