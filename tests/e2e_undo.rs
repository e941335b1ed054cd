//! End-to-end: undo kept in the database (SPEC §12, issue 13). Two folders stand for two images:
//! the newer one applies V1–V3 with their `U` files, the older one (V1 only, no `U` file)
//! rolls the schema back with what the newer one stored, and the newer one applies it again.

mod common;

use std::path::Path;

use common::*;

const V1: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\nINSERT INTO users VALUES (1, 'ada');";
const V2: &str =
    "ALTER TABLE users ADD COLUMN email text;\nCREATE INDEX users_email ON users (email);";
const U2: &str = "DROP INDEX users_email;\nALTER TABLE users DROP COLUMN email;";
const V3: &str = "CREATE TABLE ${schemagate:schema}.orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\nCOMMENT ON TABLE orders IS 'by ${owner}';";
const U3: &str =
    "-- the stored text has its placeholders replaced\nDROP TABLE ${schemagate:schema}.orders;";

fn newer() -> tempfile::TempDir {
    migrations_dir(&[
        ("V1__users.sql", V1),
        ("V2__add_email.sql", V2),
        ("U2__add_email.sql", U2),
        ("V3__orders.sql", V3),
        ("U3__orders.sql", U3),
    ])
}

fn older() -> tempfile::TempDir {
    migrations_dir(&[("V1__users.sql", V1)])
}

/// `sg` with the placeholder V3 needs.
fn sgp(db: &TestDb, dir: &Path) -> Sg {
    sg(db, dir).env("SCHEMAGATE_PLACEHOLDER_OWNER", "shop")
}

fn run(db: &TestDb, dir: &Path, command: &str) -> Outcome {
    sgp(db, dir).arg(command).run()
}

/// The schema as `pg_dump --schema-only` prints it, without schemagate's own tables and
/// without comments naming the database: two databases built the same way dump the same.
fn schema(db: &TestDb) -> String {
    let out = std::process::Command::new("/usr/lib/postgresql/15/bin/pg_dump")
        .args([
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--exclude-table=schemagate_history*",
        ])
        .envs(db.env())
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        // `\restrict` carries a random key per dump (pg_dump 15.14 and later).
        .filter(|l| !l.starts_with("--") && !l.starts_with("\\") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `pg_dump` of a fresh database that `dir`'s scripts were applied to.
fn schema_built_by(dir: &Path) -> String {
    let db = PgServer::shared().fresh_db();
    run(&db, dir, "migrate").assert_success();
    schema(&db)
}

/// `(version, type, success)` of every history row, in rank order.
fn rows(db: &TestDb) -> Vec<(String, String, bool)> {
    db.history(HISTORY)
        .into_iter()
        .map(|r| (r.version.unwrap_or_default(), r.type_, r.success))
        .collect()
}

fn row(v: &str, t: &str) -> (String, String, bool) {
    (v.to_string(), t.to_string(), true)
}

fn stored(db: &TestDb) -> Vec<(String, String, String)> {
    db.query_rows("SELECT version, script, sql FROM schemagate_history_undo ORDER BY version")
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].clone().unwrap(),
                r[2].clone().unwrap(),
            )
        })
        .collect()
}

