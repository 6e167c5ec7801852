/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/stress_pool.c - the pool under random fork-join work.
 *
 * random_forests: each round builds a seeded random forest and runs it on a
 * pool of 1, 2, 8 or 32 workers (8 and 32 oversubscribe the 2-core target),
 * either scheduler. A node is a leaf or joins its children by strict
 * spawn/sync, by typed spawn/sync (weft/fj.h), by a task group, by
 * parallel_for, or by weft_pool_call into a second pool (nested pools; a
 * worker of A is "outside" B). The roots are
 * started from 1..3 outside threads at once, by weft_pool_call,
 * weft_pool_submit (+ wait_idle), weft_group_spawn from outside, and
 * weft_parallel_for from outside. Checked: every node ran exactly once and
 * every root's value equals the serial evaluation. A watchdog fails the
 * test if no worker makes progress for 20 s, printing each worker's
 * progress counter and its pool statistics.
 *
 * destroy_vs_submitters: outside threads keep submitting (submit, group
 * spawn, pool_call, parallel_for) while another thread destroys the pool;
 * tasks submit children from inside meanwhile. Per submitter, every call
 * either returned 0 and its task ran exactly once, or returned EPIPE and
 * its task never ran - never both, never neither; children (worker
 * submissions) are never refused. Each submitter's first task blocks until
 * that submitter has seen EPIPE, which keeps the pool alive (destroy waits
 * for it) for as long as the submitter may still call into it: calling
 * into a destroyed pool is undefined, so the test must not.
 *
 * Bug found by destroy_vs_submitters (reproduces within seconds with
 * WEFT_SEED=13752461383683905005 CK_RUN_CASE=destroy_vs_submitters
 * WEFT_STRESS_SECONDS=30, plain and yield builds): a worker woken from park
 * (or whose park re-check saw work) takes ONE task and runs it without
 * passing the wake-up on; the notify after a publish (inj_take_batch's
 * publish_all of up to 31 tasks, or a SHARED push) wakes one worker, or
 * none while another is counted as searching. The remaining published tasks
 * then sit in the deque (dump: "worker 3: top 1 bottom 6", 6 workers parked,
 * epoch 1) until the owner or that one worker come back to the scheduler.
 * When both run tasks that wait for those stranded tasks (here: blockers
 * waiting on a submitter blocked in pool_call), the pool deadlocks.
 *
 * Both cases have a watchdog (20 s without progress fails the test and
 * prints the workers' counters, and for the second the deques' indices,
 * so that a lost wake-up shows where the work is stuck).
 *
 * Seeded (WEFT_SEED), time-bounded (WEFT_STRESS_SECONDS).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "stress_util.h"
#include "pool/sched.h" /* the stall dump reads pool internals */
#include "check_main.h"

/* ---- the forest ---------------------------------------------------------- */

enum kind { K_LEAF, K_SPAWN, K_TYPED, K_GROUP, K_PFOR, K_NESTED };
#define MAXKIDS 4
#define MAXNODES 4096
#define MAXROOTS 12
#define MAXWORKERS 32

typedef struct {
    enum kind n_kind;
    int n_first, n_nkids; /* children: n_first .. n_first + n_nkids - 1 */
} fnode;

typedef struct forest forest;

/* A task argument: which node, in which forest. */
typedef struct {
    forest *a_f;
    int a_id;
} targ;

struct forest {
    fnode f_nodes[MAXNODES];
    int f_n;
    int f_roots[MAXROOTS];
    int f_nroots;
    uint64_t f_expect[MAXNODES]; /* serial values */
    uint64_t f_value[MAXNODES];  /* written by the node's runner */
    atomic_int f_ran[MAXNODES];  /* relaxed: counted, read after the joins */
    targ f_args[MAXNODES];
    weft_pool *f_a, *f_b; /* f_b: the pool K_NESTED calls into */
    stress_slot *f_slots_a, *f_slots_b;
    atomic_int f_errors; /* relaxed: read after the joins */
};

