//! End-to-end: backfills in batches — resumed after a deadline, a SIGKILL and a plain rerun; a concurrent writer that never waits long; batch timeouts, lock conflicts, SQL errors and a backfill that never converges.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// Orders priced in `total`; V1 adds `total_cents`, a trigger that keeps it right for every
/// row the app writes from now on, and a partial index on the rows still to do. V2 is the
/// backfill; V3 an expand that must wait for it (one version sequence).
fn orders_release() -> tempfile::TempDir {
    migrations_dir(&[
        (
            "V0__orders.sql",
            &format!(
                "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(12,2) NOT NULL);\n\
                 INSERT INTO orders SELECT g, (g % 997) + 0.25 FROM generate_series(1, {ROWS}) g;"
            ),
        ),
        (
            "V1__add_total_cents.sql",
            "ALTER TABLE orders ADD COLUMN total_cents bigint;\n\
             CREATE FUNCTION orders_cents() RETURNS trigger LANGUAGE plpgsql AS $$\n\
             BEGIN NEW.total_cents := NEW.total * 100; RETURN NEW; END $$;\n\
             CREATE TRIGGER orders_cents BEFORE INSERT OR UPDATE OF total ON orders\n\
               FOR EACH ROW EXECUTE FUNCTION orders_cents();\n\
             CREATE INDEX orders_cents_todo ON orders (id) WHERE total_cents IS NULL;\n",
        ),
        (
            "V2__fill_total_cents.sql",
            "-- schemagate:backfill\n\
             UPDATE orders SET total_cents = total * 100\n \
             WHERE id IN (SELECT id FROM orders WHERE total_cents IS NULL\n \
             ORDER BY id LIMIT ${schemagate:batch_size} for update skip locked);\n",
        ),
        ("V3__after.sql", "CREATE TABLE after_backfill (id int);"),
    ])
}

const ROWS: i64 = 1_000_000;

fn done_rows(db: &TestDb) -> i64 {
    db.query_scalar("SELECT count(*) FROM orders WHERE total_cents IS NOT NULL")
        .unwrap()
        .parse()
        .unwrap()
}

fn v2_rows(db: &TestDb) -> Vec<(Option<String>, bool)> {
    versions(db, HISTORY)
        .into_iter()
        .filter(|(v, _)| v.as_deref() == Some("2"))
        .collect()
}

/// Updates random orders' totals in a loop until told to stop; the worst latency it saw.
fn writer(db: &TestDb, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Duration, u64)> {
    let mut c = db.client_with_app("shop/1.1");
    std::thread::spawn(move || {
        let (mut worst, mut n) = (Duration::ZERO, 0u64);
        let mut id: i64 = 7;
        while !stop.load(Ordering::Relaxed) {
            id = (id * 7919 + 13) % ROWS + 1;
            let t = Instant::now();
            c.execute("UPDATE orders SET total = total + 1 WHERE id = $1", &[&id])
                .unwrap();
            worst = worst.max(t.elapsed());
            n += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        (worst, n)
    })
}

#[test]
fn a_million_row_backfill_survives_a_deadline_and_a_sigkill_and_a_rerun_finishes_it() {
    let db = PgServer::shared().fresh_db();
    let dir = orders_release();
    sg(&db, dir.path())
        .env("SCHEMAGATE_TARGET", "1")
        .run()
        .assert_code(0);
    db.exec("VACUUM ANALYZE orders");
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(&db, stop.clone());

    // 1. Cut by the deadline: every finished batch is kept.
    let out = sg(&db, dir.path()).env("SCHEMAGATE_DEADLINE", "3s").run();
    out.assert_code(124);
    let after_deadline = done_rows(&db);
    assert!(
        after_deadline > 0 && after_deadline < ROWS,
        "{after_deadline} rows\n{out}"
    );
    assert_eq!(v2_rows(&db), [(some("2"), false)], "{out}");
    assert!(
        !db.table_exists("after_backfill"),
        "V3 waits for the backfill"
    );
    let log = out.termination_log.clone().unwrap_or_default();
    assert!(
        log.contains("(exit 124)") && log.contains("the next run resumes the backfill"),
        "{log}"
    );
    assert_eq!(db.advisory_locks_held(), 0);

    // 2. SIGKILL mid-batch: nothing to clean up, no repair.
    let mut running = sg(&db, dir.path()).spawn();
    running.wait_for_stderr("resuming backfill V2", Duration::from_secs(30));
    let until = Instant::now() + Duration::from_secs(30);
    while done_rows(&db) < after_deadline + 10_000 {
        assert!(Instant::now() < until, "no progress after resuming");
        std::thread::sleep(Duration::from_millis(50));
    }
    running.signal(libc::SIGKILL);
    let killed = running.wait_allow_timeout();
    assert_eq!(killed.signal, Some(libc::SIGKILL), "{killed}");
    let after_kill = done_rows(&db);
    assert!(after_kill > after_deadline, "{after_kill} rows");
    assert!(no_sessions_left(&db, Duration::from_secs(10)));

    // 3. A plain rerun finishes it.
    let out = sg(&db, dir.path()).run();
    out.assert_code(0);
    stop.store(true, Ordering::Relaxed);
    let (worst, writes) = w.join().unwrap();
    let wrong = db
        .query_scalar("SELECT count(*) FROM orders WHERE total_cents IS DISTINCT FROM total * 100")
        .unwrap();
    assert_eq!(wrong, "0", "every row right\n{out}");
    assert_eq!(
        v2_rows(&db),
        [(some("2"), true)],
        "one successful row for the backfill"
    );
    assert!(db.table_exists("after_backfill"));
    let rate = out
        .stderr_json_lines()
        .into_iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("backfill V2 (fill total cents) done"))
        })
        .unwrap_or_else(|| panic!("no done line\n{out}"));
    println!(
        "backfill: {after_deadline} rows by the 3 s deadline, {after_kill} by the SIGKILL, the rest ({} rows in {} batches) at {} rows/s in the rerun; the writer's worst latency over {writes} updates: {} ms",
        rate["rows"],
        rate["batches"],
        rate["rows_per_s"],
        worst.as_millis()
    );
    assert!(worst < Duration::from_secs(5), "a writer waited {worst:?}");
    if out.elapsed > Duration::from_secs(6) {
        assert!(
            out.stderr
                .contains("\"message\":\"backfill V2 (fill total cents): "),
            "a progress line every ~5 s\n{out}"
        );
    }
    invariants(&db, dir.path(), 0);
}

