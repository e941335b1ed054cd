//! Bad input (issue 5 #12, #15–#17): timeouts, identifiers from settings, folder tricks,
//! encodings and sizes. Each has a defined outcome, and folder problems are found before
//! connecting.

mod common;

use std::time::Duration;

use common::*;

const T: &str = "schemagate_history";

/// A run with no database behind it: whatever it reports was decided before connecting.
fn without_database(dir: &std::path::Path, extra: &[(&str, &str)]) -> Outcome {
    Sg::new(BIN)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", free_port().to_string())
        .env("PGUSER", "nobody")
        .env("SCHEMAGATE_WAIT_TIMEOUT", "30s")
        .env("SCHEMAGATE_LOCATIONS", dir)
        .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .run()
}

fn refused_before_connecting(out: &Outcome, code: i32, names: &[&str]) {
    out.assert_code(code);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "it waited for a database first\n{out}"
    );
    for n in names {
        assert!(out.stderr.contains(n), "`{n}` is not named\n{out}");
    }
}
#[test]
fn statement_timeout_fails_a_transactional_script_but_not_a_concurrent_index_build() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        (
            "V1__t.sql",
            "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 200) g;\nCREATE FUNCTION slow_id(i int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN i; END $$;",
        ),
        (
            "V2__idx.sql",
            "CREATE INDEX CONCURRENTLY t_slow ON t (slow_id(id));",
        ),
    ]);
    // The concurrent build takes ~1 s, longer than the statement_timeout: it is not cut.
    sg(&db, dir.path())
        .env("SCHEMAGATE_STATEMENT_TIMEOUT", "300ms")
        .run()
        .assert_success();
    write_file(
        dir.path(),
        "V3__slow.sql",
        "CREATE TABLE half (id int);\nSELECT pg_sleep(5);",
    );
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_STATEMENT_TIMEOUT", "300ms")
        .run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("57014") && out.stderr.contains("V3__slow.sql:2"),
        "{out}"
    );
    assert!(!db.table_exists("half"));
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);
    invariants(&db, dir.path(), 0);
}

#[test]
fn odd_schema_and_table_names_are_created_exactly_and_shadows_are_never_used() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    for (schema, table) in [
        ("My \"Odd\" Schema", "hist.ory; DROP TABLE a"),
        ("schéma", "Ünïcode Täble"),
    ] {
        sg(&db, dir.path())
            .env("SCHEMAGATE_SCHEMA", schema)
            .env("SCHEMAGATE_TABLE", table)
            .run()
            .assert_success();
        // A schema it created is recorded as Flyway records it, quoted as an identifier.
        let rows = db.history_in(schema, table);
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        assert_eq!(
            (rows[0].type_.as_str(), rows[0].script.as_str()),
            ("SCHEMA", quoted.as_str()),
            "{schema}.{table}"
        );
        assert_eq!(
            (rows.len(), rows[1].version.as_deref()),
            (2, Some("1")),
            "{schema}.{table}"
        );
    }
    // A look-alike history table earlier on search_path is never read or written.
    db.exec("CREATE SCHEMA shadow; CREATE TABLE shadow.schemagate_history (junk text); INSERT INTO shadow.schemagate_history VALUES ('x');");
    let out = sg(&db, dir.path())
        .env("PGOPTIONS", "-c search_path=shadow,public")
        .run();
    out.assert_success();
    assert_eq!(
        db.query_scalar("SELECT count(*) FROM shadow.schemagate_history")
            .as_deref(),
        Some("1")
    );
    assert_eq!(versions(&db, T), [(some("1"), true)]);

    let long = "s".repeat(64);
    let out = without_database(dir.path(), &[("SCHEMAGATE_SCHEMA", &long)]);
    refused_before_connecting(&out, 78, &["SCHEMAGATE_SCHEMA", "63"]);
    // Empty means unset, as for every setting (a chart may render ""): the default applies.
    let out = sg(&db, dir.path())
        .env("SCHEMAGATE_TABLE", "")
        .arg("validate")
        .run();
    out.assert_success();
    invariants(&db, dir.path(), 0);
}

