/* SPDX-License-Identifier: MIT */
/*
 * weft-mpi-hash - weft-hash over MPI ranks: ranks share out the files, a
 * weft pool inside each rank hashes them.
 *
 * Rank 0 walks the paths (hashtree.c, as weft-hash does), sorts the files
 * by path and broadcasts the list with the sizes. Every rank then cuts the
 * same batches: the files ordered by size, largest first, a batch closed
 * at BATCH_BYTES or BATCH_FILES (a file of BATCH_BYTES or more is a batch
 * alone), so large files start first and do not end up as the tail. A batch
 * is the unit that moves between ranks; inside a rank each file of a batch
 * is one task in a weft task group, and one task reads and hashes a whole
 * file (XXH3-64 is a sequential stream).
 *
 * Only the main thread of a rank calls MPI (MPI_THREAD_FUNNELED). It keeps
 * workers + 1 batches in the pool (at least one file per worker, and one
 * more for while the main thread naps); the rest stay in the rank's queue,
 * where other ranks can get them. It answers requests, and learns that a
 * batch is done from a lock-free stack that the batch's last task pushes it
 * on. It never blocks in MPI: it polls and naps, so that on an
 * oversubscribed node a waiting rank leaves the CPU to the ranks that hash.
 *
 * Load balancing between ranks, --balance. Under both, all batches start
 * in rank 0's queue, largest first (as UTS starts from the root at rank 0);
 * the policies differ in how they leave it:
 *   master  rank 0's queue is the shared queue: another rank with a free
 *           slot asks rank 0 and gets one batch, or nothing once the queue
 *           is empty (then it stops asking). Every batch passes rank 0.
 *   steal   a rank with an empty queue and a free slot asks a random other
 *           rank, which gives every other batch of its queue, starting
 *           with the first: half of the batches, rounded up, and, the queue
 *           being sorted by size, about half of the bytes, the largest
 *           batch to the thief (which is idle, its victim is not). Both
 *           queues stay largest first. A thief is a victim like any other,
 *           so the work spreads and most requests no longer reach rank 0.
 *           An empty answer makes the thief wait before it asks again
 *           (RETRY_MIN doubling up to RETRY_MAX).
 *
 * Results and termination (both policies): a rank sends the results of
 * each batch it finished to rank 0 (TAG_RESULT: index, error and hash per
 * file). The set of batches is fixed before the first is hashed (hashing
 * creates no work), so rank 0 knows that everything is finished exactly
 * when it holds the results of all of them; then it sends TAG_STOP to every
 * rank. A batch is always in exactly one place: one rank's queue, a
 * TAG_WORK message, one rank's pool, or a TAG_RESULT message, so while any
 * batch is queued, moving or being hashed, its result is missing and rank 0
 * cannot stop. After TAG_STOP only requests and their empty answers can
 * still be on their way: every rank answers requests until it has the
 * answer to its own (at most one outstanding), then enters MPI_Ibarrier and
 * goes on answering until the barrier completes. Once it has, every request
 * has been answered and every answer received, so no message is left
 * unreceived at MPI_Finalize. The README (examples/README.md) says why this
 * needs no token ring.
 *
 * Errors: a file that cannot be read is reported once, by rank 0, in path
 * order on stderr; the exit status is 1 as with weft-hash. A fatal error in
 * any rank (no memory, no pool, a malformed message) prints one line and
 * calls MPI_Abort, which ends every rank.
 *
 * Usage: mpirun -np N weft-mpi-hash [-p WORKERS] [--balance steal|master]
 *                                   [--stats] [PATH...]
 *
 * One file of about 800 lines: one program whose main loop, messages and
 * termination protocol are one argument, read top to bottom; what it shares
 * with weft-hash (the walk, the hashing) is in hashtree.c.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "hashtree.h" /* walking and hashing, shared with weft-hash */

#define PROG "weft-mpi-hash"
#define BATCH_BYTES ((uint64_t)4 << 20)

