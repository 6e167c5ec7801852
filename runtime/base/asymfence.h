/* SPDX-License-Identifier: MIT */
/*
 * runtime/base/asymfence.h - an asymmetric StoreLoad fence (private).
 *
 * A Dekker handshake ("I store my flag, then read yours") needs a StoreLoad
 * barrier on both sides. When one side runs on every operation (an add, a
 * take) and the other only when a thread is about to sleep, the frequent
 * side should not pay a locked instruction (4-6 ns) for it. Where the
 * kernel offers membarrier(2), the rare side pays instead:
 * MEMBARRIER_CMD_PRIVATE_EXPEDITED makes every running thread of the
 * process execute a full barrier, so a light side that does "store;
 * compiler fence; load" and a heavy side that does "store; membarrier;
 * load" cannot both miss the other's store (the pattern of membarrier(2)'s
 * man page; liburcu's urcu-memb uses it the same way; the idea is Dice,
 * Huang and Yang, "Asymmetric Dekker Synchronization", 2001).
 *
 * Without membarrier (an old kernel, seccomp, valgrind) or under TSan
 * (which models only C11 orders), weft__asym is 0 and the light side must
 * use seq_cst operations instead; the heavy side then does nothing.
 */
#ifndef WEFT_RUNTIME_BASE_ASYMFENCE_H
#define WEFT_RUNTIME_BASE_ASYMFENCE_H

#include <stdbool.h>

#include "cpu.h"

/* 1 once membarrier is registered for this process (weft__asym_init).
 * Written once, under pthread_once, before the first object that uses it
 * exists; every later reader is ordered after that by whatever gave it the
 * object. */
extern int weft__asym WEFT__INTERNAL;

/* Register membarrier (once per process; idempotent, any thread). */
void weft__asym_init(void);

/* The heavy side: after the store, before the load. A membarrier failure
 * after a successful registration is a broken invariant (abort). */
void weft__asym_heavy(void);

#endif /* WEFT_RUNTIME_BASE_ASYMFENCE_H */
