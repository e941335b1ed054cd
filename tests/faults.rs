//! Faults (issue 5): crashes and kills mid-run. Each case ends by checking the invariants:
//! every version at most once with its file's checksum, no advisory lock of ours, no INVALID
//! index unless expected, no schemagate session left.

mod common;

use std::time::{Duration, Instant};

use common::*;

const T: &str = "schemagate_history";

#[test]
fn sigkill_mid_transactional_script_leaves_nothing_and_the_rerun_applies_once() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        (
            "V2__slow.sql",
            "CREATE TABLE slow (id int);\nSELECT pg_sleep(60);",
        ),
    ]);
    let running = sg(&db, dir.path()).spawn();
    wait_for_statement(&db, "pg_sleep(60)");
    running.signal(libc::SIGKILL);
    running.wait_allow_timeout();
    write_file(
        dir.path(),
        "V2__slow.sql",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(0.1);",
    );
    sg(&db, dir.path()).run().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
    invariants(&db, dir.path(), 0);
}

#[test]
fn sigkill_during_create_index_concurrently_stops_the_next_run_until_repair() {
    let db = PgServer::shared().fresh_db();
    // An expression that sleeps per row makes the build slow enough to be killed mid-way.
    let dir = migrations_dir(&[
        (
            "V1__t.sql",
            "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 3000) g;\n\
             CREATE FUNCTION slow_id(i int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN i; END $$;",
        ),
        (
            "V2__idx.sql",
            "CREATE INDEX CONCURRENTLY t_slow_idx ON t (slow_id(id));",
        ),
    ]);
    let running = sg(&db, dir.path()).spawn();
    wait_for_statement(&db, "CREATE INDEX CONCURRENTLY");
    std::thread::sleep(Duration::from_millis(500));
    running.signal(libc::SIGKILL);
    running.wait_allow_timeout();
    // The server notices the client is gone within client_connection_check_interval.
    no_sessions_left(&db, Duration::from_secs(10));
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), false)]);

    let out = sg(&db, dir.path()).run();
    out.assert_code(3);
    for expected in [
        "V2 (idx) failed part-way",
        "INVALID index public.t_slow_idx was left by V2 (idx) at statement 1",
        "V2__idx.sql:1",
        "schemagate repair",
    ] {
        assert!(out.stderr.contains(expected), "missing `{expected}`\n{out}");
    }
    invariants(&db, dir.path(), 1);

    let repair = sg(&db, dir.path()).arg("repair").run();
    repair.assert_success();
    assert!(
        repair
            .stderr
            .contains("dropped: INVALID index public.t_slow_idx"),
        "{repair}"
    );
    db.exec("CREATE OR REPLACE FUNCTION slow_id(i int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT i';");
    sg(&db, dir.path()).run().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
    invariants(&db, dir.path(), 0);
}

#[test]
fn a_waiter_takes_over_promptly_when_the_holder_is_killed() {
    let db = PgServer::shared().fresh_db();
    // The sleep length comes from a session setting, so the first runner sleeps and the
    // second, applying the same file, does not.
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        (
            "V2__slow.sql",
            "CREATE TABLE slow (id int);\nSELECT pg_sleep(coalesce(current_setting('sgtest.sleep', true), '0')::float);",
        ),
    ]);
    let holder = sg(&db, dir.path())
        .env("PGOPTIONS", "-c sgtest.sleep=60")
        .spawn();
    wait_for_statement(&db, "sgtest.sleep");
    let waiter = sg(&db, dir.path()).spawn();
    std::thread::sleep(Duration::from_secs(1));
    let killed = Instant::now();
    holder.signal(libc::SIGKILL);
    let out = waiter.wait();
    let takeover = killed.elapsed();
    out.assert_success();
    println!(
        "takeover after SIGKILL of the lock holder: {} ms",
        takeover.as_millis()
    );
    assert!(
        takeover < Duration::from_secs(8),
        "took {takeover:?}\n{out}"
    );
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
    holder.wait_allow_timeout();
    invariants(&db, dir.path(), 0);
}

