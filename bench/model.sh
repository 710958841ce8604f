#!/bin/sh
# The deep model side by side with its PyTorch reference (bench/torch_model.py):
# both train on ml-100k (or a generated set of its size when
# ../shared/data/ml-100k is absent) with the same labels, epochs, seed and
# threads; RUNS runs each (default 3). Prints the medians: training samples/s,
# scoring pairs/s, peak RSS, validation logloss, AUC, HR@10, NDCG@10, and the
# ratio of training throughput; then each run's figures.
#
#   bench/model.sh                  (EPOCHS=5 RUNS=3 SEED=1 THREADS=2 LABEL=watch)
#   EPOCHS=3 RUNS=1 bench/model.sh
#   DATA=/path/to/ml-1m bench/model.sh
#
# Each side prints, as the last line of its stdout, one JSON object with
# train_samples_per_s, score_pairs_per_s, peak_rss_mb, val_logloss, val_auc,
# hr10, ndcg10 and seconds (`movierec train --json`, torch_model.py); a side
# that fails shows as n/a and its stderr is kept in BENCH_DIR.
#
# PyTorch is Debian's python3-torch for /usr/bin/python3 (installed here when
# missing, with sudo when not root; `make test` never needs it). Its threads
# are OpenMP ones; OMP_WAIT_POLICY defaults to PASSIVE here because on a
# shared machine spinning OpenMP threads slowed torch's training 20x or more
# (set OMP_WAIT_POLICY=ACTIVE to measure the spinning default).
#
# Not a test: machines are shared and noisy; read the medians.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
RUNS=${RUNS:-3}
EPOCHS=${EPOCHS:-5}
SEED=${SEED:-1}
THREADS=${THREADS:-2}
LABEL=${LABEL:-watch}
DATA=${DATA:-$top/../shared/data/ml-100k}
PY=/usr/bin/python3
mr="$top/build/movierec"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY-PASSIVE}"

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || {
        echo "bench: needs python3-torch for $PY (no apt-get here)" >&2; exit 1; }
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "bench: need root (or sudo) to install python3-torch" >&2; exit 1; }
        sudo=sudo
    fi
    echo "bench: installing python3-torch ..."
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq python3-torch
fi
make -s all

dir=${BENCH_DIR:-$(mktemp -d /tmp/movierec-model-bench.XXXXXX)}
mkdir -p "$dir"
home="$dir/home"
rm -rf "$home"
if [ -d "$DATA" ]; then
    "$mr" --home "$home" import "$DATA" >/dev/null
    data_name=$(basename "$DATA")
else
    echo "bench: no data set at '$DATA'; generating one of ml-100k's size"
    "$mr" generate "$dir/set" --users 943 --movies 1682 --ratings 100000 --seed 1 --force >/dev/null
    "$mr" --home "$home" import "$dir/set" >/dev/null
    data_name="generated 100k"
fi

# run NAME command...: keeps each run's last stdout line in $dir/NAME.jsonl
# (an empty line when the command fails) and its output in $dir/NAME.N.out/.err
run() {
    name=$1
    shift
    : >"$dir/$name.jsonl"
    i=1
    while [ "$i" -le "$RUNS" ]; do
        echo "  $name run $i/$RUNS ..."
        if "$@" >"$dir/$name.$i.out" 2>"$dir/$name.$i.err"; then
            tail -n 1 "$dir/$name.$i.out" >>"$dir/$name.jsonl"
        else
            echo "  $name run $i failed (exit $?): $(tail -n 1 "$dir/$name.$i.err")"
            echo >>"$dir/$name.jsonl"
        fi
        i=$((i + 1))
    done
}

echo "model bench on $data_name: --label $LABEL, $EPOCHS epochs, $THREADS threads, seed $SEED," \
    "$RUNS runs each, OMP_WAIT_POLICY=$OMP_WAIT_POLICY; outputs in $dir"
run movierec "$mr" --home "$home" train --label "$LABEL" --epochs "$EPOCHS" --threads "$THREADS" \
    --seed "$SEED" --json
run torch "$PY" bench/torch_model.py --home "$home" --label "$LABEL" --epochs "$EPOCHS" \
    --threads "$THREADS" --seed "$SEED"

"$PY" - "$dir/movierec.jsonl" "$dir/torch.jsonl" <<'EOF'
import json, statistics, sys

def load(path):
    runs = []
    for line in open(path):
        try:
            obj = json.loads(line)
            runs.append(obj if isinstance(obj, dict) else None)
        except ValueError:
            runs.append(None)
    return runs

sides = [("movierec", load(sys.argv[1])), ("PyTorch", load(sys.argv[2]))]
rows = [("training samples/s", "train_samples_per_s", "%.0f"),
        ("scoring pairs/s", "score_pairs_per_s", "%.0f"),
        ("peak RSS MiB", "peak_rss_mb", "%.0f"),
        ("val logloss", "val_logloss", "%.4f"),
        ("val AUC", "val_auc", "%.4f"),
        ("HR@10", "hr10", "%.4f"),
        ("NDCG@10", "ndcg10", "%.4f"),
        ("seconds", "seconds", "%.1f")]

def median(runs, key):
    vals = [r[key] for r in runs if r and isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None

def fmt(v, f):
    return "n/a" if v is None else f % v

print()
print("%-20s %14s %14s" % ("median of runs", "movierec", "PyTorch"))
for label, key, f in rows:
    print("%-20s %14s %14s" % (label, fmt(median(sides[0][1], key), f),
                               fmt(median(sides[1][1], key), f)))
c, t = median(sides[0][1], "train_samples_per_s"), median(sides[1][1], "train_samples_per_s")
if c and t:
    print("training throughput: movierec is %.2fx PyTorch" % (c / t))
else:
    print("training throughput ratio: n/a")
c, t = median(sides[0][1], "score_pairs_per_s"), median(sides[1][1], "score_pairs_per_s")
if c and t:
    print("scoring throughput:  movierec is %.2fx PyTorch" % (c / t))
print("runs (training samples/s, scoring pairs/s, peak RSS MiB, AUC):")
for name, runs in sides:
    cells = []
    for r in runs:
        cells.append("n/a" if not r else "%s %s %s %s" % tuple(
            fmt(r.get(k), f) for k, f in (("train_samples_per_s", "%.0f"),
                                          ("score_pairs_per_s", "%.0f"),
                                          ("peak_rss_mb", "%.0f"), ("val_auc", "%.4f"))))
    print("  %-9s %s" % (name + ":", "; ".join(cells)))
EOF
rm -rf "$home"
