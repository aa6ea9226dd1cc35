/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmview.h - system call wrappers for Linux address-space views (mmview).
 *
 * A process owns a base view (id 0) and may create additional views of its
 * address space.  Threads migrate between views individually; memory marked
 * with mmview_unshare() before the first view was created is copy-on-write per
 * view, all other memory is shared by every view.
 *
 * All four functions return -1 and set errno on failure.  See
 * mmview_unshare(2), mmview_create(2), mmview_migrate(2) and mmview_delete(2).
 */
#ifndef _MMVIEW_H
#define _MMVIEW_H

#include <stddef.h>
#include <asm/unistd.h>

/*
 * System call numbers: those of the original mmview kernel, the same on
 * x86_64 and in the generic table (arm64), so that programs built for it
 * run unchanged.  Kernel uapi headers of an mmview kernel define them;
 * other headers do not, so fall back to the fixed ABI numbers.
 */
#ifndef __NR_mmview_create
#define __NR_mmview_create	1000
#endif
#ifndef __NR_mmview_migrate
#define __NR_mmview_migrate	1001
#endif
#ifndef __NR_mmview_unshare
#define __NR_mmview_unshare	1002
#endif
#ifndef __NR_mmview_delete
#define __NR_mmview_delete	1003
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Mark the pages containing any byte of [addr, addr+len-1] as unshared. */
long mmview_unshare(void *addr, size_t len);

/* Create a view copied from the calling thread's current view; returns its id. */
long mmview_create(void);

/* Move the calling thread to view id; returns the previous view id.
 * With id < 0 nothing changes and the current view id is returned.
 * The kernel reads id as a 32-bit int, as the original kernel did: the
 * upper 32 bits are ignored, so an int -1 passed through syscall(2)
 * means "current view" too. */
long mmview_migrate(long id);

/* Mark view id for deletion; it is freed once no thread uses it.
 * id is read as a 32-bit int, like mmview_migrate()'s. */
long mmview_delete(long id);

#ifdef __cplusplus
}
#endif

#endif /* _MMVIEW_H */
