/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/trace_sym.c - the names of task functions for a trace
 * file: dladdr's symbol, else the module's ELF symbol table (static
 * functions), else "module+0xoffset" (docs/design/tracing.md, "The file").
 * Called only by the writer of a stopped capture.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "pool/trace_impl.h"

/* ---- names of functions --------------------------------------------------------- */

char *weft__trace_strdup(const char *s)
{
    size_t l = strlen(s) + 1;
    char *d = weft__malloc(l);
    if (d != NULL)
        memcpy(d, s, l);
    return d;
}

/* A module's function symbols (.symtab, else .dynsym), sorted by address. */
struct sym {
    uintptr_t s_lo, s_hi; /* run-time addresses */
    const char *s_name;   /* in s_mod's mapping */
};
struct weft__symmod {
    struct weft__symmod *m_next;
    char *m_path;
    void *m_map;
    size_t m_len;
    struct sym *m_syms;
    size_t m_n;
};

static int sym_cmp(const void *a, const void *b)
{
    uintptr_t x = ((const struct sym *)a)->s_lo, y = ((const struct sym *)b)->s_lo;
    return (x > y) - (x < y);
}

/* Read the function symbols of the ELF file at path, loaded at base. */
static struct weft__symmod *symmod_load(const char *path, uintptr_t base)
{
    struct weft__symmod *m = weft__calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->m_path = weft__trace_strdup(path);
    if (m->m_path == NULL) {
        weft__free(m);
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        if (fd >= 0)
            close(fd);
        return m; /* no symbols: names fall back to module+offset */
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return m;
    m->m_map = map;
    m->m_len = (size_t)st.st_size;
    const Elf64_Ehdr *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64
        || eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr)
        || eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > m->m_len)
        return m;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
    uintptr_t bias = eh->e_type == ET_DYN ? base : 0;
    for (int pass = 0; pass < 2 && m->m_n == 0; pass++) {
        Elf64_Word want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
        for (unsigned i = 0; i < eh->e_shnum; i++) {
            if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum
                || sh[i].sh_entsize != sizeof(Elf64_Sym)
                || sh[i].sh_offset + sh[i].sh_size > m->m_len)
                continue;
            const Elf64_Shdr *strs = &sh[sh[i].sh_link];
            if (strs->sh_offset + strs->sh_size > m->m_len)
                continue;
            const Elf64_Sym *syms = (const Elf64_Sym *)((const char *)map + sh[i].sh_offset);
            size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
            struct sym *out = weft__malloc((n > 0 ? n : 1) * sizeof(*out));
            if (out == NULL)
                continue;
            size_t k = 0;
            for (size_t j = 0; j < n; j++) {
                if (ELF64_ST_TYPE(syms[j].st_info) != STT_FUNC || syms[j].st_value == 0
                    || syms[j].st_name >= strs->sh_size)
                    continue;
                out[k].s_lo = bias + syms[j].st_value;
                out[k].s_hi = out[k].s_lo + (syms[j].st_size > 0 ? syms[j].st_size : 1);
                out[k].s_name = (const char *)map + strs->sh_offset + syms[j].st_name;
                k++;
            }
            qsort(out, k, sizeof(*out), sym_cmp);
            weft__free(m->m_syms);
            m->m_syms = out;
            m->m_n = k;
            break;
        }
    }
    return m;
}

void weft__symmods_free(struct weft__symmod *m)
{
    while (m != NULL) {
        struct weft__symmod *next = m->m_next;
        if (m->m_map != NULL)
            munmap(m->m_map, m->m_len);
        weft__free(m->m_path);
        weft__free(m->m_syms);
        weft__free(m);
        m = next;
    }
}

/* The name of the function at addr into buf: its symbol, else
 * "module+0xoffset", else the address. */
void weft__sym_name(struct weft__symmod **mods, uintptr_t addr, char *buf, size_t len)
{
    Dl_info di;
    if (dladdr((void *)addr, &di) == 0 || di.dli_fname == NULL) {
        snprintf(buf, len, "0x%" PRIxPTR, addr);
        return;
    }
    if (di.dli_sname != NULL && di.dli_saddr == (void *)addr) {
        snprintf(buf, len, "%s", di.dli_sname);
        return;
    }
    struct weft__symmod *m = *mods;
    while (m != NULL && strcmp(m->m_path, di.dli_fname) != 0)
        m = m->m_next;
    if (m == NULL && (m = symmod_load(di.dli_fname, (uintptr_t)di.dli_fbase)) != NULL) {
        m->m_next = *mods;
        *mods = m;
    }
    if (m != NULL && m->m_n > 0) {
        size_t lo = 0, hi = m->m_n;
        while (hi - lo > 1) {
            size_t mid = (lo + hi) / 2;
            if (m->m_syms[mid].s_lo <= addr)
                lo = mid;
            else
                hi = mid;
        }
        if (m->m_syms[lo].s_lo <= addr && addr < m->m_syms[lo].s_hi) {
            if (addr == m->m_syms[lo].s_lo)
                snprintf(buf, len, "%s", m->m_syms[lo].s_name);
            else
                snprintf(buf, len, "%s+0x%" PRIxPTR, m->m_syms[lo].s_name,
                         addr - m->m_syms[lo].s_lo);
            return;
        }
    }
    if (di.dli_sname != NULL) {
        snprintf(buf, len, "%s+0x%" PRIxPTR, di.dli_sname, addr - (uintptr_t)di.dli_saddr);
        return;
    }
    const char *base = strrchr(di.dli_fname, '/');
    snprintf(buf, len, "%s+0x%" PRIxPTR, base != NULL ? base + 1 : di.dli_fname,
             addr - (uintptr_t)di.dli_fbase);
}