fn states(out: &Outcome) -> Vec<(String, String, String)> {
    out.stdout_json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["category"].as_str().unwrap().to_string(),
                m["version"].as_str().unwrap_or("").to_string(),
                m["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn st(c: &str, v: &str, s: &str) -> (String, String, String) {
    (c.into(), v.into(), s.into())
}

#[test]
fn an_older_image_undoes_what_a_newer_one_applied_and_the_newer_one_applies_it_again() {
    let db = PgServer::shared().fresh_db();
    let (new, old) = (newer(), older());
    let v1_schema = schema_built_by(old.path());
    let v3_schema = schema_built_by(new.path());
    assert_ne!(v1_schema, v3_schema);

    run(&db, new.path(), "migrate").assert_success();
    assert_eq!(schema(&db), v3_schema);
    // Stored with the history rows, placeholders replaced.
    let kept = stored(&db);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(
        (kept[0].0.as_str(), kept[0].1.as_str(), kept[0].2.as_str()),
        ("2", "U2__add_email.sql", U2)
    );
    assert_eq!(
        kept[1].2,
        "-- the stored text has its placeholders replaced\nDROP TABLE public.orders;"
    );

    // `info` of the older image says which applied versions can be undone, as Flyway's
    // Undoable column does.
    let info = sg(&db, old.path()).args(["info", "--format", "json"]).run();
    let undoable: Vec<(String, String)> = info.stdout_json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["version"].as_str().unwrap().to_string(),
                m["undoable"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        undoable,
        [
            ("1".into(), "No".into()),
            ("2".into(), "Yes".into()),
            ("3".into(), "Yes".into())
        ]
    );
    let table = sg(&db, old.path()).arg("info").run();
    assert!(table.stdout.contains("| Undoable |"), "{table}");

    // `plan undo` from the older image shows what would run and changes nothing.
    let plan = run(&db, old.path(), "plan");
    plan.assert_success();
    let planned = sg(&db, old.path()).args(["plan", "undo"]).run();
    planned.assert_success();
    assert!(
        planned.stdout.contains("-- the undo of V3 (orders) from schemagate_history_undo/U3__orders.sql as stored when it was applied (1 statements, in one transaction with its UNDO_SQL history row)")
            && planned.stdout.contains("DROP TABLE public.orders;")
            && planned.stdout.find("V3 (orders)") < planned.stdout.find("V2 (add email)"),
        "{planned}"
    );
    assert_eq!(schema(&db), v3_schema, "plan undo changed the schema");

    // The rollback: the older image undoes V3 then V2, from the database alone.
    let out = run(&db, old.path(), "undo");
    out.assert_success();
    assert_eq!(schema(&db), v1_schema, "the schema is back to V1\n{out}");
    assert_eq!(
        rows(&db),
        [
            row("1", "SQL"),
            row("2", "SQL"),
            row("3", "SQL"),
            row("3", "UNDO_SQL"),
            row("2", "UNDO_SQL")
        ]
    );
    let h = db.history(HISTORY);
    assert_eq!(
        (
            h[3].description.as_str(),
            h[3].script.as_str(),
            h[3].checksum
        ),
        (
            "orders",
            "U3__orders.sql",
            Some(schemagate::core::checksum::checksum(&kept[1].2))
        )
    );
    assert!(
        stored(&db).is_empty(),
        "an undone version keeps no stored undo"
    );
    let s = summary(&out);
    assert_eq!(s["undone"], 2, "{out}");
    assert_eq!(s["schema_version_before"], "3");
    assert_eq!(s["schema_version_after"], "1");
    assert!(
        out.termination_log
            .as_deref()
            .unwrap_or_default()
            .contains("2 versions undone; schema version 1"),
        "{out}"
    );
    assert!(out.stderr.contains("undid V3 (orders) in "), "{out}");

    // The older image sees a clean history: validate passes, migrate has nothing to do,
    // info shows what was undone.
    run(&db, old.path(), "validate").assert_success();
    let again = run(&db, old.path(), "migrate");
    again.assert_success();
    assert_eq!(summary(&again)["applied"], 0);
    let info = sg(&db, old.path()).args(["info", "--format", "json"]).run();
    info.assert_success();
    assert_eq!(
        states(&info),
        [
            st("Versioned", "1", "Success"),
            st("Versioned", "2", "Undone"),
            st("Versioned", "3", "Undone"),
            st("Undo", "3", "Success"),
            st("Undo", "2", "Success"),
        ]
    );
    assert_eq!(info.stdout_json()["schemaVersion"], "1");
    // Undo again: nothing above V1, exit 0, no lock taken.
    let noop = run(&db, old.path(), "undo");
    noop.assert_success();
    assert!(noop.stderr.contains("nothing to undo"), "{noop}");

    // The newer image: V2 and V3 are pending again, and migrate re-applies them.
    let info = sgp(&db, new.path())
        .args(["info", "--format", "json"])
        .run();
    assert_eq!(
        states(&info)[5..],
        [
            st("Versioned", "2", "Pending"),
            st("Versioned", "3", "Pending")
        ]
    );
    run(&db, new.path(), "validate").assert_success();
    let forward = run(&db, new.path(), "migrate");
    forward.assert_success();
    assert_eq!(summary(&forward)["applied"], 2, "{forward}");
    assert_eq!(schema(&db), v3_schema);
    assert_eq!(
        stored(&db).len(),
        2,
        "re-applied versions store their undo again"
    );

    // And back once more: every cycle undoes the newest rows, not the first ones.
    run(&db, new.path(), "undo").assert_success();
    assert_eq!(
        schema(&db),
        v3_schema,
        "the newer image's own target is V3: nothing to undo"
    );
    sgp(&db, new.path())
        .args(["undo", "--target", "2"])
        .run()
        .assert_success();
    assert!(!db.table_exists("orders"));
    assert!(db.table_exists("users"));
    let types: Vec<String> = rows(&db)
        .into_iter()
        .map(|(v, t, _)| format!("{v}:{t}"))
        .collect();
    assert_eq!(
        types,
        [
            "1:SQL",
            "2:SQL",
            "3:SQL",
            "3:UNDO_SQL",
            "2:UNDO_SQL",
            "2:SQL",
            "3:SQL",
            "3:UNDO_SQL"
        ]
    );
}

#[test]
fn every_reason_to_refuse_is_named_and_nothing_is_undone() {
    let db = PgServer::shared().fresh_db();
    // V3 has no undo, V4 is a contract.
    let dir = migrations_dir(&[
        ("V1__users.sql", V1),
        ("V2__add_email.sql", V2),
        ("U2__add_email.sql", U2),
        ("V3__audit.sql", "CREATE TABLE audit (id int);"),
        (
            "V4__drop_name.sql",
            "-- schemagate:contract\nALTER TABLE users DROP COLUMN name;",
        ),
        (
            "U4__drop_name.sql",
            "ALTER TABLE users ADD COLUMN name text;",
        ),
    ]);
    sg(&db, dir.path())
        .env("SCHEMAGATE_CONTRACT", "apply")
        .run()
        .assert_success();
    let (before_schema, before_rows, before_stored) = (schema(&db), rows(&db), stored(&db));
    let old = older();
    let out = run(&db, old.path(), "undo");
    out.assert_code(65);
    let msg = out.termination_log.clone().unwrap_or_default();
    assert!(
        msg.contains("undo to V1 refused, nothing was undone"),
        "{out}"
    );
    assert!(
        msg.contains("V4 (drop name) is a contract script")
            && msg.contains("SCHEMAGATE_UNDO_CONTRACT=true"),
        "{out}"
    );
    assert!(msg.contains("V3 (audit) has no undo"), "{out}");
    // A stored undo edited in the table is caught by its checksum.
    db.exec("UPDATE schemagate_history_undo SET sql = 'DROP TABLE users;' WHERE version = '2'");
    let tampered = run(&db, old.path(), "undo");
    tampered.assert_code(65);
    assert!(
        tampered.stderr.contains(
            "the undo stored for V2 (add email) (U2__add_email.sql) does not match its checksum"
        ),
        "{tampered}"
    );
    assert_eq!(schema(&db), before_schema);
    assert_eq!(rows(&db), before_rows);
    assert_eq!(stored(&db).len(), before_stored.len());
    assert_eq!(db.advisory_locks_held(), 0);

    // Allowed, and with V3 and V2 given undo: the contract's undo brings the column back
    // (not its data), and everything goes back to V1.
    db.client()
        .execute(
            "UPDATE schemagate_history_undo SET sql = $1, checksum = $2 WHERE version = '2'",
            &[&U2, &schemagate::core::checksum::checksum(U2)],
        )
        .unwrap();
    write_file(dir.path(), "U3__audit.sql", "DROP TABLE audit;");
    let out = sg(&db, dir.path())
        .args(["undo", "--target", "1"])
        .env("SCHEMAGATE_UNDO_CONTRACT", "true")
        .run();
    out.assert_success();
    assert!(
        out.stderr.contains("U3__audit.sql of this image"),
        "the file serves the version stored without one\n{out}"
    );
    assert_eq!(
        db.query_rows("SELECT name FROM users").concat(),
        [None],
        "the dropped column is back, empty"
    );
    assert!(!db.table_exists("audit"));
}

#[test]
fn an_undo_that_refuses_a_transaction_runs_statement_by_statement() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__users.sql", V1),
        (
            "V2__drop_idx.sql",
            "CREATE INDEX users_name ON users (name);",
        ),
        ("V3__drop_idx.sql", "DROP INDEX CONCURRENTLY users_name;"),
        (
            "U3__drop_idx.sql",
            "CREATE INDEX CONCURRENTLY users_name ON users (name);",
        ),
    ]);
    run(&db, dir.path(), "migrate").assert_success();
    let out = sg(&db, dir.path()).args(["undo", "--target", "2"]).run();
    out.assert_success();
    assert!(
        out.stderr.contains("running outside a transaction"),
        "{out}"
    );
    assert_eq!(
        db.query_scalar(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_name'::regclass"
        )
        .as_deref(),
        Some("t")
    );
    assert_eq!(rows(&db).last(), Some(&row("3", "UNDO_SQL")));
}

