#!/bin/sh
# Import throughput: movierec's import of a generated 25M-rating set (the
# size of ml-25m: 162k users, 62k movies) side by side with the sqlite3
# shell's `.import` of the same ratings.csv into a bare table, plus ml-100k.
# Prints the median of RUNS runs (default 3) and each run's figures.
#
#   bench/import.sh                 (RATINGS=25000000 USERS=162000 MOVIES=62000 RUNS=3)
#   BENCH_DIR=/big/disk bench/import.sh
#
# Not a test: machines are shared and noisy; read the medians.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
RATINGS=${RATINGS:-25000000}
USERS=${USERS:-162000}
MOVIES=${MOVIES:-62000}
RUNS=${RUNS:-3}
dir=${BENCH_DIR:-/tmp/movierec-bench}
set_dir="$dir/set-$RATINGS"
mr="$top/build/movierec"

scripts/install-deps
command -v /usr/bin/time >/dev/null 2>&1 || { echo "bench: needs /usr/bin/time (apt-get install time)"; exit 1; }
make -s all
mkdir -p "$dir"
if [ ! -f "$set_dir/ratings.csv" ]; then
    echo "generating $RATINGS ratings into $set_dir ..."
    "$mr" generate "$set_dir" --users "$USERS" --movies "$MOVIES" --ratings "$RATINGS" --seed 1 --force
fi
lines=$(($(wc -l <"$set_dir/ratings.csv") - 1))

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run LABEL command...: appends "seconds rss_kb" per run to $dir/LABEL.runs
run() {
    label=$1
    shift
    : >"$dir/$label.runs"
    i=0
    while [ $i -lt "$RUNS" ]; do
        rm -rf "$dir/home" "$dir/ref.db"
        /usr/bin/time -f "%e %M" -o "$dir/time.out" "$@" >/dev/null 2>"$dir/$label.err" || {
            echo "bench: $label failed:"; cat "$dir/$label.err"; exit 1; }
        cat "$dir/time.out" >>"$dir/$label.runs"
        i=$((i + 1))
    done
}

echo "importing $lines ratings, $RUNS runs each ..."
run movierec "$mr" --home "$dir/home" import "$set_dir"
run sqlite3 sqlite3 "$dir/ref.db" -cmd ".mode csv" ".import $set_dir/ratings.csv ratings"
ml100k="$top/../shared/data/ml-100k"
[ -f "$ml100k/u.data" ] && run ml100k "$mr" --home "$dir/home" import "$ml100k"

mt=$(cut -d' ' -f1 "$dir/movierec.runs" | median)
mr_rss=$(cut -d' ' -f2 "$dir/movierec.runs" | median)
st=$(cut -d' ' -f1 "$dir/sqlite3.runs" | median)
st_rss=$(cut -d' ' -f2 "$dir/sqlite3.runs" | median)
echo
printf '%-34s %10s %14s %12s\n' "import of $lines ratings" "seconds" "ratings/s" "peak RSS"
printf '%-34s %10.2f %14.0f %9.0f MiB\n' "movierec import (store + checks)" "$mt" \
    "$(echo "$lines $mt" | awk '{print $1/$2}')" "$(echo "$mr_rss" | awk '{print $1/1024}')"
printf '%-34s %10.2f %14.0f %9.0f MiB\n' "sqlite3 shell .import (bare table)" "$st" \
    "$(echo "$lines $st" | awk '{print $1/$2}')" "$(echo "$st_rss" | awk '{print $1/1024}')"
printf 'ratio: movierec is %.2fx the sqlite3 shell\n' "$(echo "$st $mt" | awk '{print $1/$2}')"
if [ -f "$dir/ml100k.runs" ]; then
    printf 'ml-100k import: %.2f s (median of %d)\n' "$(cut -d' ' -f1 "$dir/ml100k.runs" | median)" "$RUNS"
fi
echo "runs (seconds, peak RSS KiB):"
for f in movierec sqlite3 ml100k; do
    [ -f "$dir/$f.runs" ] && echo "  $f: $(tr '\n' ';' <"$dir/$f.runs")"
done
rm -rf "$dir/home" "$dir/ref.db"
