# SPDX-License-Identifier: MIT
# Tests examples/weft-mpi-hash.c under mpirun on this machine:
#   sh test_mpi_hash.sh <weft-mpi-hash> <scratch-dir> <sanitizer> <mpirun> <weft-hash>
# On a tree with a skewed size distribution (one file of 40 MiB, one of
# exactly a batch's bytes, 3000 small ones, mostly tiny), 1, 2 and 3 ranks
# under both --balance policies print exactly what `xxhsum -H3` and the
# single-process weft-hash print, and the per-rank statistics add up (each
# file hashed once; every batch given away was received). An unreadable
# file and a missing argument are reported once, status 1; a rank that
# fails ends the whole job (MPI_Abort, status 2) instead of leaving the
# others waiting; bad usage, --help and an empty tree.
#
# Every mpirun is bounded by `timeout`, which signals only its own process
# group (itself and mpirun; mpirun ends its ranks).
. "$(dirname "$0")/lib.sh"
mpirun=$4
weft_hash=$5
command -v xxhsum >/dev/null 2>&1 || fail "xxhsum (package xxhash) is not installed"
"$mpirun" --version 2>/dev/null | grep -qE "Open MPI|OpenRTE" ||
    fail "$mpirun is not Open MPI's (package openmpi-bin); these tests use its options"

# Open MPI: may run as root (CI does), as documented; stays on this machine:
# shared memory between ranks (btl self,vader), the loopback for mpirun's
# own connections (oob), and no ssh (plm_rsh_agent false: a remote start
# would fail at once). --oversubscribe: more ranks than cores is the point
# on a small machine. --bind-to none: each rank's pool may use every CPU.
# -q: no mpirun banners, so stderr holds the program's messages only.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags="-q --oversubscribe --bind-to none --mca btl self,vader --mca oob_tcp_if_include lo
       --mca plm_rsh_agent false"
# Open MPI does not free everything it allocates by MPI_Finalize.
[ "$sanitizer" = asan ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"

# mpi <ranks> <expected-status> <what> <args...>: like run (lib.sh), under
# mpirun and a time limit; a run that hangs is a failure of its own.
mpi() {
    np=$1
    want=$2
    what="$3 (-np $np)"
    shift 3
    set +e
    # shellcheck disable=SC2086 # $flags is a list of words
    timeout -k 10 60 "$mpirun" $flags -np "$np" "$exe" "$@" >"$dir/out" 2>"$dir/err" </dev/null
    got=$?
    set -e
    if [ "$got" -eq 124 ] || [ "$got" -eq 137 ]; then
        cat "$dir/err" >&2
        fail "$what: still running after 60 s"
    fi
    if [ "$got" -ne "$want" ]; then
        cat "$dir/err" >&2
        fail "$what: exit status $got, expected $want"
    fi
}

same_out() {
    cmp -s "$dir/out" "$1" || { diff "$1" "$dir/out" | head >&2; fail "$2: output differs"; }
}

# check_stats <ranks> <files> <what>: the --stats table on stderr adds up.
check_stats() {
    awk -v np="$1" -v files="$2" '
        NR == 1 { if ($1 != "weft-mpi-hash:" || $2 != np) exit 1
                  tf = $(NF - 7); tb = $(NF - 5); tn = $(NF - 3); next }
        NR == 2 { next }
        NF == 9 { rows++; f += $2; b += $3; n += $4; got += $5; gave += $6; next }
        { exit 1 }
        END { exit !(rows == np && tf == files && f == files && b == tb && n == tn &&
                     got == gave) }' "$dir/err" || { cat "$dir/err" >&2; fail "$3: the statistics do not add up"; }
}

# 1. The tree: one file dominates the bytes, thousands of small ones the count.
t=$dir/tree
mkdir -p "$t"
head -c 41955385 /dev/urandom >"$t/big"    # 40 MiB + 12345 bytes
head -c 4194304 /dev/urandom >"$t/batch"   # exactly one batch's bytes
: >"$t/empty"
printf 'a name with spaces\n' >"$t/with space.txt"
awk -v t="$t" 'BEGIN {
    srand(7)
    for (i = 0; i < 2000; i++) s = s sprintf("%c", 33 + int(rand() * 90))
    while (length(s) < 40000) s = s s
    for (i = 0; i < 30; i++) system("mkdir -p " t "/d" sprintf("%02d", i))
    for (i = 0; i < 3000; i++) {           # sizes: rand()^4, mostly tiny
        f = sprintf("%s/d%02d/f%04d", t, i % 30, i)
        printf "%d:%s", i, substr(s, 1, int(rand() ^ 4 * 40000)) >f
        close(f)
    }
}'
find "$t" -type f | sort | tr '\n' '\0' | xargs -0 xxhsum -H3 >"$dir/want"
nfiles=$(wc -l <"$dir/want")
[ "$nfiles" -eq 3004 ] || fail "the generated tree has $nfiles files, expected 3004"