/// `V0`: a table `t` of `rows` rows with a `done` flag, made by a script so that the
/// schema has a history from the start.
fn table_t(rows: i64, columns: &str) -> (String, String) {
    (
        "V0__t.sql".to_string(),
        format!(
            "CREATE TABLE t (id int PRIMARY KEY, {columns});\nINSERT INTO t (id) SELECT generate_series(1, {rows});"
        ),
    )
}

fn folder(v0: (String, String), v1: (&str, &str)) -> tempfile::TempDir {
    migrations_dir(&[(v0.0.as_str(), v0.1.as_str()), v1])
}

/// `V0`: `t` with `rows` rows and a `done` flag; `V1__fill.sql`: a backfill that sets `done`
/// to `set` (an expression: a per-row sleep makes batches slow) for every row not done yet.
fn done_fill(rows: i64, set: &str) -> tempfile::TempDir {
    let fill = format!(
        "-- schemagate:backfill\n\
         UPDATE t SET done = {set} WHERE id IN (SELECT id FROM t WHERE NOT done\n\
           ORDER BY id LIMIT ${{schemagate:batch_size}});"
    );
    folder(
        table_t(rows, "done bool NOT NULL DEFAULT false"),
        ("V1__fill.sql", &fill),
    )
}

/// Applies `V0` alone, so that the backfill starts in the test's next run.
fn make_table(db: &TestDb, dir: &tempfile::TempDir) {
    sg(db, dir.path())
        .env("SCHEMAGATE_TARGET", "0")
        .run()
        .assert_code(0);
}