static uint64_t leaf_value(int id)
{
    return stress_mix64((uint64_t)id);
}

/* Generate a random forest breadth-first, so that every node's children
 * have consecutive ids (larger than the parent's). Subtrees under a
 * K_NESTED node run in pool B and never nest again: a B worker calling into
 * A while A workers call into B could deadlock - a cycle of blocking calls,
 * not a weft bug. */
static void gen_forest(forest *f, stress_rng *g, int max_depth)
{
    /* Breadth-first: a queue of (node, depth, in_b). */
    static int qd[MAXNODES];
    static bool qb[MAXNODES];
    f->f_n = 0;
    f->f_nroots = 1 + (int)stress_below(g, MAXROOTS);
    for (int r = 0; r < f->f_nroots; r++) {
        f->f_roots[r] = f->f_n;
        qd[f->f_n] = max_depth;
        qb[f->f_n] = false;
        f->f_n++;
    }
    for (int id = 0; id < f->f_n; id++) {
        fnode *n = &f->f_nodes[id];
        n->n_kind = K_LEAF;
        n->n_first = 0;
        n->n_nkids = 0;
        if (qd[id] == 0 || f->f_n + MAXKIDS > MAXNODES)
            continue;
        uint64_t x = stress_below(g, 16);
        if (x < 3 + (qd[id] < max_depth - 3 ? 3 : 0))
            continue;
        n->n_kind = x < 7    ? K_SPAWN
                    : x < 9  ? K_TYPED
                    : x < 12 ? K_GROUP
                    : x < 14 ? K_PFOR
                             : K_NESTED;
        if (n->n_kind == K_NESTED && qb[id])
            n->n_kind = K_SPAWN;
        n->n_nkids = 1 + (int)stress_below(g, MAXKIDS);
        n->n_first = f->f_n;
        for (int i = 0; i < n->n_nkids; i++) {
            qd[f->f_n] = qd[id] - 1;
            qb[f->f_n] = qb[id] || n->n_kind == K_NESTED;
            f->f_n++;
        }
    }
    /* Serial values, children before parents (children have larger ids). */
    for (int id = f->f_n - 1; id >= 0; id--) {
        const fnode *n = &f->f_nodes[id];
        uint64_t v = leaf_value(id);
        for (int i = 0; i < n->n_nkids; i++)
            v += f->f_expect[n->n_first + i];
        f->f_expect[id] = v;
        f->f_args[id] = (targ){f, id};
        atomic_store_explicit(&f->f_ran[id], 0, memory_order_relaxed);
        f->f_value[id] = 0;
    }
}

static int node_task(void *arg);

/* K_TYPED: the children as typed tasks (weft/fj.h), spawned in a loop and
 * synced in reverse. */
WEFT_TASK_1(int, typed_kid, targ *, a)
{
    return node_task(a);
}

WEFT_TASK_2(int, typed_kids, forest *, f, const fnode *, n)
{
    WEFT_FRAME(typed_kid) fr[MAXKIDS];
    for (int i = 0; i < n->n_nkids; i++)
        WEFT_SPAWN(typed_kid, &fr[i], &f->f_args[n->n_first + i]);
    int r = 0;
    for (int i = n->n_nkids - 1; i >= 0; i--) {
        int rr = WEFT_SYNC(typed_kid, &fr[i]);
        if (r == 0)
            r = rr;
    }
    return r;
}

static void progress(forest *f)
{
    int w = weft_worker_index();
    weft_pool *p = weft_pool_current();
    if (w < 0 || w >= MAXWORKERS)
        return;
    /* Only worker w of that pool writes its slot. */
    stress_progress(p == f->f_a ? &f->f_slots_a[w] : &f->f_slots_b[w], "running a node");
}