#[test]
fn an_oversized_script_is_refused_by_its_size_before_reading() {
    let dir = migrations_dir(&[("V1__a.sql", "SELECT 1;")]);
    // A sparse file: its size is over the cap, no disk or memory is spent on it.
    let f = std::fs::File::create(dir.path().join("V2__dump.sql")).unwrap();
    f.set_len(300 * 1024 * 1024).unwrap();
    let out = Sg::new(BIN)
        .env("PGUSER", "x")
        .env("PGPORT", free_port().to_string())
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .run();
    out.assert_code(65);
    assert!(
        out.stderr
            .contains("V2__dump.sql: 300 MiB is over the 256 MiB limit"),
        "{out}"
    );
}

#[test]
fn pgbouncer_in_transaction_mode_is_refused_before_any_change_and_session_mode_works() {
    let server = PgServer::start(ServerOptions::default());
    let db = server.fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    let through = |bouncer: &PgBouncer| sg(&db, dir.path()).env("PGPORT", bouncer.port.to_string());

    let tx = PgBouncer::start(&server, "transaction");
    let out = through(&tx).run();
    out.assert_code(78);
    assert!(
        out.stderr.contains("pool_mode=transaction") && out.stderr.contains("connect directly"),
        "{out}"
    );
    assert!(
        !db.table_exists(T) && !db.table_exists("a"),
        "nothing may change behind a transaction pooler"
    );
    drop(tx);

    let session = PgBouncer::start(&server, "session");
    through(&session).run().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true)]);
    drop(session);
    invariants(&db, dir.path(), 0);
}

#[test]
fn a_foreign_lock_holder_never_puts_us_in_a_server_side_lock_queue() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    // Flyway's key for "public"."schemagate_history", as the binary computes it.
    let key = schemagate::pg::lock::lock_key("public", T);
    let mut holder = db.client_with_app("foreign-holder");
    holder
        .simple_query(&format!("SELECT pg_advisory_lock({key})"))
        .unwrap();
    let running = sg(&db, dir.path())
        .env("SCHEMAGATE_LOCK_WAIT", "4s")
        .spawn();
    let started = Instant::now();
    let mut samples = 0;
    while started.elapsed() < Duration::from_secs(3) {
        let waiting = db.query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'schemagate%' AND wait_event_type = 'Lock'").unwrap();
        assert_eq!(
            waiting, "0",
            "a schemagate backend sits in the server's lock queue"
        );
        samples += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = running.wait();
    out.assert_code(75);
    assert!(samples > 50);
    assert!(
        out.stderr.contains("foreign-holder"),
        "the holder is named\n{out}"
    );
    holder
        .simple_query(&format!("SELECT pg_advisory_unlock({key})"))
        .unwrap();
    invariants(&db, dir.path(), 0);
}

#[test]
fn exhausted_connection_slots_are_waited_out() {
    let server = PgServer::start(ServerOptions {
        max_connections: Some(6),
        ..ServerOptions::default()
    });
    let db = server.fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    // Take every slot, the superuser-reserved ones included.
    let mut hogs = Vec::new();
    while let Ok(c) = postgres::Config::new()
        .host("127.0.0.1")
        .port(server.port())
        .user("postgres")
        .dbname(db.name())
        .connect(postgres::NoTls)
    {
        hogs.push(c);
        assert!(hogs.len() < 50, "max_connections was not applied");
    }
    let running = sg(&db, dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .spawn();
    std::thread::sleep(Duration::from_secs(4));
    drop(hogs);
    let out = running.wait();
    out.assert_success();
    assert!(
        out.stderr.contains("53300"),
        "the refusals are logged as retryable\n{out}"
    );
    invariants(&db, dir.path(), 0);
}

#[test]
fn behind_a_long_transaction_readers_wait_at_most_about_lock_timeout_and_the_blocker_is_named() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[(
        "V1__orders.sql",
        "CREATE TABLE orders (id int);\nINSERT INTO orders SELECT generate_series(1, 100);",
    )]);
    sg(&db, dir.path()).run().assert_success();
    write_file(
        dir.path(),
        "V2__alter.sql",
        "ALTER TABLE orders ADD COLUMN note text;",
    );

    let mut idle = db.client_with_app("idle-in-tx");
    idle.batch_execute("BEGIN; SELECT count(*) FROM orders;")
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (stop, mut client) = (stop.clone(), db.client_with_app("reader"));
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                client.simple_query("SELECT count(*) FROM orders").unwrap();
                latencies.push(t.elapsed());
                std::thread::sleep(Duration::from_millis(5));
            }
            latencies
        })
    };
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_LOCK_TIMEOUT", "1s")
        .env("SCHEMAGATE_LOCK_RETRIES", "3")
        .run();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut latencies = reader.join().unwrap();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let max = *latencies.last().unwrap();
    println!(
        "readers behind a lock_timeout=1s migration: {} queries, p99 {} ms, max {} ms",
        latencies.len(),
        p99.as_millis(),
        max.as_millis()
    );

    out.assert_code(75);
    let idle_pid = db.query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'idle-in-tx'").unwrap();
    for expected in [
        format!("held by pid {idle_pid}"),
        "idle-in-tx".to_string(),
        "idle in transaction".to_string(),
        "SELECT count(*) FROM orders".to_string(),
    ] {
        assert!(
            out.stderr.contains(&expected),
            "missing `{expected}`\n{out}"
        );
    }
    assert!(
        max < Duration::from_millis(1800),
        "a reader waited {max:?}: longer than lock_timeout allows"
    );
    assert_eq!(versions(&db, T), [(some("1"), true)]);
    idle.batch_execute("COMMIT").unwrap();
    invariants(&db, dir.path(), 0);
}

