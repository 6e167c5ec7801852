# SPDX-License-Identifier: MIT
# Helpers shared by the example tests (sourced). Each test script is run as
#   sh test_<x>.sh <example-binary> <scratch-dir> <sanitizer: none|asan|tsan>
set -eu
exe=$1
dir=$2
sanitizer=${3:-none}
rm -rf "$dir"
mkdir -p "$dir"
export LC_ALL=C

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# run <expected-status> <what> <command...>: stdout to $dir/out, stderr to
# $dir/err; fails unless the exit status is the expected one.
run() {
    want=$1
    what=$2
    shift 2
    set +e
    "$@" >"$dir/out" 2>"$dir/err"
    got=$?
    set -e
    if [ "$got" -ne "$want" ]; then
        cat "$dir/err" >&2
        fail "$what: exit status $got, expected $want"
    fi
}

# clean_stderr <what>: a run that must print nothing on stderr (this also
# catches sanitizer reports that do not change the exit status).
clean_stderr() {
    [ ! -s "$dir/err" ] || { cat "$dir/err" >&2; fail "$1: unexpected stderr"; }
}

# expect_error <what> <command...>: a Unix-tool failure, not a crash: a
# non-zero status below 128 and exactly one line on stderr.
expect_error() {
    what=$1
    shift
    set +e
    "$@" >"$dir/out" 2>"$dir/err" </dev/null
    got=$?
    set -e
    [ "$got" -ne 0 ] || fail "$what: exit status 0"
    [ "$got" -lt 128 ] || fail "$what: crashed (status $got)"
    [ "$(wc -l <"$dir/err")" -eq 1 ] || { cat "$dir/err" >&2; fail "$what: stderr is not one line"; }
}
