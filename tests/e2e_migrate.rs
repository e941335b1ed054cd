//! End-to-end: the real binary applying, validating and refusing scripts against a real PostgreSQL.

mod common;

use common::*;

const T: &str = "schemagate_history";

fn ordered_folder() -> tempfile::TempDir {
    migrations_dir(&[
        ("V10__ten.sql", "CREATE TABLE ten (id int);"),
        ("V2__two.sql", "CREATE TABLE two (id int);"),
        (
            "V1__one.sql",
            "CREATE TABLE one (id int);\nINSERT INTO one VALUES (1);",
        ),
        ("sub/V1.1__one_one.sql", "CREATE TABLE one_one (id int);"),
        ("V7.1__seven_one.sql", "CREATE TABLE seven_one (id int);"),
        (
            "R__view.sql",
            "CREATE OR REPLACE VIEW v AS SELECT id FROM ten;",
        ),
    ])
}

#[test]
fn fresh_apply_follows_numeric_order_and_a_second_run_is_a_no_op() {
    let db = PgServer::shared().fresh_db();
    let dir = ordered_folder();
    let out = sg(&db, dir.path()).run();
    out.assert_success();
    assert_eq!(
        versions(&db, T),
        [
            (some("1"), true),
            (some("1.1"), true),
            (some("2"), true),
            (some("7.1"), true),
            (some("10"), true),
            (None, true)
        ]
    );
    let rows = db.history(T);
    assert_eq!(
        rows.iter().map(|r| r.installed_rank).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(rows[1].script, "sub/V1.1__one_one.sql");
    assert_eq!(rows[1].description, "one one");
    assert_eq!(rows[0].type_, "SQL");
    assert_eq!(rows[0].installed_by, "postgres");
    assert!(db.table_exists("seven_one") && db.table_exists("v"));
    let s = summary(&out);
    assert_eq!(s["applied"], 6);
    assert_eq!(s["schema_version_after"], "10");

    let again = sg(&db, dir.path()).run();
    again.assert_success();
    assert!(again.stderr.contains("schema is up to date"), "{again}");
    assert_eq!(summary(&again)["applied"], 0);
    assert_eq!(db.history(T).len(), 6);
    assert_eq!(db.advisory_locks_held(), 0);
}

#[test]
fn a_crlf_copy_of_an_applied_file_is_not_drift() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__t.sql", "CREATE TABLE t (\n  id int\n);\n")]);
    sg(&db, dir.path()).run().assert_success();
    write_file(
        dir.path(),
        "V1__t.sql",
        "CREATE TABLE t (\r\n  id int\r\n);\r\n",
    );
    sg(&db, dir.path()).arg("validate").run().assert_success();
    sg(&db, dir.path()).run().assert_success();
}

#[test]
fn an_edited_applied_file_is_refused_with_its_name() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__t.sql", "CREATE TABLE t (id int);"),
        ("V2__u.sql", "CREATE TABLE u (id int);"),
    ]);
    sg(&db, dir.path()).run().assert_success();
    write_file(dir.path(), "V1__t.sql", "CREATE TABLE t (id bigint);");
    write_file(dir.path(), "V3__w.sql", "CREATE TABLE w (id int);");
    let out = sg(&db, dir.path()).run();
    out.assert_code(65);
    assert!(
        out.stderr.contains("V1 (t) was applied with checksum")
            && out.stderr.contains("V1__t.sql now hashes to"),
        "{out}"
    );
    assert!(!db.table_exists("w"), "nothing may run after drift");
    sg(&db, dir.path()).arg("validate").run().assert_code(65);
    assert!(
        out.termination_log
            .as_deref()
            .unwrap_or("")
            .contains("exit 65"),
        "{out}"
    );
}

