#!/usr/bin/env bash
# t0140-shutdown: SIGTERM while requests are in flight.
#
# 20 concurrent batch requests (and one slow upload) are under way when the server gets
# SIGTERM. Each client must get 200 or a connection error (never a 5xx, never a
# half-answer), the server must exit 0 within its shutdown timeout, and every message
# of a 200 answer must be stored, as the restarted server and the CLI show. Re-sending
# every batch afterwards (what clients do after a connection error) must leave each
# message stored exactly once.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # the system Python starts fastest; any python3 will do
[ -x "$PY" ] || PY=python3

CLIENTS=20
PER=500            # messages per batch
SHUTDOWN_TIMEOUT=8 # seconds, passed to serve

KEY=$("$CUSTOS" sources add web 2>"$WORK/cli.err")
check_match "custos sources add web prints a key" '^[A-Za-z0-9]{32}$' "$KEY"

# Batches r<i>-m<j>, about 100 KB each; a slow one of its own.
"$PY" - "$WORK" "$CLIENTS" "$PER" <<'EOF'
import json, sys
work, clients, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in list(range(clients)) + ["slow"]:
    batch = [{"type": "track", "userId": "u%s" % i, "event": "Shutdown Test", "messageId": "r%s-m%d" % (i, j),
              "properties": {"i": j, "pad": "x" * 100}} for j in range(per)]
    with open("%s/batch-%s.json" % (work, i), "w") as f:
        json.dump({"batch": batch}, f)
EOF
check "the batch files were written" [ -s "$WORK/batch-slow.json" ]

start_server --shutdown-timeout "$SHUTDOWN_TIMEOUT" || { not_ok "the server starts"; finish; exit 1; }

# post_batch NAME: posts batch-NAME.json; writes the status to code-NAME (000 for no
# answer), the body to resp-NAME and curl's exit status to rc-NAME.
post_batch() {
    local name=$1; shift
    curl -s -m 60 -o "$WORK/resp-$name" -w '%{http_code}' -u "$KEY:" -H 'Content-Type: application/json' \
        -H 'Expect:' --data-binary @"$WORK/batch-$name.json" "$@" "$BASE/v1/batch" >"$WORK/code-$name"
    echo $? >"$WORK/rc-$name"
}

# The slow upload (about 1.5 s at 40 KB/s) has certainly begun when SIGTERM comes,
# and ends well within the shutdown timeout: it must be answered 200.
post_batch slow --limit-rate 40K &
SLOW=$!
sleep 0.3
PIDS=()
for i in $(seq 0 $((CLIENTS - 1))); do
    post_batch "$i" &
    PIDS+=($!)
done
sleep 0.15
t0=$(date +%s%N)
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
SERVER_PID=""
wait "$SLOW" "${PIDS[@]}"
check_eq "the server exits 0 after SIGTERM with requests in flight" 0 "$rc"
check "it exits within the shutdown timeout (${elapsed_ms} ms <= ${SHUTDOWN_TIMEOUT}000 + 2000)" \
    [ "$elapsed_ms" -le $((SHUTDOWN_TIMEOUT * 1000 + 2000)) ]
check_eq "the slow upload in progress at SIGTERM is answered 200" 200 "$(cat "$WORK/code-slow")"
check_eq "its answer says all $PER were accepted" "$PER" \
    "$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["accepted"])' "$WORK/resp-slow" 2>&1)"

# Every client: 200 with the whole batch accepted, or no answer at all.
ok200=0 refused=0 other=""
for i in $(seq 0 $((CLIENTS - 1))); do
    code=$(cat "$WORK/code-$i")
    if [ "$code" = 200 ] && grep -q "\"accepted\":$PER," "$WORK/resp-$i"; then
        ok200=$((ok200 + 1))
    elif [ "$code" = 000 ] && [ "$(cat "$WORK/rc-$i")" != 0 ]; then
        refused=$((refused + 1))
    else
        other="$other $i:$code:rc$(cat "$WORK/rc-$i")"
    fi
done
echo "# $ok200 of $CLIENTS answered 200, $refused got a connection error"
check_eq "each client got 200 (all accepted) or a connection error; no 5xx, no other answer" "" "$other"

# After a restart, every message of a 200 answer is stored.
start_server || { not_ok "the server restarts on the same database"; finish; exit 1; }
"$CUSTOS" events --json >"$WORK/events.jsonl" 2>>"$WORK/cli.err"
check_eq "custos events --json exits 0" 0 $?
missing=$("$PY" - "$WORK" "$CLIENTS" "$PER" <<'EOF'
import json, sys
work, clients, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stored = {json.loads(l)["messageId"] for l in open(work + "/events.jsonl") if l.strip()}
missing = 0
for i in list(range(clients)) + ["slow"]:
    if open("%s/code-%s" % (work, i)).read() == "200":
        missing += sum("r%s-m%d" % (i, j) not in stored for j in range(per))
print(missing)
EOF
)
check_eq "every message of every 200 answer is stored" 0 "$missing"
check_eq "nothing is stored twice" "$(wc -l <"$WORK/events.jsonl")" \
    "$("$PY" -c 'import json, sys; print(len({json.loads(l)["messageId"] for l in sys.stdin}))' <"$WORK/events.jsonl")"

# Clients re-send everything: each message ends up stored exactly once.
PIDS=()
for i in $(seq 0 $((CLIENTS - 1))) slow; do
    post_batch "$i" &
    PIDS+=($!)
done
wait "${PIDS[@]}" # (not a bare wait: the server is a child too)
bad=""
for i in $(seq 0 $((CLIENTS - 1))) slow; do
    [ "$(cat "$WORK/code-$i")" = 200 ] || bad="$bad $i:$(cat "$WORK/code-$i")"
done
check_eq "after the restart every batch is answered 200" "" "$bad"
check_eq "every message is stored exactly once: $(((CLIENTS + 1) * PER)) events" "$(((CLIENTS + 1) * PER))" \
    "$("$CUSTOS" events --json | wc -l)"
stop_server
check_eq "the restarted server exits 0 on SIGTERM" 0 $?
check "the server log has no sanitizer report" bash -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$WORK/serve.log'"
finish
