//! `migrate`: under the lock, creates the history table if needed and applies every pending script in order, with its callbacks.

use crate::app::{Report, Run, Workspace, db_failure, invalid, leave_to_exit, table};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::placeholders;
use crate::core::plan::{Applied, Plan};
use crate::core::script::{Callback, Kind, Version};
use crate::pg::connect::Session;
use crate::pg::exec::{self, Ctx, Ready, Watch, label};
use crate::pg::history;

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
        self.with_lock("migrate", &w.c, async |lock_session: &Session| {
            self.migrate_locked(w, lock_session, report).await
        })
        .await
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
}
