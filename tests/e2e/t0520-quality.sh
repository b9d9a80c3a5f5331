#!/usr/bin/env bash
# Data quality: custos quality on a small world with known gaps. CRM contacts
# (tests/e2e/data/resolve/crm.csv: one e-mail missing, two placeholder e-mails, two
# placeholder phones, shared values), service tickets from 2020 with few identifiers,
# and web events; checks exact percentages, the alerts, --fail-on-alert, the
# thresholds as settings, the metrics file, and that no personal value reaches stderr.
. "$(dirname "$0")/lib.sh"
R=$ROOT/tests/e2e/data/resolve
D=$ROOT/tests/e2e/data/quality
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$CUSTOS" sources add crm >/dev/null
"$CUSTOS" sources add service >/dev/null
KEY=$("$CUSTOS" sources add web)
# Loaded without resolving (--no-resolve, and a server with resolve-incremental off):
# the first measures are of unresolved data.
check "the CRM file imports" "$CUSTOS" import --quiet --no-resolve --source crm --mapping "$R/crm.mapping.json" "$R/crm.csv"
check "the tickets import" "$CUSTOS" import --quiet --no-resolve --source service --mapping "$D/tickets.mapping.json" "$D/tickets.csv"
start_server --resolve-incremental off
post "$KEY" /v1/identify '{"userId":"U-1","traits":{"email":"li.hua@qq.com","phone":"13800138000"}}' >/dev/null
post "$KEY" /v1/identify '{"userId":"U-2","traits":{"email":"wang.fang@163.com"}}' >/dev/null
post "$KEY" /v1/track '{"anonymousId":"anon-1","event":"Product Viewed"}' >/dev/null
post "$KEY" /v1/track '{"userId":"U-1","event":"Order Completed"}' >/dev/null
stop_server

run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
run "$CUSTOS" quality --json
check_eq "before resolution: nothing is resolved yet" "None" \
    "$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print([s for s in r["sources"] if s["source"]=="crm"][0]["duplicate_rate_after"])')"
