// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmpatch-ctl: send one command to the control socket of a program that
 * uses libmmpatch and print the reply.
 *
 *   mmpatch-ctl <socket> apply <patch> [view|global]
 *   mmpatch-ctl <socket> revert [view|global]
 *   mmpatch-ctl <socket> status
 *
 * Exit status 0 if the reply is "ok ...", 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <mmpatch.h>

int main(int argc, char **argv)
{
	char cmd[1024] = "", reply[1024];
	size_t used = 0;
	int i, r;

	if (argc < 3) {
		fprintf(stderr,
			"usage: %s <socket> apply <patch> [view|global] | revert [view|global] | status\n",
			argv[0]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		r = snprintf(cmd + used, sizeof(cmd) - used, "%s%s",
			     i > 2 ? " " : "", argv[i]);
		if (r < 0 || (size_t)r >= sizeof(cmd) - used) {
			fprintf(stderr, "%s: command too long\n", argv[0]);
			return 2;
		}
		used += r;
	}
	r = mmpatch_control(argv[1], cmd, reply, sizeof(reply), 0);
	if (reply[0])
		puts(reply);
	else
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(-r));
	return r ? 1 : 0;
}
