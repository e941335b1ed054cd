//! End-to-end: expand and contract scripts during a rolling update — the contract guard, `SCHEMAGATE_CONTRACT`, `wait`, `info` and `plan`, against real PostgreSQL and real app sessions.

mod common;

use std::time::{Duration, Instant};

use common::*;

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, phone text);\nINSERT INTO users VALUES (1, '555-0100');";
const ADD_EMAIL: &str = "ALTER TABLE users ADD COLUMN email text;";
const DROP_PHONE: &str = "-- The app reads email since 1.1; 1.0 still reads phone.\n-- schemagate:contract\nALTER TABLE users DROP COLUMN phone;\n";
const LATER: &str = "CREATE TABLE audit (id bigint);";

/// V1 users, V2 add email (expand), V3 drop phone (contract), V4 a later expand.
fn release_1_1() -> tempfile::TempDir {
    migrations_dir(&[
        ("V1__users.sql", USERS),
        ("V2__add_email.sql", ADD_EMAIL),
        ("V3__drop_phone.sql", DROP_PHONE),
        ("V4__audit.sql", LATER),
    ])
}

/// The app's release 1.1 as the chart runs it: SCHEMAGATE_APP/APP_VERSION and a short settle.
fn shop(db: &TestDb, dir: &std::path::Path, version: &str) -> Sg {
    sg(db, dir)
        .env("SCHEMAGATE_APP", "shop")
        .env("SCHEMAGATE_APP_VERSION", version)
        .env("SCHEMAGATE_CONTRACT_SETTLE", "1s")
}

fn applied(db: &TestDb) -> Vec<String> {
    versions(db, HISTORY)
        .into_iter()
        .filter(|(_, ok)| *ok)
        .filter_map(|(v, _)| v)
        .collect()
}

fn has_column(db: &TestDb, table: &str, column: &str) -> bool {
    db.query_scalar(&format!(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = '{table}' AND column_name = '{column}'"
    ))
    .as_deref()
        == Some("1")
}

fn recorded_phases(db: &TestDb) -> Vec<(String, String)> {
    db.query_rows("SELECT version, phase FROM schemagate_history_phase ORDER BY version")
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect()
}