enum {
    BATCH_FILES = 64,      /* files per batch at most */
    NAP_MIN = 20 * 1000,   /* ns: the first nap of an idle main loop */
    NAP_MAX = 1000 * 1000, /* ns: the longest (the latency of an answer) */
    RETRY_MIN = 100 * 1000,     /* ns: wait after an empty steal answer */
    RETRY_MAX = 5 * 1000 * 1000 /* ns: ... doubling up to this */
};

/* Message tags. REQUEST: empty. WORK: batch ids (int), possibly none.
 * RESULT: uint64 triples (file index, error, hash). STOP: empty. */
enum { TAG_REQUEST = 1, TAG_WORK, TAG_RESULT, TAG_STOP };

typedef enum { BALANCE_STEAL, BALANCE_MASTER } balance;

typedef struct batch batch;
struct batch {
    size_t lo, hi;       /* its files: order[lo..hi) */
    _Atomic size_t left; /* files not hashed yet */
    batch *next_done;    /* link in the done stack, written by its last task */
};

typedef struct rank_state rank_state;

typedef struct {
    hashtree_entry *e;
    batch *b;
    rank_state *st;
} job;

/* Per-rank counters, gathered by rank 0 for --stats (all uint64_t). */
typedef struct {
    uint64_t files, bytes, batches; /* hashed by this rank */
    uint64_t received, given;       /* batches that came in / went out by messages */
    uint64_t requests, empty;       /* requests sent; answers with nothing */
    uint64_t usec;                  /* when its last batch was done, from the start */
} rank_stats;
#define RANK_STATS_WORDS (sizeof(rank_stats) / sizeof(uint64_t))
_Static_assert(sizeof(rank_stats) == RANK_STATS_WORDS * sizeof(uint64_t),
               "rank_stats is gathered as an array of MPI_UINT64_T");

/* Owned by the rank's main thread, except done (pushed by tasks) and the
 * entries and batches that tasks of the pool write. */
struct rank_state {
    int rank, size;
    balance policy;
    int fail_rank; /* --fail-rank, -1: none */

    hashtree_entry *files; /* the broadcast list, in path order */
    char *pathbuf;         /* the paths of files[] */
    size_t nfiles;
    size_t *order; /* file indices, largest first */
    batch *batches;
    int nbatches;
    job *jobs; /* jobs[i]: the task argument for files[i] */

    int *queue; /* batch ids not started here yet: queue[qhead..qtail) */
    int qhead, qtail;
    int inflight;     /* batches in the pool */
    int inflight_max; /* ... at most: workers + 1 */

    weft_pool *pool;
    weft_group group;
    _Atomic(batch *) done; /* finished batches, pushed by their last task */

    bool asking;       /* a request is out */
    bool exhausted;    /* master: rank 0 had nothing left */
    double retry_at;   /* steal: no request before this MPI_Wtime() */
    long retry_ns;     /* steal: the next wait after an empty answer */
    uint64_t rng;      /* steal: victim choice */
    int reported;      /* rank 0: batches whose results are in */
    bool stop;         /* all results are at rank 0 */
    double started;

    MPI_Request *out_req; /* sends in progress, and their buffers */
    void **out_buf;
    int out_n, out_cap;

    rank_stats stats;
};

/* A fatal error in this rank: say so and end every rank. Main thread only. */
static _Noreturn void fatal(const char *fmt, ...)
{
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": rank %d: ", rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 2);
    exit(2); /* MPI_Abort does not return; this is for the compiler */
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fatal("out of memory");
    return p;
}

static void nap(long ns)
{
    struct timespec t = {.tv_sec = 0, .tv_nsec = ns};
    nanosleep(&t, NULL);
}

/* Wait for r without spinning (a blocking MPI call polls at full speed). */
static void wait_request(MPI_Request *r)
{
    long ns = NAP_MIN;
    for (;;) {
        int done = 0;
        MPI_Test(r, &done, MPI_STATUS_IGNORE);
        if (done)
            return;
        nap(ns);
        if (ns < NAP_MAX)
            ns *= 2;
    }
}

