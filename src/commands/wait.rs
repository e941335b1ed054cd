//! `wait`, for an app's initContainer: polls the history until the scripts this image needs are applied; never locks, never writes, and holds no connection between polls.

use std::time::Duration;

use tokio::time::Instant;

use crate::app::{Run, Workspace, db_failure, table};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::plan::{Plan, State};
use crate::pg::companions::Companions;
use crate::pg::exec::label;
use crate::pg::history;
use crate::pg::lock;

/// The pause before poll `n` (0-based): 1 s growing to 5 s, each ±20 % at random. Growing,
/// because a migration that is not done after a few seconds is a long one; random, so that
/// the waiters of a scaled-out Deployment, which start together, do not poll together.
pub(crate) fn poll_interval(n: u32, jitter: f64) -> Duration {
    let base = Duration::from_secs(u64::from(n.min(4)) + 1);
    base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// A number in [0, 1) that differs between calls and between processes.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl Run<'_> {
    /// Between polls the session is closed, not kept: 150 pods waiting on one 8-second
    /// migration would otherwise hold 150 connections and starve the migration itself of
    /// one (53300). A poll is one connect, with the history read in its first round trip.
    pub(crate) async fn wait(&self, mut w: Workspace<'_>, mut plan: Plan) -> Result<(), Failure> {
        let mut last_log: Option<Instant> = None;
        let key = lock::lock_key(&self.settings.schema, &self.settings.table);
        let mut polls = 0;
        // Each poll's session, registered so that a stop cancels what it runs.
        let mut registration = None;
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
            self.contracted_past(&w, &mut plan).await?;
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
            let Workspace {
                c,
                scripts,
                resolved,
                locals,
                policy,
            } = w;
            drop(registration.take());
            c.session.close().await;
            self.stop
                .sleep(
                    poll_interval(polls, jitter()),
                    &format!("waiting for {} to be applied", pending.join(", ")),
                )
                .await?;
            polls += 1;
            // `open` retries within SCHEMAGATE_WAIT_TIMEOUT, backing off further on each
            // refusal, a full server (53300) included.
            let mut c = self.open().await?;
            registration = Some(self.stop.register(c.session.canceller()));
            let applied = match c.session.early.take() {
                Some(answer) => history::rows(answer)
                    .map_err(|e| db_failure("reading the history table", &e, self.stop))?,
                None => history::read(&c.session.client, &table(self.settings))
                    .await
                    .map_err(|e| db_failure("reading the history table", &e, self.stop))?,
            };
            w = Workspace {
                c,
                scripts,
                resolved,
                locals,
                policy,
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_start_at_a_second_grow_to_five_and_spread() {
        let at = |n, j| poll_interval(n, j).as_millis();
        assert_eq!(
            (at(0, 0.5), at(1, 0.5), at(4, 0.5), at(50, 0.5)),
            (1000, 2000, 5000, 5000)
        );
        assert_eq!((at(0, 0.0), at(0, 1.0)), (800, 1200));
        assert_eq!(at(u32::MAX, 1.0), 6000);
        let spread: std::collections::BTreeSet<u128> = (0..20)
            .map(|_| poll_interval(0, jitter()).as_millis())
            .collect();
        assert!(spread.len() > 10, "{spread:?}");
        assert!(spread.iter().all(|ms| (800..=1200).contains(ms)));
    }
}
