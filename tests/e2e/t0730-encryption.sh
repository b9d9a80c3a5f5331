#!/usr/bin/env bash
# Encryption at rest (issue 6): with encryption = sensitive, resident ID numbers, bank
# cards, phones and e-mails loaded through an import and through the collection API are
# nowhere in the database file or its WAL in clear, while lookups by phone (CLI and API)
# still find the person, a privacy export shows the values in clear, resolution gives
# the same profiles as without encryption, and a key rotation under a running server
# leaves every token on the new version. Without the master key nothing starts.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }

cat >"$WORK/crm.csv" <<'EOF'
contact_id,name,email,mobile,id_card,bank_card,city
C1,王小明,Wang.XM@QQ.com,+86 138 0013 1111,11010519491231002X,6222021234567890123,上海
C2,王小明,,13800131111,,,上海
C3,李娜,lina@163.com,13590871234,440524188001010014,6222029876543210987,广州
C4,张伟,zhangwei@126.com,13700001111,,,成都
EOF
cat >"$WORK/crm.mapping.json" <<'EOF'
{
  "kind": "contact", "record_key": "contact_id",
  "columns": {
    "contact_id": {"identifier": "crm_id", "required": true},
    "name": {"trait": "name"}, "email": {"identifier": "email"},
    "mobile": {"identifier": "phone"}, "id_card": {"identifier": "id_number"},
    "bank_card": {"trait": "bank_card"}, "city": {"trait": "city"}
  }
}
EOF
# The values that must not be stored in clear (as written and as standardized).
SECRETS="13800131111 8613800131111 13590871234 13700001111 13900009999 13911112222 \
Wang.XM wang.xm lina@163.com zhangwei@126.com web.user@example.com batch.user@example.com \
11010519491231002X 440524188001010014 6222021234567890123 6222029876543210987 6222025555666677778"

# ---- loads the same data into a database: import, then identify calls over HTTP ----
load() {
    "$CUSTOS" sources add crm >/dev/null
    WEB=$("$CUSTOS" sources add web)
    check "$1: the import loads" "$CUSTOS" import --quiet --source crm --no-resolve \
        --mapping "$WORK/crm.mapping.json" "$WORK/crm.csv"
    start_server --resolve-incremental off
    check_match "$1: an identify with a phone, e-mail, ID number and bank card is taken" '^200' \
        "$(post "$WEB" /v1/identify '{"messageId":"m1","userId":"U-wang","traits":{"email":"web.user@example.com","phone":"13800131111","idCard":"11010519491231002X","bankCard":"6222025555666677778"}}')"
    check_match "$1: a batch too" '^200' \
        "$(post "$WEB" /v1/batch '{"batch":[{"type":"identify","messageId":"m2","userId":"U-9","traits":{"email":"batch.user@example.com","phone":"13900009999"}},{"type":"track","messageId":"m3","userId":"U-9","event":"Order Completed","properties":{"mobile":"13911112222","total":5}}]}')"
    post "$WEB" /v1/identify '{"userId":"U-bad","traits":{"phone":"13911112222"' >/dev/null
    stop_server
}

# ---- no key, no start ----
export CUSTOS_ENCRYPTION=sensitive
run "$CUSTOS" serve --listen 127.0.0.1:0
check_eq "serve without a master key refuses to start (exit 2)" 2 "$RC"
check_match "it says why" 'no master key' "$ERR"
run "$CUSTOS" import --source crm --mapping "$WORK/crm.mapping.json" "$WORK/crm.csv"
check_eq "import without a master key refuses too" 2 "$RC"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/master.key"
chmod 644 "$WORK/master.key"
export CUSTOS_MASTER_KEY_FILE="$WORK/master.key"
run "$CUSTOS" resolve
check_eq "a key file others may read is refused (exit 2)" 2 "$RC"
check_match "it says to chmod it, and never prints the key" 'chmod 600' "$ERR"
check "the key is not in the message" bash -c "! grep -qF '$(cat "$WORK/master.key")' '$WORK/err'"
chmod 600 "$WORK/master.key"
rm -f "$CUSTOS_DB"*

