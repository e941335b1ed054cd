//! Opening one database session: TLS per `sslmode`, TCP keepalives, a bounded wait with
//! backoff for a database that is not up yet, and the classification of connection errors
//! into "can heal, retry" and "fail now with this exit code".
//!
//! What is retried (until `SCHEMAGATE_WAIT_TIMEOUT`): refused, reset or aborted connections,
//! a host name that does not resolve yet, a missing unix socket, an attempt that times out,
//! SQLSTATE class 08 (except 08P01), 57P01/57P02/57P03 and class 53. Everything else fails at
//! once: authentication and privileges (77), a refused server certificate or a server without
//! TLS when TLS is required (77, never downgraded to plaintext), a missing database (78), and
//! protocol errors (69).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::error::DbError;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, CancelToken, Client, Connection, NoTls, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::conn::{ConnSettings, SslMode};
use crate::core::outcome::{Failure, FailureKind};
use crate::pg::tls::{self, Verification};

/// Idle time before the first keepalive probe. With the interval and count below a peer that
/// vanished without a FIN or RST (node lost, network partition) is detected within
/// 10 + 3 × 5 = 25 s, well inside the run's deadline, instead of the kernel's two hours.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
/// Time between unanswered keepalive probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// Unanswered probes before the kernel drops the connection.
pub const KEEPALIVE_RETRIES: u32 = 3;
/// Linux `TCP_USER_TIMEOUT`: keepalives do not run while sent data is unacknowledged, so a
/// query sent into a dead peer would otherwise wait out ~15 minutes of retransmissions.
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// First backoff step. backon's jitter adds 0–100 % of the step, so sleeps run from
/// 125–250 ms at first to 2.5–5 s at the cap.
const BACKOFF_MIN: Duration = Duration::from_millis(125);
const BACKOFF_MAX: Duration = Duration::from_millis(2500);
/// The last attempt starts at least this long before the wait ends (enough for TCP, TLS and
/// SCRAM across a region), or a tenth of the wait if that is shorter: a sleep that would run
/// past that point is cut short. If that attempt fails at once, the rest of the wait is slept
/// out, so that "did not come up within the wait" means what it says.
const LAST_ATTEMPT: Duration = Duration::from_millis(500);
/// How long `close` waits for the server to acknowledge the end of the session.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// Bound for a cancel request when `connect_timeout` is 0 (no limit).
const DEFAULT_CANCEL_WAIT: Duration = Duration::from_secs(10);

/// An open session. Dropping it closes the connection in the background; [`Session::close`]
/// waits for the server to see the end of the session (and so release session locks).
pub struct Session {
    pub client: Client,
    /// The session runs over TLS and the server's certificate chain was verified
    /// (`verify-ca`, `verify-full`, or a mode with a root certificate file).
    pub tls_verified: bool,
    /// `pg_backend_pid()` of this session, as `pg_stat_activity` and `pg_locks` show it.
    pub backend_pid: i32,
    /// `current_user` and `current_database()` when the session opened (read in the same
    /// round trip as the pid), for the `${schemagate:user}`/`${schemagate:database}` placeholders.
    pub user: String,
    pub database: String,
    /// The answer to the query that [`connect_with_retry`] sent beside the identity query.
    pub early: Option<Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>>,
    connection: JoinHandle<()>,
    canceller: Canceller,
}

impl Session {
    /// A handle that cancels the statement this session is running, from another task.
    pub fn canceller(&self) -> Canceller {
        self.canceller.clone()
    }

    /// Ends the session and waits (at most 5 s) until the connection is closed, so that the
    /// server ends the backend, and releases its advisory locks, now rather than later.
    pub async fn close(self) {
        let Session {
            client,
            mut connection,
            ..
        } = self;
        drop(client);
        if tokio::time::timeout(CLOSE_WAIT, &mut connection)
            .await
            .is_err()
        {
            connection.abort();
        }
    }

    /// The connection is gone (closed by either side, or broken); every query will fail.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed() || self.connection.is_finished()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("backend_pid", &self.backend_pid)
            .field("tls_verified", &self.tls_verified)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Sends a PostgreSQL CancelRequest for one session's running statement, over a new
/// connection with the same TLS settings as the session.
#[derive(Clone)]
pub struct Canceller {
    token: CancelToken,
    tls: Option<MakeRustlsConnect>,
    wait: Duration,
    database: String,
    backend_pid: i32,
}

impl Canceller {
    /// Asks the server to cancel whatever the session is running; a request that cannot be
    /// delivered is logged. The server does not say whether it cancelled anything; the
    /// session's statement then fails with SQLSTATE 57014.
    pub async fn cancel(&self) {
        if let Err(f) = self.try_cancel().await {
            tracing::warn!(backend_pid = self.backend_pid, "{}", f.message);
        }
    }

    /// Like [`Canceller::cancel`], and says whether the request was delivered (bounded by
    /// `connect_timeout`).
    pub async fn try_cancel(&self) -> Result<(), Failure> {
        let send = async {
            match &self.tls {
                Some(tls) => self.token.cancel_query(tls.clone()).await,
                None => self.token.cancel_query(NoTls).await,
            }
        };
        let failed = |why: String| {
            Failure::new(
                FailureKind::Unavailable,
                format!(
                    "could not send the cancel request for backend {} to {}: {why}",
                    self.backend_pid, self.database
                ),
            )
        };
        match tokio::time::timeout(self.wait, send).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(failed(describe(&e))),
            Err(_) => Err(failed(format!("no answer within {:.1?}", self.wait))),
        }
    }

