//! Security matrices (issue 5, cases 13 and 14), run against the real binary and real servers.
//!
//! - `credential_redaction_matrix`: a password holding `@ : / ? # % \ ; '` and spaces, given
//!   through every source (URL, key=value, `PGPASSWORD`, `PGPASSWORD_FILE`, a mounted Secret's
//!   files, a Secret's `uri` key), crossed with every way a run can end (success, a parse
//!   error, a DNS failure, a wrong password, a TLS failure, the server stopping mid-run, a
//!   SIGTERM mid-run, a panic). The password (raw, percent-encoded, base64, libpq-quoted,
//!   JSON-escaped, and its random core alone) never appears in stdout, stderr or the
//!   termination log.
//! - `tls_matrix`: servers with a valid chain, a certificate for another host, a self-signed
//!   certificate, an expired one, and no TLS at all; clients in `require`, `verify-ca` and
//!   `verify-full`, each with and without a root certificate. A verification failure exits
//!   77 after exactly one attempt, even with a 60 s wait; a server without TLS is never used
//!   in plaintext.
//! - `pushgateway_credential_matrix` (issue 16): the same kind of password as the metrics
//!   push's credential — in the URL's userinfo, in a URL file, as a password, a password file
//!   or a bearer token file — crossed with a gateway that accepts, refuses (401) or never
//!   answers, a failing migration, a database that is down and a malformed setting beside
//!   it. The gateway receives exactly the Authorization header it should, and neither the
//!   password in any form nor the header appears in stdout, stderr or the termination log.
//! - `otlp_header_matrix` (issue 16): the same kind of secret as a bearer token in
//!   `OTEL_EXPORTER_OTLP_HEADERS` or in the per-signal `_METRICS_HEADERS`/`_TRACES_HEADERS`,
//!   crossed with the same endings (the malformed setting: an entry without `=` beside it).
//!   Metrics and trace both carry exactly the header; it and the secret reach no output.
//!
//! Every cell ends with the same invariant: no planted secret in any output, no schemagate
//! session left in `pg_stat_activity`, no advisory lock left in `pg_locks`. Cells run in
//! parallel threads; each collects its problems instead of panicking, so one run reports every
//! broken cell, and `--nocapture` prints the matrix (cell → exit code).

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const T: &str = "schemagate_history";
/// The prefix of our sessions' `application_name` (the default and every PGAPPNAME below).
const APP: &str = "schemagate";
const SLOW_SQL: &str = "CREATE TABLE slow (id int);\nSELECT pg_sleep(60);";

// ---------------------------------------------------------------------------------------
// Planted secrets and the forms they could leak in
// ---------------------------------------------------------------------------------------

/// A password made of the characters that break URLs, key=value strings and shells, around a
/// random core that appears nowhere else, so that a partial leak is caught too.
struct Planted {
    label: &'static str,
    raw: String,
    core: String,
}

fn random_core() -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let mut x = h.finish();
    (0..10)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x = x.rotate_right(7).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1e995;
            c
        })
        .collect()
}

impl Planted {
    fn new(label: &'static str, lead: &str) -> Planted {
        let core = random_core();
        // @ : / ? # % \ ; ' and spaces, as the issue asks.
        let raw = format!("{lead}@ss: w/rd?#%\\;' {core} end");
        Planted { label, raw, core }
    }

    /// Every form the password could leak in.
    fn forms(&self) -> Vec<(&'static str, String)> {
        vec![
            ("raw", self.raw.clone()),
            ("percent-encoded", pct(&self.raw)),
            ("base64", base64(self.raw.as_bytes())),
            (
                "base64 with newline",
                base64(format!("{}\n", self.raw).as_bytes()),
            ),
            ("libpq-quoted", kv_quote(&self.raw)),
            ("json-escaped", json_escape(&self.raw)),
            ("core", self.core.clone()),
        ]
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved ones (what a URL holds).
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Standard base64 with padding, as a Kubernetes Secret's `data` holds it (and HTTP basic
/// auth sends a credential).
fn base64(bytes: &[u8]) -> String {
    schemagate::core::metrics::base64(bytes, schemagate::core::metrics::BASE64)
}

/// libpq's quoting inside `'…'`: `\` and `'` are escaped with a backslash.
fn kv_quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

/// Names of the forms of `secrets` found in `text` (the core case-insensitively).
fn leaks_in(text: &str, secrets: &[&Planted]) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut found = Vec::new();
    for s in secrets {
        for (form, value) in s.forms() {
            let hit = if form == "core" {
                lower.contains(&value.to_lowercase())
            } else {
                text.contains(&value)
            };
            if hit {
                found.push(format!("{} password ({form})", s.label));
            }
        }
    }
    found
}

/// The invariant's first half: no planted secret in stdout, stderr or the termination log.
fn check_no_leak(out: &Outcome, secrets: &[&Planted], problems: &mut Vec<String>) {
    let term = out.termination_log.clone().unwrap_or_default();
    for (stream, text) in [
        ("stdout", &out.stdout),
        ("stderr", &out.stderr),
        ("termination log", &term),
    ] {
        for leak in leaks_in(text, secrets) {
            problems.push(format!("LEAK: the {leak} appears in {stream}"));
        }
    }
}

/// The invariant's second half: no session of ours and no advisory lock left on `db`.
fn check_db_clean(db: &TestDb, problems: &mut Vec<String>) {
    // A backend may take a moment to go once its client has left.
    let until = Instant::now() + Duration::from_secs(5);
    while db.backends_with_app_prefix(APP) > 0 && Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
    }
    let left = db.backends_with_app_prefix(APP);
    if left != 0 {
        problems.push(format!(
            "{left} schemagate session(s) left in pg_stat_activity"
        ));
    }
    let locks = db.advisory_locks_held();
    if locks != 0 {
        problems.push(format!("{locks} advisory lock(s) left in pg_locks"));
    }
}

/// JSON log lines that carry an `attempt` field: one per connection attempt.
fn attempts(out: &Outcome) -> usize {
    out.stderr_json_lines()
        .iter()
        .filter(|l| l.get("attempt").is_some())
        .count()
}

fn expect(cond: bool, problems: &mut Vec<String>, what: impl Into<String>) {
    if !cond {
        problems.push(what.into());
    }
}

/// Our sessions on `db` running a statement that contains `needle`.
fn running_query_count(db: &TestDb, needle: &str) -> i64 {
    db.query_scalar(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND query LIKE '%{needle}%' AND application_name LIKE '{APP}%'"
    ))
    .and_then(|n| n.parse().ok())
    .unwrap_or(0)
}

