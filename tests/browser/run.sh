#!/bin/sh
# The browser tests (site.test.mjs) against a real `movierec serve` on a
# free port, over a small world made here (generated, imported, trained).
# Screenshots of every page go to $SHOTS (scripts/run-tests sets it to
# BUILD/test-logs/screenshots).
#   sh tests/browser/run.sh path/to/movierec
set -u
mr=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/servers.sh"
shots=${SHOTS:-$here/../../build/test-logs/screenshots}
chromium=${CHROMIUM:-/usr/bin/chromium}
for need in node python3 "$chromium"; do
    command -v "$need" >/dev/null 2>&1 ||
        { echo "browser tests: '$need' is missing (scripts/install-deps installs it)"; exit 1; }
done
[ -d "$here/node_modules/playwright-core" ] ||
    { echo "browser tests: playwright-core is missing (scripts/install-deps installs it)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/movierec-browser-XXXXXX")
pid=""
fake=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "$fake" ] && kill "$fake" 2>/dev/null && wait "$fake" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
H="$tmp/home"
"$mr" generate "$tmp/gen" --users 300 --movies 400 --ratings 20000 --seed 11 >/dev/null 2>&1 ||
    { echo "generate failed"; exit 1; }
"$mr" --home "$H" import "$tmp/gen" >/dev/null 2>&1 || { echo "import failed"; exit 1; }
"$mr" --home "$H" train --epochs 2 --batch 256 >"$tmp/train.log" 2>&1 ||
    { echo "train failed"; cat "$tmp/train.log"; exit 1; }

# A fake TMDB (python3's http.server over a folder) with a poster for the
# first three movies, so real pictures go through the whole way: TMDB's
# answer, the server's cache, the page laying them over the generated ones.
T="$tmp/tmdb"
mkdir -p "$T/movie" "$T/img"
python3 - "$T/img/poster.png" <<'PY'
import struct, sys, zlib
w, h = 200, 300
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\0" + bytes((20 + y // 3, 90, 160 - y // 3)) * w for y in range(h))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
awk -F, 'NR > 1 && NR <= 4 && $3 != "" { print $1, $3 }' "$tmp/gen/links.csv" >"$tmp/with-poster"
while read -r movie tmdb; do
    printf '{"id":%s,"poster_path":"/poster.png"}' "$tmdb" >"$T/movie/$tmdb"
done <"$tmp/with-poster"
fake_tmdb_start "$T" "$tmp/fake"

serve_start "$tmp/serve" env MOVIEREC_TMDB_KEY=browser-test-key "$mr" --home "$H" serve --port 0 \
    --threads 4 --web "$here/../../web" \
    --tmdb-api "http://127.0.0.1:$fport" --tmdb-images "http://127.0.0.1:$fport/img"
rm -rf "$shots"
mkdir -p "$shots"
echo "browser tests against $base; screenshots in $shots"
POSTER_MOVIES=$(cut -d' ' -f1 "$tmp/with-poster" | tr '\n' ' ') \
    BASE=$base SHOTS=$shots CHROMIUM=$chromium node --test --test-reporter=spec ${TEST_NAME:+--test-name-pattern="$TEST_NAME"} "$here/site.test.mjs"
rc=$?
if [ $rc -ne 0 ]; then
    echo "--- server stderr"
    tail -n 30 "$tmp/serve.err"
fi
exit $rc
