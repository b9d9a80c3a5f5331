# lib.sh - shared helpers for the end-to-end scripts (sourced, bash).
#
# Each script runs the real binary ($CUSTOS_BIN, default ./custos) in its own
# temporary directory, starts servers on free loopback ports, and prints one TAP
# line per check: "ok N - what" or "not ok N - what". tests/run counts them.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CUSTOS=${CUSTOS_BIN:-$ROOT/custos}
LOADGEN=${LOADGEN_BIN:-$ROOT/build/release/bench/loadgen}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/custos-e2e.XXXXXX")
cd "$WORK" || exit 1
export CUSTOS_DB="$WORK/custos.db"
N=0
FAILED=0
SERVER_PID=""
PORT=""
BASE=""

cleanup() {
    [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null
    if [ "$FAILED" = 0 ]; then rm -rf "$WORK"; else echo "# kept $WORK"; fi
}
trap cleanup EXIT

ok() { N=$((N + 1)); echo "ok $N - $1"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; [ $# -gt 1 ] && echo "# $2"; }

# check "what" CMD...: passes when CMD succeeds.
check() {
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what" "command failed: $*"; fi
}

# check_eq "what" EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected [$2], got [$3]"; fi
}

# check_match "what" REGEX TEXT
check_match() {
    if printf '%s' "$3" | grep -qE -- "$2"; then ok "$1"; else not_ok "$1" "[$3] does not match /$2/"; fi
}

# start_server [flags...]: starts custos serve on a free port; sets SERVER_PID, PORT, BASE.
start_server() {
    rm -f "$WORK/ready"
    "$CUSTOS" serve --listen 127.0.0.1:0 --ready-file "$WORK/ready" "$@" 2>>"$WORK/serve.log" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        [ -s "$WORK/ready" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "# server died:"; tail -n 20 "$WORK/serve.log"; return 1; }
        sleep 0.05
    done
    [ -s "$WORK/ready" ] || { echo "# server did not start"; return 1; }
    PORT=$(cut -d: -f2 "$WORK/ready")
    BASE="http://127.0.0.1:$PORT"
}

# stop_server [SIGNAL]: stops it (TERM by default) and waits; returns its exit status.
stop_server() {
    local sig=${1:-TERM} rc=0
    [ -n "$SERVER_PID" ] || return 0
    kill -"$sig" "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    SERVER_PID=""
    return $rc
}

# post KEY PATH BODY [curl args...]: prints "STATUS BODY".
post() {
    local key=$1 path=$2 body=$3; shift 3
    curl -s -o "$WORK/resp" -w '%{http_code}' -u "$key:" -H 'Content-Type: application/json' \
        --data-binary "$body" "$@" "$BASE$path"
    printf ' '
    cat "$WORK/resp"
}

# finish: exit status for the script.
finish() {
    echo "1..$N"
    [ "$FAILED" = 0 ]
}
