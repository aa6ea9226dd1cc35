/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmpatch.h - live patching of a running program with address-space views.
 *
 * Program side: call mmpatch_init() at startup (before any view exists) and
 * mmpatch_quiescent() from every thread at points where it runs no code that
 * a patch may replace (between requests, in idle loops).  A patch is then
 * applied by building the patched text in a new view, and each thread moves
 * into that view at its next quiescence point; threads that have not moved
 * yet keep running the old code, untouched.  See README.md.
 *
 * Patch side: a shared object built from the changed functions with the
 * make rule of mmpatch.mk, containing one MMPATCH_INFO() and one
 * MMPATCH_REPLACE() per replaced function.
 */
#ifndef _MMPATCH_H
#define _MMPATCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- patch format (sections of the patch shared object) ---- */

#define MMPATCH_MAGIC		0x4d4d5041u	/* "MMPA" */
#define MMPATCH_ABI_VERSION	1u

/* Section "mmpatch_info": exactly one per patch. */
struct mmpatch_info {
	uint32_t magic;			/* MMPATCH_MAGIC */
	uint32_t version;		/* MMPATCH_ABI_VERSION */
	const char *build_id;		/* GNU build id of the target, hex */
	const char *description;	/* shown in messages */
};

/* Section "mmpatch_funcs": one entry per replaced function. */
struct mmpatch_func {
	const char *old_name;		/* symbol in the running program */
	const void *new_func;		/* replacement in this patch */
};

#define MMPATCH_SECTION_INFO	"mmpatch_info"
#define MMPATCH_SECTION_FUNCS	"mmpatch_funcs"

/*
 * MMPATCH_BUILD_ID is the target's build id; the make rule of mmpatch.mk
 * reads it from the target binary and defines it.
 */
#ifdef MMPATCH_BUILD_ID
#define MMPATCH_INFO(desc)						\
	static const struct mmpatch_info __mmpatch_info			\
	__attribute__((used, section(MMPATCH_SECTION_INFO))) = {	\
		MMPATCH_MAGIC, MMPATCH_ABI_VERSION, MMPATCH_BUILD_ID, desc }
#else
#define MMPATCH_INFO(desc)						\
	_Static_assert(0, "MMPATCH_BUILD_ID is not defined: build patches " \
		       "with the rule of mmpatch.mk")
#endif

/* Replace the program's function `old` by this patch's function `new_fn`. */
#define MMPATCH_REPLACE(old, new_fn)					\
	static const struct mmpatch_func __mmpatch_func_##old		\
	__attribute__((used, section(MMPATCH_SECTION_FUNCS))) = {	\
		#old, (const void *)&new_fn }

/*
 * Mark a function of the program that patches may replace.  Calls to it
 * must really call it: not inlined, not cloned or specialised, not folded
 * with another function, and nothing about its body assumed by callers.
 */
#define MMPATCH_PATCHABLE	__attribute__((noipa, used))

/* ---- program side ---- */

enum mmpatch_method {
	/* New view, threads move at their quiescence points. */
	MMPATCH_VIEW = 0,
	/* Every thread waits at a barrier, the text is patched in place. */
	MMPATCH_GLOBAL = 1,
};

struct mmpatch_config {
	/* Path of a Unix stream socket for commands (see README), or NULL. */
	const char *control_socket;
	/* How long every thread may take to reach a quiescence point;
	 * 0 means 5000 ms. */
	unsigned int timeout_ms;
};

struct mmpatch_result {
	int error;		/* 0, or the positive errno value returned */
	char message[256];	/* what went wrong; "" on success */
	long view;		/* the view every thread runs in afterwards */
	unsigned int depth;	/* number of patches applied afterwards */
	uint64_t prepare_ns;	/* trigger -> patched text ready */
	uint64_t switch_ns;	/* trigger -> every thread runs the new code */
};

struct mmpatch_status {
	long view;		/* the view every thread is asked to run in */
	long pending_view;	/* view being switched to, or -1 */
	unsigned int depth;	/* number of patches applied */
	int views;		/* 1 if the kernel has address-space views */
};

/*
 * Unshare the program's executable segments and start the patcher thread.
 * Must be called before the process has views.  Returns 0 or a negative
 * errno value.  Without mmview in the kernel it still succeeds, and only
 * MMPATCH_GLOBAL works.
 */
int mmpatch_init(const struct mmpatch_config *cfg);

/*
 * A quiescence point of the calling thread: if a newer view is pending,
 * move there; if a global patch is waiting, wait at its barrier.  Cheap
 * when nothing is pending (a thread-local and a global load).
 */
void mmpatch_quiescent(void);

/*
 * Apply the patch at path, or revert the latest patch, with the given
 * method.  The call returns when every thread runs the new code, or with
 * an error; the calling thread counts as quiescent while it waits.  Returns
 * 0 or a negative errno value; res (may be NULL) gets the details.  On
 * error every thread runs the code it ran before.
 */
int mmpatch_apply(const char *path, enum mmpatch_method how,
		  struct mmpatch_result *res);
int mmpatch_revert(enum mmpatch_method how, struct mmpatch_result *res);

int mmpatch_status(struct mmpatch_status *st);

/*
 * Client of the control socket: send one command line, read the reply
 * line into reply (NUL terminated, no newline).  Returns 0 if the reply
 * starts with "ok", -EPROTO for an "error" reply, or a negative errno
 * value if the socket could not be used.
 */
int mmpatch_control(const char *socket_path, const char *command,
		    char *reply, size_t len, unsigned int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* _MMPATCH_H */
