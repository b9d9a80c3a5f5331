// duckdb_bench.mjs - the DuckDB peer of bench/analytics: loads orders.csv and
// events.csv into in-memory tables, then times the same four analyses as
// custos_bench.c (RFM, monthly KPI trend, 4-step funnel, monthly cohort matrix),
// RUNS times each (the best is reported), and prints one JSON object of the same
// shape. The definitions are those of docs/analytics.md, written in SQL.
//
// usage: node duckdb_bench.mjs DATADIR [RUNS]
import { DuckDBInstance } from '@duckdb/node-api';

const dir = process.argv[2];
const runs = Number(process.argv[3] || 3);
const AS_OF = 1767225600000n; // 2026-01-01T00:00:00Z
const FROM = AS_OF - 365n * 86400000n;
const W = 7n * 86400000n;

// The RFM segment table (docs/analytics.md): R x F -> segment.
const GRID = [
  [5, ['New', 'Potential Loyalist', 'Potential Loyalist', 'Champions', 'Champions']],
  [4, ['Promising', 'Potential Loyalist', 'Potential Loyalist', 'Loyal', 'Loyal']],
  [3, ['About to Sleep', 'About to Sleep', 'Need Attention', 'Loyal', 'Loyal']],
  [2, ['Hibernating', 'Hibernating', 'At Risk', 'At Risk', "Can't Lose Them"]],
  [1, ['Lost', 'Hibernating', 'At Risk', 'At Risk', "Can't Lose Them"]],
];
const gridValues = GRID.flatMap(([r, fs]) =>
  fs.map((seg, i) => `(${r}, ${i + 1}, '${seg.replace(/'/g, "''")}')`)).join(', ');

const RFM = `
WITH w AS (SELECT p, max(t) AS last, count(*) AS f, sum(amount) AS m FROM orders
           WHERE t >= ${FROM} AND t < ${AS_OF} GROUP BY p),
s AS (SELECT p, (${AS_OF} - last) // 86400000 AS rd, f, m FROM w),
n AS (SELECT count(*) AS n FROM s),
sc AS (SELECT p, m, 1 + 5 * (rank() OVER (ORDER BY rd DESC) - 1) // n AS r,
              1 + 5 * (rank() OVER (ORDER BY f) - 1) // n AS fs,
              1 + 5 * (rank() OVER (ORDER BY m) - 1) // n AS ms FROM s, n),
g(r, f, seg) AS (VALUES ${gridValues}),
segs AS (SELECT g.seg, count(sc.p) AS c, coalesce(sum(sc.m), 0) AS rev FROM g
         LEFT JOIN sc ON sc.r = g.r AND sc.fs = g.f GROUP BY g.seg)
SELECT 'seg' AS kind, seg, c, rev, NULL AS x FROM segs
UNION ALL SELECT 'sums', NULL, sum(r), sum(fs), sum(ms) FROM sc`;

const month = (t) => `strftime(epoch_ms(${t}), '%Y-%m')`;
const KPI = `
WITH pm AS (SELECT p, ${month('t')} AS mo, count(*) AS c, sum(amount) AS s FROM orders GROUP BY p, mo),
om AS (SELECT mo, sum(c) AS orders, sum(s) AS revenue, count(*) AS buyers,
              count(*) FILTER (WHERE c >= 2) AS rep FROM pm GROUP BY mo),
nb AS (SELECT ${month('ft')} AS mo, count(*) AS new_buyers FROM
       (SELECT p, min(t) AS ft FROM orders GROUP BY p) GROUP BY mo),
act AS (SELECT mo, count(*) AS active FROM (SELECT DISTINCT p, mo FROM
        (SELECT p, ${month('t')} AS mo FROM orders UNION ALL SELECT p, ${month('t')} FROM events))
        GROUP BY mo)
SELECT act.mo, coalesce(orders, 0), coalesce(revenue, 0), coalesce(buyers, 0),
       coalesce(new_buyers, 0), coalesce(rep, 0), active
FROM act LEFT JOIN om ON om.mo = act.mo LEFT JOIN nb ON nb.mo = act.mo ORDER BY act.mo`;

