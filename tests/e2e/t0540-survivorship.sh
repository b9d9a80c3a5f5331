#!/usr/bin/env bash
# Survivorship and lineage through import, resolve and profile show: three sources
# disagree about one person; per-trait rules choose the golden values (source priority
# over a newer value, the most frequent over the most recent, the most recent), and
# every candidate keeps its source, record and time. A merged-away profile id still
# answers, redirected, from the CLI.
. "$(dirname "$0")/lib.sh"
D=$ROOT/tests/e2e/data/survivorship
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

run() { OUT=$("$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
for s in crm pos web; do
    "$CUSTOS" sources add "$s" >/dev/null
    "$CUSTOS" import --quiet --source "$s" --mapping "$D/contact.mapping.json" "$D/$s.csv" >/dev/null
done
"$CUSTOS" resolve --map-out "$WORK/map1.csv" >/dev/null
profile_of() { awk -F, -v s="$1" -v k="$2" '$1 == s && $2 == k {print $3}' "$3"; }
P=$(profile_of crm C1 "$WORK/map1.csv")
check_eq "the three sources' records of Wang are one profile" "$P $P" \
    "$(profile_of pos P1 "$WORK/map1.csv") $(profile_of web W1 "$WORK/map1.csv")"

RULES='name:source_priority(crm,pos,web),city:most_frequent,*:most_recent'
# golden TRAIT: "value|rule|source of the chosen candidate|number of candidates"
golden() {
    printf '%s' "$OUT" | "$PY" -c '
import json,sys
v=json.load(sys.stdin); t=[t for t in v["traits"] if t["name"]==sys.argv[1]][0]
c=t["candidates"][t["chosen"]] if t["chosen"]>=0 else {"source":None}
print("%s|%s|%s|%d" % (t["value"], t["rule"], c["source"], len(t["candidates"])))' "$1"
}
run "$CUSTOS" profile show "$P" --json --survivorship "$RULES"
check_eq "profile show --json exits 0" 0 "$RC"
check_eq "name: crm's value wins by source priority over two newer ones" \
    "王小明|source_priority(crm,pos,web)|crm|3" "$(golden name)"
check_eq "city: the value two sources agree on beats the most recent one (its latest candidate stands for it)" \
    "上海|most_frequent|pos|3" "$(golden city)"
check_eq "nickname: * is most_recent: the web's June value" "xm-web|most_recent|web|3" \
    "$(golden nickname)"
check_eq "each candidate keeps source, record, file line and time" "crm C1 2 1767225600000" \
    "$(printf '%s' "$OUT" | "$PY" -c '
import json,sys
v=json.load(sys.stdin); t=[t for t in v["traits"] if t["name"]=="name"][0]
c=[c for c in t["candidates"] if c["source"]=="crm"][0]
print(c["source"], c["record_key"], c["line"], c["time"])')"
run "$CUSTOS" profile show "$P" --json --survivorship 'name:source_priority(web,crm)'
check_eq "another order of sources: web's name" "小明|source_priority(web,crm)|web|3" "$(golden name)"
check_eq "and city falls back to most_recent without a rule of its own" \
    "北京|most_recent|web|3" "$(golden city)"
run "$CUSTOS" profile show "$P" --json --survivorship 'name:source_priority(app)'
check_eq "a source no record came from ranks last: the most recent name" \
    "小明|source_priority(app)|web|3" "$(golden name)"
run "$CUSTOS" profile show "$P" --survivorship "$RULES"
check_match "the table marks the golden value with its rule" "name: 王小明  \[source_priority\(crm,pos,web\)\]" "$OUT"
check_match "and lists every candidate with its source and record" "Wang Xiaoming  \(pos record P1," "$OUT"
run "$CUSTOS" profile show "$P" --survivorship 'name:newest'
check_eq "an unknown rule exits 1" 1 "$RC"
check_match "naming the rule and the ones there are" 'unknown rule "newest".*most_recent' "$ERR"
run "$CUSTOS" profile show "$P" --survivorship 'name:source_priority(crm'
check_eq "an unclosed parenthesis exits 1" 1 "$RC"
printf 'survivorship = "%s"\n' "$RULES" >custos.conf
run "$CUSTOS" profile show "$P" --json
check_eq "the rules come from custos.conf too" "王小明|source_priority(crm,pos,web)|crm|3" "$(golden name)"
rm custos.conf

# A merge: Li Na's crm and pos records share nothing until the web knows both her
# e-mail and phone; the larger id then redirects to the smaller.
A=$(profile_of crm C2 "$WORK/map1.csv")
B=$(profile_of pos P2 "$WORK/map1.csv")
check "Li Na's crm and pos records start as two profiles" test "$A" != "$B"
"$CUSTOS" import --quiet --source web --mapping "$D/contact.mapping.json" "$D/link.csv" >/dev/null
"$CUSTOS" resolve >/dev/null
LO=$((A < B ? A : B)); HI=$((A < B ? B : A))
run "$CUSTOS" profile show "$HI" --json
check_eq "the merged-away id answers with the profile it joined" "0 $LO $HI" \
    "$RC $(printf '%s' "$OUT" | "$PY" -c 'import json,sys; v=json.load(sys.stdin); print(v["id"], v.get("redirected_from"))')"
check_eq "which holds the candidates of both" "3" "$(printf '%s' "$OUT" | "$PY" -c '
import json,sys; v=json.load(sys.stdin); print(len([t for t in v["traits"] if t["name"]=="name"][0]["candidates"]))')"
run "$CUSTOS" profile show "$HI"
check_match "the table says it was merged" "profile $LO +\(profile $HI was merged into it\)" "$OUT"
check_match "and the merge history shows it" "profile $HI into $LO" "$OUT"
# identify calls are candidates too: an app user tells us a new nickname today.
AKEY=$("$CUSTOS" sources add app)
start_server
post "$AKEY" /v1/identify '{"userId":"U-wang","traits":{"email":"wang.xm@example.cn","nickname":"xm-app","name":"Wang"}}' >/dev/null
stop_server
"$CUSTOS" resolve >/dev/null
run "$CUSTOS" profile show --email wang.xm@example.cn --json --survivorship "$RULES"

check_eq "an identify call's trait is a candidate, and the most recent nickname" \
    "xm-app|most_recent|app|4" "$(golden nickname)"
check_eq "it is listed as the identify call, with its messageId as the record" "identify True None" \
    "$(printf '%s' "$OUT" | "$PY" -c '
import json,sys
v=json.load(sys.stdin); c=[t for t in v["traits"] if t["name"]=="nickname"][0]["candidates"][0]
print(c["kind"], bool(c["record_key"]), c["file"])')"
check_eq "the crm name still wins by source priority over the newer app name" \
    "王小明|source_priority(crm,pos,web)|crm|4" "$(golden name)"
"$CUSTOS" config show --markdown | grep -E '^\| `(survivorship|profile-cache)`' >"$WORK/settings.md"
check_eq "docs/configuration.md lists survivorship and profile-cache as config show prints them" 2 \
    "$(grep -cxFf "$WORK/settings.md" "$ROOT/docs/configuration.md")"
finish