#[test]
fn a_cold_start_stampede_of_twenty_runners_applies_everything_once() {
    let db = PgServer::shared().fresh_db();
    let mut files: Vec<(String, String)> = vec![
        ("V1__orders.sql".into(), "CREATE TABLE orders AS SELECT g AS id, g % 1000 AS customer FROM generate_series(1, 1000000) g;".into()),
        ("V2__idx.sql".into(), "CREATE INDEX CONCURRENTLY orders_customer ON orders (customer);".into()),
    ];
    for v in 3..=9 {
        files.push((
            format!("V{v}__t{v}.sql"),
            format!("CREATE TABLE t{v} (id int PRIMARY KEY);\nINSERT INTO t{v} VALUES (1), (2);"),
        ));
    }
    files.push(("R__view.sql".into(), "CREATE OR REPLACE VIEW busy_customers AS SELECT customer, count(*) FROM orders GROUP BY customer;".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = migrations_dir(&refs);

    let start = Instant::now();
    let runners: Vec<_> = (0..20)
        .map(|_| {
            sg(&db, dir.path())
                .timeout(Duration::from_secs(120))
                .spawn()
        })
        .collect();
    println!(
        "20 runners started within {} ms",
        start.elapsed().as_millis()
    );
    for r in runners {
        r.wait().assert_success();
    }
    println!("stampede finished in {} ms", start.elapsed().as_millis());
    let expected: Vec<(Option<String>, bool)> = (1..=9)
        .map(|v| (Some(v.to_string()), true))
        .chain([(None, true)])
        .collect();
    assert_eq!(versions(&db, T), expected);
    let log = db.log_lines().join("\n");
    // The log is this database's: the runners' first history reads, before the table
    // existed, are there, so the absence of the codes below means something.
    assert!(log.contains(" 42P01 "), "not this database's log?\n{log}");
    for code in [" 23505 ", " 42P07 ", " 40P01 "] {
        assert!(!log.contains(code), "server log has{code}:\n{log}");
    }
    invariants(&db, dir.path(), 0);
}

/// A network namespace of the test's own with a veth pair to the host: the runner lives
/// inside, the server outside, and the test can cut the wire without either side seeing a
/// reset. Removed on drop.
struct Wire {
    ns: String,
    host_if: String,
    host_ip: String,
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2) is needed for network tests");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Wire {
    fn new() -> Wire {
        let n = std::process::id() % 200 + 20;
        let (ns, host_if, peer_if) = (format!("sgt{n}"), format!("sgh{n}"), format!("sgn{n}"));
        let (host_ip, peer_ip) = (format!("10.231.{n}.1"), format!("10.231.{n}.2"));
        ip(&["netns", "add", &ns]);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if,
        ]);
        ip(&["link", "set", &peer_if, "netns", &ns]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{peer_ip}/30"),
            "dev",
            &peer_if,
        ]);
        ip(&["-n", &ns, "link", "set", &peer_if, "up"]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        Wire {
            ns,
            host_if,
            host_ip,
        }
    }

    /// Drops every packet from now on, silently: no RST, no FIN, as a dead node or a
    /// partitioned network looks.
    fn cut(&self) {
        ip(&["link", "set", &self.host_if, "down"]);
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .output();
    }
}