#[test]
fn a_pending_version_below_the_newest_applied_needs_out_of_order() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V3__c.sql", "CREATE TABLE c (id int);"),
    ]);
    sg(&db, dir.path()).run().assert_success();
    write_file(
        dir.path(),
        "V2__hotfix.sql",
        "CREATE TABLE hotfix (id int);",
    );
    let out = sg(&db, dir.path()).run();
    out.assert_code(65);
    assert!(
        out.stderr.contains("V2 (hotfix)") && out.stderr.contains("SCHEMAGATE_OUT_OF_ORDER"),
        "{out}"
    );
    assert!(!db.table_exists("hotfix"));
    sg(&db, dir.path())
        .env("SCHEMAGATE_OUT_OF_ORDER", "true")
        .run()
        .assert_success();
    assert_eq!(
        versions(&db, T),
        [(some("1"), true), (some("3"), true), (some("2"), true)]
    );
    let info = sg(&db, dir.path()).args(["info", "--format", "json"]).run();
    info.assert_success();
    let json = info.stdout_json();
    let states: Vec<&str> = json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["Success", "Success", "Out of Order"]);
}

#[test]
fn an_older_folder_against_a_newer_database_is_tolerated() {
    let db = PgServer::shared().fresh_db();
    let new = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__b.sql", "CREATE TABLE b (id int);"),
    ]);
    sg(&db, new.path()).run().assert_success();
    let old = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    let out = sg(&db, old.path()).run();
    out.assert_success();
    assert!(
        out.stderr
            .contains("V2 (b) is applied but no local file has it"),
        "{out}"
    );
    sg(&db, old.path()).arg("validate").run().assert_success();
    assert_eq!(db.history(T).len(), 2);
}

#[test]
fn a_deleted_applied_file_is_refused_unless_ignored() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__b.sql", "CREATE TABLE b (id int);"),
    ]);
    sg(&db, dir.path()).run().assert_success();
    std::fs::remove_file(dir.path().join("V1__a.sql")).unwrap();
    let out = sg(&db, dir.path()).run();
    out.assert_code(65);
    assert!(
        out.stderr.contains("V1 (a) is applied")
            && out.stderr.contains("SCHEMAGATE_IGNORE_MISSING"),
        "{out}"
    );
    sg(&db, dir.path())
        .env("SCHEMAGATE_IGNORE_MISSING", "true")
        .run()
        .assert_success();
}

#[test]
fn a_misnamed_file_is_refused_before_connecting() {
    let dir = migrations_dir(&[
        ("V1__ok.sql", "SELECT 1;"),
        ("V2_init.sql", "SELECT 2;"),
        ("notes.md", "ignored"),
    ]);
    // No database at all: the name check comes first.
    let out = Sg::new(BIN)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string())
        .env("PGUSER", "nobody")
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .run();
    out.assert_code(65);
    assert!(out.stderr.contains("V2_init.sql"), "{out}");
    assert!(
        out.elapsed < std::time::Duration::from_secs(5),
        "waited for a database first: {out}"
    );
}

#[test]
fn a_failing_statement_rolls_its_script_back_and_is_located() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__ok.sql", "CREATE TABLE ok (id int);"),
        (
            "V2__bad.sql",
            "CREATE TABLE half (id int);\n\nINSERT INTO half VALUES (1);\nSELECT no_such_column\n  FROM half;\n",
        ),
        ("V3__after.sql", "CREATE TABLE after (id int);"),
    ]);
    let out = sg(&db, dir.path()).run();
    out.assert_code(1);
    assert_eq!(versions(&db, T), [(some("1"), true)]);
    assert!(
        !db.table_exists("half"),
        "the failed script must be rolled back"
    );
    assert!(!db.table_exists("after"));
    assert!(out.stderr.contains("42703"), "{out}");
    assert!(
        out.stderr.contains("V2__bad.sql:4:8"),
        "file:line:column of the failing token\n{out}"
    );
    let log = out.termination_log.clone().unwrap_or_default();
    assert!(
        log.contains("migration-failed (exit 1)") && log.contains("V2__bad.sql:4:8"),
        "{log}"
    );
    assert_eq!(db.advisory_locks_held(), 0);
}

