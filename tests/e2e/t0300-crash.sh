#!/usr/bin/env bash
# t0300-crash: durability and exactly-once under kill -9, mid-load.
#
# bench/loadgen runs /v1/batch load (8 connections, 50 messages a batch) for LOAD_S
# seconds and logs the messageId of every acknowledged message (--ack-log). 1.5 s in, the
# server is killed with SIGKILL and at once restarted on the same database and port;
# loadgen reconnects and resends the batches that got no answer (same messageIds). Once it
# is acknowledging again, 1.5 s later, the same again: two kills in the one run. loadgen
# goes on to the end of its duration. Afterwards `custos events --json` must hold
#   (a) every acknowledged messageId (a 200 means committed and fsynced),
#   (b) no messageId twice (a resent batch that was committed before the kill is a
#       duplicate; the dedup set is rebuilt from the store at start-up),
#   (c) at least as many events as were acknowledged.
#
# A restart after kill -9 takes 0.5-2.5 s here (WAL recovery, then the dedup set is
# rebuilt by reading every stored event), so the run lasts LOAD_S = 9 s rather than 4, for
# load to go on after the second restart.
#
# The release binary runs the server (the sanitizer build is several times slower and this
# test is about the store, not memory errors): CUSTOS_RELEASE_BIN, else
# build/release/custos, else $CUSTOS_BIN.
source "$(dirname "$0")/lib.sh"

CUSTOS_FAST=${CUSTOS_RELEASE_BIN:-$ROOT/build/release/custos}
[ -x "$CUSTOS_FAST" ] || CUSTOS_FAST=$CUSTOS
CUSTOS=$CUSTOS_FAST # start_server runs $CUSTOS
LOAD_S=${CRASH_LOAD_S:-9} # loadgen's --duration
KILL_AT_MS=1500          # each kill comes this long after loadgen started or the server restarted
KILLS=2
echo "# server: $CUSTOS_FAST; loadgen: $LOADGEN"

[ -x "$LOADGEN" ] || { not_ok "loadgen is built" "no $LOADGEN: make all"; finish; exit 1; }

KEY=$("$CUSTOS" sources add crash 2>>"$WORK/cli.log")
check_eq "custos sources add crash exits 0" 0 $?
start_server || { not_ok "the server starts"; finish; exit 1; }
ok "the server starts on port $PORT"

# Restarts on the port loadgen knows. The old listening socket is gone with the process
# (and the server sets SO_REUSEADDR), but allow a few tries.
restart_same_port() {
    local port=$PORT try
    for try in 1 2 3 4 5; do
        start_server --listen "127.0.0.1:$port" && [ "$PORT" = "$port" ] && return 0
        [ -n "$SERVER_PID" ] && stop_server KILL
        sleep 0.2
    done
    PORT=$port
    return 1
}

acked() { if [ -f "$WORK/acked.txt" ]; then wc -l <"$WORK/acked.txt"; else echo 0; fi; }
now_us() { echo "${EPOCHREALTIME/./}"; }
since() { local d=$(($(now_us) - $1)); printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000)); }
trap '[ -n "${LOADGEN_PID:-}" ] && kill "$LOADGEN_PID" 2>/dev/null; cleanup' EXIT

t0=$(now_us)
"$LOADGEN" batch --host 127.0.0.1 --port "$PORT" --key "$KEY" --connections 8 --batch 50 \
    --duration "$LOAD_S" --timeout 5 --ack-log "$WORK/acked.txt" --id-prefix crash \
    >"$WORK/loadgen.json" 2>"$WORK/loadgen.log" &
LOADGEN_PID=$!
end_us=$((t0 + ${LOAD_S%.*} * 1000000))
since_us=$t0 # the kill comes KILL_AT_MS after this, once loadgen acknowledges again
mark=0
for k in $(seq 1 $KILLS); do
    kill_at=$((since_us + KILL_AT_MS * 1000))
    while [ "$(now_us)" -lt "$kill_at" ] || [ "$(acked)" -le "$mark" ]; do
        [ "$(now_us)" -lt "$end_us" ] || break
        sleep 0.02
    done
    before=$(acked)
    if [ "$before" -le "$mark" ]; then
        not_ok "kill -9 #$k: loadgen is acknowledging before it" "nothing acknowledged in $(since "$since_us") s"
        break
    fi
    [ "$k" -gt 1 ] && ok "kill -9 #$((k - 1)): loadgen reconnected to the restarted server ($((before - mark)) acknowledged since)"
    old_pid=$SERVER_PID
    stop_server KILL
    rc=$?
    echo "# t=$(since "$t0") s: kill -9 #$k, $before messages acknowledged so far"
    check_eq "kill -9 #$k mid-load: the server (pid $old_pid) died of SIGKILL" 137 $rc
    if restart_same_port; then
        echo "# t=$(since "$t0") s: restarted: $(grep 'messages known' "$WORK/serve.log" | tail -n 1 | sed 's/.*database [^ ]* //')"
        ok "kill -9 #$k: restarted on the same database and port $PORT"
    else
        not_ok "kill -9 #$k: restarted on the same database and port $PORT" "$(tail -n 3 "$WORK/serve.log")"
        break
    fi
    since_us=$(now_us)
    mark=$(acked)
