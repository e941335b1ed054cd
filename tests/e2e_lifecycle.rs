//! End-to-end: signals, the deadline, an absent or late or restarting server, and the exit codes that follow.

mod common;

use std::time::Duration;

use common::*;

const T: &str = "schemagate_history";

fn slow_folder() -> tempfile::TempDir {
    migrations_dir(&[
        ("V1__fast.sql", "CREATE TABLE fast (id int);"),
        (
            "V2__slow.sql",
            "CREATE TABLE slow (id int);\nSELECT pg_sleep(60);",
        ),
    ])
}

fn stop_with(sig: i32, code: i32) {
    let db = PgServer::shared().fresh_db();
    let dir = slow_folder();
    let running = sg(&db, dir.path()).spawn();
    wait_for_statement(&db, "pg_sleep(60)");
    let sent = std::time::Instant::now();
    running.signal(sig);
    let out = running.wait();
    out.assert_code(code);
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?} to stop\n{out}",
        sent.elapsed()
    );
    assert!(
        out.termination_log
            .as_deref()
            .unwrap_or("")
            .contains(&format!("(exit {code})")),
        "{out}"
    );
    stopped_cleanly(&db);
}

#[test]
fn sigterm_during_a_statement_cancels_it_and_exits_143() {
    stop_with(libc::SIGTERM, 143);
}

#[test]
fn sigint_during_a_statement_cancels_it_and_exits_130() {
    stop_with(libc::SIGINT, 130);
}

#[test]
fn the_deadline_cancels_the_run_and_exits_124() {
    let db = PgServer::shared().fresh_db();
    let dir = slow_folder();
    let out = sg(&db, dir.path()).env("SCHEMAGATE_DEADLINE", "3s").run();
    out.assert_code(124);
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
    assert!(out.stderr.contains("SCHEMAGATE_DEADLINE expired"), "{out}");
    stopped_cleanly(&db);
}

#[test]
fn nothing_listening_exits_69_after_the_wait_timeout() {
    let dir = slow_folder();
    let out = Sg::new(BIN)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string())
        .env("PGUSER", "postgres")
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "3s")
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .run();
    out.assert_code(69);
    assert!(
        out.elapsed >= Duration::from_secs(3) && out.elapsed < Duration::from_secs(8),
        "{out}"
    );
    let attempts = out
        .stderr_json_lines()
        .iter()
        .filter(|l| l.get("attempt").is_some())
        .count();
    assert!(attempts >= 3, "every attempt is logged\n{out}");
}

