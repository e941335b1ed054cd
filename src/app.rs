//! The shared run plumbing: settings → discover → connect → history → plan, the lock, and reconnecting; each command's own flow lives in `commands/`.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use crate::cli::{Command, Format};
use crate::config::Settings;
use crate::config::conn::ConnSettings;
use crate::core::discover::{Options, Script, Scripts, discover_with};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::placeholders::{self, Resolved, Values};
use crate::core::plan::{self, Applied, Local, Plan, Policy, ProblemKind, State};
use crate::core::script::Version;
use crate::fsio;
use crate::pg::companions::Companions;
use crate::pg::connect::{Session, connect_with_retry};
use crate::pg::exec::{self, Ctx, InvalidIndex, Ready, Watch, describe_error, label};
use crate::pg::history::{self, Table};
use crate::pg::lock;
use crate::runtime::Stop;
use crate::telemetry::Recorder;

/// What the final summary line reports, filled in as the run goes.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub applied: usize,
    /// Versions `undo` undid.
    pub undone: usize,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Scripts held back by the contract guard, as `V<version> (<description>)` labels.
    pub deferred: Vec<String>,
    /// Why they were, naming the sessions that held them back.
    pub deferral: Option<String>,
    /// What `compare` compared (`12 tables, 1000000 source rows`).
    pub compared: String,
}

/// Everything a command needs, created once.
pub struct Run<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) stop: &'a Stop,
    /// When the deadline expires (the lock wait defaults to what is left of it).
    pub(crate) deadline: Instant,
    pub(crate) format: Format,
    /// `plan undo`: `plan` prints what `undo` would run.
    pub plan_undo: bool,
    /// Where the run's metrics go as they arise (off unless they are pushed).
    pub metrics: Recorder,
    /// The connection target with schemagate's session defaults added.
    pub(crate) conn: ConnSettings,
    /// The scripts, started before the run (as the process starts): the first attempt takes
    /// them; an attempt after a reconnect reads them again.
    pub(crate) started: std::cell::Cell<Option<ScriptsReading>>,
}

/// How often the server checks, during a long statement, whether our side of the
/// connection is still there: a runner killed mid-statement stops holding its locks within
/// this bound instead of when the statement ends. PostgreSQL 14 and later.
const CLIENT_CHECK_INTERVAL_MS: u128 = 2000;

/// libpq `options` for every session of a run. Startup options become the session's
/// defaults, so a script's `RESET lock_timeout` returns to ours rather than to none.
///
/// The keepalive settings are the *server's* side of our sockets: after a network cut
/// without a reset, the server drops our session (and the advisory lock with it) within
/// about 25 s instead of the operating system's two hours, so the next runner can go on.
pub fn session_options(user: Option<&str>, lock_timeout: Duration) -> String {
    let ours = format!(
        "-c lock_timeout={} -c client_connection_check_interval={CLIENT_CHECK_INTERVAL_MS} \
         -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c tcp_user_timeout=30000",
        lock_timeout.as_millis()
    );
    match user {
        Some(u) if !u.trim().is_empty() => format!("{u} {ours}"),
        _ => ours,
    }
}

pub(crate) fn table(settings: &Settings) -> Table {
    Table {
        schema: settings.schema.clone(),
        name: settings.table.clone(),
    }
}

pub(crate) fn invalid(problems: Vec<String>) -> Failure {
    Failure::new(FailureKind::InvalidMigrations, problems.join("\n"))
}

pub(crate) fn db_failure(doing: &str, e: &tokio_postgres::Error, stop: &Stop) -> Failure {
    if let Some(r) = stop.reason() {
        return r.failure(doing);
    }
    let (_, kind) = crate::pg::connect::classify(e);
    let kind = match kind {
        FailureKind::Denied | FailureKind::Config => kind,
        _ if e.as_db_error().is_none() => FailureKind::Unavailable,
        _ => FailureKind::Internal,
    };
    Failure::new(kind, format!("{doing}: {}", describe_error(e)))
}

/// Local scripts, read and checked: a bad file name fails the run before anything changes.
pub fn load_scripts(locations: &[PathBuf], options: Options) -> Result<Scripts, Failure> {
    let (entries, mut problems) = fsio::read_locations(locations)?;
    match discover_with(entries, &options) {
        Ok(scripts) if problems.is_empty() => Ok(scripts),
        Ok(_) => Err(invalid(problems)),
        Err(more) => {
            problems.extend(more);
            Err(invalid(problems))
        }
    }
}

