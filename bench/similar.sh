#!/bin/sh
# Similar-movie latency (bench/similar.c): the int8 scan + exact rescore of
# src/recall/qindex.c against the plain float scan (sgemv + recall_topk),
# one thread, k=10, at MovieLens' catalogue sizes: 62,000 movies
# (ml-latest) and 1,682 (ml-100k), dim 200 by default.
#
#   bench/similar.sh                 (DIM=200 QUERIES=2000 RESCORE=32 SEED=1)
#   DIM=64 bench/similar.sh
#   LIB=/path/to/libmovierec.a bench/similar.sh   (skip `make`)
#
# Not a test: machines are shared and noisy; rerun before believing a p99.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
DIM=${DIM:-200}
QUERIES=${QUERIES:-2000}
RESCORE=${RESCORE:-32}
SEED=${SEED:-1}
if [ -z "${LIB:-}" ]; then
    make -s build/libmovierec.a
    LIB=build/libmovierec.a
fi
mkdir -p build/bench
pkgs="openblas jansson sqlite3 libcurl libarchive libcrypto zlib"
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O3 -march=native -fno-math-errno -fno-trapping-math -pthread \
    -Wall -Wextra -o build/bench/similar bench/similar.c "$LIB" \
    $(pkg-config --cflags --libs $pkgs) -lm -pthread
export OPENBLAS_NUM_THREADS=1
for n in 62000 1682; do
    build/bench/similar "$n" "$DIM" "$QUERIES" "$RESCORE" "$SEED"
    echo
done
