#!/bin/sh
# Similar-movie latency and quality (bench/similar.c): the float scan
# (sgemv + recall_topk), the full-dimension int8 scan + exact rescore
# (qindex_build) and the reduced int8 scan (qindex_build_reduced, rank R)
# + the same rescore, one thread, k=10, at MovieLens' catalogue sizes:
# 1,682 movies (ml-100k) and 62,000 (ml-latest).
#
# With MODEL and DB (a trained model's version folder and its store), the
# vectors are that model's movie-tower outputs: the real movies, and past
# them synthetic ones mixed from real movies' ids, genres and titles
# (bench/similar.c); the 1,682 run also prints the quality grid (top-10
# overlap for R in 32..96 and RESCORE in 32..128). The store is copied
# first: opening it may write to it. Without MODEL, random Gaussian unit
# vectors of DIM (full rank; not what a tower gives).
#
#   MODEL=/tmp/w100/models/watch/1 DB=/tmp/w100/movierec.db bench/similar.sh
#   bench/similar.sh                 (Gaussian; DIM=200 QUERIES=2000 R=64 RESCORE=32 SEED=1)
#   LIB=/path/to/libmovierec.a bench/similar.sh   (skip `make`)
#   QSCAN=1 bench/similar.sh         (bench/qscan.c only: the int8 scan's latency)
#
# Not a test: machines are shared and noisy; rerun before believing a p99.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
DIM=${DIM:-200}
QUERIES=${QUERIES:-2000}
R=${R:-64}
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
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O3 -march=native -fno-math-errno -fno-trapping-math -pthread \
    -Wall -Wextra -o build/bench/qscan bench/qscan.c "$LIB" \
    $(pkg-config --cflags --libs $pkgs) -lm -pthread
export OPENBLAS_NUM_THREADS=1
# QSCAN=1: qindex_topk alone as the pipeline's recall channels call it
# (bench/qscan.c: r 32 / 64 / full, k 100 / 10, rescore -1 / 32), then stop
if [ -n "${QSCAN:-}" ]; then
    build/bench/qscan -q "$QUERIES" -S "$SEED"
    exit 0
fi
common="-q $QUERIES -r $R -s $RESCORE -S $SEED"
if [ -n "${MODEL:-}" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp "${DB:?DB= goes with MODEL=}" "$tmp/movierec.db"
    # shellcheck disable=SC2086
    build/bench/similar -m "$MODEL" -d "$tmp/movierec.db" -Q $common
    echo
    # shellcheck disable=SC2086
    build/bench/similar -m "$MODEL" -d "$tmp/movierec.db" -n 62000 $common
else
    for n in 62000 1682; do
        # shellcheck disable=SC2086
        build/bench/similar -n "$n" -D "$DIM" $common
        echo
    done
fi
