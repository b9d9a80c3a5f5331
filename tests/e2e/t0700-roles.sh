#!/usr/bin/env bash
# Roles and masking: every role (admin, analyst, marketing, service, risk) against every
# read endpoint and command - GET /api/v1/profiles/ID, ?email=, ?phone=, custos profile
# show (JSON and table), custos events --json, custos quarantine show / list --json -
# checking that sensitive values (phone, e-mail, name) and core-sensitive ones (the
# resident ID number) are clear, masked or hidden as the policy says, and internal ones
# (city) always clear. Then the role-policy setting, the audit of clear reads, and
# write keys that only write, and only to their own source; the analytics API by role.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/e2e/data/privacy
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
ROLES="admin analyst marketing service risk"

# verdict ROLE [SPEC]: reads the answer on stdin; prints "ok" when every value is as the
# role's policy (default table, or SPEC's sensitive/core actions) says, else what is wrong.
cat >"$WORK/verdict.py" <<'PYEOF'
import sys
role = sys.argv[1]
table = {"admin": ("clear", "clear"), "analyst": ("masked", "hidden"),
         "marketing": ("masked", "hidden"), "service": ("clear", "masked"),
         "risk": ("masked", "clear")}
want_s, want_c = table[role] if len(sys.argv) < 4 else (sys.argv[2], sys.argv[3])
text = sys.stdin.read()
forms = {
    "sensitive": {"clear": ["13800131111", "wang.xm@qq.com", "王小明"],
                  "masked": ["138****1111", "w***@qq.com", "王**"]},
    "core": {"clear": ["11010519491231002X"], "masked": ["1101**********002X"]},
}
bad = []
for cls, want in (("sensitive", want_s), ("core", want_c)):
    for form, values in forms[cls].items():
        for v in values:
            present = v in text
            if present != (form == want):
                bad.append("%s %s %s" % (v, "shown" if present else "missing", "(want %s)" % want))
if "上海" not in text:
    bad.append("city missing")
print("ok" if not bad else "; ".join(bad))
PYEOF
verdict() { "$PY" "$WORK/verdict.py" "$@"; }

"$CUSTOS" sources add crm >/dev/null
WEB=$("$CUSTOS" sources add web)
APP=$("$CUSTOS" sources add app)
"$CUSTOS" import --quiet --source crm --mapping "$D/crm.mapping.json" "$D/crm.csv" >/dev/null
"$CUSTOS" resolve --map-out "$WORK/map.csv" >/dev/null
P=$(awk -F, '$1 == "crm" && $2 == "C1" {print $3}' "$WORK/map.csv")
check_match "the test profile resolved" '^[0-9]+$' "$P"
declare -A KEY
for r in $ROLES; do KEY[$r]=$("$CUSTOS" keys add --role "$r" --name "$r" 2>/dev/null); done

start_server
# One identify event and one quarantined message (no userId) carrying the same values.
MSG='"traits":{"phone":"+8613800131111","email":"wang.xm@qq.com","name":"王小明","idNumber":"11010519491231002X","city":"上海"}'
R=$(post "$WEB" /v1/identify "{\"userId\":\"u-1\",$MSG}")
check_eq "an identify with the test values is accepted" 200 "${R%% *}"
R=$(post "$WEB" /v1/identify "{$MSG}")
check_eq "one without userId is refused (and kept in the quarantine)" 400 "${R%% *}"
QID=$("$CUSTOS" quarantine list --json | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
check_match "it is in the quarantine" '^[0-9]+$' "$QID"

get() { curl -s -H "Authorization: Bearer $1" "$BASE$2"; }
for r in $ROLES; do
    check_eq "$r: GET /api/v1/profiles/ID" ok "$(get "${KEY[$r]}" "/api/v1/profiles/$P" | verdict "$r")"
    check_eq "$r: GET /api/v1/profiles?email=" ok "$(get "${KEY[$r]}" "/api/v1/profiles?email=wang.xm@qq.com" | verdict "$r")"
    check_eq "$r: GET /api/v1/profiles?phone=" ok "$(get "${KEY[$r]}" "/api/v1/profiles?phone=13800131111" | verdict "$r")"
    check_eq "$r: custos profile show ID --json" ok "$("$CUSTOS" profile show "$P" --json --cli-role "$r" | verdict "$r")"
    check_eq "$r: custos profile show --phone (table)" ok "$("$CUSTOS" profile show --phone 13800131111 --cli-role "$r" | verdict "$r")"
    check_eq "$r: custos events --json" ok "$("$CUSTOS" events --json --cli-role "$r" | verdict "$r")"
    check_eq "$r: custos quarantine show ID" ok "$("$CUSTOS" quarantine show "$QID" --cli-role "$r" | verdict "$r")"
    check_eq "$r: custos quarantine list --json" ok "$("$CUSTOS" quarantine list --json --cli-role "$r" | verdict "$r")"
done
# Analytics and segments by role: admin with or without dp_epsilon; analyst and
# marketing only with it (a differentially private answer); service and risk never.
acode() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${KEY[$1]}" "$BASE$2"; }
for r in $ROLES; do
    case $r in admin) plain=200 private=200 seg=200 ;; analyst | marketing) plain=403 private=200 seg=403 ;; *) plain=403 private=403 seg=403 ;; esac
    check_eq "$r: GET /api/v1/analytics/kpi" "$plain" "$(acode "$r" /api/v1/analytics/kpi)"
    check_eq "$r: GET /api/v1/analytics/kpi?dp_epsilon=0.5" "$private" "$(acode "$r" "/api/v1/analytics/kpi?dp_epsilon=0.5")"
    check_eq "$r: GET /api/v1/analytics/funnel?...&dp_epsilon=0.5" "$private" "$(acode "$r" "/api/v1/analytics/funnel?steps=Identify,Same%20Key&dp_epsilon=0.5")"
    check_eq "$r: GET /api/v1/segments" "$seg" "$(acode "$r" /api/v1/segments)"
