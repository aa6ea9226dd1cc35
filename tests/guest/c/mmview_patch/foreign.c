// SPDX-License-Identifier: GPL-2.0
/* pt_answer() returns 4, but built for foreign_target, another program. */
#include <mmpatch.h>

#include "pt.h"

static int answer4(void)
{
	return 4;
}

MMPATCH_INFO("foreign");
MMPATCH_REPLACE(pt_answer, answer4);
