// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmpatch-demo patch v2: the changed functions of the server, unchanged in
 * name.  They bind to each other inside the patch; demo_codenames and
 * demo_scale() are the running server's.
 */
#include <mmpatch.h>

#include "../demo.h"

int reply_version(void)
{
	return 2;
}

const char *reply_codename(void)
{
	return demo_codenames[2];
}

long reply_answer(long n)
{
	return demo_scale(n, 2);
}

MMPATCH_INFO("mmpatch-demo v2");
MMPATCH_REPLACE(reply_version, reply_version);
MMPATCH_REPLACE(reply_codename, reply_codename);
MMPATCH_REPLACE(reply_answer, reply_answer);
