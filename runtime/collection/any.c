/*
 * runtime/collection/any.c - take_from_any and add_to_any (coll.h;
 * docs/design/collection.md, 'Any-variants').
 *
 * A call may name any number of collections, so it registers no record:
 * it raises c_any_waiters of every member, reads the global generation
 * any_gen, scans the members, and sleeps on any_gen if none can proceed. A
 * change of a member with any-waiters bumps any_gen and wakes every
 * any-waiter in the process, which then rescans.
 */
#define _GNU_SOURCE
#include "collection/coll.h"

#include <weft/pool.h> /* weft_blocking_begin/end around sleeps */

#include <errno.h>
#include <limits.h>

#include "base/asymfence.h"
#include "base/debug.h"
#include "base/futex.h"
#include "pool/trace.h"

/* The generation every any-variant call sleeps on. */
static _Atomic uint32_t any_gen;

COLL_NOINLINE void weft__coll_any_wake(void)
{
    /* release: pairs with the acquire load of any_gen in any_op; the RMW
     * makes every later futex compare fail for older readers. */
    atomic_fetch_add_explicit(&any_gen, 1, memory_order_release);
    weft__futex_wake(&any_gen, INT_MAX);
}

enum { COLL_SCAN_NONE, COLL_SCAN_DONE, COLL_SCAN_ALL_CLOSED };

/* One pass over cs in index order; takes or adds at most once. Returns
 * COLL_SCAN_DONE with *r set (0, ECANCELED or ENOMEM) and *index,
 * COLL_SCAN_ALL_CLOSED when every member is closed for the operation, else
 * COLL_SCAN_NONE. The counts are read fresh (seq_cst): the scan's half of
 * the any-waiter handshake. */
static int scan_any(weft_collection *const *cs, size_t n, bool is_take, void **item, size_t *index,
                    int *r)
{
    bool all_closed = true;
    int side = is_take ? COLL_SIDE_TAKE : COLL_SIDE_ADD;
    for (size_t i = 0; i < n; i++) {
        weft_collection *c = cs[i];
        bool done = false;
        coll_lock_side(c, side);
        uint32_t st = coll_state_locked(c);
        if (st & COLL_ST_SHUTDOWN) {
            *r = ECANCELED;
            done = true;
        } else if (is_take) {
            if (coll_take_count(c, true) > 0) {
                *item = coll_take_locked(c);
                *r = 0;
                done = true;
            } else if (!(st & COLL_ST_ADDING_DONE)) {
                all_closed = false;
            }
        } else if (!(st & COLL_ST_ADDING_DONE)) {
            size_t cnt = coll_add_count(c, true);
            if (!c->c_capacity || cnt < c->c_capacity) {
                *r = coll_add_locked(c, *item, cnt);
                done = true;
            } else {
                all_closed = false;
            }
        }
        coll_unlock_side(c, side);
        if (done) {
            if (*r == 0) {
                if (is_take)
                    coll_take_notify(c, 1);
                else
                    coll_add_notify(c);
            }
            if (index)
                *index = i;
            return COLL_SCAN_DONE;
        }
    }
    return all_closed ? COLL_SCAN_ALL_CLOSED : COLL_SCAN_NONE;
}

/* item points at the caller's item (add) or a local (take): never NULL. */
static int any_op(weft_collection *const *cs, size_t n, bool is_take, void **item, size_t *index,
                  int64_t timeout_ns)
{
    if (!cs || n == 0 || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!cs[i])
            return EINVAL;

    struct timespec abs;
    bool have_deadline = false, timed_out = false, registered = false;
    uint32_t gen = 0;
    size_t idx = 0;
    int r;
    for (;;) {
        if (registered)
            /* acquire: pairs with weft__coll_any_wake's release increment.
             * The value only decides whether the futex wait returns at once. */
            gen = atomic_load_explicit(&any_gen, memory_order_acquire);
        int s = scan_any(cs, n, is_take, item, &idx, &r);
        if (s == COLL_SCAN_DONE)
            break;
        if (s == COLL_SCAN_ALL_CLOSED) {
            r = EPIPE;
            break;
        }
        if (timeout_ns == WEFT_NO_WAIT) {
            r = EAGAIN;
            break;
        }
        if (timed_out) {
            r = ETIMEDOUT;
            break;
        }
        if (!registered) {
            if (timeout_ns > 0) {
                weft__coll_deadline(timeout_ns, &abs);
                have_deadline = true;
            }
            for (size_t i = 0; i < n; i++)
                /* seq_cst: the waiter's half of the handshake, paired with
                 * coll_any_waiting after the changers' coll_publish (with
                 * the membarrier below); for state bits, the scan's unlock
                 * that follows orders it. */
                atomic_fetch_add_explicit(&cs[i]->c_any_waiters, 1, memory_order_seq_cst);
            weft__asym_heavy();
            registered = true;
            continue; /* read any_gen, then rescan */
        }
        WEFT__YIELD();
        uint64_t tr = weft__trace_coll_begin(); /* 0 unless a trace runs */
        weft_blocking_begin(); /* on a worker: see waiter_sleep (wait.c) */
        timed_out = weft__futex_wait_until(&any_gen, gen, have_deadline ? &abs : NULL) == ETIMEDOUT;
        weft_blocking_end();
        weft__trace_coll_end(tr, NULL, is_take ? 1 : 0, timed_out);
    }
    if (registered)
        for (size_t i = 0; i < n; i++)
            /* relaxed: a stale non-zero only costs a spurious wake-up. */
            atomic_fetch_sub_explicit(&cs[i]->c_any_waiters, 1, memory_order_relaxed);
    if (r == 0 && index)
        *index = idx;
    return r;
}

int weft_collection_add_to_any(weft_collection *const *cs, size_t n, void *item, size_t *index,
                               int64_t timeout_ns)
{
    return any_op(cs, n, false, &item, index, timeout_ns);
}

int weft_collection_take_from_any(weft_collection *const *cs, size_t n, void **item, size_t *index,
                                  int64_t timeout_ns)
{
    if (!item)
        return EINVAL;
    void *got = NULL;
    int r = any_op(cs, n, true, &got, index, timeout_ns);
    if (r == 0)
        *item = got;
    return r;
}
