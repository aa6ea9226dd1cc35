// SPDX-License-Identifier: GPL-2.0
/* pt_answer() returns 3 and pt_other() 30: two functions, one patch. */
#include <mmpatch.h>

#include "pt.h"

static int answer3(void)
{
	return 3;
}

static int other30(void)
{
	return 30;
}

MMPATCH_INFO("answer3_other");
MMPATCH_REPLACE(pt_answer, answer3);
MMPATCH_REPLACE(pt_other, other30);
