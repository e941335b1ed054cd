//! End-to-end: `schemagate lint` against a real PostgreSQL holding a 300 000-row table, a small one and an empty one — each rule's firing case and near miss — and the gate in `migrate`, which refuses before the lock and before any change.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// The database every rule test judges against (shared with the squawk comparison in
/// tests/lint/compare.py): `big` (300 000 rows), `small` (50), `empty`, a partitioned `m`, a
/// validated `CHECK (email IS NOT NULL)`, a stable user function, an enum and a
/// materialized view.
const FIXTURE: &str = include_str!("lint/fixture.sql");

fn fixture() -> TestDb {
    let db = PgServer::shared().fresh_db();
    db.exec(FIXTURE);
    // A unique build over duplicates fails and leaves big_dup INVALID, as a killed
    // CONCURRENTLY build in production would.
    let err = db
        .client()
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY big_dup ON big (a)");
    assert!(err.is_err(), "the duplicate build must fail");
    db
}

/// `schemagate lint --format json` on `files` (name, text) against `db`; the parsed report
/// and the exit code.
fn lint_files(db: &TestDb, files: &[(&str, &str)], extra: &[(&str, &str)]) -> (Value, i32) {
    let dir = migrations_dir(files);
    let mut cmd = sg(db, dir.path()).arg("lint").args(["--format", "json"]);
    for (name, _) in files.iter().filter(|(n, _)| n.ends_with(".sql")) {
        cmd = cmd.arg(dir.path().join(name));
    }
    for (k, v) in extra {
        cmd = cmd.env(k, v);
    }
    let out = cmd.run();
    let code = out.code.unwrap_or(-1);
    let report: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(
        report["live"], true,
        "lint must have used the database\n{out}"
    );
    (report, code)
}

fn lint_one(db: &TestDb, sql: &str) -> (Value, i32) {
    lint_files(db, &[("V9__case.sql", sql)], &[])
}

/// The (severity, allowed) of `rule`'s finding, if it fired.
fn finding<'a>(report: &'a Value, rule: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
}

fn severity(report: &Value, rule: &str) -> Option<String> {
    finding(report, rule)
        .filter(|f| f["allowed"].is_null())
        .map(|f| f["severity"].as_str().unwrap().to_string())
}

/// One test per rule: `fire` must give `rule` with `expected` severity; `near` must not give
/// it, or only as information.
fn case(rule: &str, fire: &str, expected: &str, near: &str) {
    let db = fixture();
    let (r, code) = lint_one(&db, fire);
    assert_eq!(
        severity(&r, rule).as_deref(),
        Some(expected),
        "{rule} must fire on\n{fire}\n{r:#}"
    );
    if expected == "error" {
        assert_eq!(code, 65, "an error finding fails lint\n{r:#}");
    }
    let (r, _) = lint_one(&db, near);
    let got = severity(&r, rule);
    assert!(
        got.is_none() || got.as_deref() == Some("info"),
        "{rule} must not fire on\n{near}\n{r:#}"
    );
}

#[test]
fn lock_index_not_concurrent() {
    case(
        "lock-index-not-concurrent",
        "CREATE INDEX big_note ON big (note);",
        "error",
        "CREATE INDEX empty_a ON empty (a);",
    );
    let db = fixture();
    let (r, _) = lint_one(&db, "CREATE INDEX big_note ON big (note);");
    let f = finding(&r, "lock-index-not-concurrent").unwrap();
    assert_eq!(f["table"], "big");
    let size = f["size"].as_str().unwrap();
    assert!(size.contains(" rows, ") && size.ends_with("MB"), "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains(&format!("big ({size})")),
        "{f}"
    );
    assert!(
        f["rewrite"].as_str().unwrap().contains("CONCURRENTLY"),
        "{f}"
    );
    // A small table is information, not an error.
    let (r, code) = lint_one(&db, "CREATE INDEX small_a ON small (a);");
    assert_eq!(
        severity(&r, "lock-index-not-concurrent").as_deref(),
        Some("info")
    );
    assert_eq!(code, 0);
}

