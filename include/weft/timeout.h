/* SPDX-License-Identifier: MIT */
/*
 * weft/timeout.h - the timeout convention every weft wait with a timeout
 * follows (the collection's try_ forms, weft_future_wait,
 * weft_group_try_wait, weft_pool_try_wait_idle).
 *
 * Timeouts are int64_t nanoseconds, measured on CLOCK_MONOTONIC:
 *   WEFT_NO_WAIT (0)  never blocks: EAGAIN if the wait is not over now;
 *   WEFT_FOREVER (-1) waits without limit;
 *   a positive value  waits at most that long: ETIMEDOUT once it ran out
 *                     (INT64_MAX waits, it does not overflow);
 *   anything below -1 is EINVAL.
 */
#ifndef WEFT_TIMEOUT_H
#define WEFT_TIMEOUT_H

#include <stdint.h>

/* A timeout that polls: never block (EAGAIN if the wait is not over). */
#define WEFT_NO_WAIT ((int64_t)0)

/* A timeout that waits without limit. */
#define WEFT_FOREVER ((int64_t)-1)

#endif /* WEFT_TIMEOUT_H */
