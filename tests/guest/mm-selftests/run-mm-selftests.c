// SPDX-License-Identifier: GPL-2.0
/*
 * run-mm-selftests - run each kernel mm selftest twice, normally and with
 * every process inside views (<name>.inview, see inview.c), and compare the
 * results case by case.
 *
 *   run-mm-selftests [-d DIR] [-l LIST] [--list] [PROGRAM...]
 *
 * DIR (default: the folder of this executable) holds <name>, <name>.inview
 * and the program list LIST (default DIR/programs.txt: "<name> <timeout s>
 * <arches> [args...]" per line; "<name>@<variant>" runs <name> with other
 * arguments under its own name; "!<name>" is built but runs only when named;
 * neither does a program whose arches do not name this build's arch).  Without PROGRAM arguments every listed
 * program that was built runs; --list only prints their names.
 *
 * Output is TAP: one test point per program, "ok N <name> inside views" when
 * both runs gave the same outcome for every case, otherwise "not ok" with the
 * differing cases as diagnostics.  The programs' own output is echoed as
 * comments between markers that the host tooling parses:
 *
 *   # MMVIEW-MM-RUN <name> <normal|inview>
 *   # <normal|inview>| <line of the program's stdout/stderr>
 *   # MMVIEW-MM-STATUS <name> <normal|inview> <exit:N|signal:N|timeout> <ms>
 *
 * The host (tooling/src/mmselftests/evaluate.ts) applies the same comparison
 * plus tests/guest/mm-selftests/allowed-differences.txt; this program's own
 * verdict ignores that list.  Exit status: 0 when every program matched,
 * 1 otherwise, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MAX_ARGS 16
#define MAX_CASES 4096
#define MAX_DIFFS_SHOWN 25

#if defined(__x86_64__)
#define RUNNER_ARCH "x86_64"
#elif defined(__aarch64__)
#define RUNNER_ARCH "arm64"
#else
#define RUNNER_ARCH "unknown"
#endif

struct program {
	char *name;	/* <binary> or <binary>@<variant> */
	char *binary;
	int disabled;	/* "!<name>": run only when named */
	int other_arch;	/* its arches field does not name this runner's arch */
	int timeout;
	char *args[MAX_ARGS];
	int nargs;
};

enum outcome { OUT_MISSING, OUT_PASS, OUT_FAIL, OUT_SKIP, OUT_XFAIL, OUT_XPASS };

static const char *const outcome_names[] = { "missing", "pass", "fail", "skip", "xfail", "xpass" };

struct kcase {
	enum outcome outcome;
	char label[160];
};

struct run {
	struct kcase cases[MAX_CASES + 1];	/* by test number */
	int max_case;
	int timed_out;
	int status;	/* wait status, valid unless timed_out */
	long ms;
	/* parser state */
	char run_label[160];
	int uffd_index;
	int uffd_open;	/* a "Testing X..." line without its result yet */
};

static const char *mode_names[] = { "normal", "inview" };

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	memmove(s, s + strspn(s, " \t"), strlen(s + strspn(s, " \t")) + 1);
}

static void set_label(char *dst, const char *src, size_t len)
{
	size_t n = len < 159 ? len : 159;

	memcpy(dst, src, n);
	dst[n] = '\0';
	trim(dst);
}

static void record(struct run *r, int num, enum outcome o, const char *label)
{
	if (num < 1 || num > MAX_CASES)
		return;
	r->cases[num].outcome = o;
	snprintf(r->cases[num].label, sizeof(r->cases[num].label), "%s", label);
	if (num > r->max_case)
		r->max_case = num;
}

static int has_directive(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s; s++)
		if (strncasecmp(s, word, n) == 0)
			return 1;
	return 0;
}

/*
 * One line of a program's output.  Understands kselftest TAP ("ok N desc",
 * "not ok N desc", directives "# SKIP", "# XFAIL", "# XPASS"; the case's
 * label is the last "# [RUN] ..." or "# [INFO] ..." message before it, else
 * its description, else its directive's message) and the "Testing X...
 * done|skipped|failed" lines of uffd-unit-tests.  Must stay in step with
 * parseKsftCases() in tooling/src/mmselftests/compare.ts.
 */