#[test]
fn lock_drop_index_not_concurrent() {
    case(
        "lock-drop-index-not-concurrent",
        "DROP INDEX big_a;",
        "warning",
        "DROP INDEX CONCURRENTLY big_a;",
    );
}

#[test]
fn tx_concurrently_in_transaction() {
    let db = fixture();
    let cic = "CREATE INDEX CONCURRENTLY big_note ON big (note);";
    let (r, code) = lint_files(
        &db,
        &[
            ("V9__cic.sql", cic),
            ("V9__cic.sql.conf", "executeInTransaction=true\n"),
        ],
        &[],
    );
    assert_eq!(
        severity(&r, "tx-concurrently-in-transaction").as_deref(),
        Some("error"),
        "{r:#}"
    );
    assert_eq!(code, 65);
    let (r, _) = lint_one(&db, cic);
    assert_eq!(
        severity(&r, "tx-concurrently-in-transaction"),
        None,
        "{r:#}"
    );
}

#[test]
fn ops_invalid_index_leftover() {
    case(
        "ops-invalid-index-leftover",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS big_dup ON big (a);",
        "error",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS big_note ON big (note);",
    );
}

#[test]
fn lock_constraint_without_not_valid() {
    case(
        "lock-constraint-without-not-valid",
        "ALTER TABLE big ADD CONSTRAINT big_cust_fk FOREIGN KEY (cust) REFERENCES customers (id);",
        "error",
        "ALTER TABLE big ADD CONSTRAINT big_cust_fk FOREIGN KEY (cust) REFERENCES customers (id) NOT VALID;",
    );
}

#[test]
fn tx_validate_same_transaction() {
    case(
        "tx-validate-same-transaction",
        "ALTER TABLE big ADD CONSTRAINT big_c_pos CHECK (c > 0) NOT VALID;\nALTER TABLE big VALIDATE CONSTRAINT big_c_pos;",
        "warning",
        "ALTER TABLE big VALIDATE CONSTRAINT big_a_pos;",
    );
}

#[test]
fn lock_set_not_null_scan() {
    // email is proven non-null by a validated CHECK in the catalog.
    case(
        "lock-set-not-null-scan",
        "ALTER TABLE big ALTER COLUMN c SET NOT NULL;",
        "error",
        "ALTER TABLE big ALTER COLUMN email SET NOT NULL;",
    );
}

#[test]
fn rewrite_add_column() {
    case(
        "rewrite-add-column",
        "ALTER TABLE big ADD COLUMN r float8 DEFAULT random();",
        "error",
        "ALTER TABLE big ADD COLUMN at timestamptz DEFAULT now();",
    );
    // A user function: the catalog says it is stable, so no rewrite.
    let db = fixture();
    let (r, _) = lint_one(
        &db,
        "ALTER TABLE big ADD COLUMN region text DEFAULT stable_region();",
    );
    assert_eq!(severity(&r, "rewrite-add-column"), None, "{r:#}");
}

#[test]
fn compat_required_column() {
    // The data does not matter: the old app's INSERTs break on a small table too.
    case(
        "compat-required-column",
        "ALTER TABLE small ADD COLUMN code text NOT NULL;",
        "error",
        "ALTER TABLE small ADD COLUMN code text NOT NULL DEFAULT '';",
    );
}

#[test]
fn rewrite_column_type() {
    case(
        "rewrite-column-type",
        "ALTER TABLE big ALTER COLUMN a TYPE bigint;",
        "error",
        "ALTER TABLE big ALTER COLUMN email TYPE varchar(80);",
    );
    // varchar(50) → text is binary-compatible: information only.
    let db = fixture();
    let (r, code) = lint_one(&db, "ALTER TABLE big ALTER COLUMN email TYPE text;");
    assert_eq!(
        severity(&r, "rewrite-column-type").as_deref(),
        Some("info"),
        "{r:#}"
    );
    assert_eq!(code, 0);
}

#[test]
fn lock_unique_or_pk_build() {
    case(
        "lock-unique-or-pk-build",
        "ALTER TABLE big ADD CONSTRAINT big_c_key UNIQUE (c);",
        "error",
        "ALTER TABLE big ADD CONSTRAINT big_c_key UNIQUE USING INDEX big_c_uniq;",
    );
}

