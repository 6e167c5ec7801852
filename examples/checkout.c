/* SPDX-License-Identifier: MIT */
/*
 * checkout - producers and consumers around one bounded weft collection.
 *
 * Customers walk in through a few entrances (producer threads) and queue at
 * a bounded collection; cashiers (consumer threads) take them one at a time
 * and scan their items. VIP customers go first: the queue is a PRIORITY
 * collection whose compare puts VIPs ahead (equal items stay FIFO). With
 * --lanes the same policy is built from two FIFO lanes and take_from_any,
 * the VIP lane listed first.
 *
 * Shutdown needs no sentinel: once every entrance has finished, main calls
 * complete_adding; a cashier's take then returns EPIPE as soon as the queue
 * is empty, and the cashier goes home.
 *
 * Usage: checkout [--seed N] [--customers N] [--cashiers N] [--entrances N]
 *                 [--vip PERCENT] [--lanes]
 * The first line of the summary depends only on the options (same seed, same
 * line); the others depend on thread timing.
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
#include <time.h>

#include <weft/collection.h>

typedef struct {
    unsigned id;
    int vip;                /* 1 for VIPs */
    unsigned items;         /* how many items to scan */
    uint64_t cents;         /* what they pay */
    unsigned arrival;       /* arrival order (0: first in), set by the entrance */
    unsigned rank;          /* service order (0: first served), set by the cashier */
    atomic_uint times_served; /* must end at exactly 1 */
} customer;

typedef struct {
    customer *customers;
    unsigned ncustomers;
    unsigned nentrances;
    weft_collection *lanes[2]; /* [0] VIP lane, [1] the others; both the same queue
                                  unless --lanes */
    atomic_uint next_arrival;  /* hands out arrival ranks */
    atomic_uint next_rank;     /* hands out service ranks */
    unsigned scan_ns;          /* time to scan one item */
} store;

typedef struct {
    store *st;
    unsigned index;
    unsigned served;   /* results, read by main after pthread_join */
    uint64_t cents;
    int error;
} worker;

/* PRIORITY order: VIPs first. Equal items keep their FIFO order. */
static int vip_first(const void *a, const void *b)
{
    return ((const customer *)b)->vip - ((const customer *)a)->vip;
}

/* splitmix64: a small deterministic generator, so --seed reproduces a run. */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Producer: entrance i lets customers i, i + n, i + 2n, ... in. */
static void *entrance(void *arg)
{
    worker *w = arg;
    store *st = w->st;
    for (unsigned i = w->index; i < st->ncustomers; i += st->nentrances) {
        customer *c = &st->customers[i];
        /* relaxed: a ticket only needs to be unique; the add publishes it. */
        c->arrival = atomic_fetch_add_explicit(&st->next_arrival, 1, memory_order_relaxed);
        /* Blocks while the lane is full: backpressure on the entrance. */
        int rc = weft_collection_add(st->lanes[c->vip ? 0 : 1], c);
        if (rc != 0) { /* EPIPE/ECANCELED: the store closed; not expected here */
            w->error = rc;
            break;
        }
    }
    return NULL;
}

/* Consumer: take the next customer (VIPs first) until the queue is completed. */
static void *cashier(void *arg)
{
    worker *w = arg;
    store *st = w->st;
    void *item;
    int rc;
    /* With one queue both entries are the same collection; take_from_any
     * takes from the first that has an item, so the VIP lane wins. */
    while ((rc = weft_collection_take_from_any(st->lanes, 2, &item, NULL, WEFT_FOREVER)) == 0) {
        customer *c = item;
        /* relaxed: unique tickets; main reads them after pthread_join. */
        c->rank = atomic_fetch_add_explicit(&st->next_rank, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->times_served, 1, memory_order_relaxed);
        /* Scanning takes a while: a sleep stands for the work of a person. */
        struct timespec t = {0, (long)(c->items * st->scan_ns)};
        nanosleep(&t, NULL);
        w->served++;
        w->cents += c->cents;
    }
    if (rc != EPIPE) /* EPIPE: closed and empty, the normal end */
        w->error = rc;
    return NULL;
}

