/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmmpatch internals: the running program's image (text segments, build
 * id, symbol table), patch objects mapped and relocated by the library, and
 * the jump instructions written at replaced functions.
 */
#ifndef MMPATCH_INTERNAL_H
#define MMPATCH_INTERNAL_H

#include <link.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmpatch.h"

#define MMP_EXPORT	__attribute__((visibility("default")))

/* Longest jump sequence of any architecture (arm64: ldr, br, literal). */
#define MMP_MAX_JUMP	16
#define MMP_MAX_TEXT	8

struct mmp_text {
	uintptr_t start, end;	/* page aligned */
	int prot;		/* protection to restore after writing */
};

/* The running program (the main executable). */
struct mmp_program {
	uintptr_t bias;			/* load bias (PIE), 0 otherwise */
	struct mmp_text text[MMP_MAX_TEXT];
	int ntext;
	char build_id[2 * 64 + 1];	/* hex, "" if it has none */
	/* .symtab (or .dynsym) of /proc/self/exe, mapped read-only */
	const unsigned char *file;
	size_t file_size;
	const ElfW(Sym) *syms;
	size_t nsyms;
	const char *strs;
	size_t strs_size;
};

/* One function a patch replaces. */
struct mmp_repl {
	const char *old_name;	/* in the patch's mapping */
	uintptr_t site;		/* where the jump goes: the entry, after a
				 * landing pad (endbr64, bti) if any */
	size_t room;		/* bytes from site to the end of the function */
	uintptr_t new_func;
	const struct mmp_text *text;
};

struct mmp_patch {
	char *path;
	char desc[96];
	void *map;
	size_t map_len;
	unsigned int nrepl;
	struct mmp_repl *repl;
};

/* Error text goes to a caller buffer; functions return 0 or -errno. */
struct mmp_err {
	char *buf;
	size_t len;
};

int mmp_fail(struct mmp_err *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int mmp_program_init(struct mmp_program *prog, struct mmp_err *e);
void mmp_program_free(struct mmp_program *prog);
const struct mmp_text *mmp_program_text(const struct mmp_program *prog,
					uintptr_t addr, size_t len);
int mmp_patch_load(const struct mmp_program *prog, const char *path,
		   struct mmp_patch **out, struct mmp_err *e);
void mmp_patch_free(struct mmp_patch *p);

/* Landing pad at a function entry that the jump must leave in place. */
size_t mmp_entry_skip(const unsigned char *code, size_t room);
/* Jump from site to target in at most room bytes: its length, or 0. */
size_t mmp_encode_jump(uintptr_t site, uintptr_t target, size_t room,
		       unsigned char *buf);
/* Address near the text where a patch of len bytes should be mapped, so
 * that the short jump form reaches it. */
uintptr_t mmp_map_hint(const struct mmp_program *prog, size_t len);
/* Make this CPU see code written by another one (after a barrier). */
void mmp_sync_core(void);

#endif /* MMPATCH_INTERNAL_H */