/// A contract script's phase rule is reported as allowed, with the phase as its reason.
fn allowed_in_contract(rule: &str, sql: &str) {
    let db = fixture();
    let (r, code) = lint_one(&db, &format!("-- schemagate:contract\n{sql}"));
    let f = finding(&r, rule).unwrap_or_else(|| panic!("{r:#}"));
    assert!(
        f["allowed"].as_str().unwrap().contains("contract script"),
        "{f}"
    );
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn compat_destructive() {
    case(
        "compat-destructive",
        "ALTER TABLE empty DROP COLUMN a;",
        "error",
        "CREATE TABLE scratch (a int);\nDROP TABLE scratch;",
    );
    allowed_in_contract("compat-destructive", "ALTER TABLE empty DROP COLUMN a;");
}

#[test]
fn compat_rename() {
    case(
        "compat-rename",
        "ALTER TABLE small RENAME COLUMN a TO b;",
        "error",
        "ALTER INDEX big_a RENAME TO big_a_idx;",
    );
    allowed_in_contract("compat-rename", "ALTER TABLE small RENAME COLUMN a TO b;");
}

#[test]
fn compat_drop_not_null() {
    case(
        "compat-drop-not-null",
        "ALTER TABLE small ALTER COLUMN a DROP NOT NULL;",
        "warning",
        "ALTER TABLE small ALTER COLUMN a DROP DEFAULT;",
    );
    allowed_in_contract(
        "compat-drop-not-null",
        "ALTER TABLE small ALTER COLUMN a DROP NOT NULL;",
    );
}

#[test]
fn compat_phase_mismatch() {
    case(
        "compat-phase-mismatch",
        "-- schemagate:contract\nALTER TABLE big ADD COLUMN z int;",
        "error",
        "ALTER TABLE big ADD COLUMN z int;",
    );
}

#[test]
fn data_unbatched_backfill() {
    // The planner's estimate decides, WHERE or not.
    case(
        "data-unbatched-backfill",
        "UPDATE big SET note = 'x' WHERE note IS NULL;",
        "error",
        "UPDATE big SET note = 'x' WHERE id = 7;",
    );
    let db = fixture();
    let (r, _) = lint_one(&db, "UPDATE big SET note = 'x' WHERE note IS NULL;");
    let f = finding(&r, "data-unbatched-backfill").unwrap();
    assert!(
        f["message"].as_str().unwrap().contains("~300 000 rows"),
        "{f}"
    );
    let (r, _) = lint_one(
        &db,
        "-- schemagate:backfill\nUPDATE big SET note = 'x' WHERE id IN (SELECT id FROM big WHERE note IS NULL LIMIT ${schemagate:batch_size});",
    );
    assert_eq!(severity(&r, "data-unbatched-backfill"), None, "{r:#}");
}

#[test]
fn lock_many_ae_in_one_tx() {
    case(
        "lock-many-ae-in-one-tx",
        "ALTER TABLE big ADD COLUMN y int;\nALTER TABLE m ADD COLUMN y int;",
        "warning",
        "ALTER TABLE big ADD COLUMN y int;\nALTER TABLE small ADD COLUMN y int;",
    );
}

#[test]
fn rewrite_maintenance() {
    case(
        "rewrite-maintenance",
        "VACUUM FULL big;",
        "error",
        "VACUUM ANALYZE big;",
    );
}

#[test]
fn lock_partition_detach() {
    case(
        "lock-partition-detach",
        "ALTER TABLE m DETACH PARTITION m1;",
        "error",
        "ALTER TABLE m DETACH PARTITION m1 CONCURRENTLY;",
    );
}

#[test]
fn lock_reindex_not_concurrent() {
    case(
        "lock-reindex-not-concurrent",
        "REINDEX INDEX big_a;",
        "error",
        "REINDEX INDEX CONCURRENTLY big_a;",
    );
}

#[test]
fn tx_enum_add_value() {
    case(
        "tx-enum-add-value",
        "ALTER TYPE mood ADD VALUE 'meh';\nUPDATE small SET m = 'meh' WHERE id = 1;",
        "error",
        "ALTER TYPE mood ADD VALUE 'meh';",
    );
}

#[test]
fn ops_timeout_override() {
    case(
        "ops-timeout-override",
        "SET lock_timeout = 0;\nALTER TABLE small ADD COLUMN q int;",
        "warning",
        "SET LOCAL lock_timeout = '2s';\nALTER TABLE small ADD COLUMN q int;",
    );
}

#[test]
fn ops_deadline_exceeded() {
    let db = fixture();
    let sql = "ALTER TABLE big ALTER COLUMN a TYPE bigint;";
    let (r, code) = lint_files(
        &db,
        &[("V9__t.sql", sql)],
        &[("SCHEMAGATE_DEADLINE", "100ms")],
    );
    assert_eq!(
        severity(&r, "ops-deadline-exceeded").as_deref(),
        Some("error"),
        "{r:#}"
    );
    assert_eq!(code, 65);
    let (r, _) = lint_files(
        &db,
        &[("V9__t.sql", sql)],
        &[("SCHEMAGATE_DEADLINE", "10m")],
    );
    assert_eq!(severity(&r, "ops-deadline-exceeded"), None, "{r:#}");
}

#[test]
fn data_truncate_cascade() {
    case(
        "data-truncate-cascade",
        "TRUNCATE customers CASCADE;",
        "error",
        "TRUNCATE customers, order_lines;",
    );
    let db = fixture();
    let (r, _) = lint_one(&db, "TRUNCATE customers CASCADE;");
    let f = finding(&r, "data-truncate-cascade").unwrap();
    assert!(
        f["message"].as_str().unwrap().contains("order_lines"),
        "{f}"
    );
}

// ---- the gate in migrate ----

/// Flyway's lock key for `"public"."schemagate_history"`.
fn lock_key() -> i64 {
    let mut h: i32 = 0;
    for u in "\"public\".\"schemagate_history\"".encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(u));
    }
    0x466C_7977_6179_i64 + i64::from(h)
}

