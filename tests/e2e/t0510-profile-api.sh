#!/usr/bin/env bash
# The HTTP profile API: custos keys add|list|revoke, and GET /api/v1/profiles/{id} and
# GET /api/v1/profiles?email=|phone=|userId=|memberCard= behind Bearer API keys: by id,
# by identifiers written another way, a merged-away id redirecting, and every refusal
# (no key, wrong key, a source write key, revoked, expired, bad id, bad phone, POST).
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/e2e/data/resolve
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
# get KEY PATH [curl args...]: prints "STATUS BODY" (KEY "" sends no Authorization).
get() {
    local key=$1 path=$2; shift 2
    local auth=()
    [ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
    curl -s -o "$WORK/resp" -w '%{http_code}' "${auth[@]}" "$@" "$BASE$path"
    printf ' '
    cat "$WORK/resp"
}
status() { printf '%s' "$1" | cut -d' ' -f1; }
body() { printf '%s' "$1" | cut -d' ' -f2-; }
field() { printf '%s' "$(body "$1")" | "$PY" -c "import json,sys; v=json.load(sys.stdin); print(v.get('$2'))"; }

# Keys.
run "$CUSTOS" keys add --role admin --name dashboard
check_eq "keys add exits 0" 0 "$RC"
KEY=$OUT
check_match "it prints the key alone: ck_ and 40 letters and digits" '^ck_[A-Za-z0-9]{40}$' "$KEY"
run "$CUSTOS" keys add --role boss
check_eq "an unknown role exits 2" 2 "$RC"
run "$CUSTOS" keys add --name nobody
check_eq "a missing role exits 2" 2 "$RC"
run "$CUSTOS" keys add --role analyst --expires -3
check_eq "a negative --expires exits 2" 2 "$RC"
run "$CUSTOS" keys list --json
check_eq "keys list exits 0" 0 "$RC"
check_eq "it shows the key's name, role and hint" "dashboard admin ${KEY:0:7}..." \
    "$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; v=json.loads(sys.stdin.readline()); print(v["name"], v["role"], v["key"])')"
check "it never shows the key itself" test "$(printf '%s' "$OUT" | grep -c -- "$KEY")" = 0
run "$CUSTOS" keys list
check_match "the table has id, name, role, key, created, expires, revoked" \
    '^id +name +role +key +created +expires +revoked' "$OUT"
REVOKED=$("$CUSTOS" keys add --role service 2>/dev/null)
EXPIRED=$("$CUSTOS" keys add --role risk --expires 0 2>/dev/null)
LATER=$("$CUSTOS" keys add --role marketing --expires 30 2>/dev/null)
REVOKED_ID=$("$CUSTOS" keys list --json | "$PY" -c 'import json,sys; print([json.loads(l)["id"] for l in sys.stdin if json.loads(l)["role"] == "service"][0])')
run "$CUSTOS" keys revoke "$REVOKED_ID"
check_eq "keys revoke exits 0" 0 "$RC"
check_match "the revoked key is listed with its revocation time" '^20' \
    "$("$CUSTOS" keys list --json | "$PY" -c 'import json,sys; print([json.loads(l)["revoked"] for l in sys.stdin if json.loads(l)["role"] == "service"][0])')"
run "$CUSTOS" keys revoke 999
check_eq "revoking an unknown key exits 1" 1 "$RC"

# A small world, resolved.
"$CUSTOS" sources add crm >/dev/null
WKEY=$("$CUSTOS" sources add web)
"$CUSTOS" import --quiet --source crm --mapping "$D/crm.mapping.json" "$D/crm.csv" >/dev/null
"$CUSTOS" resolve --map-out "$WORK/map1.csv" >/dev/null
profile_of() { awk -F, -v s="$1" -v k="$2" '$1 == s && $2 == k {print $3}' "$3"; }
P1=$(profile_of crm C1 "$WORK/map1.csv")
P7=$(profile_of crm C7 "$WORK/map1.csv")
P8=$(profile_of crm C8 "$WORK/map1.csv")
"$CUSTOS" import --quiet --source crm --mapping "$D/crm.mapping.json" "$D/link.csv" >/dev/null
"$CUSTOS" resolve >/dev/null
LO=$((P7 < P8 ? P7 : P8)); HI=$((P7 < P8 ? P8 : P7))

start_server
R=$(get "$KEY" "/api/v1/profiles/$P1")
check_eq "GET /api/v1/profiles/ID with the key answers 200" 200 "$(status "$R")"
check_eq "with that profile" "$P1" "$(field "$R" id)"
check_eq "and its identifiers" "True" "$(body "$R" | "$PY" -c '
import json,sys; v=json.load(sys.stdin); print(("phone","+8613800131111") in {(i["type"],i["value"]) for i in v["identifiers"]})')"
R=$(get "$LATER" "/api/v1/profiles/$P1")
check_eq "a key expiring in 30 days works (any role reads profiles for now)" 200 "$(status "$R")"
R=$(get "$KEY" "/api/v1/profiles?email=%20WANG.xm@qq.COM")
check_eq "by e-mail in other case and with a space: 200" "200 $P1" "$(status "$R") $(field "$R" id)"
R=$(get "$KEY" "/api/v1/profiles?phone=138-0013-1111")
check_eq "by phone written 138-0013-1111: 200" "200 $P1" "$(status "$R") $(field "$R" id)"
R=$(get "$KEY" "/api/v1/profiles?phone=%2B86%20138%200013%201111")
check_eq "by phone written +86 138 0013 1111: 200" "200 $P1" "$(status "$R") $(field "$R" id)"
R=$(get "$KEY" "/api/v1/profiles?memberCard=M001")
check_eq "by member card: 200" "200 $P1" "$(status "$R") $(field "$R" id)"
R=$(get "$KEY" "/api/v1/profiles/$HI")
check_eq "a merged-away id answers with the profile it joined" "200 $LO $HI" \
    "$(status "$R") $(field "$R" id) $(field "$R" redirected_from)"

R=$(get "" "/api/v1/profiles/$P1")
check_eq "no key: 401 missing_api_key" "401 missing_api_key" "$(status "$R") $(field "$R" code)"
check_match "with a WWW-Authenticate: Bearer challenge" '^WWW-Authenticate: Bearer' \
    "$(curl -s -D - -o /dev/null "$BASE/api/v1/profiles/$P1" | tr -d '\r' | grep -i '^www-authenticate')"
R=$(get "ck_0000000000000000000000000000000000000000" "/api/v1/profiles/$P1")
check_eq "a wrong key: 401 invalid_api_key" "401 invalid_api_key" "$(status "$R") $(field "$R" code)"
R=$(get "$WKEY" "/api/v1/profiles/$P1")
check_eq "a source write key as Bearer: 401 invalid_api_key" "401 invalid_api_key" "$(status "$R") $(field "$R" code)"
R=$(get "" "/api/v1/profiles/$P1" -u "$WKEY:")
check_eq "a source write key as Basic: 401" 401 "$(status "$R")"
R=$(get "$REVOKED" "/api/v1/profiles/$P1")
check_eq "a revoked key: 401 invalid_api_key" "401 invalid_api_key" "$(status "$R") $(field "$R" code)"
R=$(get "$EXPIRED" "/api/v1/profiles/$P1")
check_eq "an expired key (--expires 0): 401 invalid_api_key" "401 invalid_api_key" "$(status "$R") $(field "$R" code)"
R=$(get "" "/api/v1/profiles?email=wang.xm@qq.com")
check_eq "a lookup without a key: 401" 401 "$(status "$R")"
check "a 401 does not leak the profile" test "$(body "$R" | grep -c 'identifiers')" = 0

R=$(get "$KEY" "/api/v1/profiles/999999")
check_eq "an unknown id: 404 not_found" "404 not_found" "$(status "$R") $(field "$R" code)"
R=$(get "$KEY" "/api/v1/profiles?email=li.lei@163.com")
check_eq "an unknown e-mail: 404 not_found" "404 not_found" "$(status "$R") $(field "$R" code)"
for bad in abc 12x -5 0 99999999999999999999 ""; do
    R=$(get "$KEY" "/api/v1/profiles/$bad")
    check_eq "id \"$bad\": 400 invalid_id" "400 invalid_id" "$(status "$R") $(field "$R" code)"
done
R=$(get "$KEY" "/api/v1/profiles?phone=abc")
check_eq "an invalid phone: 400 naming the parameter" "400 invalid_parameter phone" \
    "$(status "$R") $(field "$R" code) $(field "$R" message | cut -d' ' -f1)"
R=$(get "$KEY" "/api/v1/profiles")
check_eq "no lookup parameter: 400" 400 "$(status "$R")"
R=$(get "$KEY" "/api/v1/profiles?email=a@b.cn&phone=13800131111")
check_eq "two lookup parameters: 400" 400 "$(status "$R")"
R=$(get "$KEY" "/api/v1/profiles/$P1" -X POST -d '{}')
check_eq "POST to the route: 405" 405 "$(status "$R")"
R=$(get "$KEY" "/api/v1/profiles" -X POST -d '{}')
check_eq "POST to the lookup route: 405" 405 "$(status "$R")"
R=$(post "$WKEY" /v1/track '{"anonymousId":"a-1","event":"Still Collecting"}')
check_eq "collection with the write key still works" 200 "$(status "$R")"
check "the server stops cleanly" stop_server
check "no secret key is in the server log" test "$(grep -c -- "$KEY\|$REVOKED\|$EXPIRED" "$WORK/serve.log")" = 0
finish