    /// The backend the cancel request is for.
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }
}

impl fmt::Debug for Canceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canceller")
            .field("backend_pid", &self.backend_pid)
            .finish()
    }
}

/// One failed connection attempt. `message` names the target (password redacted) and the
/// cause, and says what to do where that is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// Another attempt may succeed (the server is starting, overloaded or not reachable yet).
    pub retryable: bool,
    pub kind: FailureKind,
    pub message: String,
}

impl From<ConnectError> for Failure {
    fn from(e: ConnectError) -> Failure {
        Failure::new(e.kind, e.message)
    }
}

/// One attempt, bounded by `conn.connect_timeout` (0 means no limit, as in libpq).
pub async fn connect_once(conn: &ConnSettings) -> Result<Session, ConnectError> {
    let target = Target::new(conn).map_err(|f| ConnectError {
        retryable: false,
        kind: f.kind,
        message: f.message,
    })?;
    let limit = (!conn.connect_timeout.is_zero()).then_some(conn.connect_timeout);
    target.attempt(limit).await.map_err(|e| ConnectError {
        retryable: e.retryable,
        kind: e.kind,
        message: format!("cannot connect to {}: {}", target.database, e.detail),
    })
}

/// Connects, retrying what can heal with exponential backoff and jitter, and returns by
/// `wait_timeout` (each attempt is also cut to what is left of it). A `wait_timeout` of 0
/// means one attempt, bounded by `connect_timeout` alone. Running out of time is
/// `Unavailable` (69); an error that cannot heal returns at once with its own kind.
///
/// `early`: a query sent together with the session's identity query, in the same round trip
/// (tokio-postgres pipelines them); its answer waits in [`Session::early`]. Every pod start
/// reads the history this way, without a round trip of its own.
pub async fn connect_with_retry(
    conn: &ConnSettings,
    wait_timeout: Duration,
    early: Option<&str>,
) -> Result<Session, Failure> {
    let mut target = Target::new(conn)?;
    target.early = early.map(str::to_string);
    let started = Instant::now();
    let deadline = started + wait_timeout;
    let last_slice = LAST_ATTEMPT.min(wait_timeout / 10);
    let connect_timeout = (!conn.connect_timeout.is_zero()).then_some(conn.connect_timeout);
    let mut backoff = ExponentialBuilder::new()
        .with_min_delay(BACKOFF_MIN)
        .with_max_delay(BACKOFF_MAX)
        .with_factor(2.0)
        .with_jitter()
        .with_jitter_seed(jitter_seed())
        .without_max_times()
        .build();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let limit = if wait_timeout.is_zero() {
            connect_timeout
        } else {
            Some(connect_timeout.map_or(remaining, |t| t.min(remaining)))
        };
        let error = match target.attempt(limit).await {
            Ok(session) => {
                tracing::info!(
                    database = %target.database,
                    attempt,
                    elapsed_ms = millis(started.elapsed()),
                    backend_pid = session.backend_pid,
                    tls_verified = session.tls_verified,
                    "connected to the database"
                );
                return Ok(session);
            }
            Err(e) => e,
        };
        if !error.retryable {
            tracing::warn!(
                database = %target.database,
                attempt,
                classification = "fatal",
                error = %error.detail,
                "cannot connect to the database; this does not heal by waiting, so no retry"
            );
            return Err(Failure::new(
                error.kind,
                format!("cannot connect to {}: {}", target.database, error.detail),
            ));
        }
        let latest_start = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(last_slice);
        if latest_start.is_zero() {
            tokio::time::sleep_until(deadline).await;
            let elapsed = started.elapsed();
            tracing::warn!(
                database = %target.database,
                attempt,
                classification = "retryable",
                error = %error.detail,
                elapsed_ms = millis(elapsed),
                "the database is still not accepting connections and the wait is over"
            );
            return Err(Failure::new(
                FailureKind::Unavailable,
                format!(
                    "the database at {} did not accept a connection within {:?} (SCHEMAGATE_WAIT_TIMEOUT): {attempt} attempt{} over {:.1?}; last error: {}",
                    target.database,
                    wait_timeout,
                    if attempt == 1 { "" } else { "s" },
                    elapsed,
                    error.detail
                ),
            ));
        }
        let delay = backoff.next().unwrap_or(2 * BACKOFF_MAX).min(latest_start);
        tracing::info!(
            database = %target.database,
            attempt,
            classification = "retryable",
            error = %error.detail,
            retry_in_ms = millis(delay),
            "the database is not accepting connections yet; retrying"
        );
        tokio::time::sleep(delay).await;
    }
}

/// For an error on an open session: whether a new connection (a new run) can heal it, and
/// the failure kind. A broken or garbled connection is retryable `Unavailable` here, though
/// while connecting a server that does not speak the protocol is not retried. SQL errors
/// that are not about the connection (a script's syntax, a constraint, `statement_timeout`'s
/// 57014) are `MigrationFailed`; 55P03, 40001 and 40P01 are `Busy` and not retryable by a
/// new connection: re-running the transaction is the executor's business (SPEC §6).
pub fn classify(err: &tokio_postgres::Error) -> (bool, FailureKind) {
    classify_in_session(cause_of(err))
}

fn classify_in_session(cause: Cause<'_>) -> (bool, FailureKind) {
    match cause {
        Cause::Io(_) | Cause::Protocol | Cause::Tls(TlsFailure::Handshake) => {
            (true, FailureKind::Unavailable)
        }
        cause => classify_cause(cause),
    }
}

