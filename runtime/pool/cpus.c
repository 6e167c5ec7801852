/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/cpus.c - how many workers a pool with workers = 0 gets: one
 * per CPU of the affinity mask, and no more than the CPU quota of the
 * process's cgroup (v2) allows, rounded up, as Go's runtime sizes
 * GOMAXPROCS. At least 1.
 *
 * The quota is cpu.max ("max PERIOD" or "QUOTA PERIOD") of the process's
 * cgroup and of each ancestor up to the cgroup2 mount: the smallest limit
 * wins. The cgroup is the "0::PATH" line of /proc/self/cgroup; the mount is
 * the cgroup2 entry of /proc/self/mountinfo, whose root field says which
 * cgroup the mount shows (not "/" inside some cgroup namespaces).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/sched.h"

#define CPUS_PATH 4096

/* Read the first line of path into buf (without its newline). */
static bool read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    bool ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

/* Skip the rest of a line that did not fit into the buffer. */
static void skip_rest(FILE *f, const char *buf)
{
    if (strchr(buf, '\n') == NULL)
        for (int c; (c = getc(f)) != EOF && c != '\n';)
            ;
}

/* The limit of one cpu.max file, rounded up; 0: none ("max", absent,
 * unreadable). */
static unsigned cpu_max_limit(const char *dir)
{
    char path[CPUS_PATH], line[128];
    if (snprintf(path, sizeof(path), "%s/cpu.max", dir) >= (int)sizeof(path)
        || !read_line(path, line, sizeof(line)))
        return 0;
    unsigned long long quota, period;
    if (sscanf(line, "%llu %llu", &quota, &period) != 2 || period == 0 || quota == 0)
        return 0; /* "max PERIOD" does not match %llu: no limit */
    unsigned long long cpus = quota / period + (quota % period != 0);
    return cpus > WEFT__MAX_WORKERS ? WEFT__MAX_WORKERS : (unsigned)cpus;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *d = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7'
            && s[3] >= '0' && s[3] <= '7') {
            *d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *d++ = *s;
        }
    }
    *d = '\0';
}

/* The cgroup2 mount: its root and mount point. */
static bool cgroup2_mount(const char *mountinfo, char *root, char *mnt)
{
    FILE *f = fopen(mountinfo, "re");
    if (f == NULL)
        return false;
    char line[CPUS_PATH];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        skip_rest(f, line);
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ... */
        char *sep = strstr(line, " - ");
        if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
            continue;
        *sep = '\0';
        char *save, *field = strtok_r(line, " ", &save);
        for (int i = 0; field != NULL && i < 3; i++)
            field = strtok_r(NULL, " ", &save);
        char *m = field != NULL ? strtok_r(NULL, " ", &save) : NULL;
        if (m == NULL)
            continue;
        snprintf(root, CPUS_PATH, "%s", field);
        snprintf(mnt, CPUS_PATH, "%s", m);
        unescape(root);
        unescape(mnt);
        found = true;
    }
    fclose(f);
    return found;
}

unsigned weft__cgroup_cpu_limit(const char *cgroup_file, const char *mountinfo_file)
{
    /* The process's cgroup: the "0::PATH" line (cgroup v2). */
    FILE *f = fopen(cgroup_file, "re");
    if (f == NULL)
        return 0;
    char line[CPUS_PATH], cg[CPUS_PATH] = "";
    while (fgets(line, sizeof(line), f) != NULL) {
        skip_rest(f, line);
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(cg, sizeof(cg), "%s", line + 3);
            break;
        }
    }
    fclose(f);
    char root[CPUS_PATH], mnt[CPUS_PATH];
    if (cg[0] != '/' || !cgroup2_mount(mountinfo_file, root, mnt))
        return 0;
    /* The cgroup as seen under the mount: PATH without the mount's root. */
    const char *rel = cg;
    if (strcmp(root, "/") != 0) {
        size_t n = strlen(root);
        if (strncmp(cg, root, n) != 0 || (cg[n] != '/' && cg[n] != '\0'))
            return 0; /* not under this mount */
        rel = cg + n;
    }
    char dir[CPUS_PATH];
    if (snprintf(dir, sizeof(dir), "%s%s", mnt, strcmp(rel, "/") == 0 ? "" : rel)
        >= (int)sizeof(dir))
        return 0;
    size_t mnt_len = strlen(mnt);
    unsigned limit = 0;
    for (;;) {
        unsigned l = cpu_max_limit(dir);
        if (l != 0 && (limit == 0 || l < limit))
            limit = l;
        if (strlen(dir) <= mnt_len)
            break;
        char *slash = strrchr(dir, '/');
        if (slash == NULL || (size_t)(slash - dir) < mnt_len)
            break;
        *slash = '\0';
    }
    return limit;
}

unsigned weft__default_workers(void)
{
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    unsigned n = 1;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) > 0)
        n = (unsigned)CPU_COUNT(&cpus);
    unsigned quota = weft__cgroup_cpu_limit("/proc/self/cgroup", "/proc/self/mountinfo");
    if (quota != 0 && quota < n)
        n = quota;
    return n > WEFT__MAX_WORKERS ? WEFT__MAX_WORKERS : n;
}
