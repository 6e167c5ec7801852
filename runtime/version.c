/* SPDX-License-Identifier: MIT */
/*
 * runtime/version.c - the version of the library that is linked.
 */
#include <weft/version.h>

const char *weft_version(void)
{
    return WEFT_VERSION_STRING;
}
