/* SPDX-License-Identifier: MIT */
/*
 * wordfreq - count words across many text files: map-reduce on a weft pool.
 *
 * One weft_parallel_reduce over the inputs does both steps. Its
 * accumulator is a hash table of word counts: a leaf counts the words of
 * one input into its table (no sharing, no locks), and each combine merges
 * the table of the inputs to its right into the table to its left and
 * frees it, so at most a few tables per worker are alive at a time. The
 * reduction runs as a future (weft_pool_async) while the main thread waits
 * for it with a timeout and, on a terminal, shows how many inputs are
 * counted. At the end the total is sorted and the most frequent words are
 * printed. Without -p it runs on the process's default pool
 * (weft_pool_default); with -p it makes a pool whose threads are named
 * wordfreq-0, wordfreq-1, ...
 *
 * A word is a maximal run of ASCII letters, lower-cased: the same as
 *     tr -cs 'A-Za-z' '\n' | tr A-Z a-z
 * and the output is that of `sort | uniq -c | sort -k1,1nr -k2,2 | head -n N`
 * (LC_ALL=C): count (width 7), a space, the word; most frequent first, ties
 * in byte order.
 *
 * Usage: wordfreq [-p WORKERS] [--top N] [FILE...]   (N = 0: every word)
 *        wordfreq --corpus     print the generated text used with no FILE
 * A file that cannot be read is reported, the others are counted, and the
 * exit status is 1.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/pool.h>

/* ---- a small string -> count hash table (open addressing) ---- */

typedef struct {
    char *word; /* NULL: empty slot */
    uint64_t hash, count;
} slot;

typedef struct {
    slot *s;
    size_t cap, n; /* cap: a power of two, kept at least twice n */
} table;

static uint64_t fnv1a(const char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    while (len--)
        h = (h ^ (unsigned char)*p++) * 0x100000001b3u;
    return h;
}

/* Add count to word (len bytes, not NUL-terminated). Returns 0 or ENOMEM. */
static int table_add(table *t, const char *word, size_t len, uint64_t hash, uint64_t count)
{
    if (2 * (t->n + 1) > t->cap) { /* grow: rehash every word */
        size_t cap = t->cap ? 2 * t->cap : 1024;
        slot *s = calloc(cap, sizeof *s);
        if (!s)
            return ENOMEM;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->s[i].word)
                continue;
            size_t j = t->s[i].hash & (cap - 1);
            while (s[j].word)
                j = (j + 1) & (cap - 1);
            s[j] = t->s[i];
        }
        free(t->s);
        t->s = s;
        t->cap = cap;
    }
    size_t j = hash & (t->cap - 1);
    for (; t->s[j].word; j = (j + 1) & (t->cap - 1)) {
        if (t->s[j].hash == hash && strncmp(t->s[j].word, word, len) == 0 &&
            t->s[j].word[len] == '\0') {
            t->s[j].count += count;
            return 0;
        }
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return ENOMEM;
    memcpy(copy, word, len);
    copy[len] = '\0';
    t->s[j] = (slot){copy, hash, count};
    t->n++;
    return 0;
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->s[i].word);
    free(t->s);
    *t = (table){0};
}

/* ---- the input: files, or generated documents ---- */

typedef struct {
    const char *path; /* NULL: generated document number `doc` */
    unsigned doc;
    int error;        /* 0 or an errno value; read after the reduction */
} input;

/* A generated document: sentences of pseudo-words whose frequencies fall off
 * roughly like 1/rank, as in a natural language (Zipf). */
static char *generate(unsigned doc, size_t *len)
{
    static const char *syl[] = {"ka", "lo", "mi", "ne", "ru", "ta", "shi", "vo", "de", "an",
                                "tor", "el", "ba", "qu", "is", "up"};
    enum { SIZE = 64 * 1024 };
    char *text = malloc(SIZE + 64);
    if (!text)
        return NULL;
    uint64_t s = 0x9e3779b97f4a7c15u * (doc + 1);
    size_t n = 0;
    for (unsigned w = 0; n < SIZE; w++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        unsigned e = (unsigned)((s >> 40) % 11); /* rank in [2^e - 1, 2^(e+1) - 1) */
        unsigned rank = (1u << e) - 1 + (unsigned)((s >> 20) & ((1u << e) - 1));
        size_t start = n;
        do { /* the rank in base 16, one syllable per digit */
            const char *p = syl[rank & 15];
            while (*p)
                text[n++] = *p++;
            rank >>= 4;
        } while (rank);
        if (w % 12 == 0)
            text[start] = (char)(text[start] - 'a' + 'A'); /* a sentence starts */
        text[n++] = w % 12 == 11 ? '.' : w % 5 == 3 ? ',' : ' ';
        if (w % 12 == 11)
            text[n++] = '\n';
    }
    *len = n;
    return text;
}

