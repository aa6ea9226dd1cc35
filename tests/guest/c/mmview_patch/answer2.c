// SPDX-License-Identifier: GPL-2.0
/* pt_answer() returns 2. */
#include <mmpatch.h>

#include "pt.h"

int pt_answer(void)
{
	return 2;
}

MMPATCH_INFO("answer2");
MMPATCH_REPLACE(pt_answer, pt_answer);