done

wait "$LOADGEN_PID"
check_eq "loadgen ran to the end of its $LOAD_S s (exit 0)" 0 $?
LOADGEN_PID=""
echo "# t=$(since "$t0") s: loadgen: $(head -c 330 "$WORK/loadgen.json")"
total=$(acked)
if [ "$total" -gt "$mark" ]; then
    ok "kill -9 #$KILLS: loadgen reconnected to the restarted server ($((total - mark)) acknowledged since)"
else
    not_ok "kill -9 #$KILLS: loadgen reconnected to the restarted server" "nothing acknowledged after the last restart: raise CRASH_LOAD_S"
fi

mb() { if [ -f "$1" ]; then echo $(($(stat -c %s "$1") / 1048576)); else echo 0; fi; }
echo "# before the stop: database $(mb "$CUSTOS_DB") MB, WAL $(mb "$CUSTOS_DB-wal") MB"
stop_server
check_eq "the server stops cleanly on SIGTERM" 0 $?

cat >"$WORK/verify.py" <<'EOF'
import json, sys
from collections import Counter

# The stored events come on stdin (custos events --json: hundreds of MB, not kept).
acked_path, loadgen_paths = sys.argv[1], sys.argv[2:]
out = []
def report(passed, what, why=""):
    out.append("ok\t%s" % what if passed else "not ok\t%s\t%s" % (what, why[:600]))

with open(acked_path) as f:
    acked_lines = [l.rstrip("\n") for l in f if l.strip()]
acked = set(acked_lines)
stored = Counter()
bad = 0
for line in sys.stdin.buffer:
    try:
        stored[json.loads(line)["messageId"]] += 1
    except Exception:
        bad += 1
n_stored = sum(stored.values())
print("#\tacked %d, stored %d (%d distinct), stored but not acked %d" % (
    len(acked_lines), n_stored, len(stored), len(set(stored) - acked)))
try:
    reports = []
    for p in loadgen_paths:
        with open(p) as f:
            reports.append(json.load(f))
    lg_events = sum(r["events"] for r in reports)
    report(len(reports) > 0 and lg_events == len(acked_lines),
           "the ack log holds every message loadgen counted as acknowledged (%d)" % lg_events,
           "loadgen counted %d, the log has %d lines" % (lg_events, len(acked_lines)))
    for i, r in enumerate(reports, 1):
        io = {k: v for k, v in r["io_errors"].items() if v}
        report(sum(io.values()) > 0, "loadgen saw the kills (I/O errors: %s)" % (
            ", ".join("%s %d" % kv for kv in io.items())),
            "no I/O error: the server was not killed under load")
except Exception as e:
    report(False, "loadgen printed its JSON reports", repr(e))
report(len(acked_lines) > 0, "some messages were acknowledged (%d)" % len(acked_lines), "none")
report(len(acked) == len(acked_lines), "no messageId acknowledged twice",
       "%d repeated lines" % (len(acked_lines) - len(acked)))
report(bad == 0, "every stored event is JSON with a messageId", "%d are not" % bad)
missing = sorted(acked - set(stored))
report(not missing, "(a) every acknowledged messageId is stored",
       "%d acknowledged but lost, e.g. %s" % (len(missing), missing[:5]))
dups = sorted(m for m, c in stored.items() if c > 1)
report(not dups, "(b) no messageId is stored twice",
       "%d stored more than once, e.g. %s" % (len(dups), [(m, stored[m]) for m in dups[:5]]))
report(n_stored >= len(acked_lines), "(c) stored events (%d) >= acknowledged (%d)" % (
    n_stored, len(acked_lines)), "stored %d < acknowledged %d" % (n_stored, len(acked_lines)))
foreign = [m for m in stored if not m.startswith("crash")]
report(not foreign, "every stored event came from this loadgen run", "e.g. %s" % foreign[:3])
print("\n".join(out))
print("end")
EOF

"$CUSTOS" events --json 2>>"$WORK/cli.log" |
    python3 "$WORK/verify.py" "$WORK/acked.txt" "$WORK/loadgen.json" >"$WORK/verify.out" 2>"$WORK/verify.err"
pipe=("${PIPESTATUS[@]}")
check_eq "custos events --json exits 0" 0 "${pipe[0]}"
rc=${pipe[1]}
ended=0
while IFS=$'\t' read -r status what why; do
    case $status in
    ok) ok "$what" ;;
    "not ok") not_ok "$what" "$why" ;;
    "#") echo "# $what" ;;
    end) ended=1 ;;
    esac
done <"$WORK/verify.out"
[ $rc = 0 ] && [ $ended = 1 ] ||
    not_ok "the verification ran to its end" "exit $rc: $(tail -n 3 "$WORK/verify.err" | tr '\n' ' ')"

if [ "$FAILED" != 0 ]; then
    echo "# server log:"
    tail -n 20 "$WORK/serve.log" | sed 's/^/#   /'
    echo "# loadgen:"
    sed 's/^/#   /' "$WORK/loadgen.log"
fi
finish