/// Waits until `running` is inside a statement containing `needle`; false if it ends first
/// or `limit` passes.
fn wait_for_running_query(
    db: &TestDb,
    running: &mut Running,
    needle: &str,
    limit: Duration,
) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until && running.is_running() {
        if running_query_count(db, needle) == 1 {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// One cell's result, for the printed matrix and the final verdict.
struct CellResult {
    row: String,
    col: String,
    expected: i32,
    observed: Option<i32>,
    elapsed: Duration,
    problems: Vec<String>,
    output: String,
    /// TCP sessions the cell opened, as its own log says (TLS matrix only).
    tcp: usize,
}

/// Prints the matrix and panics with every broken cell.
fn report(title: &str, results: &[CellResult], rows: &[String], cols: &[String]) {
    let width = cols.iter().map(String::len).max().unwrap_or(4).max(6);
    let row_width = rows.iter().map(String::len).max().unwrap_or(4);
    let mut table = format!("\n{title}\n{:row_width$}", "");
    for c in cols {
        let _ = write!(table, " | {c:>width$}");
    }
    table.push('\n');
    for r in rows {
        let _ = write!(table, "{r:row_width$}");
        for c in cols {
            let cell = match results.iter().find(|x| &x.row == r && &x.col == c) {
                None => "—".to_string(),
                Some(x) => {
                    let got = x.observed.map_or("sig".to_string(), |c| c.to_string());
                    if x.problems.is_empty() {
                        got
                    } else {
                        format!("{got}≠{}!", x.expected)
                    }
                }
            };
            let _ = write!(table, " | {cell:>width$}");
        }
        table.push('\n');
    }
    let slowest = results.iter().map(|r| r.elapsed).max().unwrap_or_default();
    let _ = writeln!(
        table,
        "{} cells; slowest run {slowest:.1?}; `n≠m!` marks a cell with problems",
        results.len()
    );
    println!("{table}");
    let broken: Vec<&CellResult> = results.iter().filter(|r| !r.problems.is_empty()).collect();
    if !broken.is_empty() {
        let mut msg = format!("{} broken cell(s):{table}\n", broken.len());
        for b in broken {
            let _ = writeln!(
                msg,
                "=== {} × {} (expected {}, got {:?}):\n  - {}\n{}",
                b.row,
                b.col,
                b.expected,
                b.observed,
                b.problems.join("\n  - "),
                b.output
            );
        }
        panic!("{msg}");
    }
}

// ---------------------------------------------------------------------------------------
// Case 13: the credential redaction matrix
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `SCHEMAGATE_DATABASE_URL=postgres://user:ENC@host:port/db`, the password percent-encoded.
    Url,
    /// `DATABASE_URL=host='…' … password='…'` with libpq's `\'` and `\\`.
    KeyValue,
    /// `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSWORD`.
    PgPassword,
    /// The same with `PGPASSWORD_FILE` (and the trailing newline a Secret file often has).
    PgPasswordFile,
    /// `SCHEMAGATE_SECRET_DIR` with `username`, `password`, `host`, `port`, `dbname`.
    SecretDir,
    /// `SCHEMAGATE_SECRET_DIR` holding only `uri` (CloudNativePG publishes one).
    SecretDirUri,
}

const SOURCES: [Source; 6] = [
    Source::Url,
    Source::KeyValue,
    Source::PgPassword,
    Source::PgPasswordFile,
    Source::SecretDir,
    Source::SecretDirUri,
];

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Url => "URL",
            Source::KeyValue => "key=value",
            Source::PgPassword => "PGPASSWORD",
            Source::PgPasswordFile => "PGPASSWORD_FILE",
            Source::SecretDir => "secret dir",
            Source::SecretDirUri => "secret dir uri",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// No failure: the baseline that proves the ordinary log lines are clean too.
    Success,
    /// A malformed setting next to (or around) the password: a bad port in the URL, the
    /// secret's `port` file or `PGPORT`; an unknown key in the key=value string.
    ParseError,
    /// URL only: the password pasted without percent-encoding (`/ ? #` break the URI).
    ParseUnencoded,
    /// key=value only: the password's `'` not escaped, so the string ends early.
    ParseUnescapedQuote,
    /// URL only: a typo in the variable's name (`SCHEMAGATE_DATABASE_ULR`).
    ParseTypoInName,
    /// URL only: the URL given as a stray command-line argument
    /// (`schemagate migrate "$DATABASE_URL"`): a usage error.
    StrayArgument,
    /// URL only: the URL in `PGDATABASE` (libpq expands a dbname that is a connection string).
    UrlInDbname,
    /// Host `does-not-resolve.invalid`, `SCHEMAGATE_WAIT_TIMEOUT=1s`.
    Dns,
    /// The planted *wrong* password against a `password_auth` server.
    WrongPassword,
    /// `sslmode=verify-full` against a certificate for another host.
    TlsFailure,
    /// The server stopped (`pg_ctl -m fast`, a node drain) while a script runs.
    ServerStop,
    /// SIGTERM to the binary while a script runs (Kubernetes ending the pod).
    Sigterm,
    /// `schemagate internal-crash-test`: a panic, with the credentials loaded.
    Panic,
}

const ENDINGS: [Ending; 13] = [
    Ending::Success,
    Ending::ParseError,
    Ending::ParseUnencoded,
    Ending::ParseUnescapedQuote,
    Ending::ParseTypoInName,
    Ending::StrayArgument,
    Ending::UrlInDbname,
    Ending::Dns,
    Ending::WrongPassword,
    Ending::TlsFailure,
    Ending::ServerStop,
    Ending::Sigterm,
    Ending::Panic,
];

impl Ending {
    fn name(self) -> &'static str {
        match self {
            Ending::Success => "ok",
            Ending::ParseError => "parse",
            Ending::ParseUnencoded => "parse:unencoded",
            Ending::ParseUnescapedQuote => "parse:quote",
            Ending::ParseTypoInName => "parse:typo",
            Ending::StrayArgument => "stray-arg",
            Ending::UrlInDbname => "url-in-dbname",
            Ending::Dns => "dns",
            Ending::WrongPassword => "wrong-pw",
            Ending::TlsFailure => "tls",
            Ending::ServerStop => "server-stop",
            Ending::Sigterm => "sigterm",
            Ending::Panic => "panic",
        }
    }

    fn expected_code(self) -> i32 {
        match self {
            Ending::Success => 0,
            Ending::ParseError
            | Ending::ParseUnencoded
            | Ending::ParseUnescapedQuote
            | Ending::ParseTypoInName
            | Ending::UrlInDbname => 78,
            Ending::StrayArgument => 64,
            Ending::Dns | Ending::ServerStop => 69,
            Ending::WrongPassword | Ending::TlsFailure => 77,
            Ending::Sigterm => 143,
            Ending::Panic => 70,
        }
    }
}

/// The table of cells: (source, ending). Every source meets every general ending. The
/// parse-error *variants* exist only where the source has that shape:
/// - `parse:unencoded`, `parse:typo`, `stray-arg`, `url-in-dbname`: a URL pasted into the
///   wrong place or form; the key=value string, `PG*` and secret files have no URL to paste
///   (the secret's `uri` key goes through the same URI parser as the URL row).
/// - `parse:quote`: only a key=value string has quotes to get wrong.
///
/// Notes on general cells that might look odd: for `PGPASSWORD`/`PGPASSWORD_FILE` the
/// password itself cannot be malformed (any text is a password), so their parse error is
/// `PGPORT=99999` while the password is loaded: what matters is that the error path does not
/// print it. A DNS failure with a Secret's `host` key is meaningful: an operator's Secret
/// naming a Service that is gone.
fn redaction_cells() -> Vec<(Source, Ending)> {
    let mut cells = Vec::new();
    for source in SOURCES {
        for ending in ENDINGS {
            let applies = match ending {
                Ending::ParseUnencoded
                | Ending::ParseTypoInName
                | Ending::StrayArgument
                | Ending::UrlInDbname => source == Source::Url,
                Ending::ParseUnescapedQuote => source == Source::KeyValue,
                _ => true,
            };
            if applies {
                cells.push((source, ending));
            }
        }
    }
    cells
}

