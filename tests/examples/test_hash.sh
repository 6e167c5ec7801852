# SPDX-License-Identifier: MIT
# Tests examples/weft-hash.c against the real `xxhsum -H3` (xxhash 0.8.1) on
# a generated tree: empty, small and large files, nested directories, odd
# names, symbolic links (to a file: hashed; to a directory, a cycle
# included: skipped, as `find -type f` skips them, where xxhsum would say
# "Is a directory"; given as PATH: followed), a FIFO (skipped) and a
# dangling link (unreadable, also as root: reported, the rest still hashed,
# status 1); --help.
. "$(dirname "$0")/lib.sh"
command -v xxhsum >/dev/null 2>&1 || fail "xxhsum (package xxhash) is not installed"

t=$dir/tree
mkdir -p "$t/sub/deeper" "$t/empty-dir" "$t/sub-dir"
: >"$t/empty"
printf 'hello\n' >"$t/small"
head -c 3000000 /dev/urandom >"$t/sub/large"
head -c 1000 /dev/urandom >"$t/sub/deeper/kilo"
printf 'a name with spaces\n' >"$t/with space.txt"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "file $i" >"$t/sub-dir/f$i"; done
echo dash >"$t/sub-x"   # '-' sorts before '/': sub-x comes before sub/...
ln -s small "$t/link-to-small"
ln -s sub-dir "$t/link-to-dir"
ln -s .. "$t/sub/deeper/loop"   # a cycle, if it were followed
mkfifo "$t/sub/fifo"

# The sorted list of files and links, but not links to directories, through
# xxhsum; its status to $dir/xstatus.
expected() {
    st=0
    find "$@" \( -type f -o \( -type l ! -xtype d \) \) | sort >"$dir/list"
    tr '\n' '\0' <"$dir/list" | xargs -0 xxhsum -H3 >"$dir/want" 2>"$dir/xerr" || st=$?
    echo $st >"$dir/xstatus"
}

# 1. A readable tree: same output as xxhsum, status 0, nothing on stderr.
expected "$t"
[ "$(cat "$dir/xstatus")" = 0 ] || fail "xxhsum failed on the clean tree"
for p in 1 2 4; do
    run 0 "clean tree -p $p" "$exe" -p $p "$t"
    clean_stderr "clean tree -p $p"
    cmp -s "$dir/out" "$dir/want" || { diff "$dir/want" "$dir/out" | head; fail "clean tree -p $p"; }
done
[ "$(wc -l <"$dir/out")" -eq 19 ] || fail "clean tree: expected 19 files"
# --progress (a wait with a timeout): the same output; progress lines only on stderr.
run 0 "clean tree --progress" "$exe" --progress -p 1 "$t"
cmp -s "$dir/out" "$dir/want" || { diff "$dir/want" "$dir/out" | head; fail "--progress output"; }
grep -qv '^weft-hash: [0-9]* of 19 files$' "$dir/err" && fail "--progress: $(cat "$dir/err")"

# 2. A dangling link: reported on stderr, every other file still hashed.
ln -s does-not-exist "$t/sub/dangling"
expected "$t"
[ "$(cat "$dir/xstatus")" != 0 ] || fail "xxhsum did not fail on the dangling link"
run 1 "dangling link" "$exe" "$t"
cmp -s "$dir/out" "$dir/want" || { diff "$dir/want" "$dir/out" | head; fail "dangling link"; }
grep -qx "weft-hash: $t/sub/dangling: No such file or directory" "$dir/err" ||
    fail "dangling link: $(cat "$dir/err")"
[ "$(wc -l <"$dir/err")" -eq 1 ] || fail "dangling link: more than one message"

# 3. No argument: the current directory, with ./ paths like find prints.
(cd "$t/sub-dir" && "$exe" >"$dir/out")
(cd "$t/sub-dir" && find . -type f | sort | xargs xxhsum -H3 2>/dev/null) >"$dir/want"
cmp -s "$dir/out" "$dir/want" || fail "no argument"

# 4. A PATH that is a link to a directory is followed (find -H).
run 0 "link as PATH" "$exe" "$t/link-to-dir"
find -H "$t/link-to-dir" -type f | sort | xargs xxhsum -H3 >"$dir/want" 2>/dev/null
cmp -s "$dir/out" "$dir/want" || { diff "$dir/want" "$dir/out" | head; fail "link as PATH"; }
[ "$(wc -l <"$dir/out")" -eq 12 ] || fail "link as PATH: expected 12 files"

# 5. --help and -h: the usage on stdout, status 0.
for h in --help -h; do
    run 0 "$h" "$exe" $h
    clean_stderr "$h"
    grep -q '^usage: weft-hash ' "$dir/out" || fail "$h: no usage line"
done

# 6. Several arguments, a file among them; a trailing slash.
run 0 "arguments" "$exe" "$t/sub-dir/" "$t/small"
{ find "$t/sub-dir/" -type f; echo "$t/small"; } | sort | xargs xxhsum -H3 >"$dir/want" 2>/dev/null
cmp -s "$dir/out" "$dir/want" || { diff "$dir/want" "$dir/out" | head; fail "arguments"; }

expect_error "missing path" "$exe" "$dir/missing"
expect_error "bad workers" "$exe" -p -1
expect_error "unknown flag" "$exe" -q
echo "weft-hash: all tests passed"
