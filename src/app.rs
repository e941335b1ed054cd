//! The orchestrator: settings → discover → connect → history → plan → (lock → execute → release) → outcome, for every command.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use crate::cli::{Command, Format};
use crate::config::Settings;
use crate::config::conn::ConnSettings;
use crate::core::discover::{Script, Scripts, discover};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::placeholders::{self, Resolved, Values};
use crate::core::plan::{self, Applied, Local, Plan, Policy, ProblemKind, State};
use crate::core::script::{Callback, Kind, Version};
use crate::fsio;
use crate::output;
use crate::pg::connect::{Session, connect_with_retry};
use crate::pg::exec::{self, Ctx, InvalidIndex, Ready, Watch, describe_error, label};
use crate::pg::history::{self, NewRow, Table};
use crate::pg::lock;
use crate::runtime::Stop;

/// What the final summary line reports, filled in as the run goes.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub applied: usize,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Everything a command needs, created once.
pub struct Run<'a> {
    settings: &'a Settings,
    stop: &'a Stop,
    /// When the deadline expires (the lock wait defaults to what is left of it).
    deadline: Instant,
    format: Format,
    /// The connection target with schemagate's session defaults added.
    conn: ConnSettings,
    /// The scripts, started before the run (as the process starts): the first attempt takes
    /// them; an attempt after a reconnect reads them again.
    started: std::cell::Cell<Option<ScriptsReading>>,
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

fn table(settings: &Settings) -> Table {
    Table {
        schema: settings.schema.clone(),
        name: settings.table.clone(),
    }
}

fn invalid(problems: Vec<String>) -> Failure {
    Failure::new(FailureKind::InvalidMigrations, problems.join("\n"))
}

