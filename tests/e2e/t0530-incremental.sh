#!/usr/bin/env bash
# Incremental resolution: with custos serve running, an identify posted with curl has
# its profile within a second, without custos resolve; an alias joins the anonymous
# visitor's profile to the user's and the old id redirects; /metrics counts it; a full
# resolution run meanwhile changes nothing and the server goes on; custos import
# resolves what it loads (the summary says so) unless --no-resolve; resolve-incremental
# = off leaves profiles alone; after kill -9 the resolver goes on from its cursor.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/e2e/data/resolve
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$CUSTOS" sources add crm >/dev/null
KEY=$("$CUSTOS" sources add web)
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
json() { printf '%s' "$OUT" | "$PY" -c "import json,sys; v=json.load(sys.stdin); print($1)"; }
ms() { date +%s%3N; }

# wait_profile FLAG VALUE: polls custos profile show for up to 1 s; prints the
# milliseconds it took, or "none".
wait_profile() {
    local t0 now
    t0=$(ms)
    while :; do
        if "$CUSTOS" profile show "$1" "$2" --json >"$WORK/profile.json" 2>/dev/null; then
            echo $(($(ms) - t0))
            return 0
        fi
        now=$(ms)
        [ $((now - t0)) -gt 1000 ] && { echo none; return 1; }
        sleep 0.02
    done
}

start_server
R=$(post "$KEY" /v1/identify '{"userId":"U-100","traits":{"email":"Chen.Jing@QQ.com","phone":"139 7182 9364"}}')
check_eq "an identify is accepted" 200 "${R%% *}"
T=$(wait_profile --user-id U-100)
check_match "its profile is there within a second, found by userId (took ${T} ms)" '^[0-9]+$' "$T"
PU=$("$PY" -c 'import json; print(json.load(open("'"$WORK/profile.json"'"))["id"])')
check_eq "the identify's e-mail, standardized, finds the same profile" "$PU" \
    "$("$CUSTOS" profile show --email chen.jing@qq.com --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')"

# An anonymous visitor with a phone of their own gets a profile of their own ...
post "$KEY" /v1/track '{"anonymousId":"anon-77","event":"Product Viewed","context":{"traits":{"phone":"13655511234"}}}' >/dev/null
T=$(wait_profile --phone 13655511234)
check_match "the anonymous visitor's profile is there within a second" '^[0-9]+$' "$T"
PA=$("$PY" -c 'import json; print(json.load(open("'"$WORK/profile.json"'"))["id"])')
check "it is another profile" test "$PA" != "$PU"
# ... until an alias says anon-77 is U-100: the anonymous profile joins the user's.
post "$KEY" /v1/alias '{"userId":"U-100","previousId":"anon-77"}' >/dev/null
merged=no
for _ in $(seq 1 50); do
    run "$CUSTOS" profile show "$PA" --json
    [ "$RC" = 0 ] && [ "$(json 'v["id"]')" = "$PU" ] && { merged=yes; break; }
    sleep 0.02
done
check_eq "within a second the anonymous profile's id redirects to the user's" yes "$merged"
check_eq "the answer says which id it was redirected from" "$PA" "$(json 'v.get("redirected_from")')"
check_eq "the merge is in the user's profile history" 1 "$(json 'len(v["merges"])')"
check_eq "the visitor's phone is now one of the user's identifiers" "$PU" \
    "$("$CUSTOS" profile show --phone 13655511234 --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')"

M=$(curl -s "$BASE/metrics")
check_match "/metrics counts the resolved events" 'custos_resolve_rows_total\{kind="event"\} 3' "$M"
check_match "/metrics counts the merge" 'custos_resolve_merges_total 1' "$M"
check_match "/metrics has the lag histogram" 'custos_resolve_lag_ms_count 3' "$M"

# A full resolution in another process while the server runs: same profiles, and the
# server's resolver goes on after loading the graph again.
run "$CUSTOS" resolve --json
check_eq "custos resolve runs beside the server and finds nothing new to merge" "0 0" "$RC $(json 'v["merges"]')"
post "$KEY" /v1/identify '{"userId":"U-200","traits":{"email":"zhao.lei@163.com"}}' >/dev/null
T=$(wait_profile --user-id U-200)
check_match "after it, a new identify still has its profile within a second" '^[0-9]+$' "$T"
check_match "the resolver loaded the graph again" 'custos_resolve_graph_loads_total 2' "$(curl -s "$BASE/metrics")"
check "SIGTERM stops the server cleanly" stop_server
check_eq "no resolution failure was logged" 0 "$(grep -c 'resolution failed' "$WORK/serve.log")"