/// A connection's settings turned into what an attempt needs, once.
struct Target {
    pg: tokio_postgres::Config,
    tls: Option<(MakeRustlsConnect, Verification)>,
    database: String,
    host: String,
    port: u16,
    user: String,
    dbname: String,
    sslmode: SslMode,
    unix_socket: bool,
    cancel_wait: Duration,
    early: Option<String>,
}

impl Target {
    fn new(conn: &ConnSettings) -> Result<Target, Failure> {
        if conn.host.is_empty() {
            // Else tokio-postgres would look up "" and the wait would be spent on DNS.
            return Err(Failure::new(
                FailureKind::Config,
                "no database host is set: set SCHEMAGATE_DATABASE_URL, PGHOST or the Secret's host key",
            ));
        }
        let tls = tls::setup(conn)?.map(|s| (MakeRustlsConnect::new(s.config), s.verification));
        let unix_socket = conn.host.starts_with('/');
        let mut pg = tokio_postgres::Config::new();
        if unix_socket {
            pg.host_path(&conn.host);
        } else {
            pg.host(&conn.host);
        }
        pg.port(conn.port);
        if !conn.user.is_empty() {
            pg.user(&conn.user);
        }
        // libpq treats an empty password as none; so does the server's prompt.
        if let Some(password) = conn.password.as_ref().filter(|p| !p.expose().is_empty()) {
            pg.password(password.expose());
        }
        if !conn.dbname.is_empty() {
            pg.dbname(&conn.dbname);
        }
        if !conn.application_name.is_empty() {
            pg.application_name(&conn.application_name);
        }
        if let Some(options) = conn.options.as_deref().filter(|o| !o.is_empty()) {
            pg.options(options);
        }
        if !conn.connect_timeout.is_zero() {
            pg.connect_timeout(conn.connect_timeout);
        }
        pg.keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES)
            .tcp_user_timeout(TCP_USER_TIMEOUT);
        pg.ssl_mode(match (&tls, conn.sslmode) {
            (None, _) => tokio_postgres::config::SslMode::Disable,
            (Some(_), SslMode::Prefer) => tokio_postgres::config::SslMode::Prefer,
            // require, verify-ca, verify-full: no plaintext, whatever the server answers.
            (Some(_), _) => tokio_postgres::config::SslMode::Require,
        });
        Ok(Target {
            pg,
            tls,
            database: conn.redacted_url(),
            host: conn.host.clone(),
            port: conn.port,
            user: conn.user.clone(),
            dbname: conn.dbname.clone(),
            sslmode: conn.sslmode,
            unix_socket,
            cancel_wait: if conn.connect_timeout.is_zero() {
                DEFAULT_CANCEL_WAIT
            } else {
                conn.connect_timeout
            },
            early: None,
        })
    }

    async fn attempt(&self, limit: Option<Duration>) -> Result<Session, AttemptError> {
        match limit {
            None => self.open().await,
            Some(limit) => tokio::time::timeout(limit, self.open())
                .await
                .unwrap_or_else(|_| {
                    let (retryable, kind) = classify_cause(Cause::Timeout);
                    Err(AttemptError {
                        retryable,
                        kind,
                        detail: format!(
                            "no answer within {limit:.1?}; the server may be starting, overloaded or unreachable"
                        ),
                    })
                }),
        }
    }

    async fn open(&self) -> Result<Session, AttemptError> {
        match &self.tls {
            None => {
                let (client, connection) =
                    self.pg.connect(NoTls).await.map_err(|e| self.fail(&e))?;
                let task = tokio::spawn(drive(connection));
                self.finish(client, task, None).await
            }
            Some((connector, verification)) => {
                let handshake = Arc::new(AtomicBool::new(false));
                let recording = RecordHandshake {
                    inner: connector.clone(),
                    handshake: handshake.clone(),
                };
                let (client, connection) = self
                    .pg
                    .connect(recording)
                    .await
                    .map_err(|e| self.fail(&e))?;
                let task = tokio::spawn(drive(connection));
                let tls = handshake.load(Ordering::Relaxed).then_some(*verification);
                self.finish(client, task, tls).await
            }
        }
    }

    /// `tls`: the verification in force if the session runs over TLS, `None` if plaintext.
    async fn finish(
        &self,
        client: Client,
        connection: JoinHandle<()>,
        tls: Option<Verification>,
    ) -> Result<Session, AttemptError> {
        let early = async {
            match &self.early {
                Some(q) => Some(client.simple_query(q).await),
                None => None,
            }
        };
        // Polled in this order, so the identity query goes first and the early one right
        // behind it, before either answer is back.
        let (identity, early) = tokio::join!(identity(&client), early);
        let (backend_pid, user, database) = match identity {
            Ok(Some(identity)) => identity,
            Ok(None) => {
                return Err(AttemptError {
                    retryable: false,
                    kind: FailureKind::Unavailable,
                    detail: "the server did not answer SELECT pg_backend_pid(), current_user, current_database() with a number and two names; is this PostgreSQL?".into(),
                });
            }
            Err(e) => return Err(self.fail(&e)),
        };
        match tls {
            Some(Verification::None) => tracing::warn!(
                database = %self.database,
                sslmode = self.sslmode.as_str(),
                "TLS is on but the server's identity was not verified, so an impostor could receive the password and the migrations; set sslmode=verify-full and sslrootcert to the PEM file of the CA that signed the server's certificate"
            ),
            None if !self.unix_socket && self.sslmode != SslMode::Disable => tracing::warn!(
                database = %self.database,
                sslmode = self.sslmode.as_str(),
                "the connection is not encrypted: the server does not offer TLS; enable ssl on the server and set sslmode=verify-full, or set sslmode=disable to make plaintext explicit"
            ),
            _ => {}
        }
        let canceller = Canceller {
            token: client.cancel_token(),
            // Same TLS settings as the session; after a `prefer` fallback to plaintext the
            // cancel connection falls back the same way.
            tls: self.tls.as_ref().map(|(c, _)| c.clone()),
            wait: self.cancel_wait,
            database: self.database.clone(),
            backend_pid,
        };
        Ok(Session {
            client,
            tls_verified: matches!(tls, Some(Verification::Chain | Verification::ChainAndName)),
            backend_pid,
            user,
            database,
            early,
            connection,
            canceller,
        })
    }

    fn fail(&self, err: &tokio_postgres::Error) -> AttemptError {
        let cause = cause_of(err);
        let (retryable, mut kind) = classify_cause(cause);
        // While logging in, an SQL error that is not about the connection comes from our
        // own startup parameters (PGOPTIONS, application_name) or from an unusual server.
        if !matches!(
            kind,
            FailureKind::Unavailable | FailureKind::Denied | FailureKind::Config
        ) {
            kind = match cause {
                Cause::Sql(code) if code.starts_with("42") || code.starts_with("22") => {
                    FailureKind::Config
                }
                _ => FailureKind::Unavailable,
            };
        }
        let mut detail = describe(err);
        if let Some(advice) = self.advice(cause) {
            detail.push_str("; ");
            detail.push_str(&advice);
        }
        AttemptError {
            retryable,
            kind,
            detail,
        }
    }

    fn advice(&self, cause: Cause<'_>) -> Option<String> {
        let host_port = format!("{}:{}", self.host, self.port);
        Some(match cause {
            Cause::Sql("28P01") => format!(
                "check the password of user \"{}\" (PGPASSWORD, PGPASSWORD_FILE or the Secret's password key)",
                self.user
            ),
            Cause::Sql("28000") => "the server refused this login: check that the role exists and may log in, and that pg_hba.conf has a line for this user, database and client address (and whether that line demands TLS)".into(),
            Cause::Sql("42501") => format!(
                "grant the role CONNECT: GRANT CONNECT ON DATABASE \"{}\" TO \"{}\"",
                self.dbname, self.user
            ),
            Cause::Sql("3D000") => format!(
                "create it (CREATE DATABASE \"{}\"), or fix PGDATABASE / the database name in the connection URL",
                self.dbname
            ),
            Cause::Sql("57P03") => "the server is starting up, shutting down or in recovery".into(),
            Cause::Sql(code) if code.starts_with("53") => {
                "the server has no free connection slot or resources (max_connections)".into()
            }
            Cause::Sql(code) if code.starts_with("42") || code.starts_with("22") => {
                "check the startup options (PGOPTIONS) and application_name".into()
            }
            Cause::NameLookup => format!(
                "host name \"{}\" does not resolve (yet): check it, or wait for its DNS record (a Service that is still being created)",
                self.host
            ),
            Cause::Io(io::ErrorKind::ConnectionRefused) => {
                format!("nothing listens on {host_port} (yet)")
            }
            Cause::Io(io::ErrorKind::NotFound) if self.unix_socket => format!(
                "no server socket .s.PGSQL.{} in {} (yet)",
                self.port, self.host
            ),
            Cause::Io(io::ErrorKind::PermissionDenied) if self.unix_socket => format!(
                "this user may not open the server socket in {}",
                self.host
            ),
            Cause::Tls(TlsFailure::NameMismatch) => format!(
                "the server's certificate is not valid for host \"{}\": connect with a name the certificate holds, or set sslmode=verify-ca to skip the host-name check; a refused certificate is never retried or downgraded",
                self.host
            ),
            Cause::Tls(TlsFailure::UnknownIssuer) => "the server's certificate is not signed by a CA in sslrootcert: put the CA that signed it there (PGSSLROOTCERT); a refused certificate is never retried or downgraded".into(),
            Cause::Tls(TlsFailure::Expired) => "the server's certificate has expired or is not valid yet: renew it, or check the clocks; a refused certificate is never retried or downgraded".into(),
            Cause::Tls(TlsFailure::OtherCertificate) => "the server's certificate was refused; it is never retried or downgraded".into(),
            Cause::Tls(TlsFailure::ClientCertificateRefused) => "the server refused the client certificate: set sslcert/sslkey if it requires one, and check that it is signed by a CA the server trusts (ssl_ca_file) and names this user".into(),
            Cause::Tls(TlsFailure::Handshake) => "the TLS handshake failed: check the server's TLS settings (TLS 1.2 or later is required)".into(),
            Cause::TlsNotOffered => format!(
                "the server does not offer TLS but sslmode={} requires it (or it is not a PostgreSQL server: check host and port): enable ssl on the server, or set sslmode=prefer or disable if an unencrypted connection is acceptable; schemagate never falls back to plaintext here",
                self.sslmode.as_str()
            ),
            Cause::Authentication => "the authentication exchange failed: the server may not hold the expected password (SCRAM server signature), or asks for a method schemagate does not support (password, md5 and SCRAM-SHA-256 are supported)".into(),
            Cause::PasswordMissing => format!(
                "the server asks user \"{}\" for a password but none is set: set PGPASSWORD or PGPASSWORD_FILE, or the Secret's password key",
                self.user
            ),
            Cause::Protocol => format!(
                "the server at {host_port} does not speak the PostgreSQL protocol as expected: check host and port"
            ),
            _ => return None,
        })
    }
}

