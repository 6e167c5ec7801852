#!/bin/sh
# SPDX-License-Identifier: MIT
# The install test: runs the README's own commands, read from README.md (the
# fenced blocks after `<!-- install-test: NAME -->` markers), so the README
# and this test cannot drift. In a scratch HOME it installs the build tree
# into a prefix outside the loader's path, then builds and runs a C and a
# C++ consumer (consumer.c, consumer.cpp, as prog.c and prog.cpp):
#   - pkg-config, shared library, where liburcu's .pc files are not found;
#   - pkg-config, static library (-static);
#   - CMake, shared library, where liburcu's development files are not found
#     (no cache entry, no link flag, no message mentions liburcu);
#   - CMake, static library (COMPONENTS static), and the same project failing
#     with a clear message where liburcu's development files are missing;
#   - find_package(weft QUIET) printing nothing;
# and the README's two examples (C and C++) through the pkg-config commands.
# Usage: sh test_install.sh BUILD-DIR SOURCE-DIR WORK-DIR
set -eu
build=$1 src=$2 work=$3
readme=$src/README.md
here=$src/tests/install
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
unset LD_LIBRARY_PATH PKG_CONFIG_PATH PKG_CONFIG_LIBDIR CMAKE_PREFIX_PATH CMAKE_TOOLCHAIN_FILE

fail() {
    echo "install test: FAIL: $*" >&2
    exit 1
}

# block NAME: the fenced block that follows <!-- install-test: NAME --> in README.md.
block() {
    b=$(awk -v name="$1" '
        $0 == "<!-- install-test: " name " -->" { want = 1; next }
        want == 1 && /^```/ { want = 2; next }
        want == 2 && /^```/ { exit }
        want == 2 { print }' "$readme")
    [ -n "$b" ] || fail "README.md has no block marked install-test: $1"
    printf '%s\n' "$b"
}

# run_blocks DIR NAME...: what a user does: the README's install block in
# the weft tree, then the blocks NAME... in DIR, as one `sh -eu` script (so
# the install block's variables reach the others). $extra_env (shell lines)
# runs before the blocks NAME. Output goes to DIR/log.
extra_env=""
run_blocks() {
    dir=$1
    shift
    {
        echo "set -eu"
        echo "cd '$work/weft'"
        block install
        echo "cd '$dir'"
        printf '%s\n' "$extra_env"
        for name in "$@"; do
            echo "# --- install-test: $name"
            block "$name"
        done
    } >"$dir/script.sh"
    sh "$dir/script.sh" >"$dir/log" 2>&1 || { cat "$dir/log" >&2; fail "README blocks $* (in $dir)"; }
}

# A scratch HOME, and a weft tree whose build/release is the build under test.
export HOME="$work/home"
mkdir -p "$HOME" "$work/weft/build"
ln -s "$(cd "$build" && pwd)" "$work/weft/build/release"

# 1. Install, as the README says, and look at what it installed.
vars=$(cd "$work/weft" && eval "$(block install)" >/dev/null &&
    printf '%s\n%s\n' "$prefix" "$PKG_CONFIG_PATH")
prefix=$(printf '%s\n' "$vars" | sed -n 1p)
PKG_CONFIG_PATH=$(printf '%s\n' "$vars" | sed -n 2p)
export PKG_CONFIG_PATH
[ -d "$prefix" ] || fail "nothing installed in $prefix"
libdir=$(pkg-config --variable=libdir weft)
version=$(pkg-config --modversion weft)
soname=libweft.so.$(echo "$version" | cut -d. -f1,2)
[ -f "$libdir/$soname" ] || fail "no $soname in $libdir (the SONAME follows MAJOR.MINOR)"
readelf -d "$libdir/libweft.so" | grep -q "SONAME.*\[$soname\]" || fail "SONAME is not $soname"
case " $(pkg-config --libs weft) " in
*urcu*) fail "pkg-config --libs weft names liburcu: $(pkg-config --libs weft)" ;;
esac
pkg-config --static --libs weft | grep -q -- '-lurcu-common' || fail "Libs.private lacks -lurcu-common"
[ -f "$prefix/include/weft/weft.hpp" ] || fail "weft.hpp not installed"
[ -f "$prefix/share/doc/weft/LICENSE" ] || fail "LICENSE not installed"
if [ -f "$build/docs/Doxyfile" ]; then # built with the reference (WEFT_BUILD_DOCS)
    [ -f "$prefix/share/doc/weft/html/index.html" ] || fail "HTML reference not installed"
    MANPAGER=cat MANWIDTH=80 man -M "$prefix/share/man" weft_collection_take >"$work/man.txt" 2>&1 ||
        { cat "$work/man.txt" >&2; fail "man weft_collection_take"; }
    grep -q 'int weft_collection_take' "$work/man.txt" || fail "man weft_collection_take: no synopsis"
fi

