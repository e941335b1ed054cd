//! Proves the test harness itself (`tests/common/mod.rs`): servers start, databases are
//! separate, dedicated servers do password auth, TLS, stop/start and crashes, runs of a
//! program are bounded by their timeout, and nothing outlives the test process.

mod common;

use common::*;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `/bin/sh -c <script>` as a stand-in for the binary.
fn sh(script: &str) -> Sg {
    Sg::new("/bin/sh").arg("-c").arg(script)
}

#[test]
fn shared_server_starts_and_reports_timings() {
    let started = Instant::now();
    let server = PgServer::shared();
    let first_use = started.elapsed();
    let t = Instant::now();
    let db = server.fresh_db();
    let fresh = t.elapsed();
    let t = Instant::now();
    let dedicated = PgServer::start(ServerOptions::default());
    let dedicated_start = t.elapsed();
    let t = Instant::now();
    drop(dedicated);
    let dedicated_drop = t.elapsed();
    eprintln!(
        "timings: shared server start {:?} (first use here {first_use:?}), fresh_db {fresh:?}, \
         dedicated start {dedicated_start:?}, dedicated drop {dedicated_drop:?}",
        SHARED_START_TIME.get()
    );
    assert_eq!(
        db.query_scalar("select current_user").as_deref(),
        Some(SUPERUSER)
    );
    assert!(
        std::ptr::eq(server, PgServer::shared()),
        "one server per process"
    );
}

static SEEN_IN_TESTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_unique(name: &str) {
    let mut seen = SEEN_IN_TESTS.lock().unwrap();
    assert!(!seen.iter().any(|n| n == name), "{name} handed out twice");
    seen.push(name.to_string());
}

#[test]
fn parallel_test_a_gets_its_own_database() {
    let db = PgServer::shared().fresh_db();
    record_unique(db.name());
    db.exec("create table only_in_a(id int)");
    assert!(db.table_exists("only_in_a") && !db.table_exists("only_in_b"));
}

#[test]
fn parallel_test_b_gets_its_own_database() {
    let db = PgServer::shared().fresh_db();
    record_unique(db.name());
    db.exec("create table only_in_b(id int)");
    assert!(db.table_exists("only_in_b") && !db.table_exists("only_in_a"));
}

#[test]
fn fresh_db_from_many_threads_gives_distinct_databases() {
    let names: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                s.spawn(move || {
                    let db = PgServer::shared().fresh_db();
                    db.exec(&format!(
                        "create table mine(n int); insert into mine values ({i})"
                    ));
                    assert_eq!(db.query_scalar("select n from mine"), Some(i.to_string()));
                    db.name().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
}

#[test]
fn test_db_helpers_answer() {
    let db = PgServer::shared().fresh_db();
    assert!(db.url().starts_with("postgres://postgres@127.0.0.1:"));
    assert!(
        db.url()
            .ends_with(&format!("/{}?sslmode=disable", db.name()))
    );
    let env = db.env();
    assert!(env.contains(&("PGDATABASE".into(), db.name().into())));
    assert!(env.contains(&("PGSSLMODE".into(), "disable".into())));
    assert!(!env.iter().any(|(k, _)| k == "PGPASSWORD"));

    let mut client = db.client();
    client
        .batch_execute("create table t(id int primary key, note text)")
        .unwrap();
    client
        .execute("insert into t values (1, 'a'), (2, null)", &[])
        .unwrap();
    assert_eq!(
        db.query_rows("select id, note from t order by id"),
        vec![
            vec![Some("1".into()), Some("a".into())],
            vec![Some("2".into()), None]
        ]
    );

    // A Flyway-layout history table, filled by hand.
    db.exec(
        "create table flyway_schema_history (installed_rank int primary key, \
         version varchar(50), description varchar(200) not null, type varchar(20) not null, \
         script varchar(1000) not null, checksum int, installed_by varchar(100) not null, \
         installed_on timestamp not null default now(), execution_time int not null, \
         success boolean not null);
         insert into flyway_schema_history values
           (1, '1', 'init', 'SQL', 'V1__init.sql', -123, 'postgres', default, 5, true),
           (2, null, 'views', 'SQL', 'R__views.sql', null, 'postgres', default, 1, false);",
    );
    let h = db.history("flyway_schema_history");
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].version.as_deref(), Some("1"));
    assert_eq!(h[0].checksum, Some(-123));
    assert_eq!(h[0].type_, "SQL");
    assert!(h[0].success && !h[1].success);
    assert_eq!(h[1].version, None);
    assert_eq!(h[1].checksum, None);
    assert!(!h[1].installed_on.is_empty());

    // Advisory locks and application names, as a second runner would show them.
    assert_eq!(db.advisory_locks_held(), 0);
    let mut holder = db.client_with_app("schemagate/other-pod");
    holder.batch_execute("select pg_advisory_lock(42)").unwrap();
    assert_eq!(db.advisory_locks_held(), 1);
    assert_eq!(db.advisory_locks_waiting(), 0);
    assert_eq!(db.backends_with_app_prefix("schemagate"), 1);
    assert_eq!(db.backends_with_app_prefix("schemagate/other"), 1);
    assert_eq!(db.backends_with_app_prefix("other"), 0);
    let pid = db.backend_pids_with_app_prefix("schemagate")[0];
    assert!(PgServer::shared().terminate_backend(pid));
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.advisory_locks_held() != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(db.advisory_locks_held(), 0, "lock goes with its session");

    // Errors land in the log with their SQLSTATE and database.
    let _ = db.client().batch_execute("insert into t values (1, 'dup')");
    assert!(
        db.wait_for_log_line(" 23505 ", Duration::from_secs(5)),
        "no 23505 in the log lines of {}: {:?}",
        db.name(),
        db.log_lines()
    );
}