# ---- encrypted load ----
load encrypted
ENC_WEB=$WEB
run "$CUSTOS" resolve --map-out "$WORK/map-enc.csv"
check_eq "resolve runs on encrypted data" 0 "$RC"
"$CUSTOS" privacy sweep >/dev/null 2>&1 # nothing to sweep: only touches the WAL
leaks=""
for s in $SECRETS; do
    for f in "$CUSTOS_DB" "$CUSTOS_DB-wal"; do
        [ -f "$f" ] && grep -aqF "$s" "$f" && leaks="$leaks $s($(basename "$f"))"
    done
    strings "$CUSTOS_DB" | grep -qF "$s" && leaks="$leaks $s(strings)"
done
check_eq "no resident ID, bank card, phone or e-mail in the .db or -wal file in clear" "" "$leaks"
check "the database does hold tokens" grep -aq 'enc:v1:1:' "$CUSTOS_DB"

run "$CUSTOS" profile show --phone 13800131111 --json
check_eq "profile show --phone finds the person" 0 "$RC"
check_match "and shows the values in clear" '11010519491231002X' "$OUT"
check_match "the e-mail of the HTTP identify, in clear" 'web.user@example.com' "$OUT"
PID=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
run "$CUSTOS" privacy export --profile "$PID"
check_eq "a privacy export runs" 0 "$RC"
check_match "it shows the bank cards in clear" '6222025555666677778' "$OUT"
check_match "and the imported ones" '6222021234567890123' "$OUT"
run "$CUSTOS" events --json
check_match "custos events --json shows stored messages in clear" '"phone":"13900009999"' "$OUT"
run "$CUSTOS" quarantine list --json
check_match "the quarantined body too" '13911112222' "$OUT"

# identity-blocked values are compared before the blind index: a blocked phone links nobody
"$CUSTOS" sources add blocked >/dev/null
BK=$("$CUSTOS" sources add web2)
start_server --resolve-incremental off
post "$BK" /v1/identify '{"userId":"B-1","traits":{"phone":"13811112222"}}' >/dev/null
post "$BK" /v1/identify '{"userId":"B-2","traits":{"phone":"13811112222"}}' >/dev/null
stop_server
"$CUSTOS" resolve --identity-blocked "null,+8613811112222" --map-out "$WORK/map-blocked.csv" >/dev/null 2>&1
check "a blocked phone of an encrypted type links nobody" \
    test "$(awk -F, '$1 == "web2"' "$WORK/map-blocked.csv" | cut -d, -f3 | sort -u | wc -l)" = 2
"$CUSTOS" resolve --map-out "$WORK/map-enc.csv" >/dev/null 2>&1

