#!/bin/sh
# `movierec serve` under wrk on the same machine: requests per second, p99
# latency and errors for personalised recommendations (logged-in users),
# similar movies and search; where the server's CPU time goes (perf, by
# library: HTTP and JSON vs recall and ranking vs the store); and a long
# run of a mixed workload at 256 connections with the server's memory
# sampled.
#
#   bench/serve.sh HOME [LABEL]      a home folder with data and trained models
#                                    (the bench works on a copy of it: the mixed
#                                    run writes ratings). For the ml-25m-size set,
#                                    where training the deep model takes too long
#                                    for a benchmark: `movierec generate` +
#                                    `import`, `train --label recall`, then
#                                    `build/bench/recommend HOME --save-models`
#                                    (bench/recommend.sh builds it) saves
#                                    random-weight deep models of the default size
#   DURATION=20   seconds per wrk run          RUNS=3   runs per scenario (median)
#   CONNS=64      connections                  WRK_THREADS=2
#   SERVER_THREADS=4   the server's --threads  USERS=64 logged-in users
#   SOAK=600      seconds of the mixed run at SOAK_CONNS=256 (0: skip)
#   PERF=1        also profile a recommendation run (needs perf)
#   ONLY_SOAK=1   just the long mixed run
#
# Prints a markdown table. Not a test: the machine is shared and noisy.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ $# -ge 1 ] || { echo "usage: bench/serve.sh HOME [LABEL]" >&2; exit 2; }
src=$1
label=${2:-$(basename "$src")}
DURATION=${DURATION:-20}
RUNS=${RUNS:-3}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
SERVER_THREADS=${SERVER_THREADS:-4}
USERS=${USERS:-64}
SOAK=${SOAK:-600}
SOAK_CONNS=${SOAK_CONNS:-256}
PERF=${PERF:-1}
scripts/install-deps --bench
make -s build/movierec
mr=$top/build/movierec

work=$(mktemp -d "${TMPDIR:-/tmp}/movierec-bench-serve-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
home=$work/home
mkdir -p "$home"
cp -r "$src/movierec.db" "$src/models" "$home/"
[ -f "$src/movierec.db-wal" ] && cp "$src/movierec.db-wal" "$home/"

# test data: movie ids, title words and prefixes, users with passwords
sqlite3 "$home/movierec.db" "SELECT id FROM movies ORDER BY random() LIMIT 5000" >"$work/ids"
sqlite3 "$home/movierec.db" "SELECT title FROM movies ORDER BY random() LIMIT 3000" |
    tr 'A-Z' 'a-z' | tr -cs 'a-z0-9\n' ' ' | tr ' ' '\n' | awk 'length($0) >= 3 {
        print $0; if (length($0) > 4) print substr($0, 1, 3 + int(rand() * (length($0) - 3))) }' |
    head -n 5000 >"$work/words"
for i in $(seq 1 "$USERS"); do
    echo "bench password $i" | "$mr" --home "$home" user passwd "user$i" >/dev/null
done

start_server() { # extra serve options
    "$mr" --home "$home" serve --port 0 --threads "$SERVER_THREADS" --access-log /dev/null \
        --reload-interval 0 --login-attempts 1000000 "$@" >"$work/out" 2>"$work/err" &
    pid=$!
    i=0
    until grep -q "serving http" "$work/out"; do
        i=$((i + 1))
        [ $i -lt 6000 ] && kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
        sleep 0.1
    done
    base=$(sed -n 's/.*serving \(http:[^ ]*\)\/ .*/\1/p' "$work/out")
    : >"$work/tokens"
    for i in $(seq 1 "$USERS"); do
        curl -s -c "$work/jar" -H 'Content-Type: application/json' \
            -d "{\"name\":\"user$i\",\"password\":\"bench password $i\"}" "$base/v1/auth/login" \
            >/dev/null
        awk '$6 == "session" { print $7 }' "$work/jar" >>"$work/tokens"
    done
    [ "$(wc -l <"$work/tokens")" -eq "$USERS" ] || { echo "logins failed" >&2; exit 1; }
}
stop_server() {
    kill -TERM "$pid"
    wait "$pid" || true
    pid=""
}
export TOKENS="$work/tokens" IDS="$work/ids" WORDS="$work/words"
start_server --rec-cache 0