const FUNNEL = `
WITH s1 AS (SELECT p, min(t) AS t1 FROM events WHERE name = 'Product Viewed' GROUP BY p),
s2 AS (SELECT s1.p, s1.t1, min(e.t) AS t FROM s1 JOIN events e ON e.p = s1.p
       AND e.name = 'Product Added' AND e.category = 'baby' AND e.t > s1.t1
       AND e.t <= s1.t1 + ${W} GROUP BY s1.p, s1.t1),
s3 AS (SELECT s2.p, s2.t1, min(e.t) AS t FROM s2 JOIN events e ON e.p = s2.p
       AND e.name = 'Checkout Started' AND e.t > s2.t AND e.t <= s2.t1 + ${W} GROUP BY s2.p, s2.t1),
s4 AS (SELECT s3.p, s3.t1, min(e.t) AS t FROM s3 JOIN events e ON e.p = s3.p
       AND e.name = 'Order Completed' AND e.t > s3.t AND e.t <= s3.t1 + ${W} GROUP BY s3.p, s3.t1),
d AS (SELECT 2 AS k, t - t1 AS d FROM s2 UNION ALL SELECT 3, t - t1 FROM s3
      UNION ALL SELECT 4, t - t1 FROM s4),
med AS (SELECT k, d FROM (SELECT k, d, row_number() OVER (PARTITION BY k ORDER BY d) AS rn,
        count(*) OVER (PARTITION BY k) AS n FROM d) WHERE rn = (n - 1) // 2 + 1)
SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3),
       (SELECT count(*) FROM s4), (SELECT d FROM med WHERE k = 2), (SELECT d FROM med WHERE k = 3),
       (SELECT d FROM med WHERE k = 4)`;

const mnum = (t) => `(year(epoch_ms(${t})) * 12 + month(epoch_ms(${t})))`;
const COHORT = `
WITH f AS (SELECT p, min(t) AS ft FROM orders GROUP BY p)
SELECT ${month('f.ft')} AS c, ${mnum('o.t')} - ${mnum('f.ft')} AS off, count(DISTINCT o.p),
       sum(o.amount)
FROM orders o JOIN f ON f.p = o.p GROUP BY c, off ORDER BY c, off`;

const num = (v) => (v === null || v === undefined ? null : Number(v));

async function main() {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  let t0 = performance.now();
  await con.run(`CREATE TABLE orders AS SELECT * FROM read_csv('${dir}/orders.csv', header = true,
    columns = {'p': 'BIGINT', 't': 'BIGINT', 'amount': 'BIGINT', 'channel': 'VARCHAR'})`);
  await con.run(`CREATE TABLE events AS SELECT * FROM read_csv('${dir}/events.csv', header = true,
    columns = {'p': 'BIGINT', 't': 'BIGINT', 'name': 'VARCHAR', 'category': 'VARCHAR'})`);
  const load = (performance.now() - t0) / 1000;
  const queries = { rfm: RFM, kpi: KPI, funnel: FUNNEL, cohort: COHORT };
  const times = {};
  const rows = {};
  for (const [name, sql] of Object.entries(queries)) {
    times[name] = Infinity;
    for (let r = 0; r < runs; r++) {
      t0 = performance.now();
      const reader = await con.runAndReadAll(sql);
      const got = reader.getRows();
      const dt = (performance.now() - t0) / 1000;
      if (dt < times[name]) times[name] = dt;
      rows[name] = got;
    }
  }
  const segs = rows.rfm.filter((r) => r[0] === 'seg').map((r) => [r[1], num(r[2]), num(r[3])]);
  const sums = rows.rfm.find((r) => r[0] === 'sums');
  const f = rows.funnel[0].map(num);
  const results = {
    rfm: {
      segments: segs,
      score_sums: [num(sums[2]), num(sums[3]), num(sums[4])],
      customers: segs.reduce((a, s) => a + s[1], 0),
    },
    kpi: rows.kpi.map((r) => [r[0], ...r.slice(1).map(num)]),
    funnel: { counts: f.slice(0, 4), median_ms: f.slice(4) },
    cohort: rows.cohort.map((r) => [r[0], num(r[1]), num(r[2]), num(r[3])]),
  };
  console.log(JSON.stringify({ engine: 'duckdb', load_seconds: load, times, results }));
}

main().catch((err) => {
  console.error(`duckdb_bench: ${err.message}`);
  process.exit(1);
});
