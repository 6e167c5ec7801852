/* SPDX-License-Identifier: MIT */
/* A tiny program built against the installed weft: links, runs, checks -
 * the collection, a pool, and a typed fork-join task (whose fast path reads
 * a TLS variable of the library, shared or static). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <weft/weft.h>

WEFT_TASK_1(uint64_t, fib, int, n)
{
    if (n < 2)
        return (uint64_t)n;
    WEFT_FRAME(fib) f;
    WEFT_SPAWN(fib, &f, n - 1);
    uint64_t b = WEFT_CALL(fib, n - 2);
    return WEFT_SYNC(fib, &f) + b;
}

static int fib_root(void *arg)
{
    *(uint64_t *)arg = fib(20);
    return 0;
}

int main(void)
{
    weft_collection *c = NULL;
    void *item = NULL;
    if (strcmp(weft_version(), WEFT_VERSION_STRING) != 0)
        return 1;
    if (weft_collection_create(&c, NULL) != 0)
        return 2;
    if (weft_collection_add(c, &c) != 0 || weft_collection_take(c, &item) != 0 || item != &c)
        return 3;
    weft_collection_destroy(c);
    weft_pool *p = NULL;
    weft_pool_options o = {.workers = 2};
    uint64_t r = 0;
    if (weft_pool_create(&p, &o) != 0 || weft_pool_call(p, fib_root, &r) != 0 || r != 6765
        || fib(10) != 55 || weft_pool_destroy(p) != 0)
        return 4;
    puts("consumer ok");
    return 0;
}