/// Files skipped under `SCHEMAGATE_VALIDATE_NAMING=false`, each named: a typo in a name must
/// not skip a migration without a word.
pub fn log_skipped(scripts: &Scripts) {
    for skipped in &scripts.skipped {
        tracing::warn!(file = %skipped.0, "skipped {}: {}", skipped.0, skipped.1);
    }
}

type ScriptsResult = Result<Scripts, Failure>;

/// The scripts being read on a thread of their own ([`read_scripts_aside`]).
pub struct ScriptsReading(tokio::sync::oneshot::Receiver<ScriptsResult>);

/// Reads the scripts on a thread of their own, so that every pod start does its file work
/// (a thousand files: a few milliseconds of system calls and hashing) while the main thread
/// sets up logging and the runtime, connects and reads the history, instead of before or
/// after. If the system refuses a thread (a pids limit), they are read here and now.
pub fn read_scripts_aside(locations: &[PathBuf], options: Options) -> ScriptsReading {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let owned = locations.to_vec();
    let job = move || {
        // The receiver is gone only when the run has already ended.
        let _ = tx.send(load_scripts(&owned, options));
    };
    match std::thread::Builder::new()
        .name("scripts".into())
        .spawn(job)
    {
        Ok(_) => ScriptsReading(rx),
        Err(e) => {
            tracing::debug!(error = %e, "no thread for reading the scripts; reading them first");
            let (tx, rx) = tokio::sync::oneshot::channel();
            let _ = tx.send(load_scripts(locations, options));
            ScriptsReading(rx)
        }
    }
}

/// The failure a plan's problems amount to: a failed row means a half-applied script (3),
/// anything else invalid migrations (65).
pub fn problems_failure(plan: &Plan) -> Option<Failure> {
    if plan.problems.is_empty() {
        return None;
    }
    let kind = if plan.problems.iter().any(|p| p.kind == ProblemKind::Failed) {
        FailureKind::Partial
    } else {
        FailureKind::InvalidMigrations
    };
    let lines: Vec<&str> = plan.problems.iter().map(|p| p.message.as_str()).collect();
    Some(Failure::new(
        kind,
        format!("validation failed: {}", lines.join("; ")),
    ))
}

pub(crate) struct Connected {
    pub(crate) session: Session,
    pub(crate) values: Values,
}

/// The local side of a run, resolved once: every command reads it.
pub(crate) struct Workspace<'a> {
    pub(crate) c: Connected,
    pub(crate) scripts: &'a Scripts,
    /// Index-aligned with `scripts.migrations`.
    pub(crate) resolved: Vec<Resolved<'a>>,
    pub(crate) locals: Vec<Local>,
    pub(crate) policy: Policy,
}

impl Workspace<'_> {
    pub(crate) fn plan(&self, applied: &[Applied]) -> Plan {
        plan::plan(&self.locals, applied, &self.policy)
    }

    /// INVALID indexes that a failed script's CONCURRENTLY statement left behind, each with
    /// a sentence naming the script and the statement. Indexes nobody of ours built (another
    /// session's build still in progress looks the same) are not listed.
    pub(crate) async fn leftovers(&self, plan: &Plan) -> Vec<(InvalidIndex, String)> {
        let failed: Vec<usize> = plan
            .entries
            .iter()
            .filter(|e| e.state == State::Failed)
            .filter_map(|e| e.local)
            .collect();
        if failed.is_empty() {
            return Vec::new();
        }
        let invalid = exec::invalid_indexes(&self.c.session.client)
            .await
            .unwrap_or_default();
        let mut out = Vec::new();
        for idx in invalid {
            let found = failed.iter().find_map(|&i| {
                let script = &self.scripts.migrations[i];
                exec::statement_building(&self.resolved[i].sql, &idx).map(|(n, line, text)| {
                    format!(
                        "INVALID index {} was left by {} at statement {n} ({}:{line}: {text})",
                        idx.qualified,
                        label(script),
                        script.display
                    )
                })
            });
            if let Some(why) = found {
                out.push((idx, why));
            }
        }
        out
    }

    /// The failure the plan's problems amount to, with what a failed script left behind.
    pub(crate) async fn failure(&self, plan: &Plan) -> Option<Failure> {
        let mut f = problems_failure(plan)?;
        for (_, why) in self.leftovers(plan).await {
            f.message
                .push_str(&format!("; {why}; `schemagate repair` drops it"));
        }
        Some(f)
    }
}

