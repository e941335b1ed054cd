//! End-to-end: many runners at once, the advisory lock, and CREATE INDEX CONCURRENTLY while others wait.

mod common;

use std::time::Duration;

use common::*;

const T: &str = "schemagate_history";

/// Flyway's key for `"public"."schemagate_history"` (the Java hash of the quoted name + "Flyway").
fn lock_key(db: &TestDb) -> i64 {
    let q = "SELECT x'466C79776179'::bigint";
    let base: i64 = db.query_scalar(q).unwrap().parse().unwrap();
    let mut h: i32 = 0;
    for u in "\"public\".\"schemagate_history\"".encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(u));
    }
    base + i64::from(h)
}

#[test]
fn eight_runners_at_once_on_a_fresh_database_apply_each_version_once() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        (
            "V2__b.sql",
            "CREATE TABLE b (id int); SELECT pg_sleep(0.2);",
        ),
        ("V3__c.sql", "CREATE TABLE c (id int);"),
        ("R__v.sql", "CREATE OR REPLACE VIEW v AS SELECT id FROM c;"),
    ]);
    let runners: Vec<_> = (0..8).map(|_| sg(&db, dir.path()).spawn()).collect();
    for r in runners {
        r.wait().assert_success();
    }
    assert_eq!(
        versions(&db, T),
        [
            (some("1"), true),
            (some("2"), true),
            (some("3"), true),
            (None, true)
        ]
    );
    assert_eq!(db.advisory_locks_held(), 0);
    assert_eq!(db.backends_with_app_prefix("schemagate"), 0);
}

#[test]
fn create_index_concurrently_does_not_hang_while_other_runners_wait_for_the_lock() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        (
            "V1__big.sql",
            "CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 200000) g;\nSELECT pg_sleep(1);",
        ),
        (
            "V2__idx.sql",
            "CREATE INDEX CONCURRENTLY big_id ON big (id);",
        ),
        ("V3__after.sql", "CREATE TABLE after_idx (id int);"),
    ]);
    let runners: Vec<_> = (0..4).map(|_| sg(&db, dir.path()).spawn()).collect();
    for r in runners {
        let out = r.wait();
        out.assert_success();
        assert!(out.elapsed < Duration::from_secs(30), "{out}");
    }
    assert_eq!(
        db.query_scalar(
            "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'big_id'::regclass"
        )
        .as_deref(),
        Some("true")
    );
    assert_eq!(
        versions(&db, T),
        [(some("1"), true), (some("2"), true), (some("3"), true)]
    );
}

#[test]
fn a_runner_that_cannot_get_the_lock_in_time_exits_75_naming_the_holder() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    let key = lock_key(&db);
    let mut holder = db.client_with_app("lock-holder-test");
    holder
        .simple_query(&format!("SELECT pg_advisory_lock({key})"))
        .unwrap();
    let holder_pid = db
        .query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'lock-holder-test'",
        )
        .unwrap();

    let out = sg(&db, dir.path()).env("SCHEMAGATE_LOCK_WAIT", "2s").run();
    out.assert_code(75);
    assert!(
        out.stderr.contains(&format!("pid {holder_pid}"))
            && out.stderr.contains("lock-holder-test"),
        "{out}"
    );
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
    assert!(!db.table_exists("a"));
    assert_eq!(
        db.advisory_locks_waiting(),
        0,
        "the wait must never sit in the server"
    );

    holder
        .simple_query(&format!("SELECT pg_advisory_unlock({key})"))
        .unwrap();
    sg(&db, dir.path()).run().assert_success();
}

#[test]
fn up_to_date_runners_do_not_queue_for_the_lock() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    sg(&db, dir.path()).run().assert_success();
    let key = lock_key(&db);
    let mut holder = db.client_with_app("lock-holder-test");
    holder
        .simple_query(&format!("SELECT pg_advisory_lock({key})"))
        .unwrap();
    // Somebody holds the lock, but nothing is pending: exit 0 at once, without waiting.
    let out = sg(&db, dir.path()).env("SCHEMAGATE_LOCK_WAIT", "20s").run();
    out.assert_success();
    assert!(out.elapsed < Duration::from_secs(5), "{out}");
}

#[test]
fn a_migration_behind_a_long_transaction_gives_up_at_lock_timeout_and_retries() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__orders.sql", "CREATE TABLE orders (id int);")]);
    sg(&db, dir.path()).run().assert_success();
    write_file(
        dir.path(),
        "V2__alter.sql",
        "ALTER TABLE orders ADD COLUMN note text;",
    );

    let mut blocker = db.client_with_app("long-transaction");
    blocker
        .batch_execute("BEGIN; SELECT * FROM orders;")
        .unwrap();
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_LOCK_TIMEOUT", "200ms")
        .env("SCHEMAGATE_LOCK_RETRIES", "2")
        .run();
    out.assert_code(75);
    assert!(
        out.stderr.contains("55P03") && out.stderr.contains("after 3 attempts"),
        "{out}"
    );
    assert!(
        out.stderr.contains("held by pid") && out.stderr.contains("long-transaction"),
        "the blocker is named\n{out}"
    );
    assert_eq!(
        out.stderr_json_lines()
            .iter()
            .filter(|l| l["message"].as_str().unwrap_or("").contains("retrying"))
            .count(),
        2,
        "{out}"
    );
    assert_eq!(versions(&db, T), [(some("1"), true)]);

    // The blocker ends while the runner is backing off: the retry gets through.
    let running = sg(&db, dir.path())
        .env("SCHEMAGATE_LOCK_TIMEOUT", "200ms")
        .env("SCHEMAGATE_LOCK_RETRIES", "20")
        .spawn();
    std::thread::sleep(Duration::from_millis(700));
    blocker.batch_execute("COMMIT").unwrap();
    running.wait().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
}

#[test]
fn a_runner_that_starts_while_a_script_runs_outside_a_transaction_waits_instead_of_exiting_3() {
    let db = PgServer::shared().fresh_db();
    // The holder writes this script's row as failed before its first statement.
    let dir = migrations_dir(&[
        (
            "V1__slow.sql",
            "CREATE TABLE slow (id int);\nSELECT pg_sleep(2);",
        ),
        ("V1__slow.sql.conf", "executeInTransaction=false\n"),
        ("V2__after.sql", "CREATE TABLE after_slow (id int);"),
    ]);
    let first = sg(&db, dir.path()).spawn();
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while db.query_scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND application_name LIKE 'schemagate%'").as_deref() != Some("1") {
        assert!(std::time::Instant::now() < until, "the slow script never started\n{}", first.stderr_so_far());
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = sg(&db, dir.path()).run();
    second.assert_success();
    first.wait().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
}
