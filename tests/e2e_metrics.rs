//! End-to-end: `migrate` pushes its metrics to a real Pushgateway (issue 16), read back by scraping it — after a success, a failure that keeps the last success, a deadline, and during and after a long backfill; the exact pushed text passes `promtool check metrics`; grouping labels are escaped; a dead gateway (closed port, or one that never answers) costs under 2 s and never the exit code; only `migrate` and `undo` push.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

const URL: &str = "SCHEMAGATE_PUSHGATEWAY_URL";

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The grouping labels of `db`'s default history table, with `extra` after them.
fn at<'a>(db: &'a TestDb, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("job", "schemagate"),
        ("database", db.name()),
        ("schema", "public"),
        ("table", HISTORY),
    ];
    v.extend_from_slice(extra);
    v
}

fn push_warnings(out: &Outcome) -> Vec<String> {
    out.stderr_json_lines()
        .into_iter()
        .filter(|l| {
            l["level"] == "WARN" && l["message"].as_str().is_some_and(|m| m.contains("push"))
        })
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn a_successful_run_pushes_its_outcome_and_its_success_time() {
    let gw = Pushgateway::start();
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__b.sql", "CREATE TABLE b (id int);"),
    ]);
    let before = unix_now();
    let out = sg(&db, dir.path()).env(URL, gw.url()).run();
    let after = unix_now();
    out.assert_code(0);
    assert!(push_warnings(&out).is_empty(), "{out}");
    let s = gw.scrape();
    let get = |name: &str, extra: &[(&str, &str)]| s.get(name, &at(&db, extra));
    assert_eq!(
        get("schemagate_run_in_progress", &[]),
        Some(0.0),
        "{}",
        s.text
    );
    assert_eq!(
        get("schemagate_run_exit_code", &[("outcome", "ok")]),
        Some(0.0)
    );
    let success = get("schemagate_last_success_timestamp_seconds", &[]).unwrap();
    assert!(
        before <= success && success <= after,
        "{before} {success} {after}"
    );
    let start = get("schemagate_run_start_timestamp_seconds", &[]).unwrap();
    assert!(start <= success && success - start < 30.0);
    let took = get("schemagate_run_duration_seconds", &[]).unwrap();
    assert!(
        took > 0.0 && took < out.elapsed.as_secs_f64() + 0.5,
        "{took}"
    );
    assert_eq!(get("schemagate_migrations_applied", &[]), Some(2.0));
    assert_eq!(
        get("schemagate_schema_version_info", &[("version", "2")]),
        Some(1.0)
    );
    assert_eq!(
        get("schemagate_migration_duration_seconds_count", &[]),
        Some(2.0)
    );
    assert_eq!(
        get(
            "schemagate_migration_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        Some(2.0)
    );
    // The run's two sessions: the migrations' and the lock's.
    assert!(get("schemagate_connect_attempts", &[]).unwrap() >= 2.0);
    assert!(get("schemagate_lock_wait_seconds", &[]).unwrap() < 1.0);
    for severity in ["error", "warning", "info"] {
        assert_eq!(
            get("schemagate_lint_findings", &[("severity", severity)]),
            Some(0.0)
        );
    }
    assert_eq!(get("schemagate_deferred_contracts", &[]), Some(0.0));
    assert_eq!(get("schemagate_backfill_rows", &[]), Some(0.0));
    assert_eq!(s.all("schemagate_build_info", &at(&db, &[])).len(), 1);
    // The gateway's own record of the group: pushed, never failed.
    assert!(get("push_time_seconds", &[]).unwrap() >= before);
    assert_eq!(get("push_failure_time_seconds", &[]), Some(0.0));
}

#[test]
fn a_failed_run_leaves_the_last_success_in_place() {
    let gw = Pushgateway::start();
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    sg(&db, dir.path()).env(URL, gw.url()).run().assert_code(0);
    let first = gw.scrape();
    let success = first
        .get("schemagate_last_success_timestamp_seconds", &at(&db, &[]))
        .unwrap();

    write_file(
        dir.path(),
        "V2__boom.sql",
        "CREATE TABLE b (id int);\nSELECT 1/0;",
    );
    sg(&db, dir.path()).env(URL, gw.url()).run().assert_code(1);
    let s = gw.scrape();
    let get = |name: &str, extra: &[(&str, &str)]| s.get(name, &at(&db, extra));
    assert_eq!(
        get(
            "schemagate_run_exit_code",
            &[("outcome", "migration-failed")]
        ),
        Some(1.0),
        "{}",
        s.text
    );
    // POST replaced the family: the earlier run's outcome is gone, its success time is not.
    assert_eq!(get("schemagate_run_exit_code", &[("outcome", "ok")]), None);
    assert_eq!(
        get("schemagate_last_success_timestamp_seconds", &[]),
        Some(success)
    );
    assert!(get("schemagate_run_end_timestamp_seconds", &[]).unwrap() > success);
    assert_eq!(get("schemagate_migrations_applied", &[]), Some(0.0));
    assert_eq!(
        get("schemagate_schema_version_info", &[("version", "1")]),
        Some(1.0)
    );
    assert_eq!(get("schemagate_run_in_progress", &[]), Some(0.0));
}