static void parse_line(struct run *r, const char *line)
{
	const char *p = line;
	int fail = 0, num;
	char *end;

	if (strncmp(p, "# [RUN] ", 8) == 0 || strncmp(p, "# [RUN]\t", 8) == 0) {
		set_label(r->run_label, p + 8, strlen(p + 8));
		return;
	}
	if (strncmp(p, "# [INFO] ", 9) == 0 || strncmp(p, "# [INFO]\t", 9) == 0) {
		set_label(r->run_label, p + 9, strlen(p + 9));
		return;
	}
	if (strncmp(p, "Testing ", 8) == 0) {
		const char *dots = strstr(p, "... ");
		const char *res;

		if (!dots)
			dots = strstr(p, "...");
		if (!dots)
			return;
		r->uffd_index++;
		set_label(r->run_label, p + 8, dots - (p + 8));
		r->uffd_open = 1;
		res = dots + 3;
		while (*res == ' ')
			res++;
		p = res;
		if (!*p)
			return;
	}
	if (r->uffd_open) {
		enum outcome o;

		if (strncmp(p, "done", 4) == 0)
			o = OUT_PASS;
		else if (strncmp(p, "skipped", 7) == 0)
			o = OUT_SKIP;
		else if (strncmp(p, "failed", 6) == 0)
			o = OUT_FAIL;
		else
			return;
		record(r, r->uffd_index, o, r->run_label);
		r->uffd_open = 0;
		r->run_label[0] = '\0';
		return;
	}
	if (strncmp(p, "not ok ", 7) == 0) {
		fail = 1;
		p += 7;
	} else if (strncmp(p, "ok ", 3) == 0) {
		p += 3;
	} else {
		return;
	}
	if (!isdigit((unsigned char)*p))
		return;
	num = (int)strtol(p, &end, 10);
	if (*end != '\0' && *end != ' ' && *end != '\t')
		return;
	{
		char rest[512], next[160] = "", d[160];
		char *embedded, *hash, *dir;
		enum outcome o;

		snprintf(rest, sizeof(rest), "%s", end);
		/* A result message without its newline runs into the next "# [RUN] ..." line. */
		embedded = strstr(rest, "# [RUN] ");
		if (embedded) {
			set_label(next, embedded + 8, strlen(embedded + 8));
			*embedded = '\0';
		}
		hash = strstr(rest, " #");
		dir = hash ? hash + 2 : "";
		set_label(d, rest, hash ? (size_t)(hash - rest) : strlen(rest));
		if (fail)
			o = OUT_FAIL;
		else if (has_directive(dir, "SKIP"))
			o = OUT_SKIP;
		else if (has_directive(dir, "XFAIL"))
			o = OUT_XFAIL;
		else if (has_directive(dir, "XPASS"))
			o = OUT_XPASS;
		else
			o = OUT_PASS;
		if (r->run_label[0]) {
			record(r, num, o, r->run_label);
		} else if (d[0]) {
			record(r, num, o, d);
		} else {
			/* The directive's message, without the directive word. */
			char reason[160];
			char *msg = dir + strspn(dir, " \t");

			size_t word = strcspn(msg, " \t");

			if ((word == 4 && strncasecmp(msg, "SKIP", 4) == 0) ||
			    (word == 5 && (strncasecmp(msg, "XFAIL", 5) == 0 || strncasecmp(msg, "XPASS", 5) == 0)))
				msg += word;
			set_label(reason, msg, strlen(msg));
			record(r, num, o, reason);
		}
		snprintf(r->run_label, sizeof(r->run_label), "%s", next);
	}
}

static char *self_dir(void)
{
	static char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n <= 0)
		return ".";
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return ".";
	if (slash == buf)
		return "/";
	*slash = '\0';
	return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Echo one complete output line with its prefix and feed it to the parser. */
static void emit(struct run *r, const char *mode, char *line)
{
	size_t n = strlen(line);

	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	printf("# %s| %s\n", mode, line);
	parse_line(r, line);
}