done
check "the events table shows no values at all" test "$("$CUSTOS" events | grep -c '13800131111\|wang')" = 0
check "cli-role defaults to admin" test "$("$CUSTOS" profile show "$P" --json | verdict admin)" = ok
echo "cli-role = service" >"$WORK/custos.conf"
check_eq "cli-role set in custos.conf applies" ok "$("$CUSTOS" profile show "$P" --json | verdict service)"
rm "$WORK/custos.conf"
check_eq "role-policy overrides an entry (marketing: sensitive hidden)" ok \
    "$("$CUSTOS" profile show "$P" --json --cli-role marketing --role-policy marketing:sensitive:hidden | verdict marketing hidden hidden)"
OUT=$("$CUSTOS" profile show "$P" --role-policy marketing:sensitive:blurred 2>&1); RC=$?
check_eq "a bad role-policy exits 2" 2 "$RC"
check_match "naming the action at fault" 'clear, masked or hidden' "$OUT"
OUT=$("$CUSTOS" profile show "$P" --cli-role boss 2>&1); RC=$?
check_eq "an unknown cli-role exits 2" 2 "$RC"

# The audit of clear reads: one per read that showed sensitive values clear.
AUD=$("$CUSTOS" audit list --json --action read.clear)
count() { printf '%s\n' "$AUD" | "$PY" -c "import json,sys; print(sum(1 for l in sys.stdin if l.strip() and json.loads(l)['actor'] == '$1' and json.loads(l)['subject'].startswith('$2')))"; }
hint() { printf '%s' "${1:0:7}"; }
check_eq "admin's three HTTP reads are audited" 3 "$(count "key:$(hint "${KEY[admin]}")" profile:)"
check_eq "service's three (sensitive clear) too" 3 "$(count "key:$(hint "${KEY[service]}")" profile:)"
check_eq "risk's three (core-sensitive clear) too" 3 "$(count "key:$(hint "${KEY[risk]}")" profile:)"
check_eq "analyst's reads showed nothing clear: none" 0 "$(count "key:$(hint "${KEY[analyst]}")" profile:)"
check_eq "marketing's neither" 0 "$(count "key:$(hint "${KEY[marketing]}")" profile:)"
check_match "an entry names the profile and the fields shown clear, never the values" \
    "\"subject\":\"profile:$P\".*phone" "$(printf '%s\n' "$AUD" | grep "key:$(hint "${KEY[service]}")" | head -1)"
check_match "an admin's entry (every class clear: the answer is not parsed) names the profile and the role" \
    "\"subject\":\"profile:$P\".*admin" "$(printf '%s\n' "$AUD" | grep "key:$(hint "${KEY[admin]}")" | head -1)"
check "no audit entry holds a value" test "$(printf '%s' "$AUD" | grep -c '13800131111\|wang.xm\|王小明\|1101051949')" = 0
check "CLI reads are audited too (actor cli)" test "$(count cli profile:)" -ge 4
check "the events read by admin is audited" test "$(count cli events)" -ge 1

# Write keys only write, and only to their own source.
R=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $WEB" "$BASE/api/v1/profiles/$P")
check_eq "a write key on /api/v1/profiles: 401" 401 "$R"
R=$(curl -s -o /dev/null -w '%{http_code}' -u "$WEB:" "$BASE/api/v1/profiles/$P")
check_eq "a write key as Basic on /api/v1/profiles: 401" 401 "$R"
R=$(post "$WEB" /v1/track "{\"writeKey\":\"$APP\",\"userId\":\"u-1\",\"event\":\"Sneaky\"}")
check_eq "a write key with another source's writeKey in the body: 401" "401" "${R%% *}"
check_match "saying a write key writes only to its own source" 'only to its own source' "$R"
R=$(post "$WEB" /v1/batch "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"A\"},{\"type\":\"track\",\"writeKey\":\"$APP\",\"userId\":\"u\",\"event\":\"B\"}]}")
check_eq "a batch with a message for another source: 401" 401 "${R%% *}"
R=$(post "$WEB" /v1/track "{\"writeKey\":\"$WEB\",\"userId\":\"u-1\",\"event\":\"Same Key\"}")
check_eq "its own writeKey in the body is fine" 200 "${R%% *}"
check "nothing of the refused requests was stored" test "$("$CUSTOS" events --json | grep -c 'Sneaky\|"B"')" = 0
R=$(curl -s -o /dev/null -w '%{http_code}' -u "$APP:" -H 'Content-Type: application/json' -d '{"writeKey":"'"$WEB"'","userId":"u","event":"X"}' "$BASE/v1/track")
check_eq "the other way round too" 401 "$R"
check "the server stops cleanly" stop_server
check "the audit log verifies" "$CUSTOS" audit verify
finish