static int pfor_body(size_t lo, size_t hi, void *arg)
{
    targ *a = arg; /* the parent */
    const fnode *n = &a->a_f->f_nodes[a->a_id];
    for (size_t i = lo; i < hi; i++) {
        int r = node_task(&a->a_f->f_args[n->n_first + (int)i]);
        if (r != 0)
            return r;
    }
    return 0;
}

static int node_task(void *arg)
{
    targ *a = arg;
    forest *f = a->a_f;
    const fnode *n = &f->f_nodes[a->a_id];
    atomic_fetch_add_explicit(&f->f_ran[a->a_id], 1, memory_order_relaxed);
    progress(f);
    int r = 0;
    switch (n->n_kind) {
    case K_LEAF:
        break;
    case K_SPAWN: {
        weft_task t[MAXKIDS];
        int spawned = 0;
        for (int i = 0; i < n->n_nkids && r == 0; i++) {
            r = weft_spawn(&t[i], node_task, &f->f_args[n->n_first + i]);
            if (r == 0)
                spawned++;
        }
        for (int i = spawned - 1; i >= 0; i--) { /* LIFO */
            int rr = weft_sync(&t[i]);
            if (r == 0)
                r = rr;
        }
        break;
    }
    case K_TYPED:
        r = typed_kids(f, n);
        break;
    case K_GROUP: {
        weft_group g;
        r = weft_group_init(&g, NULL);
        for (int i = 0; i < n->n_nkids && r == 0; i++)
            r = weft_group_spawn(&g, node_task, &f->f_args[n->n_first + i]);
        int rw = weft_group_wait(&g);
        if (r == 0)
            r = rw;
        break;
    }
    case K_PFOR:
        r = weft_parallel_for(NULL, 0, (size_t)n->n_nkids, 1, pfor_body, a);
        break;
    case K_NESTED:
        for (int i = 0; i < n->n_nkids && r == 0; i++)
            r = weft_pool_call(f->f_b, node_task, &f->f_args[n->n_first + i]);
        break;
    }
    if (r != 0) {
        atomic_fetch_add_explicit(&f->f_errors, 1, memory_order_relaxed);
        return r;
    }
    uint64_t v = leaf_value(a->a_id);
    for (int i = 0; i < n->n_nkids; i++)
        v += f->f_value[n->n_first + i]; /* each child's join ordered it */
    f->f_value[a->a_id] = v;
    return 0;
}

/* ---- outside threads ------------------------------------------------------ */

typedef struct {
    forest *o_f;
    int o_first, o_count; /* roots f_roots[o_first .. +o_count) */
    int o_how;            /* 0 call, 1 submit, 2 group, 3 parallel_for */
    int o_rc;
    stress_slot *o_slot;
} outside;

static int pfor_roots(size_t lo, size_t hi, void *arg)
{
    outside *o = arg;
    for (size_t i = lo; i < hi; i++) {
        int r = node_task(&o->o_f->f_args[o->o_f->f_roots[o->o_first + (int)i]]);
        if (r != 0)
            return r;
    }
    return 0;
}

static void *outside_main(void *arg)
{
    outside *o = arg;
    forest *f = o->o_f;
    int rc = 0;
    stress_where(o->o_slot, "starting roots");
    switch (o->o_how) {
    case 0:
        for (int i = 0; i < o->o_count && rc == 0; i++)
            rc = weft_pool_call(f->f_a, node_task, &f->f_args[f->f_roots[o->o_first + i]]);
        break;
    case 1:
        for (int i = 0; i < o->o_count && rc == 0; i++)
            rc = weft_pool_submit(f->f_a, node_task, &f->f_args[f->f_roots[o->o_first + i]]);
        if (rc == 0)
            rc = weft_pool_wait_idle(f->f_a);
        break;
    case 2: {
        weft_group g;
        rc = weft_group_init(&g, f->f_a);
        for (int i = 0; i < o->o_count && rc == 0; i++)
            rc = weft_group_spawn(&g, node_task, &f->f_args[f->f_roots[o->o_first + i]]);
        int rw = weft_group_wait(&g);
        if (rc == 0)
            rc = rw;
        break;
    }
    default:
        rc = weft_parallel_for(f->f_a, 0, (size_t)o->o_count, 1, pfor_roots, o);
        break;
    }
    o->o_rc = rc;
    stress_progress(o->o_slot, "done");
    return NULL;
}