/* ---- sends: non-blocking, each with its own buffer (freed when done) ---- */

static void send_async(rank_state *st, void *buf, int count, MPI_Datatype type, int dest, int tag)
{
    if (st->out_n == st->out_cap) {
        int cap = st->out_cap ? 2 * st->out_cap : 16;
        MPI_Request *r = realloc(st->out_req, (size_t)cap * sizeof *r);
        if (r)
            st->out_req = r;
        void **b = realloc(st->out_buf, (size_t)cap * sizeof *b);
        if (!r || !b)
            fatal("out of memory");
        st->out_buf = b;
        st->out_cap = cap;
    }
    static int nothing;
    MPI_Isend(buf ? buf : &nothing, count, type, dest, tag, MPI_COMM_WORLD,
              &st->out_req[st->out_n]);
    st->out_buf[st->out_n++] = buf;
}

/* Free the buffers of completed sends. */
static void sends_progress(rank_state *st)
{
    for (int i = 0; i < st->out_n;) {
        int done = 0;
        MPI_Test(&st->out_req[i], &done, MPI_STATUS_IGNORE);
        if (done) {
            free(st->out_buf[i]);
            st->out_n--;
            st->out_req[i] = st->out_req[st->out_n];
            st->out_buf[i] = st->out_buf[st->out_n];
        } else {
            i++;
        }
    }
}

/* ---- the file list: walked by rank 0, broadcast to all ---- */

static void share_list(rank_state *st, hashtree_list *walked)
{
    uint64_t head[2] = {0, 0}; /* files, bytes of paths */
    uint64_t *sizes = NULL;
    if (st->rank == 0) {
        head[0] = walked->n;
        for (size_t i = 0; i < walked->n; i++)
            head[1] += strlen(walked->v[i].path) + 1;
        if (head[0] > INT_MAX || head[1] > INT_MAX)
            fatal("%llu files: too many for one broadcast", (unsigned long long)head[0]);
        st->pathbuf = xmalloc(head[1]);
        sizes = xmalloc(head[0] * sizeof *sizes);
        char *p = st->pathbuf;
        for (size_t i = 0; i < walked->n; i++) {
            size_t len = strlen(walked->v[i].path) + 1;
            memcpy(p, walked->v[i].path, len);
            p += len;
            sizes[i] = walked->v[i].size;
        }
    }
    MPI_Request r;
    MPI_Ibcast(head, 2, MPI_UINT64_T, 0, MPI_COMM_WORLD, &r);
    wait_request(&r);
    if (st->rank != 0) {
        st->pathbuf = xmalloc(head[1]);
        sizes = xmalloc(head[0] * sizeof *sizes);
    }
    MPI_Ibcast(st->pathbuf, (int)head[1], MPI_CHAR, 0, MPI_COMM_WORLD, &r);
    wait_request(&r);
    MPI_Ibcast(sizes, (int)head[0], MPI_UINT64_T, 0, MPI_COMM_WORLD, &r);
    wait_request(&r);

    st->nfiles = head[0];
    st->files = xmalloc(st->nfiles * sizeof *st->files);
    char *p = st->pathbuf;
    for (size_t i = 0; i < st->nfiles; i++) {
        st->files[i] = (hashtree_entry){.path = p, .size = sizes[i]};
        p += strlen(p) + 1;
    }
    free(sizes);
}

/* ---- batches: the same on every rank ---- */

typedef struct {
    uint64_t size;
    size_t index;
} by_size_item;

static int by_size(const void *a, const void *b)
{
    const by_size_item *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1; /* largest first */
    return x->index < y->index ? -1 : x->index > y->index;
}

