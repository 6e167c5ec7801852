# SPDX-License-Identifier: MIT
# Tests examples/pipeline.c: the normal run (sum and item errors, producers
# counted by the collection), the fatal paths (an unreadable file closes the
# collection with an error after the queued lines; too many bad lines stop
# everything with shutdown, and destroy's release frees what is left),
# --stats, and bad usage. Leaks are caught by ASan in the asan
# build and by valgrind (if installed) in the plain one.
. "$(dirname "$0")/lib.sh"

# Generated input (no arguments): 4 x 20000 lines, one bad line per file.
run 1 "generated" "$exe"
want=$(awk 'BEGIN { for (f = 0; f < 4; f++) for (i = 1; i <= 20000; i++)
                      if (i != 1000 * (f + 1)) s += (i * 7919 + f) % 1000
                    printf "lines: 79996 good, 4 bad, sum %d\n", s }')
[ "$(cat "$dir/out")" = "$want" ] || fail "generated: got '$(cat "$dir/out")', want '$want'"
[ "$(grep -c 'not a number' "$dir/err")" -eq 4 ] || fail "generated: item errors not reported"

# Files: two clean ones and one with two bad lines.
seq 1 30000 >"$dir/a.txt"
seq -500 7 20000 >"$dir/b.txt"
printf '5\nfive\n  \n-3\n2\t\n' >"$dir/c.txt"
good=$(cat "$dir/a.txt" "$dir/b.txt" | wc -l)
good=$((good + 3))
sum=$(cat "$dir/a.txt" "$dir/b.txt" | awk '{ s += $1 } END { printf "%d", s + 5 - 3 + 2 }')
for pc in "1 1" "2 3" "3 1"; do
    set -- $pc
    run 1 "files -p $1 -c $2" "$exe" -p "$1" -c "$2" "$dir/a.txt" "$dir/b.txt" "$dir/c.txt"
    [ "$(cat "$dir/out")" = "lines: $good good, 2 bad, sum $sum" ] ||
        fail "files -p $1 -c $2: got '$(cat "$dir/out")'"
    sort "$dir/err" >"$dir/err.sorted"
    printf "pipeline: %s:2: not a number: 'five'\npipeline: %s:3: not a number: '  '\n" \
        "$dir/c.txt" "$dir/c.txt" | sort >"$dir/err.want"
    cmp -s "$dir/err.sorted" "$dir/err.want" || { cat "$dir/err"; fail "item error messages"; }
done
run 0 "clean files" "$exe" "$dir/a.txt" "$dir/b.txt"
clean_stderr "clean files"

# Fatal: a missing file stops the pipeline; one message, status 2.
run 2 "missing file" "$exe" "$dir/a.txt" "$dir/missing.txt" "$dir/b.txt"
grep -q "^pipeline: fatal: $dir/missing.txt: No such file or directory" "$dir/err" ||
    fail "missing file: $(cat "$dir/err")"
[ "$(wc -l <"$dir/err")" -eq 1 ] || fail "missing file: more than one message"
grep -q "(stopped, 0 queued lines dropped)" "$dir/err" || fail "missing file: queued lines dropped"

# --stats: the collection's counters, every line added once.
run 0 "stats" "$exe" --stats -p 3 "$dir/a.txt" "$dir/b.txt"
ab=$(cat "$dir/a.txt" "$dir/b.txt" | wc -l)
grep -q "^pipeline: queue: $ab lines added, at most [0-9]* queued; adders slept" "$dir/err" ||
    fail "stats: $(cat "$dir/err")"

# Fatal: too many bad lines (every 10th of 100000), with a full queue.
awk 'BEGIN { for (i = 1; i <= 100000; i++) print (i % 10 ? i : "bad") }' >"$dir/bad.txt"
run 2 "too many errors" "$exe" -e 5 "$dir/bad.txt"
grep -q '^pipeline: fatal: too many bad lines' "$dir/err" || fail "too many errors: no fatal"
[ "$(grep -c 'not a number' "$dir/err")" -ge 6 ] || fail "too many errors: bad lines not reported"

if [ "$sanitizer" = none ] && command -v valgrind >/dev/null 2>&1; then
    for args in "-e 5 $dir/bad.txt" "$dir/a.txt $dir/missing.txt"; do
        # shellcheck disable=SC2086
        valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
            --error-exitcode=99 "$exe" $args >/dev/null 2>"$dir/vg" || [ $? -ne 99 ] ||
            { cat "$dir/vg"; fail "valgrind: $args"; }
    done
fi

# --help and -h: the usage on stdout, status 0.
for h in --help -h; do
    run 0 "$h" "$exe" $h
    clean_stderr "$h"
    grep -q '^usage: pipeline ' "$dir/out" || fail "$h: no usage line"
done

expect_error "unknown flag" "$exe" -x
expect_error "bad count" "$exe" -p 0
expect_error "bad count" "$exe" -c many
expect_error "missing value" "$exe" -e
echo "pipeline: all tests passed"