static char *read_file(const char *path, size_t *len, int *error)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        *error = errno;
        return NULL;
    }
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc(cap);
    ssize_t r = 0;
    while (buf && (r = read(fd, buf + n, cap - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    *error = !buf ? ENOMEM : r < 0 ? errno : 0;
    close(fd);
    if (*error) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The reduction's accumulator: word counts, and ENOMEM if words were lost
 * while merging (a merge cannot fail half-way and keep going). */
typedef struct {
    table counts;
    int error;
} tally;

typedef struct {
    input *inputs;
    _Atomic size_t done; /* inputs counted, for the progress line */
} job;

/* Count the words of one input into t; per-input errors go to in->error. */
static void count_words(input *in, table *t)
{
    size_t len = 0;
    char *text = in->path ? read_file(in->path, &len, &in->error) : generate(in->doc, &len);
    if (!text) {
        if (!in->error)
            in->error = ENOMEM;
        return; /* per-input errors are reported by main */
    }
    for (size_t i = 0; i < len && !in->error;) {
        while (i < len && !is_letter(text[i]))
            i++;
        size_t start = i;
        for (; i < len && is_letter(text[i]); i++)
            if (text[i] <= 'Z')
                text[i] = (char)(text[i] - 'A' + 'a'); /* lower-case in place */
        if (i > start)
            in->error = table_add(t, text + start, i - start, fnv1a(text + start, i - start), 1);
    }
    free(text);
}

static void tally_init(void *acc, void *arg)
{
    (void)arg;
    *(tally *)acc = (tally){{0}, 0};
}

/* Map: the inputs [lo, hi) (one, with grain 1) into acc. */
static int tally_body(size_t lo, size_t hi, void *acc, void *arg)
{
    job *j = arg;
    for (size_t i = lo; i < hi; i++) {
        count_words(&j->inputs[i], &((tally *)acc)->counts);
        atomic_fetch_add_explicit(&j->done, 1, memory_order_relaxed); /* a counter only */
    }
    return 0; /* an unreadable input does not stop the others */
}

/* Reduce: merge other's counts into acc's and free other's table. */
static void tally_combine(void *acc, void *other, void *arg)
{
    (void)arg;
    tally *t = acc, *o = other;
    if (!t->error)
        t->error = o->error;
    for (size_t j = 0; j < o->counts.cap && !t->error; j++)
        if (o->counts.s[j].word)
            t->error = table_add(&t->counts, o->counts.s[j].word, strlen(o->counts.s[j].word),
                                 o->counts.s[j].hash, o->counts.s[j].count);
    table_free(&o->counts);
}

typedef struct {
    job *job;
    size_t ninputs;
    tally total; /* the result */
} count_all_arg;

/* The future's task: the whole map-reduce, on a worker of the pool. Its
 * result is weft_parallel_reduce's status (the bodies always return 0). */
static int count_all(void *arg)
{
    count_all_arg *c = arg;
    return weft_parallel_reduce(NULL, 0, c->ninputs, 1, &c->total, sizeof(c->total),
                                tally_init, tally_body, tally_combine, c->job, NULL);
}

static int by_count(const void *a, const void *b)
{
    const slot *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

int main(int argc, char **argv)
{
    long workers = 0, top = 10;
    int corpus = 0, opt;
    enum { GEN_DOCS = 64 };
    static const struct option longopts[] = {{"workers", required_argument, NULL, 'p'},
                                             {"top", required_argument, NULL, 't'},
                                             {"corpus", no_argument, NULL, 'C'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "p:t:h", longopts, NULL)) != -1) {
        char *end;
        long *dst = opt == 'p' ? &workers : &top;
        switch (opt) {
        case 'p':
        case 't':
            errno = 0;
            *dst = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || *dst < 0 || (opt == 'p' && *dst > 4096)) {
                fprintf(stderr, "wordfreq: bad value for %s: '%s'\n",
                        opt == 'p' ? "-p" : "--top", optarg);
                return 2;
            }
            break;
        case 'C': corpus = 1; break;
        case 'h':
            printf("usage: wordfreq [-p WORKERS] [--top N] [FILE...] | --corpus\n"
                   "Print the N most frequent words of the FILEs (default: 64 generated\n"
                   "documents) as uniq -c does, most frequent first; a word is a run of ASCII\n"
                   "letters, lower-cased.\n"
                   "\n"
                   "  -p, --workers N  N workers (default: one per CPU)\n"
                   "  -t, --top N      how many words (default 10; 0: all)\n"
                   "      --corpus     print the generated documents instead\n"
                   "  -h, --help       print this help and exit\n");
            return 0;
        default: return 2; /* getopt_long printed the reason */
        }
    }
    if (corpus) { /* the generated text, for checking against other tools */
        for (unsigned d = 0; d < GEN_DOCS; d++) {
            size_t len;
            char *text = generate(d, &len);
            if (!text || fwrite(text, 1, len, stdout) != len)
                return 2;
            free(text);
        }
        return fflush(stdout) ? 2 : 0;
    }

    size_t ninputs = optind < argc ? (size_t)(argc - optind) : GEN_DOCS;
    input *inputs = calloc(ninputs, sizeof *inputs);
    if (!inputs) {
        fprintf(stderr, "wordfreq: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < ninputs; i++)
        inputs[i] = (input){.path = optind < argc ? argv[optind + i] : NULL, .doc = (unsigned)i};

    /* No -p: the process's default pool, torn down at exit. */
    weft_pool *pool = NULL;
    int rc = 0;
    if (workers == 0) {
        pool = weft_pool_default();
        rc = pool ? 0 : EAGAIN;
    } else {
        weft_pool_options opts = WEFT_POOL_OPTIONS_INIT; /* size set: fields may grow */
        opts.workers = (unsigned)workers;
        opts.name = "wordfreq"; /* threads wordfreq-0, wordfreq-1, ... */
        rc = weft_pool_create(&pool, &opts);
    }
    if (rc != 0) {
        fprintf(stderr, "wordfreq: cannot create the pool: %s\n", strerror(rc));
        return 2;
    }
    job j = {inputs, 0};
    count_all_arg all = {&j, ninputs, {{0}, 0}};
    weft_future *f;
    rc = weft_pool_async(pool, &f, count_all, &all);
    int reduce_rc = 0;
    if (rc == 0) {
        /* Wait, redrawing the progress line on a terminal 5 times a second. */
        int tty = isatty(STDERR_FILENO);
        while ((rc = weft_future_wait(f, 200 * 1000 * 1000, &reduce_rc)) == ETIMEDOUT)
            if (tty)
                fprintf(stderr, "\rwordfreq: %zu of %zu inputs counted",
                        atomic_load_explicit(&j.done, memory_order_relaxed), /* a counter */
                        ninputs);
        if (tty)
            fprintf(stderr, "\r\033[K"); /* erase the progress line */
        weft_future_release(f);
    }
    if (workers != 0)
        weft_pool_destroy(pool);
    if (rc == 0)
        rc = reduce_rc;
    if (rc == 0)
        rc = all.total.error;
    if (rc != 0) {
        fprintf(stderr, "wordfreq: %s\n", strerror(rc));
        table_free(&all.total.counts);
        free(inputs);
        return 2;
    }
    int status = 0;
    for (size_t i = 0; i < ninputs; i++) {
        if (inputs[i].error) {
            fprintf(stderr, "wordfreq: %s: %s\n", inputs[i].path ? inputs[i].path : "-",
                    strerror(inputs[i].error));
            status = 1;
        }
    }
    table total = all.total.counts;

    /* Sort the distinct words (compact the table in place) and print. */
    size_t n = 0;
    for (size_t j = 0; j < total.cap; j++)
        if (total.s[j].word)
            total.s[n++] = total.s[j];
    if (n) /* qsort wants a valid pointer even for 0 items */
        qsort(total.s, n, sizeof *total.s, by_count);
    for (size_t j = 0; j < n && (top == 0 || j < (size_t)top); j++)
        printf("%7llu %s\n", (unsigned long long)total.s[j].count, total.s[j].word);
    for (size_t j = 0; j < n; j++)
        free(total.s[j].word);
    free(total.s);
    free(inputs);
    return fflush(stdout) ? 2 : status;
}