fn db_failure(doing: &str, e: &tokio_postgres::Error, stop: &Stop) -> Failure {
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
pub fn load_scripts(locations: &[PathBuf]) -> Result<Scripts, Failure> {
    let (entries, mut problems) = fsio::read_locations(locations)?;
    match discover(entries) {
        Ok(scripts) if problems.is_empty() => Ok(scripts),
        Ok(_) => Err(invalid(problems)),
        Err(more) => {
            problems.extend(more);
            Err(invalid(problems))
        }
    }
}

type ScriptsResult = Result<Scripts, Failure>;

/// The scripts being read on a thread of their own ([`read_scripts_aside`]).
pub struct ScriptsReading(tokio::sync::oneshot::Receiver<ScriptsResult>);

/// Reads the scripts on a thread of their own, so that every pod start does its file work
/// (a thousand files: a few milliseconds of system calls and hashing) while the main thread
/// sets up logging and the runtime, connects and reads the history, instead of before or
/// after. If the system refuses a thread (a pids limit), they are read here and now.
pub fn read_scripts_aside(locations: &[PathBuf]) -> ScriptsReading {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let owned = locations.to_vec();
    let job = move || {
        // The receiver is gone only when the run has already ended.
        let _ = tx.send(load_scripts(&owned));
    };
    match std::thread::Builder::new()
        .name("scripts".into())
        .spawn(job)
    {
        Ok(_) => ScriptsReading(rx),
        Err(e) => {
            tracing::debug!(error = %e, "no thread for reading the scripts; reading them first");
            let (tx, rx) = tokio::sync::oneshot::channel();
            let _ = tx.send(load_scripts(locations));
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

struct Connected {
    session: Session,
    values: Values,
}

/// The local side of a run, resolved once: every command reads it.
struct Workspace<'a> {
    c: Connected,
    scripts: &'a Scripts,
    /// Index-aligned with `scripts.migrations`.
    resolved: Vec<Resolved<'a>>,
    locals: Vec<Local>,
    policy: Policy,
}

impl Workspace<'_> {
    fn plan(&self, applied: &[Applied]) -> Plan {
        plan::plan(&self.locals, applied, &self.policy)
    }

    /// INVALID indexes that a failed script's CONCURRENTLY statement left behind, each with
    /// a sentence naming the script and the statement. Indexes nobody of ours built (another
    /// session's build still in progress looks the same) are not listed.
    async fn leftovers(&self, plan: &Plan) -> Vec<(InvalidIndex, String)> {
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
    async fn failure(&self, plan: &Plan) -> Option<Failure> {
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
            conn,
            started: std::cell::Cell::new(Some(scripts)),
        }
    }

    /// `read_history`: read the history in the round trip that opens the session (see
    /// [`Session::early`]); the lock's own session does not need it.
    async fn connect(&self, read_history: bool) -> Result<Session, Failure> {
        let early = read_history.then(|| table(self.settings).select_sql());
        let attempt = async {
            match connect_with_retry(&self.conn, self.settings.wait_timeout, early.as_deref()).await
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

    async fn open(&self) -> Result<Connected, Failure> {
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
        };
        Ok(Connected { session, values })
    }

    fn policy(&self) -> Result<Policy, Failure> {
        let target = match &self.settings.target {
            None => None,
            Some(t) => Some(Version::parse(t).map_err(|e| {
                Failure::new(FailureKind::Config, format!("SCHEMAGATE_TARGET: {e}"))
            })?),
        };
        Ok(Policy {
            target,
            out_of_order: self.settings.out_of_order,
            ignore_missing: self.settings.ignore_missing,
        })
    }

    async fn read_history(&self, c: &Connected) -> Result<Option<Vec<Applied>>, Failure> {
        history::read(&c.session.client, &table(self.settings))
            .await
            .map_err(|e| db_failure("reading the history table", &e, self.stop))
    }

    fn log_plan(&self, plan: &Plan) {
        for w in &plan.warnings {
            tracing::warn!("{w}");
        }
    }

    /// Runs one command to its outcome. A `migrate` or `wait` that loses the database after
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
                        && matches!(command, Command::Migrate | Command::Wait)
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
            .unwrap_or_else(|| read_scripts_aside(&self.settings.locations));
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
        let result = match command {
            Command::Info => {
                let text = match self.format {
                    Format::Json => {
                        output::info_json(&plan, &self.settings.schema, &w.c.values.database)
                    }
                    Format::Table => output::info_table(
                        &plan,
                        plan.current.as_deref().unwrap_or("<< Empty Schema >>"),
                    ),
                };
                print!("{text}");
                Ok(())
            }
            Command::Validate => {
                self.log_plan(&plan);
                match w.failure(&plan).await {
                    Some(f) => Err(f),
                    None => {
                        tracing::info!(
                            migrations = w.locals.len(),
                            pending = plan.pending.len(),
                            "validated: the history matches the local scripts"
                        );
                        Ok(())
                    }
                }
            }
            Command::Plan => self.print_plan(&w, &plan),
            Command::Wait => self.wait(&w, plan).await,
            Command::Migrate => self.migrate(&w, applied, plan, report).await,
            Command::Baseline => self.baseline(&w.c).await,
            Command::Repair => self.repair(&w).await,
            Command::Version | Command::Help | Command::CrashTest => Ok(()),
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

    fn print_plan(&self, w: &Workspace<'_>, plan: &Plan) -> Result<(), Failure> {
        if let Some(f) = problems_failure(plan) {
            return Err(f);
        }
        let mut out = String::new();
        for &i in &plan.pending {
            let script = &w.scripts.migrations[i];
            let ready =
                exec::prepare(script, w.resolved[i].clone()).map_err(|e| invalid(vec![e]))?;
            let mode = match ready.no_transaction {
                None => "in one transaction with its history row".to_string(),
                Some(why) => format!("outside a transaction ({why}), statement by statement"),
            };
            out.push_str(&format!(
                "-- {} from {} ({} statements, {mode})\n",
                label(script),
                script.display,
                ready.statements.len()
            ));
            for st in &ready.statements {
                out.push_str(st.text(&ready.sql));
                out.push_str(";\n");
            }
            out.push('\n');
        }
        if plan.pending.is_empty() {
            out.push_str("-- nothing to apply: the schema is up to date\n");
        }
        print!("{out}");
        Ok(())
    }

    async fn wait(&self, w: &Workspace<'_>, mut plan: Plan) -> Result<(), Failure> {
        let mut last_log: Option<Instant> = None;
        let key = lock::lock_key(&self.settings.schema, &self.settings.table);
        loop {
            // A failed row while a runner holds the lock is a script running outside a
            // transaction right now (its row is written as failed before it starts): wait
            // for it. With nobody holding the lock, the script really stopped part-way.
            let in_progress = match w.failure(&plan).await {
                None => false,
                Some(f) if f.kind == FailureKind::Partial => {
                    let held = lock::is_held(&w.c.session.client, key)
                        .await
                        .map_err(|e| db_failure("looking at the migration lock", &e, self.stop))?;
                    if !held {
                        return Err(f);
                    }
                    true
                }
                Some(f) => return Err(f),
            };
            let pending: Vec<String> = plan
                .pending_versioned(&w.locals)
                .map(|l| {
                    l.name
                        .version()
                        .map(|v| format!("V{v}"))
                        .unwrap_or_default()
                })
                .collect();
            if pending.is_empty() && !in_progress {
                tracing::info!(
                    schema_version = plan.current.as_deref().unwrap_or(""),
                    "every local migration is applied"
                );
                return Ok(());
            }
            if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                tracing::info!(pending = %pending.join(", "), in_progress, "waiting for the migrations to be applied by the migrate Job");
                last_log = Some(Instant::now());
            }
            self.stop
                .sleep(
                    Duration::from_secs(1),
                    &format!("waiting for {} to be applied", pending.join(", ")),
                )
                .await?;
            let applied = self.read_history(&w.c).await?;
            plan = w.plan(applied.as_deref().unwrap_or_default());
        }
    }

    async fn with_lock<T>(
        &self,
        what: &str,
        c: &Connected,
        f: impl AsyncFnOnce(&Session) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        // The lock lives on its own session that stays idle while scripts run, so that a
        // CREATE INDEX CONCURRENTLY does not wait for the runner's own transaction.
        let lock_session = self.connect(false).await?;
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
        if let Err(f) = lock::acquire(&lock_session.client, key, wait, self.stop).await {
            lock_session.close().await;
            return Err(f);
        }
        tracing::debug!(what, "holding the migration lock");
        let result = f(&lock_session).await;
        lock::release(&lock_session.client, key).await;
        lock_session.close().await;
        result
    }

    async fn migrate(
        &self,
        w: &Workspace<'_>,
        applied: Option<Vec<Applied>>,
        plan: Plan,
        report: &mut Report,
    ) -> Result<(), Failure> {
        self.log_plan(&plan);
        // A failed row read without the lock may be a script that the lock holder is running
        // outside a transaction right now (its row is written as failed before its first
        // statement): only a reading under the lock can tell a stopped script from that.
        let mut in_doubt = false;
        if let Some(f) = w.failure(&plan).await {
            if f.kind != FailureKind::Partial {
                return Err(f);
            }
            in_doubt = true;
        }
        // Reading committed history is safe: when nothing is pending, fifty pods starting at
        // once all leave here without queueing for the lock.
        if plan.pending.is_empty() && applied.is_some() && !in_doubt {
            tracing::info!(
                schema_version = plan.current.as_deref().unwrap_or(""),
                "schema is up to date; nothing to apply"
            );
            leave_to_exit((applied, plan));
            return Ok(());
        }
        if plan.pending.is_empty() && w.scripts.migrations.is_empty() {
            tracing::info!("no migrations found in SCHEMAGATE_LOCATIONS; nothing to apply");
            return Ok(());
        }
        self.with_lock("migrate", &w.c, async |lock_session: &Session| {
            self.migrate_locked(w, lock_session, report).await
        })
        .await
    }

    async fn migrate_locked(
        &self,
        w: &Workspace<'_>,
        lock_session: &Session,
        report: &mut Report,
    ) -> Result<(), Failure> {
        let (c, scripts) = (&w.c, w.scripts);
        let t = table(self.settings);
        let client = &c.session.client;
        let before = self.read_history(c).await?;
        if before.is_none() {
            let has_objects = history::schema_has_objects(client, &t)
                .await
                .map_err(|e| db_failure("inspecting the schema", &e, self.stop))?;
            if has_objects && !self.settings.baseline_on_migrate {
                return Err(invalid(vec![format!(
                    "schema \"{}\" already holds tables but has no history table {}; run `schemagate baseline` or set SCHEMAGATE_BASELINE_ON_MIGRATE=true to mark it as version {} first",
                    t.schema,
                    t.qualified(),
                    self.settings.baseline_version
                )]));
            }
            if history::ensure(client, &t)
                .await
                .map_err(|e| db_failure("creating the history table", &e, self.stop))?
            {
                tracing::info!(table = %t.qualified(), "created the history table");
            }
            if has_objects {
                self.insert_baseline(c, &t).await?;
            }
        }
        history::use_schema(client, &t)
            .await
            .map_err(|e| db_failure("setting search_path", &e, self.stop))?;
        // Another runner may have finished while this one waited for the lock.
        let applied = self.read_history(c).await?.unwrap_or_default();
        let plan = w.plan(&applied);
        if let Some(f) = w.failure(&plan).await {
            return Err(f);
        }
        report.before = plan.current.clone();
        report.after = plan.current.clone();
        if plan.pending.is_empty() {
            tracing::info!(
                schema_version = plan.current.as_deref().unwrap_or(""),
                "another runner applied everything while this one waited; nothing to do"
            );
            return Ok(());
        }
        let pending: Vec<Ready<'_>> = plan
            .pending
            .iter()
            .map(|&i| exec::prepare(&scripts.migrations[i], w.resolved[i].clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(vec![e]))?;
        let callbacks = |cb: Callback| -> Result<Vec<Ready<'_>>, Failure> {
            scripts
                .callbacks
                .iter()
                .filter(|s| s.name.kind == Kind::Callback(cb))
                .map(|s| {
                    let r = placeholders::resolve(s, &c.values).map_err(|e| invalid(vec![e]))?;
                    exec::prepare(s, r).map_err(|e| invalid(vec![e]))
                })
                .collect()
        };
        let before_each = callbacks(Callback::BeforeEachMigrate)?;
        let after_each = callbacks(Callback::AfterEachMigrate)?;
        let ctx = Ctx {
            client,
            watch: Some(Watch {
                observer: &lock_session.client,
                backend_pid: c.session.backend_pid,
            }),
            blockers: Default::default(),
            inserter: Default::default(),
            table: &t,
            installed_by: &c.values.db_user,
            lock_timeout: self.settings.lock_timeout,
            statement_timeout: self.settings.statement_timeout,
            lock_retries: self.settings.lock_retries,
            stop: self.stop,
            before_each: &before_each,
            after_each: &after_each,
        };
        for cb in callbacks(Callback::BeforeMigrate)? {
            ctx.callback(&cb).await?;
        }
        let mut current = plan.current.as_deref().and_then(|v| Version::parse(v).ok());
        for ready in &pending {
            let what = label(ready.script);
            match ctx.apply(ready).await {
                Ok(done) => {
                    report.applied += 1;
                    if let Some(v) = ready.script.name.version()
                        && current.as_ref().is_none_or(|c| v > c)
                    {
                        current = Some(v.clone());
                        report.after = Some(v.as_str().to_string());
                    }
                    tracing::info!(
                        migration = %what, script = %ready.script.path, duration_ms = done.millis, statements = done.statements,
                        lock_retries = done.retries, "applied {what} in {} ms ({} statement{})", done.millis, done.statements, if done.statements == 1 { "" } else { "s" }
                    );
                }
                Err(f) => {
                    if self.stop.reason().is_none() {
                        for cb in callbacks(Callback::AfterMigrateError)? {
                            if let Err(e) = ctx.callback(&cb).await {
                                tracing::warn!(callback = %cb.script.display, error = %e, "afterMigrateError callback failed");
                            }
                        }
                    }
                    return Err(f);
                }
            }
        }
        for cb in callbacks(Callback::AfterMigrate)? {
            ctx.callback(&cb).await?;
        }
        Ok(())
    }

    async fn insert_baseline(&self, c: &Connected, t: &Table) -> Result<(), Failure> {
        const DESCRIPTION: &str = "<< Flyway Baseline >>";
        let version = &self.settings.baseline_version;
        history::insert(
            &c.session.client,
            t,
            &NewRow {
                version: Some(version),
                description: DESCRIPTION,
                kind: "BASELINE",
                script: DESCRIPTION,
                checksum: None,
                installed_by: &c.values.db_user,
                execution_time: 0,
                success: true,
            },
        )
        .await
        .map_err(|e| db_failure("recording the baseline", &e, self.stop))?;
        tracing::info!(version = %version, "baselined the schema at version {version}");
        Ok(())
    }

    async fn baseline(&self, c: &Connected) -> Result<(), Failure> {
        self.with_lock("baseline", c, async |_: &Session| {
            let t = table(self.settings);
            history::ensure(&c.session.client, &t).await.map_err(|e| db_failure("creating the history table", &e, self.stop))?;
            let applied = self.read_history(c).await?.unwrap_or_default();
            if let Some(row) = applied.iter().find(|r| r.kind != "SCHEMA") {
                return Err(invalid(vec![format!(
                    "{} already has history (rank {}, {}); baseline only marks a database that has none",
                    t.qualified(),
                    row.installed_rank,
                    row.description
                )]));
            }
            self.insert_baseline(c, &t).await
        })
        .await
    }

    async fn repair(&self, w: &Workspace<'_>) -> Result<(), Failure> {
        let c = &w.c;
        self.with_lock("repair", c, async |_: &Session| {
            let t = table(self.settings);
            let client = &c.session.client;
            let Some(applied) = self.read_history(c).await? else {
                tracing::info!(table = %t.qualified(), "no history table; nothing to repair");
                return Ok(());
            };
            let plan = w.plan(&applied);
            // Drop what a failed script left before forgetting that it failed.
            let mut dropped = 0;
            for (idx, why) in w.leftovers(&plan).await {
                exec::drop_index(client, &idx).await.map_err(|e| db_failure(&format!("dropping INVALID index {}", idx.qualified), &e, self.stop))?;
                tracing::info!(index = %idx.qualified, "dropped: {why}");
                dropped += 1;
            }
            let removed = history::delete_failed(client, &t).await.map_err(|e| db_failure("removing failed rows", &e, self.stop))?;
            for (rank, version, description) in &removed {
                tracing::info!(rank, version = version.as_deref().unwrap_or(""), description = %description, "removed failed history row");
            }
            let mut realigned = 0;
            for e in plan.entries.iter().filter(|e| e.state != State::Failed) {
                let (Some(li), Some(rank)) = (e.local, e.installed_rank) else { continue };
                let l = &w.locals[li];
                let description = plan::abbreviate_description(&l.name.description);
                let stale = e.checksum.is_some_and(|c| c != l.checksum && c != l.raw_checksum) || e.description != description;
                if stale && matches!(l.name.kind, Kind::Versioned(_)) && e.kind == "SQL" {
                    history::realign(client, &t, rank, &description, l.checksum).await.map_err(|e| db_failure("realigning a history row", &e, self.stop))?;
                    tracing::info!(rank, script = %l.path, old_checksum = e.checksum, new_checksum = l.checksum, "realigned history row with the local file");
                    realigned += 1;
                }
            }
            let others: Vec<String> = exec::invalid_indexes(client).await.unwrap_or_default().into_iter().map(|i| i.qualified).collect();
            if !others.is_empty() {
                tracing::warn!(indexes = %others.join(", "), "INVALID indexes that no failed migration built remain (maybe a build still running elsewhere); left alone");
            }
            tracing::info!(removed = removed.len(), realigned, dropped_indexes = dropped, "repair done");
            Ok(())
        })
        .await
    }
}

/// Skips freeing `value`, for the last thing a successful run does before the process exits
/// and hands all of its memory back at once. Freeing a thousand scripts, history rows and
/// plan entries one allocation at a time was a sixth of a no-op run's instructions on its
/// critical path (callgrind: 2.8 M of 17 M). Only for values made once per run: a run that
/// is retried never gets here.
fn leave_to_exit<T>(value: T) {
    std::mem::forget(value);
}

fn resolve_all<'a>(
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

fn locals(migrations: &[Script], resolved: &[Resolved<'_>]) -> Vec<Local> {
    migrations
        .iter()
        .zip(resolved)
        .map(|(s, r)| Local {
            name: s.name.clone(),
            path: s.path.clone(),
            checksum: r.checksum,
            raw_checksum: r.raw_checksum,
        })
        .collect()
}