/// Where a cell connects to; every field as text so that a cell can break one.
#[derive(Clone)]
struct Target {
    host: String,
    port: String,
    user: String,
    password: String,
    dbname: String,
}

fn url_of(t: &Target) -> String {
    format!(
        "postgres://{}:{}@{}:{}/{}",
        pct(&t.user),
        pct(&t.password),
        t.host,
        t.port,
        pct(&t.dbname)
    )
}

fn kv_of(t: &Target) -> String {
    format!(
        "host='{}' port='{}' user='{}' password='{}' dbname='{}'",
        kv_quote(&t.host),
        kv_quote(&t.port),
        kv_quote(&t.user),
        kv_quote(&t.password),
        kv_quote(&t.dbname)
    )
}

fn pg_vars(t: &Target) -> Vec<(String, String)> {
    vec![
        ("PGHOST".into(), t.host.clone()),
        ("PGPORT".into(), t.port.clone()),
        ("PGUSER".into(), t.user.clone()),
        ("PGDATABASE".into(), t.dbname.clone()),
    ]
}

/// Gives `t` to the binary through `source`; files go under `files`.
fn with_source(mut sg: Sg, source: Source, t: &Target, files: &Path) -> Sg {
    match source {
        Source::Url => sg.env("SCHEMAGATE_DATABASE_URL", url_of(t)),
        Source::KeyValue => sg.env("DATABASE_URL", kv_of(t)),
        Source::PgPassword => sg.envs(pg_vars(t)).env("PGPASSWORD", &t.password),
        Source::PgPasswordFile => {
            let f = write_file(files, "pgpassword", &format!("{}\n", t.password));
            sg.envs(pg_vars(t)).env("PGPASSWORD_FILE", f)
        }
        Source::SecretDir => {
            let dir = files.join("secret");
            for (key, value) in [
                ("username", &t.user),
                ("password", &t.password),
                ("host", &t.host),
                ("port", &t.port),
                ("dbname", &t.dbname),
            ] {
                write_file(&dir, key, value);
            }
            sg = sg.env("SCHEMAGATE_SECRET_DIR", dir);
            sg
        }
        Source::SecretDirUri => {
            let dir = files.join("secret");
            write_file(&dir, "uri", &url_of(t));
            sg.env("SCHEMAGATE_SECRET_DIR", dir)
        }
    }
}

/// What the redaction cells share.
struct Redaction<'a> {
    /// `password_auth`, TLS with a certificate for `other.example` (so `verify-full` to
    /// `localhost` fails), never stopped.
    main: &'a PgServer,
    main_ca: PathBuf,
    /// `password_auth`, stopped and started again by the `server-stop` column.
    stoppable: &'a PgServer,
    role: String,
    right: &'a Planted,
    wrong: &'a Planted,
}