impl<'a> Run<'a> {
    pub fn new(
        settings: &'a Settings,
        stop: &'a Stop,
        deadline: Instant,
        format: Format,
        scripts: ScriptsReading,
    ) -> Self {
        let mut conn = settings.conn.clone();
        conn.options = Some(session_options(
            conn.options.as_deref(),
            settings.lock_timeout,
        ));
        Run {
            settings,
            stop,
            deadline,
            format,
            plan_undo: false,
            metrics: Recorder::off(),
            conn,
            started: std::cell::Cell::new(Some(scripts)),
        }
    }

    /// `read_history`: read the history in the round trip that opens the session (see
    /// [`Session::early`]); the lock's own session does not need it.
    pub(crate) async fn connect(&self, read_history: bool) -> Result<Session, Failure> {
        let early = read_history.then(|| table(self.settings).select_sql());
        let attempt = async {
            match connect_with_retry(
                &self.conn,
                self.settings.wait_timeout,
                early.as_deref(),
                &self.metrics,
            )
            .await
            {
                // PgBouncer refuses the `options` startup parameter unless its admin lists it
                // in ignore_startup_parameters. Connect without ours and set them per
                // session instead; only the RESET-proof default is lost.
                Err(f) if f.message.contains("unsupported startup parameter") => {
                    tracing::warn!(
                        "the server or a pooler in front of it refused startup options; setting lock_timeout per session instead (a script's RESET lock_timeout then removes it)"
                    );
                    let session = connect_with_retry(
                        &self.settings.conn,
                        self.settings.wait_timeout,
                        early.as_deref(),
                        &self.metrics,
                    )
                    .await?;
                    let set = format!(
                        "SET lock_timeout = {}",
                        self.settings.lock_timeout.as_millis()
                    );
                    session
                        .client
                        .batch_execute(&set)
                        .await
                        .map_err(|e| db_failure("setting lock_timeout", &e, self.stop))?;
                    Ok(session)
                }
                other => other,
            }
        };
        tokio::select! {
            r = attempt => r,
            r = self.stop.stopped() => Err(r.failure("connecting to the database")),
        }
    }

    pub(crate) async fn open(&self) -> Result<Connected, Failure> {
        // The session read current_user and current_database() when it opened, in the
        // round trip that reads its pid: no extra round trip on every pod start.
        let session = self.connect(true).await?;
        let s = self.settings;
        let values = Values {
            user: s.placeholders.clone(),
            schema: s.schema.clone(),
            table: s.table.clone(),
            db_user: session.user.clone(),
            database: session.database.clone(),
            syntax: s.placeholder_syntax.clone(),
        };
        Ok(Connected { session, values })
    }

    pub(crate) fn policy(&self) -> Result<Policy, Failure> {
        policy(self.settings)
    }

    pub(crate) async fn read_history(
        &self,
        c: &Connected,
    ) -> Result<Option<Vec<Applied>>, Failure> {
        history::read(&c.session.client, &table(self.settings))
            .await
            .map_err(|e| db_failure("reading the history table", &e, self.stop))
    }

    pub(crate) fn log_plan(&self, plan: &Plan) {
        for w in &plan.warnings {
            tracing::warn!("{w}");
        }
    }

    /// Runs one command to its outcome. A `migrate`, `undo` or `wait` that loses the database after
    /// connecting (a restart, a failover, a backend crash) starts over on fresh sessions as
    /// long as the server comes back within SCHEMAGATE_WAIT_TIMEOUT: it re-takes the lock and
    /// re-reads the history, which decides what is left. Every migration is atomic with its
    /// history row, so nothing runs twice.
    pub async fn run(&self, command: Command, report: &mut Report) -> Result<(), Failure> {
        const MAX_RECONNECTS: u32 = 5;
        let mut reconnects = 0;
        let mut first_before = None;
        loop {
            let mut connected = false;
            let result = self.run_once(command, report, &mut connected).await;
            let before = first_before.get_or_insert_with(|| report.before.clone());
            report.before.clone_from(before);
            match result {
                Err(f)
                    if connected
                        && f.kind == FailureKind::Unavailable
                        && matches!(command, Command::Migrate | Command::Wait | Command::Undo)
                        && self.stop.reason().is_none()
                        && reconnects < MAX_RECONNECTS =>
                {
                    reconnects += 1;
                    tracing::warn!(
                        error = %f.message, reconnect = reconnects,
                        "lost the database mid-run; reconnecting within SCHEMAGATE_WAIT_TIMEOUT, then the history decides what is left to do"
                    );
                }
                other => return other,
            }
        }
    }