#[test]
fn a_deadline_is_pushed_as_exit_124() {
    let gw = Pushgateway::start();
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__slow.sql", "SELECT pg_sleep(30);")]);
    let out = sg(&db, dir.path())
        .env(URL, gw.url())
        .env("SCHEMAGATE_DEADLINE", "3s")
        .run();
    out.assert_code(124);
    let s = gw.scrape();
    let get = |name: &str, extra: &[(&str, &str)]| s.get(name, &at(&db, extra));
    assert_eq!(
        get("schemagate_run_exit_code", &[("outcome", "deadline")]),
        Some(124.0),
        "{}",
        s.text
    );
    assert_eq!(get("schemagate_last_success_timestamp_seconds", &[]), None);
    assert!(get("schemagate_run_duration_seconds", &[]).unwrap() >= 3.0);
    assert_eq!(get("schemagate_migrations_applied", &[]), Some(0.0));
}

/// 220 rows, 10 a batch, 70 ms a row: 22 batches of 0.7 s (inside the 0.5-2 s the batch
/// size keeps), about 16 s in all, so at least one push happens while it runs.
const BACKFILL_ROWS: u64 = 220;

#[test]
fn a_long_backfill_is_pushed_while_it_runs_and_when_it_ends() {
    let gw = Pushgateway::start();
    let db = PgServer::shared().fresh_db();
    let dir = slow_backfill_dir(BACKFILL_ROWS);
    let mut running = sg(&db, dir.path())
        .env(URL, gw.url())
        .env("SCHEMAGATE_BATCH_SIZE", "10")
        .timeout(Duration::from_secs(90))
        .spawn();
    let mut mid_run = None;
    while running.is_running() {
        let s = gw.scrape();
        let get = |name: &str| s.get(name, &at(&db, &[]));
        if get("schemagate_run_in_progress") == Some(1.0) {
            let rows = get("schemagate_backfill_rows").unwrap_or(0.0);
            if rows > 0.0 && mid_run.is_none() {
                mid_run = Some((
                    rows,
                    get("schemagate_backfill_rows_per_second").unwrap_or(0.0),
                    get("schemagate_run_duration_seconds").unwrap_or(0.0),
                    get("schemagate_run_exit_code").is_some(),
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let out = running.wait();
    out.assert_code(0);
    let (rows, per_second, took, had_exit_code) =
        mid_run.unwrap_or_else(|| panic!("no push was seen while the backfill ran\n{out}"));
    assert!(rows < BACKFILL_ROWS as f64, "{rows}");
    assert!(per_second > 0.0);
    assert!(took >= 9.0, "the first mid-run push came after {took} s");
    assert!(!had_exit_code, "a mid-run push carried an exit code");

    let s = gw.scrape();
    let get = |name: &str, extra: &[(&str, &str)]| s.get(name, &at(&db, extra));
    assert_eq!(get("schemagate_run_in_progress", &[]), Some(0.0));
    assert_eq!(
        get("schemagate_backfill_rows", &[]),
        Some(BACKFILL_ROWS as f64)
    );
    assert!(get("schemagate_backfill_rows_per_second", &[]).unwrap() > 0.0);
    assert_eq!(get("schemagate_migrations_applied", &[]), Some(2.0));
    assert_eq!(
        get("schemagate_run_exit_code", &[("outcome", "ok")]),
        Some(0.0)
    );
    // The backfill took more than 10 s: its observation is in the 30 s bucket, not the 10 s one.
    assert_eq!(
        get(
            "schemagate_migration_duration_seconds_bucket",
            &[("le", "10")]
        ),
        Some(1.0)
    );
    assert_eq!(
        get(
            "schemagate_migration_duration_seconds_bucket",
            &[("le", "30")]
        ),
        Some(2.0)
    );
}

#[test]
fn promtool_accepts_exactly_what_is_pushed() {
    let rec = HttpRecorder::start(Answer::Status(200));
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    sg(&db, dir.path()).env(URL, rec.url()).run().assert_code(0);
    write_file(dir.path(), "V2__boom.sql", "SELECT 1/0;");
    sg(&db, dir.path()).env(URL, rec.url()).run().assert_code(1);
    let requests = rec.requests();
    assert_eq!(requests.len(), 2, "one push per short run: {requests:?}");
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.path,
            format!(
                "/metrics/job/schemagate/database/{}/schema/public/table/{HISTORY}",
                db.name()
            )
        );
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert!(!r.headers.contains_key("authorization"));
        let (ok, said) = promtool_check(&r.body);
        assert!(
            ok,
            "promtool check metrics refused the push:\n{said}\n{}",
            r.body
        );
    }
    assert!(
        requests[0]
            .body
            .contains("schemagate_last_success_timestamp_seconds ")
    );
    assert!(
        !requests[1]
            .body
            .contains("schemagate_last_success_timestamp_seconds")
    );
}

#[test]
fn promtool_would_catch_a_badly_named_metric() {
    // The control: the check above proves something only if promtool refuses bad text.
    let (ok, said) = promtool_check(
        "# HELP schemagate_lock_wait_ms Lock wait.\n# TYPE schemagate_lock_wait_ms counter\nschemagate_lock_wait_ms 3\n",
    );
    assert!(!ok, "{said}");
    assert!(
        said.contains("_total") || said.contains("abbreviated"),
        "{said}"
    );
}

#[test]
fn grouping_labels_are_escaped_for_the_gateway_and_the_job_is_settable() {
    let gw = Pushgateway::start();
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    sg(&db, dir.path())
        .env(URL, format!("{}/", gw.url()))
        .env("SCHEMAGATE_PUSHGATEWAY_JOB", "shop/migrations")
        .env("SCHEMAGATE_SCHEMA", "my app%2F.")
        .env("SCHEMAGATE_TABLE", "..")
        .run()
        .assert_code(0);
    let s = gw.scrape();
    let labels = [
        ("job", "shop/migrations"),
        ("database", db.name()),
        ("schema", "my app%2F."),
        ("table", ".."),
    ];
    assert_eq!(
        s.get(
            "schemagate_run_exit_code",
            &[&labels[..], &[("outcome", "ok")][..]].concat()
        ),
        Some(0.0),
        "{}",
        s.text
    );
}

/// Runs `dir` against a fresh database with `url` as the gateway; the outcome.
fn run_with(url: Option<&str>, files: &[(&str, &str)]) -> Outcome {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(files);
    let mut sg = sg(&db, dir.path());
    if let Some(u) = url {
        sg = sg.env(URL, u);
    }
    sg.run()
}

#[test]
fn a_dead_gateway_costs_under_two_seconds_and_never_the_exit_code() {
    let ok: &[(&str, &str)] = &[("V1__a.sql", "CREATE TABLE a (id int);")];
    let failing: &[(&str, &str)] = &[("V1__a.sql", "SELECT 1/0;")];
    let hanging = HttpRecorder::start(Answer::Never);
    let closed = format!("http://127.0.0.1:{}", free_port());
    for (files, code) in [(ok, 0), (failing, 1)] {
        let baseline = run_with(None, files);
        baseline.assert_code(code);
        for (what, url) in [
            ("closed port", closed.clone()),
            ("never answers", hanging.url()),
        ] {
            let started = Instant::now();
            let out = run_with(Some(&url), files);
            let took = started.elapsed();
            out.assert_code(code);
            let extra = took.saturating_sub(baseline.elapsed);
            assert!(
                extra < Duration::from_secs(2),
                "{what}: the push cost {extra:?} more than a run without it ({:?})\n{out}",
                baseline.elapsed
            );
            let warnings = push_warnings(&out);
            assert_eq!(
                warnings.len(),
                1,
                "{what}: one warning, not {warnings:?}\n{out}"
            );
            assert!(
                warnings[0].contains(&url),
                "{what}: the warning names {url}: {}",
                warnings[0]
            );
            let causes: &[&str] = if what == "closed port" {
                &["refused", "connection failed"]
            } else {
                &["timeout"]
            };
            assert!(
                causes.iter().any(|c| warnings[0].contains(c)),
                "{what}: the cause: {}",
                warnings[0]
            );
        }
    }
}

#[test]
fn only_migrate_and_undo_push() {
    let rec = HttpRecorder::start(Answer::Status(200));
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    for command in ["info", "validate", "plan"] {
        sg(&db, dir.path()).env(URL, rec.url()).arg(command).run();
    }
    assert!(rec.requests().is_empty(), "{:?}", rec.requests());
    sg(&db, dir.path()).env(URL, rec.url()).run().assert_code(0);
    assert_eq!(rec.requests().len(), 1);
    // A rollback's undo changes the schema too (here: nothing above V1 to undo).
    sg(&db, dir.path())
        .env(URL, rec.url())
        .arg("undo")
        .run()
        .assert_code(0);
    let requests = rec.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1]
            .body
            .contains("schemagate_run_exit_code{command=\"undo\",outcome=\"ok\"} 0"),
        "{}",
        requests[1].body
    );
}
