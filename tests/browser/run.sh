#!/bin/sh
# The browser tests (site.test.mjs) against a real `movierec serve` on a
# free port, over a small world made here (generated, imported, trained).
# Screenshots of every page go to $SHOTS (scripts/run-tests sets it to
# BUILD/test-logs/screenshots).
#   sh tests/browser/run.sh path/to/movierec
set -u
mr=$1
here=$(cd "$(dirname "$0")" && pwd)
shots=${SHOTS:-$here/../../build/test-logs/screenshots}
chromium=${CHROMIUM:-/usr/bin/chromium}
for need in node "$chromium"; do
    command -v "$need" >/dev/null 2>&1 ||
        { echo "browser tests: '$need' is missing (scripts/install-deps installs it)"; exit 1; }
done
[ -d "$here/node_modules/playwright-core" ] ||
    { echo "browser tests: playwright-core is missing (scripts/install-deps installs it)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/movierec-browser-XXXXXX")
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
H="$tmp/home"
"$mr" generate "$tmp/gen" --users 300 --movies 400 --ratings 20000 --seed 11 >/dev/null 2>&1 ||
    { echo "generate failed"; exit 1; }
"$mr" --home "$H" import "$tmp/gen" >/dev/null 2>&1 || { echo "import failed"; exit 1; }
"$mr" --home "$H" train --epochs 2 --batch 256 >"$tmp/train.log" 2>&1 ||
    { echo "train failed"; cat "$tmp/train.log"; exit 1; }

"$mr" --home "$H" serve --port 0 --threads 4 --web "$here/../../web" \
    >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
i=0
while ! grep -q "serving http" "$tmp/serve.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "the server did not start:"
        cat "$tmp/serve.out" "$tmp/serve.err"
        exit 1
    fi
    sleep 0.1
done
base=$(sed -n 's/.*serving \(http:[^ ]*\)\/ .*/\1/p' "$tmp/serve.out")
rm -rf "$shots"
mkdir -p "$shots"
echo "browser tests against $base; screenshots in $shots"
BASE=$base SHOTS=$shots CHROMIUM=$chromium node --test --test-reporter=spec ${TEST_NAME:+--test-name-pattern="$TEST_NAME"} "$here/site.test.mjs"
rc=$?
if [ $rc -ne 0 ]; then
    echo "--- server stderr"
    tail -n 30 "$tmp/serve.err"
fi
exit $rc
