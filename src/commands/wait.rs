//! `wait`, for an app's initContainer: polls the history until the scripts this image needs are applied; never locks, never writes.

use std::time::Duration;

use tokio::time::Instant;

use crate::app::{Run, Workspace, db_failure};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::plan::Plan;
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
}
