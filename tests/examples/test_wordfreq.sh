# SPDX-License-Identifier: MIT
# Tests examples/wordfreq.c against the shell's map-reduce:
#   tr -cs 'A-Za-z' '\n' | tr A-Z a-z | sort | uniq -c | sort -k1,1nr -k2,2
# on generated text (its own corpus and files with mixed case, digits,
# punctuation, non-ASCII bytes and more files than one batch), and bad usage.
. "$(dirname "$0")/lib.sh"

reference() { # reference <top> <file...>: the expected output
    top=$1
    shift
    cat "$@" | tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | grep -v '^$' | sort | uniq -c |
        sort -k1,1nr -k2,2 | if [ "$top" = 0 ]; then cat; else head -n "$top"; fi
}

# 1. No FILE: the built-in corpus (which --corpus prints).
run 0 "corpus" "$exe" --corpus
mv "$dir/out" "$dir/corpus.txt"
[ "$(wc -c <"$dir/corpus.txt")" -gt 1000000 ] || fail "corpus too small"
for top in 10 0; do
    run 0 "generated --top $top" "$exe" --top $top
    clean_stderr "generated --top $top"
    reference $top "$dir/corpus.txt" >"$dir/want"
    cmp -s "$dir/out" "$dir/want" || { diff "$dir/want" "$dir/out" | head; fail "generated --top $top"; }
done
[ "$(wc -l <"$dir/out")" -gt 1000 ] || fail "too few distinct words"

# 2. Files: 40 of them (more than one batch of 16), some empty.
awk -v dir="$dir" 'BEGIN {
    srand(11)
    split("The the THE tHe cat\047s dog-days a1b2c3 Weft weft\tWARP x y z naïve über 42 end.", w, " ")
    for (f = 0; f < 40; f++) {
        out = sprintf("%s/in%02d.txt", dir, f)
        printf "" >out
        for (i = 0; i < (f % 7 == 3 ? 0 : 200 + f * 37); i++)
            printf "%s%s", w[int(rand() * 16) + 1], (rand() < 0.1 ? "\n" : " ") >out
        close(out)
    }
}'
for p in 1 3; do
    run 0 "files -p $p" "$exe" -p $p --top 0 "$dir"/in*.txt
    clean_stderr "files -p $p"
    reference 0 "$dir"/in*.txt >"$dir/want"
    cmp -s "$dir/out" "$dir/want" || { diff "$dir/want" "$dir/out" | head; fail "files -p $p"; }
done
run 0 "top 3" "$exe" --top 3 "$dir"/in*.txt
reference 3 "$dir"/in*.txt >"$dir/want"
cmp -s "$dir/out" "$dir/want" || fail "--top 3"

# 3. A missing file among others: reported, the others counted, status 1.
run 1 "missing file" "$exe" --top 0 "$dir/in01.txt" "$dir/missing" "$dir/in02.txt"
grep -qx "wordfreq: $dir/missing: No such file or directory" "$dir/err" || fail "missing: $(cat "$dir/err")"
reference 0 "$dir/in01.txt" "$dir/in02.txt" >"$dir/want"
cmp -s "$dir/out" "$dir/want" || fail "missing file: the other files were not counted"

# --help and -h: the usage on stdout, status 0.
for h in --help -h; do
    run 0 "$h" "$exe" $h
    clean_stderr "$h"
    grep -q '^usage: wordfreq ' "$dir/out" || fail "$h: no usage line"
done

expect_error "a directory" "$exe" "$dir"
expect_error "bad top" "$exe" --top=-2
expect_error "bad workers" "$exe" -p lots
expect_error "unknown flag" "$exe" --bottom 3
echo "wordfreq: all tests passed"