#[test]
fn migrations_dir_writes_nested_files() {
    let dir = migrations_dir(&[
        ("V1__init.sql", "create table a(id int);"),
        ("sub/deeper/V2__more.sql", "create table b(id int);"),
    ]);
    assert!(dir.path().join("V1__init.sql").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("sub/deeper/V2__more.sql")).unwrap(),
        "create table b(id int);"
    );
    let p = write_file(dir.path(), "V3__x.sql.conf", "executeInTransaction=false\n");
    assert!(p.is_file());
}

#[test]
fn password_auth_rejects_a_wrong_password_and_accepts_the_right_one() {
    let server = PgServer::start(ServerOptions {
        password_auth: true,
        ..ServerOptions::default()
    });
    let db = server.fresh_db();
    assert!(db.url().contains(&format!(":{SUPERUSER_PASSWORD}@")));
    assert!(
        db.env()
            .contains(&("PGPASSWORD".into(), SUPERUSER_PASSWORD.into()))
    );
    let connect = |pw: Option<&str>| {
        let mut cfg = postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(server.port())
            .user(SUPERUSER)
            .dbname(db.name())
            .connect_timeout(Duration::from_secs(10));
        if let Some(pw) = pw {
            cfg.password(pw);
        }
        cfg.connect(postgres::NoTls)
    };
    let wrong = connect(Some("wrong"))
        .err()
        .expect("a wrong password must fail");
    assert_eq!(
        wrong.code(),
        Some(&postgres::error::SqlState::INVALID_PASSWORD),
        "{wrong:?}"
    );
    assert!(connect(None).is_err(), "no password must fail");
    let mut ok = connect(Some(SUPERUSER_PASSWORD)).expect("the right password must work");
    ok.batch_execute("select 1").unwrap();
    // The harness's own clients use the socket and need no password.
    assert_eq!(db.query_scalar("select 1").as_deref(), Some("1"));
}

fn conninfo(server: &PgServer, db: &TestDb, host: &str, extra: &str) -> String {
    format!(
        "host={host} port={} user={SUPERUSER} dbname={} {extra}",
        server.port(),
        db.name()
    )
}

const SSL_IN_USE: &str = "select ssl::text from pg_stat_ssl where pid = pg_backend_pid()";

