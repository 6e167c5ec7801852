#!/bin/sh
# Install the build tree into a scratch prefix, then build and run a consumer
# against it two ways: find_package(weft) and pkg-config. Any failure fails.
set -eu
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null

# 1. CMake package: weft::weft (shared) and weft::weft_static.
cmake -S "$src/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH="$(dirname "$(find "$prefix" -name 'libweft.so' | head -n 1)")" "$work/cmake/consumer"
"$work/cmake/consumer_static"

# 2. pkg-config, shared and static.
pcdir=$(dirname "$(find "$prefix" -name weft.pc | head -n 1)")
export PKG_CONFIG_PATH="$pcdir"
libdir=$(pkg-config --variable=libdir weft)
${CC:-cc} -std=c11 "$src/consumer.c" -o "$work/pc_consumer" $(pkg-config --cflags --libs weft)
LD_LIBRARY_PATH="$libdir" "$work/pc_consumer"
${CC:-cc} -std=c11 "$src/consumer.c" -o "$work/pc_consumer_static" \
    $(pkg-config --cflags weft) "$libdir/libweft.a" $(pkg-config --static --libs weft | sed "s/-lweft//")
"$work/pc_consumer_static"
echo "install consumer: ok"