impl Redaction<'_> {
    fn db_on(&self, server: &PgServer) -> TestDb {
        let db = server.fresh_db();
        db.exec(&format!(
            "GRANT ALL ON DATABASE \"{db}\" TO {role}; ALTER DATABASE \"{db}\" OWNER TO {role};",
            db = db.name(),
            role = self.role
        ));
        db
    }

    fn target(&self, server: &PgServer, db: &TestDb) -> Target {
        Target {
            host: server.host().to_string(),
            port: server.port().to_string(),
            user: self.role.clone(),
            password: self.right.raw.clone(),
            dbname: db.name().to_string(),
        }
    }

    /// The command for one cell, and the database it points at.
    fn command(
        &self,
        source: Source,
        ending: Ending,
        server: &PgServer,
        db: &TestDb,
        scripts: &Path,
        files: &Path,
    ) -> Sg {
        let mut t = self.target(server, db);
        let mut sg = Sg::new(BIN)
            .env("SCHEMAGATE_LOCATIONS", scripts)
            .env("SCHEMAGATE_LOG_FORMAT", "json")
            .env("PGSSLMODE", "disable")
            .timeout(Duration::from_secs(45));
        match ending {
            Ending::Success | Ending::Sigterm => {}
            Ending::ParseError => {
                if source != Source::KeyValue {
                    t.port = "99999".into();
                }
            }
            Ending::Dns => {
                t.host = "does-not-resolve.invalid".into();
                sg = sg.env("SCHEMAGATE_WAIT_TIMEOUT", "1s");
            }
            Ending::WrongPassword => {
                t.password = self.wrong.raw.clone();
                sg = sg.env("SCHEMAGATE_WAIT_TIMEOUT", "60s");
            }
            Ending::TlsFailure => {
                t.host = "localhost".into();
                sg = sg
                    .env("PGSSLMODE", "verify-full")
                    .env("PGSSLROOTCERT", &self.main_ca)
                    .env("SCHEMAGATE_WAIT_TIMEOUT", "60s");
            }
            // Long enough to connect on a loaded two-core runner, short enough to give up
            // on the stopped server soon after.
            Ending::ServerStop => sg = sg.env("SCHEMAGATE_WAIT_TIMEOUT", "5s"),
            Ending::Panic => sg = sg.arg("internal-crash-test"),
            // Variants that replace the source entirely.
            Ending::ParseUnencoded => {
                let raw = format!(
                    "postgres://{}:{}@{}:{}/{}",
                    t.user, t.password, t.host, t.port, t.dbname
                );
                return sg.env("SCHEMAGATE_DATABASE_URL", raw);
            }
            Ending::ParseTypoInName => return sg.env("SCHEMAGATE_DATABASE_ULR", url_of(&t)),
            Ending::StrayArgument => return sg.args(["migrate", &url_of(&t)]),
            Ending::UrlInDbname => {
                return sg
                    .env("PGHOST", &t.host)
                    .env("PGPORT", &t.port)
                    .env("PGUSER", &t.user)
                    .env("PGDATABASE", url_of(&t));
            }
            Ending::ParseUnescapedQuote => {
                let kv = format!(
                    "host='{}' port='{}' user='{}' password='{}' dbname='{}'",
                    t.host, t.port, t.user, t.password, t.dbname
                );
                return sg.env("DATABASE_URL", kv);
            }
        }
        let mut sg = with_source(sg, source, &t, files);
        if ending == Ending::ParseError && source == Source::KeyValue {
            // An unknown key after the password: `sslmdoe` for `sslmode`.
            sg = sg.env("DATABASE_URL", format!("{} sslmdoe=require", kv_of(&t)));
        }
        sg
    }

    /// Checks one finished cell: code, invariant, and what the ending must say.
    fn check(
        &self,
        source: Source,
        ending: Ending,
        out: &Outcome,
        db: &TestDb,
        problems: &mut Vec<String>,
    ) {
        let expected = ending.expected_code();
        expect(
            out.code == Some(expected),
            problems,
            format!("exit code {:?}, expected {expected}", out.code),
        );
        check_no_leak(out, &[self.right, self.wrong], problems);
        check_db_clean(db, problems);
        // A usage error stops before settings are read, so it writes no termination log;
        // every other ending must write one, or the check above proved nothing about it.
        if ending != Ending::StrayArgument {
            let term = out.termination_log.as_deref().unwrap_or("");
            expect(
                term.contains(&format!("(exit {expected})")),
                problems,
                format!("the termination log does not say (exit {expected}): {term:?}"),
            );
        }
        let stderr = &out.stderr;
        match ending {
            Ending::Success => {
                expect(
                    versions(db, T) == [(some("1"), true)],
                    problems,
                    "the migration was not recorded",
                );
                // The target is logged, with the password replaced.
                expect(
                    stderr.contains(&format!("{}:***@", self.role)),
                    problems,
                    "the starting line does not show the redacted target user:***@",
                );
            }
            Ending::WrongPassword => {
                expect(
                    stderr.contains("password authentication failed"),
                    problems,
                    "the error does not say the password was refused",
                );
                expect(
                    attempts(out) == 1,
                    problems,
                    format!("{} attempts, expected exactly 1", attempts(out)),
                );
                expect(
                    out.elapsed < Duration::from_secs(15),
                    problems,
                    format!("took {:?} with a 60 s wait: retried?", out.elapsed),
                );
            }
            Ending::TlsFailure => {
                expect(
                    stderr.contains("not valid for host"),
                    problems,
                    "the error does not name the host-name mismatch",
                );
                expect(
                    attempts(out) == 1,
                    problems,
                    format!("{} attempts, expected exactly 1", attempts(out)),
                );
                expect(
                    out.elapsed < Duration::from_secs(15),
                    problems,
                    format!("took {:?} with a 60 s wait: retried?", out.elapsed),
                );
            }
            Ending::Dns => expect(
                stderr.contains("does not resolve"),
                problems,
                "the error does not say the host does not resolve",
            ),
            Ending::ServerStop => expect(
                stderr.contains("lost the database mid-run"),
                problems,
                "no log line about losing the database mid-run",
            ),
            Ending::Sigterm => expect(
                !db.table_exists("slow"),
                problems,
                "the interrupted script was not rolled back",
            ),
            Ending::Panic => {
                let term = out.termination_log.as_deref().unwrap_or("");
                expect(
                    term.contains("crash test requested (target postgres://")
                        && term.contains(&format!("{}:***@", self.role)),
                    problems,
                    "the panic message does not show the redacted target",
                );
            }
            Ending::StrayArgument => expect(
                stderr.contains("unexpected argument"),
                problems,
                "the usage error does not say what is wrong",
            ),
            Ending::UrlInDbname => expect(
                stderr.contains("PGDATABASE") || stderr.contains("database name"),
                problems,
                "the error does not name the setting at fault",
            ),
            Ending::ParseError
            | Ending::ParseUnencoded
            | Ending::ParseUnescapedQuote
            | Ending::ParseTypoInName => {}
        }
        let _ = source;
    }

    /// Runs one cell that needs nothing but itself (all but `server-stop`).
    fn run_cell(&self, source: Source, ending: Ending) -> CellResult {
        let db = self.db_on(self.main);
        let scripts = if ending == Ending::Sigterm {
            migrations_dir(&[("V1__slow.sql", SLOW_SQL)])
        } else {
            migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")])
        };
        let files = tempfile::tempdir().unwrap();
        let sg = self.command(source, ending, self.main, &db, scripts.path(), files.path());
        let mut problems = Vec::new();
        let out = if ending == Ending::Sigterm {
            let mut running = sg.spawn();
            if wait_for_running_query(&db, &mut running, "pg_sleep(60)", Duration::from_secs(30)) {
                running.signal(libc::SIGTERM);
            } else {
                problems.push("the slow script never started".into());
            }
            running.wait()
        } else {
            sg.run()
        };
        self.check(source, ending, &out, &db, &mut problems);
        CellResult {
            row: source.name().into(),
            col: ending.name().into(),
            expected: ending.expected_code(),
            observed: out.code,
            elapsed: out.elapsed,
            problems,
            output: out.to_string(),
            tcp: 0,
        }
    }

    /// The `server-stop` column: one runner per source on the stoppable server, each in its
    /// own database inside `pg_sleep(60)`, then a fast shutdown under all of them at once.
    fn run_server_stop_column(&self) -> Vec<CellResult> {
        let scripts = migrations_dir(&[("V1__slow.sql", SLOW_SQL)]);
        let mut runs = Vec::new();
        for source in SOURCES {
            let db = self.db_on(self.stoppable);
            let files = tempfile::tempdir().unwrap();
            let sg = self.command(
                source,
                Ending::ServerStop,
                self.stoppable,
                &db,
                scripts.path(),
                files.path(),
            );
            runs.push((source, db, files, sg.spawn()));
        }
        // Stop only once every runner is inside its script (or one has already ended).
        let sleeping = |db: &TestDb| running_query_count(db, "pg_sleep(60)") == 1;
        let until = Instant::now() + Duration::from_secs(30);
        while !runs.iter().all(|(_, db, _, _)| sleeping(db))
            && runs.iter_mut().all(|(_, _, _, r)| r.is_running())
            && Instant::now() < until
        {
            thread::sleep(Duration::from_millis(50));
        }
        let started: Vec<bool> = runs.iter().map(|(_, db, _, _)| sleeping(db)).collect();
        self.stoppable.stop_fast();
        let outs: Vec<(Source, TestDb, Outcome)> = runs
            .into_iter()
            .map(|(source, db, _files, running)| (source, db, running.wait()))
            .collect();
        self.stoppable.start_again();
        outs.into_iter()
            .zip(started)
            .map(|((source, db, out), started)| {
                let mut problems = Vec::new();
                if !started {
                    problems.push("the slow script never started".into());
                }
                self.check(source, Ending::ServerStop, &out, &db, &mut problems);
                expect(
                    !db.table_exists("slow"),
                    &mut problems,
                    "the interrupted script was not rolled back",
                );
                CellResult {
                    row: source.name().into(),
                    col: Ending::ServerStop.name().into(),
                    expected: 69,
                    observed: out.code,
                    elapsed: out.elapsed,
                    problems,
                    output: out.to_string(),
                    tcp: 0,
                }
            })
            .collect()
    }
}

#[test]
fn the_leak_detector_finds_every_form() {
    let p = Planted::new("test", "p");
    for (form, value) in p.forms() {
        let text = format!("before {value} after");
        assert!(
            !leaks_in(&text, &[&p]).is_empty(),
            "the {form} form is not detected"
        );
    }
    // Partial leaks: the core alone, in another case.
    assert!(!leaks_in(&p.core.to_uppercase(), &[&p]).is_empty());
    assert!(leaks_in("postgres://app:***@db:5432/app", &[&p]).is_empty());
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"M"), "TQ==");
    assert_eq!(pct("a@b c"), "a%40b%20c");
    assert_eq!(kv_quote(r"a'b\c"), r"a\'b\\c");
}