/// What one attempt's failure means, without the target (the caller adds it).
struct AttemptError {
    retryable: bool,
    kind: FailureKind,
    detail: String,
}

/// The session's identity in one round trip: `(pg_backend_pid(), current_user,
/// current_database())`; `None` if the answer is not what PostgreSQL sends.
async fn identity(client: &Client) -> Result<Option<(i32, String, String)>, tokio_postgres::Error> {
    let messages = client
        .simple_query("SELECT pg_backend_pid(), current_user, current_database()")
        .await?;
    Ok(messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => Some((
            row.get(0)?.parse().ok()?,
            row.get(1)?.to_string(),
            row.get(2)?.to_string(),
        )),
        _ => None,
    }))
}

/// Runs the connection until the client is dropped or the server goes away. Server notices
/// (`RAISE NOTICE` in a migration) go to the log, which tokio-postgres would otherwise send to
/// the `log` crate, where nothing listens.
async fn drive<S, T>(mut connection: Connection<S, T>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notice(notice))) => log_notice(&notice),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!(error = %describe(&e), "the database connection ended with an error");
                return;
            }
            None => return,
        }
    }
}

fn log_notice(notice: &DbError) {
    let sqlstate = notice.code().code();
    let mut text = notice.message().to_string();
    for (label, part) in [("DETAIL", notice.detail()), ("HINT", notice.hint())] {
        if let Some(part) = part {
            text.push_str(&format!("; {label}: {part}"));
        }
    }
    if notice.severity() == "WARNING" {
        tracing::warn!(sqlstate, "server: {text}");
    } else {
        tracing::info!(sqlstate, severity = notice.severity(), "server: {text}");
    }
}