typedef struct {
    forest *d_f;
} dump_ctx;

static void dump_pools(void *arg, FILE *out)
{
    forest *f = ((dump_ctx *)arg)->d_f;
    weft_pool *ps[2] = {f->f_a, f->f_b};
    for (int k = 0; k < 2; k++) {
        weft_worker_stats st[MAXWORKERS];
        unsigned n = weft_pool_size(ps[k]);
        if (n > MAXWORKERS)
            n = MAXWORKERS;
        if (weft_pool_stats(ps[k], st, n) != 0)
            continue;
        for (unsigned i = 0; i < n; i++)
            fprintf(out, "  pool %c worker %2u: executed %" PRIu64 " spawned %" PRIu64
                    " steals %" PRIu64 " failed %" PRIu64 " injected %" PRIu64 " parks %" PRIu64
                    "\n", 'A' + k, i, st[i].executed, st[i].spawned, st[i].steals,
                    st[i].failed_steals, st[i].injected, st[i].parks);
    }
}

typedef struct {
    uint64_t s_rounds, s_nodes, s_tasks_by_kind[K_NESTED + 1];
} fstats;

static void forest_round(stress_rng *g, forest *f, fstats *st)
{
    static const unsigned worker_choices[] = {1, 2, 8, 32};
    unsigned na = worker_choices[stress_below(g, 4)];
    unsigned nb = 1 + (unsigned)stress_below(g, 3);
    weft_pool_options oa = {.workers = na, .seed = stress_next(g),
                            .scheduler = stress_below(g, 3) == 0 ? WEFT_SCHED_SHARED
                                                                 : WEFT_SCHED_STEALING,
                            .deque_capacity = stress_below(g, 2) ? 2 : 0};
    weft_pool_options ob = {.workers = nb, .seed = stress_next(g),
                            .scheduler = stress_below(g, 2) ? WEFT_SCHED_SHARED
                                                            : WEFT_SCHED_STEALING};
    gen_forest(f, g, 4 + (int)stress_below(g, 6));
    atomic_init(&f->f_errors, 0);
    ck_assert_int_eq(weft_pool_create(&f->f_a, &oa), 0);
    ck_assert_int_eq(weft_pool_create(&f->f_b, &ob), 0);

    stress_watchdog wd;
    int nout = 1 + (int)stress_below(g, 3);
    if (nout > f->f_nroots)
        nout = f->f_nroots;
    stress_watchdog_init(&wd, "stress_pool random_forests", (int)na + (int)nb + nout, 20.0);
    f->f_slots_a = &wd.wd_slots[0];
    f->f_slots_b = &wd.wd_slots[na];
    for (unsigned i = 0; i < na; i++)
        wd.wd_slots[i].sl_name = "pool A worker";
    for (unsigned i = 0; i < nb; i++)
        wd.wd_slots[na + i].sl_name = "pool B worker";
    dump_ctx dc = {f};
    wd.wd_dump = dump_pools;
    wd.wd_dump_arg = &dc;
    outside o[3];
    pthread_t ot[3];
    int per = f->f_nroots / nout, first = 0;
    for (int i = 0; i < nout; i++) {
        int cnt = i == nout - 1 ? f->f_nroots - first : per;
        o[i] = (outside){f, first, cnt, (int)stress_below(g, 4), -1,
                         &wd.wd_slots[na + nb + (unsigned)i]};
        o[i].o_slot->sl_name = "outside thread";
        first += cnt;
    }
    stress_watchdog_start(&wd);
    for (int i = 0; i < nout; i++)
        ck_assert_int_eq(pthread_create(&ot[i], NULL, outside_main, &o[i]), 0);
    for (int i = 0; i < nout; i++)
        pthread_join(ot[i], NULL);
    ck_assert_int_eq(weft_pool_wait_idle(f->f_a), 0);
    stress_watchdog_stop(&wd);
    ck_assert_int_eq(weft_pool_destroy(f->f_b), 0);
    ck_assert_int_eq(weft_pool_destroy(f->f_a), 0);

    for (int i = 0; i < nout; i++)
        ck_assert_msg(o[i].o_rc == 0, "outside start %d returned %d", o[i].o_how, o[i].o_rc);
    ck_assert_int_eq(atomic_load_explicit(&f->f_errors, memory_order_relaxed), 0);
    int bad = 0;
    for (int id = 0; id < f->f_n; id++) {
        bad += atomic_load_explicit(&f->f_ran[id], memory_order_relaxed) != 1;
        st->s_tasks_by_kind[f->f_nodes[id].n_kind]++;
    }
    ck_assert_msg(bad == 0, "%d of %d nodes did not run exactly once (WEFT_SEED=%" PRIu64 ")",
                  bad, f->f_n, stress_seed());
    for (int r = 0; r < f->f_nroots; r++) {
        int id = f->f_roots[r];
        ck_assert_msg(f->f_value[id] == f->f_expect[id], "root %d: value differs from serial",
                      r);
    }
    st->s_rounds++;
    st->s_nodes += (uint64_t)f->f_n;
}

