#!/usr/bin/env bash
# Analytics: every analysis of custos analyze on a demo world equals the same
# definition (docs/analytics.md) written in SQL and run by the sqlite3 shell on the
# same database; plus output formats and usage errors.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v sqlite3 >/dev/null || { echo "1..0 # SKIP no sqlite3 shell"; exit 0; }

"$CUSTOS" demo --customers 300 --out "$WORK/demo" --load >/dev/null 2>&1
check "the demo world resolves" "$CUSTOS" resolve --quiet
DB=$CUSTOS_DB

# The views every query below reads: orders and events with their profile.
VIEWS="
CREATE TEMP VIEW o AS SELECT pm.profile_id AS p, o.time AS t, coalesce(o.amount_minor, 0) AS amount,
  coalesce(o.channel, '') AS channel FROM orders o JOIN profile_members pm ON pm.kind = 1 AND
  pm.row_id = o.record_id WHERE o.time IS NOT NULL;
CREATE TEMP VIEW ev AS SELECT pm.profile_id AS p, e.id, e.timestamp AS t, CASE WHEN e.type = 'track'
  THEN e.event ELSE e.type END AS name, s.name AS src, e.raw AS raw FROM events e JOIN profile_members pm ON
  pm.kind = 0 AND pm.row_id = e.id JOIN sources s ON s.id = e.source_id;"
