# SPDX-License-Identifier: MIT
# Tests examples/weft-gzip.c: round trips through `gzip -dc` (random, text,
# empty and chunk-boundary inputs; stdin and file; several -p and -l), the
# gzip/pigz command line (-1..-9, -c, -k, -f, -o, FILE -> FILE.gz with mode
# and times kept and FILE removed, existing outputs, .gz inputs, several
# files), --help, the bounded memory of the bench mode, the write-error
# path, and bad usage.
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
# A file argument with -c, and "-" for stdin.
run 0 "file argument" "$exe" -c -p 2 "$dir/text"
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

# --help and -h: the usage on stdout, status 0.
for h in --help -h; do
    run 0 "$h" "$exe" $h
    clean_stderr "$h"
    grep -q '^usage: weft-gzip ' "$dir/out" || fail "$h: no usage line"
    grep -q -- '--keep' "$dir/out" || fail "$h: options not described"
done

# Levels as gzip spells them: -1 .. -9, --fast, --best; -9 is no larger.
for l in -1 -5 -9 --fast --best; do
    roundtrip text "$l"
done
"$exe" -1 <"$dir/text" >"$dir/l1.gz"
"$exe" -9 <"$dir/text" >"$dir/l9.gz"
"$exe" -l 9 <"$dir/text" >"$dir/l9b.gz"
[ "$(wc -c <"$dir/l9.gz")" -le "$(wc -c <"$dir/l1.gz")" ] || fail "-9 larger than -1"
cmp -s "$dir/l9.gz" "$dir/l9b.gz" || fail "-9 and -l 9 differ"

# FILE -> FILE.gz, as gzip: the input removed, mode and times kept.
f=$dir/f
mkdir -p "$f"
cp "$dir/text" "$f/a"
cp "$dir/random" "$f/b"
chmod 640 "$f/a"
touch -d '2001-02-03 04:05:06' "$f/a"
run 0 "FILE -> FILE.gz" "$exe" "$f/a" "$f/b"
clean_stderr "FILE -> FILE.gz"
[ ! -s "$dir/out" ] || fail "FILE -> FILE.gz wrote to stdout"
[ ! -e "$f/a" ] && [ ! -e "$f/b" ] || fail "inputs not removed"
gzip -dc "$f/a.gz" | cmp -s - "$dir/text" || fail "a.gz round trip"
gzip -dc "$f/b.gz" | cmp -s - "$dir/random" || fail "b.gz round trip"
[ "$(stat -c %a "$f/a.gz")" = 640 ] || fail "mode not kept: $(stat -c %a "$f/a.gz")"
[ "$(stat -c %Y "$f/a.gz")" = "$(date -d '2001-02-03 04:05:06' +%s)" ] || fail "mtime not kept"
# -k keeps the input; an existing output is not overwritten without -f.
cp "$dir/one" "$f/a"
run 1 "existing FILE.gz" "$exe" -k "$f/a"
grep -q "a.gz: File exists" "$dir/err" || fail "existing: $(cat "$dir/err")"
[ -e "$f/a" ] || fail "existing: input removed"
gzip -dc "$f/a.gz" | cmp -s - "$dir/text" || fail "existing: output overwritten without -f"
run 0 "-k -f" "$exe" -k -f "$f/a"
[ -e "$f/a" ] || fail "-k: input removed"
gzip -dc "$f/a.gz" | cmp -s - "$dir/one" || fail "-f: output not overwritten"
# An input that already ends in .gz is left alone; the others are done.
cp "$dir/one" "$f/c"
run 1 ".gz input" "$exe" "$f/a.gz" "$f/c"
grep -q "a.gz: already has .gz suffix" "$dir/err" || fail ".gz input: $(cat "$dir/err")"
[ -e "$f/c.gz" ] && [ ! -e "$f/c" ] && [ ! -e "$f/a.gz.gz" ] || fail ".gz input: wrong files"
# -c and -o: several inputs become concatenated members; inputs kept.
cp "$dir/text" "$f/x"
cp "$dir/chunk1" "$f/y"
run 0 "-c two files" "$exe" -c "$f/x" "$f/y"
cat "$f/x" "$f/y" >"$dir/xy"
gzip -dc <"$dir/out" | cmp -s - "$dir/xy" || fail "-c: concatenation differs"
run 0 "-o two files" "$exe" -o "$f/xy.gz" "$f/x" "$f/y"
[ -e "$f/x" ] && [ -e "$f/y" ] || fail "-o: inputs removed"
gzip -dc "$f/xy.gz" | cmp -s - "$dir/xy" || fail "-o: output differs"
run 1 "-o existing" "$exe" -o "$f/xy.gz" "$f/x"
run 0 "-o -f stdin" "$exe" -f -o "$f/xy.gz" <"$dir/one"
gzip -dc "$f/xy.gz" | cmp -s - "$dir/one" || fail "-o -f: not overwritten"
# A missing file among others: reported, the others done, status 1.
run 1 "missing among others" "$exe" -k "$f/x" "$dir/missing" "$f/y"
[ "$(wc -l <"$dir/err")" -eq 1 ] || fail "missing among others: $(cat "$dir/err")"
[ -e "$f/x.gz" ] && [ -e "$f/y.gz" ] || fail "missing among others: the others not done"

expect_error "missing file" "$exe" "$dir/missing"
expect_error "a directory" "$exe" "$dir"
expect_error "bad level" "$exe" -l 10
expect_error "bad workers" "$exe" -p x
expect_error "unknown flag" "$exe" -z
expect_error "bench with a file" "$exe" -b 1 "$dir/text"
expect_error "missing -o value" "$exe" -o
echo "weft-gzip: all tests passed"