/// Wraps the rustls connector to record whether a TLS handshake started: tokio-postgres does
/// not say whether `prefer` ended up encrypted, and the warning and `tls_verified` need it.
#[derive(Clone)]
struct RecordHandshake {
    inner: MakeRustlsConnect,
    handshake: Arc<AtomicBool>,
}

impl<S> MakeTlsConnect<S> for RecordHandshake
where
    MakeRustlsConnect: MakeTlsConnect<S>,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Recorded<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        Ok(Recorded {
            inner: self.inner.make_tls_connect(domain)?,
            handshake: self.handshake.clone(),
        })
    }
}

struct Recorded<C> {
    inner: C,
    handshake: Arc<AtomicBool>,
}

impl<S, C: TlsConnect<S>> TlsConnect<S> for Recorded<C> {
    type Stream = C::Stream;
    type Error = C::Error;
    type Future = C::Future;

    fn connect(self, stream: S) -> Self::Future {
        // Called only after the server answered the SSLRequest with 'S'.
        self.handshake.store(true, Ordering::Relaxed);
        self.inner.connect(stream)
    }
}

/// What went wrong, as far as deciding about it needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause<'a> {
    /// The server answered with this SQLSTATE.
    Sql(&'a str),
    Io(io::ErrorKind),
    /// DNS has no answer for the host (yet).
    NameLookup,
    Tls(TlsFailure),
    /// `require`/`verify-*`, and the server answered the SSLRequest with 'N'.
    TlsNotOffered,
    /// The server closed the connection without saying why.
    Closed,
    Timeout,
    Authentication,
    PasswordMissing,
    Config,
    Protocol,
    /// A misuse of the client API (parameter or column types, row counts): a bug here.
    Bug,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsFailure {
    NameMismatch,
    UnknownIssuer,
    Expired,
    OtherCertificate,
    ClientCertificateRefused,
    Handshake,
}

fn classify_cause(cause: Cause<'_>) -> (bool, FailureKind) {
    use FailureKind::*;
    match cause {
        Cause::Sql(code) => classify_sqlstate(code),
        Cause::Io(kind) => classify_io(kind),
        Cause::NameLookup | Cause::Closed | Cause::Timeout => (true, Unavailable),
        Cause::Tls(TlsFailure::Handshake) => (false, Unavailable),
        // A server that will not do TLS when TLS is required is refused like a certificate
        // that fails: it is a security check failing (or a downgrade attempt), a server does not
        // start offering TLS while we wait, and retrying would only spend the wait.
        Cause::Tls(_) | Cause::TlsNotOffered | Cause::Authentication => (false, Denied),
        Cause::PasswordMissing | Cause::Config => (false, Config),
        Cause::Protocol => (false, Unavailable),
        Cause::Bug => (false, Internal),
    }
}

/// The SQLSTATE table; anything not listed is an SQL error of the statement that ran.
fn classify_sqlstate(code: &str) -> (bool, FailureKind) {
    use FailureKind::*;
    match code {
        // invalid_password, invalid_authorization_specification, insufficient_privilege
        "28P01" | "28000" | "42501" => (false, Denied),
        // invalid_catalog_name: the database does not exist
        "3D000" => (false, Config),
        // protocol_violation: client and server disagree; waiting does not change that
        "08P01" => (false, Unavailable),
        // admin_shutdown, crash_shutdown, cannot_connect_now (starting up, shutting down, recovery)
        "57P01" | "57P02" | "57P03" => (true, Unavailable),
        // connection_exception (08xxx) and insufficient_resources (53xxx: too_many_connections …)
        c if c.starts_with("08") || c.starts_with("53") => (true, Unavailable),
        // lock_not_available, serialization_failure, deadlock_detected: the executor re-runs
        // the transaction; a new connection would not help
        "55P03" | "40001" | "40P01" => (false, Busy),
        _ => (false, MigrationFailed),
    }
}

fn classify_io(kind: io::ErrorKind) -> (bool, FailureKind) {
    use io::ErrorKind as K;
    match kind {
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::BrokenPipe
        | K::UnexpectedEof
        | K::TimedOut
        | K::Interrupted
        | K::WouldBlock
        | K::AddrInUse
        | K::AddrNotAvailable
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown
        // a unix socket that the server has not created yet
        | K::NotFound => (true, FailureKind::Unavailable),
        K::PermissionDenied => (false, FailureKind::Denied),
        K::InvalidInput => (false, FailureKind::Config),
        _ => (false, FailureKind::Unavailable),
    }
}

fn cause_of(err: &tokio_postgres::Error) -> Cause<'_> {
    if let Some(db) = err.as_db_error() {
        return Cause::Sql(db.code().code());
    }
    if err.is_closed() {
        return Cause::Closed;
    }
    cause_from_parts(&err.to_string(), err.source())
}

