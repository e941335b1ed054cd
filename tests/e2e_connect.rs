//! End-to-end: credentials from every source, authentication failures and TLS verification, with no password in any output.

mod common;

use std::time::Duration;

use common::*;

const T: &str = "schemagate_history";
const PASSWORD: &str = "p@ss:w/rd?#%\\;' with spaces";

fn one_script() -> tempfile::TempDir {
    migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")])
}

fn without_password(env: Vec<(String, String)>) -> Vec<(String, String)> {
    env.into_iter().filter(|(k, _)| k != "PGPASSWORD").collect()
}

fn assert_no_secret(out: &Outcome, secret: &str) {
    for text in [
        &out.stdout,
        &out.stderr,
        &out.termination_log.clone().unwrap_or_default(),
    ] {
        assert!(!text.contains(secret), "the password leaked\n{out}");
    }
}

fn password_server() -> (PgServer, TestDb, String) {
    let server = PgServer::start(ServerOptions {
        password_auth: true,
        ..ServerOptions::default()
    });
    let db = server.fresh_db();
    let role = unique_name("app");
    db.exec(&format!("CREATE ROLE {role} LOGIN PASSWORD '{}'; GRANT ALL ON DATABASE \"{}\" TO {role}; ALTER DATABASE \"{}\" OWNER TO {role};", PASSWORD.replace('\'', "''"), db.name(), db.name()));
    (server, db, role)
}

#[test]
fn a_wrong_password_exits_77_at_once_without_showing_it() {
    let (_server, db, role) = password_server();
    let dir = one_script();
    let wrong = "not-the-password-Zq9";
    let out = Sg::new(BIN)
        .envs(db.env_as(&role, Some(wrong)))
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "60s")
        .run();
    out.assert_code(77);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "authentication failures must not be retried\n{out}"
    );
    assert_no_secret(&out, wrong);
    assert!(
        out.termination_log
            .as_deref()
            .unwrap_or("")
            .contains("denied (exit 77)"),
        "{out}"
    );
}

#[test]
fn credentials_from_a_url_a_password_file_and_a_secret_dir() {
    let (_server, db, role) = password_server();
    let dir = one_script();

    // PGPASSWORD_FILE, with the trailing newline a `kubectl create secret --from-file` leaves.
    let secrets = tempfile::tempdir().unwrap();
    let pw_file = write_file(secrets.path(), "password", &format!("{PASSWORD}\n"));
    let out = Sg::new(BIN)
        .envs(without_password(db.env_as(&role, None)))
        .env("PGPASSWORD_FILE", &pw_file)
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .run();
    out.assert_success();
    assert_no_secret(&out, PASSWORD);
    assert_eq!(versions(&db, T), [(some("1"), true)]);
    assert_eq!(db.history(T)[0].installed_by, role);

    // A mounted Secret as CloudNativePG publishes it, and nothing else.
    let cnpg = tempfile::tempdir().unwrap();
    write_file(cnpg.path(), "username", &role);
    write_file(cnpg.path(), "password", PASSWORD);
    write_file(cnpg.path(), "host", "127.0.0.1");
    write_file(cnpg.path(), "port", &db.port().to_string());
    write_file(cnpg.path(), "dbname", db.name());
    let out = Sg::new(BIN)
        .env("SCHEMAGATE_SECRET_DIR", cnpg.path())
        .env("PGSSLMODE", "disable")
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .arg("validate")
        .run();
    out.assert_success();
    assert_no_secret(&out, PASSWORD);
}

fn tls_server(names: &[&str]) -> (PgServer, TlsFiles, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    let tls = TlsFiles::generate(certs.path(), names);
    let server = PgServer::start(ServerOptions {
        tls: Some(tls.clone()),
        ..ServerOptions::default()
    });
    (server, tls, certs)
}

#[test]
fn verify_full_refuses_a_certificate_for_another_host_and_accepts_the_right_one() {
    let dir = one_script();

    let (server, tls, _certs) = tls_server(&["db.example.internal"]);
    let db = server.fresh_db();
    let out = Sg::new(BIN)
        .envs(db.env())
        .env("PGHOST", "localhost")
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", &tls.ca_cert)
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "60s")
        .run();
    out.assert_code(77);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "a verification failure is never retried\n{out}"
    );
    assert!(!db.table_exists(T));

    let (server, tls, _certs) = tls_server(&["localhost", "127.0.0.1"]);
    let db = server.fresh_db();
    let out = Sg::new(BIN)
        .envs(db.env())
        .env("PGHOST", "localhost")
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", &tls.ca_cert)
        .env("SCHEMAGATE_LOCATIONS", dir.path())
        .run();
    out.assert_success();
    assert_eq!(versions(&db, T), [(some("1"), true)]);
}