#[test]
fn an_undo_file_without_its_script_is_refused_before_connecting() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__users.sql", V1), ("U2__nothing.sql", "SELECT 1;")]);
    let out = run(&db, dir.path(), "migrate");
    out.assert_code(65);
    assert!(
        out.stderr
            .contains("U2__nothing.sql: there is no V2__*.sql for this undo file"),
        "{out}"
    );
    assert!(!db.table_exists(HISTORY));
}

#[test]
fn a_failing_undo_is_rolled_back_and_named_with_its_place() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__users.sql", V1),
        ("V2__add_email.sql", V2),
        (
            "U2__add_email.sql",
            "ALTER TABLE users DROP COLUMN email;\nDROP TABLE no_such_table;",
        ),
    ]);
    run(&db, dir.path(), "migrate").assert_success();
    let out = sg(&db, dir.path()).args(["undo", "--target", "1"]).run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("the undo of V2 (add email) failed at schemagate_history_undo/U2__add_email.sql:2:1: ERROR 42P01"),
        "{out}"
    );
    // Rolled back: the column is still there, no undo row, the stored undo kept.
    assert!(db.query_scalar("SELECT email FROM users").is_none());
    assert_eq!(rows(&db), [row("1", "SQL"), row("2", "SQL")]);
    assert_eq!(stored(&db).len(), 1);
}