#[test]
fn tls_server_accepts_sslmode_require_and_verifies() {
    let certs = tempfile::tempdir().unwrap();
    let tls = TlsFiles::generate(certs.path(), &["localhost", "127.0.0.1"]);
    let server = PgServer::start(ServerOptions {
        tls: Some(tls.clone()),
        require_tls: true,
        ..ServerOptions::default()
    });
    let db = server.fresh_db();
    let q = |host: &str, extra: &str| psql_query(&conninfo(&server, &db, host, extra), SSL_IN_USE);
    assert_eq!(q("127.0.0.1", "sslmode=require").as_deref(), Ok("true"));
    let root = format!("sslrootcert={}", tls.ca_cert.display());
    assert_eq!(
        q("localhost", &format!("sslmode=verify-full {root}")).as_deref(),
        Ok("true")
    );
    assert_eq!(
        q("127.0.0.1", &format!("sslmode=verify-full {root}")).as_deref(),
        Ok("true"),
        "IP SAN"
    );
    let plain = q("127.0.0.1", "sslmode=disable").expect_err("require_tls refuses plain TCP");
    assert!(plain.contains("no encryption"), "{plain}");
    let other = TlsFiles::generate(&certs.path().join("other"), &["localhost"]);
    let err = q(
        "localhost",
        &format!("sslmode=verify-ca sslrootcert={}", other.ca_cert.display()),
    )
    .expect_err("another CA must not verify");
    assert!(err.contains("certificate verify failed"), "{err}");
}

#[test]
fn tls_self_signed_and_expired_certificates_fail_verification() {
    let certs = tempfile::tempdir().unwrap();
    for (label, tls, server_says) in [
        (
            "self-signed",
            TlsFiles::self_signed(&certs.path().join("self"), &["localhost"]),
            "unknown ca",
        ),
        (
            "expired",
            TlsFiles::expired(&certs.path().join("expired"), &["localhost"]),
            "certificate expired",
        ),
    ] {
        let server = PgServer::start(ServerOptions {
            tls: Some(tls.clone()),
            ..ServerOptions::default()
        });
        let db = server.fresh_db();
        let info = |extra: &str| conninfo(&server, &db, "localhost", extra);
        assert_eq!(
            psql_query(&info("sslmode=require"), SSL_IN_USE).as_deref(),
            Ok("true"),
            "{label}: require does not verify"
        );
        let err = psql_query(
            &info(&format!(
                "sslmode=verify-full sslrootcert={}",
                tls.ca_cert.display()
            )),
            SSL_IN_USE,
        )
        .expect_err(label);
        assert!(err.contains("certificate verify failed"), "{label}: {err}");
        // libpq says only "verify failed"; the server log has the alert the client sent.
        assert!(
            server.wait_for_log(server_says, Duration::from_secs(5)),
            "{label}"
        );
    }
}

#[test]
fn tls_client_certificates_are_required_when_asked() {
    let certs = tempfile::tempdir().unwrap();
    let tls = TlsFiles::generate(certs.path(), &["localhost"]);
    let server = PgServer::start(ServerOptions {
        tls: Some(tls.clone()),
        require_client_cert: true,
        ..ServerOptions::default()
    });
    let db = server.fresh_db();
    let root = format!("sslmode=verify-full sslrootcert={}", tls.ca_cert.display());
    let with_cert = format!(
        "{root} sslcert={} sslkey={}",
        tls.client_cert.display(),
        tls.client_key.display()
    );
    assert_eq!(
        psql_query(&conninfo(&server, &db, "localhost", &with_cert), SSL_IN_USE).as_deref(),
        Ok("true")
    );
    // No client certificate: refused. (libpq would pick up ~/.postgresql/postgresql.crt,
    // so point it at a file that does not exist.)
    let none = format!("{root} sslcert=/nonexistent sslkey=/nonexistent");
    assert!(psql_query(&conninfo(&server, &db, "localhost", &none), SSL_IN_USE).is_err());
    // A certificate for another user does not log in as postgres.
    let (cert, key) = tls.client_cert_for("someone_else");
    let wrong = format!("{root} sslcert={} sslkey={}", cert.display(), key.display());
    let err = psql_query(&conninfo(&server, &db, "localhost", &wrong), SSL_IN_USE)
        .expect_err("CN mismatch");
    assert!(err.contains("authentication failed"), "{err}");
    assert!(server.wait_for_log("CN mismatch", Duration::from_secs(5)));
}