START_TEST(random_forests)
{
    stress_rng g;
    stress_rng_init(&g, stress_seed_for("random_forests", 0));
    forest *f = calloc(1, sizeof *f);
    ck_assert_ptr_nonnull(f);
    fstats st = {0};
    int64_t deadline = stress_now_ns() + stress_duration_ns() / 2;
    do
        forest_round(&g, f, &st);
    while (stress_now_ns() < deadline);
    free(f);
    printf("random_forests: %" PRIu64 " rounds, %" PRIu64 " nodes each run exactly once "
           "(leaf %" PRIu64 ", spawn/sync %" PRIu64 ", typed %" PRIu64 ", group %" PRIu64
           ", parallel_for %" PRIu64 ", nested pool %" PRIu64 "), every root equal to serial\n",
           st.s_rounds, st.s_nodes, st.s_tasks_by_kind[K_LEAF], st.s_tasks_by_kind[K_SPAWN],
           st.s_tasks_by_kind[K_TYPED], st.s_tasks_by_kind[K_GROUP], st.s_tasks_by_kind[K_PFOR],
           st.s_tasks_by_kind[K_NESTED]);
}
END_TEST

/* ---- destroy racing outside submitters ------------------------------------ */

#define MAXSUB 3
#define MAXCALLS 4096
#define PFOR_N 8

typedef struct shut shut;

typedef struct {
    shut *s_sh;
    int s_id;
    stress_rng s_rng;
    /* Per call: its result (0, EPIPE, ...) and how often its task ran. */
    int s_rc[MAXCALLS];
    int s_op[MAXCALLS]; /* 0 call, 1 group spawn, 2 parallel_for, 3 submit */
    int s_ncalls;
    atomic_int s_ran[MAXCALLS];
    atomic_bool s_saw_epipe; /* release by the submitter; acquire in blocker */
    pthread_barrier_t *s_start;
    weft_group s_group;
    int s_group_rc;
} submitter;

struct shut {
    weft_pool *sh_pool;
    atomic_bool sh_alive; /* false once destroy returned (the stall dump) */
    stress_slot *sh_slots; /* [0] destroyer, [1 + i] submitter i */
    submitter sh_sub[MAXSUB];
    int sh_nsub;
    atomic_long sh_children_ok; /* worker submissions that returned 0 */
    atomic_long sh_children_ran;
    atomic_long sh_children_refused;
    pthread_barrier_t sh_start;
};

typedef struct {
    submitter *c_s;
    int c_call;
} call_ref;

static call_ref refs[MAXSUB][MAXCALLS];

