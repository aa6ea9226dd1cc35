/* SPDX-License-Identifier: GPL-2.0 */
/* The functions and data of mmview_patch_test that its patches use. */
#ifndef MMVIEW_PATCH_PT_H
#define MMVIEW_PATCH_PT_H

extern int pt_base;
int pt_answer(void);
int pt_other(void);
int pt_helper(int x);
void pt_tiny(void);

#endif
