#!/bin/sh
# The HTTP API against a real `movierec serve` on a free port of 127.0.0.1:
# every route, accounts and sessions, another user's data, malformed and
# oversized bodies, unknown ids, CSRF, rate limits, the online-feature
# test (a new user who rates five science-fiction films well gets more
# science fiction at once), and model hot reload (a new version is served
# without a restart; a damaged one is refused while the old one serves).
#   sh tests/api/test_api.sh path/to/movierec
set -u
mr=$1
. "$(dirname "$0")/../lib/servers.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/movierec-api-XXXXXX")
pid=""
loader=""
cleanup() {
    [ -n "$loader" ] && kill "$loader" 2>/dev/null
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

# ---- a small world: generated data, imported, trained ----
"$mr" generate "$tmp/gen" --users 400 --movies 500 --ratings 30000 --seed 11 >/dev/null 2>&1 ||
    { echo "generate failed"; exit 1; }
"$mr" --home "$H" import "$tmp/gen" >/dev/null 2>&1 || { echo "import failed"; exit 1; }
"$mr" --home "$H" train --epochs 2 --batch 256 >"$tmp/train.log" 2>&1 ||
    { echo "train failed"; cat "$tmp/train.log"; exit 1; }

# ---- start the server on a free port ----
start_server() {
    serve_start "$tmp/serve" "$mr" --home "$H" serve --port 0 --threads 4 --reload-interval 1 \
        --access-log "$tmp/access.log"
}
start_server

# req METHOD PATH [JSON] [JAR]: sets $code, body in $tmp/body
req() {
    m=$1 p=$2 d=${3:-} jar=${4:-$tmp/nojar}
    if [ -n "$d" ]; then
        code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" -b "$jar" -c "$jar" \
            -H 'Content-Type: application/json' --data-binary "$d" "$base$p")
    else
        code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" -b "$jar" -c "$jar" "$base$p")
    fi
}
# expect CODE JQ-FILTER (must print true) -- after req
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
A="$tmp/alice.jar"
B="$tmp/bob.jar"

# ---- operations ----
req GET /healthz
expect 200 '.status == "ok" and .models == true' "healthz"
req GET /v1/models
expect 200 '[.models[].name] | index("watch") != null and index("like") != null' "models"
req GET /v1/nowhere
expect 404 '.error == "not_found" and (.message | length > 0)' "unknown route"
req DELETE /v1/genres
expect 405 '.error != null' "wrong method"

# ---- accounts ----
req POST /v1/auth/register '{"name":"alice","password":"correct horse","gender":"F","age":31,"occupation":"engineer","genres":["Sci-Fi"]}' "$A"
expect 201 '.user.name == "alice" and .user.age == 31 and (has("password") | not)' "register"
grep -q "correct horse" "$tmp/body" && bad "the password came back in a reply"
grep -qi "^#HttpOnly_.*session" "$A" || bad "the session cookie is not HttpOnly"
req POST /v1/auth/register '{"name":"ALICE","password":"another one"}' "$B"
expect 409 '.error == "name_taken"' "taken name (any case)"
req POST /v1/auth/register '{"name":"bob","password":"short"}' "$B"
expect 400 '.error == "bad_password"' "short password"
req POST /v1/auth/register '{"name":"","password":"long enough"}' "$B"
expect 400 '.error == "bad_request"' "empty name"
req POST /v1/auth/register '{"name":"bob","password":"long enough","age":500}' "$B"
expect 400 '.message | test("age")' "bad age"
req POST /v1/auth/register '{"name":"bob","password":"bobs password","genres":["Comedy"]}' "$B"
expect 201 '.user.name == "bob"' "register bob"
req GET /v1/me "" "$A"
expect 200 '.user.name == "alice"' "me"
req GET /v1/me
expect 401 '.error == "login_required"' "me without a session"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Cookie: session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "$base/v1/me")
expect 401 '.error == "login_required"' "me with a made-up session"
req POST /v1/auth/login '{"name":"alice","password":"wrong password"}' "$tmp/x.jar"
expect 401 '.error == "wrong_password"' "wrong password"
req POST /v1/auth/login '{"name":"nobody-here","password":"whatever1"}' "$tmp/x.jar"
expect 404 '.error == "unknown_name"' "unknown name at login"
req POST /v1/auth/login '{"name":"user1","password":"whatever1"}' "$tmp/x.jar"
expect 401 '.error == "no_password"' "imported user without a password"
echo "demo password" | "$mr" --home "$H" user passwd user1 >/dev/null 2>&1 || bad "user passwd failed"
req POST /v1/auth/login '{"name":"user1","password":"demo password"}' "$tmp/u1.jar"
expect 200 '.user.id == 1' "login as an imported user after user passwd"
# a new password ends the account's sessions: at once after SIGHUP
req GET /v1/me "" "$tmp/u1.jar"
expect 200 '.user.id == 1' "user1's session works"
echo "another password" | "$mr" --home "$H" user passwd user1 >/dev/null 2>&1 || bad "user passwd (again) failed"
kill -HUP "$pid"
i=0
while :; do
    req GET /v1/me "" "$tmp/u1.jar"
    [ "$code" = 401 ] || [ $i -gt 50 ] && break
    i=$((i + 1))
    sleep 0.1