#[test]
fn an_undo_that_stops_part_way_outside_a_transaction_leaves_a_failed_row_until_repair() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__users.sql", V1),
        (
            "V2__idx.sql",
            "CREATE INDEX users_name ON users (name);\nCREATE TABLE extra (id int);",
        ),
        (
            "U2__idx.sql",
            "DROP INDEX CONCURRENTLY users_name;\nDROP TABLE no_such_table;\nDROP TABLE extra;",
        ),
    ]);
    run(&db, dir.path(), "migrate").assert_success();
    let out = sg(&db, dir.path()).args(["undo", "--target", "1"]).run();
    out.assert_code(3);
    assert!(
        out.stderr.contains(
            "the undo of V2 (idx) stopped part-way outside a transaction at statement 2 of 3"
        ) && out
            .stderr
            .contains("run `schemagate repair` and undo again"),
        "{out}"
    );
    assert_eq!(
        rows(&db).last(),
        Some(&("2".to_string(), "UNDO_SQL".to_string(), false))
    );
    // Half-undone: neither migrate nor undo goes on, and both say why.
    for command in ["migrate", "undo"] {
        let blocked = sg(&db, dir.path()).args([command, "--target", "1"]).run();
        blocked.assert_code(3);
        assert!(
            blocked
                .stderr
                .contains("the undo of V2 (idx) failed part-way"),
            "{blocked}"
        );
    }
    // Put back what it undid, fix the undo file, and repair: it removes the failed row and
    // stores the fixed file in place of the undo stored with V2.
    db.exec("CREATE INDEX users_name ON users (name);");
    write_file(
        dir.path(),
        "U2__idx.sql",
        "DROP INDEX CONCURRENTLY users_name;\nDROP TABLE extra;",
    );
    let repaired = sg(&db, dir.path()).arg("repair").run();
    repaired.assert_success();
    assert!(
        repaired
            .stderr
            .contains("stored U2__idx.sql as the undo of V2"),
        "{repaired}"
    );
    assert_eq!(
        stored(&db)[0].2,
        "DROP INDEX CONCURRENTLY users_name;\nDROP TABLE extra;"
    );
    let out = sg(&db, dir.path()).args(["undo", "--target", "1"]).run();
    out.assert_success();
    assert!(!db.table_exists("extra"));
    assert_eq!(rows(&db).last(), Some(&row("2", "UNDO_SQL")));
}