static int child_task(void *arg)
{
    shut *sh = arg;
    atomic_fetch_add_explicit(&sh->sh_children_ran, 1, memory_order_relaxed);
    return 0;
}

static int counted_task(void *arg)
{
    call_ref *c = arg;
    atomic_fetch_add_explicit(&c->c_s->s_ran[c->c_call], 1, memory_order_relaxed);
    if ((c->c_call & 3) == 1) {
        /* From a worker of the pool: never refused, even while closing. */
        shut *sh = c->c_s->s_sh;
        int r = weft_pool_submit(sh->sh_pool, child_task, sh);
        atomic_fetch_add_explicit(r == 0 ? &sh->sh_children_ok : &sh->sh_children_refused, 1,
                                  memory_order_relaxed);
    }
    return 0;
}

static int blocker_task(void *arg)
{
    call_ref *c = arg;
    atomic_fetch_add_explicit(&c->c_s->s_ran[c->c_call], 1, memory_order_relaxed);
    /* acquire: pairs with the submitter's release once it saw EPIPE. */
    while (!atomic_load_explicit(&c->c_s->s_saw_epipe, memory_order_acquire))
        sched_yield();
    return 0;
}

static int pfor_count(size_t lo, size_t hi, void *arg)
{
    call_ref *c = arg;
    atomic_fetch_add_explicit(&c->c_s->s_ran[c->c_call], (int)(hi - lo), memory_order_relaxed);
    return 0;
}

static void *submitter_main(void *arg)
{
    submitter *s = arg;
    weft_pool *p = s->s_sh->sh_pool;
    /* The first task holds the pool open until we saw EPIPE. */
    refs[s->s_id][0] = (call_ref){s, 0};
    s->s_rc[0] = weft_pool_submit(p, blocker_task, &refs[s->s_id][0]);
    s->s_ncalls = 1;
    pthread_barrier_wait(s->s_start); /* then destroy begins */
    if (s->s_rc[0] != 0) {
        atomic_store_explicit(&s->s_saw_epipe, true, memory_order_release);
        return NULL;
    }
    while (s->s_ncalls < MAXCALLS) {
        int k = s->s_ncalls++;
        refs[s->s_id][k] = (call_ref){s, k};
        call_ref *c = &refs[s->s_id][k];
        int rc, op = (int)stress_below(&s->s_rng, 8);
        s->s_op[k] = op < 3 ? op : 3;
        switch (op) {
        case 0:
            rc = weft_pool_call(p, counted_task, c);
            break;
        case 1:
            rc = weft_group_spawn(&s->s_group, counted_task, c);
            break;
        case 2:
            rc = weft_parallel_for(p, 0, PFOR_N, 1, pfor_count, c);
            break;
        default:
            rc = weft_pool_submit(p, counted_task, c);
            break;
        }
        s->s_rc[k] = rc;
        stress_progress(&s->s_sh->sh_slots[1 + s->s_id], "calling");
        if (rc != 0)
            break; /* EPIPE (checked later): stop calling into p */
    }
    /* release: pairs with blocker_task's acquire; after this store the pool
     * may be freed at any moment, so p is not touched again. */
    atomic_store_explicit(&s->s_saw_epipe, true, memory_order_release);
    /* The group lives here; its tasks all ran or were refused. */
    s->s_group_rc = weft_group_wait(&s->s_group);
    return NULL;
}

static void *destroy_main(void *arg)
{
    shut *sh = arg;
    pthread_barrier_wait(&sh->sh_start);
    stress_where(&sh->sh_slots[0], "in weft_pool_destroy");
    if (weft_pool_destroy(sh->sh_pool) != 0)
        abort();
    /* relaxed: the dump only runs when nothing moves any more. */
    atomic_store_explicit(&sh->sh_alive, false, memory_order_relaxed);
    stress_progress(&sh->sh_slots[0], "destroyed");
    return NULL;
}