done
expect 401 '.error == "login_required"' "a session ended by a new password (after SIGHUP)"
req POST /v1/auth/login '{"name":"user1","password":"demo password"}' "$tmp/u1.jar"
expect 401 '.error == "wrong_password"' "the old password after user passwd"
req POST /v1/auth/login '{"name":"user1","password":"another password"}' "$tmp/u1.jar"
expect 200 '.user.id == 1' "the new password"
echo "x" | "$mr" --home "$H" user passwd user1 >/dev/null 2>&1 && bad "user passwd took a 1-letter password"
echo "long enough" | "$mr" --home "$H" user passwd nobody-at-all >/dev/null 2>&1 &&
    bad "user passwd of an unknown name succeeded"
req POST /v1/auth/login '{"name":"alice","password":"correct horse"}' "$tmp/a2.jar"
expect 200 '.user.name == "alice"' "login"
req POST /v1/auth/logout "" "$tmp/a2.jar"
expect 200 '.ok == true' "logout"
req GET /v1/me "" "$tmp/a2.jar"
expect 401 '' "me after logout"
# rate limit: 10 failures for one name
for i in 1 2 3 4 5 6 7 8 9 10; do
    req POST /v1/auth/login '{"name":"bob","password":"not bobs password"}' "$tmp/x.jar"
done
req POST /v1/auth/login '{"name":"bob","password":"bobs password"}' "$tmp/x.jar"
expect 429 '.error == "too_many_attempts"' "login rate limit per name"

# ---- bad requests ----
req POST /v1/auth/login '{"name": "alice", ' "$tmp/x.jar"
expect 400 '.error == "bad_json" and (.message | length > 0)' "malformed JSON"
req POST /v1/auth/login '[1,2]' "$tmp/x.jar"
expect 400 '.error == "bad_json"' "JSON that is not an object"
head -c 70000 /dev/zero | tr '\0' 'a' >"$tmp/big"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$tmp/big" "$base/v1/auth/login")
expect 413 '.error != null' "oversized body"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X PUT -b "$A" -H 'Content-Type: text/plain' \
    --data-binary '{"score":4}' "$base/v1/me/ratings/1")
expect 415 '' "a write that is not JSON"
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X PUT -b "$A" -H 'Origin: http://evil.example' \
    -H 'Content-Type: application/json' --data-binary '{"score":4}' "$base/v1/me/ratings/1")
expect 403 '.error == "cross_origin"' "CSRF: another origin"
host=${base#http://}
code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X PUT -b "$A" -H "Origin: $base" \
    -H 'Content-Type: application/json' --data-binary '{"score":4}' "$base/v1/me/ratings/1")
expect 200 '.score == 4' "same origin write ($host)"

# ---- movies ----
req GET /v1/genres
expect 200 '(.genres | length) > 5 and ([.genres[].name] | index("Sci-Fi") != null)' "genres"
req GET '/v1/movies?genre=Sci-Fi&sort=rating&per_page=5&page=2'
expect 200 '(.movies | length) == 5 and .page == 2 and .total > 10 and all(.movies[]; .genres | index("Sci-Fi") != null)' "movies by genre"
req GET '/v1/movies?sort=year&per_page=3'
expect 200 '(.movies | length) == 3 and (.movies[0].year >= .movies[2].year)' "movies by year"
req GET '/v1/movies?genre=NoSuchGenre'
expect 404 '' "unknown genre"
req GET '/v1/movies?per_page=1000'
expect 400 '.message | test("per_page")' "per_page out of range"
req GET '/v1/movies?sort=sideways'
expect 400 '' "bad sort"
title=$(curl -s "$base/v1/movies/1" | jq -r '.movie.title')
word=$(printf '%s' "$title" | tr -c 'A-Za-z0-9\n' ' ' | awk '{for(i=1;i<=NF;i++) if (length($i)>=5) {print $i; exit}}')
if [ -n "$word" ]; then
    pre=$(printf '%s' "$word" | cut -c1-4)
    req GET "/v1/search?q=$pre"
    expect 200 '[.movies[].id] | index(1) != null' "search by prefix '$pre' finds movie 1 ($title)"
    typo=$(printf '%s' "$word" | sed 's/.$//')x
    req GET "/v1/search?q=$typo"
    expect 200 '(.movies | length) > 0' "search with a typo '$typo'"
