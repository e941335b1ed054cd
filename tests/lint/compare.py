#!/usr/bin/env python3
"""schemagate lint and squawk over the same labelled cases; SARIF checked against the 2.1.0 schema.

Run against a throwaway PostgreSQL (scripts/throwaway-pg sets PG*):

    scripts/throwaway-pg target/lint-venv/bin/python tests/lint/compare.py --bin target/debug/schemagate [--check]

Each case in tests/lint/cases/ starts with `-- label: unsafe|safe` and `-- why: ...`. A tool
gets a case right when it refuses an unsafe one and lets a safe one through: schemagate by its
exit code (65 or 0), squawk by whether it reports anything. The database is the one
tests/lint/fixture.sql builds (`big` has 300 000 rows), loaded by schemagate itself.
--check fails unless schemagate gets every case right and its SARIF validates.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = sorted((HERE / "cases").glob("*.sql"))
# squawk's rules that are about timeouts or style, not about what locks or breaks: the
# second squawk column turns them off, as a team tuning squawk for this job would.
SQUAWK_OFF = [
    "require-lock-timeout",
    "require-statement-timeout",
    "require-timeout-settings",
    "prefer-robust-stmts",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "ban-char-field",
    "transaction-nesting",
]


def label(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("-- label: "), f"{path}: first line must be -- label: unsafe|safe"
    value = first.split(":", 1)[1].strip()
    assert value in ("unsafe", "safe"), path
    return value


def why(path):
    return path.read_text().splitlines()[1].split(":", 1)[1].strip()


def env_for(locations):
    env = dict(os.environ)
    env.update(
        SCHEMAGATE_LOCATIONS=str(locations),
        SCHEMAGATE_LOG_FORMAT="json",
        SCHEMAGATE_PLACEHOLDER_SCHEMA="public",
    )
    return env


def load_fixture(binary, work):
    """The fixture as schemagate's V1, then V2: an index marked INVALID, the catalog state a
    CONCURRENTLY build killed with its session leaves (schemagate drops the ones its own failed
    scripts leave, so one is made by hand). Loaded with the lint off: it is not the case."""
    loc = work / "fixture"
    loc.mkdir()
    shutil.copy(HERE / "fixture.sql", loc / "V1__fixture.sql")
    (loc / "V2__leftover.sql").write_text(
        "CREATE INDEX big_dup ON big (a);\n"
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'big_dup'::regclass;\n"
    )
    env = env_for(loc)
    env["SCHEMAGATE_LINT"] = "off"
    subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True)


def schemagate(binary, case, empty, fmt="json", offline=False):
    env = env_for(empty)
    if offline:
        for k in list(env):
            if k.startswith("PG") or k.endswith("DATABASE_URL"):
                del env[k]
    return subprocess.run(
        [binary, "lint", "--format", fmt, *map(str, case)], env=env, capture_output=True, text=True
    )


def squawk(squawk_bin, case, tuned):
    cmd = [squawk_bin, "--reporter", "json"]
    if tuned:
        cmd.append("--exclude=" + ",".join(SQUAWK_OFF))
    out = subprocess.run([*cmd, str(case)], capture_output=True, text=True)
    try:
        found = json.loads(out.stdout or "[]")
    except json.JSONDecodeError:
        found = [{"rule_name": "unreadable-output"}]
    return ("unsafe" if found else "safe"), sorted({f.get("rule_name", "?") for f in found})


def validate_sarif(binary, empty):
    import jsonschema

    schema = json.loads((HERE / "sarif-2.1.0-subset.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    # The validator must be able to fail: an unknown member in a result is refused.
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "bogus": 1}]}]}
    assert list(validator.iter_errors(broken)), "the SARIF schema check cannot fail"
    checked = 0
    for offline in (False, True):
        out = schemagate(binary, CASES, empty, fmt="sarif", offline=offline)
        assert out.returncode in (0, 65), out.stderr
        doc = json.loads(out.stdout)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        for e in errors[:10]:
            print(f"SARIF: {'/'.join(map(str, e.path))}: {e.message}", file=sys.stderr)
        assert not errors, f"{len(errors)} SARIF schema error(s)"
        results = doc["runs"][0]["results"]
        assert results, "the cases must give SARIF results"
        checked += len(results)
    return checked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/debug/schemagate")
    ap.add_argument("--squawk", default=str(Path(sys.executable).with_name("squawk")))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the README table")
    args = ap.parse_args()
    binary = str(Path(args.bin).resolve())
    version = subprocess.run([args.squawk, "--version"], capture_output=True, text=True).stdout.strip()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        empty = work / "empty"
        empty.mkdir()
        load_fixture(binary, work)
        rows = []
        for case in CASES:
            want = label(case)
            sg = schemagate(binary, [case], empty)
            if sg.returncode not in (0, 65):
                raise SystemExit(f"{case.name}: schemagate exit {sg.returncode}\n{sg.stderr}")
            report = json.loads(sg.stdout)
            assert report["live"], f"{case.name}: lint did not use the database\n{sg.stderr}"
            sg_says = "unsafe" if sg.returncode == 65 else "safe"
            sg_rules = sorted({f["rule"] for f in report["findings"] if f["severity"] == "error" and not f["allowed"]})
            sq_says, sq_rules = squawk(args.squawk, case, tuned=False)
            sqt_says, sqt_rules = squawk(args.squawk, case, tuned=True)
            rows.append((case.name, want, sg_says, sg_rules, sq_says, sq_rules, sqt_says, sqt_rules))
        sarif_results = validate_sarif(binary, empty)

    n = len(rows)
    score = lambda i: sum(1 for r in rows if r[i] == r[1])
    unsafe = sum(1 for r in rows if r[1] == "unsafe")
    print(f"{n} labelled cases ({unsafe} unsafe, {n - unsafe} safe); {version}")
    print(f"{'tool':<44} right  wrong")
    for name, i in (("schemagate lint (live database)", 2), (f"{version} (defaults)", 4), (f"{version} (timeout and style rules off)", 6)):
        print(f"{name:<44} {score(i):>5}  {n - score(i):>5}")
    print("\ncases a tool gets wrong (label: schemagate / squawk / squawk tuned):")
    for name, want, sg, sgr, sq, sqr, sqt, sqtr in rows:
        if sg != want or sq != want or sqt != want:
            marks = " / ".join(("ok" if x == want else f"WRONG ({x})") for x in (sg, sq, sqt))
            print(f"  {name}: {want}: {marks}")
            if sg != want:
                print(f"      schemagate rules: {sgr}")
            if sq != want:
                print(f"      squawk rules: {sqr}")
    print(f"\nSARIF: {sarif_results} results over two runs (live and static) validate against the 2.1.0 schema subset")
    if args.markdown:
        print("\n| tool | right | wrong |\n|---|---|---|")
        for name, i in (("`schemagate lint` (live database)", 2), (f"{version}, defaults", 4), (f"{version}, timeout and style rules off", 6)):
            print(f"| {name} | {score(i)} / {n} | {n - score(i)} |")
    if args.check and score(2) != n:
        raise SystemExit(f"schemagate got {n - score(2)} labelled case(s) wrong")


if __name__ == "__main__":
    main()