#[test]
fn a_batch_that_hits_the_batch_timeout_halves_the_next_one() {
    let db = PgServer::shared().fresh_db();
    // 10 ms a row: 400 rows take 4 s, far over a 1 s batch timeout.
    let dir = done_fill(300, "(pg_sleep(0.01) IS NOT NULL)");
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_BATCH_SIZE", "400")
        .env("SCHEMAGATE_BATCH_TIMEOUT", "1s")
        .run();
    out.assert_code(0);
    let timeouts: Vec<(u64, u64)> = out
        .stderr_json_lines()
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("hit SCHEMAGATE_BATCH_TIMEOUT"))
        })
        .map(|l| {
            (
                l["batch_size"].as_u64().unwrap(),
                l["next_batch_size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(timeouts.len() >= 2, "{out}");
    assert_eq!(timeouts[0], (400, 200), "{out}");
    assert_eq!(
        timeouts[1].0, 200,
        "the next batch was the halved one\n{out}"
    );
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM t WHERE NOT done")
            .unwrap(),
        "0"
    );
    assert_eq!(
        versions(&db, HISTORY),
        [(some("0"), true), (some("1"), true)]
    );
    invariants(&db, dir.path(), 0);
}

#[test]
fn a_batch_behind_a_row_lock_is_retried_and_goes_on_once_the_lock_is_gone() {
    let db = PgServer::shared().fresh_db();
    let dir = done_fill(50, "true");
    make_table(&db, &dir);
    let mut holder = db.client_with_app("long-transaction");
    holder
        .batch_execute("BEGIN; SELECT * FROM t WHERE id = 1 FOR UPDATE")
        .unwrap();
    let mut running = sg(&db, dir.path())
        .env("SCHEMAGATE_LOCK_TIMEOUT", "300ms")
        .spawn();
    running.wait_for_stderr("rolled back on a lock conflict", Duration::from_secs(20));
    holder.batch_execute("ROLLBACK").unwrap();
    let out = running.wait();
    out.assert_code(0);
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM t WHERE NOT done")
            .unwrap(),
        "0"
    );
    invariants(&db, dir.path(), 0);
}

#[test]
fn an_sql_error_in_a_batch_exits_1_with_that_batch_rolled_back_and_the_rest_kept() {
    let db = PgServer::shared().fresh_db();
    let dir = folder(
        table_t(300, "v int"),
        (
            "V1__fill.sql",
            "-- schemagate:backfill\n\
             UPDATE t SET v = 1 / (id - 150) WHERE id IN (SELECT id FROM t WHERE v IS NULL ORDER BY id LIMIT ${schemagate:batch_size});",
        ),
    );
    for _ in 0..2 {
        let out = sg(&db, dir.path())
            .env("SCHEMAGATE_BATCH_SIZE", "100")
            .env("SCHEMAGATE_BATCH_PAUSE", "0")
            .run();
        out.assert_code(1);
        assert!(
            out.stderr.contains("ERROR 22012: division by zero"),
            "{out}"
        );
        assert!(
            out.termination_log
                .as_deref()
                .unwrap_or("")
                .contains("that batch was rolled back"),
            "{out}"
        );
        // Batch 1 (ids 1-100) is kept; batch 2 (101-200, with 150) was rolled back whole.
        assert_eq!(
            db.query_scalar("SELECT count(*) FROM t WHERE v IS NOT NULL")
                .unwrap(),
            "100"
        );
        assert_eq!(
            versions(&db, HISTORY),
            [(some("0"), true), (some("1"), false)],
            "still resumable, never 3\n{out}"
        );
    }
    invariants(&db, dir.path(), 0);
}

#[test]
fn a_backfill_that_never_converges_stops_at_the_batch_max() {
    let db = PgServer::shared().fresh_db();
    let dir = folder(
        table_t(20, "n int NOT NULL DEFAULT 0"),
        (
            "V1__forever.sql",
            "-- schemagate:backfill\nUPDATE t SET n = n + 1 WHERE id IN (SELECT id FROM t ORDER BY id LIMIT ${schemagate:batch_size});",
        ),
    );
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_BATCH_MAX", "5")
        .env("SCHEMAGATE_BATCH_PAUSE", "0")
        .run();
    out.assert_code(1);
    assert!(out.stderr.contains("is not converging"), "{out}");
    assert_eq!(db.query_scalar("SELECT max(n) FROM t").unwrap(), "6");
}

#[test]
fn a_standby_whose_replay_is_paused_pauses_the_backfill_until_it_replays_again() {
    let primary = PgServer::start(ServerOptions::primary());
    let db = primary.fresh_db();
    let dir = done_fill(200_000, "true");
    make_table(&db, &dir);
    let standby = primary.start_standby("replica1");
    standby.wait_until_caught_up(&primary, Duration::from_secs(30));
    standby.pause_replay();
    let done = || -> i64 {
        db.query_scalar("SELECT count(*) FROM t WHERE done")
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut running = sg(&db, dir.path())
        .env("SCHEMAGATE_MAX_REPLICATION_LAG", "1s")
        .env("SCHEMAGATE_BATCH_SIZE", "500")
        .spawn();
    running.wait_for_stderr("pausing backfill V1 (fill)", Duration::from_secs(30));
    let held = done();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(done(), held, "no batch runs while the standby lags");
    assert!(held < 200_000);
    assert!(running.is_running());
    standby.resume_replay();
    let out = running.wait();
    out.assert_code(0);
    let paused = out
        .stderr_json_lines()
        .into_iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("pausing backfill"))
        })
        .unwrap();
    assert!(
        paused["standbys"]
            .as_str()
            .unwrap()
            .contains("standby \"replica1\""),
        "the lagging standby is named: {paused}"
    );
    assert!(out.stderr.contains("resuming backfill V1 (fill): the standbys are within SCHEMAGATE_MAX_REPLICATION_LAG again"), "{out}");
    assert_eq!(done(), 200_000);
    invariants(&db, dir.path(), 0);
}

#[test]
fn a_lost_connection_mid_backfill_is_ridden_out_and_the_backfill_resumes_in_the_same_run() {
    let db = PgServer::shared().fresh_db();
    let dir = done_fill(3000, "(pg_sleep(0.002) IS NOT NULL)");
    make_table(&db, &dir);
    let running = sg(&db, dir.path())
        .env("SCHEMAGATE_BATCH_SIZE", "200")
        .env("SCHEMAGATE_WAIT_TIMEOUT", "20s")
        .spawn();
    let pid = wait_for_statement(&db, "pg_sleep(0.002)");
    // A few batches in, so that the history row and some batches are committed.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        PgServer::shared().terminate_backend(pid),
        "the batch's backend is ended"
    );
    let out = running.wait();
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("lost the database mid-run; reconnecting"),
        "{out}"
    );
    assert!(out.stderr.contains("resuming backfill V1 (fill)"), "{out}");
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM t WHERE NOT done")
            .unwrap(),
        "0"
    );
    assert_eq!(
        versions(&db, HISTORY),
        [(some("0"), true), (some("1"), true)]
    );
    invariants(&db, dir.path(), 0);
}