fi
req GET '/v1/search?q=%22%28%29*%20NEAR'
expect 200 '.movies != null' "search with FTS syntax characters"
req GET '/v1/search'
expect 400 '' "search without q"
req GET '/v1/search?q=a&genre=Drama&year_min=1990&year_max=2000'
expect 200 'all(.movies[]; (.genres | index("Drama") != null) and .year >= 1990 and .year <= 2000)' "search filters"
req GET /v1/movies/1
expect 200 '.movie.id == 1 and (.movie.rating_count | type) == "number" and (.movie | has("liked_by")) and (.movie | has("predicted") | not)' "movie page, visitor"
req GET /v1/movies/1 "" "$A"
expect 200 '.movie.my_rating == 4 and (.movie.predicted | type) == "number" and .movie.predicted > 0 and .movie.predicted < 1' "movie page, logged in"
req GET /v1/movies/99999999
expect 404 '' "unknown movie"
req GET /v1/movies/abc
expect 400 '' "movie id that is not a number"
req GET '/v1/movies/1/similar?n=5'
expect 200 '(.similar | length) == 5 and all(.similar[]; .id != 1)' "similar movies"
jq -c '[.similar[].id]' "$tmp/body" >"$tmp/sim5"
req GET '/v1/movies/1/similar?n=20'
expect 200 '(.similar | length) == 20' "similar movies, 20"
[ "$(jq -c '[.similar[0:5][].id]' "$tmp/body")" = "$(cat "$tmp/sim5")" ] && ok ||
    bad "the first 5 of 20 similar movies differ from the 5 (cache)"
req GET '/v1/movies/1/similar?n=5'
[ "$(jq -c '[.similar[].id]' "$tmp/body")" = "$(cat "$tmp/sim5")" ] && ok ||
    bad "similar movies changed on the second call (cache)"
req GET '/v1/movies/1/similar?n=100'
expect 200 '(.similar | length) == 100' "similar movies, 100 (past the cache)"

# ---- ratings and tags ----
req PUT /v1/me/ratings/2 '{"score":4.5}' "$A"
expect 200 '.score == 4.5' "rate"
req PUT /v1/me/ratings/2 '{"score":4.3}' "$A"
expect 400 '' "score not in halves"
req PUT /v1/me/ratings/2 '{"score":"5"}' "$A"
expect 400 '' "score as a string"
req PUT /v1/me/ratings/99999999 '{"score":3}' "$A"
expect 404 '' "rate an unknown movie"
req PUT /v1/me/ratings/2 '{"score":3}'
expect 401 '' "rate without a session"
req DELETE /v1/me/ratings/2 "" "$A"
expect 200 '.removed == true' "remove a rating"
req DELETE /v1/me/ratings/2 "" "$A"
expect 404 '' "remove a rating twice"
req POST /v1/me/tags/1 '{"tag":"mind-bending"}' "$A"
expect 201 '.tag == "mind-bending"' "tag"
req POST /v1/me/tags/1 '{"tag":"mind-bending"}' "$A"
expect 409 '' "the same tag twice"
req POST /v1/me/tags/1 '{"tag":""}' "$A"
expect 400 '' "empty tag"
req GET /v1/me/tags "" "$A"
expect 200 '.tags[0].tag == "mind-bending" and .tags[0].movie_id == 1' "my tags"
req GET /v1/movies/1 "" "$A"
expect 200 '.movie.my_tags == ["mind-bending"]' "my tags on the movie page"
req DELETE /v1/me/tags/1/mind-bending "" "$A"
expect 200 '.removed == true' "untag"
req DELETE /v1/me/tags/1/mind-bending "" "$A"
expect 404 '' "untag twice"
req GET /v1/me/ratings "" "$A"
expect 200 '.total == 1 and .ratings[0].id == 1 and .ratings[0].my_rating == 4' "my ratings"
# another user's data: bob sees only his own
req GET /v1/me/ratings "" "$B"
expect 200 '.total == 0' "bob does not see alice's ratings"
req GET /v1/movies/1 "" "$B"
expect 200 '.movie.my_rating == null' "bob does not see alice's rating on the page"

