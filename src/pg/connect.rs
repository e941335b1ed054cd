//! Opening one database session: TLS per `sslmode`, TCP keepalives, the host list tried in
//! order and filtered by `target_session_attrs` (libpq's multi-host rules), a bounded wait
//! with backoff for a database that is not up yet, and the classification of connection
//! errors into "can heal, retry" and "fail now with this exit code".
//!
//! What is retried (until `SCHEMAGATE_WAIT_TIMEOUT`): refused, reset or aborted connections,
//! a host name that does not resolve yet, a missing unix socket, an attempt that times out,
//! SQLSTATE class 08 (except 08P01), 57P01/57P02/57P03 and class 53. Everything else fails at
//! once: authentication and privileges (77), a refused server certificate or a server without
//! TLS when TLS is required (77, never downgraded to plaintext), a missing database (78),
//! protocol errors and a server that hangs up on `sslnegotiation=direct` (69). With several hosts, whatever is not `Denied` or `Config` moves on to
//! the next host, and the list as a whole is retried while any host may still heal.

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

use crate::config::conn::{ConnSettings, SslMode, SslNegotiation, TargetSessionAttrs};
use crate::core::outcome::{Failure, FailureKind};
use crate::pg::tls::{self, Verification};
use crate::telemetry::{Recorder, SpanGuard};

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
    /// The host of the list that this session reached (`db-1:5432`), as logs name it.
    pub server: String,
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

/// One pass over the host list, each host bounded by `conn.connect_timeout` (0 means no
/// limit, as in libpq).
pub async fn connect_once(conn: &ConnSettings) -> Result<Session, ConnectError> {
    let target = Target::new(conn).map_err(|f| ConnectError {
        retryable: false,
        kind: f.kind,
        message: f.message,
    })?;
    let limit = (!conn.connect_timeout.is_zero()).then_some(conn.connect_timeout);
    target.pass(|| limit).await.map_err(|e| ConnectError {
        retryable: e.retryable,
        kind: e.kind,
        message: format!("cannot connect to {}: {}", target.database, e.detail),
    })
}

/// Connects, retrying what can heal with exponential backoff and jitter, and returns by
/// `wait_timeout` (each host's attempt is also cut to what is left of it). A `wait_timeout`
/// of 0 means one pass over the hosts, each bounded by `connect_timeout` alone. Running out
/// of time is `Unavailable` (69); an error that cannot heal returns at once with its own kind.
///
/// Each attempt is one pass over the host list ([`Target::pass`]). A pass in which no host
/// fits `target_session_attrs` is retried like a server that is not up yet: a failover may
/// promote one within the wait.
///
/// `early`: a query sent together with the session's identity query, in the same round trip
/// (tokio-postgres pipelines them); its answer waits in [`Session::early`]. Every pod start
/// reads the history this way, without a round trip of its own.
///
/// Each attempt is counted in `metrics`, and the whole wait is its `connect` span.
pub async fn connect_with_retry(
    conn: &ConnSettings,
    wait_timeout: Duration,
    early: Option<&str>,
    metrics: &Recorder,
) -> Result<Session, Failure> {
    let span = metrics.span("connect");
    let connected = connect_attempts(conn, wait_timeout, early, metrics, &span).await;
    match &connected {
        Ok(session) => span.set("server.address", session.server.as_str()),
        Err(f) => span.fail(&f.message),
    }
    connected
}

