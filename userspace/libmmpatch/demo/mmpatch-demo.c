// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmpatch-demo: a TCP server live-patched several times while it serves.
 *
 * The parent process is the load generator; it forks the server, whose
 * worker threads answer requests on loopback and call mmpatch_quiescent()
 * between requests.  While a steady stream of requests runs, the parent
 * applies patches v2, v3 and v4 (stacked) and reverts two of them through
 * the server's control socket, once with address-space views and once with
 * global quiescence (a fresh server each time), and prints requests per
 * second and latency percentiles before, during and after patching, and
 * how long each patch took until every thread ran the new code.
 *
 * It exits non-zero if any answer mixes versions (a half-applied patch),
 * an answer comes from a version that cannot be running at that time (old
 * code after a patch was reported complete, new code before it was
 * triggered, or a thread going back), or a request is lost.
 *
 * The patches are built for this binary and stored in it as sections
 * mmpatch.v2 ... (see the Makefile); they are written to files at startup.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmpatch.h>

#include "demo.h"

#define MAX_WORKERS	64
#define MAX_CONNS	256
#define REPLY_TIMEOUT_MS 10000
#define PATCH_TIMEOUT_MS 20000
#define MAX_PROBLEMS	8

/* ---- the server's patchable code ---- */

const char *const demo_codenames[DEMO_VERSIONS + 1] = {
	"", "alpha", "bravo", "charlie", "delta",
};

MMPATCH_PATCHABLE long demo_scale(long n, int v)
{
	return n * v + v;
}

MMPATCH_PATCHABLE int reply_version(void)
{
	return 1;
}

MMPATCH_PATCHABLE const char *reply_codename(void)
{
	return demo_codenames[1];
}

MMPATCH_PATCHABLE long reply_answer(long n)
{
	return demo_scale(n, 1);
}

/* ---- helpers ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000ULL,
		.tv_nsec = t % 1000000000ULL,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mmpatch-demo: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* The guest's init leaves the loopback interface down. */
static void loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

/* ---- the server (child process) ---- */

struct worker {
	pthread_t th;
	int pipe[2];		/* new connections */
	long served;
};

static volatile sig_atomic_t server_stop;

static void on_term(int sig)
{
	(void)sig;
	server_stop = 1;
}

/* One request "<seq> <n>" -> "<seq> v<version> <codename> <answer>". */
static int answer(const char *line, char *out, size_t len)
{
	unsigned long long seq;
	long n;

	if (sscanf(line, "%llu %ld", &seq, &n) != 2)
		return snprintf(out, len, "bad request\n");
	return snprintf(out, len, "%llu v%d %s %ld\n", seq, reply_version(),
			reply_codename(), reply_answer(n));
}

struct client_conn {
	int fd;
	size_t len;
	char buf[512];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct client_conn *c[MAX_CONNS];
	struct pollfd p[MAX_CONNS + 1];
	int nc = 0, i, fd;
	char out[128];

	while (!server_stop) {
		mmpatch_quiescent();
		p[0] = (struct pollfd){ .fd = w->pipe[0], .events = POLLIN };
		for (i = 0; i < nc; i++)
			p[i + 1] = (struct pollfd){ .fd = c[i]->fd, .events = POLLIN };
		/* The timeout bounds how long an idle worker takes to reach
		 * its next quiescence point. */
		if (poll(p, nc + 1, 5) <= 0)
			continue;
		for (i = 0; i < nc; i++) {
			struct client_conn *cc = c[i];
			char *nl;
			ssize_t r;

			if (!p[i + 1].revents)
				continue;
			r = read(cc->fd, cc->buf + cc->len, sizeof(cc->buf) - 1 - cc->len);
			if (r <= 0) {
				close(cc->fd);
				free(cc);
				c[i] = c[--nc];
				p[i + 1] = p[nc + 1];
				i--;
				continue;
			}
			cc->len += r;
			cc->buf[cc->len] = 0;
			while ((nl = strchr(cc->buf, '\n'))) {
				*nl = 0;
				write_all(cc->fd, out, answer(cc->buf, out, sizeof(out)));
				w->served++;
				cc->len -= nl + 1 - cc->buf;
				memmove(cc->buf, nl + 1, cc->len + 1);
				/* Between requests: no patched code on the stack. */
				mmpatch_quiescent();
			}
		}
		if (p[0].revents && read(w->pipe[0], &fd, sizeof(fd)) == sizeof(fd)) {
			if (nc == MAX_CONNS)
				die("server: too many connections");
			c[nc] = calloc(1, sizeof(*c[nc]));
			if (!c[nc])
				die("out of memory");
			c[nc++]->fd = fd;
		}
	}
	for (i = 0; i < nc; i++) {
		close(c[i]->fd);
		free(c[i]);
	}
	return NULL;
}