/// rustls sends a key share for its first group only, so a handshake that ends on another group
/// went through a HelloRetryRequest: a round trip more on every connection. A server left at
/// PostgreSQL's defaults (`ssl_ecdh_curve = prime256v1` up to 17) must take the share that
/// schemagate's own TLS configuration sends in its first ClientHello.
#[test]
fn a_server_at_its_defaults_takes_the_first_key_share_without_a_retry() {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use schemagate::config::conn::{ConnSettings, HostPort, RootCerts, SslMode};

    let (server, tls, _certs) = tls_server(&["localhost", "127.0.0.1"]);
    let conn = ConnSettings {
        hosts: vec![HostPort::new("localhost", server.port())],
        user: "postgres".into(),
        password: None,
        dbname: "postgres".into(),
        sslmode: SslMode::VerifyFull,
        sslnegotiation: Default::default(),
        sslrootcert: Some(RootCerts::File(tls.ca_cert.clone())),
        sslcert: None,
        sslkey: None,
        application_name: "schemagate/test".into(),
        connect_timeout: Duration::from_secs(10),
        options: None,
        target_session_attrs: Default::default(),
        init_sql: None,
    };
    let config = Arc::new(
        schemagate::pg::tls::client_config(&conn)
            .expect("TLS configuration")
            .expect("verify-full over TCP uses TLS"),
    );
    let first = config.crypto_provider().kx_groups[0].name();

    let mut sock = std::net::TcpStream::connect((server.host(), server.port())).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // SSLRequest: length 8, code 1234 5679.
    sock.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .unwrap();
    let mut answer = [0u8; 1];
    sock.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"S", "the server must offer TLS");
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut session = rustls::ClientConnection::new(config, name).unwrap();
    while session.is_handshaking() {
        session.complete_io(&mut sock).expect("TLS handshake");
    }
    assert_eq!(
        session.negotiated_key_exchange_group().map(|g| g.name()),
        Some(first),
        "the server asked for another key share (HelloRetryRequest)"
    );
}

/// PostgreSQL 15 (the only server here) reads a direct ClientHello as a startup packet of
/// absurd length and hangs up without a word: the run must say what to change, and not spend
/// its wait retrying a server that will never answer otherwise. The default negotiation
/// against the same server is unchanged.
#[test]
fn sslnegotiation_direct_against_a_server_older_than_17_fails_at_once_and_says_why() {
    let dir = one_script();
    let (server, tls, _certs) = tls_server(&["localhost", "127.0.0.1"]);
    let db = server.fresh_db();
    let run = |negotiation: &str| {
        Sg::new(BIN)
            .envs(db.env())
            .env("PGHOST", "localhost")
            .env("PGSSLMODE", "verify-full")
            .env("PGSSLROOTCERT", &tls.ca_cert)
            .env("PGSSLNEGOTIATION", negotiation)
            .env("SCHEMAGATE_LOCATIONS", dir.path())
            .env("SCHEMAGATE_WAIT_TIMEOUT", "60s")
            .run()
    };
    let out = run("direct");
    out.assert_code(69);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "a server that hangs up on a direct handshake is not retried\n{out}"
    );
    let log = out.termination_log.clone().unwrap_or_default();
    for text in [&out.stderr, &log] {
        for want in [
            "sslnegotiation=direct",
            "needs PostgreSQL 17 or later",
            "set sslnegotiation=postgres",
        ] {
            assert!(text.contains(want), "{want:?} missing\n{out}");
        }
    }
    assert!(!db.table_exists(T));

    let out = run("postgres");
    out.assert_success();
    assert!(!out.stderr.contains("sslnegotiation="), "{out}");
    assert_eq!(versions(&db, T), [(some("1"), true)]);
}

#[test]
fn sslnegotiation_direct_without_a_mode_that_requires_tls_is_a_config_error() {
    let dir = one_script();
    for (mode, shown) in [(None, "prefer"), (Some("disable"), "disable")] {
        let mut sg = Sg::new(BIN)
            .env("PGHOST", "127.0.0.1")
            .env("PGUSER", "app")
            .env("PGSSLNEGOTIATION", "direct")
            .env("SCHEMAGATE_LOCATIONS", dir.path());
        if let Some(mode) = mode {
            sg = sg.env("PGSSLMODE", mode);
        }
        let out = sg.run();
        out.assert_code(78);
        assert!(
            out.stderr.contains(&format!(
                "sslnegotiation=direct needs sslmode require, verify-ca or verify-full, not {shown}"
            )),
            "{out}"
        );
    }
}