static void make_batches(rank_state *st)
{
    size_t n = st->nfiles;
    by_size_item *items = xmalloc(n * sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = (by_size_item){st->files[i].size, i};
    if (n)
        qsort(items, n, sizeof *items, by_size);
    st->order = xmalloc(n * sizeof *st->order);
    for (size_t i = 0; i < n; i++)
        st->order[i] = items[i].index;
    free(items);

    st->batches = xmalloc(n * sizeof *st->batches); /* at most one per file */
    st->nbatches = 0;
    for (size_t i = 0; i < n;) {
        size_t lo = i;
        uint64_t bytes = 0;
        do
            bytes += st->files[st->order[i++]].size;
        while (i < n && i - lo < BATCH_FILES && bytes < BATCH_BYTES);
        batch *b = &st->batches[st->nbatches++];
        b->lo = lo;
        b->hi = i;
        atomic_init(&b->left, 0);
        b->next_done = NULL;
    }
    st->jobs = xmalloc(n * sizeof *st->jobs);
    st->queue = xmalloc((size_t)st->nbatches * sizeof *st->queue);
}

/* ---- hashing in the pool ---- */

static int hash_job(void *arg)
{
    job *j = arg;
    hashtree_hash_file(j->e);
    /* acq_rel: release orders this file's result before the count; the
     * last task acquires the other tasks' results with it, and publishes
     * them all with the push below. */
    if (atomic_fetch_sub_explicit(&j->b->left, 1, memory_order_acq_rel) == 1) {
        batch *head = atomic_load_explicit(&j->st->done, memory_order_relaxed);
        do
            j->b->next_done = head;
        /* release: the batch's results and next_done before the push;
         * pairs with the acquire exchange in collect_done. */
        while (!atomic_compare_exchange_weak_explicit(&j->st->done, &head, j->b,
                                                      memory_order_release,
                                                      memory_order_relaxed));
    }
    return 0;
}

static void start_batch(rank_state *st, int id)
{
    batch *b = &st->batches[id];
    /* relaxed: weft_group_spawn publishes it to the tasks it starts. */
    atomic_store_explicit(&b->left, b->hi - b->lo, memory_order_relaxed);
    st->inflight++;
    st->stats.batches++;
    for (size_t k = b->lo; k < b->hi; k++) {
        size_t i = st->order[k];
        st->stats.files++;
        st->stats.bytes += st->files[i].size;
        st->jobs[i] = (job){.e = &st->files[i], .b = b, .st = st};
        if (weft_group_spawn(&st->group, hash_job, &st->jobs[i]) != 0)
            hash_job(&st->jobs[i]); /* could not spawn (no memory): do it here */
    }
}

/* Keep inflight_max batches in the pool while the queue has some. */
static bool feed(rank_state *st)
{
    bool any = false;
    while (st->inflight < st->inflight_max && st->qhead < st->qtail) {
        start_batch(st, st->queue[st->qhead++]);
        any = true;
    }
    return any;
}

/* ---- results and the stop ---- */

/* Rank 0: every result is in; tell the others. */
static void stop_all(rank_state *st)
{
    st->stop = true;
    for (int r = 1; r < st->size; r++)
        send_async(st, NULL, 0, MPI_INT, r, TAG_STOP);
}

static void count_result(rank_state *st)
{
    if (++st->reported == st->nbatches)
        stop_all(st);
}

static void report(rank_state *st, batch *b)
{
    if (st->rank == 0) {
        count_result(st); /* the tasks wrote the results in place */
        return;
    }
    size_t n = b->hi - b->lo;
    uint64_t *msg = xmalloc(3 * n * sizeof *msg);
    for (size_t k = 0; k < n; k++) {
        size_t i = st->order[b->lo + k];
        msg[3 * k] = i;
        msg[3 * k + 1] = (uint64_t)st->files[i].error;
        msg[3 * k + 2] = st->files[i].hash;
    }
    send_async(st, msg, (int)(3 * n), MPI_UINT64_T, 0, TAG_RESULT);
}

/* Take the batches the pool finished and send their results. */
static bool collect_done(rank_state *st)
{
    /* acquire: pairs with the release push in hash_job (the results). */
    batch *b = atomic_exchange_explicit(&st->done, NULL, memory_order_acquire);
    bool any = b != NULL;
    while (b) {
        batch *next = b->next_done;
        st->inflight--;
        st->stats.usec = (uint64_t)((MPI_Wtime() - st->started) * 1e6);
        report(st, b);
        b = next;
        if (st->rank == st->fail_rank)
            fatal("failing on purpose after a batch (--fail-rank)");
    }
    return any;
}

/* ---- messages ---- */

static int message_count(MPI_Status *s, MPI_Datatype type)
{
    int n = 0;
    MPI_Get_count(s, type, &n);
    if (n == MPI_UNDEFINED || n < 0)
        fatal("a malformed message from rank %d", s->MPI_SOURCE);
    return n;
}

/* Another rank asks for work: master gives one batch from the front of the
 * queue (the largest left), steal every other batch from the front. */
static void answer_request(rank_state *st, MPI_Status *s)
{
    MPI_Recv(NULL, 0, MPI_INT, s->MPI_SOURCE, TAG_REQUEST, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    int q = st->qtail - st->qhead;
    int give = st->policy == BALANCE_MASTER ? (q > 0) : (q + 1) / 2;
    int *ids = NULL;
    if (give) {
        ids = xmalloc((size_t)give * sizeof *ids);
        if (st->policy == BALANCE_MASTER) {
            ids[0] = st->queue[st->qhead++];
        } else {
            int k = 0, keep = st->qhead;
            for (int i = st->qhead; i < st->qtail; i++) {
                if ((i - st->qhead) % 2 == 0)
                    ids[k++] = st->queue[i];
                else
                    st->queue[keep++] = st->queue[i];
            }
            st->qtail = keep;
        }
    }
    st->stats.given += (uint64_t)give;
    send_async(st, ids, give, MPI_INT, s->MPI_SOURCE, TAG_WORK);
}

/* The answer to our request: batch ids for our queue, or none. */
static void take_work(rank_state *st, MPI_Status *s)
{
    int n = message_count(s, MPI_INT);
    if (n > st->nbatches - (st->qtail - st->qhead) || (n > 0 && st->stop))
        fatal("rank %d sent batches that cannot exist", s->MPI_SOURCE);
    if (st->qtail + n > st->nbatches) { /* room at the end: move the queue down */
        memmove(st->queue, st->queue + st->qhead,
                (size_t)(st->qtail - st->qhead) * sizeof *st->queue);
        st->qtail -= st->qhead;
        st->qhead = 0;
    }
    MPI_Recv(st->queue + st->qtail, n, MPI_INT, s->MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    for (int k = 0; k < n; k++)
        if (st->queue[st->qtail + k] < 0 || st->queue[st->qtail + k] >= st->nbatches)
            fatal("a bad batch id from rank %d", s->MPI_SOURCE);
    st->qtail += n;
    st->asking = false;
    if (n > 0) {
        st->stats.received += (uint64_t)n;
        st->retry_ns = RETRY_MIN;
    } else if (st->policy == BALANCE_MASTER) {
        st->exhausted = true; /* the queue at rank 0 only shrinks */
    } else {
        st->stats.empty++;
        st->retry_at = MPI_Wtime() + (double)st->retry_ns * 1e-9;
        if (st->retry_ns < RETRY_MAX)
            st->retry_ns *= 2;
    }
}

/* Rank 0: the results of a batch hashed elsewhere. */
static void take_result(rank_state *st, MPI_Status *s)
{
    int n = message_count(s, MPI_UINT64_T);
    uint64_t *msg = xmalloc((size_t)n * sizeof *msg);
    MPI_Recv(msg, n, MPI_UINT64_T, s->MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (st->rank != 0 || n % 3 != 0)
        fatal("a malformed result from rank %d", s->MPI_SOURCE);
    for (int k = 0; k < n; k += 3) {
        if (msg[k] >= st->nfiles)
            fatal("a bad file index from rank %d", s->MPI_SOURCE);
        st->files[msg[k]].error = (int)msg[k + 1];
        st->files[msg[k]].hash = msg[k + 2];
    }
    free(msg);
    count_result(st);
}

/* Handle every message that has arrived. closing: after the stop, when
 * only requests and empty answers can come. */
static bool poll_messages(rank_state *st, bool closing)
{
    bool any = false;
    for (;;) {
        int flag = 0;
        MPI_Status s;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &s);
        if (!flag)
            return any;
        any = true;
        if (s.MPI_TAG == TAG_REQUEST) {
            answer_request(st, &s);
        } else if (s.MPI_TAG == TAG_WORK) {
            take_work(st, &s);
        } else if (s.MPI_TAG == TAG_RESULT && !closing) {
            take_result(st, &s);
        } else if (s.MPI_TAG == TAG_STOP && !closing) {
            MPI_Recv(NULL, 0, MPI_INT, s.MPI_SOURCE, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            st->stop = true;
        } else {
            fatal("an unexpected message (tag %d) from rank %d", s.MPI_TAG, s.MPI_SOURCE);
        }
    }
}

/* A rank with an empty queue and a free slot asks for work. */
static bool ask_for_work(rank_state *st)
{
    if (st->stop || st->asking || st->size == 1 || st->qtail > st->qhead ||
        st->inflight >= st->inflight_max)
        return false;
    int victim;
    if (st->policy == BALANCE_MASTER) {
        if (st->rank == 0 || st->exhausted)
            return false;
        victim = 0;
    } else {
        if (MPI_Wtime() < st->retry_at)
            return false;
        st->rng ^= st->rng << 13; /* xorshift64 */
        st->rng ^= st->rng >> 7;
        st->rng ^= st->rng << 17;
        victim = (st->rank + 1 + (int)(st->rng % (uint64_t)(st->size - 1))) % st->size;
    }
    send_async(st, NULL, 0, MPI_INT, victim, TAG_REQUEST);
    st->asking = true;
    st->stats.requests++;
    return true;
}

/* ---- the main loop of every rank ---- */

static void run(rank_state *st)
{
    st->started = MPI_Wtime();
    if (st->rank == 0) { /* every batch starts here, largest first */
        for (int id = 0; id < st->nbatches; id++)
            st->queue[st->qtail++] = id;
        if (st->nbatches == 0)
            stop_all(st); /* nothing to hash */
    }

    long nap_ns = NAP_MIN;
    while (!st->stop) {
        bool busy = collect_done(st);
        busy |= feed(st);
        busy |= poll_messages(st, false);
        busy |= ask_for_work(st);
        sends_progress(st);
        if (busy) {
            nap_ns = NAP_MIN;
        } else {
            nap(nap_ns);
            if (nap_ns < NAP_MAX)
                nap_ns *= 2;
        }
    }
    /* Every batch's result is at rank 0, so none is queued or running here. */
    if (st->inflight != 0 || st->qtail != st->qhead)
        fatal("stopped with batches left (internal error)");
    if (st->rank == st->fail_rank)
        fatal("failing on purpose at the stop (--fail-rank)");

    /* Closing: answer requests until our own is answered, then until
     * every rank is past the barrier (see the top of the file). */
    MPI_Request barrier = MPI_REQUEST_NULL;
    bool entered = false;
    nap_ns = NAP_MIN;
    for (;;) {
        bool busy = poll_messages(st, true);
        sends_progress(st);
        if (!st->asking && !entered) {
            MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
            entered = true;
        }
        if (entered) {
            int done = 0;
            MPI_Test(&barrier, &done, MPI_STATUS_IGNORE);
            if (done)
                break;
        }
        if (busy) {
            nap_ns = NAP_MIN;
        } else {
            nap(nap_ns);
            if (nap_ns < NAP_MAX)
                nap_ns *= 2;
        }
    }
    while (st->out_n > 0) { /* all received (see above): they complete */
        sends_progress(st);
        if (st->out_n > 0)
            nap(NAP_MIN);
    }
}

static void print_stats(rank_state *st, const uint64_t *all, double seconds, unsigned workers)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < st->nfiles; i++)
        bytes += st->files[i].size;
    fprintf(stderr,
            PROG ": %d rank%s x %u workers, balance %s: %zu files, %llu bytes, %d batches, "
                 "%.3f s\n",
            st->size, st->size == 1 ? "" : "s", workers,
            st->policy == BALANCE_STEAL ? "steal" : "master", st->nfiles,
            (unsigned long long)bytes, st->nbatches, seconds);
    fprintf(stderr, "%4s %7s %11s %7s %8s %6s %8s %6s %8s\n", "rank", "files", "bytes", "batches",
            "received", "given", "requests", "empty", "last_s");
    for (int r = 0; r < st->size; r++) {
        rank_stats s;
        memcpy(&s, all + (size_t)r * RANK_STATS_WORDS, sizeof s);
        fprintf(stderr, "%4d %7llu %11llu %7llu %8llu %6llu %8llu %6llu %8.3f\n", r,
                (unsigned long long)s.files, (unsigned long long)s.bytes,
                (unsigned long long)s.batches, (unsigned long long)s.received,
                (unsigned long long)s.given, (unsigned long long)s.requests,
                (unsigned long long)s.empty, (double)s.usec * 1e-6);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun -np N weft-mpi-hash [-p WORKERS] [--balance steal|master] [--stats]\n"
            "                                  [PATH...]\n"
            "Hash every file under each PATH (default: the current directory) with\n"
            "XXH3-64, spread over the MPI ranks, a weft pool in each; rank 0 prints\n"
            "\"XXH3 (file) = hash\" lines in file-name order, as weft-hash and\n"
            "xxhsum -H3 print them for the sorted list of files.\n"
            "\n"
            "  -p, --workers N    N workers per rank (default: one per CPU it may use)\n"
            "  -b, --balance P    steal (default): an idle rank takes half of a random\n"
            "                     rank's queue; master: rank 0 hands out batches\n"
            "  -s, --stats        per-rank statistics on stderr\n"
            "      --fail-rank R  (for tests) rank R fails after its first batch\n"
            "  -h, --help         print this help and exit\n"
            "\n"
            "Paths are read by every rank: on several machines, a shared file system\n"
            "mounted at the same place. Exit status: 0; 1 (a file could not be read;\n"
            "the others are hashed); 2 (bad usage; a fatal error in any rank, which\n"
            "ends all of them).\n");
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    rank_state st_storage = {.fail_rank = -1, .retry_ns = RETRY_MIN};
    rank_state *st = &st_storage;
    MPI_Comm_rank(MPI_COMM_WORLD, &st->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &st->size);
    if (provided < MPI_THREAD_FUNNELED)
        fatal("the MPI library does not provide MPI_THREAD_FUNNELED (it gave level %d); "
              "this program runs threads next to MPI",
              provided);

    /* Every rank parses the same arguments; only rank 0 says what is wrong. */
    long workers = 0;
    int opt, status = 0;
    bool stats = false, help = false;
    enum { OPT_FAIL_RANK = 256 };
    static const struct option longopts[] = {{"workers", required_argument, NULL, 'p'},
                                             {"balance", required_argument, NULL, 'b'},
                                             {"stats", no_argument, NULL, 's'},
                                             {"fail-rank", required_argument, NULL, OPT_FAIL_RANK},
                                             {"help", no_argument, NULL, 'h'},
                                             {0, 0, 0, 0}};
    opterr = st->rank == 0;
    while (status == 0 && (opt = getopt_long(argc, argv, "p:b:sh", longopts, NULL)) != -1) {
        char *end;
        long v;
        switch (opt) {
        case 'p':
        case OPT_FAIL_RANK:
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || v > 4096) {
                if (st->rank == 0)
                    fprintf(stderr, PROG ": bad value for %s: '%s'\n",
                            opt == 'p' ? "-p" : "--fail-rank", optarg);
                status = 2;
            } else if (opt == 'p') {
                workers = v;
            } else {
                st->fail_rank = (int)v;
            }
            break;
        case 'b':
            if (strcmp(optarg, "steal") == 0) {
                st->policy = BALANCE_STEAL;
            } else if (strcmp(optarg, "master") == 0) {
                st->policy = BALANCE_MASTER;
            } else {
                if (st->rank == 0)
                    fprintf(stderr, PROG ": bad value for --balance: '%s' (steal or master)\n",
                            optarg);
                status = 2;
            }
            break;
        case 's': stats = true; break;
        case 'h': help = true; break;
        default: status = 2; break; /* getopt printed the reason (rank 0) */
        }
    }
    if (help || status) {
        if (help && !status && st->rank == 0)
            usage(stdout);
        MPI_Finalize();
        return status;
    }

    /* 1. Rank 0 walks; every rank gets the list and cuts the same batches. */
    double t0 = MPI_Wtime();
    hashtree_list walked = {0};
    if (st->rank == 0) {
        int rc = 0;
        if (optind == argc)
            rc = hashtree_walk(&walked, PROG, ".", true, &status);
        for (int i = optind; rc == 0 && i < argc; i++)
            rc = hashtree_walk(&walked, PROG, argv[i], true, &status);
        if (rc != 0)
            fatal("%s", strerror(rc));
        hashtree_sort(&walked);
    }
    share_list(st, &walked);
    hashtree_list_fini(&walked);
    make_batches(st);

    /* 2. Hash, sharing the batches out; results to rank 0. */
    weft_pool_options opts = {.workers = (unsigned)workers};
    int rc = weft_pool_create(&st->pool, &opts);
    if (rc != 0)
        fatal("cannot create the pool: %s", strerror(rc));
    weft_group_init(&st->group, st->pool);
    st->inflight_max = (int)weft_pool_size(st->pool) + 1;
    atomic_init(&st->done, NULL);
    st->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(st->rank + 1);
    run(st);
    weft_group_wait(&st->group); /* all finished already: run() saw every batch done */
    unsigned nworkers = weft_pool_size(st->pool);
    weft_pool_destroy(st->pool);

    uint64_t *all = st->rank == 0 ? xmalloc((size_t)st->size * sizeof st->stats) : NULL;
    MPI_Request r;
    MPI_Igather(&st->stats, (int)RANK_STATS_WORDS, MPI_UINT64_T, all, (int)RANK_STATS_WORDS,
                MPI_UINT64_T, 0, MPI_COMM_WORLD, &r);
    wait_request(&r);
    double seconds = MPI_Wtime() - t0;

    /* 3. Rank 0 prints in path order; errors once, on stderr. */
    if (st->rank == 0) {
        for (size_t i = 0; i < st->nfiles; i++) {
            hashtree_entry *e = &st->files[i];
            if (e->error) {
                fprintf(stderr, PROG ": %s: %s\n", e->path, hashtree_strerror(e->error));
                status = 1;
            } else {
                printf("XXH3 (%s) = %016llx\n", e->path, (unsigned long long)e->hash);
            }
        }
        if (fflush(stdout) != 0) {
            fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
            status = 2;
        }
        if (stats)
            print_stats(st, all, seconds, nworkers);
    }
    free(all);
    free(st->queue);
    free(st->jobs);
    free(st->batches);
    free(st->order);
    free(st->files);
    free(st->pathbuf);
    free(st->out_req);
    free(st->out_buf);
    MPI_Finalize();
    return status;
}