#[test]
fn a_failing_non_transactional_script_is_recorded_as_failed_and_blocks_until_repair() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        (
            "V1__t.sql",
            "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (1);",
        ),
        (
            "V2__idx.sql",
            "CREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE UNIQUE INDEX CONCURRENTLY t_id_unique ON t (id);",
        ),
    ]);
    let out = sg(&db, dir.path()).run();
    out.assert_code(3);
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), false)]);
    assert!(
        out.stderr.contains("statement 2 of 2") && out.stderr.contains("23505"),
        "{out}"
    );
    assert!(out.stderr.contains("dropped the INVALID index"), "{out}");
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
            .as_deref(),
        Some("0")
    );

    let again = sg(&db, dir.path()).run();
    again.assert_code(3);
    assert!(
        again.stderr.contains("V2 (idx) failed part-way")
            && again.stderr.contains("schemagate repair"),
        "{again}"
    );

    write_file(
        dir.path(),
        "V2__idx.sql",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);",
    );
    sg(&db, dir.path()).arg("repair").run().assert_success();
    sg(&db, dir.path()).run().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
}

#[test]
fn repeatables_reapply_when_changed_and_placeholders_are_replaced() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__t.sql", "CREATE TABLE ${table_name} (id int);"),
        (
            "R__v.sql",
            "CREATE OR REPLACE VIEW v AS SELECT id, '${label}' AS label FROM ${table_name};",
        ),
    ]);
    let run = |label: &str| {
        sg(&db, dir.path())
            .env("SCHEMAGATE_PLACEHOLDER_TABLE_NAME", "items")
            .env("SCHEMAGATE_PLACEHOLDER_LABEL", label)
            .run()
    };
    run("one").assert_success();
    assert!(db.table_exists("items"));
    run("one").assert_success();
    assert_eq!(
        db.history(T).len(),
        2,
        "unchanged repeatable must not re-run"
    );
    run("two").assert_success();
    assert_eq!(
        versions(&db, T),
        [(some("1"), true), (None, true), (None, true)]
    );
    db.exec("INSERT INTO items VALUES (1)");
    assert_eq!(
        db.query_scalar("SELECT label FROM v").as_deref(),
        Some("two")
    );

    let missing = sg(&db, dir.path())
        .env("SCHEMAGATE_PLACEHOLDER_LABEL", "x")
        .run();
    missing.assert_code(65);
    assert!(
        missing.stderr.contains("SCHEMAGATE_PLACEHOLDER_TABLE_NAME"),
        "{missing}"
    );
}

#[test]
fn a_flyway_history_table_is_continued_without_repair() {
    let db = PgServer::shared().fresh_db();
    let vectors = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/flyway-checksum-vectors/flyway-sources"
    );
    let first = std::fs::read_to_string(format!("{vectors}/V1__First.sql")).unwrap();
    let view = std::fs::read_to_string(format!("{vectors}/V1.1__View.sql")).unwrap();
    // The table and rows exactly as Flyway (>= 9, PostgreSQL) writes them, with the checksums
    // Flyway's own tests assert for these two files.
    db.exec(
        r#"CREATE TABLE "public"."flyway_schema_history" (
            "installed_rank" INT NOT NULL, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL,
            "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER,
            "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
            "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL);
        ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
        CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");
        INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES
          (1, '1', 'First', 'SQL', 'V1__First.sql', 454910647, 'flyway', 12, true),
          (2, '1.1', 'View', 'SQL', 'V1.1__View.sql', -133051733, 'flyway', 7, true);"#,
    );
    db.exec(&first);
    db.exec(&view);
    let dir = migrations_dir(&[
        ("V1__First.sql", &first),
        ("V1.1__View.sql", &view),
        ("V2__next.sql", "CREATE TABLE next_step (id int);"),
    ]);
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_TABLE", "flyway_schema_history")
        .run();
    out.assert_success();
    let rows = db.history("flyway_schema_history");
    assert_eq!(rows.len(), 3, "{out}");
    assert_eq!(
        (
            rows[2].installed_rank,
            rows[2].version.as_deref(),
            rows[2].type_.as_str()
        ),
        (3, Some("2"), "SQL")
    );
    assert!(
        !db.table_exists(T),
        "must not create its own table when told to use Flyway's"
    );
}