/// A database at V1 (the fixture, applied by schemagate) and a folder holding V1 and `v2`.
fn released(v2: &str) -> (TestDb, tempfile::TempDir) {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__fixture.sql", FIXTURE.replace("ANALYZE;", "").as_str())]);
    sg(&db, dir.path()).run().assert_code(0);
    db.exec("ANALYZE");
    write_file(dir.path(), "V2__next.sql", v2);
    (db, dir)
}

fn index_exists(db: &TestDb, name: &str) -> bool {
    db.query_scalar(&format!("SELECT to_regclass('{name}') IS NOT NULL"))
        .as_deref()
        == Some("t")
}

#[test]
fn migrate_refuses_before_the_lock_and_before_any_change() {
    let (db, dir) = released("CREATE INDEX big_note ON big (note);\nCREATE TABLE t2 (a int);");
    // Somebody holds the migration lock: a gate after the lock would wait for it.
    let mut holder = db.client_with_app("lock-holder");
    holder
        .simple_query(&format!("SELECT pg_advisory_lock({})", lock_key()))
        .unwrap();
    let out = sg(&db, dir.path()).env("SCHEMAGATE_LOCK_WAIT", "20s").run();
    out.assert_code(65);
    assert!(
        out.elapsed < std::time::Duration::from_secs(10),
        "it did not wait for the lock\n{out}"
    );
    let log = out.termination_log.clone().unwrap_or_default();
    for needle in [
        "V2__next.sql:1:1",
        "lock-index-not-concurrent",
        "on big (",
        " rows, ",
        "rewrite: `CREATE INDEX CONCURRENTLY",
        "before taking the lock; nothing was changed",
    ] {
        assert!(log.contains(needle), "{needle:?} missing\n{log}");
    }
    assert!(
        !index_exists(&db, "big_note") && !db.table_exists("t2"),
        "{out}"
    );
    assert_eq!(versions(&db, "schemagate_history"), [(some("1"), true)]);
}

