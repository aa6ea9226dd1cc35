// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized differential test of the mmview contract.
 *
 * Worker threads in several views apply a seeded random sequence of layout
 * (mmap MAP_FIXED, munmap, mremap), protection (mprotect), content
 * (MADV_DONTNEED) and store operations, together with view create, migrate
 * and delete, to an arena of pages. An in-test model of semantics.md
 * predicts every view's memory: shared pages are one content with one
 * protection, unshared pages have a content and protection per view, new
 * mappings are shared. After every step each worker's view is checked
 * against the model: /proc/self/task/TID/maps of the arena (mapped pages and
 * their protection) and the first word of every readable page.
 *
 * Environment: MMVIEW_RANDOM_SEED (default: time based, printed),
 * MMVIEW_RANDOM_SECONDS (default 100). A failure prints the seed and the
 * step; the same seed replays the same sequence.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mvt_harness.h"
#include "mmview_test_util.h"

#define NPAGES		48	/* arena size */
#define NUNSHARED	8	/* arena pages unshared before any view */
#define NW		4	/* worker threads */
#define MAXV		8	/* model slots for views (base included) */
#define MAPS_SIZE	(64 * 1024)

struct vmodel {
	long id;		/* view id, -1: slot free */
	bool live;		/* not deleted */
	int prot[NPAGES];	/* unshared pages: this view's protection */
	long val[NPAGES];	/* unshared pages: this view's first word */
};

struct model {
	bool mapped[NPAGES];
	bool unshared[NPAGES];
	int prot[NPAGES];	/* shared pages */
	long val[NPAGES];	/* shared pages */
	struct vmodel v[MAXV];
	int wslot[NW];		/* view slot of each worker */
};

