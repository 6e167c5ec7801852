/* SPDX-License-Identifier: MIT */
/*
 * runtime/base/cpu.h - the cache-line size, branch hints and the spin-wait
 * pause (private).
 */
#ifndef WEFT_RUNTIME_BASE_CPU_H
#define WEFT_RUNTIME_BASE_CPU_H

/* The unit of false sharing on every CPU weft targets (x86-64, aarch64).
 * Fields written by different threads sit on different lines. */
#define WEFT__CACHE_LINE 64

/* On the library's extern variables: they are not exported (the sources are
 * built with hidden visibility), and saying so in the declaration lets the
 * compiler address them PC-relative instead of through the GOT - one load
 * less on the paths that read them (the collection's add and take read
 * weft__asym). */
#define WEFT__INTERNAL __attribute__((visibility("hidden")))

#define WEFT__LIKELY(x)   __builtin_expect(!!(x), 1)
#define WEFT__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* One round of a spin-wait: tells the CPU that this is a busy loop (x86
 * pause, aarch64 yield), so that it spends less power and yields pipeline
 * resources to a sibling hyper-thread. Elsewhere a compiler barrier. */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

#endif /* WEFT_RUNTIME_BASE_CPU_H */
