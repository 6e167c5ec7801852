#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/stress/valgrind_unit.sh - valgrind memcheck over the unit tier.
#
#   bash tests/stress/valgrind_unit.sh BUILD_DIR
#
# Runs every unit test executable of BUILD_DIR (a plain build: sanitizer
# builds cannot run under valgrind) under memcheck with CK_FORK=no, so that
# each Check test runs in the process valgrind watches. Fails (exit 1) on
# any memcheck error: invalid read/write, use of uninitialised memory, or a
# definite/indirect leak ("possibly lost" is not an error). A test that fails under valgrind without a memcheck
# error is reported as a warning: valgrind runs one thread at a time, which
# starves timing-dependent checks (e.g. test_deque's "the thieves stole
# something"); the plain, ASan and TSan runs judge functional failures.
set -uo pipefail
build=${1:?usage: valgrind_unit.sh BUILD_DIR}
status=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    log=$build/valgrind-$name.log
    start=$(date +%s)
    # WEFT_TEST_QUICK: tests with million-task trees shrink them (memcheck
    # needs the paths, not the sizes; valgrind serialises every thread).
    # CK_EXCLUDE_TAGS=fork: the tests that fork while pool threads run are
    # left out: under memcheck (valgrind 3.19) their parents report reads of
    # a gate's initialised atomic as uninitialised after the fork, and the
    # children report the parent's state that they inherit and never free
    # as leaks (which also changes the exit status the tests check). They
    # run in the release, debug and ASan builds.
    WEFT_TEST_QUICK=1 CK_FORK=no CK_EXCLUDE_TAGS=fork valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        "$t" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    if [ $rc -eq 99 ]; then
        echo "valgrind: $name: MEMCHECK ERRORS (${secs}s), see $log"
        grep -E "^==[0-9]+== " "$log" | head -40
        status=1
    elif [ $rc -ne 0 ]; then
        echo "valgrind: $name: memcheck clean, but a test failed under valgrind (${secs}s; warning):"
        grep -E ":[FE]:" "$log" | head -5
    else
        echo "valgrind: $name: clean (${secs}s)"
    fi
done
exit $status
