/* SPDX-License-Identifier: MIT */
/*
 * hashtree.h - what weft-hash and weft-mpi-hash share: walking file trees
 * the way `find -H PATH \( -type f -o -type l ! -xtype d \)` lists them, and
 * hashing one file with XXH3-64 as `xxhsum -H3` does.
 */
#ifndef HASHTREE_H
#define HASHTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

typedef struct {
    char *path;
    uint64_t size;     /* from the walk (a link: its target's; dangling: 0) */
    XXH64_hash_t hash; /* written by the file's task, read after its wait */
    int error;         /* 0 or an errno value, likewise */
} hashtree_entry;

typedef struct {
    hashtree_entry *v;
    size_t n, cap;
} hashtree_list;

/* Append the files under path to l. follow: path is a command-line argument
 * (a symbolic link there is followed). Problems that leave the rest usable
 * (a missing argument, a directory that cannot be read) are reported on
 * stderr as "prog: path: reason" and set *status to 1. Returns 0 or ENOMEM. */
int hashtree_walk(hashtree_list *l, const char *prog, const char *path, bool follow,
                  int *status);

/* Sort l by path (strcmp order, as `LC_ALL=C sort` does). */
void hashtree_sort(hashtree_list *l);

/* Free the paths and the array; l is empty afterwards. */
void hashtree_list_fini(hashtree_list *l);

/* A weft task (or a plain call): hash the file of the hashtree_entry arg
 * into its hash, or set its error. Returns 0: errors are per file. */
int hashtree_hash_file(void *arg);

/* The message for an entry's error, as weft-hash prints it. */
const char *hashtree_strerror(int error);

#endif /* HASHTREE_H */