#[test]
fn stop_fast_start_again_and_kill9_keep_committed_data() {
    let server = PgServer::start(ServerOptions::default());
    let db = server.fresh_db();
    db.exec("create table kept(n int); insert into kept values (1)");
    let port = server.port();

    let t = Instant::now();
    server.stop_fast();
    let stop = t.elapsed();
    assert!(!server.is_running());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after stop_fast"
    );
    let t = Instant::now();
    server.start_again();
    let restart = t.elapsed();
    assert_eq!(server.port(), port);
    assert_eq!(
        db.query_scalar("select count(*) from kept").as_deref(),
        Some("1")
    );

    db.exec("insert into kept values (2)");
    server.kill9_postmaster();
    let t = Instant::now();
    server.start_again();
    let after_kill = t.elapsed();
    assert_eq!(
        db.query_scalar("select count(*) from kept").as_deref(),
        Some("2")
    );

    // A killed backend is a crash: every session ends, the server recovers by itself.
    let mut victim = db.client_with_app("victim");
    let pid = db.backend_pids_with_app_prefix("victim")[0];
    server.kill9_backend(pid);
    assert!(victim.batch_execute("select 1").is_err());
    assert_eq!(
        db.query_scalar("select count(*) from kept").as_deref(),
        Some("2")
    );
    assert!(server.wait_for_log("terminated by signal 9", Duration::from_secs(5)));
    eprintln!(
        "timings: stop_fast {stop:?}, start_again {restart:?}, start_again after kill -9 {after_kill:?}"
    );
}

