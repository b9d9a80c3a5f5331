#!/usr/bin/env python3
"""sqlite_bench.py - the SQLite peer of bench/analytics: loads orders.csv and
events.csv with the sqlite3 shell's .import into a database file, adds the indexes
the queries need (not timed), then times the same four analyses as custos_bench.c
(RFM, monthly KPI trend, 4-step funnel, monthly cohort matrix) with Python's sqlite3
module on a warm page cache, once each (they are slow), and prints one JSON object of
the same shape. The SQL is duckdb_bench.mjs's in SQLite's dialect.

usage: sqlite_bench.py DATADIR DBFILE"""
import json
import os
import sqlite3
import subprocess
import sys
import time

AS_OF = 1767225600000  # 2026-01-01T00:00:00Z
FROM = AS_OF - 365 * 86400000
W = 7 * 86400000
GRID = [
    (5, ["New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"]),
    (4, ["Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Loyal"]),
    (3, ["About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"]),
    (2, ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"]),
    (1, ["Lost", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"]),
]
GRID_VALUES = ", ".join(
    "(%d, %d, '%s')" % (r, i + 1, seg.replace("'", "''")) for r, fs in GRID for i, seg in enumerate(fs)
)

RFM = f"""
WITH w AS (SELECT p, max(t) AS last, count(*) AS f, sum(amount) AS m FROM orders
           WHERE t >= {FROM} AND t < {AS_OF} GROUP BY p),
s AS (SELECT p, ({AS_OF} - last) / 86400000 AS rd, f, m FROM w),
n AS (SELECT count(*) AS n FROM s),
sc AS (SELECT p, m, 1 + 5 * (rank() OVER (ORDER BY rd DESC) - 1) / n AS r,
              1 + 5 * (rank() OVER (ORDER BY f) - 1) / n AS fs,
              1 + 5 * (rank() OVER (ORDER BY m) - 1) / n AS ms FROM s, n),
g(r, f, seg) AS (VALUES {GRID_VALUES}),
segs AS (SELECT g.seg, count(sc.p) AS c, coalesce(sum(sc.m), 0) AS rev FROM g
         LEFT JOIN sc ON sc.r = g.r AND sc.fs = g.f GROUP BY g.seg)
SELECT 'seg' AS kind, seg, c, rev, NULL AS x FROM segs
UNION ALL SELECT 'sums', NULL, sum(r), sum(fs), sum(ms) FROM sc"""


def month(t):
    return f"strftime('%Y-%m', {t} / 1000, 'unixepoch')"


KPI = f"""
WITH pm AS (SELECT p, {month('t')} AS mo, count(*) AS c, sum(amount) AS s FROM orders GROUP BY p, mo),
om AS (SELECT mo, sum(c) AS orders, sum(s) AS revenue, count(*) AS buyers,
              sum(c >= 2) AS rep FROM pm GROUP BY mo),
nb AS (SELECT {month('ft')} AS mo, count(*) AS new_buyers FROM
       (SELECT p, min(t) AS ft FROM orders GROUP BY p) GROUP BY mo),
act AS (SELECT mo, count(*) AS active FROM (SELECT DISTINCT p, mo FROM
        (SELECT p, {month('t')} AS mo FROM orders UNION ALL SELECT p, {month('t')} FROM events))
        GROUP BY mo)
SELECT act.mo, coalesce(orders, 0), coalesce(revenue, 0), coalesce(buyers, 0),
       coalesce(new_buyers, 0), coalesce(rep, 0), active
FROM act LEFT JOIN om ON om.mo = act.mo LEFT JOIN nb ON nb.mo = act.mo ORDER BY act.mo"""

FUNNEL = f"""
WITH s1 AS (SELECT p, min(t) AS t1 FROM events WHERE name = 'Product Viewed' GROUP BY p),
s2 AS (SELECT s1.p, s1.t1, min(e.t) AS t FROM s1 JOIN events e ON e.p = s1.p
       AND e.name = 'Product Added' AND e.category = 'baby' AND e.t > s1.t1
       AND e.t <= s1.t1 + {W} GROUP BY s1.p, s1.t1),
s3 AS (SELECT s2.p, s2.t1, min(e.t) AS t FROM s2 JOIN events e ON e.p = s2.p
       AND e.name = 'Checkout Started' AND e.t > s2.t AND e.t <= s2.t1 + {W} GROUP BY s2.p, s2.t1),
s4 AS (SELECT s3.p, s3.t1, min(e.t) AS t FROM s3 JOIN events e ON e.p = s3.p
       AND e.name = 'Order Completed' AND e.t > s3.t AND e.t <= s3.t1 + {W} GROUP BY s3.p, s3.t1),
d AS (SELECT 2 AS k, t - t1 AS d FROM s2 UNION ALL SELECT 3, t - t1 FROM s3
      UNION ALL SELECT 4, t - t1 FROM s4),
med AS (SELECT k, d FROM (SELECT k, d, row_number() OVER (PARTITION BY k ORDER BY d) AS rn,
        count(*) OVER (PARTITION BY k) AS n FROM d) WHERE rn = (n - 1) / 2 + 1)
SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3),
       (SELECT count(*) FROM s4), (SELECT d FROM med WHERE k = 2), (SELECT d FROM med WHERE k = 3),
       (SELECT d FROM med WHERE k = 4)"""


def mnum(t):
    return (f"(CAST(strftime('%Y', {t} / 1000, 'unixepoch') AS INTEGER) * 12 + "
            f"CAST(strftime('%m', {t} / 1000, 'unixepoch') AS INTEGER))")


COHORT = f"""
WITH f AS (SELECT p, min(t) AS ft FROM orders GROUP BY p)
SELECT {month('f.ft')} AS c, {mnum('o.t')} - {mnum('f.ft')} AS off, count(DISTINCT o.p),
       sum(o.amount)
FROM orders o JOIN f ON f.p = o.p GROUP BY c, off ORDER BY c, off"""


def load(data, db):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    script = f"""
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE orders (p INTEGER, t INTEGER, amount INTEGER, channel TEXT);
CREATE TABLE events (p INTEGER, t INTEGER, name TEXT, category TEXT);
.import --csv --skip 1 {data}/orders.csv orders
.import --csv --skip 1 {data}/events.csv events
CREATE INDEX orders_p ON orders(p, t, amount);
CREATE INDEX events_name ON events(name, p, t);
CREATE INDEX events_p ON events(p, t);
ANALYZE;
"""
    subprocess.run(["sqlite3", db], input=script, text=True, check=True, stdout=subprocess.DEVNULL)


def main():
    data, db = sys.argv[1], sys.argv[2]
    t0 = time.monotonic()
    load(data, db)
    load_s = time.monotonic() - t0
    con = sqlite3.connect(db)
    con.execute("PRAGMA cache_size = -8000000")  # 8 GB: everything stays in memory
    con.execute("PRAGMA mmap_size = 17179869184")
    con.execute("PRAGMA temp_store = MEMORY")
    con.execute("SELECT count(*), max(t), sum(amount) FROM orders").fetchall()  # warm the cache
    con.execute("SELECT count(*), max(t), max(name) FROM events").fetchall()
    times, rows = {}, {}
    for name, sql in (("rfm", RFM), ("kpi", KPI), ("funnel", FUNNEL), ("cohort", COHORT)):
        t0 = time.monotonic()
        rows[name] = con.execute(sql).fetchall()
        times[name] = time.monotonic() - t0
        print(f"sqlite: {name} {times[name]:.2f} s", file=sys.stderr)
    segs = [[r[1], r[2], r[3]] for r in rows["rfm"] if r[0] == "seg"]
    sums = [r for r in rows["rfm"] if r[0] == "sums"][0]
    f = list(rows["funnel"][0])
    results = {
        "rfm": {"segments": segs, "score_sums": [sums[2], sums[3], sums[4]],
                "customers": sum(s[1] for s in segs)},
        "kpi": [list(r) for r in rows["kpi"]],
        "funnel": {"counts": f[:4], "median_ms": f[4:]},
        "cohort": [list(r) for r in rows["cohort"]],
    }
    print(json.dumps({"engine": "sqlite", "load_seconds": load_s, "times": times,
                      "results": results}))


if __name__ == "__main__":
    main()