#[test]
fn an_old_version_still_connected_defers_the_contract_until_it_is_gone() {
    let db = PgServer::shared().fresh_db();
    let dir = release_1_1();
    let mut old = db.client_with_app("shop/1.0");
    let old_pid: i32 = old
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    // The new version's own sessions never hold it back.
    let _new = db.client_with_app("shop/1.1/shop-7d9f-abcde");

    let out = shop(&db, dir.path(), "1.1").run();
    out.assert_code(0);
    assert_eq!(
        applied(&db),
        ["1", "2"],
        "expand applied, contract deferred\n{out}"
    );
    assert!(has_column(&db, "users", "phone"), "{out}");
    let named = format!("pid {old_pid} (application_name \"shop/1.0\"");
    assert!(
        out.stderr.contains(&named.replace('"', "\\\"")),
        "the blocking session is named in the log\n{out}"
    );
    let log = out.termination_log.clone().unwrap_or_default();
    assert!(
        log.contains("ok (exit 0)")
            && log.contains("deferred V3 (drop phone), V4 (audit)")
            && log.contains(&named),
        "{log}"
    );
    let deferred = summary(&out);
    assert_eq!(deferred["deferred"], 2, "{deferred}");

    // The app's pods are not held back by a pending contract.
    let waited = shop(&db, dir.path(), "1.1")
        .arg("wait")
        .env("SCHEMAGATE_DEADLINE", "20s")
        .run();
    waited.assert_code(0);
    assert!(waited.elapsed < Duration::from_secs(10), "{waited}");
    assert!(
        waited.stderr.contains("does not hold this pod back"),
        "{waited}"
    );

    let info = shop(&db, dir.path(), "1.1").arg("info").run();
    info.assert_code(0);
    let line = |v: &str| {
        info.stdout
            .lines()
            .find(|l| l.starts_with(&format!("| Versioned | {v} ")))
            .unwrap_or_else(|| panic!("no line for V{v}\n{info}"))
            .to_string()
    };
    assert!(
        line("2").contains("| expand ") && line("2").contains("| Success"),
        "{info}"
    );
    assert!(
        line("3").contains("| contract ") && line("3").contains("| Deferred"),
        "{info}"
    );
    assert!(
        line("4").contains("| expand ") && line("4").contains("| Deferred"),
        "{info}"
    );
    assert!(info.stdout.contains("| Phase "), "{info}");
    assert!(info.stdout.contains("Deferred: V3 (drop phone), V4 (audit): a session of an older app version still connected: pid"), "{info}");
    let json = shop(&db, dir.path(), "1.1")
        .args(["info", "--format", "json"])
        .run();
    let j = json.stdout_json();
    let m = &j["migrations"];
    assert_eq!(m[2]["state"], "Deferred", "{j}");
    assert_eq!(m[2]["phase"], "contract", "{j}");
    assert_eq!(m[1]["phase"], "expand", "{j}");
    assert_eq!(j["deferred"]["migrations"][0], "V3 (drop phone)", "{j}");
    assert!(
        j["deferred"]["reason"].as_str().unwrap().contains(&named),
        "{j}"
    );

    let plan = shop(&db, dir.path(), "1.1").arg("plan").run();
    plan.assert_code(0);
    assert!(plan.stdout.contains("phase contract"), "{plan}");
    assert!(plan.stdout.contains("-- DEFERRED, not run now"), "{plan}");
    assert!(
        plan.stdout
            .contains("-- ALTER TABLE users DROP COLUMN phone;"),
        "a deferred script is shown commented out\n{plan}"
    );

    // The old pod goes; the next run applies the contract and what follows it.
    old.close().unwrap();
    let out = shop(&db, dir.path(), "1.1").run();
    out.assert_code(0);
    assert_eq!(applied(&db), ["1", "2", "3", "4"], "{out}");
    assert!(!has_column(&db, "users", "phone"));
    assert_eq!(
        recorded_phases(&db),
        [("3".to_string(), "contract".to_string())]
    );
    invariants(&db, dir.path(), 0);

    // An image from before the contract must not start against the contracted schema.
    let older = migrations_dir(&[("V1__users.sql", USERS), ("V2__add_email.sql", ADD_EMAIL)]);
    let waited = sg(&db, older.path()).arg("wait").run();
    waited.assert_code(65);
    assert!(
        waited.stderr.contains("the schema was contracted past this image: V3 (drop phone) is an applied contract script that this image does not have"),
        "{waited}"
    );
    // Its migrate tolerates the newer versions, as for any rollback.
    sg(&db, older.path()).run().assert_code(0);
}

#[test]
fn apply_runs_the_contract_now_and_defer_never_does() {
    let db = PgServer::shared().fresh_db();
    let dir = release_1_1();
    let _old = db.client_with_app("shop/1.0");
    let out = shop(&db, dir.path(), "1.1")
        .env("SCHEMAGATE_CONTRACT", "defer")
        .run();
    out.assert_code(0);
    assert_eq!(applied(&db), ["1", "2"]);
    assert!(out.stderr.contains("SCHEMAGATE_CONTRACT=defer"), "{out}");
    let out = shop(&db, dir.path(), "1.1")
        .env("SCHEMAGATE_CONTRACT", "apply")
        .run();
    out.assert_code(0);
    assert_eq!(
        applied(&db),
        ["1", "2", "3", "4"],
        "apply ignores the old session\n{out}"
    );
    invariants(&db, dir.path(), 0);
}

