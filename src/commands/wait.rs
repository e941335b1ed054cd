//! `wait`, for an app's initContainer: polls the history until the scripts this image needs are applied; never locks, never writes.

use std::time::Duration;

use tokio::time::Instant;

use crate::app::{Run, Workspace, db_failure, table};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::plan::{Plan, State};
use crate::pg::companions::Companions;
use crate::pg::exec::label;
use crate::pg::lock;

impl Run<'_> {
    pub(crate) async fn wait(&self, w: &Workspace<'_>, mut plan: Plan) -> Result<(), Failure> {
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
            self.contracted_past(w, &mut plan).await?;
            let pending: Vec<String> = plan
                .needed_by_app(&w.locals)
                .map(|l| {
                    l.name
                        .version()
                        .map(|v| format!("V{v}"))
                        .unwrap_or_default()
                })
                .collect();
            if pending.is_empty() && !in_progress {
                match plan.first_pending_contract(&w.locals) {
                    None => tracing::info!(
                        schema_version = plan.current.as_deref().unwrap_or(""),
                        "every local migration is applied"
                    ),
                    Some(k) => tracing::info!(
                        schema_version = plan.current.as_deref().unwrap_or(""),
                        contract = %label(&w.scripts.migrations[plan.pending[k]]),
                        "every migration this app needs is applied; the pending contract script, and what follows it, waits for the older app version to go and does not hold this pod back"
                    ),
                }
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

    /// `Err` (65) when the history holds an applied contract script newer than every local
    /// script: this image may read what it dropped. Reads the phase table only when the
    /// history holds versions this image lacks, so an ordinary pod start pays nothing.
    async fn contracted_past(&self, w: &Workspace<'_>, plan: &mut Plan) -> Result<(), Failure> {
        if !plan.entries.iter().any(|e| e.state == State::Future) {
            return Ok(());
        }
        let Ok(companions) = Companions::of(&table(self.settings)) else {
            return Ok(());
        };
        let phases = companions
            .phases(&w.c.session.client)
            .await
            .map_err(|e| db_failure("reading the recorded phases", &e, self.stop))?;
        plan.record_phases(&phases);
        let past = plan.contracted_past();
        if past.is_empty() {
            return Ok(());
        }
        Err(Failure::new(
            FailureKind::InvalidMigrations,
            format!(
                "the schema was contracted past this image: {} {} an applied contract script that this image does not have, so this version of the app may read what {} dropped. Deploy an image that has {} (roll forward), or undo the contract with the newer image first",
                past.join(", "),
                if past.len() == 1 { "is" } else { "are" },
                if past.len() == 1 { "it" } else { "they" },
                if past.len() == 1 { "it" } else { "them" },
            ),
        ))
    }
}