# ---- profile ----
req GET /v1/me/profile "" "$A"
expect 200 '.interests.genres == ["Sci-Fi"] and .user.occupation == "engineer"' "profile"
req PUT /v1/me/profile '{"age":32,"tags":["space","robots"]}' "$A"
expect 200 '.user.age == 32 and .interests.tags == ["space","robots"] and .interests.genres == ["Sci-Fi"] and .user.occupation == "engineer"' "profile update keeps what was left out"
req PUT /v1/me/profile '{"genres":["NoSuchGenre"]}' "$A"
expect 404 '' "unknown interest genre"
req PUT /v1/me/profile '{"gender":"X"}' "$A"
expect 400 '' "bad gender"

# ---- recommendations and online features ----
req GET /v1/me/recommendations
expect 401 '' "recommendations without a session"
C="$tmp/carol.jar"
req POST /v1/auth/register '{"name":"carol","password":"carols password"}' "$C"
expect 201 '' "register carol"
req GET '/v1/me/recommendations?n=20' "" "$C"
expect 200 '(.recommendations | length) == 20 and all(.recommendations[]; (.reason | length) > 0)' "cold recommendations"
before=$(jq '[.recommendations[] | select(.genres | index("Sci-Fi"))] | length' "$tmp/body")
# five well-liked science-fiction films she has not been shown
curl -s "$base/v1/movies?genre=Sci-Fi&sort=popular&per_page=40" | jq -r '.movies[].id' >"$tmp/scifi"
jq -r '.recommendations[].id' "$tmp/body" >"$tmp/shown"
n=0
for id in $(grep -vxF -f "$tmp/shown" "$tmp/scifi"); do
    [ $n -ge 5 ] && break
    req PUT "/v1/me/ratings/$id" '{"score":5}' "$C"
    [ "$code" = 200 ] || bad "rating $id: $code"
    echo "$id" >>"$tmp/rated"
    n=$((n + 1))
done
req GET '/v1/me/recommendations?n=20' "" "$C"
expect 200 '.ratings == 5' "the ratings count at once"
after=$(jq '[.recommendations[] | select(.genres | index("Sci-Fi"))] | length' "$tmp/body")
if [ "$after" -gt "$before" ]; then ok; else bad "Sci-Fi in carol's top 20: $before before, $after after five Sci-Fi ratings"; fi
echo "online features: Sci-Fi in the top 20 went from $before to $after"
for id in $(cat "$tmp/rated"); do
    jq -e --argjson id "$id" '[.recommendations[].id] | index($id) == null' "$tmp/body" >/dev/null ||
        bad "rated movie $id is still recommended"
done
jq -e '[.recommendations[] | select(.reason_code == "liked" or .reason_code == "content")] | length > 0' "$tmp/body" >/dev/null ||
    bad "no 'because you liked' reason after rating"
req GET /v1/me/genres "" "$C"
expect 200 '.genres[0].genre == "Sci-Fi"' "favourite genres follow the ratings"
sqlite3 "$H/movierec.db" "SELECT count(*) FROM events WHERE kind = 'rate'" >"$tmp/ev"
[ "$(cat "$tmp/ev")" -ge 6 ] && ok || bad "events table holds $(cat "$tmp/ev") rate events"
# an account with nothing but interest tags gets recommendations in them
D="$tmp/dave.jar"
req POST /v1/auth/register '{"name":"dave","password":"daves password","genres":["Horror"]}' "$D"
req GET '/v1/me/recommendations?n=10' "" "$D"
expect 200 '[.recommendations[] | select(.genres | index("Horror"))] | length >= 3' "interest tags alone"

# ---- TensorFlow Serving shape ----
req POST '/v1/models/watch:predict' '{"instances":[{"user_id":1,"movie_id":1},{"user_id":2,"movie_id":3}]}'
expect 200 '(.predictions | length) == 2 and all(.predictions[]; . > 0 and . < 1)' "predict watch"
req POST '/v1/models/like:predict' '{"instances":[{"user_id":1,"movie_id":1}]}'
expect 200 '(.predictions | length) == 1' "predict like"
req POST '/v1/models/ranker:predict' '{"instances":[{"user_id":1,"movie_id":1},{"user_id":1,"movie_id":2},{"user_id":3,"movie_id":1}]}'
expect 200 '(.predictions | length) == 3' "predict ranker"
req POST '/v1/models/nope:predict' '{"instances":[{"user_id":1,"movie_id":1}]}'
expect 404 '' "predict with an unknown model"
req POST '/v1/models/watch:predict' '{"instances":[{"user_id":1,"movie_id":99999999}]}'
expect 400 '.message | test("instances\\[0\\]")' "predict with an unknown movie"
req POST '/v1/models/watch:predict' '{"instances":[]}'
expect 400 '' "predict with no instances"