# 2. The single-process weft-hash agrees with xxhsum.
run 0 "weft-hash" "$weft_hash" "$t"
same_out "$dir/want" "weft-hash"

# 3. Any number of ranks, either policy: the same bytes; statistics add up.
for np in 1 2 3; do
    for policy in steal master; do
        mpi $np 0 "$policy" --balance $policy --stats "$t"
        same_out "$dir/want" "$policy (-np $np)"
        check_stats $np "$nfiles" "$policy (-np $np)"
    done
done
mpi 3 0 "one worker per rank" -p 1 "$t"
same_out "$dir/want" "one worker per rank"
clean_stderr "one worker per rank"

# 4. Errors: a dangling link (unreadable, also as root) and a missing PATH,
# each reported once by rank 0; the rest is hashed; status 1.
e=$dir/errors
mkdir -p "$e/sub"
for i in 1 2 3 4 5 6 7 8; do echo "file $i" >"$e/sub/f$i"; done
ln -s does-not-exist "$e/sub/dangling"
find "$e" \( -type f -o -type l \) | sort | xargs xxhsum -H3 >"$dir/want-e" 2>/dev/null || true
printf '%s\n' "weft-mpi-hash: $e/missing: No such file or directory" \
    "weft-mpi-hash: $e/sub/dangling: No such file or directory" >"$dir/want-err"
for np in 2 3; do
    for policy in steal master; do
        mpi $np 1 "errors, $policy" --balance $policy "$e" "$e/missing"
        same_out "$dir/want-e" "errors, $policy (-np $np)"
        sort "$dir/err" | cmp -s - "$dir/want-err" || { cat "$dir/err" >&2; fail "errors, $policy (-np $np): stderr"; }
    done
done

# 5. A rank that fails mid-run ends every rank, under both policies.
for policy in steal master; do
    mpi 3 2 "a failing rank, $policy" --balance $policy --fail-rank 1 "$t"
    grep -q "^weft-mpi-hash: rank 1: failing on purpose" "$dir/err" ||
        { cat "$dir/err" >&2; fail "a failing rank, $policy: no message"; }
done

# 6. Usage, once for all ranks; an empty tree.
mpi 2 2 "bad --balance" --balance round-robin "$t"
[ "$(wc -l <"$dir/err")" -eq 1 ] || { cat "$dir/err" >&2; fail "bad --balance: stderr is not one line"; }
mpi 2 0 "--help" --help
clean_stderr "--help"
[ "$(grep -c '^usage: mpirun -np N weft-mpi-hash ' "$dir/out")" -eq 1 ] || fail "--help: not one usage line"
mkdir -p "$dir/empty-dir"
mpi 3 0 "empty tree" "$dir/empty-dir"
clean_stderr "empty tree"
[ ! -s "$dir/out" ] || fail "empty tree: output"
echo "weft-mpi-hash: all tests passed"
