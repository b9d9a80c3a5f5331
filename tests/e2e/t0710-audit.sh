#!/usr/bin/env bash
# The audit log from the command line: key, source and plan changes and clear reads
# are listed (table, --json, --csv, --since, --action); custos audit verify passes on
# the untouched log and exits 1 naming the first bad entry when an entry is edited,
# removed or inserted by hand with sqlite3, or entries are cut from the end.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v sqlite3 >/dev/null || { echo "1..0 # SKIP sqlite3 is not installed (scripts/setup)"; exit 0; }
run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }

"$CUSTOS" sources add web >/dev/null
echo '{"events":{"Order Completed":{"required":["orderId"]}}}' >"$WORK/plan.json"
"$CUSTOS" sources set-plan web "$WORK/plan.json" 2>/dev/null
K=$("$CUSTOS" keys add --role analyst 2>/dev/null)
"$CUSTOS" keys revoke 1 2>/dev/null
"$CUSTOS" keys add --role admin >/dev/null 2>&1

run "$CUSTOS" audit list
check_eq "audit list exits 0" 0 "$RC"
check_match "a table: seq, time, actor, action, subject, detail" '^seq +time +actor +action +subject +detail' "$OUT"
check_eq "five entries: source, plan, key, revoke, key" "key.add plan.change key.add key.revoke key.add" \
    "$("$CUSTOS" audit list --json | "$PY" -c 'import json,sys; print(" ".join(json.loads(l)["action"] for l in sys.stdin))')"
check_eq "--action key. picks an area (write and API keys)" 4 "$("$CUSTOS" audit list --json --action key. | wc -l)"
check_eq "--action key.revoke one action" "key:1" \
    "$("$CUSTOS" audit list --json --action key.revoke | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["subject"])')"
check_eq "--csv has a header and five rows" 6 "$("$CUSTOS" audit list --csv | wc -l)"
check_eq "--since tomorrow: nothing" 0 "$("$CUSTOS" audit list --json --since 2099-01-01 | wc -l)"
check_eq "--limit 2 --after 1" "2 3" "$("$CUSTOS" audit list --json --limit 2 --after 1 | "$PY" -c 'import json,sys; print(" ".join(str(json.loads(l)["seq"]) for l in sys.stdin))')"
run "$CUSTOS" audit list --since yesterday
check_eq "a bad --since exits 2" 2 "$RC"
check "no key is in the log" test "$("$CUSTOS" audit list --json | grep -c -- "$K")" = 0

run "$CUSTOS" audit verify
check_eq "verify passes on the untouched log" 0 "$RC"
check_match "saying how many entries" 'intact: 5 entries' "$OUT"
run "$CUSTOS" audit verify --json
check_eq "verify --json gives the newest hash" 64 "$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["last_hash"]))')"

cp "$CUSTOS_DB" "$WORK/good.db"
cp "$CUSTOS_DB.audit-head" "$WORK/good.head"
restore() { rm -f "$CUSTOS_DB-wal" "$CUSTOS_DB-shm"; cp "$WORK/good.db" "$CUSTOS_DB"; cp "$WORK/good.head" "$CUSTOS_DB.audit-head"; }
OPEN="DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
# tamper "what" SQL SEQ WORD: the SQL by hand, then verify exits 1 naming SEQ.
tamper() {
    restore
    sqlite3 "$CUSTOS_DB" "$2" 2>"$WORK/sqlerr" || echo "# sqlite3: $(cat "$WORK/sqlerr")"
    run "$CUSTOS" audit verify
    check_eq "$1: verify exits 1" 1 "$RC"
    check_match "$1: naming entry $3 ($4)" "entry $3.*$4|$4.*entry: $3|first bad entry: $3" "$ERR"
}
run sqlite3 "$CUSTOS_DB" "UPDATE audit_log SET subject = 'key:9' WHERE seq = 4"
check "a plain UPDATE is refused by the table's trigger" test "$RC" != 0
tamper "an edited subject" "$OPEN UPDATE audit_log SET subject = 'key:9' WHERE seq = 4" 4 "edited"
tamper "an edited time" "$OPEN UPDATE audit_log SET time = time - 86400000 WHERE seq = 2" 2 "edited"
tamper "a removed entry" "$OPEN DELETE FROM audit_log WHERE seq = 3" 3 "missing"
tamper "removed entries at the end" "$OPEN DELETE FROM audit_log WHERE seq >= 4" 4 "removed from the end"
tamper "an inserted entry" "INSERT INTO audit_log SELECT 6, time, 'cli', 'key.add', 'key:3', NULL, hash, zeroblob(32) FROM audit_log WHERE seq = 5" 6 "edited"
tamper "an entry slipped in between, renumbering the rest" \
    "$OPEN UPDATE audit_log SET seq = seq + 10 WHERE seq >= 3; INSERT INTO audit_log SELECT 3, time, actor, action, subject, detail, hash, hash FROM audit_log WHERE seq = 2" 3 "edited"
restore
rm "$CUSTOS_DB.audit-head"
run "$CUSTOS" audit verify
check_eq "a missing head file: verify exits 1" 1 "$RC"
check_match "saying so" 'head file' "$ERR"
restore
echo "3 not-a-hash" >"$CUSTOS_DB.audit-head"
run "$CUSTOS" audit verify
check_eq "an altered head file: verify exits 1" 1 "$RC"
check_match "saying it was altered" 'head file .* was altered' "$ERR"
restore
run "$CUSTOS" audit verify
check_eq "the restored log verifies again" 0 "$RC"
run "$CUSTOS" audit
check_eq "audit without an action exits 2" 2 "$RC"
finish
