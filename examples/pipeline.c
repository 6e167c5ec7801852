/* SPDX-License-Identifier: MIT */
/*
 * pipeline - the producer/consumer skeleton to copy.
 *
 * N producer threads read lines from files and add them to one bounded
 * collection; M consumer threads take the lines and process them (here: each
 * line is a decimal integer, and we sum them). Two kinds of errors:
 *
 *   - an item error (a line that is not a number) is reported on stderr and
 *     counted; everybody goes on;
 *   - a file that cannot be read closes the collection with an error
 *     (weft_collection_complete_adding_error): the other producers' adds
 *     fail, the lines already queued are still processed, and then every
 *     consumer's take returns that error instead of EPIPE;
 *   - more than --max-errors bad lines stop the whole pipeline at once:
 *     weft_collection_shutdown wakes every producer and consumer with
 *     ECANCELED, and the lines still queued are freed by the collection's
 *     release option when main destroys it. Nothing leaks.
 *
 * The normal end needs no sentinel and no coordinator: each producer
 * registers (weft_collection_add_producer, by main before the threads
 * start) and says when it is done (weft_collection_producer_done); the last
 * one completes adding, and each consumer's take returns EPIPE once the
 * queue is empty. --stats prints the collection's counters (waits and time
 * blocked on each side: is the queue the bottleneck?).
 *
 * Usage: pipeline [-p PRODUCERS] [-c CONSUMERS] [-e MAX_ERRORS] [--stats] [FILE...]
 * With no FILE it reads four generated in-memory files. Exit status: 0 all
 * lines good, 1 some bad lines (the others were processed), 2 fatal error or
 * bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/collection.h>

/* One line in flight: owned by whoever holds it (producer, queue, consumer). */
typedef struct {
    const char *file;
    unsigned long lineno;
    char text[]; /* the line, without its newline */
} item;

typedef struct {
    weft_collection *queue;
    char **files;      /* names shown in messages */
    FILE **streams;    /* only for generated input, else NULL */
    unsigned nfiles, nproducers;
    unsigned long max_errors;
    atomic_ulong bad_lines;
    atomic_ulong good_lines;
    atomic_llong sum;
    pthread_mutex_t fatal_lock; /* protects fatal_msg */
    char fatal_msg[512];        /* the first fatal error, "" if none */
} pipeline;

typedef struct {
    pipeline *pl;
    unsigned index;
} worker;

static void record_fatal(pipeline *pl, const char *msg)
{
    pthread_mutex_lock(&pl->fatal_lock);
    if (pl->fatal_msg[0] == '\0')
        snprintf(pl->fatal_msg, sizeof pl->fatal_msg, "%s", msg);
    pthread_mutex_unlock(&pl->fatal_lock);
}

/* Record the first fatal error and stop everybody at once. Any thread. */
static void fatal(pipeline *pl, const char *msg)
{
    record_fatal(pl, msg);
    weft_collection_shutdown(pl->queue); /* blocked adds and takes get ECANCELED */
}

/* Record the first fatal error and stop adding: what is queued is still
 * processed, then takers get err. Any thread. */
static void stop_adding(pipeline *pl, const char *msg, int err)
{
    record_fatal(pl, msg);
    weft_collection_complete_adding_error(pl->queue, err);
}

/* The collection's release option: lines left inside at destroy. */
static void free_item(void *it, void *arg)
{
    (void)arg;
    free(it);
}