#[test]
fn credential_redaction_matrix() {
    let started = Instant::now();
    let right = Planted::new("right", "p");
    let wrong = Planted::new("wrong", "wr0ng-p");
    let certs = tempfile::tempdir().unwrap();
    let tls = TlsFiles::generate(certs.path(), &["other.example"]);
    let (main, stoppable) = thread::scope(|s| {
        let main = s.spawn(|| {
            PgServer::start(ServerOptions {
                password_auth: true,
                tls: Some(tls.clone()),
                ..ServerOptions::default()
            })
        });
        let stoppable = s.spawn(|| {
            PgServer::start(ServerOptions {
                password_auth: true,
                ..ServerOptions::default()
            })
        });
        (main.join().unwrap(), stoppable.join().unwrap())
    });
    let role = unique_name("app");
    for server in [&main, &stoppable] {
        server.admin_exec(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{}'",
            right.raw.replace('\'', "''")
        ));
    }
    let ctx = Redaction {
        main: &main,
        main_ca: tls.ca_cert.clone(),
        stoppable: &stoppable,
        role,
        right: &right,
        wrong: &wrong,
    };

    let cells: Vec<(Source, Ending)> = redaction_cells()
        .into_iter()
        .filter(|(_, e)| *e != Ending::ServerStop)
        .collect();
    let mut results: Vec<CellResult> = thread::scope(|s| {
        let stop_column = s.spawn(|| ctx.run_server_stop_column());
        // Bounded parallelism: CI runners have two cores.
        let chunks: Vec<Vec<(Source, Ending)>> = {
            let n = 8;
            let mut v = vec![Vec::new(); n];
            for (i, c) in cells.iter().enumerate() {
                v[i % n].push(*c);
            }
            v
        };
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let ctx = &ctx;
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(source, ending)| ctx.run_cell(source, ending))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<CellResult> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("a cell worker panicked"))
            .collect();
        all.extend(stop_column.join().expect("the server-stop column panicked"));
        all
    });
    results.sort_by_key(|r| (r.row.clone(), r.col.clone()));
    let rows: Vec<String> = SOURCES.iter().map(|s| s.name().to_string()).collect();
    let cols: Vec<String> = ENDINGS.iter().map(|e| e.name().to_string()).collect();
    assert_eq!(
        results.len(),
        redaction_cells().len(),
        "every cell of the table ran"
    );
    report(
        &format!(
            "credential redaction matrix (source × ending → exit code), {:.1?}",
            started.elapsed()
        ),
        &results,
        &rows,
        &cols,
    );
}

// ---------------------------------------------------------------------------------------
// Case 14: the TLS matrix
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerCert {
    /// Signed by our CA for `localhost` and `127.0.0.1`.
    Valid,
    /// Signed by our CA for `other.example` only.
    WrongHost,
    /// Signs itself; our CA did not sign it.
    SelfSigned,
    /// Signed by our CA, expired in 2021.
    Expired,
    /// `ssl = off`.
    NoTls,
}

const SERVER_CERTS: [ServerCert; 5] = [
    ServerCert::Valid,
    ServerCert::WrongHost,
    ServerCert::SelfSigned,
    ServerCert::Expired,
    ServerCert::NoTls,
];

impl ServerCert {
    fn name(self) -> &'static str {
        match self {
            ServerCert::Valid => "valid",
            ServerCert::WrongHost => "wrong-host",
            ServerCert::SelfSigned => "self-signed",
            ServerCert::Expired => "expired",
            ServerCert::NoTls => "ssl-off",
        }
    }
}

const MODES: [&str; 3] = ["require", "verify-ca", "verify-full"];

/// libpq's rules as SPEC §2 adopts them.
fn tls_expected(cert: ServerCert, mode: &str, root: bool) -> i32 {
    if mode != "require" && !root {
        return 78; // verify-* needs a root certificate: a config error, before any attempt
    }
    if cert == ServerCert::NoTls {
        return 77; // never a plaintext fallback
    }
    if !root {
        return 0; // require without a root: encrypted, not verified (and a warning)
    }
    // A root certificate makes `require` behave as `verify-ca` (libpq's rule).
    let checks_name = mode == "verify-full";
    match cert {
        ServerCert::Valid => 0,
        ServerCert::WrongHost if checks_name => 77,
        ServerCert::WrongHost => 0,
        ServerCert::SelfSigned | ServerCert::Expired => 77,
        ServerCert::NoTls => unreachable!(),
    }
}

/// What the error must say for a refused server, so an on-call engineer knows which fix.
fn tls_refusal_text(cert: ServerCert) -> &'static str {
    match cert {
        ServerCert::NoTls => "does not offer TLS",
        ServerCert::WrongHost => "not valid for host",
        ServerCert::SelfSigned => "not signed by a CA in sslrootcert",
        ServerCert::Expired => "expired",
        ServerCert::Valid => "",
    }
}

