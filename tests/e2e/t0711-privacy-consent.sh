#!/usr/bin/env bash
# Consent per purpose: from Segment's context.consent.categoryPreferences, from a
# "Consent Updated" track event, from the CLI; the decision in force and its history;
# custos serve reads new messages for consents on its own; erasure removes them.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
quiet() { "$@" >/dev/null 2>&1; }
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
state() { # state PROFILE PURPOSE: "status allowed"
    "$CUSTOS" privacy consent show --profile "$1" --json 2>/dev/null |
        "$PY" -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l)
    if r["purpose"]==sys.argv[1]: print(r["status"], r["allowed"])' "$2"
}
consents() { "$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM consents").fetchone()[0])' "$CUSTOS_DB"; }

KEY=$("$CUSTOS" sources add web)
start_server --consent-sync-interval 1
post "$KEY" /v1/identify '{"userId":"u1","traits":{"email":"u1@example.com"},"context":{"consent":{"categoryPreferences":{"Advertising":false,"Analytics":true,"Unknown Thing":true}}}}' >/dev/null
post "$KEY" /v1/track '{"userId":"u2","event":"Consent Updated","properties":{"marketing":true,"third-party sharing":false,"policyVersion":"2025-03"}}' >/dev/null
post "$KEY" /v1/track '{"userId":"u3","event":"Product Viewed"}' >/dev/null
for _ in $(seq 1 60); do [ "$(consents)" -ge 4 ] && break; sleep 0.1; done
check_eq "custos serve reads the consents of new messages on its own (4 decisions)" 4 "$(consents)"
stop_server
check "resolve" quiet "$CUSTOS" resolve --quiet
pid() { "$CUSTOS" profile show --user-id "$1" --json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
P1=$(pid u1); P2=$(pid u2); P3=$(pid u3)
check "three profiles" test -n "$P1" -a -n "$P2" -a -n "$P3"

check_eq "categoryPreferences Advertising=false: marketing denied" "denied no" "$(state "$P1" marketing)"
check_eq "categoryPreferences Analytics=true: analytics granted" "granted yes" "$(state "$P1" analytics)"
check_eq "a purpose never decided follows consent-default (denied)" "undecided no" "$(state "$P1" personalization)"
check_eq "a Consent Updated event grants marketing" "granted yes" "$(state "$P2" marketing)"
check_eq "and denies third-party sharing" "denied no" "$(state "$P2" third_party)"
check_eq "with --consent-default granted an undecided purpose is allowed" "undecided yes" \
    "$("$CUSTOS" privacy consent show --profile "$P3" --json --consent-default granted | "$PY" -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l)
    if r["purpose"]=="analytics": print(r["status"], r["allowed"])')"

run "$CUSTOS" privacy consent set --profile "$P1" --purpose marketing --status granted --source call-center --policy-version 2025-01 --evidence '{"call":"c-981"}'
check_eq "consent set exits 0" 0 "$RC"
check_eq "the later decision is in force" "granted yes" "$(state "$P1" marketing)"
run "$CUSTOS" privacy consent show --profile "$P1" --history --json
check_eq "the history keeps both marketing decisions, with source, policy version and evidence" "2 call-center 2025-01 c-981 True" "$(printf '%s\n' "$OUT" | "$PY" -c 'import json,sys
rows=[json.loads(l) for l in sys.stdin if l.strip()]
m=[r for r in rows if r["purpose"]=="marketing"]
last=m[-1]; first=m[0]
print(len(m), last["source"], last["policy_version"], json.loads(last["evidence"])["call"], "messageId" in json.loads(first["evidence"]))')"
run "$CUSTOS" privacy consent show --profile "$P2" --history --json
check_eq "the event's policy version is kept" "2025-03" "$(printf '%s\n' "$OUT" | "$PY" -c 'import json,sys
print([json.loads(l) for l in sys.stdin if l.strip()][0]["policy_version"])')"

run "$CUSTOS" privacy consent set --profile "$P1" --purpose spam --status granted
check_eq "an unknown purpose is bad usage (exit 2)" "2 yes" "$RC $(printf '%s' "$ERR" | grep -q 'unknown purpose' && echo yes)"
run "$CUSTOS" privacy consent set --profile "$P1" --purpose marketing --status maybe
check_eq "a status other than granted or denied is bad usage" 2 "$RC"
run "$CUSTOS" privacy consent set --profile "$P1" --purpose marketing --status denied --evidence 'not json'
check_eq "evidence that is not a JSON object is bad usage" 2 "$RC"
run "$CUSTOS" privacy consent set --profile 99999 --purpose marketing --status denied
check_eq "an unknown profile fails (exit 1)" "1 yes" "$RC $(printf '%s' "$ERR" | grep -q 'no profile' && echo yes)"
run "$CUSTOS" privacy consent show --profile "$P1" --consent-categories 'bogus'
check_eq "a malformed consent-categories setting is refused" 2 "$RC"

# A category named by the setting.
start_server --consent-categories 'crm_mail:marketing'
post "$KEY" /v1/track '{"userId":"u3","event":"Consent Updated","properties":{"CRM Mail":true}}' >/dev/null
stop_server
check_eq "consent-categories maps a category of one's own to a purpose" "granted yes" \
    "$("$CUSTOS" privacy consent show --profile "$P3" --json --consent-categories 'crm_mail:marketing' | "$PY" -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l)
    if r["purpose"]=="marketing": print(r["status"], r["allowed"])')"

# The HTTP API: an admin key records, any key reads.
ADMIN=$("$CUSTOS" keys add --role admin 2>/dev/null)
ANALYST=$("$CUSTOS" keys add --role analyst 2>/dev/null)
start_server
api() { # api KEY METHOD QUERY [BODY]: prints "STATUS BODY"
    curl -s -o "$WORK/resp" -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" \
        ${4:+-H 'Content-Type: application/json' --data-binary "$4"} "$BASE/api/v1/consent$3"
    printf ' '; cat "$WORK/resp"
}
R=$(api "$ADMIN" POST "" "{\"profileId\":$P2,\"purpose\":\"personalization\",\"status\":\"granted\",\"policyVersion\":\"v9\",\"evidence\":{\"form\":\"app-settings\"}}")
check_match "POST /api/v1/consent with an admin key records a decision (201)" '^201 .*"success":true' "$R"
R=$(api "$ANALYST" POST "" "{\"profileId\":$P2,\"purpose\":\"marketing\",\"status\":\"denied\"}")
check_match "an analyst key may not record consent (403)" '^403 .*forbidden' "$R"
R=$(api "" POST "" '{}')
check_match "no key: 401" '^401 ' "$R"
R=$(api "$ADMIN" POST "" "{\"profileId\":$P2,\"purpose\":\"spam\",\"status\":\"granted\"}")
check_match "an unknown purpose: 400 invalid_purpose" '^400 .*invalid_purpose' "$R"
R=$(api "$ADMIN" POST "" '{"profileId":424242,"purpose":"marketing","status":"granted"}')
check_match "an unknown profile: 404" '^404 ' "$R"
R=$(api "$ADMIN" POST "" '{"profileId":1,"userId":"u1","purpose":"marketing","status":"granted"}')
check_match "both profileId and userId: 400" '^400 .*invalid_subject' "$R"
R=$(api "$ADMIN" POST "" '{"userId":"u3","purpose":"third_party","status":"granted"}')
check_match "a decision for a userId is recorded too" '^201 ' "$R"
R=$(api "$ANALYST" GET "?profileId=$P2")
check_eq "GET /api/v1/consent answers the decisions in force" "granted True granted False" "$(printf '%s' "${R#* }" | "$PY" -c 'import json,sys
v=json.load(sys.stdin)["purposes"]; print(v["personalization"]["status"], v["personalization"]["allowed"], v["marketing"]["status"], v["third_party"]["allowed"])')"
R=$(api "$ANALYST" GET "?profileId=$P3")
check_match "the userId decision counts for its profile" '"third_party":\{"status":"granted"' "$R"
stop_server

BEFORE=$(consents)
check "erasing u1" quiet "$CUSTOS" privacy erase --profile "$P1" --yes
check_eq "erasure removes the person's consents (from messages and from the CLI)" $((BEFORE - 3)) "$(consents)"
finish