#[test]
fn without_schemagate_app_a_contract_is_never_applied_under_auto() {
    let db = PgServer::shared().fresh_db();
    let dir = release_1_1();
    // No app session at all: still no evidence that an old version is gone.
    for _ in 0..2 {
        let out = sg(&db, dir.path()).run();
        out.assert_code(0);
        assert!(out.stderr.contains("SCHEMAGATE_APP is not set"), "{out}");
        assert!(
            out.termination_log
                .as_deref()
                .unwrap_or("")
                .contains("deferred V3 (drop phone), V4 (audit)"),
            "{out}"
        );
    }
    assert_eq!(applied(&db), ["1", "2"]);
    let info = sg(&db, dir.path()).arg("info").run();
    assert!(
        info.stdout
            .contains("Deferred: V3 (drop phone), V4 (audit): SCHEMAGATE_APP is not set"),
        "{info}"
    );
    invariants(&db, dir.path(), 0);
}

#[test]
fn the_post_upgrade_wait_rides_out_old_pods_that_drain() {
    let db = PgServer::shared().fresh_db();
    let dir = release_1_1();
    shop(&db, dir.path(), "1.1")
        .env("SCHEMAGATE_CONTRACT", "defer")
        .run()
        .assert_code(0);
    let old = db.client_with_app("shop/1.0");
    let running = shop(&db, dir.path(), "1.1")
        .env("SCHEMAGATE_CONTRACT_WAIT", "30s")
        .spawn();
    // The old pod drains three seconds into the hook.
    std::thread::sleep(Duration::from_secs(3));
    let drained = Instant::now();
    drop(old);
    let out = running.wait();
    out.assert_code(0);
    assert_eq!(applied(&db), ["1", "2", "3", "4"], "{out}");
    let after_drain = drained.elapsed();
    println!(
        "post-upgrade hook: ran {:.1} s in all, applied the contract {:.1} s after the old session ended (settle 1s)",
        out.elapsed.as_secs_f64(),
        after_drain.as_secs_f64()
    );
    assert!(
        out.elapsed >= Duration::from_secs(3),
        "it waited for the old session\n{out}"
    );
    assert!(after_drain < Duration::from_secs(8), "{out}");
    assert!(
        out.stderr
            .contains("waiting for sessions of older app versions to end"),
        "{out}"
    );
    invariants(&db, dir.path(), 0);
}

#[test]
fn an_old_session_that_comes_back_during_the_settle_defers_the_contract() {
    let db = PgServer::shared().fresh_db();
    let dir = release_1_1();
    let running = shop(&db, dir.path(), "1.1")
        .env("SCHEMAGATE_CONTRACT_SETTLE", "4s")
        .spawn();
    // The first look is clean; an old pod reconnects before the second.
    std::thread::sleep(Duration::from_millis(1500));
    let _old = db.client_with_app("shop/1.0");
    let out = running.wait();
    out.assert_code(0);
    assert_eq!(applied(&db), ["1", "2"], "{out}");
    assert!(
        out.stderr.contains("application_name \\\"shop/1.0\\\""),
        "{out}"
    );
}

#[test]
fn an_image_that_holds_a_contract_does_not_hold_it_back_in_the_next_release() {
    // Release 1.0 shipped V3 (drop phone), deferred while 0.9 pods drained and still
    // pending when 1.1 is rolled out. 1.1's pre-upgrade hook sees 1.0's pods: they were
    // written for the schema after V3, so V3 runs — and 1.1's own expand (V4) with it,
    // while 1.1's contract (V5), which 1.0 still needs, is deferred.
    let db = PgServer::shared().fresh_db();
    let v1_0 = migrations_dir(&[
        ("V1__users.sql", USERS),
        ("V2__add_email.sql", ADD_EMAIL),
        ("V3__drop_phone.sql", DROP_PHONE),
    ]);
    {
        let _old = db.client_with_app("shop/0.9");
        shop(&db, v1_0.path(), "1.0").run().assert_code(0);
    }
    assert_eq!(applied(&db), ["1", "2"]);
    let v1_1 = migrations_dir(&[
        ("V1__users.sql", USERS),
        ("V2__add_email.sql", ADD_EMAIL),
        ("V3__drop_phone.sql", DROP_PHONE),
        ("V4__audit.sql", LATER),
        (
            "V5__drop_audit.sql",
            "-- schemagate:contract\nDROP TABLE audit;",
        ),
    ]);
    let _pod = db.client_with_app("shop/1.0");
    let out = shop(&db, v1_1.path(), "1.1").run();
    out.assert_code(0);
    assert_eq!(applied(&db), ["1", "2", "3", "4"], "{out}");
    assert!(
        out.termination_log
            .as_deref()
            .unwrap_or("")
            .contains("deferred V5 (drop audit)"),
        "{out}"
    );
    // A version nobody recorded counts as old for every contract.
    let rows = db.query_rows("SELECT app, app_version, scripts_up_to FROM schemagate_history_releases ORDER BY app_version");
    assert_eq!(
        rows,
        [
            vec![some("shop"), some("1.0"), some("3")],
            vec![some("shop"), some("1.1"), some("5")]
        ]
    );
    invariants(&db, v1_1.path(), 0);
}

