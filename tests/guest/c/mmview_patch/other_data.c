// SPDX-License-Identifier: GPL-2.0
/*
 * pt_other() returns pt_helper(pt_base) + 20, reading the program's data
 * and calling the program's function: 100 * 2 + 20 = 220.
 */
#include <mmpatch.h>

#include "pt.h"

static int other_from_data(void)
{
	return pt_helper(pt_base) + 20;
}

MMPATCH_INFO("other_data");
MMPATCH_REPLACE(pt_other, other_from_data);
