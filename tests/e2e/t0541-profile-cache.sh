#!/usr/bin/env bash
# Profile reads from memory in custos serve: the answer is the same as the old
# one-connection path's, a merged-away id redirects over HTTP, and what another
# process commits (a resolution, a revoked key) is seen within a second.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/e2e/data/survivorship
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

get() {
    curl -s -o "$WORK/resp" -w '%{http_code}' -H "Authorization: Bearer $1" "$BASE$2"
    printf ' '
    cat "$WORK/resp"
}
status() { printf '%s' "$1" | cut -d' ' -f1; }
body() { printf '%s' "$1" | cut -d' ' -f2-; }
field() { printf '%s' "$(body "$1")" | "$PY" -c "import json,sys; v=json.load(sys.stdin); print(v.get('$2'))"; }
# within_a_second CMD...: retries CMD every 0.1 s for 1 s; succeeds if it ever does.
within_a_second() {
    for _ in 1 2 3 4 5 6 7 8 9 10 11; do "$@" && return 0; sleep 0.1; done
    return 1
}

for s in crm pos web; do
    "$CUSTOS" sources add "$s" >/dev/null
    "$CUSTOS" import --quiet --source "$s" --mapping "$D/contact.mapping.json" "$D/$s.csv" >/dev/null
done
"$CUSTOS" resolve --map-out "$WORK/map1.csv" >/dev/null
profile_of() { awk -F, -v s="$1" -v k="$2" '$1 == s && $2 == k {print $3}' "$3"; }
P=$(profile_of crm C1 "$WORK/map1.csv")
A=$(profile_of crm C2 "$WORK/map1.csv")
B=$(profile_of pos P2 "$WORK/map1.csv")
LO=$((A < B ? A : B)); HI=$((A < B ? B : A))
KEY=$("$CUSTOS" keys add --role service 2>/dev/null)
export CUSTOS_SURVIVORSHIP='name:source_priority(crm,pos,web),*:most_recent'

start_server --profile-cache off
OLD_ID=$(body "$(get "$KEY" "/api/v1/profiles/$P")")
OLD_EMAIL=$(body "$(get "$KEY" "/api/v1/profiles?email=wang.xm@example.cn")")
stop_server
start_server
R=$(get "$KEY" "/api/v1/profiles/$P")
check_eq "from memory: 200 with the profile" "200 $P" "$(status "$R") $(field "$R" id)"
check_eq "the same bytes as the old path" "$OLD_ID" "$(body "$R")"
check_eq "by e-mail too" "$OLD_EMAIL" "$(body "$(get "$KEY" "/api/v1/profiles?email=WANG.XM@example.cn")")"
check_eq "with the golden name the survivorship setting chose" "王小明" \
    "$(body "$R" | "$PY" -c 'import json,sys; print([t for t in json.load(sys.stdin)["traits"] if t["name"]=="name"][0]["value"])')"
R=$(get "$KEY" "/api/v1/profiles/999999")
check_eq "an unknown id: 404" "404 not_found" "$(status "$R") $(field "$R" code)"
R=$(get "$KEY" "/api/v1/profiles?email=zhao.lei@example.cn")
check_eq "an e-mail nobody has yet: 404" 404 "$(status "$R")"
R=$(get "$KEY" "/api/v1/profiles/$HI")
check_eq "Li Na's second profile still exists on its own" "200 $HI None" \
    "$(status "$R") $(field "$R" id) $(field "$R" redirected_from)"

# Another process imports and resolves while the server runs.
"$CUSTOS" import --quiet --source web --mapping "$D/contact.mapping.json" "$D/link.csv" "$D/new.csv" >/dev/null
"$CUSTOS" resolve >/dev/null
merged() { R=$(get "$KEY" "/api/v1/profiles/$HI"); [ "$(field "$R" id) $(field "$R" redirected_from)" = "$LO $HI" ]; }
check "within a second, the merged-away id answers with the profile it joined" within_a_second merged
check_eq "redirected_from says which id was asked for" "200 $LO $HI" \
    "$(status "$R") $(field "$R" id) $(field "$R" redirected_from)"
R=$(get "$KEY" "/api/v1/profiles?phone=13957104418")
check_eq "her phone finds the surviving profile" "200 $LO" "$(status "$R") $(field "$R" id)"
R=$(get "$KEY" "/api/v1/profiles?email=zhao.lei@example.cn")
check_eq "the new customer's e-mail is found" 200 "$(status "$R")"
check_match "the cache counts its rebuild on /metrics" '^custos_profile_cache_builds_total [1-9]' \
    "$(curl -s "$BASE/metrics" | grep '^custos_profile_cache_builds_total')"
check_match "and how many views it answered from memory" '^custos_profile_cache_hits_total [1-9]' \
    "$(curl -s "$BASE/metrics" | grep '^custos_profile_cache_hits_total')"

ID=$("$CUSTOS" keys list --json | "$PY" -c 'import json,sys; print([json.loads(l)["id"] for l in sys.stdin][0])')
"$CUSTOS" keys revoke "$ID" >/dev/null 2>&1
revoked() { [ "$(status "$(get "$KEY" "/api/v1/profiles/$P")")" = 401 ]; }
check "within a second, a key revoked by another process is refused" within_a_second revoked
NEW=$("$CUSTOS" keys add --role analyst 2>/dev/null)
works() { [ "$(status "$(get "$NEW" "/api/v1/profiles/$P")")" = 200 ]; }
check "and within a second, a key added by another process works" within_a_second works
check "the server stops cleanly" stop_server
check "the log never has a value of the data" test "$(grep -c 'example.cn\|王小明' "$WORK/serve.log")" = 0
finish
