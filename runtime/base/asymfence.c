/* SPDX-License-Identifier: MIT */
/*
 * runtime/base/asymfence.c - see asymfence.h.
 */
#define _GNU_SOURCE
#include "asymfence.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int weft__asym;
static pthread_once_t asym_once = PTHREAD_ONCE_INIT;

static void asym_setup(void)
{
#if !defined(WEFT_TSAN) && defined(SYS_membarrier)
    weft__asym = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

void weft__asym_init(void)
{
    pthread_once(&asym_once, asym_setup);
}

void weft__asym_heavy(void)
{
#if !defined(WEFT_TSAN) && defined(SYS_membarrier)
    /* Registered in asym_setup, so it cannot fail (EINVAL/EPERM come only
     * without registration): a failure is a broken invariant. */
    if (weft__asym && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        abort();
#endif
}