/* Read one file and queue its lines. Returns 0, or -1 once the pipeline stops. */
static int produce_file(pipeline *pl, unsigned f)
{
    char msg[400];
    FILE *in = pl->streams ? pl->streams[f] : fopen(pl->files[f], "r");
    if (!in) {
        snprintf(msg, sizeof msg, "%s: %s", pl->files[f], strerror(errno));
        stop_adding(pl, msg, EIO);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        item *it = malloc(sizeof *it + (size_t)len + 1);
        if (!it) {
            fatal(pl, "out of memory");
            rc = -1;
            break;
        }
        it->file = pl->files[f];
        it->lineno = lineno;
        memcpy(it->text, line, (size_t)len + 1);
        /* Blocks while the queue is full (backpressure). ECANCELED or EPIPE:
         * another thread hit a fatal error; the item is still ours to free. */
        if (weft_collection_add(pl->queue, it) != 0) {
            free(it);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(in)) {
        snprintf(msg, sizeof msg, "%s: read error", pl->files[f]);
        stop_adding(pl, msg, EIO);
        rc = -1;
    }
    free(line);
    if (!pl->streams)
        fclose(in);
    return rc;
}

/* Producer i reads files i, i + N, i + 2N, ...; main registered it. */
static void *producer(void *arg)
{
    worker *w = arg;
    for (unsigned f = w->index; f < w->pl->nfiles; f += w->pl->nproducers)
        if (produce_file(w->pl, f) != 0)
            break;
    weft_collection_producer_done(w->pl->queue); /* the last one completes adding */
    return NULL;
}

/* Process one line: returns 0, or -1 for a bad line (an item error). */
static int process(pipeline *pl, const item *it)
{
    char *end;
    errno = 0;
    long long v = strtoll(it->text, &end, 10);
    if (errno || end == it->text) /* out of range, or no digits */
        return -1;
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (*end != '\0')
        return -1;
    atomic_fetch_add_explicit(&pl->sum, v, memory_order_relaxed); /* read after join */
    return 0;
}

static void *consumer(void *arg)
{
    pipeline *pl = ((worker *)arg)->pl;
    void *p;
    /* EPIPE ends the loop normally (completed and empty); EIO after a file
     * could not be read (queued lines first), ECANCELED at once on too many
     * bad lines: either way there is nothing more for us to do. */
    while (weft_collection_take(pl->queue, &p) == 0) {
        item *it = p;
        /* relaxed: counters read by main after pthread_join; the RMW alone
         * makes exactly one consumer see bad == max_errors + 1. */
        if (process(pl, it) == 0) {
            atomic_fetch_add_explicit(&pl->good_lines, 1, memory_order_relaxed);
        } else {
            fprintf(stderr, "pipeline: %s:%lu: not a number: '%.40s'\n", it->file, it->lineno,
                    it->text);
            unsigned long bad = atomic_fetch_add_explicit(&pl->bad_lines, 1,
                                                          memory_order_relaxed) + 1;
            if (bad == pl->max_errors + 1)
                fatal(pl, "too many bad lines");
        }
        free(it);
    }
    return NULL;
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long nproducers = 2, nconsumers = 2, max_errors = 100;
    int opt, stats = 0;
    static const struct option longopts[] = {{"producers", required_argument, NULL, 'p'},
                                             {"consumers", required_argument, NULL, 'c'},
                                             {"max-errors", required_argument, NULL, 'e'},
                                             {"stats", no_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "p:c:e:sh", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            stats = 1;
            break;
        case 'p':
        case 'c':
        case 'e':
            if (parse_count(optarg, opt == 'e' ? 1000000000 : 64,
                            opt == 'p' ? &nproducers : opt == 'c' ? &nconsumers : &max_errors) ||
                (opt != 'e' && (opt == 'p' ? nproducers : nconsumers) == 0)) {
                fprintf(stderr, "pipeline: bad value for -%c: '%s'\n", opt, optarg);
                return 2;
            }
            break;
        case 'h':
            printf("usage: pipeline [-p PRODUCERS] [-c CONSUMERS] [-e MAX_ERRORS] [--stats] "
                   "[FILE...]\n"
                   "Producers read the lines of the FILEs (default: four generated files) into\n"
                   "a bounded collection; consumers parse each line as an integer and sum them.\n"
                   "\n"
                   "  -p, --producers N   producer threads, 1 to 64 (default 2)\n"
                   "  -c, --consumers N   consumer threads, 1 to 64 (default 2)\n"
                   "  -e, --max-errors N  stop everything after N bad lines (default 100)\n"
                   "  -s, --stats         print the queue's counters on stderr at the end\n"
                   "  -h, --help          print this help and exit\n"
                   "\n"
                   "Exit status: 0 (all lines good), 1 (bad lines, reported and skipped),\n"
                   "2 (a fatal error - a file that cannot be read, too many bad lines - or bad\n"
                   "usage).\n");
            return 0;
        default: return 2; /* getopt_long printed the reason */
        }
    }

    pipeline pl = {.nproducers = (unsigned)nproducers, .max_errors = max_errors,
                   .fatal_lock = PTHREAD_MUTEX_INITIALIZER};
    /* Generated input: four in-memory "files" with one bad line each. */
    enum { GEN_FILES = 4, GEN_LINES = 20000 };
    static char gen_names[GEN_FILES][16];
    char *gen_files[GEN_FILES], *gen_text[GEN_FILES] = {0};
    FILE *gen_streams[GEN_FILES];
    if (optind < argc) {
        pl.files = argv + optind;
        pl.nfiles = (unsigned)(argc - optind);
    } else {
        for (unsigned f = 0; f < GEN_FILES; f++) {
            size_t size = 0;
            FILE *g = open_memstream(&gen_text[f], &size);
            for (unsigned i = 1; g && i <= GEN_LINES; i++) {
                if (i == 1000 * (f + 1))
                    fprintf(g, "%u oops\n", i);
                else
                    fprintf(g, "%u\n", (i * 7919u + f) % 1000);
            }
            if (!g || fclose(g) != 0 || !(gen_streams[f] = fmemopen(gen_text[f], size, "r"))) {
                fprintf(stderr, "pipeline: cannot generate input\n");
                return 2;
            }
            snprintf(gen_names[f], sizeof gen_names[f], "generated-%u", f);
            gen_files[f] = gen_names[f];
        }
        pl.files = gen_files;
        pl.streams = gen_streams;
        pl.nfiles = GEN_FILES;
    }

    /* Bounded FIFO; lines left inside at destroy (after a shutdown) are freed. */
    weft_collection_options opts = {.capacity = 256, .release = free_item};
    int rc = weft_collection_create(&pl.queue, &opts);
    for (unsigned long i = 0; rc == 0 && i < nproducers; i++)
        rc = weft_collection_add_producer(pl.queue); /* before any can finish */
    if (rc != 0) {
        fprintf(stderr, "pipeline: %s\n", strerror(rc));
        return 2;
    }
    unsigned nthreads = (unsigned)(nproducers + nconsumers), started = 0;
    pthread_t threads[128];
    worker workers[128];
    for (; started < nthreads; started++) {
        unsigned i = started;
        workers[i] = (worker){.pl = &pl, .index = i < nproducers ? i : (unsigned)(i - nproducers)};
        rc = pthread_create(&threads[i], NULL, i < nproducers ? producer : consumer, &workers[i]);
        if (rc != 0) {
            fatal(&pl, "cannot start a thread");
            break;
        }
    }
    /* Producers that did not start are done too (after a shutdown). */
    for (unsigned i = started; i < nproducers; i++)
        weft_collection_producer_done(pl.queue);
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);

    /* After a shutdown the queue may still hold lines: destroy frees them
     * (the release option); the counters say how many. */
    struct weft_collection_stats st;
    weft_collection_stats(pl.queue, &st);
    uint64_t dropped = st.added - st.taken - st.drained;
    if (stats)
        fprintf(stderr,
                "pipeline: queue: %" PRIu64 " lines added, at most %" PRIu64 " queued; adders "
                "slept %" PRIu64 " times (%.1f ms), takers %" PRIu64 " times (%.1f ms)\n",
                st.added, st.max_count, st.add_waits, (double)st.add_wait_ns / 1e6,
                st.take_waits, (double)st.take_wait_ns / 1e6);
    weft_collection_destroy(pl.queue);
    for (unsigned f = 0; f < GEN_FILES; f++) {
        if (gen_text[f]) {
            fclose(gen_streams[f]);
            free(gen_text[f]);
        }
    }

    /* relaxed: every thread was joined above. */
    unsigned long bad = atomic_load_explicit(&pl.bad_lines, memory_order_relaxed);
    printf("lines: %lu good, %lu bad, sum %lld\n",
           atomic_load_explicit(&pl.good_lines, memory_order_relaxed), bad,
           atomic_load_explicit(&pl.sum, memory_order_relaxed));
    if (pl.fatal_msg[0]) {
        fprintf(stderr, "pipeline: fatal: %s (stopped, %" PRIu64 " queued lines dropped)\n",
                pl.fatal_msg, dropped);
        return 2;
    }
    return bad ? 1 : 0;
}
