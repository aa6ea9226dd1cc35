// SPDX-License-Identifier: GPL-2.0
/* Another program: only its build id matters (for foreign.c). */
int main(void)
{
	return 0;
}