sql() { sqlite3 -json "$DB" "$VIEWS $1"; }
# same NAME CUSTOS_JSON SQL_JSON PYTHON: PYTHON turns (c, s) into two comparable values.
same() {
    local out
    out=$(C="$2" S="$3" "$PY" -c "
import json, os
c = json.loads(os.environ['C'] or 'null'); s = json.loads(os.environ['S'] or '[]')
$4
print('same' if a == b else 'DIFFER\ncustos: %s\nsqlite: %s' % (str(a)[:700], str(b)[:700]))
" 2>&1)
    if [ "$out" = same ]; then ok "$1"; else not_ok "$1" "$(printf '%s' "$out" | tr '\n' ' ')"; fi
}

ASOF=1767225600000 # 2026-01-01
# ---- RFM ----
C=$("$CUSTOS" analyze rfm --as-of 2026-01-01 --window 365 --profiles --json)
S=$(sql "
WITH w AS (SELECT p, max(t) AS last, count(*) AS f, sum(amount) AS m FROM o
           WHERE t >= $ASOF - 365 * 86400000 AND t < $ASOF GROUP BY p),
s AS (SELECT p, ($ASOF - last) / 86400000 AS rd, f, m FROM w), n AS (SELECT count(*) AS n FROM s)
SELECT p, rd, f, m, 1 + 5 * (rank() OVER (ORDER BY rd DESC) - 1) / n AS r,
       1 + 5 * (rank() OVER (ORDER BY f) - 1) / n AS fs, 1 + 5 * (rank() OVER (ORDER BY m) - 1) / n AS ms
FROM s, n ORDER BY p")
same "rfm: every profile's recency, frequency, monetary and R, F, M scores equal SQL's" "$C" "$S" "
a = sorted((r['profile'], r['recency_days'], r['frequency'], r['monetary_minor'], r['r'], r['f'], r['m']) for r in c['rows'])
b = sorted((r['p'], r['rd'], r['f'], r['m'], r['r'], r['fs'], r['ms']) for r in s)
assert len(a) > 50, len(a)"
GRID="(5,1,'New'),(5,2,'Potential Loyalist'),(5,3,'Potential Loyalist'),(5,4,'Champions'),(5,5,'Champions'),
(4,1,'Promising'),(4,2,'Potential Loyalist'),(4,3,'Potential Loyalist'),(4,4,'Loyal'),(4,5,'Loyal'),
(3,1,'About to Sleep'),(3,2,'About to Sleep'),(3,3,'Need Attention'),(3,4,'Loyal'),(3,5,'Loyal'),
(2,1,'Hibernating'),(2,2,'Hibernating'),(2,3,'At Risk'),(2,4,'At Risk'),(2,5,'Can''t Lose Them'),
(1,1,'Lost'),(1,2,'Hibernating'),(1,3,'At Risk'),(1,4,'At Risk'),(1,5,'Can''t Lose Them')"
C=$("$CUSTOS" analyze rfm --as-of 2026-01-01 --window 365 --json)
S=$(sql "
WITH w AS (SELECT p, max(t) AS last, count(*) AS f, sum(amount) AS m FROM o
           WHERE t >= $ASOF - 365 * 86400000 AND t < $ASOF GROUP BY p),
s AS (SELECT p, ($ASOF - last) / 86400000 AS rd, f, m FROM w), n AS (SELECT count(*) AS n FROM s),
sc AS (SELECT p, m, 1 + 5 * (rank() OVER (ORDER BY rd DESC) - 1) / n AS r,
       1 + 5 * (rank() OVER (ORDER BY f) - 1) / n AS fs FROM s, n),
g(r, f, seg) AS (VALUES $GRID)
SELECT g.seg, count(sc.p) AS c, coalesce(sum(sc.m), 0) AS rev FROM g LEFT JOIN sc ON sc.r = g.r
AND sc.fs = g.f GROUP BY g.seg")
same "rfm: segment sizes and revenue equal SQL's" "$C" "$S" "
a = sorted((r['segment'], r['customers'], r['revenue_minor']) for r in c['rows'])
b = sorted((r['seg'], r['c'], r['rev']) for r in s)"

# RFM kept as computed traits on the profile
"$CUSTOS" analyze rfm --as-of 2026-01-01 --window 365 --save >/dev/null 2>&1
C=$("$CUSTOS" analyze rfm --as-of 2026-01-01 --window 365 --profiles --json)
S=$(sqlite3 -json "$DB" "SELECT profile_id, name, value FROM computed_traits WHERE name LIKE 'rfm_%'")
same "rfm --save keeps every scored profile's segment and scores as computed traits" "$C" "$S" "
a = sorted((r['profile'], r['segment'], str(r['r']), r['rfm']) for r in c['rows'])
t = {}
for r in s: t.setdefault(r['profile_id'], {})[r['name']] = r['value']
b = sorted((p, v['rfm_segment'], v['rfm_r'], v['rfm_score']) for p, v in t.items())"

# ---- KPI, monthly ----
M="strftime('%Y-%m', t / 1000, 'unixepoch')"
C=$("$CUSTOS" analyze kpi --period month --json)
S=$(sql "
WITH pm AS (SELECT p, $M AS mo, count(*) AS c, sum(amount) AS s FROM o GROUP BY p, mo),
om AS (SELECT mo, sum(c) AS orders, sum(s) AS revenue, count(*) AS buyers, sum(c >= 2) AS rep FROM pm GROUP BY mo),
nb AS (SELECT strftime('%Y-%m', ft / 1000, 'unixepoch') AS mo, count(*) AS nb FROM (SELECT p, min(t) AS ft FROM o GROUP BY p) GROUP BY mo),
rows AS (SELECT p, t FROM o UNION ALL SELECT p, t FROM ev),
act AS (SELECT mo, count(*) AS active FROM (SELECT DISTINCT p, $M AS mo FROM rows) GROUP BY mo),
fs AS (SELECT strftime('%Y-%m', min(t) / 1000, 'unixepoch') AS mo FROM rows GROUP BY p)
SELECT act.mo, coalesce(orders, 0) AS orders, coalesce(revenue, 0) AS revenue, coalesce(buyers, 0) AS buyers,
  coalesce(nb, 0) AS nb, coalesce(rep, 0) AS rep, active, (SELECT count(*) FROM fs WHERE fs.mo <= act.mo) AS customers
FROM act LEFT JOIN om ON om.mo = act.mo LEFT JOIN nb ON nb.mo = act.mo ORDER BY act.mo")
same "kpi: every month's customers, active, buyers, new, orders, revenue, repurchase equal SQL's" "$C" "$S" "
a = [(r['period'], r['customers'], r['active'], r['buyers'], r['new_buyers'], r['orders'], r['revenue_minor'], r['repurchase_pct']) for r in c['rows']]
b = [(r['mo'], r['customers'], r['active'], r['buyers'], r['nb'], r['orders'], r['revenue'], round(100.0 * r['rep'] / r['buyers'], 2) if r['buyers'] else None) for r in s]
assert len(a) >= 20, len(a)"
same "kpi: revenue change from the month before is computed from the same figures" "$C" "$S" "
a = [r['revenue_change_pct'] for r in c['rows']][1:]
b = [round(100.0 * (s[i]['revenue'] - s[i-1]['revenue']) / s[i-1]['revenue'], 2) if s[i-1]['revenue'] else None for i in range(1, len(s))]"
C=$("$CUSTOS" analyze kpi --period quarter --by channel --json)
S=$(sql "SELECT CAST(strftime('%Y', t / 1000, 'unixepoch') AS INT) || '-Q' ||
  ((CAST(strftime('%m', t / 1000, 'unixepoch') AS INT) + 2) / 3) AS q, channel, count(*) AS orders,
  sum(amount) AS revenue, count(DISTINCT p) AS buyers FROM o GROUP BY q, channel")
same "kpi --period quarter --by channel: orders, revenue and buyers per cell equal SQL's" "$C" "$S" "
a = sorted((r['period'], r['by'], r['orders'], r['revenue_minor'], r['buyers']) for r in c['rows'])
b = sorted((r['q'], r['channel'], r['orders'], r['revenue'], r['buyers']) for r in s)"

# ---- Funnel ----
W=$((7 * 86400000))
funnel_sql() { # $1: extra condition on step 1, $2 on step 2 (on e)
    sql "
WITH s1 AS (SELECT p, min(t) AS t1 FROM ev WHERE name = 'Product Viewed' $1 GROUP BY p),
s2 AS (SELECT s1.p, s1.t1, min(e.t) AS t FROM s1 JOIN ev e ON e.p = s1.p AND e.name = 'Product Added'
       AND e.t > s1.t1 AND e.t <= s1.t1 + $W ${2:-} GROUP BY s1.p, s1.t1),
s3 AS (SELECT s2.p, s2.t1, min(e.t) AS t FROM s2 JOIN ev e ON e.p = s2.p AND e.name = 'Checkout Started'
       AND e.t > s2.t AND e.t <= s2.t1 + $W GROUP BY s2.p, s2.t1),
s4 AS (SELECT s3.p, s3.t1, min(e.t) AS t FROM s3 JOIN ev e ON e.p = s3.p AND e.name = 'Order Completed'
       AND e.t > s3.t AND e.t <= s3.t1 + $W GROUP BY s3.p, s3.t1),
d AS (SELECT 1 AS k, 0 AS d FROM s1 UNION ALL SELECT 2, t - t1 FROM s2 UNION ALL SELECT 3, t - t1 FROM s3
      UNION ALL SELECT 4, t - t1 FROM s4)
SELECT k, n, d / 1000 AS med FROM (SELECT k, d, row_number() OVER (PARTITION BY k ORDER BY d) AS rn,
  count(*) OVER (PARTITION BY k) AS n FROM d) WHERE rn = (n - 1) / 2 + 1 ORDER BY k"
}
C=$("$CUSTOS" analyze funnel 'Product Viewed' 'Product Added' 'Checkout Started' 'Order Completed' --json)
S=$(funnel_sql "")
same "funnel: customers and median seconds at every step equal SQL's" "$C" "$S" "
a = [(r['step'], r['customers'], r['median_seconds']) for r in c['rows']]
b = [(r['k'], r['n'], r['med']) for r in s]
assert len(a) == 4 and a[3][1] > 0, a"
C=$("$CUSTOS" analyze funnel 'Product Viewed[source=app]' 'Product Added' 'Checkout Started' 'Order Completed' --json)
S=$(sql "
WITH s1 AS (SELECT p, min(t) AS t1 FROM ev WHERE name = 'Product Viewed' AND src = 'app' GROUP BY p),
s2 AS (SELECT s1.p, s1.t1, min(e.t) AS t FROM s1 JOIN ev e ON e.p = s1.p AND e.name = 'Product Added'
       AND e.t > s1.t1 AND e.t <= s1.t1 + $W GROUP BY s1.p, s1.t1)
SELECT (SELECT count(*) FROM s1) AS n1, (SELECT count(*) FROM s2) AS n2")
same "funnel: a step filtered on its source equals SQL's" "$C" "$S" "
a = [r['customers'] for r in c['rows']][:2]
b = [s[0]['n1'], s[0]['n2']]
assert a[0] > 0"

# Filters on any property of the events (properties.KEY or KEY), several per step
P="json_extract(raw, '\$.properties"
C=$("$CUSTOS" analyze funnel 'Product Viewed[category=食品]' 'Product Added' 'Checkout Started' 'Order Completed' --json)
S=$(funnel_sql "AND $P.category') = '食品'")
same "funnel: step 1 filtered on properties.category equals SQL's (counts and medians)" "$C" "$S" "
a = [(r['step'], r['customers'], r['median_seconds']) for r in c['rows']]
b = [(r['k'], r['n'], r['med']) for r in s]
assert len(a) == 4 and a[1][1] > 0, a"
C=$("$CUSTOS" analyze funnel 'Product Viewed[source=app]' 'Product Added[properties.category=母婴,quantity=1]' 'Checkout Started' 'Order Completed' --json)
S=$(funnel_sql "AND src = 'app'" "AND json_extract(e.raw, '\$.properties.category') = '母婴' AND json_extract(e.raw, '\$.properties.quantity') = 1")
same "funnel: step 2 with two property filters (category, a number) equals SQL's" "$C" "$S" "
a = [(r['step'], r['customers'], r['median_seconds']) for r in c['rows']]
b = [(r['k'], r['n'], r['med']) for r in s]
assert len(a) == 4 and a[1][1] > 0, a"
PRICE=$(sqlite3 "$DB" "SELECT json_extract(raw, '\$.properties.price') FROM events WHERE event = 'Product Viewed' AND json_type(raw, '\$.properties.price') IN ('integer', 'real') LIMIT 1")
C=$("$CUSTOS" analyze funnel "Product Viewed[price=$PRICE]" 'Product Added' --json)
S=$(funnel_sql "AND $P.price') = $PRICE")
same "funnel: a filter on a number property ($PRICE) equals SQL's" "$C" "$S" "
a = [(r['step'], r['customers']) for r in c['rows']]
b = [(r['k'], r['n']) for r in s][:2]
assert a[0][1] > 0, a"
C=$("$CUSTOS" analyze funnel 'Product Viewed' 'Product Added' 'Checkout Started' 'Order Completed' --by category --json)
S=$(sql "
WITH s1 AS (SELECT p, min(t) AS t1 FROM ev WHERE name = 'Product Viewed' GROUP BY p),
g AS (SELECT s1.p, s1.t1, coalesce((SELECT CAST($P.category') AS TEXT) FROM ev e WHERE e.p = s1.p AND
      e.name = 'Product Viewed' AND e.t = s1.t1 ORDER BY e.id LIMIT 1), '') AS cat FROM s1),
s2 AS (SELECT g.p, g.t1, g.cat, min(e.t) AS t FROM g JOIN ev e ON e.p = g.p AND e.name = 'Product Added'
       AND e.t > g.t1 AND e.t <= g.t1 + $W GROUP BY g.p, g.t1),
s3 AS (SELECT s2.p, s2.t1, s2.cat, min(e.t) AS t FROM s2 JOIN ev e ON e.p = s2.p AND e.name = 'Checkout Started'
       AND e.t > s2.t AND e.t <= s2.t1 + $W GROUP BY s2.p, s2.t1),
s4 AS (SELECT s3.p, s3.t1, s3.cat, min(e.t) AS t FROM s3 JOIN ev e ON e.p = s3.p AND e.name = 'Order Completed'
       AND e.t > s3.t AND e.t <= s3.t1 + $W GROUP BY s3.p, s3.t1)
SELECT cat, 1 AS k, count(*) AS n FROM g GROUP BY cat UNION ALL SELECT cat, 2, count(*) FROM s2 GROUP BY cat
UNION ALL SELECT cat, 3, count(*) FROM s3 GROUP BY cat UNION ALL SELECT cat, 4, count(*) FROM s4 GROUP BY cat")
same "funnel --by category (a property of step 1): every group's step counts equal SQL's" "$C" "$S" "
a = sorted((r['breakdown'], r['step'], r['customers']) for r in c['rows'] if r['breakdown'] != '(all)' and r['customers'])
b = sorted((r['cat'], r['k'], r['n']) for r in s)
assert c['breakdown'] == 'properties.category' and len(set(x[0] for x in a)) > 2, a"

# ---- Cohort, monthly by first order ----
MN="(CAST(strftime('%Y', X / 1000, 'unixepoch') AS INT) * 12 + CAST(strftime('%m', X / 1000, 'unixepoch') AS INT))"
C=$("$CUSTOS" analyze cohort --json)
S=$(sql "WITH f AS (SELECT p, min(t) AS ft FROM o GROUP BY p)
SELECT strftime('%Y-%m', f.ft / 1000, 'unixepoch') AS c, ${MN//X/o.t} - ${MN//X/f.ft} AS off,
  count(DISTINCT o.p) AS n, sum(o.amount) AS rev FROM o JOIN f ON f.p = o.p GROUP BY c, off")
same "cohort: every cell's customers and revenue equal SQL's" "$C" "$S" "
a = sorted((r['cohort'], k, n, r['revenue_minor'][k]) for r in c['rows'] for k, n in enumerate(r['customers']) if n)
b = sorted((r['c'], r['off'], r['n'], r['rev']) for r in s)
assert len(a) > 100, len(a)"

# ---- Paths ----
C=$("$CUSTOS" analyze paths --from 'Product Viewed' --depth 2 --limit 0 --json)
S=$(sql "WITH r AS (SELECT p, name, row_number() OVER (PARTITION BY p ORDER BY t, id) AS rn FROM ev),
f AS (SELECT p, min(rn) AS rn FROM r WHERE name = 'Product Viewed' GROUP BY p),
x AS (SELECT f.p, (SELECT group_concat(name, ' > ') FROM (SELECT name FROM r WHERE r.p = f.p AND
  r.rn BETWEEN f.rn AND f.rn + 2 ORDER BY r.rn)) AS path FROM f)
SELECT path, count(*) AS n FROM x GROUP BY path")
same "paths: every path from Product Viewed and its count equal SQL's" "$C" "$S" "
a = sorted((r['path'], r['customers']) for r in c['rows'])
b = sorted((r['path'], r['n']) for r in s)
assert len(a) > 3"

# ---- Formats and errors ----
OUT=$("$CUSTOS" analyze rfm --csv 2>/dev/null)
check_eq "rfm --csv has a header and the 11 segments" "12 segment,customers,customers_pct,revenue_minor,revenue_pct" \
    "$(printf '%s\n' "$OUT" | wc -l) $(printf '%s\n' "$OUT" | head -n 1)"
OUT=$("$CUSTOS" analyze kpi --period week)
check_match "kpi prints a table for people" '^period +customers +active' "$OUT"
"$CUSTOS" analyze kpi --period year 2>"$WORK/err"
check_eq "a bad --period is a usage error" 2 $?
check_match "... naming what it accepts" 'day, week, month or quarter' "$(cat "$WORK/err")"
"$CUSTOS" analyze funnel 'Product Viewed' 2>"$WORK/err"
check_eq "a funnel of one step is a usage error" 2 $?
"$CUSTOS" analyze funnel 'Product Viewed[city]' 'Order Completed' 2>"$WORK/err"
check_match "a bad step filter names the step" 'step 1: .*PROPERTY=VALUE' "$(cat "$WORK/err")"
"$CUSTOS" analyze rfm --as-of yesterday 2>"$WORK/err"
check_eq "a bad --as-of is a usage error" 2 $?
"$CUSTOS" analyze nothing 2>"$WORK/err"
check_eq "an unknown analysis is a usage error" 2 $?
check_match "analyze --help teaches the segments" 'Champions' "$("$CUSTOS" analyze --help)"
finish