# kill -9 while events stream in and the resolver works: after a restart it goes on
# from its cursor, and the profiles are exactly those of a full resolution.
export CUSTOS_DB=$WORK/crash.db
CKEY=$("$CUSTOS" sources add load)
start_server
"$LOADGEN" batch --port "$PORT" --key "$CKEY" --connections 4 --batch 50 --duration 3 >/dev/null 2>&1 &
LG=$!
sleep 1.5
stop_server KILL
wait "$LG" 2>/dev/null
EVENTS=$(sqlite3 "$CUSTOS_DB" "SELECT count(*) FROM events")
check "events were stored before the kill" test "$EVENTS" -gt 0
start_server
caught=no
for _ in $(seq 1 100); do
    [ "$(sqlite3 "$CUSTOS_DB" "SELECT last_event FROM identity_cursor")" =       "$(sqlite3 "$CUSTOS_DB" "SELECT max(id) FROM events")" ] && { caught=yes; break; }
    sleep 0.1
done
check_eq "after the restart the resolver catches up with all $EVENTS events" yes "$caught"
stop_server
members() { sqlite3 "$CUSTOS_DB" "SELECT kind, row_id, profile_id FROM profile_members ORDER BY 1, 2" | md5sum; }
BEFORE=$(members)
"$CUSTOS" resolve --quiet >/dev/null
check_eq "every event is in the profile a full resolution gives it" "$(members)" "$BEFORE"
export CUSTOS_DB=$WORK/custos.db

# Import resolves what it loads, then profile show works without custos resolve.
run "$CUSTOS" import --source crm --mapping "$D/crm.mapping.json" "$D/crm.csv"
check_eq "the CRM file imports" 0 "$RC"
check_match "the summary says how the rows were resolved" \
    'resolved 8 rows: 0 joined existing profiles, 8 went into 7 new profiles' "$OUT"
run "$CUSTOS" profile show --phone "+86 138 0013 1111" --json
check_eq "an imported contact's profile is found by phone without custos resolve" 0 "$RC"
check_eq "C1 and C2 (one phone written two ways) are one profile" "C1 C2" \
    "$(json '" ".join(sorted(i["value"] for i in v["identifiers"] if i["type"] == "crm_id"))')"
run "$CUSTOS" import --json --source crm --mapping "$D/crm.mapping.json" "$D/link.csv"
check_eq "a record linking two contacts joins their profiles at import" "1 1" \
    "$(json 'v["resolved"]["joined"], v["resolved"]["merges"]' | tr -d '(),')"

# --no-resolve, and resolve-incremental = off, leave profiles to custos resolve.
printf 'contact_id,name,email,mobile,city,member_card\nC10,Li Na,li.na@sina.com,,,\n' >"$WORK/c10.csv"
run "$CUSTOS" import --json --no-resolve --source crm --mapping "$D/crm.mapping.json" "$WORK/c10.csv"
check_eq "--no-resolve: loaded, and the summary says nothing was resolved" "1 None" \
    "$(json 'v["loaded"], v["resolved"]' | tr -d '(),')"
run "$CUSTOS" profile show --email li.na@sina.com
check_eq "so its profile does not exist yet" 1 "$RC"
start_server --resolve-incremental off
post "$KEY" /v1/identify '{"userId":"U-300"}' >/dev/null
sleep 0.5
run "$CUSTOS" profile show --user-id U-300
check_eq "a server with resolve-incremental off resolves nothing" 1 "$RC"
check_eq "and has no resolver metrics" 0 "$(curl -s "$BASE/metrics" | grep -c custos_resolve_)"
stop_server
run "$CUSTOS" resolve --json
check_eq "custos resolve picks both up" "0 0" \
    "$("$CUSTOS" profile show --email li.na@sina.com >/dev/null 2>&1; echo $?) $("$CUSTOS" profile show --user-id U-300 >/dev/null 2>&1; echo $?)"
finish
