//! End-to-end: host lists against a real primary and its streaming standby, in pgjdbc URLs, libpq URIs and `PGHOST`/`PGPORT` lists, filtered by `target_session_attrs` / `targetServerType`.
//!
//! A standby takes seconds to start, so each test starts one primary–standby pair and runs its
//! cases on it, each on a database of its own.

mod common;

use std::time::Duration;

use common::*;

const T: &str = "schemagate_history";

fn one_script() -> tempfile::TempDir {
    migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")])
}

fn pair() -> (PgServer, PgServer) {
    let primary = PgServer::start(ServerOptions::primary());
    let standby = primary.start_standby("replica1");
    (primary, standby)
}

/// A database on the primary that the standby has replayed: a standby without it would
/// refuse the login (3D000), which ends the pass like any configuration error.
fn replicated_db(primary: &PgServer, standby: &PgServer) -> TestDb {
    let db = primary.fresh_db();
    standby.wait_until_caught_up(primary, Duration::from_secs(30));
    db
}

/// The `host` of the "connected to the database" line.
fn connected_to(out: &Outcome) -> String {
    out.stderr_json_lines()
        .into_iter()
        .find(|l| l["message"] == "connected to the database")
        .and_then(|l| l["host"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no connected line\n{out}"))
}

fn run(env: &[(String, String)], dir: &std::path::Path, command: &str) -> Outcome {
    Sg::new(BIN)
        .envs(env.iter().cloned())
        .env("SCHEMAGATE_LOCATIONS", dir)
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .env("SCHEMAGATE_WAIT_TIMEOUT", "20s")
        .arg(command)
        .run()
}

fn vars(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn a_host_list_lands_on_the_primary_past_a_closed_port_and_a_standby() {
    let (primary, standby) = pair();
    let (p, s) = (primary.port(), standby.port());
    // Bound and released: nothing listens there, so the connection is refused.
    let closed = free_port();
    let dir = one_script();
    let skipped = |mode: &str| {
        format!(
            "skipping 127.0.0.1:{s}: it is a standby (in recovery) and target_session_attrs={mode}"
        )
    };

    let socket_skip = format!(
        "skipping {}:{s}: it is a standby (in recovery) and target_session_attrs=read-write",
        standby.socket_dir().display()
    );
    let cases = [
        (
            "a pgjdbc URL with targetServerType=primary",
            skipped("read-write"),
        ),
        (
            "a libpq URI with target_session_attrs=read-write",
            skipped("read-write"),
        ),
        (
            "PGHOST and PGPORT lists with PGTARGETSESSIONATTRS=primary",
            skipped("primary"),
        ),
        ("unix socket directories in PGHOST", socket_skip),
    ];
    let env = |case: usize, db: &TestDb| match case {
        // pgjdbc's "primary" is a server that takes writes: libpq's read-write.
        0 => vars(&[
            (
                "SCHEMAGATE_DATABASE_URL",
                format!(
                    "jdbc:postgresql://127.0.0.1:{closed},127.0.0.1:{s},127.0.0.1:{p}/{}?targetServerType=primary&sslmode=disable",
                    db.name()
                ),
            ),
            ("PGUSER", SUPERUSER.to_string()),
        ]),
        1 => vars(&[(
            "SCHEMAGATE_DATABASE_URL",
            format!(
                "postgres://{SUPERUSER}@127.0.0.1:{closed},127.0.0.1:{s},127.0.0.1:{p}/{}?target_session_attrs=read-write&sslmode=disable",
                db.name()
            ),
        )]),
        2 => vars(&[
            ("PGHOST", "127.0.0.1,127.0.0.1,127.0.0.1".to_string()),
            ("PGPORT", format!("{closed},{s},{p}")),
            ("PGTARGETSESSIONATTRS", "primary".to_string()),
            ("PGUSER", SUPERUSER.to_string()),
            ("PGDATABASE", db.name().to_string()),
            ("PGSSLMODE", "disable".to_string()),
        ]),
        _ => vars(&[
            (
                "PGHOST",
                format!(
                    "{},{}",
                    standby.socket_dir().display(),
                    primary.socket_dir().display()
                ),
            ),
            ("PGPORT", format!("{s},{p}")),
            ("PGTARGETSESSIONATTRS", "read-write".to_string()),
            ("PGUSER", SUPERUSER.to_string()),
            ("PGDATABASE", db.name().to_string()),
        ]),
    };
    for (i, (case, skip_line)) in cases.iter().enumerate() {
        let db = replicated_db(&primary, &standby);
        let out = run(&env(i, &db), dir.path(), "migrate");
        out.assert_success();
        assert_eq!(versions(&db, T), [(some("1"), true)], "{case}\n{out}");
        assert!(
            out.stderr.contains(skip_line.as_str()),
            "{case}: no `{skip_line}`\n{out}"
        );
        let host = connected_to(&out);
        assert!(
            host.ends_with(&format!(":{p}")),
            "{case}: connected to {host}\n{out}"
        );
        if !case.contains("socket") {
            assert!(
                out.stderr
                    .contains(&format!("nothing listens on 127.0.0.1:{closed}")),
                "{case}: the closed port is not named\n{out}"
            );
        }
        // The lock session went to the same server: the run took and released the lock.
        assert_eq!(db.advisory_locks_held(), 0, "{case}");
    }
}

#[test]
fn a_standby_alone_never_serves_a_primary_and_prefer_standby_reads_from_it() {
    let (primary, standby) = pair();
    let (p, s) = (primary.port(), standby.port());
    let dir = one_script();
    let db = replicated_db(&primary, &standby);
    run(&db.env(), dir.path(), "migrate").assert_success();
    standby.wait_until_caught_up(&primary, Duration::from_secs(30));
    let url = |hosts: &str, query: &str| {
        vec![(
            "SCHEMAGATE_DATABASE_URL".to_string(),
            format!(
                "postgres://{SUPERUSER}@{hosts}/{}?sslmode=disable&{query}",
                db.name()
            ),
        )]
    };

    // Only the standby, and a primary is required: retried like a server that is not up,
    // then 69 when the wait is over, naming the host and why it did not fit.
    let out = Sg::new(BIN)
        .envs(url(
            &format!("127.0.0.1:{s}"),
            "target_session_attrs=primary",
        ))
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .env("SCHEMAGATE_LOG_FORMAT", "json")
        .env("SCHEMAGATE_WAIT_TIMEOUT", "3s")
        .arg("migrate")
        .run();
    out.assert_code(69);
    assert!(out.elapsed < Duration::from_secs(15), "{out}");
    let reason =
        format!("127.0.0.1:{s}: it is a standby (in recovery) and target_session_attrs=primary");
    assert!(
        out.stderr
            .contains("had no server that fits target_session_attrs=primary within 3s")
            && out.stderr.contains(&reason),
        "{out}"
    );
    assert!(
        out.termination_log
            .as_deref()
            .is_some_and(|t| t.contains(&reason)),
        "{out}"
    );

    // prefer-standby: the primary comes first in the list, the read-only command still
    // lands on the standby and reads the replicated history there.
    let out = run(
        &url(
            &format!("127.0.0.1:{p},127.0.0.1:{s}"),
            "target_session_attrs=prefer-standby",
        ),
        dir.path(),
        "info",
    );
    out.assert_success();
    assert_eq!(connected_to(&out), format!("127.0.0.1:{s}"), "{out}");
    assert!(out.stdout.contains("Success"), "{out}");

    // With no standby in the list, prefer-standby stays on the primary it found.
    let out = run(
        &url(
            &format!("127.0.0.1:{p}"),
            "target_session_attrs=prefer-standby",
        ),
        dir.path(),
        "validate",
    );
    out.assert_success();
    assert_eq!(connected_to(&out), format!("127.0.0.1:{p}"), "{out}");

    // pgjdbc's secondary (a server that does not take writes), for validate.
    let out = run(
        &vars(&[
            (
                "SCHEMAGATE_DATABASE_URL",
                format!(
                    "jdbc:postgresql://127.0.0.1:{p},127.0.0.1:{s}/{}?targetServerType=secondary&sslmode=disable&prepareThreshold=0",
                    db.name()
                ),
            ),
            ("PGUSER", SUPERUSER.to_string()),
        ]),
        dir.path(),
        "validate",
    );
    out.assert_success();
    assert_eq!(connected_to(&out), format!("127.0.0.1:{s}"), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "skipping 127.0.0.1:{p}: it accepts writes (transaction_read_only=off) and target_session_attrs=read-only"
        )),
        "{out}"
    );
    assert!(
        out.stderr.contains(
            "SCHEMAGATE_DATABASE_URL: jdbc URL parameter prepareThreshold has no effect in schemagate; ignored"
        ),
        "{out}"
    );
}