#[test]
fn a_database_that_starts_three_seconds_late_is_waited_for() {
    let port = free_port_for_later();
    let dir = slow_folder();
    std::fs::remove_file(dir.path().join("V2__slow.sql")).unwrap();
    let running = Sg::new(BIN)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", port.to_string())
        .env("PGUSER", "postgres")
        .env("PGSSLMODE", "disable")
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .spawn();
    std::thread::sleep(Duration::from_secs(3));
    let server = PgServer::start(ServerOptions {
        port: Some(port),
        ..ServerOptions::default()
    });
    let out = running.wait();
    out.assert_success();
    assert!(out.elapsed >= Duration::from_secs(3), "{out}");
    let mut admin = server.admin_client("postgres");
    let n: i64 = admin
        .query_one("SELECT count(*) FROM schemagate_history WHERE success", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[test]
fn a_fast_shutdown_mid_run_fails_retryably_and_the_rerun_finishes() {
    let server = PgServer::start(ServerOptions::default());
    let db = server.fresh_db();
    let dir = slow_folder();
    let running = sg(&db, dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "2s")
        .spawn();
    wait_for_statement(&db, "pg_sleep(60)");
    server.stop_fast();
    let out = running.wait();
    assert!(
        matches!(out.code, Some(69)),
        "a lost server is retryable (69)\n{out}"
    );
    server.start_again();
    write_file(
        dir.path(),
        "V2__slow.sql",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(0.1);",
    );
    sg(&db, dir.path()).run().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
}

#[test]
fn usage_config_and_panic_have_their_own_codes() {
    let out = Sg::new(BIN).arg("migrat").run();
    out.assert_code(64);
    assert!(out.stderr.contains("unknown command `migrat`"), "{out}");
    Sg::new(BIN).args(["--deadlin", "5m"]).run().assert_code(64);

    let out = Sg::new(BIN)
        .env("SCHEMAGATE_DEADLNE", "5m")
        .env("PGUSER", "x")
        .run();
    out.assert_code(78);
    assert!(
        out.stderr.contains("SCHEMAGATE_DEADLINE"),
        "did you mean\n{out}"
    );
    assert!(
        out.termination_log
            .as_deref()
            .unwrap_or("")
            .contains("config (exit 78)"),
        "{out}"
    );
    Sg::new(BIN)
        .env("SCHEMAGATE_DEADLINE", "5 minutes")
        .env("PGUSER", "x")
        .run()
        .assert_code(78);

    let out = Sg::new(BIN)
        .arg("internal-crash-test")
        .env("DATABASE_URL", "postgres://app:hunter2secret@db/app")
        .run();
    out.assert_code(70);
    assert!(out.stderr.contains("internal error"), "{out}");
    for text in [
        &out.stdout,
        &out.stderr,
        out.termination_log.as_ref().unwrap(),
    ] {
        assert!(
            !text.contains("hunter2secret"),
            "the password leaked\n{out}"
        );
    }
}

#[test]
fn version_prints_the_exit_code_table_as_json() {
    let out = Sg::new(BIN)
        .args(["version", "--exit-codes", "--format", "json"])
        .run();
    out.assert_success();
    let table = out.stdout_json();
    let codes: Vec<i64> = table
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [0, 1, 3, 64, 65, 69, 70, 75, 77, 78, 124, 130, 143]);
    let plain = Sg::new(BIN).arg("version").run();
    assert!(
        plain.stdout.starts_with("schemagate 0.1.0 (commit "),
        "{plain}"
    );
}

/// A backend that cannot answer (stopped with SIGSTOP) ignores our cancel request, so the
/// graceful stop cannot finish: a second signal exits at once, and a single one gives up
/// by itself well inside Kubernetes' 30 s grace period.
fn stuck_backend_run(db: &TestDb, dir: &std::path::Path) -> (Running, i32) {
    let running = sg(db, dir).spawn();
    let pid = wait_for_statement(db, "pg_sleep(60)");
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    (running, pid)
}

#[test]
fn a_second_signal_exits_at_once_and_one_signal_gives_up_within_ten_seconds() {
    let db = PgServer::shared().fresh_db();
    let dir = slow_folder();

    let (running, backend) = stuck_backend_run(&db, dir.path());
    running.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(1500));
    let mut running = running;
    assert!(
        running.is_running(),
        "the first signal is graceful and the backend cannot answer yet"
    );
    let sent = std::time::Instant::now();
    running.signal(libc::SIGTERM);
    let out = running.wait();
    out.assert_code(143);
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "the second signal must exit at once\n{out}"
    );
    unsafe { libc::kill(backend, libc::SIGCONT) };
    // The resumed backend sees the cancel and ends; until then it would be mistaken for the
    // next run's statement.
    assert!(no_sessions_left(&db, Duration::from_secs(10)));

    let (running, backend) = stuck_backend_run(&db, dir.path());
    let sent = std::time::Instant::now();
    running.signal(libc::SIGTERM);
    let out = running.wait();
    unsafe { libc::kill(backend, libc::SIGCONT) };
    out.assert_code(143);
    assert!(sent.elapsed() < Duration::from_secs(10), "{out}");
    assert!(out.stderr.contains("did not wind down in time"), "{out}");
    // Once the backend runs again it sees the cancel, rolls back, and its session ends.
    std::thread::sleep(Duration::from_secs(1));
    assert!(!db.table_exists("slow"));
    assert_eq!(db.advisory_locks_held(), 0);
}

#[test]
fn a_restart_or_a_backend_crash_mid_run_is_survived_within_the_wait_budget() {
    let server = PgServer::start(ServerOptions::default());
    let db = server.fresh_db();
    let dir = migrations_dir(&[
        ("V1__fast.sql", "CREATE TABLE fast (id int);"),
        (
            "V2__slow.sql",
            "CREATE TABLE slow (id int);\nSELECT pg_sleep(3);",
        ),
        ("V3__after.sql", "CREATE TABLE after_restart (id int);"),
    ]);
    let slow_backend = |db: &TestDb| wait_for_statement(db, "pg_sleep(3)");

    // A fast shutdown (a node drain), the server back 1 s later.
    let running = sg(&db, dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .spawn();
    slow_backend(&db);
    server.stop_fast();
    std::thread::sleep(Duration::from_secs(1));
    server.start_again();
    let out = running.wait();
    out.assert_success();
    assert!(out.stderr.contains("lost the database mid-run"), "{out}");
    assert_eq!(
        versions(&db, T),
        [(some("1"), true), (some("2"), true), (some("3"), true)]
    );

    // A backend killed: the postmaster resets every session, then accepts connections again.
    let db = server.fresh_db();
    let running = sg(&db, dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .spawn();
    let pid = slow_backend(&db);
    server.kill9_backend(pid);
    let out = running.wait();
    out.assert_success();
    assert_eq!(
        versions(&db, T),
        [(some("1"), true), (some("2"), true), (some("3"), true)]
    );
    assert_eq!(db.advisory_locks_held(), 0);
}

#[test]
fn reset_lock_timeout_in_a_script_still_leaves_our_lock_timeout_in_force() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__orders.sql", "CREATE TABLE orders (id int);")]);
    sg(&db, dir.path()).run().assert_success();
    write_file(
        dir.path(),
        "V2__alter.sql",
        "RESET lock_timeout;\nALTER TABLE orders ADD COLUMN note text;",
    );
    let mut blocker = db.client_with_app("long-transaction");
    blocker
        .batch_execute("BEGIN; SELECT * FROM orders;")
        .unwrap();
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_LOCK_TIMEOUT", "300ms")
        .env("SCHEMAGATE_LOCK_RETRIES", "1")
        .run();
    out.assert_code(75);
    assert!(
        out.elapsed < Duration::from_secs(10),
        "a RESET must not make the ALTER wait without bound\n{out}"
    );
    blocker.batch_execute("COMMIT").unwrap();
}
