// SPDX-License-Identifier: GPL-2.0
/* Replaces pt_tiny(), which is too short to hold a jump. */
#include <mmpatch.h>

#include "pt.h"

static void tiny2(void)
{
}

MMPATCH_INFO("tiny");
MMPATCH_REPLACE(pt_tiny, tiny2);