async fn connect_attempts(
    conn: &ConnSettings,
    wait_timeout: Duration,
    early: Option<&str>,
    metrics: &Recorder,
    span: &SpanGuard,
) -> Result<Session, Failure> {
    let mut target = Target::new(conn)?;
    target.early = early.map(str::to_string);
    let started = Instant::now();
    let deadline = started + wait_timeout;
    let last_slice = LAST_ATTEMPT.min(wait_timeout / 10);
    let connect_timeout = (!conn.connect_timeout.is_zero()).then_some(conn.connect_timeout);
    // Asked again for each host, so that a later host of the list gets what is left.
    let per_host = || {
        if wait_timeout.is_zero() {
            connect_timeout
        } else {
            let remaining = deadline.saturating_duration_since(Instant::now());
            Some(connect_timeout.map_or(remaining, |t| t.min(remaining)))
        }
    };
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
        metrics.record(|m| m.connect_attempts += 1);
        span.set("schemagate.connect.attempts", u64::from(attempt));
        let error = match target.pass(per_host).await {
            Ok(session) => {
                tracing::info!(
                    database = %target.database,
                    host = %session.server,
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
            let what = if error.no_fit {
                format!(
                    "had no server that fits target_session_attrs={}",
                    target.target_session_attrs.as_str()
                )
            } else {
                "did not accept a connection".to_string()
            };
            tracing::warn!(
                database = %target.database,
                attempt,
                classification = "retryable",
                error = %error.detail,
                elapsed_ms = millis(elapsed),
                "{}",
                if error.no_fit {
                    "still no listed server fits target_session_attrs, and the wait is over"
                } else {
                    "the database is still not accepting connections and the wait is over"
                }
            );
            return Err(Failure::new(
                FailureKind::Unavailable,
                format!(
                    "the database at {} {what} within {:?} (SCHEMAGATE_WAIT_TIMEOUT): {attempt} attempt{} over {:.1?}; last error: {}",
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
            "{}",
            if error.no_fit {
                "no listed server fits target_session_attrs yet; retrying"
            } else {
                "the database is not accepting connections yet; retrying"
            }
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
    /// One per host, in the order they are tried.
    endpoints: Vec<Endpoint>,
    tls: Option<(MakeRustlsConnect, Verification)>,
    database: String,
    user: String,
    dbname: String,
    sslmode: SslMode,
    sslnegotiation: SslNegotiation,
    target_session_attrs: TargetSessionAttrs,
    cancel_wait: Duration,
    early: Option<String>,
    init_sql: Option<String>,
}

/// One host of the list, with a driver configuration that reaches that host alone: the
/// session, its cancel token and every message then name the server actually reached.
struct Endpoint {
    pg: tokio_postgres::Config,
    host: String,
    port: u16,
    unix_socket: bool,
    label: String,
}

/// What `target_session_attrs` looks at; read only when it is not `any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ServerState {
    /// `pg_is_in_recovery()`.
    in_recovery: bool,
    /// `transaction_read_only` of this session.
    read_only: bool,
}

/// One query for every mode, pipelined with the identity query: no round trip of its own.
/// libpq asks `SHOW transaction_read_only` for read-write/read-only and
/// `SELECT pg_is_in_recovery()` for primary/standby; this answers both.
const STATE_QUERY: &str = "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')";

/// Whether a server in `state` may keep a session under `want`; else why not, in the words
/// of the log line that skips it.
fn fits(want: TargetSessionAttrs, state: ServerState) -> Result<(), &'static str> {
    use TargetSessionAttrs as T;
    let standby = "it is a standby (in recovery)";
    match want {
        T::ReadWrite | T::PreferReadWrite if state.read_only => Err(if state.in_recovery {
            standby
        } else {
            "it is read-only (transaction_read_only=on)"
        }),
        T::ReadOnly | T::PreferReadOnly if !state.read_only => {
            Err("it accepts writes (transaction_read_only=off)")
        }
        T::Primary if state.in_recovery => Err(standby),
        T::Standby | T::PreferStandby if !state.in_recovery => {
            Err("it is a primary (not in recovery)")
        }
        _ => Ok(()),
    }
}

/// The `prefer-…` modes: a session that does not fit is kept as the answer for when no
/// later host fits either (libpq's second pass, without connecting again).
fn falls_back(mode: TargetSessionAttrs) -> bool {
    matches!(
        mode,
        TargetSessionAttrs::PreferStandby
            | TargetSessionAttrs::PreferReadWrite
            | TargetSessionAttrs::PreferReadOnly
    )
}

impl Target {
    fn new(conn: &ConnSettings) -> Result<Target, Failure> {
        if conn.hosts.is_empty() || conn.hosts.iter().any(|h| h.host.is_empty()) {
            // Else tokio-postgres would look up "" and the wait would be spent on DNS.
            return Err(Failure::new(
                FailureKind::Config,
                "no database host is set: set SCHEMAGATE_DATABASE_URL, PGHOST or the Secret's host key",
            ));
        }
        let tls = tls::setup(conn)?.map(|s| (MakeRustlsConnect::new(s.config), s.verification));
        let mut pg = tokio_postgres::Config::new();
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
        let tcp_ssl_mode = match (&tls, conn.sslmode) {
            (None, _) => tokio_postgres::config::SslMode::Disable,
            (Some(_), SslMode::Prefer) => tokio_postgres::config::SslMode::Prefer,
            // require, verify-ca, verify-full: no plaintext, whatever the server answers.
            (Some(_), _) => tokio_postgres::config::SslMode::Require,
        };
        let endpoints = conn
            .hosts
            .iter()
            .map(|h| {
                let mut pg = pg.clone();
                let unix_socket = h.is_socket();
                if unix_socket {
                    // libpq ignores sslmode on a unix socket, also in a list with TCP hosts.
                    pg.host_path(&h.host)
                        .ssl_mode(tokio_postgres::config::SslMode::Disable);
                } else {
                    pg.host(&h.host).ssl_mode(tcp_ssl_mode).ssl_negotiation(
                        match conn.sslnegotiation {
                            SslNegotiation::Postgres => {
                                tokio_postgres::config::SslNegotiation::Postgres
                            }
                            SslNegotiation::Direct => {
                                tokio_postgres::config::SslNegotiation::Direct
                            }
                        },
                    );
                }
                pg.port(h.port);
                Endpoint {
                    pg,
                    host: h.host.clone(),
                    port: h.port,
                    unix_socket,
                    label: h.label(),
                }
            })
            .collect();
        Ok(Target {
            endpoints,
            tls,
            database: conn.redacted_url(),
            user: conn.user.clone(),
            dbname: conn.dbname.clone(),
            sslmode: conn.sslmode,
            sslnegotiation: conn.sslnegotiation,
            target_session_attrs: conn.target_session_attrs,
            cancel_wait: if conn.connect_timeout.is_zero() {
                DEFAULT_CANCEL_WAIT
            } else {
                conn.connect_timeout
            },
            early: None,
            init_sql: conn.init_sql.clone(),
        })
    }

    /// How messages about one server name it: the target itself when it has one host.
    fn server_name(&self, ep: &Endpoint) -> String {
        if self.endpoints.len() == 1 {
            self.database.clone()
        } else {
            format!("{} (host {})", self.database, ep.label)
        }
    }

    /// Tries the hosts in order, as libpq does, and returns the first session on a server
    /// that fits `target_session_attrs`; `limit` is asked for each host's time as it starts.
    ///
    /// A host that cannot be reached, is not up yet or does not fit is skipped for the next.
    /// Authentication, authorisation, TLS verification and configuration failures
    /// (`Denied`, `Config`) end the pass at once with their own exit code, as libpq stops
    /// when "a connection is established successfully, but authentication fails": the hosts
    /// of one list are one cluster that shares roles, passwords and certificates, so the next
    /// host would refuse the same way, and a certificate that fails verification is a
    /// warning never to be worked around by trying elsewhere. (pgjdbc tries the next host on
    /// any failure; that would turn a wrong password into a 69 after the wait.)
    async fn pass(&self, limit: impl Fn() -> Option<Duration>) -> Result<Session, AttemptError> {
        let mode = self.target_session_attrs;
        let several = self.endpoints.len() > 1;
        let mut fallback: Option<Session> = None;
        let mut failures: Vec<(&Endpoint, AttemptError)> = Vec::new();
        for (i, ep) in self.endpoints.iter().enumerate() {
            let limit = limit();
            if limit.is_some_and(|l| l.is_zero()) {
                failures.push((
                    ep,
                    AttemptError {
                        retryable: true,
                        kind: FailureKind::Unavailable,
                        detail: "not tried: the wait is over".into(),
                        no_fit: false,
                    },
                ));
                continue;
            }
            let (session, state) = match self.attempt(ep, limit).await {
                Ok(opened) => opened,
                Err(e)
                    if !e.retryable
                        && matches!(e.kind, FailureKind::Denied | FailureKind::Config) =>
                {
                    if let Some(kept) = fallback {
                        kept.close().await;
                    }
                    return Err(AttemptError {
                        detail: if several {
                            format!("{}: {}", ep.label, e.detail)
                        } else {
                            e.detail
                        },
                        ..e
                    });
                }
                Err(e) => {
                    if i + 1 < self.endpoints.len() {
                        tracing::info!(host = %ep.label, error = %e.detail, "cannot connect to this host; trying the next one");
                    }
                    failures.push((ep, e));
                    continue;
                }
            };
            let Some(why) = state.and_then(|s| fits(mode, s).err()) else {
                if let Some(kept) = fallback {
                    kept.close().await;
                }
                return Ok(session);
            };
            if falls_back(mode) && fallback.is_none() {
                tracing::info!(
                    "{}: {why}; keeping this session in case no later host fits target_session_attrs={}",
                    ep.label,
                    mode.as_str()
                );
                fallback = Some(session);
            } else {
                tracing::info!(
                    "skipping {}: {why} and target_session_attrs={}",
                    ep.label,
                    mode.as_str()
                );
                session.close().await;
            }
            failures.push((
                ep,
                AttemptError {
                    retryable: true,
                    kind: FailureKind::Unavailable,
                    detail: format!("{why} and target_session_attrs={}", mode.as_str()),
                    no_fit: true,
                },
            ));
        }
        if let Some(kept) = fallback {
            tracing::info!(
                "no host fits target_session_attrs={}; staying on {}, the first that answered",
                mode.as_str(),
                kept.server
            );
            return Ok(kept);
        }
        Err(summary(failures, several))
    }

    async fn attempt(
        &self,
        ep: &Endpoint,
        limit: Option<Duration>,
    ) -> Result<(Session, Option<ServerState>), AttemptError> {
        match limit {
            None => self.open(ep).await,
            Some(limit) => tokio::time::timeout(limit, self.open(ep))
                .await
                .unwrap_or_else(|_| {
                    let (retryable, kind) = classify_cause(Cause::Timeout);
                    Err(AttemptError {
                        retryable,
                        kind,
                        detail: format!(
                            "no answer within {limit:.1?}; the server may be starting, overloaded or unreachable"
                        ),
                        no_fit: false,
                    })
                }),
        }
    }

    async fn open(&self, ep: &Endpoint) -> Result<(Session, Option<ServerState>), AttemptError> {
        match self.tls.as_ref().filter(|_| !ep.unix_socket) {
            None => {
                let (client, connection) =
                    ep.pg.connect(NoTls).await.map_err(|e| self.fail(ep, &e))?;
                let task = tokio::spawn(drive(connection));
                self.finish(ep, client, task, None).await
            }
            Some((connector, verification)) => {
                let handshake = Arc::new(AtomicBool::new(false));
                let recording = RecordHandshake {
                    inner: connector.clone(),
                    handshake: handshake.clone(),
                };
                let (client, connection) = ep
                    .pg
                    .connect(recording)
                    .await
                    .map_err(|e| self.fail(ep, &e))?;
                let task = tokio::spawn(drive(connection));
                let tls = handshake.load(Ordering::Relaxed).then_some(*verification);
                self.finish(ep, client, task, tls).await
            }
        }
    }

    /// `tls`: the verification in force if the session runs over TLS, `None` if plaintext.
    async fn finish(
        &self,
        ep: &Endpoint,
        client: Client,
        connection: JoinHandle<()>,
        tls: Option<Verification>,
    ) -> Result<(Session, Option<ServerState>), AttemptError> {
        let state = async {
            match self.target_session_attrs {
                TargetSessionAttrs::Any => None,
                _ => Some(server_state(&client).await),
            }
        };
        let early = async {
            match &self.early {
                Some(q) => Some(client.simple_query(q).await),
                None => None,
            }
        };
        // Before the identity query, so that a `SET ROLE` in it is the user the session
        // reports and every later query runs under it — and still in the same round trip.
        let init = async {
            match &self.init_sql {
                Some(sql) => Some(client.batch_execute(sql).await),
                None => None,
            }
        };
        // Polled in this order, so the init SQL and the identity query go first and the
        // others right behind them, before any answer is back.
        let (init, identity, state, early) = tokio::join!(init, identity(&client), state, early);
        if let Some(Err(e)) = init {
            let server = self.server_name(ep);
            return Err(match e.as_db_error() {
                // The SQL itself is wrong (or not allowed): a retry cannot help.
                Some(db) => AttemptError {
                    retryable: false,
                    kind: FailureKind::Config,
                    detail: format!(
                        "SCHEMAGATE_INIT_SQL failed on {server}: {}; fix it (Flyway's initSql)",
                        describe_db(db)
                    ),
                    no_fit: false,
                },
                None => self.fail(ep, &e),
            });
        }
        let (backend_pid, user, database) = match identity {
            Ok(Some(identity)) => identity,
            Ok(None) => {
                return Err(AttemptError {
                    retryable: false,
                    kind: FailureKind::Unavailable,
                    detail: "the server did not answer SELECT pg_backend_pid(), current_user, current_database() with a number and two names; is this PostgreSQL?".into(),
                    no_fit: false,
                });
            }
            Err(e) => return Err(self.fail(ep, &e)),
        };
        let server = self.server_name(ep);
        match tls {
            Some(Verification::None) => tracing::warn!(
                database = %server,
                sslmode = self.sslmode.as_str(),
                "TLS is on but the server's identity was not verified, so an impostor could receive the password and the migrations; set sslmode=verify-full and sslrootcert to the PEM file of the CA that signed the server's certificate"
            ),
            None if !ep.unix_socket && self.sslmode != SslMode::Disable => tracing::warn!(
                database = %server,
                sslmode = self.sslmode.as_str(),
                "the connection is not encrypted: the server does not offer TLS; enable ssl on the server and set sslmode=verify-full, or set sslmode=disable to make plaintext explicit"
            ),
            _ => {}
        }
        let state = match state {
            None => None,
            Some(Ok(Some(state))) => Some(state),
            Some(Ok(None)) => {
                return Err(AttemptError {
                    retryable: false,
                    kind: FailureKind::Unavailable,
                    detail: format!(
                        "the server did not answer {STATE_QUERY} with two values, which target_session_attrs needs; is this PostgreSQL?"
                    ),
                    no_fit: false,
                });
            }
            Some(Err(e)) => return Err(self.fail(ep, &e)),
        };
        let canceller = Canceller {
            // The token holds the socket of this endpoint's one host: the server reached.
            token: client.cancel_token(),
            // Same TLS settings as the session; after a `prefer` fallback to plaintext the
            // cancel connection falls back the same way.
            tls: self
                .tls
                .as_ref()
                .filter(|_| !ep.unix_socket)
                .map(|(c, _)| c.clone()),
            wait: self.cancel_wait,
            database: server,
            backend_pid,
        };
        let session = Session {
            client,
            tls_verified: matches!(tls, Some(Verification::Chain | Verification::ChainAndName)),
            backend_pid,
            user,
            database,
            server: ep.label.clone(),
            early,
            connection,
            canceller,
        };
        Ok((session, state))
    }

    fn fail(&self, ep: &Endpoint, err: &tokio_postgres::Error) -> AttemptError {
        let mut cause = cause_of(err);
        if self.sslnegotiation == SslNegotiation::Direct
            && !ep.unix_socket
            && hung_up_on_handshake(&err.to_string(), cause)
        {
            cause = Cause::DirectTlsRefused;
        }
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
        if let Some(advice) = self.advice(ep, cause) {
            detail.push_str("; ");
            detail.push_str(&advice);
        }
        AttemptError {
            retryable,
            kind,
            detail,
            no_fit: false,
        }
    }
    fn advice(&self, ep: &Endpoint, cause: Cause<'_>) -> Option<String> {
        let host_port = ep.label.as_str();
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
                ep.host
            ),
            Cause::Io(io::ErrorKind::ConnectionRefused) => {
                format!("nothing listens on {host_port} (yet)")
            }
            Cause::Io(io::ErrorKind::NotFound) if ep.unix_socket => format!(
                "no server socket .s.PGSQL.{} in {} (yet)",
                ep.port, ep.host
            ),
            Cause::Io(io::ErrorKind::PermissionDenied) if ep.unix_socket => format!(
                "this user may not open the server socket in {}",
                ep.host
            ),
            Cause::Tls(TlsFailure::NameMismatch) => format!(
                "the server's certificate is not valid for host \"{}\": connect with a name the certificate holds, or set sslmode=verify-ca to skip the host-name check; a refused certificate is never retried or downgraded",
                ep.host
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
            Cause::DirectTlsRefused => "the server closed the connection on the TLS handshake that sslnegotiation=direct starts at once: direct TLS needs PostgreSQL 17 or later with ssl on (an older server, or a pooler in front of it, reads the handshake as a malformed startup packet); set sslnegotiation=postgres (PGSSLNEGOTIATION, or sslnegotiation in the connection URL), which works with every server version".into(),
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
    /// Servers answered, and none fits `target_session_attrs`.
    no_fit: bool,
}

/// A pass that found no session: retryable if any host may heal (or be promoted), and each
/// host's reason, by name when the list has several.
fn summary(failures: Vec<(&Endpoint, AttemptError)>, several: bool) -> AttemptError {
    let retryable = failures.iter().any(|(_, e)| e.retryable);
    let no_fit = !failures.is_empty() && failures.iter().all(|(_, e)| e.no_fit);
    let kind = match failures.first() {
        Some((_, e)) if !retryable => e.kind,
        _ => FailureKind::Unavailable,
    };
    let detail = failures
        .into_iter()
        .map(|(ep, e)| {
            if several || e.no_fit {
                format!("{}: {}", ep.label, e.detail)
            } else {
                e.detail
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    AttemptError {
        retryable,
        kind,
        detail,
        no_fit,
    }
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

/// [`STATE_QUERY`]'s answer; `None` if it is not what PostgreSQL sends.
async fn server_state(client: &Client) -> Result<Option<ServerState>, tokio_postgres::Error> {
    let messages = client.simple_query(STATE_QUERY).await?;
    Ok(messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => Some(ServerState {
            in_recovery: parse_flag(row.get(0)?)?,
            read_only: parse_flag(row.get(1)?)?,
        }),
        _ => None,
    }))
}

/// A boolean as the simple protocol sends it (`t`/`f`) or as a setting reads (`on`/`off`).
fn parse_flag(text: &str) -> Option<bool> {
    match text {
        "t" | "on" => Some(true),
        "f" | "off" => Some(false),
        _ => None,
    }
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
    /// `sslnegotiation=direct`, and the server hung up on the ClientHello without a word:
    /// what a server older than 17 (or one without ssl) does with it.
    DirectTlsRefused,
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
        // The server will not start answering a direct handshake while we wait; a server that
        // is starting refuses the TCP connection instead, which is retried.
        Cause::Tls(TlsFailure::Handshake) | Cause::DirectTlsRefused => (false, Unavailable),
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

/// Whether the server closed the connection during the TLS handshake, before any TLS
/// alert: tokio-postgres' phrase for the handshake step, and the socket's end.
fn hung_up_on_handshake(top: &str, cause: Cause<'_>) -> bool {
    top == "error performing TLS handshake"
        && matches!(
            cause,
            Cause::Io(
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            )
        )
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
    use crate::config::conn::{HostPort, Secret};
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
            hosts: vec![HostPort::new(host, 1)],
            user: "app".into(),
            password: Some(Secret::new("hunter2-secret")),
            dbname: "app".into(),
            sslmode,
            sslnegotiation: SslNegotiation::Postgres,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            application_name: "schemagate/test".into(),
            connect_timeout: Duration::from_secs(2),
            options: None,
            target_session_attrs: TargetSessionAttrs::Any,
            init_sql: None,
        }
    }

    #[test]
    fn the_driver_config_carries_the_settings() {
        let t = Target::new(&settings("db.example", SslMode::Require)).unwrap();
        let pg = &t.endpoints[0].pg;
        assert!(pg.get_keepalives());
        assert_eq!(pg.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(pg.get_keepalives_interval(), Some(KEEPALIVE_INTERVAL));
        assert_eq!(pg.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        assert_eq!(pg.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        assert_eq!(pg.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        assert_eq!(pg.get_application_name(), Some("schemagate/test"));
        assert!(!format!("{pg:?}").contains("hunter2"));

        let t = Target::new(&settings("/run/postgresql", SslMode::VerifyFull)).unwrap();
        assert!(t.tls.is_none());
        let pg = &t.endpoints[0].pg;
        assert_eq!(pg.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
        assert!(matches!(
            pg.get_hosts(),
            [tokio_postgres::config::Host::Unix(_)]
        ));
    }

    #[test]
    fn direct_negotiation_reaches_the_driver_and_an_old_servers_hang_up_is_not_retried() {
        use tokio_postgres::config::SslNegotiation as Driver;
        let mut c = settings("db.example", SslMode::Require);
        let t = Target::new(&c).unwrap();
        assert_eq!(t.endpoints[0].pg.get_ssl_negotiation(), Driver::Postgres);
        c.sslnegotiation = SslNegotiation::Direct;
        c.hosts.push(HostPort::new("/run/postgresql", 5432));
        let t = Target::new(&c).unwrap();
        assert_eq!(t.endpoints[0].pg.get_ssl_negotiation(), Driver::Direct);
        assert_eq!(
            t.endpoints[1].pg.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );

        let handshake = "error performing TLS handshake";
        assert!(hung_up_on_handshake(
            handshake,
            Cause::Io(io::ErrorKind::UnexpectedEof)
        ));
        assert!(hung_up_on_handshake(
            handshake,
            Cause::Io(io::ErrorKind::ConnectionReset)
        ));
        // Refused TCP connections come before the handshake: a server that is not up yet.
        assert!(!hung_up_on_handshake(
            "error connecting to server",
            Cause::Io(io::ErrorKind::ConnectionRefused)
        ));
        assert!(!hung_up_on_handshake(
            handshake,
            Cause::Tls(TlsFailure::UnknownIssuer)
        ));
        assert_eq!(
            classify_cause(Cause::DirectTlsRefused),
            (false, FailureKind::Unavailable)
        );
    }

    #[test]
    fn each_host_gets_a_driver_config_of_its_own() {
        let mut c = settings("db-0", SslMode::Require);
        c.hosts.push(HostPort::new("/run/postgresql", 5433));
        c.hosts.push(HostPort::new("::1", 5434));
        let t = Target::new(&c).unwrap();
        assert!(t.tls.is_some());
        let seen: Vec<_> = t
            .endpoints
            .iter()
            .map(|e| {
                (
                    e.label.as_str(),
                    e.pg.get_hosts().len(),
                    e.pg.get_ports(),
                    e.pg.get_ssl_mode(),
                )
            })
            .collect();
        use tokio_postgres::config::SslMode as M;
        assert_eq!(
            seen,
            [
                ("db-0:1", 1, &[1][..], M::Require),
                ("/run/postgresql:5433", 1, &[5433][..], M::Disable),
                ("[::1]:5434", 1, &[5434][..], M::Require),
            ]
        );
        c.hosts.push(HostPort::new("", 1));
        assert_eq!(Target::new(&c).err().map(|f| f.kind), Some(Config));
    }

    #[test]
    fn which_servers_fit_target_session_attrs() {
        use TargetSessionAttrs as T;
        let primary = ServerState {
            in_recovery: false,
            read_only: false,
        };
        let read_only_primary = ServerState {
            in_recovery: false,
            read_only: true,
        };
        let standby = ServerState {
            in_recovery: true,
            read_only: true,
        };
        let cases = [
            (T::Any, [Ok(()), Ok(()), Ok(())]),
            (
                T::ReadWrite,
                [
                    Ok(()),
                    Err("it is read-only (transaction_read_only=on)"),
                    Err("it is a standby (in recovery)"),
                ],
            ),
            (
                T::ReadOnly,
                [
                    Err("it accepts writes (transaction_read_only=off)"),
                    Ok(()),
                    Ok(()),
                ],
            ),
            (
                T::Primary,
                [Ok(()), Ok(()), Err("it is a standby (in recovery)")],
            ),
            (
                T::Standby,
                [
                    Err("it is a primary (not in recovery)"),
                    Err("it is a primary (not in recovery)"),
                    Ok(()),
                ],
            ),
        ];
        for (mode, want) in cases {
            let got = [primary, read_only_primary, standby].map(|s| fits(mode, s));
            assert_eq!(got, want, "{mode:?}");
        }
        assert_eq!(fits(T::PreferStandby, primary), fits(T::Standby, primary));
        assert_eq!(
            fits(T::PreferReadWrite, standby),
            fits(T::ReadWrite, standby)
        );
        assert_eq!(fits(T::PreferReadOnly, primary), fits(T::ReadOnly, primary));
        assert!(falls_back(T::PreferStandby) && !falls_back(T::Standby) && !falls_back(T::Any));
        assert_eq!(parse_flag("t"), Some(true));
        assert_eq!(parse_flag("off"), Some(false));
        assert_eq!(parse_flag("yes"), None);
    }

    #[tokio::test]
    async fn a_list_of_closed_ports_is_retryable_and_names_each_host() {
        let mut c = settings("127.0.0.1", SslMode::Disable);
        c.hosts.push(HostPort::new("127.0.0.1", 2));
        c.target_session_attrs = TargetSessionAttrs::Primary;
        let err = connect_once(&c).await.unwrap_err();
        assert!(err.retryable, "{err:?}");
        assert_eq!(err.kind, Unavailable);
        assert!(
            err.message.contains(
                "postgres://app:***@127.0.0.1:1,127.0.0.1:2/app?sslmode=disable&target_session_attrs=primary"
            ),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("127.0.0.1:1: error connecting to server")
                && err
                    .message
                    .contains("; 127.0.0.1:2: error connecting to server")
                && err.message.contains("nothing listens on 127.0.0.1:2 (yet)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_pass_that_finds_nothing_sums_up_each_host() {
        let t = Target::new(&settings("a", SslMode::Disable)).unwrap();
        let ep = &t.endpoints[0];
        let failure = |retryable, kind, no_fit| AttemptError {
            retryable,
            kind,
            detail: "why".into(),
            no_fit,
        };
        let one = summary(vec![(ep, failure(true, Unavailable, false))], false);
        assert_eq!((one.retryable, one.detail.as_str()), (true, "why"));
        let one = summary(vec![(ep, failure(true, Unavailable, true))], false);
        assert_eq!((one.no_fit, one.detail.as_str()), (true, "a:1: why"));
        let two = summary(
            vec![
                (ep, failure(false, Unavailable, false)),
                (ep, failure(true, Unavailable, true)),
            ],
            true,
        );
        assert_eq!(
            (two.retryable, two.no_fit, two.detail.as_str()),
            (true, false, "a:1: why; a:1: why")
        );
        let fatal = summary(vec![(ep, failure(false, Unavailable, false))], false);
        assert!(!fatal.retryable);
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
            &Recorder::off(),
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
        let metrics = Recorder::on();
        let failure = connect_with_retry(
            &settings("127.0.0.1", SslMode::Disable),
            Duration::ZERO,
            None,
            &metrics,
        )
        .await
        .unwrap_err();
        assert!(
            failure.message.contains("1 attempt over"),
            "{}",
            failure.message
        );
        assert_eq!(metrics.snapshot().map(|m| m.connect_attempts), Some(1));
    }

    #[tokio::test]
    async fn a_bad_tls_file_fails_before_any_attempt() {
        let mut c = settings("127.0.0.1", SslMode::VerifyFull);
        c.sslrootcert = Some(crate::config::conn::RootCerts::File(
            "/nonexistent/ca.pem".into(),
        ));
        let failure = connect_with_retry(&c, Duration::from_secs(30), None, &Recorder::off())
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
            &Recorder::off(),
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
