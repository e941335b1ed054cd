//! `migrate`: under the lock, creates the history table if needed and applies every pending script in order, with its callbacks.

use crate::app::{Report, Run, Workspace, db_failure, invalid, leave_to_exit, table};
use crate::core::contract::{ContractMode, Deferral};
use crate::core::directives::Phase;
use crate::core::outcome::{Failure, FailureKind};
use crate::core::placeholders;
use crate::core::plan::{Applied, Plan, State};
use crate::core::script::{Callback, Kind, Version};
use crate::core::undo;
use crate::pg::activity;
use crate::pg::companions::Companions;
use crate::pg::connect::Session;
use crate::pg::exec::{self, Ready, label};
use crate::pg::history;

/// What a contract guard's wait leaves of the deadline for the contract scripts themselves.
const CONTRACT_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

impl Run<'_> {
    pub(crate) async fn migrate(
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
        // Before the lock and before any change: a refused script costs nobody a wait.
        self.lint_gate(w, &plan).await?;
        self.with_lock("migrate", &w.c, async |lock_session: &Session| {
            self.migrate_locked(w, lock_session, report).await
        })
        .await
    }

    /// The history table (and its schemas) made sure of, as `migrate` and `baseline` need it.
    pub(crate) async fn ensure_history(
        &self,
        client: &tokio_postgres::Client,
        t: &history::Table,
    ) -> Result<(), Failure> {
        let ensured = history::ensure(
            client,
            t,
            &self.settings.other_schemas,
            self.settings.create_schemas,
        )
        .await
        .map_err(|e| db_failure("creating the history table", &e, self.stop))?;
        match ensured {
            history::Ensured::Existed => Ok(()),
            history::Ensured::Created => {
                tracing::info!(table = %t.qualified(), "created the history table");
                Ok(())
            }
            history::Ensured::SchemaMissing => Err(Failure::new(
                FailureKind::Config,
                format!(
                    "schema \"{}\" does not exist and SCHEMAGATE_CREATE_SCHEMAS=false (Flyway's createSchemas) forbids creating it: create it first, or allow schemagate to",
                    t.schema
                ),
            )),
        }
    }

    pub(crate) async fn migrate_locked(
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
            self.ensure_history(client, &t).await?;
            if has_objects {
                self.insert_baseline(c, &t).await?;
            }
        }
        history::use_schema(client, &t)
            .await
            .map_err(|e| db_failure("setting search_path", &e, self.stop))?;
        // Read under the lock: another runner may have finished while this one waited. A
        // table just created is read again for the baseline row it may hold.
        let applied = match before {
            Some(applied) => applied,
            None => self.read_history(c).await?.unwrap_or_default(),
        };
        let plan = w.plan(&applied);
        if let Some(f) = w.failure(&plan).await {
            return Err(f);
        }
        report.before = plan.current.clone();
        report.after = plan.current.clone();
        self.metrics
            .record(|m| m.schema_version.clone_from(&plan.current));
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
            .map(|&i| {
                let script = &scripts.migrations[i];
                let mut ready = exec::prepare(script, w.resolved[i].clone())?;
                if let Some(v) = script.name.version() {
                    ready.undo = undo::to_store(&scripts.undo, v, &c.values)?;
                }
                Ok(ready)
            })
            .collect::<Result<_, String>>()
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
        let needs_companions = self.settings.release.is_some()
            || pending
                .iter()
                .any(|r| r.script.phase != Phase::Expand || r.undo.is_some());
        let companions = if needs_companions {
            let c = Companions::of(&t).map_err(|e| Failure::new(FailureKind::Config, e))?;
            c.ensure(client)
                .await
                .map_err(|e| db_failure("creating schemagate's phase tables", &e, self.stop))?;
            if let Some(release) = &self.settings.release {
                let up_to = w
                    .scripts
                    .migrations
                    .iter()
                    .rev()
                    .find_map(|s| s.name.version());
                c.record_release(client, release, up_to.map(Version::as_str))
                    .await
                    .map_err(|e| db_failure("recording the release's scripts", &e, self.stop))?;
            }
            Some(c)
        } else {
            None
        };
        let ctx = self.ctx(
            c,
            lock_session,
            &t,
            companions.as_ref(),
            &before_each,
            &after_each,
        );
        for cb in callbacks(Callback::BeforeMigrate)? {
            ctx.callback(&cb).await?;
        }
        let mut current = plan.current.as_deref().and_then(|v| Version::parse(v).ok());
        for (k, ready) in pending.iter().enumerate() {
            let what = label(ready.script);
            // The guard's wait is part of the script's span: it is what the script waited on.
            let span = self.metrics.script_span("migration", ready.script);
            // Each contract script has its own guard: a session of a version whose image holds
            // an earlier contract may still need what a later one drops.
            if ready.script.phase == Phase::Contract {
                let guard = self
                    .contract_guard(ready, companions.as_ref(), client)
                    .await;
                if guard.is_err() {
                    span.outcome(&guard, "");
                }
                match guard? {
                    None => {}
                    Some(deferral) => {
                        report.deferred = pending[k..].iter().map(|r| label(r.script)).collect();
                        let reason = deferral.reason();
                        span.set("schemagate.migration.outcome", "deferred");
                        span.set("schemagate.contract.deferral", reason.as_str());
                        tracing::warn!(
                            migration = %what, deferred = %report.deferred.join(", "), reason = %reason,
                            "contract script {what} deferred, with every script after it: {reason}. It runs in a later migrate once no older app version is connected"
                        );
                        report.deferral = Some(reason);
                        let deferred = report.deferred.len() as u64;
                        self.metrics.record(|m| m.deferred_contracts = deferred);
                        break;
                    }
                }
            }
            let applied = match ready.script.phase {
                Phase::Backfill => {
                    let resume = plan.entries.iter().find_map(|e| {
                        (e.state == State::InProgress && e.local == Some(plan.pending[k]))
                            .then_some(e.installed_rank)
                            .flatten()
                    });
                    ctx.backfill(ready, resume, &self.settings.backfill).await
                }
                _ => ctx.apply(ready).await,
            };
            span.outcome(&applied, "applied");
            match applied {
                Ok(done) => {
                    report.applied += 1;
                    if let Some(v) = ready.script.name.version()
                        && current.as_ref().is_none_or(|c| v > c)
                    {
                        current = Some(v.clone());
                        report.after = Some(v.as_str().to_string());
                    }
                    span.set("schemagate.migration.statements", done.statements as u64);
                    span.set("schemagate.migration.lock_retries", u64::from(done.retries));
                    if let Some(rows) = done.rows {
                        span.set("schemagate.backfill.rows", rows);
                    }
                    self.metrics.record(|m| {
                        m.migrations_applied += 1;
                        m.migration_seconds.observe(done.millis as f64 / 1000.0);
                        m.schema_version.clone_from(&report.after);
                    });
                    match done.rows {
                        Some(rows) => tracing::info!(
                            migration = %what, script = %ready.script.path, duration_ms = done.millis, batches = done.statements, rows,
                            "applied backfill {what} in {} ms ({} batches, {rows} rows in this run)", done.millis, done.statements
                        ),
                        None => tracing::info!(
                            migration = %what, script = %ready.script.path, duration_ms = done.millis, statements = done.statements,
                            lock_retries = done.retries, "applied {what} in {} ms ({} statement{})", done.millis, done.statements, if done.statements == 1 { "" } else { "s" }
                        ),
                    }
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

    /// Whether the contract script `ready` may run now (`None`) or why it is deferred, by
    /// SCHEMAGATE_CONTRACT: `apply` runs it, `defer` never, `auto` once no session of an
    /// older app version is connected (waiting up to SCHEMAGATE_CONTRACT_WAIT).
    async fn contract_guard(
        &self,
        ready: &Ready<'_>,
        companions: Option<&Companions>,
        client: &tokio_postgres::Client,
    ) -> Result<Option<Deferral>, Failure> {
        let s = self.settings;
        let what = label(ready.script);
        let release = match (s.contract, &s.release) {
            (ContractMode::Apply, _) => {
                tracing::info!(migration = %what, "SCHEMAGATE_CONTRACT=apply: running contract scripts without looking for older app versions");
                return Ok(None);
            }
            (ContractMode::Defer, _) => return Ok(Some(Deferral::Asked)),
            (ContractMode::Auto, None) => return Ok(Some(Deferral::NoEvidence)),
            (ContractMode::Auto, Some(r)) => r,
        };
        let (Some(companions), Some(version)) = (companions, ready.script.name.version()) else {
            return Ok(Some(Deferral::NoEvidence));
        };
        let recorded = companions
            .releases(client, &release.app)
            .await
            .map_err(|e| db_failure("reading the recorded releases", &e, self.stop))?;
        // A wait that would outlast the deadline ends as a deferral (exit 0), not as exit 124:
        // in a post-upgrade hook the one passes the release and the other fails it.
        let left = self
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        let wait = s
            .contract_wait
            .min(left.saturating_sub(s.contract_settle + CONTRACT_MARGIN));
        tracing::info!(migration = %what, app = %release.app, version = %release.version, settle_ms = s.contract_settle.as_millis() as u64, wait_ms = wait.as_millis() as u64,
            "contract script {what}: looking for sessions of older versions of {} (application_name {}/…)", release.app, release.app);
        match activity::guard(
            client,
            release,
            version,
            &recorded,
            s.contract_settle,
            wait,
            self.stop,
        )
        .await?
        {
            Ok(()) => {
                tracing::info!(migration = %what, "no session of an older app version is connected: running contract scripts");
                Ok(None)
            }
            Err(old) => Ok(Some(Deferral::OldClients(old))),
        }
    }
}
