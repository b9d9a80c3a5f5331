#!/usr/bin/env python3
"""The floor a user has without Custos: the same messages inserted straight into
SQLite (WAL, synchronous=FULL, the durability Custos gives) with a UNIQUE index on
messageId for deduplication -- what a plain implementation of an idempotent
collector does -- committing in groups of the same size Custos sees. No HTTP, no
validation: only the store. Prints one JSON line."""
import json, os, sqlite3, subprocess, sys, tempfile, time

loadgen, seconds, group = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
body = subprocess.run([loadgen, "gen", "--batch", "1000", "--dump"], check=True,
                      capture_output=True, text=True).stdout
template = [json.dumps(m, ensure_ascii=False, separators=(",", ":"))
            for m in json.loads(body)["batch"]]
with tempfile.TemporaryDirectory() as d:
    db = sqlite3.connect(os.path.join(d, "baseline.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
               " type TEXT, raw TEXT NOT NULL)")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        rows = []
        for _ in range(group):
            # random message ids, as the SDKs send (uuid4 hex)
            rows.append((os.urandom(16).hex(), "track", template[n % len(template)]))
            n += 1
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO events(message_id, type, raw) VALUES (?,?,?)", rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    print(json.dumps({"rows": n, "seconds": round(elapsed, 3),
                      "rows_per_s": round(n / elapsed, 1), "group": group}))
