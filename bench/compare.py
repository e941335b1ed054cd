#!/usr/bin/env python3
"""How long `schemagate compare` takes on two databases of 1 M rows each (issue 17), against the
floor: one `count(*)` plus one hash pass over the same table on both servers.

The issue's target: the whole compare (schema, history, counts, then content in chunks) under
3x that floor. Two clusters of our own (bench/run.py's Server), the same table loaded into
each: 1 M rows of (bigint key, text, int, timestamptz, numeric, jsonb) — the shape the
reference measured — and, for the key-hash path, the same rows keyed by text. Runs are
interleaved, floor and compare alternating; the floor is taken as the faster of running the
two servers' passes one after the other or both at once, so that the ratio is the strict one.

    python3 bench/compare.py --bin target/release/schemagate [--rows 1000000] [--runs 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the bench's own server and helpers)

REPO = run.REPO

COLUMNS = "id, t, i, ts, n, j"


def load(server, rows):
    server.create_db("cmp")
    server.sql(f"""
CREATE TABLE items (id bigint PRIMARY KEY, t text, i int, ts timestamptz, n numeric(12,2), j jsonb);
INSERT INTO items SELECT g, 'row ' || g || ' ' || md5(g::text), g % 1000,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', g / 100.0,
       jsonb_build_object('g', g, 'even', g % 2 = 0)
  FROM generate_series(1, {rows}) g;
CREATE TABLE coded (code text PRIMARY KEY, t text, i int, ts timestamptz, n numeric(12,2), j jsonb);
INSERT INTO coded SELECT 'k' || id, t, i, ts, n, j FROM items;
""", db="cmp")
    # The chunk bounds are read by index-only scans, which need the visibility map.
    server.sql("VACUUM (ANALYZE) items", db="cmp")
    server.sql("VACUUM (ANALYZE) coded", db="cmp")


def psql(server, sql):
    return [server.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", server.dir,
            "-p", str(server.port), "-U", "postgres", "-d", "cmp", "-c", sql]


def floor_sql(table):
    cols = COLUMNS if table == "items" else COLUMNS.replace("id,", "code,")
    return (f"SELECT count(*) FROM ONLY public.{table}; "
            f"SELECT sum(hashtextextended((row({cols})::text) COLLATE \"C\", 0)) FROM ONLY public.{table}")


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def check(out):
    if out.returncode != 0:
        run.die(f"{out.args[0]} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def floor_serial(servers, table):
    for s in servers:
        check(subprocess.run(psql(s, floor_sql(table)), capture_output=True, text=True))


def floor_parallel(servers, table):
    outs = []
    threads = [threading.Thread(target=lambda s=s: outs.append(
        subprocess.run(psql(s, floor_sql(table)), capture_output=True, text=True))) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in outs:
        check(o)


def compare(binary, servers, table):
    source, target = servers
    env = dict(os.environ)
    env.update(source.env("cmp"))
    env.update({"SCHEMAGATE_COMPARE_URL": target.url("cmp"), "SCHEMAGATE_COMPARE_TABLES": f"public.{table}",
                "SCHEMAGATE_LOG_FORMAT": "json", "SCHEMAGATE_DEADLINE": "10m"})
    out = subprocess.run([binary, "compare", "--format", "json"], env=env, capture_output=True, text=True)
    check(out)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(REPO, "target/release/schemagate"))
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out", default=os.path.join(REPO, "bench/results/compare.md"))
    args = p.parse_args()
    binary = os.path.abspath(args.bin)
    servers = []
    for _ in range(2):
        work = tempfile.mkdtemp(prefix="sg-bench-compare-")
        s = run.Server(work)
        s.start()
        servers.append(s)
    run.log(f"loading {args.rows} rows twice into each server")
    loaders = [threading.Thread(target=load, args=(s, args.rows)) for s in servers]
    for t in loaders:
        t.start()
    for t in loaders:
        t.join()
    results = {}
    for table in ("items", "coded"):
        compare(binary, servers, table)  # warm-up: both tables in the cache
        floor_parallel(servers, table)
        times = {"serial": [], "parallel": [], "compare": []}
        for r in range(args.runs):
            for name in (["serial", "parallel", "compare"] if r % 2 == 0 else ["compare", "parallel", "serial"]):
                if name == "serial":
                    times[name].append(timed(lambda: floor_serial(servers, table)))
                elif name == "parallel":
                    times[name].append(timed(lambda: floor_parallel(servers, table)))
                else:
                    times[name].append(timed(lambda: compare(binary, servers, table)))
        results[table] = {k: statistics.median(v) for k, v in times.items()}
        run.log(f"{table}: " + ", ".join(f"{k} {v:.2f} s" for k, v in results[table].items()))
    lines = [
        f"# compare: two databases of {args.rows:,} rows (issue 17)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {servers[0].version}, two clusters on this "
        f"machine ({os.cpu_count()} cores), loopback; medians of {args.runs} interleaved runs; "
        "`python3 bench/compare.py`.",
        "",
        "The floor is one `count(*)` plus one `sum(hashtextextended(row(...)::text))` over the table on "
        "both servers, the faster of one after the other and both at once (with PostgreSQL's parallel "
        "workers); `compare` is the whole command (connect, schema, history, counts and sequences, "
        "content in chunks of 10,000 rows) limited to the table by `SCHEMAGATE_COMPARE_TABLES`.",
        "",
        "| table | key | floor, serial | floor, both at once | compare | compare / floor | target |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for table, key in (("items", "bigint: key ranges"), ("coded", "text: key-hash buckets")):
        r = results[table]
        floor = min(r["serial"], r["parallel"])
        ratio = r["compare"] / floor
        lines.append(f"| {table} | {key} | {r['serial']:.2f} s | {r['parallel']:.2f} s | {r['compare']:.2f} s | "
                     f"{ratio:.2f}x | {'met' if ratio < 3 else 'MISSED'} (< 3x) |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    for s in servers:
        s.stop()


if __name__ == "__main__":
    main()
