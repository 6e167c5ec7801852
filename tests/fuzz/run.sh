#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/fuzz/run.sh - build the collection fuzzer with clang and run it.
#
#   bash tests/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
#
# Compiles the runtime's sources (the collection calls the pool's
# weft_blocking_begin/end around its sleeps; with WEFT__RUNTIME, as the
# library's own build: weft/task.h then declares weft_spawn/weft_sync
# instead of defining inline ones) and tests/fuzz/fuzz_collection.c
# with clang -fsanitize=fuzzer,address,undefined (the main build uses gcc;
# libFuzzer needs clang) into build/fuzz/, then fuzzes for SECONDS (default
# 60) starting from the committed seed corpus tests/fuzz/corpus. New
# interesting inputs go to build/fuzz/corpus (not committed; copy a few into
# tests/fuzz/corpus by hand when they add coverage: `-merge=1` helps). A
# crash leaves crash-* in build/fuzz and exits non-zero. Prints the number
# of executions.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
shift || true
cc=${FUZZ_CC:-$(command -v clang-14 || command -v clang)}
out=$root/build/fuzz
mkdir -p "$out/corpus" "$out/include/weft"
# weft/version.h as CMake generates it (the runtime includes it), from the
# version in the top CMakeLists.txt.
ver=$(sed -n 's/^project(weft VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
IFS=. read -r vmaj vmin vpat <<<"$ver"
sed -e "s/@PROJECT_VERSION_MAJOR@/$vmaj/" -e "s/@PROJECT_VERSION_MINOR@/$vmin/" \
    -e "s/@PROJECT_VERSION_PATCH@/$vpat/" -e "s/@PROJECT_VERSION@/$ver/" \
    "$root/include/weft/version.h.in" >"$out/include/weft/version.h"
# FUZZ_CFLAGS: extra compiler flags for the harness (e.g. -DNDEBUG).
# shellcheck disable=SC2086
"$cc" -std=c11 -g -O1 -Wall -Wextra -Wpedantic ${FUZZ_CFLAGS:-} \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DWEFT__RUNTIME=1 \
    -I"$root/include" -I"$out/include" -I"$root/runtime" "$root/runtime/version.c" \
    "$root"/runtime/collection/*.c "$root"/runtime/base/*.c "$root"/runtime/pool/*.c \
    "$root/tests/fuzz/fuzz_collection.c" -lurcu-common -lpthread -o "$out/fuzz_collection"
cd "$out"
# -timeout: a single-threaded wrong answer shows up as a hang (see the
# harness); -max_len keeps the model's linear scans cheap.
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    ./fuzz_collection -max_total_time="$secs" -timeout=10 -max_len=2048 \
    -print_final_stats=1 "$@" corpus "$root/tests/fuzz/corpus" >fuzz.log 2>&1
status=$?
set -e
grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|^==[0-9]+==|SUMMARY|fuzz_collection:" \
    fuzz.log || true
[ "$status" -eq 0 ] || echo "fuzz: FAILED (exit $status); log: $out/fuzz.log; inputs: $out/crash-*"
exit "$status"