#[test]
fn wait_returns_when_up_to_date_and_times_out_on_pending_writing_nothing() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    let pending = sg(&db, dir.path())
        .arg("wait")
        .env("SCHEMAGATE_DEADLINE", "3s")
        .run();
    pending.assert_code(124);
    assert!(!db.table_exists(T), "wait must never write");
    sg(&db, dir.path()).run().assert_success();
    sg(&db, dir.path()).arg("wait").run().assert_success();
}

#[test]
fn wait_returns_as_soon_as_the_migrate_job_finishes() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    let mut waiting = sg(&db, dir.path())
        .arg("wait")
        .env("SCHEMAGATE_DEADLINE", "30s")
        .spawn();
    waiting.wait_for_stderr(
        "waiting for the migrations",
        std::time::Duration::from_secs(10),
    );
    sg(&db, dir.path()).run().assert_success();
    let out = waiting.wait();
    out.assert_success();
    assert!(out.elapsed < std::time::Duration::from_secs(10), "{out}");
}

#[test]
fn info_validate_and_plan_show_without_writing() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__idx.sql", "CREATE INDEX CONCURRENTLY a_id ON a (id);"),
    ]);
    let info = sg(&db, dir.path()).arg("info").run();
    info.assert_success();
    let row = |v: &str, d: &str| {
        info.stdout.lines().any(|l| {
            l.contains(&format!("| {v} "))
                && l.contains(&format!("| {d} "))
                && l.contains("| Pending")
        })
    };
    assert!(row("1", "a") && row("2", "idx"), "{info}");
    let plan = sg(&db, dir.path()).arg("plan").run();
    plan.assert_success();
    assert!(
        plan.stdout.contains("CREATE TABLE a (id int);")
            && plan
                .stdout
                .contains("outside a transaction (CREATE INDEX CONCURRENTLY)"),
        "{plan}"
    );
    sg(&db, dir.path()).arg("validate").run().assert_success();
    assert!(!db.table_exists(T) && !db.table_exists("a"));
}

#[test]
fn a_non_empty_schema_needs_a_baseline_first() {
    let db = PgServer::shared().fresh_db();
    db.exec("CREATE TABLE legacy (id int);");
    let dir = migrations_dir(&[
        ("V1__legacy.sql", "CREATE TABLE legacy (id int);"),
        ("V2__next.sql", "CREATE TABLE next_one (id int);"),
    ]);
    let out = sg(&db, dir.path()).run();
    out.assert_code(65);
    assert!(
        out.stderr.contains("SCHEMAGATE_BASELINE_ON_MIGRATE"),
        "{out}"
    );
    sg(&db, dir.path())
        .env("SCHEMAGATE_BASELINE_ON_MIGRATE", "true")
        .run()
        .assert_success();
    let rows = db.history(T);
    assert_eq!(rows[0].type_, "BASELINE");
    assert_eq!(rows[0].description, "<< Flyway Baseline >>");
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
}

#[test]
fn a_configmap_volume_is_read_once_through_its_symlinks() {
    let db = PgServer::shared().fresh_db();
    // The layout kubelet writes for a ConfigMap volume: the files live in a timestamped
    // dot-folder, `..data` points at it, and each key is a symlink through `..data`.
    let vol = tempfile::tempdir().unwrap();
    let stamp = vol.path().join("..2026_11_21_10_00_00.123456789");
    std::fs::create_dir(&stamp).unwrap();
    write_file(&stamp, "V1__a.sql", "CREATE TABLE a (id int);");
    write_file(&stamp, "V2__b.sql", "CREATE TABLE b (id int);");
    std::os::unix::fs::symlink(stamp.file_name().unwrap(), vol.path().join("..data")).unwrap();
    for f in ["V1__a.sql", "V2__b.sql"] {
        std::os::unix::fs::symlink(format!("..data/{f}"), vol.path().join(f)).unwrap();
    }
    let out = sg(&db, vol.path()).run();
    out.assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
    assert_eq!(db.history(T)[0].script, "V1__a.sql");
}

