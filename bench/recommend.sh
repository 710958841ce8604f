#!/bin/sh
# Latency of one recommendation and of similar movies, in process, one
# thread (bench/recommend.c), on ml-100k with trained models and on a
# synthetic set of ml-25m size (62k movies, 162k users, 25M ratings from
# `movierec generate`) with a random-weight deep model (its cost does not
# depend on its values) and recall channels trained here.
#
#   bench/recommend.sh                 both sets (ml-100k from ../shared/data)
#   HOME100=/path/home bench/recommend.sh     reuse a trained ml-100k home
#   HOME25=/path/home  bench/recommend.sh     reuse an imported 25M store
#   ALS_ITER=15 bench/recommend.sh     ALS iterations when the 25M set has no
#                                      saved recall models (2 is enough for
#                                      latency; `train --label recall` saves them)
#   ALS25=1 bench/recommend.sh         also time ALS alone (15 iterations) at 25M
#   SKIP25=1 bench/recommend.sh
#
# Not a test: machines are shared and noisy; rerun before believing a p99.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
QUERIES=${QUERIES:-2000}
ALS_ITER=${ALS_ITER:-2}
make -s build/libmovierec.a build/movierec
mkdir -p build/bench
pkgs="openblas jansson sqlite3 libcurl libarchive libcrypto zlib"
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O3 -march=native -fno-math-errno -fno-trapping-math -pthread \
    -Wall -Wextra -o build/bench/recommend bench/recommend.c build/libmovierec.a \
    $(pkg-config --cflags --libs $pkgs) -lm -pthread
export OPENBLAS_NUM_THREADS=1
work=${TMPDIR:-/tmp}/movierec-bench-rec
mkdir -p "$work"

if [ -z "${HOME100:-}" ]; then
    HOME100=$work/ml100k
    if [ ! -d "$HOME100/models/recall" ]; then
        data=${MOVIEREC_DATA:-$top/../shared/data}/ml-100k
        [ -d "$data" ] || { echo "no ml-100k at $data (set MOVIEREC_DATA)" >&2; exit 1; }
        rm -rf "$HOME100"
        build/movierec --home "$HOME100" import "$data"
        build/movierec --home "$HOME100" train --label watch
        build/movierec --home "$HOME100" train --label recall
    fi
fi
echo "== ml-100k (trained models) =="
build/bench/recommend "$HOME100" -q "$QUERIES"
build/bench/recommend "$HOME100" --als-runs 3 | tail -1

[ -n "${SKIP25:-}" ] && exit 0
if [ -z "${HOME25:-}" ]; then
    HOME25=$work/ml25m
    if [ ! -f "$HOME25/movierec.db" ]; then
        build/movierec generate "$work/gen25" --users 162000 --movies 62000 --ratings 25000000 --seed 1
        build/movierec --home "$HOME25" import "$work/gen25"
        rm -rf "$work/gen25"
    fi
fi
echo
echo "== synthetic ml-25m size (random-weight deep model) =="
build/bench/recommend "$HOME25" -q "$QUERIES" --synthetic --als-iterations "$ALS_ITER"
[ -n "${ALS25:-}" ] && build/bench/recommend "$HOME25" --als-runs 1 | tail -1