# "No liburcu-dev": pkg-config finds no .pc file but weft's (an empty
# PKG_CONFIG_LIBDIR replaces the system directories), CMake no liburcu
# library (a toolchain file, read from the environment, ignores the
# directories that hold its development links).
mkdir -p "$work/no-pc"
urcu_dirs=""
for d in $(pkg-config --variable=libdir liburcu-cds) /usr/lib /lib /usr/local/lib; do
    for f in "$d"/liburcu-common.so "$d"/*/liburcu-common.so; do
        [ -e "$f" ] || continue
        dd=$(dirname "$f")
        urcu_dirs="$urcu_dirs $dd $(cd "$dd" && pwd -P)"
    done
done
[ -n "$urcu_dirs" ] || fail "liburcu-common.so not found (the static cases need liburcu-dev)"
echo "set(CMAKE_IGNORE_PATH $urcu_dirs)" >"$work/no-dev-files.cmake"
no_dev_env="export PKG_CONFIG_LIBDIR='$work/no-pc' CMAKE_TOOLCHAIN_FILE='$work/no-dev-files.cmake'"
no_dev() {
    env PKG_CONFIG_LIBDIR="$work/no-pc" CMAKE_TOOLCHAIN_FILE="$work/no-dev-files.cmake" "$@"
}
PKG_CONFIG_LIBDIR="$work/no-pc" pkg-config --exists liburcu-cds &&
    fail "the no-liburcu-dev setup still finds liburcu-cds.pc"

consumer_dir() { # consumer_dir DIR PROG.C PROG.CPP: a consumer's directory
    mkdir -p "$1"
    cp "$2" "$1/prog.c"
    cp "$3" "$1/prog.cpp"
}

# 2. pkg-config, shared library, without liburcu's .pc files.
consumer_dir "$work/pc" "$here/consumer.c" "$here/consumer.cpp"
extra_env=$no_dev_env
run_blocks "$work/pc" pkg-config
extra_env=""
grep -qx 'consumer ok' "$work/pc/log" || fail "pkg-config: C consumer output"
grep -qx 'c++ consumer ok' "$work/pc/log" || fail "pkg-config: C++ consumer output"

# 3. pkg-config, static library.
run_blocks "$work/pc" pkg-config-static
[ "$(grep -cx 'consumer ok\|c++ consumer ok' "$work/pc/log")" -eq 2 ] || fail "static consumers"
readelf -d "$work/pc/prog-static" 2>/dev/null | grep -q NEEDED && fail "prog-static is not static"

# 4. CMake, shared library, without liburcu's development files.
consumer_dir "$work/cmake" "$here/consumer.c" "$here/consumer.cpp"
block CMakeLists.txt >"$work/cmake/CMakeLists.txt"
extra_env=$no_dev_env
run_blocks "$work/cmake" cmake
extra_env=""
grep -qx 'c++ consumer ok' "$work/cmake/log" || fail "cmake: consumers' output"
grep -qi 'urcu' "$work/cmake/build/CMakeCache.txt" && fail "cmake: liburcu in the consumer's cache"
grep -qi 'urcu' "$work/cmake/log" && fail "cmake: liburcu mentioned while configuring"
link="$work/cmake/build/CMakeFiles/prog.dir/link.txt"
[ -f "$link" ] || fail "cmake: no $link"
grep -qi 'urcu' "$link" && fail "cmake: prog links liburcu"

# 5. CMake, static library too; then the same without liburcu-dev: a clear error.
consumer_dir "$work/cmake-static" "$here/consumer.c" "$here/consumer.cpp"
{ block CMakeLists.txt; block "CMakeLists.txt static"; } >"$work/cmake-static/CMakeLists.txt"
run_blocks "$work/cmake-static" cmake
"$work/cmake-static/build/prog-static" | grep -qx 'consumer ok' || fail "cmake: prog-static"
if no_dev cmake -S "$work/cmake-static" -B "$work/cmake-static/build-nodev" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake-static/nodev.log" 2>&1; then
    fail "cmake: COMPONENTS static configured without liburcu-dev"
fi
grep -q 'liburcu-dev' "$work/cmake-static/nodev.log" ||
    { cat "$work/cmake-static/nodev.log" >&2; fail "cmake: no hint at liburcu-dev"; }

# 6. find_package(weft QUIET): silent when found, and silent when not.
mkdir -p "$work/quiet"
cat >"$work/quiet/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(quiet LANGUAGES C)
find_package(weft QUIET)
find_package(weft QUIET OPTIONAL_COMPONENTS static)
file(WRITE "${CMAKE_BINARY_DIR}/found" "${weft_FOUND} ${weft_static_FOUND}")
EOF
for where in "$prefix" "$work/nowhere"; do
    rm -rf "$work/quiet/build"
    no_dev cmake -S "$work/quiet" -B "$work/quiet/build" -DCMAKE_PREFIX_PATH="$where" \
        >"$work/quiet/log" 2>&1 || { cat "$work/quiet/log" >&2; fail "quiet: configure"; }
    grep -v '^-- \(The C compiler\|Detecting\|Check for working\|Configuring done\|Generating done\|Build files\)' \
        "$work/quiet/log" | grep -v '^ *$' >"$work/quiet/extra" || true
    [ ! -s "$work/quiet/extra" ] || { cat "$work/quiet/extra" >&2; fail "QUIET printed something"; }
done
[ "$(cat "$work/quiet/build/found")" = "0 " ] || fail "quiet: found from nowhere"

# 7. The README's examples, through the same pkg-config commands.
mkdir -p "$work/readme"
block example.c >"$work/readme/example.c"
block example.cpp >"$work/readme/example.cpp"
consumer_dir "$work/readme" "$work/readme/example.c" "$work/readme/example.cpp"
run_blocks "$work/readme" pkg-config
grep -qx 'fib(30) = 832040' "$work/readme/log" || fail "README C example output"
grep -qx 'task 3 failed' "$work/readme/log" || fail "README C++ example output"
# 8. The README's typed fork-join example in C++, shared and static.
mkdir -p "$work/readme-fj"
block fib.cpp >"$work/readme-fj/fib.cpp"
consumer_dir "$work/readme-fj" "$work/readme/example.c" "$work/readme-fj/fib.cpp"
run_blocks "$work/readme-fj" pkg-config pkg-config-static

echo "install test: ok (README commands: install, pkg-config, pkg-config-static, cmake; C and C++)"