/* Runs in the forked child; reports the port, then the requests served. */
static void server_main(const char *sock, int nworkers, int report)
{
	struct mmpatch_config cfg = {
		.control_socket = sock,
		.timeout_ms = PATCH_TIMEOUT_MS,
	};
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct worker w[MAX_WORKERS];
	struct sigaction act = { .sa_handler = on_term };
	socklen_t slen = sizeof(sa);
	int lfd, i, next = 0, one = 1;
	long served = 0;
	int port;

	sigaction(SIGTERM, &act, NULL);
	if (mmpatch_init(&cfg))
		exit(2);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, MAX_CONNS) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &slen) < 0)
		die("server: listen: %s", strerror(errno));
	for (i = 0; i < nworkers; i++) {
		w[i].served = 0;
		if (pipe2(w[i].pipe, O_CLOEXEC) < 0 ||
		    pthread_create(&w[i].th, NULL, worker_main, &w[i]))
			die("server: cannot start workers");
	}
	port = ntohs(sa.sin_port);
	write_all(report, &port, sizeof(port));

	/* The main thread hands connections to the workers round-robin. */
	while (!server_stop) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int fd;

		mmpatch_quiescent();
		if (poll(&p, 1, 5) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		write_all(w[next].pipe[1], &fd, sizeof(fd));
		next = (next + 1) % nworkers;
	}
	for (i = 0; i < nworkers; i++) {
		pthread_join(w[i].th, NULL);
		served += w[i].served;
	}
	write_all(report, &served, sizeof(served));
	exit(0);
}

/* ---- the load generator and the checks (parent process) ---- */

struct sample {
	uint64_t sent, lat;
	int version;
};

struct conn {
	pthread_t th;
	int id, fd;
	uint64_t interval;	/* between request starts */
	struct sample *s;
	size_t n, cap;
	long lost, bad;
};

struct transition {
	const char *label;
	const char *patch;	/* to apply, or NULL to revert */
	int version;		/* afterwards */
	uint64_t trigger, done;	/* parent's clock */
	uint64_t prepare_us, switch_us;	/* the server's report */
};

struct run {
	const char *method;
	struct transition t[8];
	int nt;
	uint64_t start, measure, end;
	struct conn conns[MAX_CONNS];
	int nconns;
	long sent, served, lost, bad, order;
	int problems;
	bool ok;
};

static const char *patch_dir = "/tmp/mmpatch-demo";
static _Atomic uint64_t clients_end;	/* no request starts later */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void problem(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct run *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&report_lock);
	r->ok = false;
	if (r->problems++ < MAX_PROBLEMS) {
		printf("  FAIL (%s): ", r->method);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		fflush(stdout);
	}
	pthread_mutex_unlock(&report_lock);
}

static struct run *current_run;

/*
 * Parse and check one reply: all three parts from the same version.
 * Returns the version, or 0 if the reply is inconsistent.
 */
static int check_reply(struct run *r, const char *reply,
		       unsigned long long seq, long n)
{
	unsigned long long rseq;
	char name[32];
	long ans;
	int v;

	if (sscanf(reply, "%llu v%d %31s %ld", &rseq, &v, name, &ans) != 4 ||
	    rseq != seq) {
		problem(r, "malformed reply to request %llu: \"%s\"", seq, reply);
		return 0;
	}
	if (v < 1 || v > DEMO_VERSIONS || strcmp(name, demo_codenames[v]) ||
	    ans != n * v + v) {
		problem(r, "half-applied patch: reply \"%s\" mixes versions (request n=%ld)",
			reply, n);
		return 0;
	}
	return v;
}

