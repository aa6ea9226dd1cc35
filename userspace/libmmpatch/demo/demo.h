/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmpatch-demo: what the server and its patches share.
 *
 * A reply of version v is "<seq> v<v> <codename> <answer>", made by three
 * functions that every patch replaces together.  The client checks that
 * the three parts belong to one version: an answer that mixes versions
 * came from a half-applied patch.
 */
#ifndef MMPATCH_DEMO_H
#define MMPATCH_DEMO_H

#define DEMO_VERSIONS	4

/* Codename of each version (index 1..DEMO_VERSIONS), in the server. */
extern const char *const demo_codenames[DEMO_VERSIONS + 1];

/* The answer to request n in version v, in the server. */
long demo_scale(long n, int v);

/* The patchable functions of the server. */
int reply_version(void);
const char *reply_codename(void);
long reply_answer(long n);

#endif /* MMPATCH_DEMO_H */
