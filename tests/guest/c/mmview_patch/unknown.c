// SPDX-License-Identifier: GPL-2.0
/* Replaces a function the program does not have (and a real one). */
#include <mmpatch.h>

#include "pt.h"

static int answer9(void)
{
	return 9;
}

static int nothing(void)
{
	return 0;
}

MMPATCH_INFO("unknown");
MMPATCH_REPLACE(pt_answer, answer9);
MMPATCH_REPLACE(pt_no_such_function, nothing);