check "custos resolve runs" "$CUSTOS" resolve --quiet
run "$CUSTOS" quality --json --metrics-out "$WORK/quality.prom"
check_eq "custos quality exits 0 despite alerts" 0 "$RC"
q() { printf '%s' "$OUT" | "$PY" -c "
import json,sys
r=json.load(sys.stdin)
S={(s['source'],s['origin']):s for s in r['sources']}
F={(s['source'],s['origin'],f['field']):f for s in r['sources'] for f in s['fields']}
A=sorted((a['source'],a['origin'],a['field'] or '-',a['measure']) for a in r['alerts'])
print($1)"; }

check_eq "sources and origins" "crm/records service/records web/events" \
    "$(q "' '.join(a+'/'+b for a,b in sorted(S))")"
# crm: 8 contacts, C2 has no e-mail; test@test.com (twice) is a placeholder.
check_eq "crm e-mail: completeness, validity, duplicate rate" "87.5 71.4 28.6" \
    "$(q "' '.join(str(F['crm','records','identifiers.email'][k]) for k in ('completeness','validity','duplicate_rate'))")"
# phones: 13800000000 (twice) is a placeholder; it and 13590871234 are shared as written.
check_eq "crm phone: completeness, validity, duplicate rate" "100.0 75.0 50.0" \
    "$(q "' '.join(str(float(F['crm','records','identifiers.phone'][k])) for k in ('completeness','validity','duplicate_rate'))")"
check_eq "crm member card: 6 of 8, no validity rule" "75.0 None" \
    "$(q "str(float(F['crm','records','identifiers.member_card']['completeness'])) + ' ' + str(F['crm','records','identifiers.member_card']['validity'])")"
check_eq "traits are measured, without a duplicate rate" "100.0 None" \
    "$(q "str(float(F['crm','records','traits.city']['completeness'])) + ' ' + str(F['crm','records','traits.city']['duplicate_rate'])")"
# C1 and C2 are one person: 8 resolved contacts in 7 profiles.
check_eq "crm after resolution: 8 rows, 7 profiles, 12.5%" "8 7 12.5" \
    "$(q "' '.join(str(S['crm','records'][k]) for k in ('resolved','profiles','duplicate_rate_after'))")"
check_eq "crm is fresh" "True" "$(q "S['crm','records']['age_hours'] < 1")"
check_eq "tickets: newest is the 2020 ticket" "2020-01-08T10:00:00.000Z" "$(q "S['service','records']['newest']")"
check_eq "tickets: e-mail and phone 25% complete, both valid" "25.0 25.0 100.0 100.0" \
    "$(q "' '.join(str(float(F['service','records','identifiers.'+t][k])) for k in ('completeness','validity') for t in ('email','phone'))")"
# events: userId on 3 of 4, anonymousId on 1 of 4; traits over the 2 identify calls.
check_eq "events: userId and anonymousId completeness, userId duplicates" "75.0 25.0 66.7" \
    "$(q "' '.join(str(float(x)) for x in (F['web','events','userId']['completeness'], F['web','events','anonymousId']['completeness'], F['web','events','userId']['duplicate_rate']))")"
check_eq "identify traits: e-mail 2 of 2 valid; phone 1 of 2, a placeholder" "100.0 100.0 50.0 0.0" \
    "$(q "' '.join(str(float(F['web','events','traits.'+t][k])) for t in ('email','phone') for k in ('completeness','validity'))")"
check_eq "events after resolution: 4 events in 3 profiles" "4 3 25.0" \
    "$(q "' '.join(str(S['web','events'][k]) for k in ('resolved','profiles')) + ' ' + str(float(S['web','events']['duplicate_rate_after']))")"
check_eq "the alerts: each measure past its threshold, and only those" \
    "[('crm', 'records', 'identifiers.email', 'validity'), ('crm', 'records', 'identifiers.phone', 'validity'), ('service', 'records', '-', 'freshness'), ('service', 'records', 'identifiers.email', 'completeness'), ('service', 'records', 'identifiers.phone', 'completeness'), ('web', 'events', 'anonymousId', 'completeness'), ('web', 'events', 'traits.phone', 'validity')]" \
    "$(q A)"
check_eq "the thresholds are reported" "50 90 48" "$(q "' '.join(str(r['thresholds'][k]) for k in ('min_completeness','min_validity','max_age_hours'))")"
check_eq "every alert is logged as a warning" 7 "$(grep -c 'warn .*quality alert' "$WORK/err")"
check_match "a log line names source, field and measure" "source crm records field identifiers.email: validity below 90%" "$ERR"
LEAK=""
for v in test@test.com 13800000000 13800138000 li.hua@qq.com wang.fang@163.com 13957104418 a.b@sina.com U-1 anon-1 王小明; do
    grep -qF -- "$v" "$WORK/err" && LEAK="$LEAK $v"
done
check_eq "no personal value in stderr" "" "$LEAK"
check_match "the metrics file has the alert count" "^custos_quality_alerts 7$" "$(cat "$WORK/quality.prom")"
check_match "and a labelled gauge per field" 'custos_quality_validity_percent\{source="crm",origin="records",field="identifiers.email"\} 71.4' "$(cat "$WORK/quality.prom")"

run "$CUSTOS" quality
check_eq "the table form exits 0" 0 "$RC"
check_match "it has the three sections" "SOURCES.*FIELDS.*ALERTS \(7\)" "$(printf '%s' "$OUT" | tr '\n' ' ')"
check_match "an alert row is aligned in the table" "service +records +identifiers.phone +completeness +25.0 +50" "$OUT"
for v in test@test.com 13800000000 li.hua@qq.com; do
    printf '%s' "$OUT" | grep -qF -- "$v" && LEAK="$LEAK $v"
done
check_eq "no personal value in the table either" "" "$LEAK"

run "$CUSTOS" quality --fail-on-alert
check_eq "--fail-on-alert exits 1 when there are alerts" 1 "$RC"
run "$CUSTOS" quality --fail-on-alert --json --quality-min-completeness 0 --quality-min-validity 0 --quality-max-age-hours 87600
check_eq "with thresholds from flags that nothing passes, no alert and exit 0" "0 0" "$RC $(q "len(A)")"
CUSTOS_QUALITY_MIN_VALIDITY=72 run "$CUSTOS" quality --json --quality-min-completeness 0 --quality-max-age-hours 87600
check_eq "a threshold from the environment: 71.4% is under 72, 75% is not" \
    "[('crm', 'records', 'identifiers.email', 'validity'), ('web', 'events', 'traits.phone', 'validity')]" "$(q A)"
run "$CUSTOS" quality --quality-min-validity 101
check_eq "a threshold out of range is a usage error" 2 "$RC"
"$CUSTOS" config show --markdown | grep '^| `quality-' >"$WORK/settings.md"
check_eq "docs/configuration.md lists every quality setting as config show prints them" "$(wc -l <"$WORK/settings.md")" \
    "$(grep -cxFf "$WORK/settings.md" "$ROOT/docs/configuration.md")"
run "$CUSTOS" quality extra
check_eq "an unexpected argument is a usage error" 2 "$RC"

# Uniqueness thresholds: before resolution per field (values shared as written), after
# resolution per source (rows sharing a profile). crm phone 50% and userId 66.7% are
# past 40%; e-mail 28.6% is not; crm 12.5% and web 25% after resolution are past 10%.
run "$CUSTOS" quality --json --quality-max-duplicate-before 40 --quality-max-duplicate-after 10 \
    --quality-min-completeness 0 --quality-min-validity 0 --quality-max-age-hours 87600
check_eq "duplicate rates past their thresholds are alerts, before and after resolution" \
    "[('crm', 'records', '-', 'duplicate_rate_after'), ('crm', 'records', 'identifiers.phone', 'duplicate_rate'), ('web', 'events', '-', 'duplicate_rate_after'), ('web', 'events', 'userId', 'duplicate_rate')]" \
    "$(q A)"
check_match "logged without a value" "source crm records field identifiers.phone: duplicate_rate above 40%" "$ERR"
check_match "after resolution too" "source crm records: duplicate_rate_after above 10%" "$ERR"
run "$CUSTOS" quality --json --quality-max-duplicate-before 50 --quality-max-duplicate-after 25 \
    --quality-min-completeness 0 --quality-min-validity 0 --quality-max-age-hours 87600
check_eq "a rate equal to its threshold is not an alert" \
    "[('web', 'events', 'userId', 'duplicate_rate')]" "$(q A)"
check_match "the metrics file has the after-resolution gauge" \
    'custos_quality_duplicate_after_percent\{source="crm",origin="records"\} 12.5' \
    "$("$CUSTOS" quality --metrics-out "$WORK/q2.prom" >/dev/null 2>&1; cat "$WORK/q2.prom")"

# custos serve measures on its own and publishes the same gauges on /metrics.
start_server --quality-interval 1 --quality-max-duplicate-before 40
M=""
for _ in $(seq 1 100); do
    M=$(curl -s "$BASE/metrics")
    printf '%s' "$M" | grep -q '^custos_quality_alerts' && break
    sleep 0.1
done
check_match "serve publishes the duplicate rate after resolution on /metrics" \
    'custos_quality_duplicate_after_percent\{source="crm",origin="records"\} 12.5' "$M"
check_match "and the alert past the configured threshold" \
    'custos_quality_alert\{source="crm",origin="records",field="identifiers.phone",measure="duplicate_rate"\} 1' "$M"
check_match "and when it measured" '^custos_quality_measured_at_seconds [0-9]+' "$M"
check "the server stops cleanly" stop_server
check_match "its log has the alert line, names only" "quality alert: source crm records field identifiers.phone: duplicate_rate above 40%" \
    "$(cat "$WORK/serve.log")"
LEAK=""
for v in test@test.com 13800000000 li.hua@qq.com 13590871234; do
    grep -qF -- "$v" "$WORK/serve.log" && LEAK="$LEAK $v"
done
check_eq "no personal value in the server log" "" "$LEAK"
finish
