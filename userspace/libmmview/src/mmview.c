// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmmview: thin syscall(2) wrappers for the mmview system calls.
 * syscall(2) already returns -1 and sets errno on failure.
 */
#include <unistd.h>
#include <sys/syscall.h>

#include "mmview.h"

#define MMVIEW_EXPORT __attribute__((visibility("default")))

MMVIEW_EXPORT long mmview_unshare(void *addr, size_t len)
{
	return syscall(__NR_mmview_unshare, addr, len);
}

MMVIEW_EXPORT long mmview_create(void)
{
	return syscall(__NR_mmview_create);
}

MMVIEW_EXPORT long mmview_migrate(long id)
{
	return syscall(__NR_mmview_migrate, id);
}

MMVIEW_EXPORT long mmview_delete(long id)
{
	return syscall(__NR_mmview_delete, id);
}