/* On a stall: where the tasks are. Reads owner-private deque fields and
 * queue internals without synchronisation - only ever run when no thread
 * has made progress for seconds, to say where the work got stuck. */
static void dump_internals(void *arg, FILE *out)
{
    shut *sh = arg;
    if (!atomic_load_explicit(&sh->sh_alive, memory_order_relaxed))
        return;
    weft_pool *p = sh->sh_pool;
    /* Relaxed loads (here and below): a snapshot for the report, no order. */
#define DUMP_LD(x) atomic_load_explicit(&(x), memory_order_relaxed)
    fprintf(out, "  pool: %u workers, mode %d, p_state 0x%" PRIx64 ", waiters %d, searching %d, "
            "epoch %u, injection queue %s, SHARED queue %zu tasks\n", p->p_nworkers,
            (int)p->p_mode, (uint64_t)DUMP_LD(p->p_state), DUMP_LD(p->p_park.ec_waiters),
            DUMP_LD(p->p_searching), (unsigned)DUMP_LD(p->p_park.ec_epoch),
            cds_wfcq_empty(&p->p_inj_head, &p->p_inj_tail) ? "empty" : "NOT EMPTY",
            (size_t)DUMP_LD(p->p_sq.sq_count));
    for (unsigned i = 0; i < p->p_nworkers; i++) {
        weft__worker *w = &p->p_workers[i];
        /* bot is the owner's plain field: a racy estimate, read
         * only in this dump of a hung pool (never in a passing run). */
        fprintf(out, "  worker %2u: top %" PRId64 " bottom %" PRId64 " bot %" PRId64
                " priv %" PRId64 " hungry %u executed %" PRIu64 " parks %" PRIu64 "\n", i,
                (int64_t)DUMP_LD(w->w_dq.dq_top), (int64_t)DUMP_LD(w->w_dq.dq_bottom),
                w->w_dq.dq_q.q_bot, weft__atomic_load(&w->w_dq.dq_q.q_priv, memory_order_relaxed),
                (unsigned)weft__atomic_load(&w->w_dq.dq_q.q_hungry, memory_order_relaxed),
                (uint64_t)DUMP_LD(w->w_executed), (uint64_t)DUMP_LD(w->w_parks));
    }
#undef DUMP_LD
}

typedef struct {
    uint64_t t_rounds, t_accepted, t_refused, t_children;
} sstats;