# ---- the same without encryption: the same profiles ----
ENC_DB=$CUSTOS_DB
export CUSTOS_DB="$WORK/plain.db"
CUSTOS_ENCRYPTION=off load plain
CUSTOS_ENCRYPTION=off "$CUSTOS" resolve --map-out "$WORK/map-plain.csv" >/dev/null 2>&1
groups() { "$PY" -c '
import csv, sys, collections
g = collections.defaultdict(list)
for row in list(csv.reader(open(sys.argv[1])))[1:]:
    if row[0] != "web2":  # the blocked-value check above: in the encrypted database only
        g[row[2]].append(row[0] + "/" + row[1])
print(sorted(sorted(v) for v in g.values()))' "$1"; }
check_eq "resolution gives the same profiles with encryption as without" \
    "$(groups "$WORK/map-plain.csv")" "$(groups "$WORK/map-enc.csv")"
check "the unencrypted database has the values in clear (the check above can fail)" \
    grep -aqF 6222021234567890123 "$CUSTOS_DB"
export CUSTOS_DB=$ENC_DB
WEB=$ENC_WEB

# ---- the API, and a rotation under a running server ----
API=$("$CUSTOS" keys add --role admin --name enc-test)
start_server
code=$(curl -s -o "$WORK/resp" -w '%{http_code}' -H "Authorization: Bearer $API" "$BASE/api/v1/profiles?phone=13800131111")
check_eq "GET /api/v1/profiles?phone= finds the person" 200 "$code"
check "its answer has the ID number in clear" grep -qF 11010519491231002X "$WORK/resp"
(
    for i in $(seq 1 60); do
        post "$WEB" /v1/identify "{\"userId\":\"R-$i\",\"traits\":{\"phone\":\"1380000$(printf %04d "$i")\"}}" |
            cut -c1-3 >>"$WORK/codes"
        sleep 0.05
    done
) &
LOADER=$!
run "$CUSTOS" keys rotate --json
check_eq "keys rotate runs while the server ingests" 0 "$RC"
check_match "it reports the new version" '"version":2' "$OUT"
wait "$LOADER"
check_eq "the server answered every message during the rotation" 60 "$(grep -c '^200' "$WORK/codes")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $API" "$BASE/api/v1/profiles?phone=13800131111")
check_eq "and still finds the person by phone" 200 "$code"
stop_server
run "$CUSTOS" keys rotate --json # a second one is harmless: nothing was left on version 1
versions=$("$PY" -c '
import re, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
seen = set()
for table, col in [("events", "raw"), ("quarantine", "raw"), ("records", "identifiers"),
                   ("records", "traits"), ("identifier_tokens", "token")]:
    for (v,) in db.execute("SELECT %s FROM %s" % (col, table)):
        if v is not None:
            seen.update(re.findall(r"enc:v1:(\d+):", v if isinstance(v, str) else v.decode("utf-8", "replace")))
print(",".join(sorted(seen)))' "$CUSTOS_DB")
check_eq "after two rotations every token is on version 3" "3" "$versions"
run "$CUSTOS" profile show --phone 13800131111 --json
check_match "old data still opens: profile show after the rotations" 'web.user@example.com' "$OUT"
run "$CUSTOS" audit list --action key.rotate --json
check_match "rotations are audited" 'key.rotate' "$OUT"

# ---- a client's text that looks like a token, in a clear field, is only data ----
start_server --resolve-incremental off
post "$WEB" /v1/identify '{"userId":"L-1","traits":{"phone":"13822223333","city":"enc:v1:1:AAAA"}}' >/dev/null
stop_server
"$CUSTOS" resolve >/dev/null 2>&1
run "$CUSTOS" profile show --phone 13822223333 --json
check_eq "a look-alike token in a clear field does not break the profile view" 0 "$RC"
check_match "it is shown as sent" '"enc:v1:1:AAAA"' "$OUT"

# ---- erasure under encryption: the person's tokens go, their identifiers are suppressed ----
run "$CUSTOS" profile show --phone 13590871234 --json
LI=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
tokens_before=$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM identifier_tokens").fetchone()[0])' "$CUSTOS_DB")
run "$CUSTOS" privacy erase --profile "$LI" --yes --json
check_eq "privacy erase runs on encrypted data" 0 "$RC"
tokens_after=$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM identifier_tokens").fetchone()[0])' "$CUSTOS_DB")
check "it deletes the person's identifier tokens" test "$tokens_after" -lt "$tokens_before"
start_server
check_match "an identify with the erased (blind-indexed) phone is refused as suppressed" '^400 .*"suppressed"' \
    "$(post "$WEB" /v1/identify '{"userId":"again","traits":{"phone":"+86 135 9087 1234"}}')"
stop_server
run "$CUSTOS" profile show --phone 13590871234
check_eq "a lookup by the erased phone finds nobody" 1 "$RC"

# ---- a quarantined message replayed: opened, checked again, sealed again ----
run "$CUSTOS" quarantine replay --json
check "quarantine replay runs on encrypted data" test "$RC" -le 1
check "after the replay no phone is in the database in clear" bash -c "! grep -aqF 13911112222 '$CUSTOS_DB'"

# ---- a wrong master key: an error naming the record, no crash ----
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/other.key"
chmod 600 "$WORK/other.key"
run env CUSTOS_MASTER_KEY_FILE="$WORK/other.key" "$CUSTOS" profile show "$PID" --json
check_eq "another master key: profile show is an error (exit 1)" 1 "$RC"
check_match "naming the profile and the field" "profile $PID: the stored [a-z_]+ does not decrypt" "$ERR"
run env CUSTOS_MASTER_KEY_FILE="$WORK/other.key" "$CUSTOS" events --json
check_match "events --json names the rows whose tokens do not open" 'event [0-9]+: a stored token does not decrypt' "$ERR"
check "no sanitizer report from the server" bash -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$WORK/serve.log'"
finish
