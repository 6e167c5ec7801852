/*
 * weft-hash - hash every file under some directories in parallel (fan-out/fan-in).
 *
 * The main thread walks the trees and collects the file names (sorted, so
 * the output does not depend on the timing); then it spawns one task per
 * file into a task group on a weft pool (fan-out) and waits for the group
 * (fan-in). Each task hashes its file with XXH3-64 and writes the result
 * into its own slot, so the tasks share nothing. The results come out in
 * the same order and format as `xxhsum -H3` (xxhash 0.8.1) prints them for
 * the sorted list of files:
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
 *
 * Usage: weft-hash [-p WORKERS] [PATH...]    (no PATH: the current directory)
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <weft/pool.h>
#include <weft/task.h>

typedef struct {
    char *path;
    XXH64_hash_t hash; /* written by the file's task, read after the group wait */
    int error;         /* 0 or an errno value, likewise */
} entry;

typedef struct {
    entry *v;
    size_t n, cap;
} entry_list;

/* The task: hash one file, reading it in 256 KiB blocks. */
static int hash_file(void *arg)
{
    entry *e = arg;
    enum { BLOCK = 256 * 1024 };
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

/* Append path (owned by the list from now on). Returns 0 or ENOMEM. */
static int add_entry(entry_list *l, char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(path);
            return ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (entry){.path = path};
    return 0;
}

/* Collect the files under path; follow: path is a command-line argument
 * (a symbolic link there is followed). Problems (a missing argument, a
 * directory that cannot be read) are reported here and make *status 1. */
static int walk(entry_list *l, const char *path, bool follow, int *status)
{
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) {
        fprintf(stderr, "weft-hash: %s: %s\n", path, strerror(errno));
        *status = 1;
        return 0;
    }
    if (S_ISLNK(st.st_mode)) {
        /* Not followed: a link to a directory is skipped (no cycles); any
         * other (a file, or dangling: reported when hashed) is a file. */
        struct stat target;
        if (stat(path, &target) == 0 && S_ISDIR(target.st_mode))
            return 0;
    }
    if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
        char *copy = strdup(path);
        return copy ? add_entry(l, copy) : ENOMEM;
    }
    if (!S_ISDIR(st.st_mode))
        return 0; /* FIFO, socket, device: not a file to hash */
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "weft-hash: %s: %s\n", path, strerror(errno));
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
        rc = walk(l, child, false, status);
        free(child);
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

int main(int argc, char **argv)
{
    long workers = 0;
    int opt;
    static const struct option longopts[] = {{"workers", required_argument, NULL, 'p'},
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
        case 'h':
            printf("usage: weft-hash [-p WORKERS] [PATH...]\n"
                   "Hash every file under each PATH (default: the current directory) with\n"
                   "XXH3-64 in parallel; print \"XXH3 (file) = hash\" lines in file-name order,\n"
                   "as xxhsum -H3 prints them for the sorted list of files.\n"
                   "\n"
                   "  -p, --workers N  N workers (default: one per CPU)\n"
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
    entry_list files = {0};
    int status = 0, rc = 0;
    if (optind == argc)
        rc = walk(&files, ".", true, &status);
    for (int i = optind; rc == 0 && i < argc; i++)
        rc = walk(&files, argv[i], true, &status);
    if (rc != 0) {
        fprintf(stderr, "weft-hash: %s\n", strerror(rc));
        return 2;
    }
    if (files.n) /* qsort wants a valid pointer even for 0 items */
        qsort(files.v, files.n, sizeof *files.v, by_path);

    /* 2. Fan out: one task per file; 3. fan in: one wait. */
    weft_pool *pool;
    weft_pool_options opts = {.workers = (unsigned)workers};
    if ((rc = weft_pool_create(&pool, &opts)) != 0) {
        fprintf(stderr, "weft-hash: cannot create the pool: %s\n", strerror(rc));
        return 2;
    }
    weft_group g;
    weft_group_init(&g, pool);
    for (size_t i = 0; i < files.n; i++)
        if (weft_group_spawn(&g, hash_file, &files.v[i]) != 0)
            hash_file(&files.v[i]); /* could not spawn (no memory): do it here */
    weft_group_wait(&g);
    weft_pool_destroy(pool);

    /* 4. Print in order. */
    for (size_t i = 0; i < files.n; i++) {
        entry *e = &files.v[i];
        if (e->error) {
            fprintf(stderr, "weft-hash: %s: %s\n", e->path,
                    e->error == EINVAL ? "not a regular file" : strerror(e->error));
            status = 1;
        } else {
            printf("XXH3 (%s) = %016llx\n", e->path, (unsigned long long)e->hash);
        }
        free(e->path);
    }
    free(files.v);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "weft-hash: write error: %s\n", strerror(errno));
        return 2;
    }
    return status;
}