#[test]
fn folder_tricks_have_a_policy_decided_before_connecting() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    write_file(
        outside.path(),
        "V2__shared.sql",
        "CREATE TABLE shared (id int);",
    );

    // Followed: a link to a file elsewhere (a ConfigMap is made of links), a link to a folder.
    // Ignored: editor backups, hidden files, other endings. A folder loop is entered once.
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V1__a.sql~", "junk"),
        ("#V1__a.sql#", "junk"),
        (".V1__a.sql.swp", "junk"),
        (".V5__hidden.sql", "junk"),
        ("V1__a.sql.bak", "junk"),
        ("notes.txt", "junk"),
    ]);
    symlink(
        outside.path().join("V2__shared.sql"),
        dir.path().join("V2__shared.sql"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    symlink("..", dir.path().join("sub/loop")).unwrap();
    let db = PgServer::shared().fresh_db();
    sg(&db, dir.path()).run().assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true), (some("2"), true)]);

    // Refused, each named, all at once: a FIFO (never opened, it would block), a link that
    // points to itself, names that collide by case, a name that is not UTF-8.
    let bad = migrations_dir(&[
        ("V1__a.sql", "SELECT 1;"),
        ("V3__x.sql", "SELECT 3;"),
        ("V3__X.sql", "SELECT 3;"),
    ]);
    let fifo = std::ffi::CString::new(bad.path().join("V9__x.sql").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    symlink("V8__loop.sql", bad.path().join("V8__loop.sql")).unwrap();
    use std::os::unix::ffi::OsStrExt;
    std::fs::write(
        bad.path()
            .join(std::ffi::OsStr::from_bytes(b"V7__caf\xe9.sql")),
        "SELECT 7;",
    )
    .unwrap();
    let out = without_database(bad.path(), &[]);
    refused_before_connecting(
        &out,
        65,
        &[
            "V9__x.sql: not a regular file",
            "V8__loop.sql",
            "V3__X.sql",
            "V3__x.sql",
            "not valid UTF-8; rename it",
        ],
    );
    invariants(&db, dir.path(), 0);
}

#[test]
fn encodings_and_sizes_have_defined_outcomes() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__bom.sql", "\u{feff}CREATE TABLE bom (id int);\n"),
        ("V2__crlf.sql", "CREATE TABLE crlf (\r\n  id int\r\n);\r\n"),
        ("V3__empty.sql", ""),
        (
            "V4__comments.sql",
            "-- nothing to do\n/* still nothing */\n",
        ),
    ]);
    sg(&db, dir.path()).run().assert_success();
    let rows = db.history(T);
    assert_eq!(
        rows.iter().map(|r| r.checksum).collect::<Vec<_>>()[2..],
        [
            Some(0),
            Some(schemagate::core::checksum::checksum(
                "-- nothing to do\n/* still nothing */\n"
            ))
        ]
    );
    assert!(db.table_exists("bom") && db.table_exists("crlf"));

    let bad = migrations_dir(&[("V1__ok.sql", "SELECT 1;")]);
    std::fs::write(bad.path().join("V2__latin1.sql"), b"SELECT 'caf\xe9';").unwrap();
    std::fs::write(bad.path().join("V3__nul.sql"), b"SELECT 1;\0").unwrap();
    let out = without_database(bad.path(), &[]);
    refused_before_connecting(
        &out,
        65,
        &[
            "V2__latin1.sql: not valid UTF-8 at byte offset 11",
            "V3__nul.sql: contains a NUL byte at byte offset 9",
        ],
    );
    invariants(&db, dir.path(), 0);
}

#[test]
fn a_200_mb_script_applies_without_holding_it_twice() {
    let db = PgServer::shared().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(dir.path().join("V1__big.sql")).unwrap());
    use std::io::Write;
    let line = format!("-- {}\n", "x".repeat(1020));
    for _ in 0..200 * 1024 {
        f.write_all(line.as_bytes()).unwrap();
    }
    f.write_all(b"CREATE TABLE big_done (id int);\n").unwrap();
    drop(f);
    let out = sg(&db, dir.path()).timeout(Duration::from_secs(120)).run();
    out.assert_success();
    assert!(db.table_exists("big_done"));
    println!("200 MB script applied in {} ms", out.elapsed.as_millis());
    invariants(&db, dir.path(), 0);
}

#[test]
fn scripts_run_with_the_history_schema_first_on_search_path_as_in_flyway() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    sg(&db, dir.path())
        .env("SCHEMAGATE_SCHEMA", "app")
        .run()
        .assert_success();
    assert_eq!(
        db.query_scalar(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'app' AND tablename = 'a'"
        )
        .as_deref(),
        Some("1")
    );
    assert_eq!(
        db.query_scalar(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'a'"
        )
        .as_deref(),
        Some("0")
    );
}