struct TlsServer {
    cert: ServerCert,
    server: PgServer,
    ca: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

fn start_tls_server(cert: ServerCert) -> TlsServer {
    let dir = tempfile::tempdir().unwrap();
    let local = ["localhost", "127.0.0.1"];
    let files = match cert {
        ServerCert::Valid => Some(TlsFiles::generate(dir.path(), &local)),
        ServerCert::WrongHost => Some(TlsFiles::generate(dir.path(), &["other.example"])),
        ServerCert::SelfSigned => Some(TlsFiles::self_signed(dir.path(), &local)),
        ServerCert::Expired => Some(TlsFiles::expired(dir.path(), &local)),
        ServerCert::NoTls => None,
    };
    // For the server without TLS the clients still get a root certificate to offer, so
    // that `require` + root and `verify-*` + root reach the server.
    let ca = match &files {
        Some(f) => Some(f.ca_cert.clone()),
        None => Some(TlsFiles::generate(&dir.path().join("unused"), &local).ca_cert),
    };
    let server = PgServer::start(ServerOptions {
        tls: files,
        extra_conf: vec!["log_connections = on".into()],
        ..ServerOptions::default()
    });
    TlsServer {
        cert,
        server,
        ca,
        _dir: dir,
    }
}

fn run_tls_cell(s: &TlsServer, mode: &'static str, root: bool) -> CellResult {
    let db = s.server.fresh_db();
    let scripts = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    let app = format!(
        "{APP}/tls-{}-{mode}-{}",
        s.cert.name(),
        if root { "ca" } else { "none" }
    );
    let mut sg = sg(&db, scripts.path())
        .env("PGHOST", "localhost")
        .env("PGSSLMODE", mode)
        .env("PGAPPNAME", &app)
        .env("SCHEMAGATE_WAIT_TIMEOUT", "60s")
        .timeout(Duration::from_secs(45));
    if root {
        sg = sg.env("PGSSLROOTCERT", s.ca.as_ref().unwrap());
    }
    let out = sg.run();
    let expected = tls_expected(s.cert, mode, root);
    let mut p = Vec::new();
    expect(
        out.code == Some(expected),
        &mut p,
        format!("exit code {:?}, expected {expected}", out.code),
    );
    check_db_clean(&db, &mut p);
    let authorized: Vec<String> = s
        .server
        .log_contents()
        .lines()
        .filter(|l| l.contains("connection authorized") && l.contains(&app))
        .map(str::to_string)
        .collect();
    let n = attempts(&out);
    let lines = out.stderr_json_lines();
    let connected: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.get("attempt").is_some())
        .collect();
    // Sessions this cell opened over TCP, for the per-server count below.
    let mut tcp = 0;
    match expected {
        0 => {
            expect(
                versions(&db, T) == [(some("1"), true)],
                &mut p,
                "the migration was not recorded",
            );
            // migrate opens two sessions (the lock's and the work's); each on its first try.
            expect(
                !connected.is_empty()
                    && connected.iter().all(|l| {
                        l.get("attempt").and_then(serde_json::Value::as_u64) == Some(1)
                            && l.get("message").and_then(|m| m.as_str())
                                == Some("connected to the database")
                    }),
                &mut p,
                format!("attempt lines are not all first-try connections: {connected:?}"),
            );
            tcp = connected.len();
            let verified: Vec<Option<bool>> = connected
                .iter()
                .map(|l| l.get("tls_verified").and_then(serde_json::Value::as_bool))
                .collect();
            expect(
                verified.iter().all(|v| *v == Some(root)),
                &mut p,
                format!("tls_verified = {verified:?}, expected {root} (a root makes it verify)"),
            );
            let warnings = lines
                .iter()
                .filter(|l| {
                    l.get("level").and_then(|v| v.as_str()) == Some("WARN")
                        && l.get("message").and_then(|v| v.as_str()).is_some_and(|m| {
                            m.contains("identity was not verified") && m.contains("verify-full")
                        })
                })
                .count();
            expect(
                warnings == if root { 0 } else { tcp },
                &mut p,
                if root {
                    "a verified session warned that it was not verified".to_string()
                } else {
                    format!(
                        "{warnings} warnings that a session is not verified (naming verify-full) for {tcp} sessions"
                    )
                },
            );
            expect(
                authorized.len() == tcp && authorized.iter().all(|l| l.contains("SSL enabled")),
                &mut p,
                format!("the server did not log {tcp} TLS sessions for {app}: {authorized:?}"),
            );
        }
        77 => {
            tcp = 1;
            expect(n == 1, &mut p, format!("{n} attempts, expected exactly 1"));
            expect(
                out.elapsed < Duration::from_secs(15),
                &mut p,
                format!("took {:?} with a 60 s wait: retried?", out.elapsed),
            );
            expect(
                !db.table_exists(T),
                &mut p,
                "a refused server was written to",
            );
            expect(
                authorized.is_empty(),
                &mut p,
                format!("the server logged an authenticated session: {authorized:?}"),
            );
            let want = tls_refusal_text(s.cert);
            expect(
                out.stderr.contains(want),
                &mut p,
                format!("the error does not say {want:?}"),
            );
            expect(
                !out.stderr.contains("connected to the database"),
                &mut p,
                "a session was opened after all",
            );
        }
        _ => {
            expect(
                n == 0,
                &mut p,
                format!("{n} attempts before a config error"),
            );
            expect(
                out.stderr.contains("needs trusted root certificates"),
                &mut p,
                "the config error does not say a root certificate is needed",
            );
            expect(
                out.elapsed < Duration::from_secs(10),
                &mut p,
                format!("a config error took {:?}", out.elapsed),
            );
        }
    }
    CellResult {
        row: s.cert.name().into(),
        col: format!("{mode}{}", if root { "+root" } else { "" }),
        expected,
        observed: out.code,
        elapsed: out.elapsed,
        problems: p,
        output: out.to_string(),
        tcp,
    }
}