# ---- metrics and the access log ----
req GET /metrics
if [ "$code" = 200 ] && grep -q '^movierec_http_requests_total{route="recommendations"' "$tmp/body" &&
    grep -q '^movierec_recommend_stage_seconds_bucket{stage="itemcf",le=' "$tmp/body" &&
    grep -q '^movierec_model_version{model="watch"} 1' "$tmp/body"; then ok; else
    bad "metrics lack routes, stages or versions: $(head -c 600 "$tmp/body")"
fi
if grep -q "correct horse\|session=\|password" "$tmp/access.log" "$tmp/serve.err"; then
    bad "a password or session token reached a log"
else ok; fi
grep -q '"GET /v1/me/recommendations" 200' "$tmp/access.log" && ok || bad "access log lacks the requests"

# ---- hot reload: a new version is served, a damaged one refused ----
(
    i=0
    while [ ! -f "$tmp/stop-load" ]; do
        c=$(curl -s -o /dev/null -w '%{http_code}' -b "$A" "$base/v1/me/recommendations?n=5")
        [ "$c" = 200 ] || echo "$c" >>"$tmp/load-errors"
        i=$((i + 1))
    done
    echo "$i" >"$tmp/load-count"
) &
loader=$!
"$mr" --home "$H" train --label watch --epochs 1 --batch 256 >"$tmp/train2.log" 2>&1 || bad "train while serving failed"
i=0
while [ $i -lt 100 ]; do
    v=$(curl -s "$base/v1/models" | jq -r '.models[] | select(.name == "watch") | .version')
    [ "$v" = 2 ] && break
    sleep 0.1
    i=$((i + 1))
done
[ "$v" = 2 ] && ok || bad "watch v2 is not served after training (still v$v)"
# a damaged v3: copied from v2 with its weights cut short
cp -r "$H/models/watch/2" "$H/models/watch/.tmp-damaged"
f="$H/models/watch/.tmp-damaged/model.safetensors"
head -c $(($(wc -c <"$f") / 2)) "$f" >"$f.cut" && mv "$f.cut" "$f"
mv "$H/models/watch/.tmp-damaged" "$H/models/watch/3"
kill -HUP "$pid"
i=0
while [ $i -lt 50 ] && ! grep -q "refused" "$tmp/serve.err"; do sleep 0.1; i=$((i + 1)); done
grep -q "refused" "$tmp/serve.err" && ok || bad "the damaged version was not logged as refused"
req GET /v1/models
expect 200 '.models[] | select(.name == "watch") | .version == 2' "the old version keeps serving"
touch "$tmp/stop-load"
wait "$loader"
loader=""
if [ -s "$tmp/load-errors" ]; then
    bad "requests failed during reload: $(sort "$tmp/load-errors" | uniq -c | tr '\n' ' ')"
else ok; fi
echo "hot reload: $(cat "$tmp/load-count") recommendation requests during train + reload, none failed"
req GET /metrics
grep -q '^movierec_model_reload_failures_total 1' "$tmp/body" && ok || bad "reload failure not counted"

# ---- graceful stop ----
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then bad "the server did not stop on SIGTERM"; else
    wait "$pid"
    st=$?
    [ "$st" = 0 ] && ok || bad "the server exited $st on SIGTERM"
fi
pid=""
grep -q "stopped" "$tmp/serve.err" && ok || bad "no 'stopped' line"
# an import must not silently delete the accounts people made
out=$("$mr" --home "$H" import --replace "$tmp/gen" 2>&1)
if [ $? = 1 ] && printf '%s' "$out" | grep -q -- "--replace-accounts"; then ok; else
    bad "import --replace over accounts: $out"
fi
[ "$(sqlite3 "$H/movierec.db" "SELECT count(*) FROM users WHERE name = 'alice'")" = 1 ] && ok ||
    bad "alice is gone after a refused import"
"$mr" --home "$H" serve --port 0 --threads 0 >/dev/null 2>&1
[ $? = 2 ] && ok || bad "serve --threads 0 is not a usage error"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
