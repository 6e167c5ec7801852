/* SPDX-License-Identifier: MIT */
/*
 * weft/export.h - symbol visibility for weft's public API.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * WEFT_API are exported from the shared object.
 */
#ifndef WEFT_EXPORT_H
#define WEFT_EXPORT_H

/* Marks a declaration as part of weft's exported API (default visibility
 * with GCC and Clang, nothing elsewhere). Used by weft's headers only. */
#if defined(__GNUC__) || defined(__clang__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#endif /* WEFT_EXPORT_H */