#[test]
fn tls_matrix() {
    let started = Instant::now();
    let servers: Vec<TlsServer> = thread::scope(|s| {
        let handles: Vec<_> = SERVER_CERTS
            .iter()
            .map(|&c| s.spawn(move || start_tls_server(c)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut results: Vec<CellResult> = thread::scope(|s| {
        let handles: Vec<_> = servers
            .iter()
            .map(|server| {
                s.spawn(move || {
                    let mut v = Vec::new();
                    for mode in MODES {
                        for root in [false, true] {
                            v.push(run_tls_cell(server, mode, root));
                        }
                    }
                    v
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a TLS worker panicked"))
            .collect()
    });
    // Server side: every TCP connection that reached a server is one the cells' own logs
    // account for (a session, or the one refused attempt), so no cell retried and none fell
    // back to a second, plaintext connection.
    let mut server_rows = Vec::new();
    for s in &servers {
        let expected_tcp: usize = results
            .iter()
            .filter(|r| r.row == s.cert.name())
            .map(|r| r.tcp)
            .sum();
        let log = s.server.log_contents();
        let tcp = log
            .lines()
            .filter(|l| l.contains("connection received: host=127.0.0.1"))
            .count();
        let problems = if tcp == expected_tcp {
            Vec::new()
        } else {
            vec![format!(
                "{tcp} TCP connections reached the server, expected {expected_tcp}"
            )]
        };
        server_rows.push(CellResult {
            row: s.cert.name().into(),
            col: "tcp conns".into(),
            expected: expected_tcp as i32,
            observed: Some(tcp as i32),
            elapsed: Duration::ZERO,
            problems,
            output: log,
            tcp: 0,
        });
    }
    results.extend(server_rows);
    let rows: Vec<String> = SERVER_CERTS.iter().map(|c| c.name().to_string()).collect();
    let mut cols: Vec<String> = Vec::new();
    for m in MODES {
        cols.push(m.to_string());
        cols.push(format!("{m}+root"));
    }
    cols.push("tcp conns".into());
    report(
        &format!(
            "TLS matrix (server certificate × client sslmode → exit code), {:.1?}",
            started.elapsed()
        ),
        &results,
        &rows,
        &cols,
    );
}

// ---------------------------------------------------------------------------------------
// Issue 16: the Pushgateway's credentials
// ---------------------------------------------------------------------------------------

/// Where the push's credential comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PushSource {
    /// `SCHEMAGATE_PUSHGATEWAY_URL=http://ci:<percent-encoded>@host:port`.
    UrlUserinfo,
    /// The same URL in a file, `SCHEMAGATE_PUSHGATEWAY_URL_FILE`.
    UrlFile,
    /// `SCHEMAGATE_PUSHGATEWAY_USERNAME` and `SCHEMAGATE_PUSHGATEWAY_PASSWORD`.
    Password,
    /// `SCHEMAGATE_PUSHGATEWAY_USERNAME` and `SCHEMAGATE_PUSHGATEWAY_PASSWORD_FILE`.
    PasswordFile,
    /// `SCHEMAGATE_PUSHGATEWAY_TOKEN_FILE`: a bearer token.
    TokenFile,
}

const PUSH_SOURCES: [PushSource; 5] = [
    PushSource::UrlUserinfo,
    PushSource::UrlFile,
    PushSource::Password,
    PushSource::PasswordFile,
    PushSource::TokenFile,
];

impl PushSource {
    fn name(self) -> &'static str {
        match self {
            PushSource::UrlUserinfo => "URL user:pw",
            PushSource::UrlFile => "URL_FILE",
            PushSource::Password => "PASSWORD",
            PushSource::PasswordFile => "PASSWORD_FILE",
            PushSource::TokenFile => "TOKEN_FILE",
        }
    }
}

/// What the gateway, or the run, does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PushEnding {
    /// The gateway answers 200.
    Accepted,
    /// The gateway answers 401 (wrong credentials).
    Refused,
    /// The gateway accepts the connection and never answers.
    Hangs,
    /// The migration fails (exit 1); the gateway answers 200.
    MigrationFails,
    /// The database is not there (exit 69); the gateway answers 200.
    DatabaseDown,
    /// A setting around the credential is malformed (exit 78): a bad port in the URL, a
    /// password without a user name, a token next to a user name and password.
    ConfigError,
}

const PUSH_ENDINGS: [PushEnding; 6] = [
    PushEnding::Accepted,
    PushEnding::Refused,
    PushEnding::Hangs,
    PushEnding::MigrationFails,
    PushEnding::DatabaseDown,
    PushEnding::ConfigError,
];

impl PushEnding {
    fn name(self) -> &'static str {
        match self {
            PushEnding::Accepted => "200",
            PushEnding::Refused => "401",
            PushEnding::Hangs => "hangs",
            PushEnding::MigrationFails => "exit-1",
            PushEnding::DatabaseDown => "db-down",
            PushEnding::ConfigError => "config",
        }
    }

    fn expected_code(self) -> i32 {
        match self {
            PushEnding::Accepted | PushEnding::Refused | PushEnding::Hangs => 0,
            PushEnding::MigrationFails => 1,
            PushEnding::DatabaseDown => 69,
            PushEnding::ConfigError => 78,
        }
    }

    fn answer(self) -> Answer {
        match self {
            PushEnding::Refused => Answer::Status(401),
            PushEnding::Hangs => Answer::Never,
            _ => Answer::Status(200),
        }
    }
}

/// One cell: the planted credential given through `source`, the run ending as `ending`.
/// The credential reaches the gateway as the header it should, every time a push is made,
/// and appears nowhere in stdout, stderr or the termination log — not even the header.
fn run_push_cell(source: PushSource, ending: PushEnding, planted: &Planted) -> CellResult {
    let Cell {
        rec,
        db,
        _scripts,
        mut sg,
    } = Cell::new(ending);
    let files = tempfile::tempdir().unwrap();
    let port = if ending == PushEnding::ConfigError
        && matches!(source, PushSource::UrlUserinfo | PushSource::UrlFile)
    {
        "99999".to_string()
    } else {
        rec.port.to_string()
    };
    let with_userinfo = format!("http://ci:{}@127.0.0.1:{port}", pct(&planted.raw));
    let plain = format!("http://127.0.0.1:{port}");
    let user = "ci";
    let expected_header = match source {
        PushSource::TokenFile => format!("Bearer {}", planted.raw),
        _ => format!(
            "Basic {}",
            base64(format!("{user}:{}", planted.raw).as_bytes())
        ),
    };
    sg = match source {
        PushSource::UrlUserinfo => sg.env("SCHEMAGATE_PUSHGATEWAY_URL", &with_userinfo),
        PushSource::UrlFile => sg.env(
            "SCHEMAGATE_PUSHGATEWAY_URL_FILE",
            write_file(files.path(), "url", &format!("{with_userinfo}\n")),
        ),
        PushSource::Password => sg
            .env("SCHEMAGATE_PUSHGATEWAY_URL", &plain)
            .env("SCHEMAGATE_PUSHGATEWAY_PASSWORD", &planted.raw),
        PushSource::PasswordFile => sg.env("SCHEMAGATE_PUSHGATEWAY_URL", &plain).env(
            "SCHEMAGATE_PUSHGATEWAY_PASSWORD_FILE",
            write_file(files.path(), "password", &format!("{}\n", planted.raw)),
        ),
        PushSource::TokenFile => sg.env("SCHEMAGATE_PUSHGATEWAY_URL", &plain).env(
            "SCHEMAGATE_PUSHGATEWAY_TOKEN_FILE",
            write_file(files.path(), "token", &format!("{}\n", planted.raw)),
        ),
    };
    let needs_user = matches!(source, PushSource::Password | PushSource::PasswordFile);
    match ending {
        // A password without its user name.
        PushEnding::ConfigError if needs_user => {}
        // A user name and password beside the token: two sources.
        PushEnding::ConfigError if source == PushSource::TokenFile => {
            sg = sg
                .env("SCHEMAGATE_PUSHGATEWAY_USERNAME", user)
                .env("SCHEMAGATE_PUSHGATEWAY_PASSWORD", &planted.raw);
        }
        _ if needs_user => sg = sg.env("SCHEMAGATE_PUSHGATEWAY_USERNAME", user),
        _ => {}
    }
    let (out, mut problems) = run_send_cell(sg, ending, planted, &expected_header, &db);
    let requests = rec.requests();
    match ending {
        PushEnding::ConfigError => {
            expect(
                requests.is_empty(),
                &mut problems,
                "a run that refused its settings pushed",
            );
            expect(
                out.stderr.contains("SCHEMAGATE_PUSHGATEWAY"),
                &mut problems,
                "the config error does not name the setting",
            );
        }
        // The listener never reads the request, so there is nothing to look at.
        PushEnding::Hangs => {}
        _ => {
            expect(
                requests.len() == 1,
                &mut problems,
                format!("{} pushes, expected 1", requests.len()),
            );
            for r in &requests {
                let got = r.headers.get("authorization").cloned().unwrap_or_default();
                expect(
                    got == expected_header,
                    &mut problems,
                    "the gateway did not receive the expected Authorization header",
                );
            }
        }
    }
    if matches!(ending, PushEnding::Refused | PushEnding::Hangs) {
        let warned = warn_count(&out, "push");
        expect(
            warned == 1,
            &mut problems,
            format!("{warned} push warnings, expected 1"),
        );
        expect(
            out.stderr
                .contains(&format!("http://127.0.0.1:{}", rec.port)),
            &mut problems,
            "the warning does not name the gateway's URL",
        );
    }
    send_cell_result(source.name(), ending, &out, problems)
}

#[test]
fn pushgateway_credential_matrix() {
    let planted = Planted::new("pushgateway", "pg-w");
    send_matrix(
        "Pushgateway credential matrix",
        &PUSH_SOURCES,
        PushSource::name,
        |source, ending| run_push_cell(source, ending, &planted),
    );
}

/// Runs every cell of `sources` × the push endings and reports the matrix as `title`.
fn send_matrix<S: Copy + Send + Sync>(
    title: &str,
    sources: &[S],
    name: fn(S) -> &'static str,
    run: impl Fn(S, PushEnding) -> CellResult + Sync,
) {
    let started = Instant::now();
    let results = cells_in_parallel(sources, &PUSH_ENDINGS, run);
    let rows: Vec<String> = sources.iter().map(|&s| name(s).to_string()).collect();
    let cols: Vec<String> = PUSH_ENDINGS.iter().map(|e| e.name().to_string()).collect();
    report(
        &format!(
            "{title} (source × ending → exit code), {:.1?}",
            started.elapsed()
        ),
        &results,
        &rows,
        &cols,
    );
}

/// Every cell of `sources` × `endings`, four at a time; sorted by row and column.
fn cells_in_parallel<S: Copy + Send + Sync, E: Copy + Send + Sync>(
    sources: &[S],
    endings: &[E],
    run: impl Fn(S, E) -> CellResult + Sync,
) -> Vec<CellResult> {
    let cells: Vec<(S, E)> = sources
        .iter()
        .flat_map(|&s| endings.iter().map(move |&e| (s, e)))
        .collect();
    let run = &run;
    let mut results: Vec<CellResult> = thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let mine: Vec<(S, E)> = cells.iter().copied().skip(w).step_by(4).collect();
                s.spawn(move || {
                    mine.into_iter()
                        .map(|(source, ending)| run(source, ending))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a cell worker panicked"))
            .collect()
    });
    results.sort_by_key(|r| (r.row.clone(), r.col.clone()));
    assert_eq!(results.len(), cells.len());
    results
}

/// An Authorization header (or any header made of a secret) never reaches an output.
fn check_header_not_shown(out: &Outcome, header: &str, problems: &mut Vec<String>) {
    let term = out.termination_log.clone().unwrap_or_default();
    for (stream, text) in [
        ("stdout", &out.stdout),
        ("stderr", &out.stderr),
        ("termination log", &term),
    ] {
        if text.contains(header) {
            problems.push(format!(
                "LEAK: the Authorization header appears in {stream}"
            ));
        }
    }
}

/// `warn` lines whose message holds `needle`.
fn warn_count(out: &Outcome, needle: &str) -> usize {
    out.stderr_json_lines()
        .iter()
        .filter(|l| {
            l["level"] == "WARN" && l["message"].as_str().is_some_and(|m| m.contains(needle))
        })
        .count()
}

// ---------------------------------------------------------------------------------------
// Issue 16: OTLP's headers
// ---------------------------------------------------------------------------------------

/// Where the OTLP header that holds the secret is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OtlpSource {
    /// `OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<percent-encoded>`.
    Headers,
    /// The same in `OTEL_EXPORTER_OTLP_METRICS_HEADERS` and `_TRACES_HEADERS`.
    SignalHeaders,
}

const OTLP_SOURCES: [OtlpSource; 2] = [OtlpSource::Headers, OtlpSource::SignalHeaders];

impl OtlpSource {
    fn name(self) -> &'static str {
        match self {
            OtlpSource::Headers => "HEADERS",
            OtlpSource::SignalHeaders => "METRICS_/TRACES_HEADERS",
        }
    }

    fn variables(self) -> &'static [&'static str] {
        match self {
            OtlpSource::Headers => &["OTEL_EXPORTER_OTLP_HEADERS"],
            OtlpSource::SignalHeaders => &[
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            ],
        }
    }
}

/// One cell: the planted secret as a bearer token in the OTLP headers given through
/// `source`, the run ending as `ending` (the push endings; the malformed setting is an entry
/// without `=` beside the header). Metrics and trace both carry exactly the header, and
/// neither the secret in any form nor the header appears in any output.
fn run_otlp_cell(source: OtlpSource, ending: PushEnding, planted: &Planted) -> CellResult {
    let Cell {
        rec,
        db,
        _scripts,
        sg,
    } = Cell::new(ending);
    let mut sg = sg.env("OTEL_EXPORTER_OTLP_ENDPOINT", rec.url());
    let mut value = format!("Authorization=Bearer%20{}", pct(&planted.raw));
    if ending == PushEnding::ConfigError {
        value.push_str(",X-Broken");
    }
    for var in source.variables() {
        sg = sg.env(var, &value);
    }
    let expected_header = format!("Bearer {}", planted.raw);
    let (out, mut problems) = run_send_cell(sg, ending, planted, &expected_header, &db);
    let requests = rec.requests();
    match ending {
        PushEnding::ConfigError => {
            expect(
                requests.is_empty(),
                &mut problems,
                "a run that refused its settings sent",
            );
            expect(
                out.stderr.contains(source.variables()[0]),
                &mut problems,
                "the config error does not name the variable",
            );
        }
        PushEnding::Hangs => {}
        _ => {
            let mut paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
            paths.sort_unstable();
            expect(
                paths == ["/v1/metrics", "/v1/traces"],
                &mut problems,
                format!("sent {paths:?}, expected metrics and a trace"),
            );
            for r in &requests {
                let got = r.headers.get("authorization").cloned().unwrap_or_default();
                expect(
                    got == expected_header,
                    &mut problems,
                    format!("{} did not carry the expected Authorization header", r.path),
                );
            }
        }
    }
    if matches!(ending, PushEnding::Refused | PushEnding::Hangs) {
        let warned = warn_count(&out, "OTLP");
        expect(
            warned == 1,
            &mut problems,
            format!("{warned} OTLP warnings, expected 1"),
        );
    }
    send_cell_result(source.name(), ending, &out, problems)
}

#[test]
fn otlp_header_matrix() {
    let planted = Planted::new("otlp header", "otlp-h");
    send_matrix(
        "OTLP header matrix",
        &OTLP_SOURCES,
        OtlpSource::name,
        |source, ending| run_otlp_cell(source, ending, &planted),
    );
}

/// What a telemetry cell runs against: a receiver answering as `ending` says, a fresh
/// database (or, for `DatabaseDown`, a closed port), one migration that fails for
/// `MigrationFails`, and the run's command line so far.
struct Cell {
    rec: HttpRecorder,
    db: TestDb,
    _scripts: tempfile::TempDir,
    sg: Sg,
}

impl Cell {
    fn new(ending: PushEnding) -> Cell {
        let rec = HttpRecorder::start(ending.answer());
        let db = PgServer::shared().fresh_db();
        let script = if ending == PushEnding::MigrationFails {
            "SELECT 1/0;"
        } else {
            "CREATE TABLE a (id int);"
        };
        let scripts = migrations_dir(&[("V1__a.sql", script)]);
        let mut sg = sg(&db, scripts.path()).timeout(Duration::from_secs(45));
        if ending == PushEnding::DatabaseDown {
            sg = sg
                .env("PGPORT", free_port().to_string())
                .env("SCHEMAGATE_WAIT_TIMEOUT", "1s");
        }
        Cell {
            rec,
            db,
            _scripts: scripts,
            sg,
        }
    }
}

/// Runs a telemetry cell: the exit code `ending` expects, and neither the secret nor the
/// header made of it in any output, nothing left on the database.
fn run_send_cell(
    sg: Sg,
    ending: PushEnding,
    planted: &Planted,
    header: &str,
    db: &TestDb,
) -> (Outcome, Vec<String>) {
    let out = sg.run();
    let mut problems = Vec::new();
    let expected = ending.expected_code();
    expect(
        out.code == Some(expected),
        &mut problems,
        format!("exit code {:?}, expected {expected}", out.code),
    );
    check_no_leak(&out, &[planted], &mut problems);
    check_header_not_shown(&out, header, &mut problems);
    check_db_clean(db, &mut problems);
    (out, problems)
}

fn send_cell_result(
    row: &str,
    ending: PushEnding,
    out: &Outcome,
    problems: Vec<String>,
) -> CellResult {
    CellResult {
        row: row.into(),
        col: ending.name().into(),
        expected: ending.expected_code(),
        observed: out.code,
        elapsed: out.elapsed,
        problems,
        output: out.to_string(),
        tcp: 0,
    }
}