/* Run one program with a timeout; its output is echoed and parsed. */
static void run_one(const char *dir, const struct program *p, int inview, struct run *r)
{
	const char *mode = mode_names[inview];
	char path[PATH_MAX], wd[] = "/tmp/mm-selftest-XXXXXX";
	char *argv[MAX_ARGS + 2];
	char buf[4096], line[8192];
	size_t used = 0;
	int fds[2], status = 0, exited = 0, i;
	long start, deadline;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "%s/%s%s", dir, p->binary, inview ? ".inview" : "");
	argv[0] = path;
	for (i = 0; i < p->nargs; i++)
		argv[i + 1] = p->args[i];
	argv[p->nargs + 1] = NULL;

	printf("# MMVIEW-MM-RUN %s %s\n", p->name, mode);
	fflush(stdout);
	if (!mkdtemp(wd))
		strcpy(wd, "/tmp");
	if (pipe2(fds, O_CLOEXEC) < 0) {
		perror("pipe2");
		exit(2);
	}
	start = now_ms();
	deadline = start + p->timeout * 1000L;
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		/* Killed with the runner (e.g. by the guest's per-program timeout). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		if (chdir(wd) < 0)
			(void)!chdir("/tmp");
		signal(SIGPIPE, SIG_DFL);
		execv(path, argv);
		fprintf(stderr, "run-mm-selftests: cannot execute %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(fds[1]);

	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;
		int ret;

		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			/* Stragglers of the program must not keep the pipe open. */
			kill(-pid, SIGKILL);
		}
		if (left <= 0 && !r->timed_out) {
			r->timed_out = !exited;
			kill(-pid, SIGKILL);
		}
		ret = poll(&pfd, 1, exited || r->timed_out ? 2000 : (left > 500 ? 500 : (left > 0 ? left : 0)));
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret == 0) {
			if (exited || r->timed_out)
				break;	/* a killed straggler holds the pipe; give up */
			continue;
		}
		n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' || used == sizeof(line) - 1) {
				line[used] = '\0';
				emit(r, mode, line);
				used = 0;
				if (buf[i] == '\n')
					continue;
			}
			line[used++] = buf[i];
		}
		fflush(stdout);
	}
	if (used > 0) {
		line[used] = '\0';
		emit(r, mode, line);
	}
	close(fds[0]);
	if (!exited) {
		long give_up = now_ms() + 10000;

		kill(-pid, SIGKILL);
		/* A process stuck in the kernel (after an oops) may never die: go on without it. */
		while (waitpid(pid, &status, WNOHANG) == 0 && now_ms() < give_up)
			usleep(100000);
		if (!r->timed_out && now_ms() >= give_up)
			r->timed_out = 1;
	}
	r->status = status;
	r->ms = now_ms() - start;
	if (strcmp(wd, "/tmp") != 0)
		nftw(wd, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	if (r->timed_out)
		printf("# MMVIEW-MM-STATUS %s %s timeout %ld\n", p->name, mode, r->ms);
	else if (WIFSIGNALED(status))
		printf("# MMVIEW-MM-STATUS %s %s signal:%d %ld\n", p->name, mode, WTERMSIG(status), r->ms);
	else
		printf("# MMVIEW-MM-STATUS %s %s exit:%d %ld\n", p->name, mode, WEXITSTATUS(status), r->ms);
	fflush(stdout);
}

static void describe_end(const struct run *r, char *buf, size_t len)
{
	if (r->timed_out)
		snprintf(buf, len, "timed out");
	else if (WIFSIGNALED(r->status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(r->status));
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(r->status));
}

/* The ends count as a difference unless both are exit 0/1/4 and cases differ (see ksft.ts). */
static int plain_exit(const struct run *r)
{
	int s;

	if (r->timed_out || !WIFEXITED(r->status))
		return 0;
	s = WEXITSTATUS(r->status);
	return s == 0 || s == 1 || s == 4;
}

static int compare(const struct program *p, int num, const struct run *a, const struct run *b)
{
	int max = a->max_case > b->max_case ? a->max_case : b->max_case;
	int diffs = 0, shown = 0, same = 0, i;
	char ea[64], eb[64];

	for (i = 1; i <= max; i++) {
		const struct kcase *x = &a->cases[i], *y = &b->cases[i];

		if (x->outcome == y->outcome) {
			if (x->outcome != OUT_MISSING)
				same++;
			continue;
		}
		if (diffs++ < MAX_DIFFS_SHOWN)
			printf("# %s: case %d (%s): normal %s, inside views %s\n", p->name, i,
			       x->outcome != OUT_MISSING ? x->label : y->label,
			       outcome_names[x->outcome], outcome_names[y->outcome]), shown++;
	}
	if (diffs > shown)
		printf("# %s: ... and %d more differing cases\n", p->name, diffs - shown);
	describe_end(a, ea, sizeof(ea));
	describe_end(b, eb, sizeof(eb));
	if (strcmp(ea, eb) != 0) {
		if (diffs > 0 && plain_exit(a) && plain_exit(b)) {
			printf("# %s: (normal run: %s, inside views: %s, as the cases explain)\n", p->name, ea, eb);
		} else {
			printf("# %s: end: normal %s, inside views %s\n", p->name, ea, eb);
			diffs++;
		}
	}
	printf("# %s: %d cases the same; normal %ld ms, inside views %ld ms\n", p->name, same, a->ms, b->ms);
	printf("%s %d %s inside views\n", diffs ? "not ok" : "ok", num, p->name);
	fflush(stdout);
	return diffs == 0;
}

