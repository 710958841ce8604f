#!/bin/sh
# Real posters from TMDB (src/server/poster.c) against a real `movierec
# serve` and a fake TMDB: python3's http.server over a folder, where
# movie/<tmdb_id> is the API's answer (it ignores the query string, so the
# v3 api_key shows in its log) and img/<name> the images. No models are
# needed: the server starts without them.
#   sh tests/api/test_posters.sh path/to/movierec
# Checks: a poster fetched, cached in <home>/posters/ and served with its
# type and Cache-Control; a PNG; poster_url in a movie, in lists, null
# without a key and for posters known missing; served from the cache once
# TMDB is gone, also after a restart without a key; no fetch without a
# key; the v4 token as Bearer (no api_key in the URL); --tmdb-key-file;
# TMDB unreachable: 404 at once, one log line, no retry during the
# back-off; replies refused: no poster, bad JSON, a poster_path with
# "../", a body that is not an image, an image over 2 MB, an unknown id;
# options refused (exit 2 for a usage error); at the end, neither key in
# any server output, the access log or a 404's body.
set -u
mr=$1
. "$(dirname "$0")/../lib/servers.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/movierec-posters-XXXXXX")
pid=""
fake=""
cleanup() {
    [ -n "$fake" ] && kill "$fake" 2>/dev/null && wait "$fake" 2>/dev/null
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
H="$tmp/home"
T="$tmp/tmdb"

command -v python3 >/dev/null 2>&1 || { echo "python3 is needed (scripts/install-deps)"; exit 1; }

# ---- a small world: generated, imported; no training ----
"$mr" generate "$tmp/gen" --users 100 --movies 60 --ratings 2000 --seed 5 >/dev/null 2>&1 ||
    { echo "generate failed"; exit 1; }
"$mr" --home "$H" import "$tmp/gen" >/dev/null 2>&1 || { echo "import failed"; exit 1; }

# the first 12 movies with a TMDB id (links.csv: movieId,imdbId,tmdbId)
awk -F, 'NR > 1 && $3 != "" { print $1, $3 }' "$tmp/gen/links.csv" | head -n 12 >"$tmp/ids"
[ "$(wc -l <"$tmp/ids")" -eq 12 ] || { echo "fewer than 12 movies with a TMDB id"; exit 1; }
movie() { sed -n "$1p" "$tmp/ids" | cut -d' ' -f1; }
tmdb() { sed -n "$1p" "$tmp/ids" | cut -d' ' -f2; }
M_JPG=$(movie 1) T_JPG=$(tmdb 1)
M_PNG=$(movie 2) T_PNG=$(tmdb 2)
M_NULL=$(movie 3) T_NULL=$(tmdb 3)
M_BADJSON=$(movie 4) T_BADJSON=$(tmdb 4)
M_DOTDOT=$(movie 5) T_DOTDOT=$(tmdb 5)
M_NOTIMG=$(movie 6) T_NOTIMG=$(tmdb 6)
M_BIG=$(movie 7) T_BIG=$(tmdb 7)
M_UNKNOWN=$(movie 8)
M_LATER=$(movie 9) T_LATER=$(tmdb 9)
M_DOWN1=$(movie 10)
M_DOWN2=$(movie 11)
M_BEARER=$(movie 12) T_BEARER=$(tmdb 12)
# a movie without a TMDB id, when the set has one
M_NOID=$(awk -F, 'NR > 1 && $3 == "" { print $1; exit }' "$tmp/gen/links.csv")

# ---- the fake TMDB ----
mkdir -p "$T/movie" "$T/img" "$T/secret"
printf '\377\330\377\340\000\020JFIF\000\001\001\000\000\001\000\001\000\000\377\331' >"$T/img/p1.jpg"
printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\000\000\001\000\000\000\001\010\006\000\000\000' \
    >"$T/img/p2.png"
printf '<html>not an image</html>' >"$T/img/page.jpg"
{ printf '\377\330\377\340'; head -c 2200000 /dev/zero; } >"$T/img/big.jpg"
echo "secret" >"$T/secret/s.jpg"
printf '{"id":%s,"title":"x","poster_path":"/p1.jpg"}' "$T_JPG" >"$T/movie/$T_JPG"
printf '{"poster_path":"/p2.png"}' >"$T/movie/$T_PNG"
printf '{"poster_path":null,"title":"no poster"}' >"$T/movie/$T_NULL"
printf '{"poster_path": "/p1.jpg",' >"$T/movie/$T_BADJSON"
printf '{"poster_path":"/../secret/s.jpg"}' >"$T/movie/$T_DOTDOT"
printf '{"poster_path":"/page.jpg"}' >"$T/movie/$T_NOTIMG"
printf '{"poster_path":"/big.jpg"}' >"$T/movie/$T_BIG"
printf '{"poster_path":"/p1.jpg"}' >"$T/movie/$T_BEARER"
# $T_LATER gets its file later; the unknown movie never has one (404)

start_fake() {
    fake_tmdb_start "$T" "$tmp/fake"
}
stop_fake() {
    kill "$fake" 2>/dev/null && wait "$fake" 2>/dev/null
    fake=""
}

# start_server [serve options...]: the TMDB settings come from the caller
start_server() {
    serve_start "$tmp/serve" "$mr" --home "$H" serve --port 0 --threads 4 \
        --access-log "$tmp/access.log" "$@"
}
stop_server() {
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pid=""
    cat "$tmp/serve.err" >>"$tmp/serve-all.err"
    cat "$tmp/serve.out" >>"$tmp/serve-all.out"
}

# get PATH: sets $code, $ctype, $cache; body in $tmp/body
get() {
    curl -s -D "$tmp/head" -o "$tmp/body" "$base$1" >/dev/null
    code=$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$tmp/head")
    ctype=$(sed -n 's/^[Cc]ontent-[Tt]ype: *\([^\r]*\).*/\1/p' "$tmp/head")
    cache=$(sed -n 's/^[Cc]ache-[Cc]ontrol: *\([^\r]*\).*/\1/p' "$tmp/head")
    [ "$code" = 404 ] && cat "$tmp/body" >>"$tmp/bodies-404"
}
expect() {
    want=$1 filter=$2 what=$3
    if [ "$code" != "$want" ]; then
        bad "$what: status $code, wanted $want: $(head -c 300 "$tmp/body")"
    elif [ -n "$filter" ] && [ "$(jq -r "$filter" "$tmp/body" 2>/dev/null)" != "true" ]; then
        bad "$what: '$filter' does not hold on $(head -c 400 "$tmp/body")"
    else
        ok
    fi
}
# poster_url of movie $1 as /v1/movies/<id> answers it
poster_url() {
    get "/v1/movies/$1"
    jq -r '.movie.poster_url' "$tmp/body"
}
purl() { echo "/v1/movies/$1/poster"; }
fetched() { grep -c "GET /movie/$1[? ]" "$tmp/fake.err" 2>/dev/null; }

start_fake
api="http://127.0.0.1:$fport"

# ---- no key: nothing is ever fetched ----
unset MOVIEREC_TMDB_KEY
start_server --tmdb-api "$api" --tmdb-images "$api/img"
grep -q "posters: off" "$tmp/serve.err" || bad "no key: the start does not say posters are off"
[ "$(poster_url "$M_JPG")" = null ] || bad "no key: poster_url is not null"
get "$(purl "$M_JPG")"
expect 404 '.error == "no_poster"' "no key: no poster"
[ "$(fetched "$T_JPG")" = 0 ] || bad "no key: TMDB was asked"
[ -d "$H/posters" ] && [ -n "$(ls -A "$H/posters")" ] && bad "no key: something was cached"
stop_server

# ---- a v3 key: fetched, cached, served ----
export MOVIEREC_TMDB_KEY=v3testkey0123
start_server --tmdb-api "$api" --tmdb-images "$api/img"
grep -q "posters: on (TMDB v3 key" "$tmp/serve.err" || bad "the start does not say posters are on"
# the key left the server's environment (children do not inherit it) and its bytes
if [ -r "/proc/$pid/environ" ]; then
    tr '\0' '\n' <"/proc/$pid/environ" | grep -q "v3testkey0123" &&
        bad "the key is still in /proc/<pid>/environ"
fi
# --threads 4: one fetch at a time, so a page of posters leaves three threads free
grep -q "posters: on (TMDB v3 key; at most 1 fetch at once;" "$tmp/serve.err" ||
    bad "--threads 4 does not cap the fetches at 1: $(grep posters "$tmp/serve.err")"
[ "$(poster_url "$M_JPG")" = "$(purl "$M_JPG")" ] ||
    bad "key: poster_url of a movie with a TMDB id is not its poster route"
[ "$(fetched "$T_JPG")" = 0 ] || bad "listing a movie fetched its poster"
get "$(purl "$M_JPG")"
if [ "$code" = 200 ] && [ "$ctype" = image/jpeg ] && cmp -s "$tmp/body" "$T/img/p1.jpg"; then
    ok
else
    bad "poster: status $code, type '$ctype', or other bytes"
fi
[ "$cache" = "public, max-age=604800" ] || bad "poster: Cache-Control '$cache'"
grep -q "GET /movie/$T_JPG?api_key=v3testkey0123 " "$tmp/fake.err" ||
    bad "the v3 key was not sent as api_key: $(cat "$tmp/fake.err")"
cmp -s "$H/posters/$T_JPG.jpg" "$T/img/p1.jpg" || bad "the poster is not in <home>/posters/"
ls -A "$H/posters" | grep -q tmp && bad "a temporary file was left in posters/"
get "$(purl "$M_JPG")"
[ "$code" = 200 ] && [ "$(fetched "$T_JPG")" = 1 ] && ok || bad "a cached poster was fetched again"
get "$(purl "$M_PNG")"
[ "$code" = 200 ] && [ "$ctype" = image/png ] && cmp -s "$tmp/body" "$T/img/p2.png" && ok ||
    bad "PNG poster: status $code, type '$ctype'"
[ -f "$H/posters/$T_PNG.png" ] || bad "the PNG is not cached as .png"
# lists carry poster_url too
get "/v1/movies?per_page=100&sort=title"
expect 200 "[.movies[] | select(.id == $M_JPG) | .poster_url] == [\"$(purl "$M_JPG")\"]" \
    "poster_url in a list"
get "/v1/search?q=a&per_page=100"
[ "$code" = 200 ] || bad "search: status $code"
if [ -n "$M_NOID" ]; then
    [ "$(poster_url "$M_NOID")" = null ] || bad "a movie without a TMDB id has a poster_url"
    get "$(purl "$M_NOID")"
    expect 404 '.error == "no_poster"' "a movie without a TMDB id"
fi
get "/v1/movies/999999/poster"
expect 404 '.error == "not_found"' "poster of an unknown movie"
get "/v1/movies/abc/poster"
expect 400 '.error == "bad_request"' "poster of a bad id"

# ---- replies refused: each 404 no_poster, then poster_url null, never asked again ----
refused() { # movie tmdb what
    get "$(purl "$1")"
    expect 404 '.error == "no_poster"' "$3"
    [ "$(poster_url "$1")" = null ] || bad "$3: poster_url is not null afterwards"
    get "$(purl "$1")"
    [ "$code" = 404 ] && [ "$(fetched "$2")" = 1 ] && ok || bad "$3: TMDB was asked again"
}
refused "$M_NULL" "$T_NULL" "TMDB has no poster"
refused "$M_BADJSON" "$T_BADJSON" "bad JSON from TMDB"
refused "$M_DOTDOT" "$T_DOTDOT" "poster_path with ../"
grep -q "secret" "$tmp/fake.err" && bad "a poster_path with ../ was fetched"
refused "$M_NOTIMG" "$T_NOTIMG" "a body that is not an image"
refused "$M_BIG" "$T_BIG" "an image over 2 MB"
refused "$M_UNKNOWN" "$(tmdb 8)" "an id TMDB does not know"
n=$(ls "$H/posters" | wc -l)
[ "$n" -eq 2 ] || bad "posters/ holds $n files, wanted 2: $(ls "$H/posters")"
grep -q "not a JPEG or PNG" "$tmp/serve.err" || bad "no log line for the body that is not an image"
grep -q "larger than 2 MiB" "$tmp/serve.err" || bad "no log line for the image over 2 MB"

# ---- TMDB gone: the cache still serves ----
stop_fake
get "$(purl "$M_JPG")"
[ "$code" = 200 ] && cmp -s "$tmp/body" "$T/img/p1.jpg" && ok ||
    bad "cached poster after TMDB went away: $code"
# unreachable (a closed port): 404 at once, one log line, then the back-off
t0=$(date +%s)
get "$(purl "$M_DOWN1")"
expect 404 '.error == "no_poster"' "TMDB unreachable"
get "$(purl "$M_DOWN2")"
expect 404 '.error == "no_poster" and (.message | test("trying again"))' "during the back-off"
t1=$(date +%s)
[ $((t1 - t0)) -lt 5 ] || bad "TMDB unreachable took $((t1 - t0)) s"
sleep 0.2
n=$(grep -c "posters: TMDB unreachable (.*); trying again in 60 s" "$tmp/serve.err")
[ "$n" = 1 ] || bad "$n back-off lines, wanted 1: $(grep posters "$tmp/serve.err")"
# a movie that was never asked about is still advertised (it may load later)
[ "$(poster_url "$M_DOWN2")" = "$(purl "$M_DOWN2")" ] || bad "back-off hid poster_url"
stop_server

# ---- restart without a key: the folder is read, posters served ----
unset MOVIEREC_TMDB_KEY
start_server --tmdb-api "$api" --tmdb-images "$api/img"
grep -q "posters: off.*2 cached posters still served" "$tmp/serve.err" ||
    bad "restart: the start line does not count the cache: $(grep posters "$tmp/serve.err")"
[ "$(poster_url "$M_JPG")" = "$(purl "$M_JPG")" ] || bad "restart, no key: poster_url of a cached one"
[ "$(poster_url "$M_LATER")" = null ] || bad "restart, no key: poster_url of one not cached"
get "$(purl "$M_PNG")"
[ "$code" = 200 ] && [ "$ctype" = image/png ] && ok || bad "restart, no key: cached PNG: $code"
stop_server

# ---- a v4 token from a key file: Bearer, not api_key ----
start_fake
api="http://127.0.0.1:$fport"
printf '  eyJhbGciOiJIUzI1NiJ9.e30.c2ln\n\n' >"$tmp/key"
chmod 600 "$tmp/key"
start_server --tmdb-key-file "$tmp/key" --tmdb-api "$api" --tmdb-images "$api/img/"
grep -q "posters: on (TMDB v4 token" "$tmp/serve.err" || bad "v4: the start line"
get "$(purl "$M_BEARER")"
[ "$code" = 200 ] && [ "$ctype" = image/jpeg ] && ok || bad "v4 token: poster: $code"
grep -q "GET /movie/$T_BEARER HTTP" "$tmp/fake.err" ||
    bad "v4 token: the request is not a plain /movie/<id>: $(grep movie "$tmp/fake.err")"
grep -q "api_key" "$tmp/fake.err" && bad "v4 token: an api_key was sent"
# a poster that appears at TMDB later is fetched (nothing was remembered)
printf '{"poster_path":"/p1.jpg"}' >"$T/movie/$T_LATER"
get "$(purl "$M_LATER")"
[ "$code" = 200 ] && ok || bad "a poster TMDB has now: $code"
stop_server

# ---- options ----
# opt_run ARGS...: a serve that must refuse to start; stderr in $tmp/err and
# kept for the check that no key leaks
opt_run() {
    timeout 20 "$@" >/dev/null 2>"$tmp/err"
    _rc=$?
    cat "$tmp/err" >>"$tmp/serve-all.err"
    return $_rc
}
opt_run "$mr" --home "$H" serve --tmdb-key abc
[ $? -eq 2 ] && grep -q "ps" "$tmp/err" && ok || bad "--tmdb-key on the command line was not refused"
opt_run "$mr" --home "$H" serve --tmdb-key-file "$tmp/nope"
[ $? -eq 1 ] && grep -q "cannot open the TMDB key file" "$tmp/err" && ok ||
    bad "a missing key file: $(cat "$tmp/err")"
: >"$tmp/empty"
opt_run "$mr" --home "$H" serve --tmdb-key-file "$tmp/empty"
[ $? -eq 1 ] && grep -q "is empty" "$tmp/err" && ok || bad "an empty key file: $(cat "$tmp/err")"
opt_run "$mr" --home "$H" serve --tmdb-api ftp://x
[ $? -eq 2 ] && ok || bad "--tmdb-api ftp:// was taken"
opt_run env MOVIEREC_TMDB_KEY='has space' "$mr" --home "$H" serve --port 0
[ $? -eq 2 ] && grep -q "printable ASCII" "$tmp/err" && ok || bad "a key with a space: $(cat "$tmp/err")"
# an address too long for any request: refused at the start, not at every fetch
long="http://$(printf '%03000d' 0)"
opt_run env MOVIEREC_TMDB_KEY=v3testkey0123 "$mr" --home "$H" serve --port 0 --tmdb-api "$long"
[ $? -eq 2 ] && grep -q "error: the TMDB API address is too long" "$tmp/err" && ok ||
    bad "a --tmdb-api too long: $(head -c 300 "$tmp/err")"
opt_run "$mr" --home "$H" serve --port 0 --tmdb-images "$long"
[ $? -eq 2 ] && grep -q "error: the TMDB image address is too long" "$tmp/err" && ok ||
    bad "a --tmdb-images too long: $(head -c 300 "$tmp/err")"

# ---- the keys never leave: not in any server output, the access log, or a 404's body ----
grep -q "posters: on (TMDB v3 key" "$tmp/serve-all.err" && grep -q "posters: on (TMDB v4 token" \
    "$tmp/serve-all.err" && grep -q "TMDB unreachable" "$tmp/serve-all.err" &&
    grep -q "/poster\"" "$tmp/access.log" && grep -q "no_poster" "$tmp/bodies-404" && ok ||
    bad "the leak check would look at too little"
for k in v3testkey0123 eyJhbGciOiJIUzI1NiJ9.e30.c2ln; do
    for f in "$tmp/serve-all.err" "$tmp/serve-all.out" "$tmp/access.log" "$tmp/bodies-404"; do
        grep -q "$k" "$f" && bad "the key $k is in $(basename "$f")"
    done
done
grep -q "Sanitizer\|runtime error" "$tmp/serve-all.err" && bad "a sanitizer report from the server"
[ "$fail" -eq 0 ] || { echo "the server's messages:"; cat "$tmp/serve-all.err"; }
echo "posters: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
