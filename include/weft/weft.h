/* SPDX-License-Identifier: MIT */
/*
 * weft/weft.h - umbrella header: includes every public weft header.
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <weft/version.h>
#include <weft/timeout.h>
#include <weft/collection.h>
#include <weft/task.h>
#include <weft/pool.h>
#include <weft/fj.h>

#endif /* WEFT_WEFT_H */
