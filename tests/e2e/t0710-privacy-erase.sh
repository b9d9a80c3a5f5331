#!/usr/bin/env bash
# Data-subject requests: export and erasure on a demo world. After erasure the database
# file, its WAL and its shared-memory file hold no byte of the person's values (phones
# and e-mails as written and standardized, ID number, name, user ids, messageIds);
# their messages and rows are refused afterwards; everyone else is intact.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
quiet() { "$@" >/dev/null 2>&1; }
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }

"$CUSTOS" demo --customers 150 --seed 7 --out "$WORK/demo" --load >/dev/null 2>&1
check "custos resolve runs on the demo world" quiet "$CUSTOS" resolve --quiet

# The person: the profile with the most records that has a phone and an e-mail.
P=$("$PY" - "$CUSTOS_DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("""SELECT m.profile_id FROM profile_members m
  WHERE m.profile_id IN (SELECT profile_id FROM identifiers WHERE type = 'phone')
    AND m.profile_id IN (SELECT profile_id FROM identifiers WHERE type = 'email')
    AND m.profile_id IN (SELECT m2.profile_id FROM profile_members m2 WHERE m2.kind = 0)
  GROUP BY m.profile_id ORDER BY count(*) DESC LIMIT 1""").fetchone()
print(row[0])
PY
)
check "a profile with a phone, an e-mail and events is found" test -n "$P"

run "$CUSTOS" privacy export --profile "$P" --out "$WORK/export.json"
check_eq "privacy export exits 0" 0 "$RC"
check_eq "the export holds identifiers, records, events and orders" "True True True True" "$("$PY" -c '
import json,sys; v=json.load(open(sys.argv[1]))
print(len(v["identifiers"])>=2, len(v["records"])>0, len(v["events"])>0, "orders" in v and "order_lines" in v)' "$WORK/export.json")"
check_eq "the export is readable JSON with the raw events nested" "True" "$("$PY" -c '
import json,sys; v=json.load(open(sys.argv[1])); print(all(isinstance(e["raw"], dict) for e in v["events"]))' "$WORK/export.json")"

# The values to look for: the person's, and only if no other profile's row holds them
# (the demo has family phones and placeholders shared between people).
"$PY" - "$CUSTOS_DB" "$WORK/export.json" "$WORK/values" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1]); v = json.load(open(sys.argv[2]))
cand = set()
for i in v["identifiers"]:
    if i["type"] in ("phone", "email", "id_number", "user_id", "member_card", "wechat_openid"):
        cand.add(i["value"])
        if i["type"] == "phone" and i["value"].startswith("+86"):
            cand.add(i["value"][3:])
for r in v["records"]:
    for k, x in (r.get("identifiers") or {}).items():
        if isinstance(x, str) and len(x.strip()) >= 6: cand.add(x.strip())
    t = r.get("traits") or {}
    for k in ("name", "id_number", "birthday", "address"):
        if isinstance(t.get(k), str) and len(t[k]) >= 2: cand.add(t[k])
for e in v["events"]:
    cand.add(e["message_id"])
    for part in (e["raw"].get("traits") or {}, (e["raw"].get("context") or {}).get("traits") or {}):
        for k in ("email", "phone", "name"):
            if isinstance(part.get(k), str) and len(part[k]) >= 2: cand.add(part[k])
fam = "(SELECT row_id FROM profile_members WHERE profile_id = %d AND kind = %%d)" % v["profile"]
keep = []
for c in sorted(cand):
    n = db.execute("SELECT (SELECT count(*) FROM events WHERE instr(raw, ?1) AND id NOT IN " + (fam % 0) +
                   ") + (SELECT count(*) FROM records WHERE (instr(coalesce(identifiers,''), ?1) OR instr(coalesce(traits,''), ?1) OR instr(record_key, ?1)) AND id NOT IN " + (fam % 1) +
                   ") + (SELECT count(*) FROM identifiers WHERE value = ?1 AND profile_id != ?2)", (c, v["profile"])).fetchone()[0]
    if n == 0: keep.append(c)
open(sys.argv[3], "w").write("\n".join(keep) + "\n")
PY
NV=$(wc -l <"$WORK/values")
check "there are values of the person's alone to look for ($NV)" test "$NV" -ge 5
check "one is an e-mail and one a messageId" "$PY" -c '
import sys; v=open(sys.argv[1]).read().split("\n"); sys.exit(not (any("@" in x for x in v) and any(len(x)==36 and x.count("-")==4 for x in v)))' "$WORK/values"

# Someone else, to see intact afterwards.
OTHER=$("$PY" -c '
import sqlite3,sys; db=sqlite3.connect(sys.argv[1])
print(db.execute("SELECT profile_id FROM profile_members WHERE profile_id != ? GROUP BY profile_id ORDER BY count(*) DESC LIMIT 1", (int(sys.argv[2]),)).fetchone()[0])' "$CUSTOS_DB" "$P")
"$CUSTOS" privacy export --profile "$OTHER" --out "$WORK/other-before.json" 2>/dev/null

# A quarantined message that carries the person's e-mail (it breaks a plan).
EMAIL=$(grep -m1 '@' "$WORK/values")
printf '{"events":{"Checkout":{"required":["total"]}}}\n' >"$WORK/plan.json"
KEY=$("$CUSTOS" sources add probe --plan "$WORK/plan.json")
start_server
post "$KEY" /v1/track "{\"userId\":\"probe-1\",\"event\":\"Checkout\",\"context\":{\"traits\":{\"email\":\"$EMAIL\"}}}" >/dev/null
stop_server
check_eq "the message is in the quarantine before the erasure" 1 "$("$CUSTOS" quarantine list --json | wc -l)"

# What analytics derived from the person goes too: a segment stay (every profile is in
# "everyone") and the computed traits of a saved RFM run.
"$CUSTOS" segment create everyone 'orders.count(all) >= 0' >/dev/null 2>&1
"$CUSTOS" analyze rfm --window 0 --save >/dev/null 2>&1
derived() { sqlite3 "$CUSTOS_DB" "SELECT (SELECT count(*) FROM segment_members WHERE profile_id = $P) + (SELECT count(*) FROM computed_traits WHERE profile_id = $P)"; }
check "before the erasure the profile has derived rows (segment stay, RFM traits)" test "$(derived)" -gt 0
run "$CUSTOS" privacy erase --profile "$P"
check_eq "erase without --yes and without a terminal is refused (exit 2)" 2 "$RC"
run "$CUSTOS" privacy erase --profile "$P" --yes --json
check_eq "privacy erase exits 0" 0 "$RC"
check_eq "it reports events, records, identifiers and the quarantined message deleted" "True" "$(printf '%s' "$OUT" | "$PY" -c '
import json,sys; v=json.load(sys.stdin); print(v["events"]>0 and v["records"]>0 and v["identifiers"]>=2 and v["quarantine"]==1 and v["suppressed"]>=2)')"
check_eq "and its derived rows are gone (segment stays, computed traits)" 0 "$(derived)"

# No byte of any value is left in the database, its WAL or its shared memory.
LEFT=$("$PY" - "$WORK/values" "$CUSTOS_DB" "$CUSTOS_DB-wal" "$CUSTOS_DB-shm" <<'PY'
import os, sys
vals = [v for v in open(sys.argv[1]).read().split("\n") if v]
found = []
for f in sys.argv[2:]:
    if not os.path.exists(f): continue
    data = open(f, "rb").read()
    for v in vals:
        if v.encode() in data: found.append("%s in %s" % (v[:3] + "...", os.path.basename(f)))
print(len(found), " ".join(found[:5]))
PY
)
check_eq "no erased value is left in the .db, -wal or -shm file" "0 " "$LEFT"
check_eq "the WAL was emptied" 0 "$(stat -c %s "$CUSTOS_DB-wal" 2>/dev/null || echo 0)"

run "$CUSTOS" privacy export --profile "$P"
check_eq "the erased profile is gone (exit 1, no profile)" "1 yes" "$RC $(printf '%s' "$ERR" | grep -q 'no profile' && echo yes)"
run "$CUSTOS" profile show --email "$EMAIL"
check_eq "a lookup by the erased e-mail finds nobody" 1 "$RC"

# Everyone else is intact, before and after a new resolution.
"$CUSTOS" privacy export --profile "$OTHER" --out "$WORK/other-after.json" 2>/dev/null
same() { "$PY" -c '
import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
keys=("identifiers","records","events","orders","order_lines")
print(all(a[k]==b[k] for k in keys))' "$WORK/other-before.json" "$1"; }
check_eq "another customer's data is unchanged by the erasure" True "$(same "$WORK/other-after.json")"
run "$CUSTOS" resolve --json --quiet
check_eq "resolve runs again after the erasure" 0 "$RC"
"$CUSTOS" privacy export --profile "$OTHER" --out "$WORK/other-resolved.json" 2>/dev/null
check_eq "after a new resolution the other customer keeps their profile id and data" True "$(same "$WORK/other-resolved.json")"
run "$CUSTOS" privacy export --profile "$P"
check_eq "resolve does not bring the erased profile back" 1 "$RC"

# Later data about the person: dropped at collection, skipped by import.
start_server
R=$(post "$(cat "$WORK/demo/web.key")" /v1/identify "{\"userId\":\"new-user-77\",\"traits\":{\"email\":\"  ${EMAIL^^} \"}}")
check_match "an identify with the erased e-mail (other case, spaces) is refused as suppressed" '^400 .*"suppressed"' "$R"
R=$(post "$(cat "$WORK/demo/web.key")" /v1/identify '{"userId":"new-user-78","traits":{"email":"someone.new@example.com"}}')
check_match "someone else's identify is accepted" '^200 ' "$R"
check_match "the metrics count the suppressed message" 'outcome="suppressed"} 1' "$(curl -s "$BASE/metrics")"
stop_server
check_eq "the suppressed message is kept without any of its content" "{}" \
    "$("$CUSTOS" quarantine list --json | "$PY" -c '
import json,sys
for l in sys.stdin:
    q=json.loads(l)
    if any(r["code"]=="suppressed" for r in q["reasons"]): print(json.dumps(q.get("message", q.get("raw")), separators=(",",":")))' | head -1)"
check "the e-mail did not come back into the database" "$PY" -c '
import os,sys; f=[sys.argv[1], sys.argv[1]+"-wal"]
d=b"".join(open(x,"rb").read() for x in f if os.path.exists(x)); sys.exit(sys.argv[2].encode() in d)' "$CUSTOS_DB" "$EMAIL"

# An erasure while custos serve runs: the server refuses the person within seconds.
OEMAIL=$("$PY" -c 'import json,sys; v=json.load(open(sys.argv[1]))
print([i["value"] for i in v["identifiers"] if i["type"]=="email"][0] if any(i["type"]=="email" for i in v["identifiers"]) else "")' "$WORK/other-resolved.json")
start_server
if [ -n "$OEMAIL" ]; then
    R=$(post "$(cat "$WORK/demo/web.key")" /v1/identify "{\"userId\":\"live-1\",\"traits\":{\"email\":\"$OEMAIL\"}}")
    check_match "before the erasure the other customer's e-mail is accepted" '^200 ' "$R"
    run "$CUSTOS" privacy erase --profile "$OTHER" --yes --no-vacuum
    check_eq "erasing while the server runs exits 0" "0" "$RC"
    for _ in $(seq 1 40); do
        R=$(post "$(cat "$WORK/demo/web.key")" /v1/identify "{\"userId\":\"live-2\",\"traits\":{\"email\":\"$OEMAIL\"}}")
        case $R in 400*) break ;; esac
        sleep 0.1
    done
    check_match "within seconds the running server refuses the erased e-mail" '^400 .*"suppressed"' "$R"
else
    not_ok "the other customer has an e-mail to test a live erasure with"
fi
stop_server

while read -r src f; do
    "$CUSTOS" import --quiet --json --source "$src" --mapping "$WORK/demo/${f%.*}.mapping.json" "$WORK/demo/$f" >>"$WORK/reimport.json" 2>/dev/null
done <<'LIST'
pos pos_receipts.csv
crm crm_contacts.csv
marketplace marketplace_orders.csv
service service_tickets.csv
reviews reviews.csv
web web_events.jsonl
app app_events.jsonl
miniprogram miniprogram_events.jsonl
LIST
check_eq "importing the demo files again loads nothing and skips the person's rows" "0 True" "$("$PY" -c '
import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]
print(sum(r["loaded"] for r in rows), sum(r["suppressed"] for r in rows) > 0)' "$WORK/reimport.json")"
# A family phone: two people (two userIds, which never link) share one phone. Erasing
# one keeps the phone in the other's data and off the suppression list.
WEB=$(cat "$WORK/demo/web.key")
start_server
post "$WEB" /v1/identify '{"userId":"fam-a","traits":{"phone":"13911112222","email":"fam.a@163.com"}}' >/dev/null
post "$WEB" /v1/identify '{"userId":"fam-b","traits":{"phone":"139 1111 2222"}}' >/dev/null
stop_server
quiet "$CUSTOS" resolve --quiet
pid() { "$CUSTOS" profile show --user-id "$1" --json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
FA=$(pid fam-a); FB=$(pid fam-b)
check "the two family members are two profiles" test -n "$FA" -a -n "$FB" -a "$FA" != "$FB"
run "$CUSTOS" privacy erase --profile "$FA" --yes --no-vacuum --json
check_eq "erasing one keeps the shared phone off the suppression list" "1 1" "$(printf '%s' "$OUT" | "$PY" -c '
import json,sys; v=json.load(sys.stdin); print(v["shared"], v["events"])')"
check_eq "the other one is intact" 0 "$("$CUSTOS" profile show --user-id fam-b >/dev/null 2>&1; echo $?)"
start_server
R=$(post "$WEB" /v1/identify '{"userId":"fam-b","traits":{"phone":"13911112222"}}')
check_match "and may still send messages with the family phone" '^200 ' "$R"
R=$(post "$WEB" /v1/identify '{"userId":"x","traits":{"email":"FAM.A@163.com"}}')
check_match "while the erased one's own e-mail is refused" '^400 .*suppressed' "$R"
stop_server
# Exports and erasures are in the hash-chained audit log, by profile id, never values.
AUD=$("$CUSTOS" audit list --json)
check_match "the export is audited (action export, the profile)" "\"action\":\"export\",\"subject\":\"profile:$P\"" "$AUD"
check_match "the erasure is audited (action erase, the profile)" "\"action\":\"erase\",\"subject\":\"profile:$P\"" "$AUD"
run "$CUSTOS" audit verify
check_eq "the audit log verifies after the erasure's VACUUM" 0 "$RC"
finish
