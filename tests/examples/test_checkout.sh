# SPDX-License-Identifier: MIT
# Tests examples/checkout.c: every customer served exactly once, VIPs served
# earlier on average, same seed -> same first summary line, bad usage.
. "$(dirname "$0")/lib.sh"

for mode in priority lanes; do
    flag=
    [ $mode = priority ] || flag=--lanes
    run 0 "$mode run" "$exe" --seed 7 --customers 400 --cashiers 3 $flag
    clean_stderr "$mode run"
    cp "$dir/out" "$dir/first"
    grep -qx 'served: 400, exactly once: 400, takings match the bill' "$dir/out" ||
        fail "$mode: not every customer was served exactly once: $(cat "$dir/out")"
    grep -q "queue: $( [ $mode = priority ] && echo priority || echo two lanes)\$" "$dir/out" ||
        fail "$mode: wrong queue kind"
    awk '/^served rank - arrival rank, mean: vip / { found = 1; ok = ($8 + 0 < $10 + 0) }
         END { exit !(found && ok) }' "$dir/out" ||
        fail "$mode: VIPs were not served earlier on average: $(tail -1 "$dir/out")"
    run 0 "$mode rerun" "$exe" --seed 7 --customers 400 --cashiers 3 $flag
    [ "$(head -1 "$dir/out")" = "$(head -1 "$dir/first")" ] ||
        fail "$mode: same seed, different summary"
    grep -q '^checkout: seed 7, 400 customers ([0-9]* vip), [0-9]* items, total [0-9]*\.[0-9][0-9]$' \
        "$dir/first" || fail "$mode: bad first line: $(head -1 "$dir/first")"
done

run 0 "seed 8" "$exe" --seed 8 --customers 400 --cashiers 3
[ "$(head -1 "$dir/out")" != "$(head -1 "$dir/first")" ] || fail "seed ignored"
run 0 "one cashier, no vip" "$exe" --customers 50 --cashiers 1 --entrances 5 --vip 0
clean_stderr "one cashier"
grep -qx 'served: 50, exactly once: 50, takings match the bill' "$dir/out" || fail "one cashier"

# --help and -h: the usage on stdout, status 0.
for h in --help -h; do
    run 0 "$h" "$exe" $h
    clean_stderr "$h"
    grep -q '^usage: checkout ' "$dir/out" || fail "$h: no usage line"
done

expect_error "unknown flag" "$exe" --bogus
expect_error "bad number" "$exe" --customers 12x
expect_error "zero cashiers" "$exe" --cashiers 0
expect_error "missing value" "$exe" --seed
expect_error "extra argument" "$exe" extra
echo "checkout: all tests passed"
