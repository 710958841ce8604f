# Sourced by the API and browser tests (POSIX sh): start the servers they
# test against and wait until they listen. Each exits the test with the
# server's output when it does not start.
#
#   serve_start OUT CMD...     runs CMD (a `movierec ... serve --port 0 ...`,
#                              `env VAR=x` in front is fine) with stdout in
#                              OUT.out and stderr in OUT.err; sets $pid and
#                              $base (http://127.0.0.1:PORT)
#   fake_tmdb_start DIR OUT    python3's http.server over DIR on a free port
#                              (a fake TMDB: it ignores query strings, so
#                              DIR/movie/<id> answers /movie/<id>?api_key=..);
#                              sets $fake (its pid) and $fport

# wait_listening PID FILE PATTERN WHAT: until FILE holds PATTERN
wait_listening() {
    _i=0
    while ! grep -q "$3" "$2" 2>/dev/null; do
        _i=$((_i + 1))
        if [ $_i -gt 300 ] || ! kill -0 "$1" 2>/dev/null; then
            echo "$4 did not start:"
            cat "$2" "${2%.out}.err" 2>/dev/null
            exit 1
        fi
        sleep 0.1
    done
}

serve_start() {
    _out=$1
    shift
    : >"$_out.out"
    "$@" >"$_out.out" 2>"$_out.err" &
    pid=$!
    wait_listening "$pid" "$_out.out" "serving http" "the server"
    base=$(sed -n 's/.*serving \(http:[^ ]*\)\/ .*/\1/p' "$_out.out")
}

fake_tmdb_start() {
    rm -f "$2.out" "$2.err"
    python3 -u -m http.server --bind 127.0.0.1 0 --directory "$1" >"$2.out" 2>"$2.err" &
    fake=$!
    wait_listening "$fake" "$2.out" "port" "the fake TMDB"
    fport=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$2.out" | head -n 1)
}
