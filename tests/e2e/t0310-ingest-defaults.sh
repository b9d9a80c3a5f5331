#!/usr/bin/env bash
# Ingestion with the default settings (incremental resolution and the segment refresh
# on). While a steady stream arrives, a new user's events have a profile and a segment
# reflects them within a second. At full speed the resolver may fall behind (it holds
# the write turn at most a tenth of the time while the writer is busy), then catches up:
# nothing is lost, every event is in the profile a full resolution gives it, and the
# analytics snapshot passed over no event; after kill -9 in the middle of it, the same.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { echo "1..0 # SKIP no sqlite3 shell"; exit 0; }
DB=$CUSTOS_DB
KEY=$("$CUSTOS" sources add web)
"$CUSTOS" segment create live 'events.count("Live Test", last 1d) >= 1' >/dev/null
"$CUSTOS" segment create viewers 'events.count("Product Viewed", last 1d) >= 1' >/dev/null
ADMIN=$("$CUSTOS" keys add --role admin 2>/dev/null)
q() { sqlite3 "$DB" "$1"; }
members() { q "SELECT kind, row_id, profile_id FROM profile_members ORDER BY 1, 2" | md5sum; }
resolved_event() { curl -s "$BASE/metrics" | awk '/^custos_resolve_rows_total\{kind="event"\}/ {print $2}'; }
# catch_up SECONDS: waits until the resolver's cursor is at the last event.
catch_up() {
    for _ in $(seq 1 $(($1 * 10))); do
        [ "$(q "SELECT last_event FROM identity_cursor")" = "$(q "SELECT max(id) FROM events")" ] && return 0
        sleep 0.1
    done
    return 1
}

# 1. A steady stream (single calls, 500/s): a new user is resolved and segmented in time.
start_server
"$LOADGEN" rate --port "$PORT" --key "$KEY" --rate 500 --connections 8 --duration 4 >/dev/null 2>&1 &
LG=$!
sleep 1
post "$KEY" /v1/track '{"userId":"e2e-live","event":"Live Test","messageId":"live-1"}' >/dev/null
T0=$(date +%s%3N)
PROFILE=""
for _ in $(seq 1 100); do
    PROFILE=$(q "SELECT profile_id FROM identifiers WHERE type = 'user_id' AND value = 'e2e-live'")
    [ -n "$PROFILE" ] && break
    sleep 0.02
done
RECEIVED=$(q "SELECT received_at FROM events WHERE message_id = 'live-1'")
LAG=$(($(date +%s%3N) - RECEIVED))
check_match "under a steady stream, a new user's event creates a profile" '^[0-9]+$' "$PROFILE"
check "... within a second of its arrival (${LAG} ms, polled)" [ "$LAG" -lt 1000 ]
OUT=""
for _ in $(seq 1 100); do
    OUT=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/segments/live/members")
    printf '%s' "$OUT" | grep -q "\"profile\":$PROFILE" && break
    sleep 0.02
done
check_match "the profile enters the segment while the stream goes on" "\"profile\":$PROFILE" "$OUT"
SLAG=$(printf '%s' "$OUT" | RECEIVED="$RECEIVED" python3 -c '
import datetime, json, os, sys
r = json.load(sys.stdin)["members"][0]["entered_at"]
t = datetime.datetime.strptime(r, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000) - int(os.environ["RECEIVED"]))')
check "... within a second of the event's arrival (${SLAG} ms)" [ "${SLAG:-99999}" -lt 1000 ]
wait "$LG"

# 2. Full speed: the resolver may fall behind, then catches up with everything.
"$LOADGEN" batch --port "$PORT" --key "$KEY" --connections 32 --batch 100 --duration 3 \
    >"$WORK/batch.json" 2>/dev/null
ACKED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$WORK/batch.json")
check "the full-speed load was acknowledged" [ "${ACKED:-0}" -gt 0 ]
check "after the load, the resolver catches up with every event" catch_up 120
EVENTS=$(q "SELECT count(*) FROM events")
check_eq "every event is in a profile (each carries a userId or anonymousId)" "$EVENTS" \
    "$(q "SELECT count(*) FROM profile_members WHERE kind = 0")"
check_eq "/metrics counts them all as resolved" "$EVENTS" "$(resolved_event)"
# The snapshot passed over no event: the viewers segment holds every profile with a
# Product Viewed event, as SQL counts them (the refresh may lag by one interval).
WANT=$(q "SELECT count(DISTINCT pm.profile_id) FROM events e JOIN profile_members pm ON pm.kind = 0
          AND pm.row_id = e.id WHERE e.type = 'track' AND e.event = 'Product Viewed'
          AND e.timestamp >= (strftime('%s','now') - 86400) * 1000")
GOT=""
for _ in $(seq 1 50); do
    GOT=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/segments" |
        python3 -c 'import json,sys; print([s["members"] for s in json.load(sys.stdin)["segments"] if s["name"] == "viewers"][0])')
    [ "$GOT" = "$WANT" ] && break
    sleep 0.1
done
check_eq "the segment counts every profile that viewed a product (no event skipped)" "$WANT" "$GOT"
check "SIGTERM stops the server cleanly" stop_server
check_eq "no resolution failure was logged" 0 "$(grep -c 'resolution failed' "$WORK/serve.log")"
BEFORE=$(members)
"$CUSTOS" resolve --quiet >/dev/null
check_eq "the profiles are those of a full resolution of the same events" "$BEFORE" "$(members)"

# 3. kill -9 at full speed, with a backlog: a restart goes on from the cursor.
export CUSTOS_DB=$WORK/crash.db
DB=$CUSTOS_DB
CKEY=$("$CUSTOS" sources add web)
start_server
"$LOADGEN" batch --port "$PORT" --key "$CKEY" --connections 32 --batch 100 --duration 4 >/dev/null 2>&1 &
LG=$!
sleep 2
stop_server KILL
wait "$LG" 2>/dev/null
EVENTS=$(q "SELECT count(*) FROM events")
BEHIND=$(q "SELECT (SELECT count(*) FROM events) - (SELECT count(*) FROM profile_members WHERE kind = 0)")
check "events were stored before the kill" [ "$EVENTS" -gt 0 ]
echo "# $EVENTS events stored, $BEHIND not resolved yet at the kill"
start_server
check "after the restart the resolver catches up with all $EVENTS events" catch_up 120
check_eq "every event is in a profile" "$EVENTS" "$(q "SELECT count(*) FROM profile_members WHERE kind = 0")"
stop_server
BEFORE=$(members)
"$CUSTOS" resolve --quiet >/dev/null
check_eq "every event is in the profile a full resolution gives it" "$BEFORE" "$(members)"
finish
