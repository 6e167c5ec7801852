/* SPDX-License-Identifier: MIT */
/*
 * weft-hash - hash every file under some directories in parallel (fan-out/fan-in).
 *
 * The main thread walks the trees and collects the file names (sorted, so
 * the output does not depend on the timing); then it spawns one task per
 * file into a task group on a weft pool (fan-out) and waits for the group
 * (fan-in). Each task hashes its file with XXH3-64 and writes the result
 * into its own slot, so the tasks share nothing (walking and hashing are
 * in hashtree.c, shared with weft-mpi-hash). The results come out in the
 * same order and format as `xxhsum -H3` (xxhash 0.8.1) prints them for the
 * sorted list of files:
 *
 *     XXH3 (dir/file) = 2d06800538d394c2
 *
 * Symbolic links are not followed while walking (no cycles), as find does
 * not follow them: a link to a file is hashed (its target), a link to a
 * directory is skipped (find -type f does not list it either), and a
 * dangling one is reported. A PATH given on the command line is followed
 * (find -H): a link to a directory there is walked. Other non-regular files
 * (FIFOs, sockets, devices) are skipped. A file that cannot be read is
 * reported on stderr, the others are still hashed, and the exit status is 1.
 * With --progress the main thread waits with a timeout
 * (weft_group_try_wait) and reports how many files are done twice a second.
 *
 * Usage: weft-hash [-p WORKERS] [--progress] [PATH...]
 *        (no PATH: the current directory)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "hashtree.h" /* walking and hashing, shared with weft-mpi-hash */

/* Files hashed so far (--progress). Relaxed: a count to print, nothing
 * more; the results themselves are read after the group's wait. */
static atomic_size_t files_done;

static int hash_task(void *entry)
{
    int rc = hashtree_hash_file(entry);
    atomic_fetch_add_explicit(&files_done, 1, memory_order_relaxed);
    return rc;
}

int main(int argc, char **argv)
{
    long workers = 0;
    int opt, progress = 0;
    static const struct option longopts[] = {{"workers", required_argument, NULL, 'p'},
                                             {"progress", no_argument, NULL, 'P'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0, 0, 0, 0}};
    while ((opt = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'p':
            errno = 0;
            workers = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || workers < 0 || workers > 4096) {
                fprintf(stderr, "weft-hash: bad value for -p: '%s'\n", optarg);
                return 2;
            }
            break;
        case 'P':
            progress = 1;
            break;
        case 'h':
            printf("usage: weft-hash [-p WORKERS] [--progress] [PATH...]\n"
                   "Hash every file under each PATH (default: the current directory) with\n"
                   "XXH3-64 in parallel; print \"XXH3 (file) = hash\" lines in file-name order,\n"
                   "as xxhsum -H3 prints them for the sorted list of files.\n"
                   "\n"
                   "  -p, --workers N  N workers (default: one per CPU)\n"
                   "      --progress   report the files done on stderr twice a second\n"
                   "  -h, --help       print this help and exit\n"
                   "\n"
                   "Symbolic links met while walking are not followed: a link to a file is\n"
                   "hashed, a link to a directory skipped (as find -type f lists them); a PATH\n"
                   "that is a link is followed. FIFOs, sockets and devices are skipped.\n"
                   "Exit status: 0; 1 (a file could not be read; the others are hashed);\n"
                   "2 (bad usage, no memory).\n");
            return 0;
        default: return 2; /* getopt printed the reason */
        }
    }

    /* 1. Walk (sequential: directory reads are cheap next to hashing). */
    hashtree_list files = {0};
    int status = 0, rc = 0;
    if (optind == argc)
        rc = hashtree_walk(&files, "weft-hash", ".", true, &status);
    for (int i = optind; rc == 0 && i < argc; i++)
        rc = hashtree_walk(&files, "weft-hash", argv[i], true, &status);
    if (rc != 0) {
        fprintf(stderr, "weft-hash: %s\n", strerror(rc));
        return 2;
    }
    hashtree_sort(&files);

    /* 2. Fan out: one task per file; 3. fan in: one wait. */
    weft_pool *pool;
    weft_pool_options opts = WEFT_POOL_OPTIONS_INIT;
    opts.workers = (unsigned)workers;
    opts.name = "weft-hash"; /* threads weft-hash-0, weft-hash-1, ... (top, gdb) */
    if ((rc = weft_pool_create(&pool, &opts)) != 0) {
        fprintf(stderr, "weft-hash: cannot create the pool: %s\n", strerror(rc));
        return 2;
    }
    weft_group g;
    weft_group_init(&g, pool);
    for (size_t i = 0; i < files.n; i++)
        if (weft_group_spawn(&g, hash_task, &files.v[i]) != 0)
            hash_task(&files.v[i]); /* could not spawn (no memory): do it here */
    int result; /* the tasks' first error: each file's own is in its entry */
    while (progress && weft_group_try_wait(&g, 500 * 1000 * 1000, &result) == ETIMEDOUT)
        fprintf(stderr, "weft-hash: %zu of %zu files\n",
                atomic_load_explicit(&files_done, memory_order_relaxed), files.n);
    weft_group_wait(&g); /* returns at once after a try_wait that ended the round */
    weft_pool_destroy(pool);

    /* 4. Print in order. */
    for (size_t i = 0; i < files.n; i++) {
        hashtree_entry *e = &files.v[i];
        if (e->error) {
            fprintf(stderr, "weft-hash: %s: %s\n", e->path, hashtree_strerror(e->error));
            status = 1;
        } else {
            printf("XXH3 (%s) = %016llx\n", e->path, (unsigned long long)e->hash);
        }
    }
    hashtree_list_fini(&files);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "weft-hash: write error: %s\n", strerror(errno));
        return 2;
    }
    return status;
}