/// A transactional migration travels as one message with its BEGIN, history row and COMMIT
/// (issue 15); what went wrong is still named by file, line and column. A syntax error refuses
/// the whole message before any of it runs; an error without a position is the statement the
/// server did not finish; a callback's error is the callback's.
#[test]
fn a_migration_sent_as_one_message_still_names_its_failing_line() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__ok.sql", "CREATE TABLE ok (id int PRIMARY KEY);"),
        (
            "V2__syntax.sql",
            "-- ünïcödé\nCREATE TABLE s (id int);\nSELECT 'é' FROM s WHER id = 1;\n",
        ),
    ]);
    let out = sg(&db, dir.path()).run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("42601") && out.stderr.contains("V2__syntax.sql:3:24"),
        "the syntax error's own line and column (characters, not bytes)\n{out}"
    );
    assert!(
        !out.stderr.contains("no transaction in progress"),
        "a refused message opened no transaction to roll back\n{out}"
    );
    assert!(!db.table_exists("s"));
    assert_eq!(versions(&db, T), [(some("1"), true)]);

    std::fs::remove_file(dir.path().join("V2__syntax.sql")).unwrap();
    write_file(
        dir.path(),
        "V2__dup.sql",
        "CREATE TABLE u (id int PRIMARY KEY);\n\nINSERT INTO u VALUES (1);\n  INSERT INTO u VALUES (1);\n",
    );
    let out = sg(&db, dir.path()).run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("23505") && out.stderr.contains("V2__dup.sql:4:3"),
        "an error without a position names the statement that failed\n{out}"
    );
    assert!(
        !db.table_exists("u"),
        "the failed script must be rolled back"
    );

    std::fs::remove_file(dir.path().join("V2__dup.sql")).unwrap();
    write_file(dir.path(), "V2__fine.sql", "CREATE TABLE fine (id int);");
    write_file(
        dir.path(),
        "afterEachMigrate.sql",
        "SELECT 1;\nSELECT 1 / (SELECT count(*) FROM ok);\n",
    );
    let out = sg(&db, dir.path()).run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("22012") && out.stderr.contains("afterEachMigrate.sql:2:1"),
        "an after-each callback's error is located in the callback\n{out}"
    );
    assert!(
        !db.table_exists("fine"),
        "the callback runs in the migration's transaction"
    );
    assert_eq!(versions(&db, T), [(some("1"), true)]);
    assert_eq!(db.advisory_locks_held(), 0);
}

/// In one message PostgreSQL (13+) still applies `statement_timeout` to each statement, not to
/// the message: two statements that together outlast it pass, one that alone does is cut and
/// located.
#[test]
fn statement_timeout_applies_to_each_statement_of_a_migration_sent_as_one_message() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[(
        "V1__two_naps.sql",
        "SELECT pg_sleep(0.4);\nSELECT pg_sleep(0.4);\nCREATE TABLE rested (id int);",
    )]);
    sg(&db, dir.path())
        .env("SCHEMAGATE_STATEMENT_TIMEOUT", "700ms")
        .run()
        .assert_success();
    let rows = db.query_rows(&format!(
        "SELECT execution_time FROM {T} WHERE version = '1'"
    ));
    let ms: i64 = rows[0][0].as_deref().unwrap().parse().unwrap();
    assert!(
        (800..5000).contains(&ms),
        "execution_time is the server's time for the migration: {ms} ms"
    );
    write_file(
        dir.path(),
        "V2__long_nap.sql",
        "CREATE TABLE half (id int);\nSELECT pg_sleep(3);",
    );
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_STATEMENT_TIMEOUT", "700ms")
        .run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("57014") && out.stderr.contains("V2__long_nap.sql:2:1"),
        "{out}"
    );
    assert!(!db.table_exists("half"));
}