static void *client_main(void *arg)
{
	struct conn *c = arg;
	struct run *r = current_run;
	/* Spread the connections' requests over the interval. */
	uint64_t next = r->start + c->interval * c->id / r->nconns;
	unsigned long long seq = 0;
	char line[128];

	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		uint64_t sent, deadline;
		size_t got = 0;
		long n;
		int v;

		next += c->interval;
		if (next > atomic_load(&clients_end))
			break;
		sleep_until(next);
		seq++;
		n = (long)(seq * 7919 + c->id * 104729) % 1000003;
		sent = now_ns();
		snprintf(line, sizeof(line), "%llu %ld\n", seq, n);
		if (!write_all(c->fd, line, strlen(line))) {
			c->lost++;
			problem(r, "connection %d: request %llu lost: %s", c->id,
				seq, strerror(errno));
			break;
		}
		deadline = sent + REPLY_TIMEOUT_MS * 1000000ULL;
		while (!memchr(line, '\n', got)) {
			uint64_t t = now_ns();
			ssize_t k;

			if (t >= deadline || poll(&p, 1, (deadline - t) / 1000000 + 1) < 0)
				break;
			if (!p.revents)
				continue;
			k = read(c->fd, line + got, sizeof(line) - 1 - got);
			if (k <= 0)
				break;
			got += k;
		}
		line[got] = 0;
		if (!strchr(line, '\n')) {
			c->lost++;
			problem(r, "connection %d: request %llu lost (no reply within %d ms)",
				c->id, seq, REPLY_TIMEOUT_MS);
			break;
		}
		*strchr(line, '\n') = 0;
		v = check_reply(r, line, seq, n);
		if (!v)
			c->bad++;
		if (c->n == c->cap) {
			c->cap = c->cap * 2 + 1024;
			c->s = realloc(c->s, c->cap * sizeof(*c->s));
			if (!c->s)
				die("out of memory");
		}
		c->s[c->n++] = (struct sample){ sent, now_ns() - sent, v };
	}
	return NULL;
}

/* Send one command to the server's control socket, note the times. */
static void do_transition(struct run *r, struct transition *t,
			  const char *sock, const char *method)
{
	char cmd[256], reply[512], *p;
	int err;

	if (t->patch)
		snprintf(cmd, sizeof(cmd), "apply %s/%s.mmpatch %s", patch_dir,
			 t->patch, method);
	else
		snprintf(cmd, sizeof(cmd), "revert %s", method);
	t->trigger = now_ns();
	err = mmpatch_control(sock, cmd, reply, sizeof(reply), PATCH_TIMEOUT_MS * 2);
	t->done = now_ns();
	if (err) {
		problem(r, "%s: %s", cmd, reply[0] ? reply : strerror(-err));
		return;
	}
	p = strstr(reply, "prepare_us=");
	t->prepare_us = p ? strtoull(p + 11, NULL, 10) : 0;
	p = strstr(reply, "switch_us=");
	t->switch_us = p ? strtoull(p + 10, NULL, 10) : 0;
}

/*
 * Which states (0: before the first transition, k: after transition k) the
 * server can be in between sent and received: at least those whose
 * transition had completed when the request was sent, at most those
 * triggered before its reply came.  A connection's replies must walk
 * through the states in order (a worker only moves forward).
 */
static void check_order(struct run *r)
{
	int state[9], i, k;

	state[0] = 1;
	for (k = 0; k < r->nt; k++)
		state[k + 1] = r->t[k].version;
	for (i = 0; i < r->nconns; i++) {
		struct conn *c = &r->conns[i];
		int at = 0;
		size_t j;

		for (j = 0; j < c->n; j++) {
			const struct sample *s = &c->s[j];
			int lo = 0, hi = 0, x;

			if (!s->version)
				continue;
			for (k = 0; k < r->nt; k++) {
				if (r->t[k].done <= s->sent)
					lo = k + 1;
				if (r->t[k].trigger <= s->sent + s->lat)
					hi = k + 1;
			}
			for (x = lo > at ? lo : at; x <= hi; x++)
				if (state[x] == s->version)
					break;
			if (x > hi) {
				char allowed[64] = "";

				for (x = lo > at ? lo : at; x <= hi; x++)
					snprintf(allowed + strlen(allowed),
						 sizeof(allowed) - strlen(allowed),
						 " v%d", state[x]);
				r->order++;
				problem(r, "connection %d: request sent %.3f s into the run was answered by v%d, but only%s could answer it then",
					c->id, (s->sent - r->start) / 1e9,
					s->version, allowed[0] ? allowed : " no version");
				continue;
			}
			at = x;
		}
	}
}

