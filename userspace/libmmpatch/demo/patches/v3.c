// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmpatch-demo patch v3: new names for the replacements this time, and a
 * codename held by the patch itself.
 */
#include <mmpatch.h>

#include "../demo.h"

static int reply_version_v3(void)
{
	return 3;
}

static const char *reply_codename_v3(void)
{
	return "charlie";
}

static long reply_answer_v3(long n)
{
	return n * 3 + 3;	/* what demo_scale(n, 3) computes */
}

MMPATCH_INFO("mmpatch-demo v3");
MMPATCH_REPLACE(reply_version, reply_version_v3);
MMPATCH_REPLACE(reply_codename, reply_codename_v3);
MMPATCH_REPLACE(reply_answer, reply_answer_v3);