/// tokio-postgres keeps its error kind private; its `Display` is a fixed phrase per kind and
/// the cause sits in `source()`. This reads both, so that it can be tested on built errors.
fn cause_from_parts(top: &str, source: Option<&(dyn StdError + 'static)>) -> Cause<'static> {
    if let Some(tls) = find_rustls(source) {
        return Cause::Tls(tls_failure(tls));
    }
    let io = source.and_then(find_io);
    match top {
        "error performing TLS handshake" => {
            let text = source.map(ToString::to_string).unwrap_or_default();
            if text == "server does not support TLS" {
                Cause::TlsNotOffered
            } else if let Some(kind) = io
                .map(io::Error::kind)
                .filter(|k| !matches!(k, io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput))
            {
                Cause::Io(kind)
            } else if io.is_some_and(|e| e.kind() == io::ErrorKind::InvalidInput) {
                // The host is not a valid TLS server name.
                Cause::Config
            } else {
                Cause::Tls(TlsFailure::Handshake)
            }
        }
        "authentication error" => Cause::Authentication,
        "invalid configuration" => {
            if source.is_some_and(|s| s.to_string() == "password missing") {
                Cause::PasswordMissing
            } else {
                Cause::Config
            }
        }
        "timeout waiting for server" => Cause::Timeout,
        "unexpected message from server"
        | "error parsing response from server"
        | "error encoding message to server" => Cause::Protocol,
        _ if [
            "error serializing parameter",
            "error deserializing column",
            "invalid column",
            "query returned an unexpected number of",
            "expected ",
        ]
        .iter()
        .any(|p| top.starts_with(p)) =>
        {
            Cause::Bug
        }
        _ => match io {
            Some(e) if is_name_lookup(e) => Cause::NameLookup,
            // tokio-util's framing: the peer closed in the middle of a message. Seen from a
            // port that answers with something else (an HTTP proxy, say); a server that goes
            // away closes between messages instead.
            Some(e) if e.to_string() == "bytes remaining on stream" => Cause::Protocol,
            Some(e) => Cause::Io(e.kind()),
            None => Cause::Protocol,
        },
    }
}

/// std reports getaddrinfo failures with an unstable error kind, so the text is the marker;
/// tokio-postgres adds its own when the name resolved to no address.
fn is_name_lookup(e: &io::Error) -> bool {
    let text = e.to_string();
    text.starts_with("failed to lookup address information")
        || text == "could not resolve any addresses"
}

fn chain<'a>(
    source: Option<&'a (dyn StdError + 'static)>,
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(source, |e| (*e).source())
}

fn find_io<'a>(source: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    chain(Some(source)).find_map(|e| e.downcast_ref::<io::Error>())
}

/// tokio-rustls wraps rustls errors in `io::Error`, whose `source()` skips the wrapped error
/// itself, so each `io::Error` is opened by hand.
fn find_rustls<'a>(source: Option<&'a (dyn StdError + 'static)>) -> Option<&'a rustls::Error> {
    chain(source).find_map(|e| {
        e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        })
    })
}