#[test]
fn a_role_without_monitoring_rights_still_sees_the_old_sessions() {
    let db = PgServer::shared().fresh_db();
    let role = unique_name("app_owner");
    db.exec(&format!(
        "CREATE ROLE {role} LOGIN; GRANT ALL ON DATABASE {} TO {role}; GRANT ALL ON SCHEMA public TO {role}",
        db.name()
    ));
    let dir = release_1_1();
    // The old pod connects as the superuser: another role than the runner's.
    let _old = db.client_with_app("shop/1.0");
    let out = sg(&db, dir.path())
        .envs(db.env_as(&role, None))
        .env("SCHEMAGATE_APP", "shop")
        .env("SCHEMAGATE_APP_VERSION", "1.1")
        .env("SCHEMAGATE_CONTRACT_SETTLE", "1s")
        .run();
    out.assert_code(0);
    assert_eq!(applied(&db), ["1", "2"], "{out}");
    assert!(
        out.stderr
            .contains("application_name \\\"shop/1.0\\\", client not shown"),
        "application_name is visible, the address is not\n{out}"
    );
}

#[test]
fn a_misspelt_directive_is_refused_before_connecting() {
    let dir = migrations_dir(&[
        ("V1__users.sql", USERS),
        (
            "V2__drop.sql",
            "-- drop it\n-- schemagate:contarct\nALTER TABLE users DROP COLUMN phone;",
        ),
        (
            "V3__fill.sql",
            "-- schemagate:backfill\nUPDATE users SET email = 'x' WHERE email IS NULL;",
        ),
    ]);
    // Nothing listens on this port: a 65 proves the scripts were judged first.
    let out = Sg::new(BIN)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string())
        .env("PGUSER", "postgres")
        .env("SCHEMAGATE_WAIT_TIMEOUT", "0")
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .run();
    out.assert_code(65);
    assert!(
        out.stderr.contains("V2__drop.sql: line 2: unknown directive `schemagate:contarct`; did you mean `schemagate:contract`?"),
        "{out}"
    );
    assert!(
        out.stderr.contains(
            "V3__fill.sql: line 1: `schemagate:backfill`, but the script does not limit itself"
        ),
        "{out}"
    );
}

#[test]
fn a_wait_longer_than_the_deadline_ends_as_a_deferral_not_as_exit_124() {
    let db = PgServer::shared().fresh_db();
    let dir = release_1_1();
    let _old = db.client_with_app("shop/1.0");
    let out = shop(&db, dir.path(), "1.1")
        .env("SCHEMAGATE_CONTRACT_WAIT", "60s")
        .env("SCHEMAGATE_DEADLINE", "15s")
        .run();
    out.assert_code(0);
    assert_eq!(applied(&db), ["1", "2"], "{out}");
    // 15 s less the settle (1 s) and the 10 s kept for the scripts.
    assert!(
        out.elapsed >= Duration::from_secs(3) && out.elapsed < Duration::from_secs(12),
        "{out}"
    );
    assert!(
        out.termination_log
            .as_deref()
            .unwrap_or("")
            .contains("deferred V3"),
        "{out}"
    );
}
