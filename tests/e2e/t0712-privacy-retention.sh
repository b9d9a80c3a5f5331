#!/usr/bin/env bash
# Retention: custos privacy sweep deletes, per category, what is older than the
# retention setting allows (dry run: counts only), and custos serve sweeps on its own.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
quiet() { "$@" >/dev/null 2>&1; }
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
# count SQL: the number SQLite gives for a query, read apart from custos.
count() { "$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$CUSTOS_DB" "$1"; }
rows_of() { printf '%s\n' "$OUT" | "$PY" -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l)
    if r["category"]==sys.argv[1]: print(r["rows"])' "$1"; }

# A small demo world (2024-2025) and a few messages of today and of 2020.
quiet "$CUSTOS" demo --customers 30 --seed 3 --out "$WORK/demo" --load
KEY=$("$CUSTOS" sources add probe --plan <(printf '{"events":{"Checkout":{"required":["total"]}}}'))
start_server
post "$KEY" /v1/track '{"userId":"old","event":"Old","timestamp":"2020-01-02T03:04:05Z","sentAt":"2020-01-02T03:04:05Z"}' >/dev/null
post "$KEY" /v1/track '{"userId":"new","event":"New"}' >/dev/null
post "$KEY" /v1/track '{"userId":"q","event":"Checkout"}' >/dev/null
stop_server
quiet "$CUSTOS" resolve --quiet

NOW=$("$PY" -c 'import time; print(int(time.time()*1000))')
DAY=86400000
CUT_E=$((NOW - 400 * DAY)); CUT_R=$((NOW - 600 * DAY))
OLD_E=$(count "SELECT count(*) FROM events WHERE timestamp < $CUT_E")
OLD_R=$(count "SELECT count(*) FROM records WHERE coalesce(time, imported_at) < $CUT_R")
ALL_E=$(count "SELECT count(*) FROM events"); ALL_R=$(count "SELECT count(*) FROM records")
check "the world has events on both sides of 400 days ($OLD_E of $ALL_E)" test "$OLD_E" -gt 0 -a "$OLD_E" -lt "$ALL_E"
check "and records on both sides of 600 days ($OLD_R of $ALL_R)" test "$OLD_R" -gt 0 -a "$OLD_R" -lt "$ALL_R"

RET="events:400d,records:600d,quarantine:30d"
run "$CUSTOS" privacy sweep --dry-run --json --retention "$RET"
check_eq "a dry run exits 0" 0 "$RC"
check_eq "it counts the old events and records" "$OLD_E $OLD_R" "$(rows_of events) $(rows_of records)"
check_eq "and deletes nothing" "$ALL_E $ALL_R" "$(count 'SELECT count(*) FROM events') $(count 'SELECT count(*) FROM records')"
run "$CUSTOS" privacy sweep --json --retention "$RET"
check_eq "the sweep deletes the same numbers" "$OLD_E $OLD_R 0" "$(rows_of events) $(rows_of records) $(rows_of quarantine)"
check_eq "what is left is the newer data" "$((ALL_E - OLD_E)) $((ALL_R - OLD_R)) 0 0" \
    "$(count 'SELECT count(*) FROM events') $(count 'SELECT count(*) FROM records') $(count "SELECT count(*) FROM events WHERE timestamp < $CUT_E") $(count "SELECT count(*) FROM records WHERE coalesce(time, imported_at) < $CUT_R")"
check_eq "no membership, order line or order points at a deleted row" "0 0 0" \
    "$(count 'SELECT count(*) FROM profile_members m WHERE (m.kind = 0 AND m.row_id NOT IN (SELECT id FROM events)) OR (m.kind = 1 AND m.row_id NOT IN (SELECT id FROM records))') $(count 'SELECT count(*) FROM order_lines WHERE record_id NOT IN (SELECT id FROM records)') $(count 'SELECT count(*) FROM orders WHERE record_id NOT IN (SELECT id FROM records)')"
check_eq "the quarantined message of today stays" 1 "$(count 'SELECT count(*) FROM quarantine')"
run "$CUSTOS" privacy sweep --json --retention "$RET"
check_eq "a second sweep finds nothing" "0 0" "$(rows_of events) $(rows_of records)"
run "$CUSTOS" privacy sweep --retention "$RET"
check_match "the table names each category and its age" "events +400d" "$OUT"

run "$CUSTOS" privacy sweep --retention 'events:abc'
check_eq "a malformed age is bad usage" "2 yes" "$RC $(printf '%s' "$ERR" | grep -q 'a unit d, h, m' && echo yes)"
run "$CUSTOS" privacy sweep --retention 'orders:30d'
check_eq "an unknown category is bad usage" 2 "$RC"
run "$CUSTOS" privacy sweep
check_eq "without a retention setting sweep says so (exit 1)" "1 yes" "$RC $(printf '%s' "$ERR" | grep -q 'no retention is set' && echo yes)"

# custos serve sweeps on its own, and stops at once on SIGTERM.
start_server --retention quarantine:1s --retention-interval 1
post "$KEY" /v1/track '{"userId":"q2","event":"Checkout"}' >/dev/null
for _ in $(seq 1 60); do [ "$(count 'SELECT count(*) FROM quarantine')" = 0 ] && break; sleep 0.1; done
check_eq "custos serve's scheduled sweep empties the quarantine past 1 s" 0 "$(count 'SELECT count(*) FROM quarantine')"
T0=$("$PY" -c 'import time; print(time.time())')
check "serve stops on SIGTERM" stop_server
check "within 3 seconds" "$PY" -c 'import sys,time; sys.exit(time.time() - float(sys.argv[1]) > 3)' "$T0"
finish