    async fn run_once(
        &self,
        command: Command,
        report: &mut Report,
        connected: &mut bool,
    ) -> Result<(), Failure> {
        if command == Command::CrashTest {
            panic!(
                "crash test requested (target {})",
                self.settings.conn.redacted_url()
            );
        }
        // The scripts are read on their own thread while this one connects and reads the
        // history; their problems still come first, as if they were read first.
        let ScriptsReading(scripts) = self
            .started
            .take()
            .unwrap_or_else(|| read_scripts_aside(&self.settings.locations, self.settings.scripts));
        let db = async {
            let mut c = self.open().await?;
            let registration = self.stop.register(c.session.canceller());
            // Read in the round trip that opened the session.
            let applied = match c.session.early.take() {
                Some(answer) => history::rows(answer)
                    .map_err(|e| db_failure("reading the history table", &e, self.stop)),
                None => self.read_history(&c).await,
            };
            Ok::<_, Failure>((c, registration, applied))
        };
        tokio::pin!(db, scripts);
        let mut db_out = None;
        let scripts = loop {
            // Biased: on a signal the connection's own answer ("… while connecting to the
            // database") is taken before the stop itself, which then names the scripts only
            // if they were what the run was waiting for.
            tokio::select! {
                biased;
                s = &mut scripts => break s,
                r = &mut db, if db_out.is_none() => db_out = Some(r),
                r = self.stop.stopped() => {
                    return Err(match db_out {
                        Some(Err(f)) => f,
                        _ => r.failure("reading the scripts"),
                    });
                }
            }
        };
        let scripts = scripts.map_err(|_| {
            Failure::new(
                FailureKind::Internal,
                "the thread reading the scripts ended without an answer",
            )
        })??;
        log_skipped(&scripts);
        let policy = self.policy()?;
        let (c, _registration, applied) = match db_out {
            Some(r) => r,
            None => db.await,
        }?;
        *connected = true;
        let applied = applied?;
        let resolved = resolve_all(&scripts.migrations, &c.values)?;
        let locals = locals(&scripts.migrations, &resolved);
        let w = Workspace {
            c,
            scripts: &scripts,
            resolved,
            locals,
            policy,
        };
        let plan = w.plan(applied.as_deref().unwrap_or_default());
        report.before = plan.current.clone();
        report.after = plan.current.clone();
        self.metrics
            .record(|m| m.schema_version.clone_from(&plan.current));
        if command == Command::Wait {
            // `wait` opens a session per poll and closes each itself, this one too.
            drop(_registration);
            return self.wait(w, plan).await;
        }
        let result = match command {
            Command::Info => self.info(&w, plan).await,
            Command::Validate => self.validate(&w, &plan).await,
            Command::Plan if self.plan_undo => self.print_undo_plan(&w, plan).await,
            Command::Plan => self.print_plan(&w, plan).await,
            Command::Undo => self.undo(&w, plan, report).await,
            Command::Wait => unreachable!("handled above"),
            Command::Migrate => self.migrate(&w, applied, plan, report).await,
            Command::Baseline => self.baseline(&w.c).await,
            Command::Repair => self.repair(&w).await,
            Command::Version
            | Command::Help
            | Command::CrashTest
            | Command::Lint
            | Command::Compare => Ok(()),
        };
        drop(_registration);
        let Workspace {
            c,
            resolved,
            locals,
            ..
        } = w;
        c.session.close().await;
        if result.is_ok() {
            // A run that ended well is not retried (see `run`): the process exits next.
            leave_to_exit(resolved);
            leave_to_exit(locals);
            leave_to_exit(scripts);
        }
        result
    }