static void shutdown_round(stress_rng *g, shut *sh, sstats *st)
{
    static const unsigned worker_choices[] = {4, 8, 32};
    /* More workers than blockers, so that pool_call from a submitter is
     * never stuck behind every worker blocked. */
    weft_pool_options o = {.workers = worker_choices[stress_below(g, 3)],
                           .seed = stress_next(g),
                           .scheduler = stress_below(g, 2) ? WEFT_SCHED_SHARED
                                                           : WEFT_SCHED_STEALING};
    memset(sh, 0, sizeof *sh);
    ck_assert_int_eq(weft_pool_create(&sh->sh_pool, &o), 0);
    atomic_init(&sh->sh_alive, true);
    sh->sh_nsub = 1 + (int)stress_below(g, MAXSUB);
    stress_watchdog wd;
    stress_watchdog_init(&wd, "stress_pool destroy_vs_submitters", 1 + sh->sh_nsub, 20.0);
    wd.wd_slots[0].sl_name = "destroyer";
    for (int i = 0; i < sh->sh_nsub; i++)
        wd.wd_slots[1 + i].sl_name = "submitter";
    wd.wd_dump = dump_internals;
    wd.wd_dump_arg = sh;
    sh->sh_slots = wd.wd_slots;
    stress_watchdog_start(&wd);
    atomic_init(&sh->sh_children_ok, 0);
    atomic_init(&sh->sh_children_ran, 0);
    atomic_init(&sh->sh_children_refused, 0);
    pthread_barrier_init(&sh->sh_start, NULL, (unsigned)sh->sh_nsub + 1);
    pthread_t tid[MAXSUB], dt;
    for (int i = 0; i < sh->sh_nsub; i++) {
        submitter *s = &sh->sh_sub[i];
        s->s_sh = sh;
        s->s_id = i;
        stress_rng_init(&s->s_rng, stress_next(g));
        for (int k = 0; k < MAXCALLS; k++)
            atomic_init(&s->s_ran[k], 0);
        atomic_init(&s->s_saw_epipe, false);
        s->s_start = &sh->sh_start;
        ck_assert_int_eq(weft_group_init(&s->s_group, sh->sh_pool), 0);
        ck_assert_int_eq(pthread_create(&tid[i], NULL, submitter_main, s), 0);
    }
    ck_assert_int_eq(pthread_create(&dt, NULL, destroy_main, sh), 0);
    for (int i = 0; i < sh->sh_nsub; i++)
        pthread_join(tid[i], NULL);
    pthread_join(dt, NULL);
    stress_watchdog_stop(&wd);
    pthread_barrier_destroy(&sh->sh_start);

    for (int i = 0; i < sh->sh_nsub; i++) {
        submitter *s = &sh->sh_sub[i];
        ck_assert_int_eq(s->s_rc[0], 0);
        ck_assert_int_eq(s->s_group_rc, 0);
        bool refused = false;
        for (int k = 0; k < s->s_ncalls; k++) {
            int ran = atomic_load_explicit(&s->s_ran[k], memory_order_relaxed);
            int rc = s->s_rc[k];
            ck_assert_msg(rc == 0 || rc == EPIPE, "call %d returned %d", k, rc);
            /* parallel_for covers PFOR_N indices; the others run one task. */
            int want = rc != 0 ? 0 : s->s_op[k] == 2 ? PFOR_N : 1;
            ck_assert_msg(ran == want, "submitter %d call %d: rc %d but ran %d times", i, k, rc,
                          ran);
            if (rc == EPIPE) {
                ck_assert(!refused); /* the loop stops at the first */
                refused = true;
                st->t_refused++;
            } else {
                st->t_accepted++;
            }
        }
        ck_assert_msg(refused || s->s_ncalls == MAXCALLS, "submitter %d never saw EPIPE", i);
    }
    /* Relaxed: counts, read after destroy joined the workers. */
    long ok = atomic_load_explicit(&sh->sh_children_ok, memory_order_relaxed);
    long ran = atomic_load_explicit(&sh->sh_children_ran, memory_order_relaxed);
    ck_assert_int_eq(atomic_load_explicit(&sh->sh_children_refused, memory_order_relaxed), 0);
    ck_assert_int_eq(ok, ran);
    st->t_children += (uint64_t)ran;
    st->t_rounds++;
}

START_TEST(destroy_vs_submitters)
{
    stress_rng g;
    stress_rng_init(&g, stress_seed_for("destroy_vs_submitters", 0));
    shut *sh = calloc(1, sizeof *sh);
    ck_assert_ptr_nonnull(sh);
    sstats st = {0};
    int64_t deadline = stress_now_ns() + stress_duration_ns() / 2;
    do
        shutdown_round(&g, sh, &st);
    while (stress_now_ns() < deadline);
    free(sh);
    printf("destroy_vs_submitters: %" PRIu64 " pools destroyed under fire, %" PRIu64
           " calls accepted and run exactly once, %" PRIu64 " refused with EPIPE and never "
           "run, %" PRIu64 " worker submissions during destroy all run\n",
           st.t_rounds, st.t_accepted, st.t_refused, st.t_children);
}
END_TEST

int main(void)
{
    stress_seed();
    Suite *s = suite_create("stress_pool");
    weft_test_case(s, "random_forests", random_forests, 180 + (double)stress_duration_ns() / 1e9);
    weft_test_case(s, "destroy_vs_submitters", destroy_vs_submitters,
                   180 + (double)stress_duration_ns() / 1e9);
    return weft_test_run(s);
}