#[test]
fn a_fixed_port_lets_the_server_start_late() {
    let port = free_port();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        PgServer::start(ServerOptions {
            port: Some(port),
            max_connections: Some(5),
            extra_conf: vec!["log_connections = on".into()],
            ..ServerOptions::default()
        })
    });
    let t = Instant::now();
    let mut up = false;
    while t.elapsed() < Duration::from_secs(30) && !late.is_finished() {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let server = late.join().unwrap();
    assert!(up || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert_eq!(server.port(), port);
    let db = server.fresh_db();
    assert_eq!(
        db.query_scalar("show max_connections").as_deref(),
        Some("5")
    );
    assert!(server.wait_for_log("connection authorized", Duration::from_secs(5)));
}

#[test]
fn a_timeout_kills_a_hung_child() {
    let out = sh("sleep 100")
        .timeout(Duration::from_millis(500))
        .run_allow_timeout();
    assert!(out.timed_out, "{out}");
    assert_eq!(out.signal, Some(libc::SIGKILL));
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
#[should_panic(expected = "timed out")]
fn run_panics_when_the_timeout_kills() {
    // A grandchild (the backgrounded sleep) keeps the pipes open: the kill of the group
    // must still end the wait. (Short, as a grandchild would outlive a SIGKILLed test.)
    sh("sleep 5 & sleep 100")
        .timeout(Duration::from_millis(300))
        .run();
}

#[test]
fn the_child_gets_only_what_the_test_passes() {
    let db = PgServer::shared().fresh_db();
    let out = Sg::new("/usr/bin/env").envs(db.env()).env("X", "1").run();
    out.assert_success();
    assert!(
        out.stdout.contains(&format!("PGPORT={}", db.port())),
        "{out}"
    );
    assert!(out.stdout.contains("X=1"));
    assert!(out.stdout.contains("PATH="));
    assert!(out.stdout.contains("SCHEMAGATE_TERMINATION_LOG="));
    // cargo sets these for the test process; they must not reach the child.
    assert!(!out.stdout.contains("CARGO_MANIFEST_DIR"), "{out}");
    let n = out.stdout.lines().count();
    assert!(n <= 8, "unexpected variables:\n{}", out.stdout);

    let out = Sg::new("/usr/bin/env")
        .envs(db.env())
        .env_remove("PGSSLMODE")
        .env("PGUSER", "other")
        .no_termination_log()
        .run();
    assert!(!out.stdout.contains("PGSSLMODE"));
    assert!(out.stdout.contains("PGUSER=other") && !out.stdout.contains("PGUSER=postgres"));
    assert!(!out.stdout.contains("SCHEMAGATE_TERMINATION_LOG"));
}

#[test]
fn outcome_carries_code_output_json_and_termination_log() {
    let out = sh(
        r#"echo '{"level":"INFO","msg":"hi"}' >&2; echo plain >&2; echo '{"a":1}';
                   printf 'failed at V2' > "$SCHEMAGATE_TERMINATION_LOG"; exit 3"#,
    )
    .run();
    out.assert_code(3);
    assert_eq!(out.stderr_json_lines().len(), 1);
    assert_eq!(out.stderr_json_lines()[0]["msg"], "hi");
    assert_eq!(out.stdout_json()["a"], 1);
    assert_eq!(out.termination_log.as_deref(), Some("failed at V2"));

    let out = Sg::new("/bin/cat").stdin("from stdin").run();
    assert_eq!(out.stdout, "from stdin");
    let panicked = std::panic::catch_unwind(|| {
        sh("echo visible-output; exit 2").run().assert_code(0);
    })
    .expect_err("assert_code must panic");
    let msg = panicked.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("exit code 2") && msg.contains("visible-output"),
        "{msg}"
    );
}

#[test]
fn sigterm_reaches_a_spawned_child() {
    let mut running = sh("trap 'echo got-term >&2; exit 143' TERM; echo ready >&2; \
                          while :; do sleep 0.05; done")
    .timeout(Duration::from_secs(20))
    .spawn();
    running.wait_for_stderr("ready", Duration::from_secs(10));
    assert!(running.is_running());
    running.signal(libc::SIGTERM);
    let out = running.wait();
    out.assert_code(143);
    assert!(out.stderr.contains("got-term"));
}

// ---- Nothing outlives the test process --------------------------------------------------

/// The child half of `no_server_outlives_its_test_process` (the same test re-run with
/// `SG_HARNESS_CHILD` set): starts the shared server and a dedicated one (which it leaks on
/// purpose), prints their pids and directories, then ends as `SG_HARNESS_CHILD` says: `exit`
/// (normally), `panic`, or `abort` (no exit handlers).
fn child_process_starts_servers(mode: &str) {
    let shared = PgServer::shared();
    let dedicated = PgServer::start(ServerOptions::default());
    for (label, s) in [("SHARED", shared), ("DEDICATED", &dedicated)] {
        println!(
            "{label} {} {}",
            s.postmaster_pid().unwrap(),
            s.socket_dir().display()
        );
    }
    let _db = shared.fresh_db();
    std::mem::forget(dedicated);
    match mode {
        "panic" => panic!("child panics on purpose"),
        "abort" => std::process::abort(),
        _ => {}
    }
}

fn run_child(mode: &str) -> Vec<(u32, std::path::PathBuf)> {
    let mut sg = Sg::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "no_server_outlives_its_test_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SG_HARNESS_CHILD", mode);
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        sg = sg.env("TMPDIR", tmp);
    }
    let out = sg.run();
    let servers: Vec<(u32, std::path::PathBuf)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            // libtest prints "test <name> ... " without a newline before the test's output.
            let at = l.find("SHARED ").or_else(|| l.find("DEDICATED "))?;
            let parts: Vec<&str> = l[at..].split_whitespace().collect();
            Some((parts[1].parse().unwrap(), parts[2].into()))
        })
        .collect();
    assert_eq!(servers.len(), 2, "{out}");
    servers
}

fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie waiting for a reaper is gone too.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn postgres_processes_in(dir: &std::path::Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(&needle).then_some(cmd)
        })
        .collect()
}

#[test]
fn no_server_outlives_its_test_process() {
    if let Ok(mode) = std::env::var("SG_HARNESS_CHILD") {
        return child_process_starts_servers(&mode);
    }
    let mut left = Vec::new();
    for mode in ["exit", "panic", "abort"] {
        let servers = run_child(mode);
        let deadline = Instant::now() + Duration::from_secs(10);
        for (pid, dir) in &servers {
            while !gone(*pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                gone(*pid),
                "{mode}: postmaster {pid} outlived its test process"
            );
            assert!(
                postgres_processes_in(dir).is_empty(),
                "{mode}: processes left in {}: {:?}",
                dir.display(),
                postgres_processes_in(dir)
            );
            if mode == "abort" {
                // No exit handler ran: the next process's start removes the directory.
                left.push(dir.clone());
            } else {
                assert!(!dir.exists(), "{mode}: {} not removed", dir.display());
            }
        }
    }
    run_child("exit");
    for dir in left {
        assert!(
            !dir.exists(),
            "stale {} not removed by the next run",
            dir.display()
        );
    }
}