    /// The executor for the scripts of a run that holds the lock on `lock_session`, which
    /// stays idle and so can look at what the migration session waits for.
    pub(crate) fn ctx<'c>(
        &'c self,
        c: &'c Connected,
        lock_session: &'c Session,
        table: &'c Table,
        companions: Option<&'c Companions>,
        before_each: &'c [Ready<'c>],
        after_each: &'c [Ready<'c>],
    ) -> Ctx<'c> {
        Ctx {
            client: &c.session.client,
            companions,
            watch: Some(Watch {
                observer: &lock_session.client,
                backend_pid: c.session.backend_pid,
            }),
            blockers: Default::default(),
            inserter: Default::default(),
            table,
            installed_by: self
                .settings
                .installed_by
                .as_deref()
                .unwrap_or(&c.values.db_user),
            lock_timeout: self.settings.lock_timeout,
            statement_timeout: self.settings.statement_timeout,
            lock_retries: self.settings.lock_retries,
            stop: self.stop,
            metrics: &self.metrics,
            before_each,
            after_each,
        }
    }

    pub(crate) async fn with_lock<T>(
        &self,
        what: &str,
        c: &Connected,
        f: impl AsyncFnOnce(&Session) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        // The lock lives on its own session that stays idle while scripts run, so that a
        // CREATE INDEX CONCURRENTLY does not wait for the runner's own transaction.
        let lock_session = self.connect(false).await?;
        // With several hosts each session picks its server afresh: after a failover between
        // the two connections they can sit on different servers, and a lock on one would
        // not guard the migrations on the other. Starting over (69 is retried within the
        // wait) puts both on the server that serves now.
        if lock_session.server != c.session.server {
            let message = format!(
                "the lock session reached {} but the migration session is on {}; starting over on one server",
                lock_session.server, c.session.server
            );
            lock_session.close().await;
            return Err(Failure::new(FailureKind::Unavailable, message));
        }
        // Two open client sessions always have two server backends, unless a pooler in
        // transaction or statement mode hands one backend to both (it reuses the backend the
        // first session just left idle). A session lock is meaningless there.
        if lock_session.backend_pid == c.session.backend_pid {
            lock_session.close().await;
            return Err(Failure::new(
                FailureKind::Config,
                format!(
                    "two sessions of this run were given the same server backend (pid {}): a connection pooler in transaction or statement mode (PgBouncer pool_mode=transaction) sits between schemagate and PostgreSQL. Migrations need a session of their own and a session-level advisory lock: connect directly to PostgreSQL, or through a pool in session mode",
                    c.session.backend_pid
                ),
            ));
        }
        let key = lock::lock_key(&self.settings.schema, &self.settings.table);
        let left = self.deadline.saturating_duration_since(Instant::now());
        let wait = self.settings.lock_wait.unwrap_or(left).min(left);
        if let Err(f) =
            lock::acquire(&lock_session.client, key, wait, self.stop, &self.metrics).await
        {
            lock_session.close().await;
            return Err(f);
        }
        tracing::debug!(what, "holding the migration lock");
        let result = f(&lock_session).await;
        lock::release(&lock_session.client, key).await;
        lock_session.close().await;
        result
    }
}

/// Skips freeing `value`, for the last thing a successful run does before the process exits
/// and hands all of its memory back at once. Freeing a thousand scripts, history rows and
/// plan entries one allocation at a time was a sixth of a no-op run's instructions on its
/// critical path (callgrind: 2.8 M of 17 M). Only for values made once per run: a run that
/// is retried never gets here.
pub(crate) fn leave_to_exit<T>(value: T) {
    std::mem::forget(value);
}

/// What the planner may do, from the settings: the target version, out-of-order, missing.
pub(crate) fn policy(settings: &Settings) -> Result<Policy, Failure> {
    let target =
        match &settings.target {
            None => None,
            Some(t) => Some(Version::parse(t).map_err(|e| {
                Failure::new(FailureKind::Config, format!("SCHEMAGATE_TARGET: {e}"))
            })?),
        };
    Ok(Policy {
        target,
        out_of_order: settings.out_of_order,
        ignore_missing: settings.ignore_missing,
    })
}

pub(crate) fn resolve_all<'a>(
    migrations: &'a [Script],
    values: &Values,
) -> Result<Vec<Resolved<'a>>, Failure> {
    let mut out = Vec::with_capacity(migrations.len());
    let mut problems = Vec::new();
    for s in migrations {
        match placeholders::resolve(s, values) {
            Ok(r) => out.push(r),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(invalid(problems))
    }
}

pub(crate) fn locals(migrations: &[Script], resolved: &[Resolved<'_>]) -> Vec<Local> {
    migrations
        .iter()
        .zip(resolved)
        .map(|(s, r)| Local {
            name: s.name.clone(),
            path: s.path.clone(),
            checksum: r.checksum,
            raw_checksum: r.raw_checksum,
            phase: s.phase,
        })
        .collect()
}