#[test]
fn a_silent_network_cut_is_detected_and_the_server_frees_the_lock() {
    let wire = Wire::new();
    let server = PgServer::start(ServerOptions {
        extra_conf: vec![format!("listen_addresses = '127.0.0.1,{}'", wire.host_ip)],
        extra_hba: vec!["host all all 10.231.0.0/16 trust".into()],
        ..ServerOptions::default()
    });
    let db = server.fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        (
            "V2__slow.sql",
            "CREATE TABLE slow (id int);\nSELECT pg_sleep(120);",
        ),
    ]);
    let running = Sg::new("ip")
        .args(["netns", "exec", &wire.ns, BIN])
        .envs(db.env())
        .env("PGHOST", &wire.host_ip)
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "3s")
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .timeout(Duration::from_secs(120))
        .spawn();
    wait_for_statement(&db, "pg_sleep(120)");
    let cut = Instant::now();
    wire.cut();
    let out = running.wait();
    let client_noticed = cut.elapsed();
    out.assert_code(69);
    // The server side: keepalives on our session end it, and the lock goes with it.
    let until = Instant::now() + Duration::from_secs(60);
    while (db.backends_with_app_prefix("schemagate") > 0 || db.advisory_locks_held() > 0)
        && Instant::now() < until
    {
        std::thread::sleep(Duration::from_millis(250));
    }
    let server_noticed = cut.elapsed();
    println!(
        "network cut: client exited after {} ms, server freed session and lock after {} ms",
        client_noticed.as_millis(),
        server_noticed.as_millis()
    );
    assert!(client_noticed < Duration::from_secs(45), "{out}");
    assert!(server_noticed < Duration::from_secs(45));
    assert_eq!(db.advisory_locks_held(), 0);
    assert_eq!(versions(&db, T), [(some("1"), true)]);

    // A second runner, over a working path, finishes the job.
    write_file(
        dir.path(),
        "V2__slow.sql",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(0.1);",
    );
    sg(&db, dir.path()).run().assert_success();
    invariants(&db, dir.path(), 0);
}

#[test]
fn wait_rides_out_a_concurrent_index_build_and_stops_on_a_real_partial_failure() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        (
            "V1__t.sql",
            "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 300) g;\n\
             CREATE FUNCTION slow_id(i int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN i; END $$;",
        ),
        (
            "V2__idx.sql",
            "CREATE INDEX CONCURRENTLY t_slow_idx ON t (slow_id(id));",
        ),
    ]);
    let job = sg(&db, dir.path()).spawn();
    wait_for_statement(&db, "CREATE INDEX CONCURRENTLY");
    // V2's row now reads success=false: the build is in progress, not failed.
    let out = sg(&db, dir.path())
        .arg("wait")
        .env("SCHEMAGATE_DEADLINE", "60s")
        .run();
    out.assert_success();
    job.wait().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);

    // A failed row that nobody is working on is a real partial failure.
    db.exec("UPDATE schemagate_history SET success = false WHERE version = '2'");
    let out = sg(&db, dir.path())
        .arg("wait")
        .env("SCHEMAGATE_DEADLINE", "60s")
        .run();
    out.assert_code(3);
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
}

/// V1–V3, where the undo of V3 sleeps as long as the session setting `sgtest.sleep` says, so
/// that one run can be caught mid-undo and the next runs through.
fn undoable() -> tempfile::TempDir {
    migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__b.sql", "CREATE TABLE b (id int);"),
        ("U2__b.sql", "DROP TABLE b;"),
        ("V3__c.sql", "CREATE TABLE c (id int);"),
        (
            "U3__c.sql",
            "DROP TABLE c;\nSELECT pg_sleep(coalesce(current_setting('sgtest.sleep', true), '0')::float);",
        ),
    ])
}

fn undo_rows(db: &TestDb) -> Vec<String> {
    db.history(T)
        .into_iter()
        .filter(|r| r.type_ == "UNDO_SQL")
        .map(|r| r.version.unwrap_or_default())
        .collect()
}

