/* SPDX-License-Identifier: MIT */
/*
 * hashtree.c - walking and hashing for weft-hash and weft-mpi-hash.
 *
 * Walking: symbolic links are not followed while walking (no cycles), as
 * find does not follow them: a link to a file is a file (its target is
 * hashed), a link to a directory is skipped (find -type f does not list it
 * either), and a dangling one is listed (and reported when hashed). A PATH
 * given on the command line is followed (find -H). Other non-regular files
 * (FIFOs, sockets, devices) are skipped.
 *
 * Hashing: XXH3-64 is one sequential stream over the file and a file's
 * hash cannot be combined from hashes of its parts, so one task reads and
 * hashes a whole file, BLOCK bytes at a time, however large it is; the
 * parallelism is across files (examples/README.md, weft-mpi-hash, says why
 * reading one file's chunks in parallel did not pay).
 */
#define _POSIX_C_SOURCE 200809L

#include "hashtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { BLOCK = 256 * 1024 }; /* one read: the buffer stays in the L2 cache */

/* Append path (owned by the list from now on). Returns 0 or ENOMEM. */
static int add_entry(hashtree_list *l, char *path, uint64_t size)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        hashtree_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(path);
            return ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (hashtree_entry){.path = path, .size = size};
    return 0;
}

int hashtree_walk(hashtree_list *l, const char *prog, const char *path, bool follow,
                  int *status)
{
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        *status = 1;
        return 0;
    }
    uint64_t size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    if (S_ISLNK(st.st_mode)) {
        /* Not followed: a link to a directory is skipped (no cycles); any
         * other (a file, or dangling: reported when hashed) is a file. */
        struct stat target;
        if (stat(path, &target) == 0) {
            if (S_ISDIR(target.st_mode))
                return 0;
            if (S_ISREG(target.st_mode))
                size = (uint64_t)target.st_size;
        }
    }
    if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
        char *copy = strdup(path);
        return copy ? add_entry(l, copy, size) : ENOMEM;
    }
    if (!S_ISDIR(st.st_mode))
        return 0; /* FIFO, socket, device: not a file to hash */
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        *status = 1;
        return 0;
    }
    int rc = 0;
    size_t len = strlen(path);
    const char *sep = len && path[len - 1] == '/' ? "" : "/";
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = malloc(len + strlen(de->d_name) + 2);
        if (!child) {
            rc = ENOMEM;
            break;
        }
        sprintf(child, "%s%s%s", path, sep, de->d_name);
        rc = hashtree_walk(l, prog, child, false, status);
        free(child);
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const hashtree_entry *)a)->path, ((const hashtree_entry *)b)->path);
}

void hashtree_sort(hashtree_list *l)
{
    if (l->n) /* qsort wants a valid pointer even for 0 items */
        qsort(l->v, l->n, sizeof *l->v, by_path);
}

void hashtree_list_fini(hashtree_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    *l = (hashtree_list){0};
}

const char *hashtree_strerror(int error)
{
    return error == EINVAL ? "not a regular file" : strerror(error);
}

int hashtree_hash_file(void *arg)
{
    hashtree_entry *e = arg;
    /* O_NONBLOCK: a symbolic link to a FIFO must not hang us; it is
     * rejected below as not a regular file. */
    int fd = open(e->path, O_RDONLY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        e->error = errno;
    } else if (!S_ISREG(st.st_mode)) {
        e->error = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    } else {
        unsigned char *buf = malloc(BLOCK);
        XXH3_state_t *s = XXH3_createState();
        if (!buf || !s || XXH3_64bits_reset(s) == XXH_ERROR) {
            e->error = ENOMEM;
        } else {
            ssize_t r;
            while ((r = read(fd, buf, BLOCK)) > 0 || (r < 0 && errno == EINTR))
                if (r > 0)
                    XXH3_64bits_update(s, buf, (size_t)r);
            if (r < 0)
                e->error = errno;
            else
                e->hash = XXH3_64bits_digest(s);
        }
        XXH3_freeState(s);
        free(buf);
    }
    if (fd >= 0)
        close(fd);
    return 0; /* errors are per file, in e->error */
}