/* "all" or a comma-separated list naming RUNNER_ARCH. */
static int arch_listed(const char *arches)
{
	size_t n = strlen(RUNNER_ARCH);
	const char *p = arches;

	if (strcmp(arches, "all") == 0)
		return 1;
	while (p && *p) {
		if (strncmp(p, RUNNER_ARCH, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

static int read_list(const char *file, struct program **out)
{
	FILE *f = fopen(file, "r");
	struct program *list = NULL;
	char line[1024];
	int n = 0;

	if (!f) {
		fprintf(stderr, "run-mm-selftests: %s: %s\n", file, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok, *name, *timeout, *arches;
		struct program *p;

		if (line[strspn(line, " \t")] == '#')
			continue;
		name = strtok_r(line, " \t\n", &save);
		if (!name)
			continue;
		timeout = strtok_r(NULL, " \t\n", &save);
		arches = timeout ? strtok_r(NULL, " \t\n", &save) : NULL;
		if (!timeout || atoi(timeout) <= 0 || !arches) {
			fprintf(stderr, "run-mm-selftests: %s: bad line for %s\n", file, name);
			exit(2);
		}
		list = realloc(list, (n + 1) * sizeof(*list));
		if (!list)
			exit(2);
		p = &list[n++];
		memset(p, 0, sizeof(*p));
		if (name[0] == '!') {
			p->disabled = 1;
			name++;
		}
		p->name = strdup(name);
		p->binary = strndup(name, strcspn(name, "@"));
		p->timeout = atoi(timeout);
		p->other_arch = !arch_listed(arches);
		while ((tok = strtok_r(NULL, " \t\n", &save)) && p->nargs < MAX_ARGS)
			p->args[p->nargs++] = strdup(tok);
	}
	fclose(f);
	*out = list;
	return n;
}

static int built(const char *dir, const char *name)
{
	char a[PATH_MAX], b[PATH_MAX];

	snprintf(a, sizeof(a), "%s/%s", dir, name);
	snprintf(b, sizeof(b), "%s/%s.inview", dir, name);
	return access(a, X_OK) == 0 && access(b, X_OK) == 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *listfile = NULL;
	struct program *list, *sel[256];
	static struct run runs[2];
	int n, nsel = 0, only_list = 0, ok = 1, i, j;
	char deflist[PATH_MAX + 32];

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			listfile = argv[++i];
		else if (strcmp(argv[i], "--list") == 0)
			only_list = 1;
		else {
			fprintf(stderr, "usage: %s [-d DIR] [-l LIST] [--list] [PROGRAM...]\n", argv[0]);
			return 2;
		}
	}
	if (!dir)
		dir = self_dir();
	if (!listfile) {
		snprintf(deflist, sizeof(deflist), "%s/programs.txt", dir);
		listfile = deflist;
	}
	n = read_list(listfile, &list);
	if (i < argc) {
		for (; i < argc; i++) {
			for (j = 0; j < n && strcmp(list[j].name, argv[i]) != 0; j++)
				;
			if (j == n) {
				fprintf(stderr, "run-mm-selftests: %s is not in %s\n", argv[i], listfile);
				return 2;
			}
			if (nsel < 256)
				sel[nsel++] = &list[j];
		}
	} else {
		for (j = 0; j < n && nsel < 256; j++)
			if (!list[j].disabled && !list[j].other_arch && built(dir, list[j].binary))
				sel[nsel++] = &list[j];
	}
	if (only_list) {
		for (j = 0; j < nsel; j++)
			printf("%s\n", sel[j]->name);
		return 0;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	printf("TAP version 13\n1..%d\n", nsel);
	for (j = 0; j < nsel; j++) {
		if (!built(dir, sel[j]->binary)) {
			printf("ok %d %s inside views # SKIP %s/%s or its .inview build is missing\n", j + 1, sel[j]->name,
			       dir, sel[j]->binary);
			continue;
		}
		run_one(dir, sel[j], 0, &runs[0]);
		run_one(dir, sel[j], 1, &runs[1]);
		if (!compare(sel[j], j + 1, &runs[0], &runs[1]))
			ok = 0;
	}
	return ok ? 0 : 1;
}
