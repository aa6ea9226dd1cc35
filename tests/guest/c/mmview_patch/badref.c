// SPDX-License-Identifier: GPL-2.0
/* Reads a variable the program does not define. */
#include <mmpatch.h>

#include "pt.h"

extern int pt_no_such_variable;

static int answer_from_nowhere(void)
{
	return pt_no_such_variable;
}

MMPATCH_INFO("badref");
MMPATCH_REPLACE(pt_answer, answer_from_nowhere);