/* Memory for the workers' reads: populated before any view exists. */
struct shared_io {
	long mask[NPAGES];
	long out[NPAGES];
};

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int rnd_below(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

/* ---- run by workers (MVT_CALL) ---- */

static long w_mmap_fixed(long addr, long len, long d, long *out)
{
	void *p = mmap((void *)addr, (size_t)len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	(void)d;
	(void)out;
	return p == MAP_FAILED ? -1 : 0;
}

static long w_mremap_fixed(long from, long to, long len, long *out)
{
	void *p = mremap((void *)from, (size_t)len, (size_t)len,
			 MREMAP_MAYMOVE | MREMAP_FIXED, (void *)to);

	(void)out;
	return p == MAP_FAILED ? -1 : 0;
}

static long w_madvise(long addr, long len, long advice, long *out)
{
	(void)out;
	return madvise((void *)addr, (size_t)len, (int)advice);
}

/* Read the first word of every page whose mask is set. */
static long w_read(long arena, long io_addr, long ps, long *out)
{
	struct shared_io *io = (struct shared_io *)io_addr;
	int i;

	(void)out;
	for (i = 0; i < NPAGES; i++)
		if (io->mask[i])
			io->out[i] = *(volatile long *)(arena + i * ps);
	return 0;
}

/* ---- model helpers ---- */

static int view_prot(const struct model *m, int slot, int i)
{
	if (!m->mapped[i])
		return -1;
	return m->unshared[i] ? m->v[slot].prot[i] : m->prot[i];
}

static long view_val(const struct model *m, int slot, int i)
{
	return m->unshared[i] ? m->v[slot].val[i] : m->val[i];
}

static bool slot_used(const struct model *m, int s)
{
	int w;

	if (m->v[s].live)
		return true;
	for (w = 0; w < NW; w++)
		if (m->wslot[w] == s)
			return true;
	return false;
}

/* A deleted view nobody uses any more is gone: free its slot. */
static void collect(struct model *m)
{
	int s;

	for (s = 1; s < MAXV; s++)
		if (m->v[s].id >= 0 && !slot_used(m, s))
			m->v[s].id = -1;
}

/* Parse the arena part of a maps file into per-page protections. */
static void maps_prot(const char *maps, unsigned long arena, size_t ps,
		      int *prot)
{
	const char *line = maps;
	int i;

	for (i = 0; i < NPAGES; i++)
		prot[i] = -1;
	while (line && *line) {
		unsigned long a, b, x;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3) {
			for (x = a; x < b; x += ps) {
				long idx = (long)((x - arena) / ps);

				if (x < arena || idx >= NPAGES)
					continue;
				prot[idx] = (perms[0] == 'r' ? PROT_READ : 0) |
					    (perms[1] == 'w' ? PROT_WRITE : 0) |
					    (perms[2] == 'x' ? PROT_EXEC : 0);
			}
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}

#define HISTORY	512

struct ctx {
	struct mvt_worker w[NW];
	char hist[HISTORY][96];	/* the last steps, for failure reports */
	short hp[HISTORY], hn[HISTORY], hq[HISTORY];
	struct model m;
	struct shared_io *io;
	unsigned long arena;
	size_t ps;
	char *maps;
	uint64_t seed;
	long step;
	const char *op;
};

/* The last steps that touched page @page or changed views. */
static void dump_history(struct ctx *c, int page)
{
	long k;

	for (k = c->step - HISTORY + 1; k <= c->step; k++) {
		const char *h = c->hist[k % HISTORY];
		int p = c->hp[k % HISTORY], n = c->hn[k % HISTORY];

		if (k < 0 || !h[0])
			continue;
		if ((page >= p && page < p + n) || c->hq[k % HISTORY] == page ||
		    strstr(h, "create") || strstr(h, "delete") ||
		    strstr(h, "migrate"))
			fprintf(stderr, "#   step %ld: %s\n", k, h);
	}
}

/* Every worker's view matches the model. */
static void check(struct __test_metadata *_metadata, struct ctx *c)
{
	struct model *m = &c->m;
	int prot[NPAGES];
	int w, i;

	for (w = 0; w < NW; w++) {
		int s = m->wslot[w];
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/task/%d/maps",
			 c->w[w].tid);
		ASSERT_LT(0, mvt_read_file(path, c->maps, MAPS_SIZE));
		maps_prot(c->maps, c->arena, c->ps, prot);
		for (i = 0; i < NPAGES; i++) {
			if (view_prot(m, s, i) != prot[i])
				dump_history(c, i);
			ASSERT_EQ(view_prot(m, s, i), prot[i])
				TH_LOG("seed %llu step %ld (%s): view %ld page %d: "
				       "protection %d, model %d",
				       (unsigned long long)c->seed, c->step, c->op,
				       m->v[s].id, i, prot[i], view_prot(m, s, i));
			c->io->mask[i] = prot[i] > 0 && (prot[i] & PROT_READ);
			c->io->out[i] = -1;
		}
		ASSERT_EQ(0, WOK(&c->w[w].ch, MVT_CALL, (long)w_read,
				 (long)c->arena, (long)c->io, (long)c->ps));
		for (i = 0; i < NPAGES; i++) {
			if (!c->io->mask[i])
				continue;
			if (view_val(m, s, i) != c->io->out[i]) {
				void *pa = (void *)(c->arena + i * c->ps);

				dump_history(c, i);
				fprintf(stderr, "#   pfn in view %ld: %ld, in base: %lld, base value %#lx\n",
					m->v[s].id,
					WRPC(&c->w[w].ch, MVT_PFN, (long)pa).ret,
					(long long)mvt_pfn(mvt_gettid(), pa),
					*(long *)pa);
				fprintf(stderr, "%s", c->maps);
			}
			ASSERT_EQ(view_val(m, s, i), c->io->out[i])
				TH_LOG("seed %llu step %ld (%s): view %ld page %d: "
				       "value %#lx, model %#lx",
				       (unsigned long long)c->seed, c->step, c->op,
				       m->v[s].id, i, c->io->out[i],
				       view_val(m, s, i));
		}
	}
}

/* A random run [p, p + n) inside the arena. */
static void pick_range(int *p, int *n)
{
	*n = 1 + rnd_below(4);
	*p = rnd_below(NPAGES - *n + 1);
}

static bool all_mapped(const struct model *m, int p, int n)
{
	int i;

	for (i = p; i < p + n; i++)
		if (!m->mapped[i])
			return false;
	return true;
}

/* Append to this step's history line. */
#define NOTE(fmt, ...) do {						\
	char *__h = c->hist[c->step % HISTORY];				\
	size_t __l = strlen(__h);					\
	snprintf(__h + __l, sizeof(c->hist[0]) - __l, " " fmt, ##__VA_ARGS__); \
} while (0)

static void step(struct __test_metadata *_metadata, struct ctx *c)
{
	struct model *m = &c->m;
	int w = rnd_below(NW), s = m->wslot[w];
	const struct mvt_chan *ch = &c->w[w].ch;
	unsigned long a;
	int p, n, i, k;
	long r;

	pick_range(&p, &n);
	a = c->arena + p * c->ps;
	c->hp[c->step % HISTORY] = (short)p;
	c->hn[c->step % HISTORY] = (short)n;
	c->hq[c->step % HISTORY] = -1;
	snprintf(c->hist[c->step % HISTORY], sizeof(c->hist[0]),
		 "worker %d in view %ld: pages %d+%d", w, m->v[s].id, p, n);
	switch (rnd_below(10)) {
	case 0:
	case 1:
	case 2: {		/* store */
		long v = (long)(rnd() >> 1) | 1;

		c->op = "store";
		NOTE("store");
		if (view_prot(m, s, p) != (PROT_READ | PROT_WRITE))
			return;
		NOTE("%#lx", v);
		WOK(ch, MVT_STORE, (long)a, v);
		if (m->unshared[p])
			m->v[s].val[p] = v;
		else
			m->val[p] = v;
		return;
	}
	case 3:			/* mmap MAP_FIXED: new shared memory */
		c->op = "mmap";
		NOTE("mmap");
		ASSERT_EQ(0, WOK(ch, MVT_CALL, (long)w_mmap_fixed, (long)a,
				 (long)(n * c->ps)));
		for (i = p; i < p + n; i++) {
			m->mapped[i] = true;
			m->unshared[i] = false;
			m->prot[i] = PROT_READ | PROT_WRITE;
			m->val[i] = 0;
		}
		return;
	case 4:			/* munmap */
		c->op = "munmap";
		NOTE("munmap");
		ASSERT_EQ(0, WOK(ch, MVT_SYSCALL, SYS_munmap, (long)a,
				 (long)(n * c->ps)));
		for (i = p; i < p + n; i++)
			m->mapped[i] = false;
		return;
	case 5: {		/* mprotect */
		int prot = rnd_below(2) ? PROT_READ : PROT_READ | PROT_WRITE;


		c->op = "mprotect";
		NOTE("mprotect");
		if (!all_mapped(m, p, n))
			return;
		NOTE("prot %d", prot);
		ASSERT_EQ(0, WOK(ch, MVT_SYSCALL, SYS_mprotect, (long)a,
				 (long)(n * c->ps), prot));
		for (i = p; i < p + n; i++) {
			if (m->unshared[i])
				m->v[s].prot[i] = prot;
			else
				m->prot[i] = prot;
		}
		return;
	}
	case 6:			/* MADV_DONTNEED: content */
		c->op = "dontneed";
		NOTE("dontneed");
		if (!all_mapped(m, p, n))
			return;
		ASSERT_EQ(0, WOK(ch, MVT_CALL, (long)w_madvise, (long)a,
				 (long)(n * c->ps), MADV_DONTNEED));
		for (i = p; i < p + n; i++) {
			if (m->unshared[i])
				m->v[s].val[i] = 0;
			else
				m->val[i] = 0;
		}
		return;
	case 7: {		/* mremap one page to a free page */
		int q = rnd_below(NPAGES);

		c->op = "mremap";
		NOTE("mremap");
		if (!m->mapped[p] || m->mapped[q])
			return;
		NOTE("to %d", q);
		c->hq[c->step % HISTORY] = (short)q;
		c->hn[c->step % HISTORY] = 1;
		ASSERT_EQ(0, WOK(ch, MVT_CALL, (long)w_mremap_fixed, (long)a,
				 (long)(c->arena + q * c->ps), (long)c->ps));
		m->mapped[q] = true;
		m->unshared[q] = m->unshared[p];
		m->prot[q] = m->prot[p];
		m->val[q] = m->val[p];
		for (k = 0; k < MAXV; k++) {
			m->v[k].prot[q] = m->v[k].prot[p];
			m->v[k].val[q] = m->v[k].val[p];
		}
		m->mapped[p] = false;
		return;
	}
	case 8: {		/* create a view, copy of the worker's */
		int ns;

		c->op = "create";
		NOTE("create");
		for (ns = 1; ns < MAXV && m->v[ns].id >= 0; ns++)
			;
		if (ns == MAXV)
			return;
		r = WOK(ch, MVT_CREATE);
		NOTE("-> %ld", r);
		m->v[ns] = m->v[s];
		m->v[ns].id = r;
		m->v[ns].live = true;
		return;
	}
	default: {		/* migrate, or delete */
		int t = rnd_below(MAXV);

		if (m->v[t].id < 0 || !m->v[t].live)
			return;
		if (rnd_below(3) || t == 0) {
			c->op = "migrate";
			NOTE("migrate");
			NOTE("to %ld", m->v[t].id);
			ASSERT_EQ(m->v[s].id, WOK(ch, MVT_MIGRATE, m->v[t].id));
			m->wslot[w] = t;
		} else {
			c->op = "delete";
			NOTE("delete");
			NOTE("%ld", m->v[t].id);
			ASSERT_EQ(0, WOK(ch, MVT_DELETE, m->v[t].id));
			m->v[t].live = false;
		}
		collect(m);
		return;
	}
	}
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

FIXTURE(random) {
	int unused;
};

FIXTURE_SETUP(random)
{
}

FIXTURE_TEARDOWN(random)
{
}

/* Long runs are asked for with MMVIEW_RANDOM_SECONDS: allow two hours. */
TEST_F_TIMEOUT(random, operations_match_the_model, 7200)
{
	struct ctx *c;
	long seconds = env_long("MMVIEW_RANDOM_SECONDS", 100);
	uint64_t end;
	void *arena;
	int i, w, s;

	ASSERT_EQ(0, mvt_process_setup());
	ASSERT_MMVIEW_AVAILABLE();
	c = calloc(1, sizeof(*c));
	ASSERT_NE(NULL, c);
	c->ps = mvt_page_size();
	c->seed = (uint64_t)env_long("MMVIEW_RANDOM_SEED",
				     (long)time(NULL) ^ (long)getpid());
	if (!c->seed)
		c->seed = 1;
	rng = c->seed;
	TH_LOG("seed %llu, %ld s (MMVIEW_RANDOM_SEED, MMVIEW_RANDOM_SECONDS)",
	       (unsigned long long)c->seed, seconds);
	c->maps = malloc(MAPS_SIZE);
	c->io = mvt_map_populated(c->ps * 2);
	ASSERT_NE(NULL, c->maps);
	ASSERT_NE(NULL, c->io);

	/* The arena: unshared pages first, the rest unmapped. */
	arena = mvt_map_populated(NPAGES * c->ps);
	ASSERT_NE(NULL, arena);
	c->arena = (unsigned long)arena;
	for (s = 0; s < MAXV; s++)
		c->m.v[s].id = -1;
	c->m.v[0].id = 0;
	c->m.v[0].live = true;
	for (i = 0; i < NUNSHARED; i++) {
		*(long *)(c->arena + i * c->ps) = 0x1000 + i;
		c->m.mapped[i] = true;
		c->m.unshared[i] = true;
		c->m.v[0].prot[i] = PROT_READ | PROT_WRITE;
		c->m.v[0].val[i] = 0x1000 + i;
	}
	ASSERT_EQ(0, mmview_unshare(arena, NUNSHARED * c->ps));
	ASSERT_EQ(0, munmap((void *)(c->arena + NUNSHARED * c->ps),
			    (NPAGES - NUNSHARED) * c->ps));

	for (w = 0; w < NW; w++) {
		ASSERT_EQ(0, mvt_worker_start(&c->w[w]));
		c->m.wslot[w] = 0;
	}
	check(_metadata, c);

	end = mvt_now_ms() + (uint64_t)seconds * 1000;
	for (c->step = 1; mvt_now_ms() < end; c->step++) {
		step(_metadata, c);
		check(_metadata, c);
	}
	TH_LOG("seed %llu: %ld steps without a difference from the model",
	       (unsigned long long)c->seed, c->step - 1);

	for (w = 0; w < NW; w++)
		mvt_worker_stop(&c->w[w]);
}

TEST_HARNESS_MAIN