# wrk output FILE -> "rps p99_ms errors"
wrk_parse() {
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                         if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { err += $NF }
        /Socket errors/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        END { printf "%.0f %.2f %d\n", rps, p99, err }' "$1"
}
wrk_run() { # script conns seconds
    wrk -t"$WRK_THREADS" -c"$2" -d"$3"s --latency --timeout 10s -s "bench/wrk/$1.lua" "$base" \
        >"$work/wrk.txt" 2>&1
    wrk_parse "$work/wrk.txt"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

scenario() { # script label
    [ "${ONLY_SOAK:-0}" = 1 ] && return 0
    wrk_run "$1" "$CONNS" 3 >/dev/null # warm up
    : >"$work/runs"
    for r in $(seq 1 "$RUNS"); do wrk_run "$1" "$CONNS" "$DURATION" >>"$work/runs"; done
    rps=$(cut -d' ' -f1 "$work/runs" | median)
    p99=$(cut -d' ' -f2 "$work/runs" | median)
    err=$(awk '{ e += $3 } END { print e + 0 }' "$work/runs")
    echo "| $2, $CONNS connections (median of $RUNS x ${DURATION}s) | $rps | $p99 | $err |"
}
echo "| $label | req/s | p99 ms | errors |"
echo "| --- | ---: | ---: | ---: |"
scenario recommend "recommendations, every one made (--rec-cache 0), $USERS users"

if [ "$PERF" = 1 ] && [ "${ONLY_SOAK:-0}" != 1 ] && command -v perf >/dev/null 2>&1; then
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"$((DURATION + 5))"s -s bench/wrk/recommend.lua "$base" \
        >/dev/null 2>&1 &
    w=$!
    sleep 2
    perf record -q -F 199 --call-graph dwarf,16384 -p "$pid" -o "$work/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 || true
    wait "$w" || true
    perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null |
        awk '/^ +[0-9.]+%/ { sub(/%/, "", $1); print $1, $2 }' >"$work/dso"
    # inclusive time of the functions that mark each part
    perf report -i "$work/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
        awk '/^ +[0-9.]+%/ { c = $1; sub(/%/, "", c); print c, $NF }' >"$work/sym"
    echo
    echo "Where the server's CPU time goes while making every recommendation (perf, inclusive):"
    echo
    echo "| part | share of the server's CPU time |"
    echo "| --- | ---: |"
    awk '
        { pct[$2] = $1 }
        END {
            rec = pct["recommender_recommend"]
            json = pct["json_dumps"] + pct["app_movie_json"] + pct["json_pack"] + pct["json_vpack_ex"]
            state = pct["online_get"] + pct["app_session_user"] + pct["app_rec_user"]
            other = pct["catalog_get"] + pct["rec_reason_text"]
            printf "| recall and ranking (recommender_recommend) | %.1f%% |\n", rec
            printf "| the user state (session, online features) | %.1f%% |\n", state
            printf "| building the reply (catalogue, reasons) | %.1f%% |\n", other
            printf "| JSON (jansson: building and writing) | %.1f%% |\n", json
            printf "| HTTP and sockets (libmicrohttpd, kernel), the rest | %.1f%% |\n",
                100 - rec - state - other - json
        }' "$work/sym"
    echo
    echo "by library (self time):"
    echo
    sed 's/^/    /' "$work/dso" | head -10
fi >"$work/perf.md"

stop_server
start_server
scenario recommend "recommendations, lists reused until a write (default), $USERS users"
scenario similar "similar movies"
scenario search "search (live suggestions: words and prefixes)"
rss0=$(ps -o rss= -p "$pid")

if [ "$SOAK" -gt 0 ]; then
    wrk -t"$WRK_THREADS" -c"$SOAK_CONNS" -d"$SOAK"s --latency --timeout 10s -s bench/wrk/mixed.lua \
        "$base" >"$work/soak.txt" 2>&1 &
    w=$!
    : >"$work/rss"
    while kill -0 "$w" 2>/dev/null; do
        ps -o rss= -p "$pid" >>"$work/rss" || break
        sleep 10
    done
    wait "$w" || true
    res=$(wrk_parse "$work/soak.txt")
    n=$(wc -l <"$work/rss")
    at() { sed -n "$(($1 * (n - 1) / 100 + 1))p" "$work/rss"; }
    max=$(sort -n "$work/rss" | tail -n 1)
    echo
    echo "| mixed, $SOAK_CONNS connections, ${SOAK}s | req/s | p99 ms | errors | RSS MiB before / at 10, 25, 50, 75, 100% of the run / max |"
    echo "| --- | ---: | ---: | ---: | --- |"
    set -- $res
    echo "| $label | $1 | $2 | $3 | $((rss0 / 1024)) / $(($(at 10) / 1024)), $(($(at 25) / 1024)), $(($(at 50) / 1024)), $(($(at 75) / 1024)), $(($(at 100) / 1024)) / $((max / 1024)) |"
fi
stop_server
cat "$work/perf.md"
