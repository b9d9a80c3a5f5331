#!/usr/bin/env bash
# The analytics-time-zone setting: the same events around midnight in Beijing fall on
# different days and months in UTC and in +08:00 (kpi --period day/month, cohort by
# first seen), dates without a zone (--from) are local, over HTTP too; a bad zone is
# refused.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

WEB=$("$CUSTOS" sources add web)
ADMIN=$("$CUSTOS" keys add --role admin 2>/dev/null)
start_server
# u1 at 2025-01-31 23:30 Beijing (15:30 UTC); u2 at 2025-02-01 00:30 Beijing (2025-01-31
# 16:30 UTC); u1 again at 2025-03-01 00:10 Beijing (2025-02-28 16:10 UTC).
R=$(post "$WEB" /v1/batch '{"batch":[
 {"type":"track","userId":"u1","event":"Product Viewed","timestamp":"2025-01-31T15:30:00Z","messageId":"tz-1"},
 {"type":"track","userId":"u2","event":"Product Viewed","timestamp":"2025-02-01T00:30:00+08:00","messageId":"tz-2"},
 {"type":"track","userId":"u1","event":"Product Viewed","timestamp":"2025-02-28T16:10:00Z","messageId":"tz-3"}]}')
check_eq "three events around midnight in Beijing are accepted" 200 "${R%% *}"
check "the server stops cleanly" stop_server
"$CUSTOS" resolve --quiet >/dev/null 2>&1
days() { "$PY" -c 'import json,sys; print(" ".join("%s:%d" % (r["period"], r["active"]) for r in json.load(sys.stdin)["rows"]))'; }
check_eq "UTC (the default): both on 2025-01-31, then 2025-02-28" "2025-01-31:2 2025-02-28:1" \
    "$("$CUSTOS" analyze kpi --period day --json | days)"
check_eq "+08:00: 2025-01-31, 2025-02-01, 2025-03-01" "2025-01-31:1 2025-02-01:1 2025-03-01:1" \
    "$("$CUSTOS" analyze kpi --period day --analytics-time-zone +08:00 --json | days)"
check_eq "months in +08:00: one active customer in each of January, February and March" \
    "2025-01:1 2025-02:1 2025-03:1" "$("$CUSTOS" analyze kpi --analytics-time-zone +08:00 --json | days)"
check_eq "months in UTC: two in January, one in February" "2025-01:2 2025-02:1" \
    "$("$CUSTOS" analyze kpi --json | days)"
echo "analytics-time-zone = +08:00" >"$WORK/custos.conf"
check_eq "the setting in custos.conf applies" "2025-01-31:1 2025-02-01:1 2025-03-01:1" \
    "$("$CUSTOS" analyze kpi --period day --json | days)"
check_eq "--from 2025-02-01 (no zone) is Beijing's midnight" "2025-02-01:1 2025-03-01:1" \
    "$("$CUSTOS" analyze kpi --period day --from 2025-02-01 --json | days)"
check_eq "--from 2025-02-01T00:00:00Z keeps its own zone" "2025-03-01:1" \
    "$("$CUSTOS" analyze kpi --period day --from 2025-02-01T00:00:00Z --json | days)"
cohorts() { "$PY" -c 'import json,sys; print(" ".join("%s:%d" % (r["cohort"], r["size"]) for r in json.load(sys.stdin)["rows"]))'; }
check_eq "cohorts by first seen in +08:00: January and February" "2025-01:1 2025-02:1" \
    "$("$CUSTOS" analyze cohort --by first-seen --json | cohorts)"
start_server
OUT=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/analytics/kpi?period=day")
check_eq "over HTTP the server's setting applies" "2025-01-31:1 2025-02-01:1 2025-03-01:1" "$(printf '%s' "$OUT" | days)"
OUT=$(curl -s -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/analytics/kpi?period=day&from=2025-02-01")
check_eq "... and its dates without a zone are local" "2025-02-01:1 2025-03-01:1" "$(printf '%s' "$OUT" | days)"
check "the server stops cleanly" stop_server
rm "$WORK/custos.conf"
OUT=$("$CUSTOS" analyze kpi --analytics-time-zone CST 2>&1); RC=$?
check_eq "a zone that is not UTC or an offset: exit 2" 2 "$RC"
check_match "... saying what is accepted" 'UTC or an offset such as \+08:00' "$OUT"
finish
