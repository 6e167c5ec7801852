# Tests examples/weft-gzip.c: round trips through `gzip -dc` (random, text,
# empty and chunk-boundary inputs; stdin and file; several -p and -l), the
# bounded memory of the bench mode, the write-error path, and bad usage.
. "$(dirname "$0")/lib.sh"

# Inputs: a few MB at most (the sanitizer builds run this too).
head -c 1500000 /dev/urandom >"$dir/random"
awk 'BEGIN { srand(3); for (i = 0; i < 60000; i++)
             printf "line %d: the %s pool steals work %d\n", i, (rand() < 0.5 ? "weft" : "warp"), rand() * 1000 }' \
    >"$dir/text"
: >"$dir/empty"
printf x >"$dir/one"
head -c 131072 "$dir/text" >"$dir/chunk"      # exactly one 128 KiB chunk
head -c 131073 "$dir/text" >"$dir/chunk1"     # one byte more
head -c 300000 /dev/zero >"$dir/zeros"

roundtrip() { # roundtrip <file> <weft-gzip options...>
    f=$1
    shift
    run 0 "compress $f $*" "$exe" "$@" <"$dir/$f"
    clean_stderr "compress $f $*"
    gzip -t <"$dir/out" 2>"$dir/gzerr" || { cat "$dir/gzerr"; fail "$f $*: invalid gzip stream"; }
    gzip -dc <"$dir/out" | cmp -s - "$dir/$f" || fail "$f $*: round trip differs"
}
for f in random text empty one chunk chunk1 zeros; do
    roundtrip $f
done
roundtrip text -p 1
roundtrip text -p 3 -l 1
roundtrip text -l 9
roundtrip random -l 0
# A file argument, and "-" for stdin.
run 0 "file argument" "$exe" -p 2 "$dir/text"
gzip -dc <"$dir/out" | cmp -s - "$dir/text" || fail "file argument: round trip differs"
run 0 "dash" "$exe" - <"$dir/one"
gzip -dc <"$dir/out" | cmp -s - "$dir/one" || fail "dash: round trip differs"
# Same input, same output, whatever the number of workers.
"$exe" -p 1 <"$dir/text" >"$dir/p1.gz"
"$exe" -p 4 <"$dir/text" >"$dir/p4.gz"
cmp -s "$dir/p1.gz" "$dir/p4.gz" || fail "output depends on the number of workers"

# Bench mode: the throughput line, and backpressure keeps at most
# capacity (2 per worker + 2) + 2 chunks in memory.
run 0 "bench" "$exe" -p 2 -b 4
clean_stderr "bench"
grep -q '^weft-gzip: 4.0 MiB of generated text in .* MiB/s, ratio .*(level 6, 2 workers, at most [0-9]* chunks of 128 KiB in memory)$' \
    "$dir/out" || fail "bench line: $(cat "$dir/out")"
peak=$(sed 's/.*at most \([0-9]*\) chunks.*/\1/' "$dir/out")
[ "$peak" -le 8 ] || fail "bench: $peak chunks in memory, the bound is 8"

# A write error (the reader of the pipe went away) stops the pipeline with
# shutdown + drain: one message, status 1, no leak (ASan build). SIGPIPE
# is ignored so that write() fails with EPIPE; sh loses the status of the
# left side of a pipe, so it goes through a file.
(
    trap '' PIPE
    { st=0; "$exe" -p 2 <"$dir/random" 2>"$dir/err" || st=$?; echo $st >"$dir/status"; } |
        head -c 10 >/dev/null
)
[ "$(cat "$dir/status")" = 1 ] || fail "write error: status $(cat "$dir/status")"
grep -qx 'weft-gzip: Broken pipe' "$dir/err" || fail "write error: $(cat "$dir/err")"

expect_error "missing file" "$exe" "$dir/missing"
expect_error "a directory" "$exe" "$dir"
expect_error "bad level" "$exe" -l 10
expect_error "bad workers" "$exe" -p x
expect_error "unknown flag" "$exe" -z
expect_error "two files" "$exe" "$dir/text" "$dir/one"
echo "weft-gzip: all tests passed"
