#!/usr/bin/env bash
# Segments and tags: create with a syntax error pointing at its column; members that
# equal the same condition in SQL on a demo world; tags from the setting; entry and
# exit times; and, while custos serve ingests, a new event reflected in a segment's
# membership within one second; the analytics and segments HTTP API (admin keys; analyst
# keys only with dp_epsilon: t0620).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v sqlite3 >/dev/null || { echo "1..0 # SKIP no sqlite3 shell"; exit 0; }

"$CUSTOS" demo --customers 200 --out "$WORK/demo" --load >/dev/null 2>&1
check "the demo world resolves" "$CUSTOS" resolve --quiet
DB=$CUSTOS_DB
ASOF=2026-01-01
ASOF_MS=1767225600000

"$CUSTOS" segment create bad 'orders.count(last 90d) >= and x' 2>"$WORK/err"
check_eq "a syntax error is a usage error" 2 $?
check_match "... naming its column" 'syntax error at column 27: expected a value' "$(cat "$WORK/err")"
check_match "... with a caret under it" '^ {28}\^$' "$(sed -n 3p "$WORK/err")"

OUT=$("$CUSTOS" segment create sh 'orders.count(last 365d) >= 2 and traits.city = "上海"' --as-of $ASOF)
check_match "segment create says how many members" '^segment sh: [0-9]+ members$' "$OUT"
GOT=$("$CUSTOS" segment members sh --as-of $ASOF --csv | tail -n +2 | cut -d, -f1 | sort -n | tr '\n' ' ')
WANT=$(sqlite3 "$DB" "
WITH o AS (SELECT pm.profile_id AS p, o.time AS t FROM orders o JOIN profile_members pm ON pm.kind = 1
           AND pm.row_id = o.record_id WHERE o.time IS NOT NULL),
c AS (SELECT p FROM o WHERE t >= $ASOF_MS - 365 * 86400000 AND t <= $ASOF_MS GROUP BY p HAVING count(*) >= 2),
city AS (SELECT p, v FROM (SELECT pm.profile_id AS p, json_extract(r.traits, '$.city') AS v,
           row_number() OVER (PARTITION BY pm.profile_id ORDER BY coalesce(r.time, r.imported_at) DESC, r.id DESC) AS rn
           FROM records r JOIN profile_members pm ON pm.kind = 1 AND pm.row_id = r.id
           WHERE json_valid(r.traits) AND json_extract(r.traits, '$.city') IS NOT NULL) WHERE rn = 1)
SELECT c.p FROM c JOIN city ON city.p = c.p WHERE city.v = '上海' ORDER BY c.p" | tr '\n' ' ')
check_eq "members equal the same condition written in SQL" "$WANT" "$GOT"
check_match "... and there are some" '[0-9]' "$GOT"

# Exports leave out the members without the purpose's consent (opt-in by default).
FIRST=$(echo "$GOT" | cut -d' ' -f1); SECOND=$(echo "$GOT" | cut -d' ' -f2)
"$CUSTOS" privacy consent set --profile "$FIRST" --purpose marketing --status granted >/dev/null
"$CUSTOS" privacy consent set --profile "$SECOND" --purpose marketing --status denied >/dev/null
EXP=$("$CUSTOS" segment export sh --purpose marketing --as-of $ASOF 2>"$WORK/exp.err" | tail -n +2 | cut -d, -f1 | tr '\n' ' ')
check_eq "segment export: only the member who granted marketing (undecided ones are denied)" "$FIRST " "$EXP"
check_match "... and it says how many were left out" "1 profiles exported for marketing, $(( $(echo "$GOT" | wc -w) - 1 )) left out" "$(cat "$WORK/exp.err")"
EXP=$("$CUSTOS" segment export sh --purpose marketing --as-of $ASOF --consent-default granted 2>/dev/null | tail -n +2 | cut -d, -f1 | tr '\n' ' ')
check_eq "with consent-default granted, all but the one who denied" "$(echo "$GOT" | wc -w)" "$(( $(echo "$EXP" | wc -w) + 1 ))"
check "the denied member is not in it" bash -c "! echo ' $EXP' | grep -q ' $SECOND '"
"$CUSTOS" segment export sh --as-of $ASOF >/dev/null 2>&1
check_eq "an export without --purpose is a usage error" 2 $?
check_match "exports are audited" '"action":"export","subject":"segment:sh"' "$("$CUSTOS" audit list --json)"

# Tags from the setting, kept as segments tag:NAME
export CUSTOS_TAGS="mother_baby: orders.count(all, category = '母婴') >= 2"
"$CUSTOS" segment refresh --as-of $ASOF 2>/dev/null
GOT=$("$CUSTOS" segment members tag:mother_baby --as-of $ASOF --csv | tail -n +2 | cut -d, -f1 | sort -n | tr '\n' ' ')
WANT=$(sqlite3 "$DB" "SELECT pm.profile_id FROM orders o JOIN profile_members pm ON pm.kind = 1 AND pm.row_id = o.record_id
  WHERE o.time IS NOT NULL AND EXISTS (SELECT 1 FROM order_lines l WHERE l.source_id = o.source_id AND l.order_id = o.order_id
  AND l.category = '母婴') GROUP BY pm.profile_id HAVING count(*) >= 2 ORDER BY 1" | tr '\n' ' ')
check_eq "a tag's members equal its condition in SQL" "$WANT" "$GOT"
OUT=$("$CUSTOS" segment create babysh 'tags contains "mother_baby" and traits.city = "上海"' --as-of $ASOF)
check_match "a segment can use a tag" '^segment babysh: [0-9]+ members$' "$OUT"

# Entry and exit times: buyers of the last 30 days of 2025 leave when evaluated now
# (2026-11 or later: no order in the last 30 days)
"$CUSTOS" segment create dec 'orders.count(last 30d) >= 1' --as-of $ASOF >/dev/null
"$CUSTOS" segment refresh 2>"$WORK/err"
check_match "refresh reports exits" '[1-9][0-9]* exits' "$(cat "$WORK/err")"
OUT=$("$CUSTOS" segment show dec --json)
check_eq "after the window moved on, dec has no members and every stay has an exit" "0 True" \
    "$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r["members"], r["exits"] == r["entries"] and r["entries"] > 0)')"
OUT=$("$CUSTOS" segment members dec --all --csv | sed -n 2p)
check_match "--all lists stays with entry and exit times" '^[0-9]+,20[0-9-]+T[0-9:.]+Z,20[0-9-]+T[0-9:.]+Z$' "$OUT"
check_match "segment list shows every segment and tag" 'tag:mother_baby' "$("$CUSTOS" segment list)"

# While serve ingests: a new event is reflected within one second
"$CUSTOS" segment create live 'events.count("Live Test", last 1d) >= 1' >/dev/null
ADMIN=$("$CUSTOS" keys add --role admin 2>/dev/null)
ANALYST=$("$CUSTOS" keys add --role analyst 2>/dev/null)
USER_ID=$(sqlite3 "$DB" "SELECT value FROM identifiers WHERE type = 'user_id' ORDER BY id LIMIT 1")
PROFILE=$(sqlite3 "$DB" "SELECT profile_id FROM identifiers WHERE type = 'user_id' ORDER BY id LIMIT 1")
WKEY=$(cat "$WORK/demo/web.key")
start_server --segment-refresh-ms 100
members() { curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/segments/live/members"; }
check_match "before the event, the segment is empty" '"members":\[\]' "$(members)"
post "$WKEY" /v1/track "{\"userId\":\"$USER_ID\",\"event\":\"Live Test\",\"messageId\":\"live-1\"}" >/dev/null
OUT=""
for _ in $(seq 1 250); do
    OUT=$(members)
    printf '%s' "$OUT" | grep -q "\"profile\":$PROFILE" && break
    sleep 0.02
done
check_match "the profile enters the segment while serve runs" "\"profile\":$PROFILE" "$OUT"
# From the event's arrival (received_at, stored by the server) to the recorded entry
RECEIVED=$(sqlite3 "$DB" "SELECT received_at FROM events WHERE message_id = 'live-1'")
LAG=$(printf '%s' "$OUT" | RECEIVED="$RECEIVED" "$PY" -c '
import datetime, json, os, sys
r = json.load(sys.stdin)["members"][0]["entered_at"]
t = datetime.datetime.strptime(r, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000) - int(os.environ["RECEIVED"]))')
check "... within one second of the event's arrival (${LAG} ms)" [ "${LAG:-99999}" -lt 1000 ]
CODE=$(curl -s -o "$WORK/resp" -w '%{http_code}' -H "Authorization: Bearer $ANALYST" "$BASE/api/v1/analytics/kpi")
check_eq "an analyst key without dp_epsilon gets 403" 403 "$CODE"
CODE=$(curl -s -o "$WORK/resp" -w '%{http_code}' "$BASE/api/v1/analytics/kpi")
check_eq "no key gets 401" 401 "$CODE"
OUT=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/analytics/rfm?as_of=$ASOF")
check_eq "GET /api/v1/analytics/rfm equals custos analyze rfm --json" \
    "$("$CUSTOS" analyze rfm --as-of $ASOF --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rows"])')" \
    "$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rows"])')"
OUT=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/analytics/funnel?steps=Product%20Viewed,Order%20Completed&window=7")
check_match "GET /api/v1/analytics/funnel answers the funnel" '"analysis":"funnel"' "$OUT"
for a in kpi cohort "paths?from=Product%20Viewed"; do
    CODE=$(curl -s -o "$WORK/resp" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/analytics/$a")
    check_eq "GET /api/v1/analytics/$a answers 200" 200 "$CODE"
done
CODE=$(curl -s -o "$WORK/resp" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/analytics/kpi?period=year")
check_eq "a bad parameter is a 400" 400 "$CODE"
check_match "... with a code and a message" '"code":"bad_parameter"' "$(cat "$WORK/resp")"
check_match "GET /api/v1/segments lists them" '"name":"live"' \
    "$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/segments")"
check "the server stops cleanly" stop_server
finish
