/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_collection.c - a libFuzzer harness for the blocking
 * collection, also built as a corpus replayer for CTest.
 *
 * The input is a byte code. Byte 0 picks the order and capacity; then each
 * byte is an operation (low 4 bits) with parameters (high bits, sometimes
 * one more byte):
 *
 *   0-3  add          4-6  take         7  drain(max)
 *   8    complete_adding, complete_adding_error(err), add_producer,
 *        producer_done (bits 4-5)       9  shutdown
 *   10   task_done    11   try_join     12 add_to_any / take_from_any
 *   13   snapshots    14   threaded phase                15 bad arguments
 *
 * Single-threaded operations are checked exactly against a sequential model
 * (contents in take order, capacity, adding-completed / shut-down state and
 * the closing error, the producer count, the unfinished count, the
 * statistics' item counts and true maximum): the return code, the item
 * taken, the items drained and every snapshot (weft_collection_stats
 * included: max_count exact for LIFO and PRIORITY, between the count and
 * the true maximum for FIFO). A blocking form (WEFT_FOREVER) is only used where the
 * model says the call will not block, so a wrong model answer shows up as a
 * hang (libFuzzer's -timeout).
 *
 * Op 14 runs a phase on 1..3 threads, each interpreting its own slice of the
 * input (adds and takes of fresh items with short timeouts, add_to_any and
 * take_from_any over {c, c}, {c, aux} or {aux, c} where aux is a second
 * collection of the same options that lives for the phase, drains,
 * complete_adding, complete_adding_error, shutdown, stats snapshots).
 * Interleavings are not deterministic, so the phase is checked by
 * conservation: the multiset of items inside before the phase plus those
 * added during it (to c or aux) equals those taken plus those drained
 * (during it and by a final drain of both); every return code is one the
 * header allows. The model is then re-synchronised (empty; the closing
 * code from a probe; the unfinished count brought to 0 with task_done,
 * which must stop at EINVAL within bounds; the statistics checked for
 * added == taken + drained and taken over).
 *
 * Built two ways:
 *   - with clang -fsanitize=fuzzer,address (tests/fuzz/run.sh SECONDS);
 *   - with -DWEFT_FUZZ_REPLAY: a main() that runs every file given on the
 *     command line (or in the directories given) through the harness; CTest
 *     runs it over tests/fuzz/corpus in every build (plain, ASan, TSan).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/collection.h>

/* The replayer names the input being run (NULL under libFuzzer). */
static const char *fz_current;

#define FZ_CHECK(cond)                                                                        \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_collection: check failed: %s (line %d)%s%s\n", #cond,       \
                    __LINE__, fz_current ? " input " : "", fz_current ? fz_current : "");      \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* Items: key in bits 32..39 (PRIORITY compares keys only: many ties), a
 * unique id below. */
#define FZ_ITEM(key, id) ((void *)(uintptr_t)(((uint64_t)(key) << 32) | (uint64_t)(id)))
#define FZ_ID(p) ((uint32_t)((uintptr_t)(p)&0xffffffffu))
#define FZ_KEY(p) ((unsigned)(((uintptr_t)(p) >> 32) & 0xffu))

static int fz_compare(const void *a, const void *b)
{
    unsigned x = FZ_KEY(a), y = FZ_KEY(b);
    return (x > y) - (x < y);
}

/* ---- the input cursor -------------------------------------------------- */

typedef struct {
    const uint8_t *in_p;
    size_t in_n;
    size_t in_i;
} fz_input;

static bool fz_more(const fz_input *in)
{
    return in->in_i < in->in_n;
}

static uint8_t fz_byte(fz_input *in)
{
    return in->in_i < in->in_n ? in->in_p[in->in_i++] : 0;
}

/* ---- the sequential model ------------------------------------------------ */

typedef struct {
    void *me_item;
    uint64_t me_seq;
} fz_entry;

typedef struct {
    weft_order m_order;
    size_t m_capacity;
    fz_entry *m_items; /* insertion order */
    size_t m_n, m_cap;
    uint64_t m_seq;
    bool m_adding_done, m_shutdown;
    int m_error; /* complete_adding_error's err, 0 if none */
    size_t m_producers;
    size_t m_unfinished;
    uint64_t m_added, m_taken, m_drained, m_max; /* the statistics */
} fz_model;

static void model_push(fz_model *m, void *item)
{
    if (m->m_n == m->m_cap) {
        m->m_cap = m->m_cap ? 2 * m->m_cap : 16;
        m->m_items = realloc(m->m_items, m->m_cap * sizeof *m->m_items);
        FZ_CHECK(m->m_items != NULL);
    }
    m->m_items[m->m_n++] = (fz_entry){item, m->m_seq++};
    m->m_added++;
    if (m->m_n > m->m_max)
        m->m_max = m->m_n;
}

/* Index of the next item in take order; m_n > 0. */
static size_t model_next(const fz_model *m)
{
    switch (m->m_order) {
    case WEFT_ORDER_FIFO:
        return 0;
    case WEFT_ORDER_LIFO:
        return m->m_n - 1;
    default: {
        size_t best = 0; /* smallest key; ties: oldest (lowest index) */
        for (size_t i = 1; i < m->m_n; i++)
            if (fz_compare(m->m_items[i].me_item, m->m_items[best].me_item) < 0)
                best = i;
        return best;
    }
    }
}

static void *model_pop(fz_model *m)
{
    size_t i = model_next(m);
    void *item = m->m_items[i].me_item;
    memmove(&m->m_items[i], &m->m_items[i + 1], (m->m_n - i - 1) * sizeof *m->m_items);
    m->m_n--;
    return item;
}

static bool model_full(const fz_model *m)
{
    return m->m_capacity && m->m_n >= m->m_capacity;
}

/* The code an add must return; 0 also when it would block (see callers). */
static int model_add_code(const fz_model *m)
{
    if (m->m_shutdown)
        return ECANCELED;
    if (m->m_adding_done)
        return EPIPE;
    return 0;
}

static int model_take_code(const fz_model *m)
{
    if (m->m_shutdown)
        return ECANCELED;
    if (m->m_n > 0)
        return 0;
    if (m->m_adding_done)
        return m->m_error ? m->m_error : EPIPE;
    return 0; /* would block */
}

/* Adding completes (complete_adding, complete_adding_error, the last
 * producer_done). */
static void model_close(fz_model *m, int err)
{
    if (!m->m_adding_done) {
        m->m_adding_done = true;
        m->m_error = err == EPIPE ? 0 : err;
    }
}

static void model_check_snapshots(const fz_model *m, weft_collection *c)
{
    FZ_CHECK(weft_collection_count(c) == m->m_n);
    FZ_CHECK(weft_collection_capacity(c) == m->m_capacity);
    FZ_CHECK(weft_collection_is_adding_completed(c) == m->m_adding_done);
    FZ_CHECK(weft_collection_is_completed(c) == (m->m_adding_done && m->m_n == 0));
    struct weft_collection_stats s;
    FZ_CHECK(weft_collection_stats(c, &s) == 0);
    FZ_CHECK(s.added == m->m_added && s.taken == m->m_taken && s.drained == m->m_drained);
    if (m->m_order == WEFT_ORDER_FIFO)
        FZ_CHECK(s.max_count >= m->m_n && s.max_count <= m->m_max);
    else
        FZ_CHECK(s.max_count == m->m_max);
    FZ_CHECK((s.add_waits == 0) == (s.add_wait_ns == 0));
    FZ_CHECK((s.take_waits == 0) == (s.take_wait_ns == 0));
    FZ_CHECK((s.join_waits == 0) == (s.join_wait_ns == 0));
}

/* ---- a threaded phase ---------------------------------------------------- */

typedef struct fz_phase fz_phase;

typedef struct {
    fz_phase *th_ph;
    fz_input th_in;
    int th_nops;
    /* Items this thread obtained (taken or drained) and added. */
    void **th_out;
    size_t th_nout;
    void **th_added;
    size_t th_nadded;
} fz_thread;

struct fz_phase {
    weft_collection *ph_c;
    weft_collection *ph_aux; /* a second collection for the any-variants */
    atomic_uint_fast32_t *ph_next_id; /* relaxed: ids need only uniqueness */
    bool ph_debt; /* task_done was called for items not yet taken */
    pthread_barrier_t ph_start;
};

/* The codes complete_adding_error may have left for takers of c. */
static bool fz_closing_code(int r)
{
    return r == EPIPE || r == EIO || r == ENOSPC || r == EPROTO;
}

static void *fz_thread_main(void *arg)
{
    fz_thread *t = arg;
    weft_collection *c = t->th_ph->ph_c, *aux = t->th_ph->ph_aux;
    pthread_barrier_wait(&t->th_ph->ph_start);
    for (int k = 0; k < t->th_nops && fz_more(&t->th_in); k++) {
        uint8_t b = fz_byte(&t->th_in);
        static const int64_t timeouts[4] = {WEFT_NO_WAIT, 1, 20000, 100000};
        int64_t to = timeouts[(b >> 4) & 3];
        /* The any-variants' members: {c, c}, {c, aux} or {aux, c}. Only
         * c is ever closed, so only {c, c} can be closed as a whole. */
        unsigned pick = (b >> 6) & 3;
        weft_collection *cs[2] = {pick == 3 ? aux : c, pick == 2 ? aux : c};
        bool only_c = pick < 2;
        switch (b & 7) {
        case 0:
        case 1:
        case 2: {
            uint32_t id = (uint32_t)atomic_fetch_add_explicit(t->th_ph->ph_next_id, 1,
                                                              memory_order_relaxed);
            void *it = FZ_ITEM((b >> 6) & 3, id);
            size_t idx = 9;
            int r = (b & 7) == 2 ? weft_collection_add_to_any(cs, 2, it, &idx, to)
                                 : weft_collection_try_add(c, it, to);
            FZ_CHECK(r == 0 || (r == EPIPE && ((b & 7) != 2 || only_c)) || r == ECANCELED ||
                     (r == EAGAIN && to == WEFT_NO_WAIT) || (r == ETIMEDOUT && to > 0));
            FZ_CHECK((b & 7) != 2 || (r == 0) == (idx < 2));
            if (r == 0)
                t->th_added[t->th_nadded++] = it;
            break;
        }
        case 3:
        case 4:
        case 5: {
            void *it = NULL;
            size_t idx = 0;
            int r = (b & 7) == 5 ? weft_collection_take_from_any(cs, 2, &it, &idx, to)
                                 : weft_collection_try_take(c, &it, to);
            FZ_CHECK(r == 0 || (fz_closing_code(r) && ((b & 7) != 5 || only_c)) ||
                     r == ECANCELED || (r == EAGAIN && to == WEFT_NO_WAIT) ||
                     (r == ETIMEDOUT && to > 0));
            if (r == 0) {
                FZ_CHECK(idx < 2);
                t->th_out[t->th_nout++] = it;
                /* A taken item counts as unfinished until done - unless
                 * task_done was called ahead for items still inside c. */
                weft_collection *from = (b & 7) == 5 ? cs[idx] : c;
                int d = weft_collection_task_done(from);
                FZ_CHECK(d == 0 || (d == EINVAL && from == c && t->th_ph->ph_debt));
            }
            break;
        }
        case 6: {
            void *out[4];
            size_t n = weft_collection_drain((b & 0x40) ? aux : c, out, (b >> 4) & 3);
            FZ_CHECK(n <= 3);
            for (size_t i = 0; i < n; i++)
                t->th_out[t->th_nout++] = out[i];
            break;
        }
        default:
            if (b & 0x80) {
                weft_collection_shutdown(c);
            } else if (b & 0x40) {
                if (b & 0x20) {
                    int r = weft_collection_complete_adding_error(c, EIO);
                    FZ_CHECK(r == 0 || r == EPIPE || r == ECANCELED);
                } else {
                    weft_collection_complete_adding(c);
                }
            } else {
                /* A snapshot: never more out than in, waits and their time
                 * together. */
                struct weft_collection_stats st;
                FZ_CHECK(weft_collection_stats(c, &st) == 0);
                FZ_CHECK(st.taken + st.drained <= st.added);
                FZ_CHECK((st.take_waits == 0) == (st.take_wait_ns == 0));
                FZ_CHECK((st.add_waits == 0) == (st.add_wait_ns == 0));
            }
            break;
        }
    }
    return NULL;
}

/* Run a phase of 1..3 threads on the next bytes of the input; check it. */
static void run_phase(weft_collection *c, fz_model *m, fz_input *in, uint8_t b,
                      atomic_uint_fast32_t *next_id)
{
    int nthreads = 1 + (b >> 4) % 3;
    int nops = fz_byte(in) % 64 + 1;
    fz_phase ph;
    ph.ph_c = c;
    weft_collection_options o = {
        .capacity = m->m_capacity, .order = m->m_order, .compare = fz_compare};
    FZ_CHECK(weft_collection_create(&ph.ph_aux, &o) == 0);
    ph.ph_next_id = next_id;
    ph.ph_debt = m->m_unfinished < m->m_n;
    fz_thread th[3];
    pthread_t tid[3];
    FZ_CHECK(pthread_barrier_init(&ph.ph_start, NULL, (unsigned)nthreads) == 0);
    size_t start = in->in_i;
    for (int i = 0; i < nthreads; i++) {
        /* Thread i reads nops bytes from start + i * nops (slices may be
         * shorter at the end of the input). */
        size_t from = start + (size_t)i * (size_t)nops;
        th[i] = (fz_thread){&ph, {in->in_p, in->in_n, from < in->in_n ? from : in->in_n},
                            nops, calloc(3 * (size_t)nops + 1, sizeof(void *)), 0,
                            calloc((size_t)nops + 1, sizeof(void *)), 0};
        FZ_CHECK(th[i].th_out && th[i].th_added);
    }
    for (int i = 0; i < nthreads; i++)
        FZ_CHECK(pthread_create(&tid[i], NULL, fz_thread_main, &th[i]) == 0);
    for (int i = 0; i < nthreads; i++)
        FZ_CHECK(pthread_join(tid[i], NULL) == 0);
    pthread_barrier_destroy(&ph.ph_start);
    size_t end = start + (size_t)nthreads * (size_t)nops;
    in->in_i = end < in->in_n ? end : in->in_n;

    /* Conservation, by item id: +1 inside before or added, -1 obtained. */
    uint32_t max_id = (uint32_t)atomic_load_explicit(next_id, memory_order_relaxed);
    int *bal = calloc((size_t)max_id + 1, sizeof *bal);
    FZ_CHECK(bal != NULL);
    for (size_t i = 0; i < m->m_n; i++)
        bal[FZ_ID(m->m_items[i].me_item)]++;
    for (int i = 0; i < nthreads; i++) {
        for (size_t j = 0; j < th[i].th_nadded; j++)
            bal[FZ_ID(th[i].th_added[j])]++;
        for (size_t j = 0; j < th[i].th_nout; j++) {
            FZ_CHECK(FZ_ID(th[i].th_out[j]) < max_id);
            bal[FZ_ID(th[i].th_out[j])]--;
        }
        free(th[i].th_out);
        free(th[i].th_added);
    }
    void *out[64];
    size_t n;
    weft_collection *both[2] = {c, ph.ph_aux};
    for (int k = 0; k < 2; k++)
        while ((n = weft_collection_drain(both[k], out, 64)) > 0)
            for (size_t j = 0; j < n; j++) {
                FZ_CHECK(FZ_ID(out[j]) < max_id);
                bal[FZ_ID(out[j])]--;
            }
    for (uint32_t id = 0; id < max_id; id++)
        FZ_CHECK(bal[id] == 0); /* nothing lost, nothing duplicated */
    free(bal);
    weft_collection_destroy(ph.ph_aux);

    /* Re-synchronise the model: empty, state from the snapshots and a
     * probe, the unfinished count brought to 0. */
    m->m_n = 0;
    m->m_adding_done = weft_collection_is_adding_completed(c);
    void *x;
    int r = weft_collection_try_take(c, &x, WEFT_NO_WAIT);
    FZ_CHECK((m->m_adding_done ? fz_closing_code(r) : r == EAGAIN) || r == ECANCELED);
    m->m_shutdown = r == ECANCELED;
    if (fz_closing_code(r))
        m->m_error = r == EPIPE ? 0 : r;
    FZ_CHECK(!m->m_shutdown || m->m_adding_done);
    /* The statistics: empty now, so what came in went out. The FIFO
     * maximum is a lower bound of the phase's true one, which later checks
     * need only as an upper bound of what is recorded. */
    struct weft_collection_stats st;
    FZ_CHECK(weft_collection_stats(c, &st) == 0);
    FZ_CHECK(st.added == st.taken + st.drained);
    FZ_CHECK(st.added >= m->m_added && st.taken >= m->m_taken && st.drained >= m->m_drained);
    FZ_CHECK(st.max_count >= m->m_max || m->m_order == WEFT_ORDER_FIFO);
    m->m_added = st.added;
    m->m_taken = st.taken;
    m->m_drained = st.drained;
    if (st.max_count > m->m_max || m->m_order != WEFT_ORDER_FIFO)
        m->m_max = st.max_count;
    size_t bound = (size_t)max_id + 1;
    while (weft_collection_task_done(c) == 0)
        FZ_CHECK(bound-- > 0);
    m->m_unfinished = 0;
    FZ_CHECK(weft_collection_try_join(c, WEFT_NO_WAIT) == 0);
    model_check_snapshots(m, c);
}

/* ---- the single-threaded interpreter -------------------------------------- */

static void fz_add(weft_collection *c, fz_model *m, uint8_t b, uint8_t key, uint32_t id)
{
    void *it = FZ_ITEM(key & 3, id);
    int expect = model_add_code(m);
    bool would_block = expect == 0 && model_full(m);
    int r;
    switch ((b >> 4) & 3) {
    case 0:
        r = weft_collection_try_add(c, it, WEFT_NO_WAIT);
        if (would_block)
            expect = EAGAIN;
        break;
    case 1:
        r = weft_collection_try_add(c, it, 1);
        if (would_block)
            expect = ETIMEDOUT;
        break;
    default:
        if (would_block) {
            r = weft_collection_try_add(c, it, 1000);
            expect = ETIMEDOUT;
        } else {
            r = (b & 0x40) ? weft_collection_add(c, it)
                           : weft_collection_try_add(c, it, WEFT_FOREVER);
        }
        break;
    }
    FZ_CHECK(r == expect);
    if (r == 0) {
        model_push(m, it);
        m->m_unfinished++;
    }
}

static void fz_take(weft_collection *c, fz_model *m, uint8_t b)
{
    int expect = model_take_code(m);
    bool would_block = expect == 0 && m->m_n == 0;
    void *sentinel = (void *)(uintptr_t)0x5e5e5e5e5e5eull, *it = sentinel;
    int r;
    switch ((b >> 4) & 3) {
    case 0:
        r = weft_collection_try_take(c, &it, WEFT_NO_WAIT);
        if (would_block)
            expect = EAGAIN;
        break;
    case 1:
        r = weft_collection_try_take(c, &it, 1);
        if (would_block)
            expect = ETIMEDOUT;
        break;
    default:
        if (would_block) {
            r = weft_collection_try_take(c, &it, 1000);
            expect = ETIMEDOUT;
        } else {
            r = (b & 0x40) ? weft_collection_take(c, &it)
                           : weft_collection_try_take(c, &it, WEFT_FOREVER);
        }
        break;
    }
    FZ_CHECK(r == expect);
    if (r == 0) {
        void *want = model_pop(m);
        FZ_CHECK(it == want);
        m->m_taken++;
    } else {
        FZ_CHECK(it == sentinel); /* *item only written on success */
    }
}

static void fz_any(weft_collection *c, fz_model *m, uint8_t b, uint32_t id)
{
    /* The same collection twice: it must behave like one member. */
    weft_collection *cs[2] = {c, c};
    size_t n = 1 + ((b >> 5) & 1), idx = 99;
    if (b & 0x10) {
        void *it = FZ_ITEM((b >> 6) & 3, id);
        int expect = model_add_code(m);
        if (expect == 0 && model_full(m))
            expect = EAGAIN;
        int r = weft_collection_add_to_any(cs, n, it, &idx, WEFT_NO_WAIT);
        FZ_CHECK(r == expect);
        if (r == 0) {
            FZ_CHECK(idx == 0);
            model_push(m, it);
            m->m_unfinished++;
        } else {
            FZ_CHECK(idx == 99);
        }
    } else {
        void *it = NULL;
        int expect = model_take_code(m);
        if (expect == 0 && m->m_n == 0)
            expect = EAGAIN;
        int r = weft_collection_take_from_any(cs, n, &it, &idx, WEFT_NO_WAIT);
        FZ_CHECK(r == expect);
        if (r == 0) {
            FZ_CHECK(idx == 0);
            FZ_CHECK(it == model_pop(m));
            m->m_taken++;
        }
    }
}

/* Op 8: the ways adding completes, and the producer count. */
static void fz_close(weft_collection *c, fz_model *m, uint8_t b, uint8_t arg)
{
    /* Errors to close with, refused ones included. */
    static const int errs[8] = {EIO, ENOSPC, EPIPE, EPROTO, 0, EAGAIN, ECANCELED, -EIO};
    int r;
    switch ((b >> 4) & 3) {
    case 0:
        if (!m->m_shutdown)
            model_close(m, 0);
        weft_collection_complete_adding(c);
        break;
    case 1: {
        int err = errs[arg & 7];
        r = weft_collection_complete_adding_error(c, err);
        if (err <= 0 || err == EAGAIN || err == ECANCELED) {
            FZ_CHECK(r == EINVAL);
        } else if (m->m_shutdown) {
            FZ_CHECK(r == ECANCELED);
        } else if (m->m_adding_done) {
            FZ_CHECK(r == EPIPE);
        } else {
            FZ_CHECK(r == 0);
            model_close(m, err);
        }
        break;
    }
    case 2:
        r = weft_collection_add_producer(c);
        FZ_CHECK(r == (m->m_shutdown ? ECANCELED : m->m_adding_done ? EPIPE : 0));
        if (r == 0)
            m->m_producers++;
        break;
    default:
        r = weft_collection_producer_done(c);
        FZ_CHECK(r == (m->m_producers ? 0 : EINVAL));
        if (r == 0 && --m->m_producers == 0 && !m->m_shutdown)
            model_close(m, 0);
        break;
    }
}

static void fz_bad(weft_collection *c, const fz_model *m, uint8_t b)
{
    void *it = NULL;
    weft_collection *cs[2] = {c, NULL};
    int64_t bad = -2 - (int64_t)(b >> 4);
    switch ((b >> 4) & 7) {
    case 0:
        FZ_CHECK(weft_collection_try_add(c, it, bad) == EINVAL);
        break;
    case 1:
        FZ_CHECK(weft_collection_try_take(c, &it, bad) == EINVAL);
        break;
    case 2:
        FZ_CHECK(weft_collection_try_take(c, NULL, 0) == EINVAL);
        break;
    case 3:
        FZ_CHECK(weft_collection_add_to_any(cs, 2, it, NULL, 0) == EINVAL);
        break;
    case 4:
        FZ_CHECK(weft_collection_take_from_any(cs, 2, &it, NULL, 0) == EINVAL);
        break;
    case 5:
        FZ_CHECK(weft_collection_take_from_any(cs, 0, &it, NULL, 0) == EINVAL);
        break;
    case 6:
        FZ_CHECK(weft_collection_try_join(c, bad) == EINVAL);
        break;
    default:
        FZ_CHECK(weft_collection_drain(c, NULL, 4) == 0);
        FZ_CHECK(weft_collection_complete_adding_error(NULL, EIO) == EINVAL);
        FZ_CHECK(weft_collection_complete_adding_error(c, 0) == EINVAL);
        FZ_CHECK(weft_collection_complete_adding_error(c, ETIMEDOUT) == EINVAL);
        FZ_CHECK(weft_collection_add_producer(NULL) == EINVAL);
        FZ_CHECK(weft_collection_producer_done(NULL) == EINVAL);
        FZ_CHECK(weft_collection_stats(c, NULL) == EINVAL);
        FZ_CHECK(weft_collection_stats(NULL, NULL) == EINVAL);
        break;
    }
    model_check_snapshots(m, c); /* EINVAL changed nothing */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const size_t caps[8] = {0, 1, 2, 3, 4, 8, 16, 0};
    fz_input in = {data, size, 0};
    uint8_t h = fz_byte(&in);
    fz_model m = {0};
    m.m_order = (weft_order)(h % 3);
    m.m_capacity = caps[(h >> 2) & 7];
    weft_collection_options o = {
        .capacity = m.m_capacity, .order = m.m_order, .compare = fz_compare};
    weft_collection *c = NULL;
    FZ_CHECK(weft_collection_create(&c, &o) == 0);
    atomic_uint_fast32_t next_id;
    atomic_init(&next_id, 0);

    while (fz_more(&in)) {
        uint8_t b = fz_byte(&in);
        switch (b & 15) {
        case 0:
        case 1:
        case 2:
        case 3: {
            uint8_t key = fz_byte(&in);
            fz_add(c, &m, b, key,
                   (uint32_t)atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed));
            break;
        }
        case 4:
        case 5:
        case 6:
            fz_take(c, &m, b);
            break;
        case 7: {
            size_t max = (b >> 4) & 7;
            void *out[8];
            size_t n = weft_collection_drain(c, out, max);
            size_t want = m.m_n < max ? m.m_n : max;
            FZ_CHECK(n == want);
            for (size_t i = 0; i < n; i++)
                FZ_CHECK(out[i] == model_pop(&m));
            m.m_drained += n;
            break;
        }
        case 8:
            fz_close(c, &m, b, fz_byte(&in));
            break;
        case 9:
            weft_collection_shutdown(c);
            /* The items inside leave the unfinished count, which cannot go
             * below 0: task_done may have been called for items not yet
             * taken (allowed: it only fails at 0), as in Python's
             * Queue.shutdown(immediate=True). */
            if (!m.m_shutdown)
                m.m_unfinished = m.m_unfinished > m.m_n ? m.m_unfinished - m.m_n : 0;
            m.m_shutdown = m.m_adding_done = true;
            break;
        case 10: {
            int r = weft_collection_task_done(c);
            FZ_CHECK(r == (m.m_unfinished ? 0 : EINVAL));
            if (r == 0)
                m.m_unfinished--;
            break;
        }
        case 11: {
            int64_t to = (b & 0x10) ? 1 : WEFT_NO_WAIT;
            int r = weft_collection_try_join(c, to);
            FZ_CHECK(r == (m.m_unfinished == 0 ? 0 : to ? ETIMEDOUT : EAGAIN));
            if (m.m_unfinished == 0 && (b & 0x20))
                FZ_CHECK(weft_collection_join(c) == 0);
            break;
        }
        case 12:
            fz_any(c, &m, b,
                   (uint32_t)atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed));
            break;
        case 13:
            model_check_snapshots(&m, c);
            break;
        case 14:
            run_phase(c, &m, &in, b, &next_id);
            break;
        default:
            fz_bad(c, &m, b);
            break;
        }
    }
    model_check_snapshots(&m, c);
    FZ_CHECK(weft_collection_try_join(c, WEFT_NO_WAIT) == (m.m_unfinished ? EAGAIN : 0));
    /* The rest comes back with drain, in take order. */
    void *out[16];
    size_t n;
    while ((n = weft_collection_drain(c, out, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            FZ_CHECK(out[i] == model_pop(&m));
    FZ_CHECK(m.m_n == 0);
    weft_collection_destroy(c);
    free(m.m_items);
    return 0;
}

#ifdef WEFT_FUZZ_REPLAY
/* Replay: every regular file named on the command line, or found in a
 * directory named there, runs once through the harness. */
#include <dirent.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            buf = realloc(buf, cap);
            FZ_CHECK(buf != NULL);
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        if (k == 0)
            break;
        n += k;
    }
    fclose(f);
    fz_current = path;
    LLVMFuzzerTestOneInput(buf, n);
    fz_current = NULL;
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad += replay_file(argv[i]);
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        FZ_CHECK(d != NULL);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            bad += replay_file(path);
            files++;
        }
        closedir(d);
    }
    printf("fuzz_collection replay: %d inputs, all checks passed\n", files);
    return bad != 0 || files == 0;
}
#endif