#[test]
fn sigkill_mid_undo_rolls_that_undo_back_and_the_rerun_finishes() {
    let db = PgServer::shared().fresh_db();
    let dir = undoable();
    sg(&db, dir.path()).run().assert_success();
    let running = sg(&db, dir.path())
        .args(["undo", "--target", "1"])
        .env("PGOPTIONS", "-c sgtest.sleep=60")
        .spawn();
    wait_for_statement(&db, "sgtest.sleep");
    running.signal(libc::SIGKILL);
    running.wait_allow_timeout();
    // The server ends the orphaned backend within client_connection_check_interval, and its
    // transaction with it: the DROP TABLE before the sleep is rolled back.
    assert!(no_sessions_left(&db, Duration::from_secs(10)));
    assert!(
        db.table_exists("c"),
        "the interrupted undo must be rolled back"
    );
    assert!(undo_rows(&db).is_empty());
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM schemagate_history_undo")
            .as_deref(),
        Some("2"),
        "the stored undos are kept for the rerun"
    );
    let out = sg(&db, dir.path()).args(["undo", "--target", "1"]).run();
    out.assert_success();
    assert_eq!(undo_rows(&db), ["3", "2"], "{out}");
    assert!(!db.table_exists("b") && !db.table_exists("c") && db.table_exists("a"));
    invariants(&db, dir.path(), 0);
}

#[test]
fn of_two_undo_runners_one_waits_for_the_lock_and_nothing_is_undone_twice() {
    let db = PgServer::shared().fresh_db();
    let dir = undoable();
    sg(&db, dir.path()).run().assert_success();
    let first = sg(&db, dir.path())
        .args(["undo", "--target", "1"])
        .env("PGOPTIONS", "-c sgtest.sleep=2")
        .spawn();
    wait_for_statement(&db, "sgtest.sleep");
    let second = sg(&db, dir.path()).args(["undo", "--target", "1"]).spawn();
    let (a, b) = (first.wait(), second.wait());
    a.assert_success();
    b.assert_success();
    assert_eq!(summary(&a)["undone"], 2, "{a}");
    assert_eq!(summary(&b)["undone"], 0, "{b}");
    assert!(
        b.stderr
            .contains("another runner undid everything above V1"),
        "the second runner waited and found nothing left\n{b}"
    );
    assert_eq!(undo_rows(&db), ["3", "2"]);
    invariants(&db, dir.path(), 0);
}

#[test]
fn a_hundred_and_fifty_waiters_never_starve_an_eight_second_migration() {
    // 150 app pods' `wait` initContainers start while the migration runs, against a server
    // that takes 40 connections (none reserved). Waiters hold no connection between polls,
    // so the migration keeps its two sessions and every waiter gets its answer.
    let server = PgServer::start(ServerOptions {
        max_connections: Some(40),
        ..ServerOptions::default()
    });
    let db = server.fresh_db();
    let dir = migrations_dir(&[(
        "V1__slow.sql",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(8);",
    )]);
    let migration = sg(&db, dir.path())
        .timeout(Duration::from_secs(120))
        .spawn();
    wait_for_statement(&db, "pg_sleep");

    // One connection of the harness's own, kept, samples the waiters every 200 ms.
    let mut sampler = db.client();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampling = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0i64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = sampler
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sg-waiter'",
                        &[],
                    )
                    .map(|r| r.get(0))
                    .unwrap_or(0);
                peak = peak.max(n);
                std::thread::sleep(Duration::from_millis(200));
            }
            peak
        })
    };
    let waiters: Vec<_> = (0..150)
        .map(|_| {
            sg(&db, dir.path())
                .env("PGAPPNAME", "sg-waiter")
                .env("SCHEMAGATE_WAIT_TIMEOUT", "60s")
                .arg("wait")
                .timeout(Duration::from_secs(120))
                .spawn()
        })
        .collect();
    let out = migration.wait();
    let ended = Instant::now();
    out.assert_success();
    assert!(
        !out.stderr.contains("53300"),
        "the migration met a full server\n{out}"
    );
    let mut slowest = Duration::ZERO;
    for w in waiters {
        let o = w.wait();
        o.assert_success();
        slowest = slowest.max(ended.elapsed());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampling.join().unwrap();
    println!(
        "150 waiters: all done {} ms after the migration; at most {peak} connections at once",
        slowest.as_millis()
    );
    assert!(
        slowest < Duration::from_secs(10),
        "the last waiter ended {slowest:?} after the migration"
    );
    assert!(peak <= 30, "waiters held {peak} connections at once");
    invariants(&db, dir.path(), 0);
}
