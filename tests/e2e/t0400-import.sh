#!/usr/bin/env bash
# t0400-import: `custos import` of channel exports through mapping files.
#
# Every example mapping of docs/import.md (copied verbatim into tests/e2e/data/import/)
# with a small export of its own: POS receipts in GBK (order lines), CRM contacts with a
# UTF-8 BOM, marketplace orders, service tickets with quoted newlines and commas. Then:
# the summary (--json), records and their provenance (file, physical line, record key),
# identifiers, money in minor units with its currency, times in the mapping's zone stored
# as UTC ms, orders aggregated from their lines; a second import changes nothing; a
# corrected row replaces the old one; a file with bad rows and its reject file, line by
# line; --encoding; JSON Lines of Segment messages; bad usage; progress output.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # the system Python starts fastest; any python3 will do
[ -x "$PY" ] || PY=python3
DATA=$ROOT/tests/e2e/data/import

# Fixtures in the work directory, so that records.file and the reject file hold the
# names given on the command line. The POS exports become GBK here (iconv), the CRM
# export gets its UTF-8 byte order mark.
for f in pos pos-fix pos-a pos-b; do iconv -f UTF-8 -t GBK "$DATA/$f.csv" >"$f.csv"; done
printf '\xef\xbb\xbf' >crm.csv && cat "$DATA/crm.csv" >>crm.csv
cp "$DATA"/{crm-fix,orders,orders-fix,tickets,pos-bad}.csv "$DATA/events.jsonl" .
cp "$DATA"/*.mapping.json .

# q SQL: one query on the store, "|"-separated.
q() { sqlite3 "$CUSTOS_DB" "$1"; }
# sm JSON: the summary's counts as "read loaded unchanged replaced rejected".
sm() {
    printf '%s' "$1" | "$PY" -c '
import json, sys
try:
    d = json.loads(sys.stdin.read())
    print(" ".join(str(d[k]) for k in ("read", "loaded", "unchanged", "replaced", "rejected")))
except Exception as e:
    print("<%s: %s>" % (type(e).__name__, e))'
}
# jget JSON EXPR: the Python expression EXPR on the parsed JSON d.
jget() {
    printf '%s' "$1" | "$PY" -c '
import json, sys
try:
    d = json.loads(sys.stdin.read()); r = eval(sys.argv[1])
except Exception as e:
    r = "<%s: %s>" % (type(e).__name__, e)
print(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False, sort_keys=True))' "$2"
}
# ms ISO: an ISO 8601 UTC time as ms since the epoch, computed independently of custos.
ms() { "$PY" -c 'import sys, datetime
print(int(datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp() * 1000))' "$1"; }
# imp SOURCE MAPPING [args...]: custos import --json; sets OUT (stdout) and RC.
imp() {
    local src=$1 map=$2; shift 2
    OUT=$("$CUSTOS" import --source "$src" --mapping "$map" --json "$@" 2>>"$WORK/import.err")
    RC=$?
}
# snapshot: row counts and a checksum of records, orders and order_lines.
snapshot() {
    printf '%s %s %s %s\n' "$(q 'SELECT count(*) FROM records')" "$(q 'SELECT count(*) FROM orders')" \
        "$(q 'SELECT count(*) FROM order_lines')" \
        "$(q 'SELECT * FROM records ORDER BY id; SELECT * FROM orders ORDER BY id;
              SELECT * FROM order_lines ORDER BY rowid' | md5sum | cut -d' ' -f1)"
}

for s in pos crm shop service posbad pos2 web posbig; do
    "$CUSTOS" sources add "$s" >/dev/null 2>>"$WORK/cli.err" || not_ok "custos sources add $s"
done
POS=$(q "SELECT id FROM sources WHERE name = 'pos'")

# ---- the four examples of docs/import.md -------------------------------------------

# POS receipts, GBK, one row per line item; the 备注 column (not mapped) has a quoted
# comma and a quoted newline, which makes the row of T0002/2 span lines 6-7.
imp pos pos.mapping.json pos.csv
check_eq "POS (GBK) import exits 0" 0 "$RC"
check_eq "POS summary: read 8, loaded 8, unchanged 0, replaced 0, rejected 0" "8 8 0 0 0" "$(sm "$OUT")"
check_eq "POS: no reject file when nothing is rejected" "null" "$(jget "$OUT" 'str(d["rejects_file"]).replace("None", "null")')"
check "POS: no reject file on disk" [ ! -e pos.csv.rejects.csv ]
check_eq "POS: 8 order_line records with their keys (小票号|行号)" \
    "T0001|1 T0001|2 T0001|3 T0002|1 T0002|2 T0003|1 T0003|2 T0004|1" \
    "$(q "SELECT group_concat(record_key, ' ') FROM (SELECT record_key FROM records
          WHERE source_id = $POS AND kind = 'order_line' ORDER BY id)")"
check_eq "POS provenance: file and physical line (a quoted newline shifts later rows)" \
    "T0001|1:pos.csv:2 T0002|2:pos.csv:6 T0003|1:pos.csv:8 T0003|2:pos.csv:9 T0004|1:pos.csv:10" \
    "$(q "SELECT group_concat(record_key || ':' || file || ':' || line, ' ') FROM (SELECT * FROM records
          WHERE source_id = $POS AND record_key IN ('T0001|1','T0002|2','T0003|1','T0003|2','T0004|1') ORDER BY id)")"
check_eq "POS: the store name came through GBK intact" "上海南京路店 北京三里屯店 广州天河店 深圳万象城店" \
    "$(q "SELECT group_concat(store, ' ') FROM (SELECT store FROM orders WHERE source_id = $POS ORDER BY order_id)")"
check_eq "POS: ￥1,299.50 (quoted, with a thousands comma) is 129950 minor units CNY" "129950|129950|CNY" \
    "$(q "SELECT unit_price_minor, amount_minor, currency FROM order_lines l JOIN records r ON r.id = l.record_id
          WHERE r.record_key = 'T0001|3'")"
check_eq "POS: ￥399 is 39900, 9.9 (no symbol) is 990" "39900 990" \
    "$(q "SELECT (SELECT amount_minor FROM order_lines WHERE order_id = 'T0004'),
                 (SELECT unit_price_minor FROM order_lines WHERE order_id = 'T0002' AND sku = 'SKU-4004')" | tr '|' ' ')"
check_eq "POS: line fields sku, category, quantity" "SKU-5005|生鲜|1.5" \
    "$(q "SELECT sku, category, quantity FROM order_lines WHERE order_id = 'T0003' AND sku = 'SKU-5005'")"
# Orders from their lines: amount = sum of the lines (T0003/2 has no amount: 3 x ￥2.50).
check_eq "POS orders: amount = sum of lines, and the number of lines" \
    "T0001:131930:3 T0002:3090:2 T0003:4950:2 T0004:39900:1" \
    "$(q "SELECT group_concat(order_id || ':' || amount_minor || ':' || lines, ' ') FROM
          (SELECT * FROM orders WHERE source_id = $POS ORDER BY order_id)")"
check_eq "POS orders: each of the 4 amounts equals the sum of its order_lines (amount, or quantity x unit price)" "4|0" \
    "$(q "SELECT count(*), sum(o.amount_minor IS NOT
          (SELECT sum(coalesce(amount_minor, CAST(round(quantity * unit_price_minor) AS INTEGER)))
           FROM order_lines l WHERE l.source_id = o.source_id AND l.order_id = o.order_id))
          FROM orders o WHERE o.source_id = $POS")"
# Times: the mapping's formats and zone (+08:00) -> UTC ms; an explicit Z is kept.
T1=$(ms 2024-03-05T06:30:00Z) T2=$(ms 2024-03-06T01:15:00Z) T3=$(ms 2024-03-07T12:05:00Z) T4=$(ms 2024-03-08T10:00:00Z)
check_eq "POS times: 2024/03/05 14:30:00, 20240306 091500, 2024-03-07 20:05:00 at +08:00; 2024-03-08T10:00:00Z" \
    "T0001:$T1 T0002:$T2 T0003:$T3 T0004:$T4" \
    "$(q "SELECT group_concat(order_id || ':' || time, ' ') FROM (SELECT * FROM orders WHERE source_id = $POS ORDER BY order_id)")"
check_eq "POS: the record's time is the receipt's time too" "$T2" \
    "$(q "SELECT time FROM records WHERE source_id = $POS AND record_key = 'T0002|1'")"
ident() { jget "$(q "SELECT identifiers FROM records WHERE source_id = $POS AND record_key = '$1'")" 'd'; }
check_eq "POS identifiers: member_card and phone; an empty column is left out" \
    '{"member_card": "M10001", "phone": "13800138000"} / {"member_card": "M10002"} / {"phone": "13912345678"}' \
    "$(ident 'T0001|1') / $(ident 'T0003|1') / $(ident 'T0002|1')"

# CRM contacts, with a UTF-8 byte order mark before the header.
imp crm crm.mapping.json crm.csv
check_eq "CRM (UTF-8 with BOM) import exits 0" 0 "$RC"
check_eq "CRM summary: read 6, loaded 6" "6 6 0 0 0" "$(sm "$OUT")"
check_eq "CRM: the first record (right after the BOM) has key C001, line 2, file crm.csv, kind contact" \
    "C001|2|crm.csv|contact" "$(q "SELECT record_key, line, file, kind FROM records WHERE record_key = 'C001'")"
check_eq "CRM C001 identifiers: crm_id, email, phone, member_card" \
    '{"crm_id": "C001", "email": "zhang.wei@example.com", "member_card": "M10001", "phone": "13800138000"}' \
    "$(jget "$(q "SELECT identifiers FROM records WHERE record_key = 'C001'")" 'd')"
check_eq "CRM C001 traits: name, city, birthday, gender (UTF-8 intact)" \
    '{"birthday": "1988-04-12", "city": "上海", "gender": "男", "name": "张伟"}' \
    "$(jget "$(q "SELECT traits FROM records WHERE record_key = 'C001'")" 'd')"
check_eq "CRM C004: a quoted name with a comma is one value" "Smith, John" \
    "$(jget "$(q "SELECT traits FROM records WHERE record_key = 'C004'")" 'd["name"]')"

# Marketplace orders, one row per order.
imp shop orders.mapping.json orders.csv
check_eq "marketplace orders import exits 0" 0 "$RC"
check_eq "marketplace summary: read 6, loaded 6" "6 6 0 0 0" "$(sm "$OUT")"
check_eq "marketplace: \"1,299.50\" is 129950 CNY, \"USD 12\" is 1200 USD, \"USD 45.5\" 4550, 199 is 19900, 0.50 is 50" \
    "JD100200300:19900:CNY SH-1001:1200:USD SH-1002:4550:USD TM20240305001:129950:CNY TM20240305002:8800:CNY TM20240307003:50:CNY" \
    "$(q "SELECT group_concat(order_id || ':' || amount_minor || ':' || currency, ' ') FROM
          (SELECT * FROM orders o JOIN sources s ON s.id = o.source_id WHERE s.name = 'shop' ORDER BY order_id)")"
check_eq "marketplace: status, store and time (+08:00 local; an explicit Z kept)" \
    "交易成功|天猫旗舰店|$(ms 2024-03-05T06:30:00Z) paid|Shopify Global|$(ms 2024-03-06T01:00:00Z)" \
    "$(q "SELECT status, store, time FROM orders WHERE order_id = 'TM20240305001'") $(q "SELECT status, store, time FROM orders WHERE order_id = 'SH-1001'")"
check_eq "marketplace: an order record per row, provenance right (JD100200300 on line 4)" "order|orders.csv|4|JD100200300" \
    "$(q "SELECT r.kind, r.file, r.line, r.record_key FROM orders o JOIN records r ON r.id = o.record_id WHERE o.order_id = 'JD100200300'")"
check_eq "marketplace identifiers: marketplace_buyer and phone; traits: city" \
    '{"marketplace_buyer": "jd_王先生", "phone": "13700001111"} {"city": "深圳"}' \
    "$(jget "$(q "SELECT identifiers FROM records WHERE record_key = 'JD100200300'")" 'd') $(jget "$(q "SELECT traits FROM records WHERE record_key = 'JD100200300'")" 'd')"

# Service tickets: quoted bodies with commas, doubled quotes and newlines.
imp service tickets.mapping.json tickets.csv
check_eq "tickets import exits 0" 0 "$RC"
check_eq "tickets summary: read 5, loaded 5" "5 5 0 0 0" "$(sm "$OUT")"
check_eq "tickets: physical lines 2, 3, 5, 8, 9 (bodies of 2 and 3 lines before)" \
    "TK-1001:2 TK-1002:3 TK-1003:5 TK-1004:8 TK-1005:9" \
    "$(q "SELECT group_concat(record_key || ':' || line, ' ') FROM (SELECT * FROM records WHERE kind = 'ticket' ORDER BY record_key)")"
check_eq "tickets: a body with doubled quotes and two newlines is kept exactly" \
    '客户说："发票抬头写错了"
需要重开，
抬头：深圳某某科技有限公司' "$(jget "$(q "SELECT fields FROM records WHERE record_key = 'TK-1003'")" 'd["text"]')"
check_eq "tickets: subject with a comma, status, ticket_id as fields" '["Refund, partial", "closed", "TK-1005"]' \
    "$(jget "$(q "SELECT fields FROM records WHERE record_key = 'TK-1005'")" '[d["subject"], d["status"], d["ticket_id"]]')"
check_eq "tickets: created_at is the record's time (Z kept; no zone: the default +00:00)" \
    "$(ms 2024-03-05T08:00:00Z) $(ms 2024-03-05T10:15:00Z)" \
    "$(q "SELECT time FROM records WHERE record_key = 'TK-1001'") $(q "SELECT time FROM records WHERE record_key = 'TK-1002'")"
check_eq "tickets identifiers: phone and email" '{"email": "chen.jing@example.com", "phone": "13600002222"}' \
    "$(jget "$(q "SELECT identifiers FROM records WHERE record_key = 'TK-1004'")" 'd')"
check_eq "tickets make no orders" 0 "$(q "SELECT count(*) FROM orders o JOIN sources s ON s.id = o.source_id WHERE s.name = 'service'")"

# ---- a second import of the same files changes nothing ------------------------------

BEFORE=$(snapshot)
check_match "the snapshot counts records, orders, order lines and has a checksum ($BEFORE)" \
    '^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]* [0-9a-f]{32}$' "$BEFORE"
for spec in "pos pos.mapping.json pos.csv 8" "crm crm.mapping.json crm.csv 6" \
    "shop orders.mapping.json orders.csv 6" "service tickets.mapping.json tickets.csv 5"; do
    set -- $spec
    imp "$1" "$2" "$3"
    check_eq "second import of $3: exit 0, read $4, loaded 0, unchanged $4" "0 $4 0 $4 0 0" "$RC $(sm "$OUT")"
done
check_eq "second imports: table counts and checksum of records/orders/order_lines unchanged" "$BEFORE" "$(snapshot)"

# ---- corrected rows replace the old ones --------------------------------------------

# pos-fix.csv: a new order T0005 (2 lines), T0002/2 corrected (quantity 2, 19.80), a new
# line T0001/4 for an order already stored, T0001/1 as it was.
imp pos pos.mapping.json pos-fix.csv
check_eq "POS corrections: read 5, loaded 3, unchanged 1, replaced 1" "5 3 1 1 0" "$(sm "$OUT")"
check_eq "POS corrections: orders re-aggregated (T0001 +45.00 on 4 lines, T0002 21.00+19.80, new T0005)" \
    "T0001:136430:4 T0002:4080:2 T0003:4950:2 T0004:39900:1 T0005:3960:2" \
    "$(q "SELECT group_concat(order_id || ':' || amount_minor || ':' || lines, ' ') FROM
          (SELECT * FROM orders WHERE source_id = $POS ORDER BY order_id)")"
check_eq "POS corrections: T0002/2's line is replaced, not added (one line, quantity 2, 1980; 990 gone)" "1|2.0|1980|0" \
    "$(q "SELECT count(*), max(quantity), max(amount_minor), (SELECT count(*) FROM order_lines WHERE order_id = 'T0002' AND amount_minor = 990)
          FROM order_lines WHERE order_id = 'T0002' AND sku = 'SKU-4004'")"
check_eq "POS corrections: the replaced record now points at pos-fix.csv line 4; still one record for its key" "1|pos-fix.csv|4" \
    "$(q "SELECT count(*), file, line FROM records WHERE source_id = $POS AND record_key = 'T0002|2'")"
check_eq "POS corrections: the unchanged T0001/1 keeps its provenance (pos.csv line 2)" "pos.csv|2" \
    "$(q "SELECT file, line FROM records WHERE source_id = $POS AND record_key = 'T0001|1'")"

imp crm crm.mapping.json crm-fix.csv
check_eq "CRM corrections: read 3, loaded 1 (C007), unchanged 1 (C001), replaced 1 (C002)" "3 1 1 1 0" "$(sm "$OUT")"
check_eq "CRM C002 replaced: new city and email; the old ones are gone" \
    '广州 lina.new@example.cn 0' \
    "$(jget "$(q "SELECT traits FROM records WHERE record_key = 'C002'")" 'd["city"]') $(jget "$(q "SELECT identifiers FROM records WHERE record_key = 'C002'")" 'd["email"]') $(q "SELECT count(*) FROM records WHERE record_key = 'C002' AND (traits LIKE '%北京%' OR identifiers LIKE '%li.na@example.cn%')")"
check_eq "CRM: 7 contacts, one record per contact_id" "7 7" \
    "$(q "SELECT count(*), count(DISTINCT record_key) FROM records WHERE kind = 'contact'" | tr '|' ' ')"

imp shop orders.mapping.json orders-fix.csv
check_eq "marketplace corrections: read 2, unchanged 1, replaced 1" "2 0 1 1 0" "$(sm "$OUT")"
check_eq "marketplace: TM20240305002 now 已签收 at 108800; 已发货 and 8800 are gone" "1|已签收|108800|0" \
    "$(q "SELECT count(*), status, amount_minor, (SELECT count(*) FROM orders WHERE status = '已发货' OR amount_minor = 8800)
          FROM orders WHERE order_id = 'TM20240305002'")"

# A correction later in the same file, thousands of rows after the row it corrects:
# the import stores rows on another thread, so the earlier row's id comes from the
# store while the file is still being read. 6,000 lines of 3,000 orders, then three
# corrections (lines 2, 3000 and 5999 of the file).
"$PY" - "$WORK/big.csv" <<'PY'
import sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("小票号,行号,门店,交易时间,会员卡号,手机号,商品编码,品类,数量,单价,金额\n")
    rows = []
    for i in range(6000):
        o = i // 2
        rows.append(f"B{o:05d},{i % 2 + 1},上海店,2025/01/02 10:00:00,M{o:05d},,SKU-{i:05d},服饰,1,10.00,10.00")
    f.write("\n".join(rows) + "\n")
    for i in (0, 2998, 5997):
        o = i // 2
        f.write(f"B{o:05d},{i % 2 + 1},上海店,2025/01/02 10:00:00,M{o:05d},,SKU-{i:05d},服饰,3,10.00,30.00\n")
PY
sed 's/"encoding": "gbk"/"encoding": "utf-8"/' pos.mapping.json >"$WORK/big.mapping.json"
imp posbig "$WORK/big.mapping.json" "$WORK/big.csv"
check_eq "big file with late corrections: read 6003, loaded 6000, replaced 3" "6003 6000 0 3 0" "$(sm "$OUT")"
check_eq "the corrected lines are replaced in place (one record each, new line number, quantity 3)" \
    "B00000|1|6002|3.0 B01499|1|6003|3.0 B02998|2|6004|3.0" \
    "$(q "SELECT group_concat(r.record_key || '|' || r.line || '|' || l.quantity, ' ') FROM records r
          JOIN order_lines l ON l.record_id = r.id WHERE r.record_key IN ('B00000|1', 'B01499|1', 'B02998|2')
          ORDER BY r.record_key")"
check_eq "big file: 6000 records, 3000 orders summing every line (6000 lines, 60,060 yuan)" "6000 3000 6000 6006000" \
    "$(q "SELECT (SELECT count(*) FROM records WHERE record_key LIKE 'B%'), count(*), sum(lines), sum(amount_minor)
          FROM orders WHERE order_id LIKE 'B%'" | tr '|' ' ')"

# One order whose lines come in two files of one import.
imp pos pos.mapping.json pos-a.csv pos-b.csv
check_eq "two files in one import: read 2, loaded 2" "2 2 0 0 0" "$(sm "$OUT")"
check_eq "an order split over two files: T0006 = 3.50 + 88.00 on 2 lines" "9150|2" \
    "$(q "SELECT amount_minor, lines FROM orders WHERE source_id = $POS AND order_id = 'T0006'")"

# ---- bad rows and the reject file ---------------------------------------------------

# pos-bad.csv (UTF-8, the POS mapping with --encoding utf-8): a row spanning lines 2-3,
# then a bad time, a bad amount, an empty required column, an empty record key, a good
# row, a quote never closed (line 9; reading resumes on line 10), two good rows.
imp posbad pos.mapping.json --encoding utf-8 pos-bad.csv
check_eq "bad rows: the import goes on and exits 0" 0 "$RC"
check_eq "bad rows summary: read 9, loaded 4, rejected 5" "9 4 0 0 5" "$(sm "$OUT")"
check_eq "bad rows: the summary names the reject file beside the input" "pos-bad.csv.rejects.csv" "$(jget "$OUT" 'd["rejects_file"]')"
cat >"$WORK/want.rejects" <<'EOF'
file,line,record_key,column,reason
pos-bad.csv,4,B0001|2,交易时间,is not a time in a format of the mapping
pos-bad.csv,5,B0002|1,金额,is not an amount of money (at most two decimals)
pos-bad.csv,6,B0002|2,商品编码,is required and empty
pos-bad.csv,7,,,the record key is empty (or longer than 1024 bytes)
pos-bad.csv,9,,,a quoted field is not closed before the end of the file
EOF
if [ -f pos-bad.csv.rejects.csv ]; then cp pos-bad.csv.rejects.csv "$WORK/got.rejects"; else : >"$WORK/got.rejects"; fi
check_eq "reject file: $(wc -l <"$WORK/want.rejects") lines (header + 5 rows)" "$(wc -l <"$WORK/want.rejects")" "$(wc -l <"$WORK/got.rejects")"
for i in 1 2 3 4 5 6; do
    want=$(sed -n "${i}p" "$WORK/want.rejects")
    check_eq "reject file line $i: $want" "$want" "$(sed -n "${i}p" "$WORK/got.rejects")"
done
check_eq "bad rows: the good rows are stored, at their physical lines" "B0001|1:2 B0003|1:8 B0005|1:10 B0005|2:11" \
    "$(q "SELECT group_concat(record_key || ':' || line, ' ') FROM (SELECT r.* FROM records r JOIN sources s
          ON s.id = r.source_id WHERE s.name = 'posbad' ORDER BY r.id)")"
check_eq "bad rows: nothing of a rejected row is stored (no order B0002, B0004; no order line at 12.345)" "0 0" \
    "$(q "SELECT count(*) FROM orders WHERE order_id IN ('B0002', 'B0004')") $(q "SELECT count(*) FROM order_lines WHERE order_id IN ('B0002', 'B0004')")"
BEFORE=$(snapshot)
imp posbad pos.mapping.json --encoding utf-8 pos-bad.csv
check_eq "bad rows imported again: loaded 0, unchanged 4, rejected 5" "9 0 4 0 5" "$(sm "$OUT")"
check "bad rows imported again: the same reject file" cmp -s "$WORK/want.rejects" pos-bad.csv.rejects.csv
check_eq "bad rows imported again: the store is unchanged" "$BEFORE" "$(snapshot)"
imp posbad pos.mapping.json --encoding utf-8 --rejects "$WORK/elsewhere.csv" pos-bad.csv
check "--rejects FILE: the reject rows go there" cmp -s "$WORK/want.rejects" "$WORK/elsewhere.csv"

# A row cut short before a required column has no value in it: it must be rejected.
printf '%s\n%s\n' "$(head -n 1 "$DATA/pos.csv")" "S0001,1,上海南京路店,2024/03/10 10:25:00" >short.csv
imp posbad pos.mapping.json --encoding utf-8 short.csv
check_eq "a row cut short before its required column 商品编码 is rejected, not loaded" "1 0 0 0 1|0" \
    "$(sm "$OUT")|$(q "SELECT count(*) FROM records WHERE record_key = 'S0001|1'")"
check_match "the short row is in short.csv.rejects.csv at line 2" '^short\.csv,2,' \
    "$(sed -n 2p short.csv.rejects.csv 2>/dev/null)"

# ---- --encoding ---------------------------------------------------------------------

sed 's/"encoding": "gbk"/"encoding": "utf-8"/' pos.mapping.json >pos-utf8.mapping.json
check "the utf-8 copy of the POS mapping says utf-8" grep -q '"encoding": "utf-8"' pos-utf8.mapping.json
"$CUSTOS" import --source pos2 --mapping pos-utf8.mapping.json pos.csv >/dev/null 2>"$WORK/enc.err"
check_eq "a GBK file read as UTF-8 fails: exit 1" 1 $?
check_match "... naming the key column it cannot find in the header" '小票号' "$(cat "$WORK/enc.err")"
imp pos2 pos-utf8.mapping.json --encoding gbk pos.csv
check_eq "--encoding gbk overrides the mapping's utf-8: read 8, loaded 8" "0 8 8 0 0 0" "$RC $(sm "$OUT")"
check_eq "--encoding gbk: the same orders as the GBK mapping gave" \
    "T0001:131930:3:上海南京路店 T0002:3090:2:北京三里屯店 T0003:4950:2:广州天河店 T0004:39900:1:深圳万象城店" \
    "$(q "SELECT group_concat(order_id || ':' || amount_minor || ':' || lines || ':' || store, ' ') FROM
          (SELECT o.* FROM orders o JOIN sources s ON s.id = o.source_id WHERE s.name = 'pos2' ORDER BY order_id)")"
"$CUSTOS" import --source pos2 --mapping pos-utf8.mapping.json --encoding latin1 pos.csv >/dev/null 2>&1
check_eq "--encoding latin1 is a usage error (exit 2)" 2 $?

# ---- JSON Lines of Segment messages -------------------------------------------------

# events.jsonl: 3 good messages, an empty line 4, not JSON on line 5, a track without
# an event on line 6 (quarantined), a good one on line 7.
imp web events.mapping.json events.jsonl
check_eq "JSON Lines import exits 0" 0 "$RC"
check_eq "JSON Lines summary: read 6, loaded 4, rejected 2" "6 4 0 0 2" "$(sm "$OUT")"
check_eq "JSON Lines reject file: header, the line that is not JSON, the track without an event" \
    "file,line,record_key,column,reason|events.jsonl,5,,,not valid JSON|events.jsonl,6,seg-4,event," \
    "$(sed -n '1,2p' events.jsonl.rejects.csv 2>/dev/null | tr '\n' '|')$(sed -n 3p events.jsonl.rejects.csv 2>/dev/null | cut -d, -f1-4),"
check_eq "JSON Lines: the reject file has 3 lines" 3 "$(wc -l <events.jsonl.rejects.csv 2>/dev/null)"
EV=$("$CUSTOS" events --source web --json 2>>"$WORK/cli.err")
check_eq "events --json shows the 4 messages with source web" "seg-1:identify:web seg-2:track:web seg-3:page:web seg-5:track:web" \
    "$(printf '%s\n' "$EV" | "$PY" -c 'import json, sys
print(" ".join("%s:%s:%s" % (e["messageId"], e["type"], e["source"]) for e in map(json.loads, filter(str.strip, sys.stdin))))')"
check_eq "events --json: the page name and the track event as sent" "首页|Order Completed" \
    "$(printf '%s\n' "$EV" | "$PY" -c 'import json, sys
E = {e["messageId"]: e for e in map(json.loads, filter(str.strip, sys.stdin))}
print(E["seg-3"]["name"] + "|" + E["seg-5"]["event"])' 2>&1)"
EVN=$(q "SELECT count(*) FROM events")
imp web events.mapping.json events.jsonl
check_eq "JSON Lines imported again: exit 0, read 6, loaded 0" "0 6 0" "$RC $(jget "$OUT" '"%d %d" % (d["read"], d["loaded"])')"
check "JSON Lines imported again: the 4 events (at least) are unchanged ($(sm "$OUT"))" \
    [ "$(jget "$OUT" 'str(d["unchanged"] >= 4 and d["unchanged"] + d["rejected"] == 6)')" = True ]
check_eq "JSON Lines imported again: the events table is unchanged" "$EVN" "$(q "SELECT count(*) FROM events")"
check_eq "JSON Lines imported again: the invalid line is in the reject file again" "events.jsonl,5,,,not valid JSON" \
    "$(grep -F 'not valid JSON' events.jsonl.rejects.csv 2>/dev/null)"

# ---- bad usage ----------------------------------------------------------------------

"$CUSTOS" import --mapping crm.mapping.json crm.csv >/dev/null 2>"$WORK/u.err"
check_eq "import without --source: exit 2" 2 $?
check_match "... saying what is missing" 'source' "$(cat "$WORK/u.err")"
"$CUSTOS" import --source crm crm.csv >/dev/null 2>"$WORK/u.err"
check_eq "import without --mapping: exit 2" 2 $?
"$CUSTOS" import --source crm --mapping crm.mapping.json >/dev/null 2>"$WORK/u.err"
check_eq "import without a FILE: exit 2" 2 $?
BEFORE=$(snapshot)
"$CUSTOS" import --source nosuch --mapping crm.mapping.json crm-fix.csv >/dev/null 2>"$WORK/u.err"
check_eq "import to an unknown source: exit 1" 1 $?
check_match "... with a message naming it" 'no source named "nosuch"' "$(cat "$WORK/u.err")"
printf '{"kind": "contact", "record_key": "contact_id", "colums": {}}\n' >typo.mapping.json
"$CUSTOS" import --source crm --mapping typo.mapping.json crm-fix.csv >/dev/null 2>"$WORK/u.err"
check_eq "a mapping with an unknown key: exit 1" 1 $?
check_match "... naming the key" 'unknown key "colums"' "$(cat "$WORK/u.err")"
printf 'id,name,email\nC900,Nobody,nobody@example.com\n' >nokey.csv
"$CUSTOS" import --source crm --mapping crm.mapping.json nokey.csv >/dev/null 2>"$WORK/u.err"
check_eq "a CSV whose header lacks the record_key column: exit 1" 1 $?
check_match "... naming the column" '"contact_id"' "$(cat "$WORK/u.err")"
check_eq "the failed imports stored nothing" "$BEFORE" "$(snapshot)"

# ---- progress -----------------------------------------------------------------------

"$CUSTOS" import --source crm --mapping crm.mapping.json crm-fix.csv >"$WORK/p.out" 2>"$WORK/p.err"
check_eq "a run with stderr redirected: exit 0" 0 $?
check "... its stderr has no progress line (no \"rows/s\")" bash -c "! grep -q 'rows/s' '$WORK/p.err'"
check_match "... its stdout has the summary" '^read 3, loaded 0, unchanged 3, replaced 0, rejected 0 in ' "$(cat "$WORK/p.out")"
if command -v script >/dev/null 2>&1; then
    script -qc "'$CUSTOS' import --source crm --mapping crm.mapping.json crm-fix.csv" /dev/null \
        </dev/null >"$WORK/tty.out" 2>&1
    check_match "stdout and stderr on a terminal (script -qc): a progress line with rows/s" 'crm-fix\.csv: 3 rows, [0-9]+ rows/s' \
        "$(tr '\r' '\n' <"$WORK/tty.out")"
    script -qc "'$CUSTOS' import --source crm --mapping crm.mapping.json crm-fix.csv | cat >/dev/null" /dev/null \
        </dev/null >"$WORK/tty.out" 2>&1
    check "stderr on a terminal but stdout into a pipe: no progress line" bash -c "! grep -q 'crm-fix.csv: 3 rows' '$WORK/tty.out'"
    script -qc "'$CUSTOS' import --quiet --source crm --mapping crm.mapping.json crm-fix.csv" /dev/null \
        </dev/null >"$WORK/tty.out" 2>&1
    check "on a terminal with --quiet: no progress line" bash -c "! grep -q 'crm-fix.csv: 3 rows' '$WORK/tty.out'"
else
    ok "# SKIP script(1) is not installed: progress on a terminal not checked"
fi

check "no sanitizer report in the imports' stderr" \
    bash -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$WORK/import.err' '$WORK/cli.err'"
finish