struct stats {
	long n;
	double rps, p50, p99, p999, max;	/* microseconds */
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Requests sent in [from, to), or in some transition window (windows), or,
 * with steady, in [from, to) or [steady_from, steady_to) (before and after
 * patching together).
 */
static struct stats window_stats(const struct run *r, uint64_t from, uint64_t to,
				 bool windows, uint64_t steady_from,
				 uint64_t steady_to)
{
	struct stats st = { 0 };
	uint64_t *lat, span = 0;
	size_t n = 0, cap = 1024;
	int i, k;

	lat = malloc(cap * sizeof(*lat));
	for (i = 0; lat && i < r->nconns; i++) {
		const struct conn *c = &r->conns[i];
		size_t j;

		for (j = 0; j < c->n; j++) {
			uint64_t t = c->s[j].sent;
			bool in = (t >= from && t < to) ||
				  (t >= steady_from && t < steady_to);

			for (k = 0; windows && k < r->nt; k++)
				in = in || (t >= r->t[k].trigger && t < r->t[k].done);
			if (!in)
				continue;
			if (n == cap) {
				cap *= 2;
				lat = realloc(lat, cap * sizeof(*lat));
				if (!lat)
					die("out of memory");
			}
			lat[n++] = c->s[j].lat;
		}
	}
	if (!lat)
		die("out of memory");
	if (windows) {
		for (k = 0; k < r->nt; k++)
			span += r->t[k].done - r->t[k].trigger;
	} else {
		span = to - from + (steady_to - steady_from);
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	st.n = n;
	if (n) {
		st.rps = span ? n / (span / 1e9) : 0;
		st.p50 = lat[(n - 1) * 50 / 100] / 1e3;
		st.p99 = lat[(n - 1) * 99 / 100] / 1e3;
		st.p999 = lat[(n - 1) * 999 / 1000] / 1e3;
		st.max = lat[n - 1] / 1e3;
	}
	free(lat);
	return st;
}

static struct stats phase_stats(const struct run *r, uint64_t from, uint64_t to,
				bool windows)
{
	return window_stats(r, from, to, windows, 0, 0);
}

struct options {
	double phase;		/* seconds before and after patching */
	double gap;		/* seconds between transitions */
	int workers, conns, rate;
	bool stats;		/* print the machine-readable stats lines */
	const char *only;	/* "view" or "global": run that method alone */
};

static void run_method(struct run *r, const struct options *o, bool global)
{
	static const struct transition plan[] = {
		{ .label = "apply v2", .patch = "v2", .version = 2 },
		{ .label = "apply v3", .patch = "v3", .version = 3 },
		{ .label = "apply v4", .patch = "v4", .version = 4 },
		{ .label = "revert v4", .version = 3 },
		{ .label = "revert v3", .version = 2 },
	};
	char sock[128];
	int rep[2], port, status, i, k;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint64_t t;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->method = global ? "global" : "view";
	r->ok = true;
	r->nt = sizeof(plan) / sizeof(plan[0]);
	memcpy(r->t, plan, sizeof(plan));
	snprintf(sock, sizeof(sock), "%s/control-%s.sock", patch_dir, r->method);

	if (pipe2(rep, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		close(rep[0]);
		server_main(sock, o->workers, rep[1]);
	}
	close(rep[1]);
	if (read(rep[0], &port, sizeof(port)) != sizeof(port))
		die("the server did not start");

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	current_run = r;
	r->nconns = o->conns;
	t = now_ns();
	r->start = t + 200 * 1000000ULL;	/* connections made */
	r->measure = r->start + 500 * 1000000ULL;	/* warmed up */
	atomic_store(&clients_end, UINT64_MAX);
	for (i = 0; i < r->nconns; i++) {
		struct conn *c = &r->conns[i];
		int one = 1;

		c->id = i;
		c->interval = (uint64_t)(1e9 * o->conns / o->rate);
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("connect: %s", strerror(errno));
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&c->th, NULL, client_main, c))
			die("cannot start the load generator");
	}

	/* before | transitions, o->gap apart | after */
	sleep_until(r->measure + (uint64_t)(o->phase * 1e9));
	for (k = 0; k < r->nt; k++) {
		if (k)
			sleep_until(r->t[k - 1].done + (uint64_t)(o->gap * 1e9));
		do_transition(r, &r->t[k], sock, r->method);
		printf("  %-6s %-9s -> v%d: every thread on the new code %8.1f ms after the trigger\n",
		       r->method, r->t[k].label, r->t[k].version,
		       r->t[k].switch_us / 1e3);
		fflush(stdout);
	}
	r->end = r->t[r->nt - 1].done + (uint64_t)(o->phase * 1e9);
	atomic_store(&clients_end, r->end);
	for (i = 0; i < r->nconns; i++)
		pthread_join(r->conns[i].th, NULL);
	for (i = 0; i < r->nconns; i++) {
		close(r->conns[i].fd);
		r->sent += r->conns[i].n + r->conns[i].lost;
		r->lost += r->conns[i].lost;
		r->bad += r->conns[i].bad;
	}

	kill(pid, SIGTERM);
	if (read(rep[0], &r->served, sizeof(r->served)) != sizeof(r->served))
		r->served = -1;
	close(rep[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		problem(r, "the server failed (wait status %#x)", status);
	else if (r->served != r->sent)
		problem(r, "the server answered %ld requests, the clients sent %ld",
			r->served, r->sent);
	check_order(r);
}

static void print_row(const char *method, const char *phase, struct stats st)
{
	printf("%-7s %-15s %9ld %9.0f %9.0f %9.0f %9.0f %9.0f\n", method, phase,
	       st.n, st.rps, st.p50, st.p99, st.p999, st.max);
}

static void print_results(struct run *runs, int n)
{
	int i, k;

	printf("\n%-7s %-15s %9s %9s %9s %9s %9s %9s\n", "method", "phase",
	       "requests", "req/s", "p50 us", "p99 us", "p99.9 us", "max us");
	for (i = 0; i < n; i++) {
		struct run *r = &runs[i];
		uint64_t first = r->t[0].trigger, last = r->t[r->nt - 1].done;

		print_row(r->method, "before", phase_stats(r, r->measure, first, false));
		print_row(r->method, "during", phase_stats(r, first, last, false));
		print_row(r->method, " in transition", phase_stats(r, 0, 0, true));
		print_row(r->method, "after", phase_stats(r, last, r->end, false));
	}
	printf("\ntrigger -> every thread runs the new code (ms; patched text ready after)\n");
	printf("%-10s", "transition");
	for (i = 0; i < n; i++)
		printf("  %22s", runs[i].method);
	printf("\n");
	for (k = 0; k < runs[0].nt; k++) {
		printf("%-10s", runs[0].t[k].label);
		for (i = 0; i < n; i++)
			printf("  %9.1f (text %7.1f)", runs[i].t[k].switch_us / 1e3,
			       runs[i].t[k].prepare_us / 1e3);
		printf("\n");
	}
	printf("\n\"during\": from the first trigger until the last patch was complete;\n"
	       "\"in transition\": requests sent between a trigger and that patch's completion.\n");
}

/*
 * One line per method for programs that measure the demo (the benchmark
 * mmview_bench_patch): p99 latency, in ns, of the requests sent while no
 * patch was in progress (before the first trigger and after the last patch
 * was complete) and of those sent from the first trigger until the last
 * patch was complete.
 */
static void print_stats_lines(struct run *runs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct run *r = &runs[i];
		uint64_t first = r->t[0].trigger, last = r->t[r->nt - 1].done;
		struct stats steady = window_stats(r, r->measure, first, false,
						   last, r->end);
		struct stats during = phase_stats(r, first, last, false);

		printf("mmpatch-stats method=%s steady_p99_ns=%.0f during_p99_ns=%.0f steady_n=%ld during_n=%ld ok=%d\n",
		       r->method, steady.p99 * 1e3, during.p99 * 1e3,
		       steady.n, during.n, r->ok);
	}
}

/* Write the patches stored in this binary's sections mmpatch.<name>. */
static void extract_patches(void)
{
	const char *names[] = { "v2", "v3", "v4" };
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const char *strs;
	struct stat st;
	void *file;
	int fd, i, j, found = 0;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("/proc/self/exe: %s", strerror(errno));
	file = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (file == MAP_FAILED)
		die("/proc/self/exe: %s", strerror(errno));
	eh = file;
	sh = (const Elf64_Shdr *)((const char *)file + eh->e_shoff);
	strs = (const char *)file + sh[eh->e_shstrndx].sh_offset;
	mkdir(patch_dir, 0755);
	for (i = 0; i < eh->e_shnum; i++) {
		for (j = 0; j < 3; j++) {
			char want[32], path[128];
			int out;

			snprintf(want, sizeof(want), "mmpatch.%s", names[j]);
			if (strcmp(strs + sh[i].sh_name, want))
				continue;
			snprintf(path, sizeof(path), "%s/%s.mmpatch", patch_dir, names[j]);
			out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (out < 0 || !write_all(out, (const char *)file + sh[i].sh_offset,
						  sh[i].sh_size))
				die("%s: %s", path, strerror(errno));
			close(out);
			found++;
		}
	}
	munmap(file, st.st_size);
	if (found != 3)
		die("this binary lacks its patches (sections mmpatch.v2 ...): build it with the Makefile");
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--phase <s>] [--gap <s>] [--workers <n>] [--connections <n>] [--rate <req/s>] [--stats] [--only view|global]\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "phase", required_argument, NULL, 'p' },
		{ "gap", required_argument, NULL, 'g' },
		{ "workers", required_argument, NULL, 'w' },
		{ "connections", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "stats", no_argument, NULL, 's' },
		{ "only", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	/* A rate an emulated, debug-kernel guest sustains (see --rate). */
	struct options o = { .phase = 3, .gap = 0.5, .workers = 4, .conns = 8,
			     .rate = 200 };
	static struct run runs[2];
	long total = 0;
	int opt, i, n = 0;
	bool ok = true;

	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'p': o.phase = atof(optarg); break;
		case 'g': o.gap = atof(optarg); break;
		case 'w': o.workers = atoi(optarg); break;
		case 'c': o.conns = atoi(optarg); break;
		case 'r': o.rate = atoi(optarg); break;
		case 's': o.stats = true; break;
		case 'o': o.only = optarg; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc || o.phase <= 0 || o.gap < 0 || o.rate <= 0 ||
	    o.workers < 1 || o.workers > MAX_WORKERS ||
	    o.conns < 1 || o.conns > MAX_CONNS ||
	    (o.only && strcmp(o.only, "view") && strcmp(o.only, "global")))
		usage(argv[0]);

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	loopback_up();
	extract_patches();
	printf("mmpatch-demo: %d worker threads serve %d connections on loopback (%d req/s offered);\n"
	       "patches v2, v3, v4 stacked, then two reverts, with views and with global quiescence\n\n",
	       o.workers, o.conns, o.rate);
	/* --only: one method alone, e.g. to profile the kernel while it runs. */
	for (i = 0; i < 2; i++) {
		if (o.only && strcmp(o.only, i ? "global" : "view"))
			continue;
		run_method(&runs[n], &o, i == 1);
		ok = ok && runs[n].ok;
		total += runs[n].sent;
		n++;
	}
	print_results(runs, n);
	if (o.stats)
		print_stats_lines(runs, n);
	for (i = 0; i < n; i++)
		if (!runs[i].ok)
			printf("%s: %ld lost, %ld inconsistent, %ld out of order\n",
			       runs[i].method, runs[i].lost, runs[i].bad,
			       runs[i].order);
	printf("\nmmpatch-demo: %s: %ld requests, %s\n", ok ? "PASS" : "FAIL",
	       total, ok ? "every answer from one whole version, in order, none lost" :
			   "see the failures above");
	return ok ? 0 : 1;
}