#[test]
fn migrate_applies_what_an_allow_directive_allows() {
    let (db, dir) = released(
        "-- schemagate:allow lock-index-not-concurrent reason=\"built during the maintenance window\"\nCREATE INDEX big_note ON big (note);",
    );
    let out = sg(&db, dir.path()).run();
    out.assert_code(0);
    assert!(index_exists(&db, "big_note"));
    assert!(
        out.stderr.contains("built during the maintenance window"),
        "the allow is logged with its reason\n{out}"
    );
}

#[test]
fn migrate_applies_what_schemagate_lint_allow_allows() {
    let (db, dir) = released("CREATE INDEX big_note ON big (note);");
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_LINT_ALLOW", "2:lock-index-not-concurrent")
        .run();
    out.assert_code(0);
    assert!(index_exists(&db, "big_note"));
    assert!(
        out.stderr
            .contains("SCHEMAGATE_LINT_ALLOW=2:lock-index-not-concurrent"),
        "{out}"
    );
}

#[test]
fn migrate_with_warn_logs_and_applies() {
    let (db, dir) = released("CREATE INDEX big_note ON big (note);");
    let out = sg(&db, dir.path()).env("SCHEMAGATE_LINT", "warn").run();
    out.assert_code(0);
    assert!(index_exists(&db, "big_note"));
    let warned = out
        .stderr_json_lines()
        .into_iter()
        .any(|l| l["level"] == "WARN" && l["rule"] == "lock-index-not-concurrent");
    assert!(warned, "{out}");
}

#[test]
fn a_fresh_database_is_not_refused_for_indexing_what_the_run_creates() {
    // Every table is created by the same pending run: nobody uses them yet.
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__fixture.sql", FIXTURE),
        (
            "V2__index.sql",
            "CREATE INDEX big_note ON big (note);\nALTER TABLE big ALTER COLUMN c TYPE bigint;",
        ),
    ]);
    sg(&db, dir.path()).run().assert_code(0);
    assert!(index_exists(&db, "big_note"));
}

#[test]
fn lint_without_a_database_uses_the_static_severity() {
    let dir = migrations_dir(&[
        ("V1__t.sql", "CREATE TABLE t (a int, s varchar(50));"),
        (
            "V2__idx.sql",
            "CREATE INDEX t_a ON t (a);\nALTER TABLE t ALTER COLUMN s TYPE text;",
        ),
    ]);
    let out = Sg::new(BIN)
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .arg("lint")
        .arg(dir.path().join("V2__idx.sql"))
        .run();
    out.assert_code(65);
    let stdout = &out.stdout;
    assert!(
        stdout.contains("V2__idx.sql:1:1: error[lock-index-not-concurrent]"),
        "{out}"
    );
    // V1, before the file given, tells the column's type: varchar(50) → text is fast.
    assert!(stdout.contains("info[rewrite-column-type]"), "{out}");
    assert!(stdout.contains("no database: static severity"), "{out}");
    assert!(
        !Path::new(&dir.path().join("V2__idx.sql"))
            .to_string_lossy()
            .is_empty()
    );
}

#[test]
fn placeholders_are_resolved_before_linting() {
    let db = fixture();
    let (r, code) = lint_files(
        &db,
        &[("V9__p.sql", "CREATE INDEX ${idx} ON ${schema}.big (note);")],
        &[
            ("SCHEMAGATE_PLACEHOLDER_IDX", "big_note"),
            ("SCHEMAGATE_PLACEHOLDER_SCHEMA", "public"),
        ],
    );
    let f = finding(&r, "lock-index-not-concurrent").unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(f["table"], "public.big", "{f}");
    assert_eq!(code, 65);
}

#[test]
fn lint_with_a_database_and_no_files_lints_only_the_pending_scripts() {
    let (db, dir) = released("CREATE INDEX big_note ON big (note);");
    // V1 is applied: were it linted against the live tables, its plain CREATE INDEX on a
    // 300 000-row table would be an error.
    let out = sg(&db, dir.path()).args(["lint", "--format", "json"]).run();
    out.assert_code(65);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["live"], true);
    let files: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert!(
        !files.is_empty() && files.iter().all(|f| f.ends_with("V2__next.sql")),
        "{files:?}"
    );
}