static int parse_uint(const char *opt, const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "checkout: bad value for --%s: '%s' (%u..%u)\n", opt, s, min, max);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned seed = 42, ncustomers = 300, ncashiers = 2, nentrances = 2, vip_pct = 10;
    int two_lanes = 0;
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, 's'},     {"customers", required_argument, NULL, 'n'},
        {"cashiers", required_argument, NULL, 'c'}, {"entrances", required_argument, NULL, 'e'},
        {"vip", required_argument, NULL, 'v'},      {"lanes", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},           {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "s:n:c:e:v:lh", longopts, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case 's': bad = parse_uint("seed", optarg, 0, 0xffffffffu, &seed); break;
        case 'n': bad = parse_uint("customers", optarg, 1, 1000000, &ncustomers); break;
        case 'c': bad = parse_uint("cashiers", optarg, 1, 64, &ncashiers); break;
        case 'e': bad = parse_uint("entrances", optarg, 1, 64, &nentrances); break;
        case 'v': bad = parse_uint("vip", optarg, 0, 100, &vip_pct); break;
        case 'l': two_lanes = 1; break;
        case 'h':
            printf("usage: checkout [--seed N] [--customers N] [--cashiers N] [--entrances N]"
                   " [--vip PERCENT] [--lanes]\n"
                   "Entrances (producer threads) queue customers at a bounded collection of 16\n"
                   "places; cashiers (consumer threads) serve them, VIPs first.\n"
                   "\n"
                   "  -s, --seed N        the customers: who is a VIP, their baskets (default 42)\n"
                   "  -n, --customers N   customers, 1 to 1000000 (default 300)\n"
                   "  -c, --cashiers N    consumer threads, 1 to 64 (default 2)\n"
                   "  -e, --entrances N   producer threads, 1 to 64 (default 2)\n"
                   "  -v, --vip PERCENT   share of VIPs, 0 to 100 (default 10)\n"
                   "  -l, --lanes         two FIFO lanes and take_from_any instead of one\n"
                   "                      PRIORITY collection\n"
                   "  -h, --help          print this help and exit\n");
            return 0;
        default: return 2; /* getopt_long already printed the reason */
        }
        if (bad)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "checkout: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    /* The customers, generated from the seed alone. */
    store st = {.ncustomers = ncustomers, .nentrances = nentrances, .scan_ns = 5000};
    st.customers = calloc(ncustomers, sizeof *st.customers);
    worker *workers = calloc(nentrances + ncashiers, sizeof *workers);
    pthread_t *threads = calloc(nentrances + ncashiers, sizeof *threads);
    if (!st.customers || !workers || !threads) {
        fprintf(stderr, "checkout: out of memory\n");
        return 1;
    }
    uint64_t rng = seed, want_cents = 0, want_items = 0;
    unsigned nvip = 0;
    for (unsigned i = 0; i < ncustomers; i++) {
        customer *c = &st.customers[i];
        c->id = i;
        c->vip = next_random(&rng) % 100 < vip_pct;
        c->items = 1 + next_random(&rng) % 20;
        for (unsigned k = 0; k < c->items; k++)
            c->cents += 50 + next_random(&rng) % 1000;
        nvip += (unsigned)c->vip;
        want_items += c->items;
        want_cents += c->cents;
    }

    /* The queue: room for 16 waiting customers (per lane with --lanes). */
    int rc;
    if (two_lanes) {
        weft_collection_options o = {.capacity = 16, .order = WEFT_ORDER_FIFO};
        rc = weft_collection_create(&st.lanes[0], &o);
        if (rc == 0)
            rc = weft_collection_create(&st.lanes[1], &o);
    } else {
        weft_collection_options o = {
            .capacity = 16, .order = WEFT_ORDER_PRIORITY, .compare = vip_first};
        rc = weft_collection_create(&st.lanes[0], &o);
        st.lanes[1] = st.lanes[0];
    }
    if (rc != 0) {
        fprintf(stderr, "checkout: cannot create the queue: %s\n", strerror(rc));
        return 1;
    }

    /* Open the doors: entrances first, then the cashiers. */
    unsigned nthreads = 0;
    for (unsigned i = 0; i < nentrances + ncashiers; i++) {
        workers[i] = (worker){.st = &st, .index = i < nentrances ? i : i - nentrances};
        rc = pthread_create(&threads[i], NULL, i < nentrances ? entrance : cashier, &workers[i]);
        if (rc != 0) {
            fprintf(stderr, "checkout: cannot start a thread: %s\n", strerror(rc));
            weft_collection_shutdown(st.lanes[0]); /* wakes everyone with ECANCELED */
            weft_collection_shutdown(st.lanes[1]);
            break;
        }
        nthreads++;
    }
    /* Once every customer is in, close the queue; cashiers finish the line. */
    for (unsigned i = 0; i < nthreads && i < nentrances; i++)
        pthread_join(threads[i], NULL);
    weft_collection_complete_adding(st.lanes[0]);
    weft_collection_complete_adding(st.lanes[1]);
    for (unsigned i = nentrances; i < nthreads; i++)
        pthread_join(threads[i], NULL);

    /* Summary. */
    unsigned served = 0, once = 0, failed = nthreads < nentrances + ncashiers;
    uint64_t cents = 0;
    double vip_jump = 0, reg_jump = 0; /* sums of (service rank - arrival rank) */
    for (unsigned i = 0; i < nthreads; i++) {
        served += workers[i].served;
        cents += workers[i].cents;
        if (workers[i].error) {
            fprintf(stderr, "checkout: %s %u: %s\n", i < nentrances ? "entrance" : "cashier",
                    workers[i].index, strerror(workers[i].error));
            failed = 1;
        }
    }
    for (unsigned i = 0; i < ncustomers; i++) {
        customer *c = &st.customers[i];
        /* relaxed: the cashiers were joined above. */
        once += atomic_load_explicit(&c->times_served, memory_order_relaxed) == 1;
        *(c->vip ? &vip_jump : &reg_jump) += (double)c->rank - (double)c->arrival;
    }
    printf("checkout: seed %u, %u customers (%u vip), %" PRIu64 " items, total %" PRIu64
           ".%02u\n",
           seed, ncustomers, nvip, want_items, want_cents / 100, (unsigned)(want_cents % 100));
    printf("served: %u, exactly once: %u, takings %s the bill\n", served, once,
           cents == want_cents ? "match" : "DO NOT match");
    printf("cashiers: %u (", ncashiers);
    for (unsigned i = nentrances; i < nentrances + ncashiers; i++)
        printf("%s%u", i > nentrances ? ", " : "", workers[i].served);
    printf(" customers), queue: %s\n", two_lanes ? "two lanes" : "priority");
    /* Below 0: served before customers who arrived earlier. */
    printf("served rank - arrival rank, mean: vip %+.1f, regular %+.1f\n",
           nvip ? vip_jump / nvip : 0.0,
           ncustomers > nvip ? reg_jump / (ncustomers - nvip) : 0.0);

    weft_collection_destroy(st.lanes[0]);
    if (two_lanes)
        weft_collection_destroy(st.lanes[1]);
    free(threads);
    free(workers);
    free(st.customers);
    return failed || once != ncustomers || cents != want_cents;
}
