// SPDX-License-Identifier: LGPL-2.1-or-later
/* mmpatch-demo patch v4, applied on top of v3. */
#include <mmpatch.h>

#include "../demo.h"

int reply_version(void)
{
	return 4;
}

const char *reply_codename(void)
{
	return demo_codenames[4];
}

long reply_answer(long n)
{
	return demo_scale(n, 4);
}

MMPATCH_INFO("mmpatch-demo v4");
MMPATCH_REPLACE(reply_version, reply_version);
MMPATCH_REPLACE(reply_codename, reply_codename);
MMPATCH_REPLACE(reply_answer, reply_answer);