fn tls_failure(e: &rustls::Error) -> TlsFailure {
    use rustls::{AlertDescription as A, CertificateError as C};
    match e {
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => TlsFailure::NameMismatch,
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => TlsFailure::UnknownIssuer,
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => TlsFailure::Expired,
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::InvalidCertRevocationList(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::UnsupportedNameType => TlsFailure::OtherCertificate,
        rustls::Error::AlertReceived(
            A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
            | A::CertificateRequired,
        ) => TlsFailure::ClientCertificateRefused,
        _ => TlsFailure::Handshake,
    }
}

/// The cause in one line, for messages: the server's own words for SQL errors, else
/// tokio-postgres' phrase followed by each cause. Neither ever holds the password.
fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return describe_db(db);
    }
    let mut parts = vec![err.to_string()];
    for e in chain(err.source()) {
        let text = e.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn describe_db(db: &DbError) -> String {
    let mut text = format!(
        "{}: {} (SQLSTATE {})",
        db.severity(),
        db.message(),
        db.code().code()
    );
    if let Some(detail) = db.detail() {
        text.push_str("; DETAIL: ");
        text.push_str(detail);
    }
    if let Some(hint) = db.hint() {
        text.push_str("; HINT: ");
        text.push_str(hint);
    }
    text.replace('\n', " ")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// backon is built without its `std` feature here, which makes its own jitter seed a
/// constant: fifty pods would all sleep the same "random" amounts and knock together.
/// `RandomState` is keyed from the OS's randomness once per process.
fn jitter_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conn::Secret;
    use FailureKind::*;

    #[test]
    fn sqlstates_that_heal_are_retried_and_the_rest_are_not() {
        for (code, want) in [
            ("57P03", (true, Unavailable)),
            ("57P01", (true, Unavailable)),
            ("57P02", (true, Unavailable)),
            ("53300", (true, Unavailable)),
            ("53200", (true, Unavailable)),
            ("08006", (true, Unavailable)),
            ("08001", (true, Unavailable)),
            ("08P01", (false, Unavailable)),
            ("28P01", (false, Denied)),
            ("28000", (false, Denied)),
            ("42501", (false, Denied)),
            ("3D000", (false, Config)),
            ("55P03", (false, Busy)),
            ("40001", (false, Busy)),
            ("40P01", (false, Busy)),
            ("42P01", (false, MigrationFailed)),
            ("57014", (false, MigrationFailed)),
        ] {
            assert_eq!(classify_sqlstate(code), want, "{code}");
            assert_eq!(classify_cause(Cause::Sql(code)), want, "{code}");
        }
    }

    #[test]
    fn sqlstate_constants_agree_with_the_table() {
        use tokio_postgres::error::SqlState;
        assert_eq!(
            classify_sqlstate(SqlState::INVALID_PASSWORD.code()),
            (false, Denied)
        );
        assert_eq!(
            classify_sqlstate(SqlState::UNDEFINED_DATABASE.code()),
            (false, Config)
        );
        assert_eq!(
            classify_sqlstate(SqlState::CANNOT_CONNECT_NOW.code()),
            (true, Unavailable)
        );
        assert_eq!(
            classify_sqlstate(SqlState::TOO_MANY_CONNECTIONS.code()),
            (true, Unavailable)
        );
    }

    #[test]
    fn io_errors_that_heal_are_retried() {
        use io::ErrorKind as K;
        for kind in [
            K::ConnectionRefused,
            K::ConnectionReset,
            K::ConnectionAborted,
            K::UnexpectedEof,
            K::TimedOut,
            K::BrokenPipe,
            K::HostUnreachable,
            K::NetworkUnreachable,
            K::NotFound,
        ] {
            assert_eq!(classify_io(kind), (true, Unavailable), "{kind:?}");
        }
        assert_eq!(classify_io(K::PermissionDenied), (false, Denied));
        assert_eq!(classify_io(K::InvalidData), (false, Unavailable));
        assert_eq!(classify_io(K::InvalidInput), (false, Config));
    }

    fn cause(top: &str, source: impl StdError + Send + Sync + 'static) -> Cause<'static> {
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(source);
        cause_from_parts(top, Some(boxed.as_ref()))
    }

    #[test]
    fn connect_errors_are_read_from_the_io_error() {
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused");
        assert_eq!(
            cause("error connecting to server", refused),
            Cause::Io(io::ErrorKind::ConnectionRefused)
        );
        let http = io::Error::other("bytes remaining on stream");
        assert_eq!(
            cause("error communicating with the server", http),
            Cause::Protocol
        );
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(
            cause("error communicating with the server", reset),
            Cause::Io(io::ErrorKind::ConnectionReset)
        );
    }

    #[test]
    fn a_host_that_does_not_resolve_is_retried() {
        // What std returns for EAI_NONAME; its kind is unstable, so `Other` stands in.
        let nxdomain =
            io::Error::other("failed to lookup address information: Name or service not known");
        let c = cause("error connecting to server", nxdomain);
        assert_eq!(c, Cause::NameLookup);
        assert_eq!(classify_cause(c), (true, Unavailable));
        let empty = io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve any addresses",
        );
        assert_eq!(
            cause("error connecting to server", empty),
            Cause::NameLookup
        );
    }

    #[test]
    fn a_refused_certificate_is_denied_and_never_retried() {
        use rustls::CertificateError as C;
        for (err, want) in [
            (C::UnknownIssuer, TlsFailure::UnknownIssuer),
            (C::NotValidForName, TlsFailure::NameMismatch),
            (C::Expired, TlsFailure::Expired),
            (C::BadSignature, TlsFailure::OtherCertificate),
        ] {
            // tokio-rustls' shape: io::Error(InvalidData) around the rustls error.
            let io = io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(err),
            );
            let c = cause("error performing TLS handshake", io);
            assert_eq!(c, Cause::Tls(want));
            assert_eq!(classify_cause(c), (false, Denied));
        }
    }

    #[test]
    fn tls_problems_that_are_not_about_certificates() {
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
        );
        // A TLS 1.3 server refuses a client certificate after the handshake: Io kind.
        let c = cause("error communicating with the server", alert);
        assert_eq!(c, Cause::Tls(TlsFailure::ClientCertificateRefused));
        assert_eq!(classify_cause(c), (false, Denied));

        let versions = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion),
        );
        let c = cause("error performing TLS handshake", versions);
        assert_eq!(classify_cause(c), (false, Unavailable));

        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof");
        let c = cause("error performing TLS handshake", eof);
        assert_eq!(classify_cause(c), (true, Unavailable));

        let no_tls: Box<dyn StdError + Send + Sync> = "server does not support TLS".into();
        let c = cause_from_parts("error performing TLS handshake", Some(no_tls.as_ref()));
        assert_eq!(c, Cause::TlsNotOffered);
        assert_eq!(classify_cause(c), (false, Denied));
    }

    #[test]
    fn login_problems_without_sqlstate() {
        let missing: Box<dyn StdError + Send + Sync> = "password missing".into();
        let c = cause_from_parts("invalid configuration", Some(missing.as_ref()));
        assert_eq!(classify_cause(c), (false, Config));
        let scram: Box<dyn StdError + Send + Sync> = "invalid server signature".into();
        let c = cause_from_parts("authentication error", Some(scram.as_ref()));
        assert_eq!(classify_cause(c), (false, Denied));
        assert_eq!(
            classify_cause(cause_from_parts("unexpected message from server", None)),
            (false, Unavailable)
        );
        assert_eq!(
            classify(&tokio_postgres::Error::__private_api_timeout()),
            (true, Unavailable)
        );
    }

    #[test]
    fn client_misuse_is_a_bug_not_an_outage() {
        let c = cause_from_parts("error deserializing column 0", None);
        assert_eq!(classify_cause(c), (false, Internal));
    }

    #[test]
    fn mid_session_a_broken_stream_is_retryable_but_at_connect_a_stranger_is_not() {
        let http = io::Error::other("bytes remaining on stream");
        let c = cause("error communicating with the server", http);
        assert_eq!(classify_cause(c), (false, Unavailable));
        assert_eq!(classify_in_session(c), (true, Unavailable));
        let odd = io::Error::other("something else");
        let c = cause("error communicating with the server", odd);
        assert_eq!(classify_in_session(c), (true, Unavailable));
        assert_eq!(
            classify_in_session(Cause::Sql("42P01")),
            (false, MigrationFailed)
        );
        assert_eq!(
            classify_in_session(Cause::Sql("57P01")),
            (true, Unavailable)
        );
        assert_eq!(classify_in_session(Cause::Closed), (true, Unavailable));
        assert_eq!(classify_in_session(Cause::Bug), (false, Internal));
    }

    fn settings(host: &str, sslmode: SslMode) -> ConnSettings {
        ConnSettings {
            host: host.into(),
            port: 1,
            user: "app".into(),
            password: Some(Secret::new("hunter2-secret")),
            dbname: "app".into(),
            sslmode,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            application_name: "schemagate/test".into(),
            connect_timeout: Duration::from_secs(2),
            options: None,
        }
    }

    #[test]
    fn the_driver_config_carries_the_settings() {
        let t = Target::new(&settings("db.example", SslMode::Require)).unwrap();
        assert!(t.pg.get_keepalives());
        assert_eq!(t.pg.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(t.pg.get_keepalives_interval(), Some(KEEPALIVE_INTERVAL));
        assert_eq!(t.pg.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        assert_eq!(t.pg.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        assert_eq!(
            t.pg.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(t.pg.get_application_name(), Some("schemagate/test"));
        assert!(!format!("{:?}", t.pg).contains("hunter2"));

        let t = Target::new(&settings("/run/postgresql", SslMode::VerifyFull)).unwrap();
        assert!(t.tls.is_none());
        assert_eq!(
            t.pg.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
        assert!(matches!(
            t.pg.get_hosts(),
            [tokio_postgres::config::Host::Unix(_)]
        ));
    }

    #[tokio::test]
    async fn nothing_listening_is_retryable_and_names_the_target_without_the_password() {
        // Port 1 on localhost: refused at once.
        let err = connect_once(&settings("127.0.0.1", SslMode::Disable))
            .await
            .unwrap_err();
        assert!(err.retryable, "{err:?}");
        assert_eq!(err.kind, Unavailable);
        assert!(
            err.message.contains("postgres://app:***@127.0.0.1:1/app"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("hunter2"));
    }

    #[tokio::test]
    async fn the_wait_is_bounded_and_reports_attempts() {
        let started = std::time::Instant::now();
        let failure = connect_with_retry(
            &settings("127.0.0.1", SslMode::Disable),
            Duration::from_secs(2),
            None,
        )
        .await
        .unwrap_err();
        let took = started.elapsed();
        assert_eq!(failure.kind, Unavailable);
        assert!(took >= Duration::from_secs(2), "{took:?}");
        assert!(took <= Duration::from_millis(2100), "{took:?}");
        assert!(
            failure.message.contains("attempts over"),
            "{}",
            failure.message
        );
        assert!(!failure.message.contains("hunter2"));
    }

    #[tokio::test]
    async fn a_zero_wait_makes_exactly_one_attempt() {
        let failure = connect_with_retry(
            &settings("127.0.0.1", SslMode::Disable),
            Duration::ZERO,
            None,
        )
        .await
        .unwrap_err();
        assert!(
            failure.message.contains("1 attempt over"),
            "{}",
            failure.message
        );
    }

    #[tokio::test]
    async fn a_bad_tls_file_fails_before_any_attempt() {
        let mut c = settings("127.0.0.1", SslMode::VerifyFull);
        c.sslrootcert = Some(crate::config::conn::RootCerts::File(
            "/nonexistent/ca.pem".into(),
        ));
        let failure = connect_with_retry(&c, Duration::from_secs(30), None)
            .await
            .unwrap_err();
        assert_eq!(failure.kind, Config);
        assert!(failure.message.contains("/nonexistent/ca.pem"));
    }

    #[tokio::test]
    async fn an_empty_host_is_a_config_error_not_a_wait() {
        let failure = connect_with_retry(
            &settings("", SslMode::Prefer),
            Duration::from_secs(30),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(failure.kind, Config);
    }

    #[test]
    fn jitter_seeds_differ_between_calls() {
        assert_ne!(jitter_seed(), jitter_seed());
    }
}
