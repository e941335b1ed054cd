//! The backfill executor (SPEC §11): runs a backfill script's one statement in batches, each its own short transaction, until a batch changes no row — throttled, adaptive, resumable.
//!
//! Each batch is one round trip: `BEGIN; SET LOCAL statement_timeout …; SET LOCAL
//! lock_timeout …; <statement>; COMMIT` as one simple query, whose answer carries the row
//! count. The history row is written as not yet successful before the first batch and marked
//! successful after the batch that changed nothing, so a run stopped in between (deadline,
//! signal, lost connection, SIGKILL) left every finished batch committed, and the next run
//! carries on where the data says it is: the statement converges by construction.

use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::SimpleQueryMessage;

use crate::core::backfill::{Change, Lag, LagWatch, Limits, Sizer, rate, with_batch_size};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::plan::{abbreviate_description, abbreviate_script};
use crate::pg::activity;
use crate::pg::connect::classify;
use crate::pg::exec::{Ctx, Done, Ready, describe_error, label, lock_backoff};
use crate::pg::history;
use crate::telemetry::SpanGuard;

/// How often a progress line is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How often the standbys are looked at again while the backfill waits for them.
const LAG_RECHECK: Duration = Duration::from_secs(1);
/// Statement timeouts in a row at the smallest batch before the backfill gives up.
const TIMEOUTS_AT_MINIMUM: u32 = 3;

/// What a backfill has done so far in this run, for its messages.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    batches: u64,
    rows: u64,
}

impl Tally {
    fn so_far(&self) -> String {
        format!(
            "{} batch{} ({} rows) of this run are committed",
            self.batches,
            if self.batches == 1 { "" } else { "es" },
            self.rows
        )
    }
}

/// One span of batches (see [`Ctx::backfill`]): what it did is the tally since it opened.
struct BatchGroup {
    span: SpanGuard,
    from: Tally,
}

impl BatchGroup {
    fn count(&self, now: &Tally) {
        self.span.set(
            "schemagate.backfill.batches",
            now.batches - self.from.batches,
        );
        self.span
            .set("schemagate.backfill.rows", now.rows - self.from.rows);
    }
}

/// The outcome of one batch that reached the server.
enum Batch {
    Changed(u64),
    /// `statement_timeout` cancelled it; rolled back.
    TimedOut,
    /// A lock it needed was not free within `lock_timeout`, or a deadlock or serialization
    /// failure; rolled back.
    LockConflict(tokio_postgres::Error),
}

impl Ctx<'_> {
    /// Runs a backfill to its end. `resume`: the history row of an earlier run that did not
    /// finish it.
    pub async fn backfill(
        &self,
        ready: &Ready<'_>,
        resume: Option<i32>,
        limits: &Limits,
    ) -> Result<Done, Failure> {
        let what = label(ready.script);
        let start = Instant::now();
        let rank = match resume {
            Some(rank) => {
                tracing::info!(migration = %what, history_rank = rank, "resuming backfill {what}: the batches of earlier runs are committed; carrying on until a batch changes no row");
                rank
            }
            None => self.record_start(ready).await?,
        };
        // One statement (checked at discovery), its placeholders replaced except the size.
        let statement = ready.statements[0].text(&ready.sql);
        let at = format!("{}:{}", ready.script.display, ready.statements[0].line);
        let mut sizer = Sizer::new(limits.batch_size);
        let mut tally = Tally::default();
        let mut lag = LagWatch::default();
        let mut lag_unreadable_said = false;
        let mut delays = lock_backoff();
        let (mut conflicts, mut timeouts_at_min) = (0u32, 0u32);
        let mut last_progress = Instant::now();
        tracing::info!(migration = %what, batch_size = sizer.size(), batch_timeout_ms = limits.batch_timeout.as_millis() as u64,
            "backfilling {what} in batches of {} rows, each in its own transaction", sizer.size());
        // The batches between two progress lines are one span: a span per batch would be
        // thousands in a long backfill, one for all of it would show nothing of its pace.
        let mut group: Option<BatchGroup> = None;
        loop {
            if let Some(r) = self.stop.reason() {
                return Err(stopped(r.failure_kind(), r.describe(), &what, &tally));
            }
            let size = sizer.size();
            let batches = group.get_or_insert_with(|| BatchGroup {
                span: self.metrics.span("backfill batches"),
                from: tally,
            });
            batches.span.set("schemagate.backfill.batch_size", size);
            let began = Instant::now();
            let outcome = self
                .batch(&with_batch_size(statement, size), limits.batch_timeout)
                .await;
            let took = began.elapsed();
            match outcome {
                Ok(Batch::Changed(0)) => {
                    batches.count(&tally);
                    break;
                }
                Ok(Batch::Changed(n)) => {
                    tally.batches += 1;
                    tally.rows += n;
                    batches.count(&tally);
                    let per_second = rate(tally.rows, start.elapsed());
                    self.metrics.record(|m| {
                        m.backfill_rows += n;
                        m.backfill_rows_per_second = per_second as f64;
                    });
                    conflicts = 0;
                    timeouts_at_min = 0;
                    if tally.batches > limits.max_batches {
                        return Err(Failure::new(
                            FailureKind::MigrationFailed,
                            format!(
                                "backfill {what} is not converging: it changed rows in more than SCHEMAGATE_BATCH_MAX={} batches ({} rows in this run). Its WHERE must leave out the rows it has already changed, so that it ends with a batch that changes none; {}, and the next run resumes it",
                                limits.max_batches,
                                tally.rows,
                                tally.so_far()
                            ),
                        ));
                    }
                    if let Some(change) = sizer.after_batch(took) {
                        let (from, to) = match change {
                            Change::Grew { from, to } | Change::Shrank { from, to } => (from, to),
                        };
                        tracing::debug!(migration = %what, took_ms = took.as_millis() as u64, from, to, "batch size adapted to keep batches at 0.5-2 s");
                    }
                }
                Ok(Batch::TimedOut) => {
                    if sizer.at_minimum() {
                        timeouts_at_min += 1;
                        if timeouts_at_min >= TIMEOUTS_AT_MINIMUM {
                            return Err(Failure::new(
                                FailureKind::MigrationFailed,
                                format!(
                                    "backfill {what} at {at}: even a batch of {size} rows takes longer than SCHEMAGATE_BATCH_TIMEOUT ({} ms), {TIMEOUTS_AT_MINIMUM} times in a row. The statement likely scans the whole table for every batch: give the rows it still has to change an index (e.g. a partial index on the condition), or raise SCHEMAGATE_BATCH_TIMEOUT (at most 25s); {}, and the next run resumes it",
                                    limits.batch_timeout.as_millis(),
                                    tally.so_far()
                                ),
                            ));
                        }
                    }
                    let next = sizer.after_timeout().map_or(size, |c| match c {
                        Change::Grew { to, .. } | Change::Shrank { to, .. } => to,
                    });
                    tracing::warn!(migration = %what, batch_size = size, next_batch_size = next, batch_timeout_ms = limits.batch_timeout.as_millis() as u64,
                        "a batch of {size} rows hit SCHEMAGATE_BATCH_TIMEOUT and was rolled back; the next batch takes {next} rows");
                }
                Ok(Batch::LockConflict(e)) => {
                    conflicts += 1;
                    if conflicts > self.lock_retries {
                        return Err(Failure::new(
                            FailureKind::Busy,
                            format!(
                                "backfill {what} at {at}: a batch could not get its locks {conflicts} times in a row (lock_timeout {} ms; last: {}); {}, and the next run resumes it. {}",
                                self.lock_timeout.as_millis(),
                                describe_error(&e),
                                tally.so_far(),
                                "A long transaction holds rows or the table this statement needs: find it in pg_stat_activity"
                            ),
                        ));
                    }
                    let delay = delays.next().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(migration = %what, error = %describe_error(&e), retry = conflicts, of = self.lock_retries, retry_in_ms = delay.as_millis() as u64,
                        "a batch was rolled back on a lock conflict; retrying so that application queries do not queue behind it");
                    self.pause(delay, &what, &tally).await?;
                    continue;
                }
                Err(e) => {
                    let failure = self.batch_failure(&what, &at, &e, &tally);
                    batches.span.fail(&failure.message);
                    return Err(failure);
                }
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                group = None;
                let elapsed = start.elapsed();
                tracing::info!(
                    migration = %what, batches = tally.batches, rows = tally.rows, rows_per_s = rate(tally.rows, elapsed),
                    batch_size = sizer.size(), elapsed_s = elapsed.as_secs(),
                    "backfill {what}: {} batches, {} rows, {} rows/s, batch size {}, {} s",
                    tally.batches, tally.rows, rate(tally.rows, elapsed), sizer.size(), elapsed.as_secs()
                );
                last_progress = Instant::now();
            }
            self.pause(limits.pause, &what, &tally).await?;
            if let Some(max) = limits.max_replication_lag {
                self.wait_for_standbys(
                    max,
                    &mut lag,
                    start,
                    &mut lag_unreadable_said,
                    &what,
                    &tally,
                )
                .await?;
            }
        }
        let elapsed = start.elapsed();
        let ms = elapsed.as_millis().min(i32::MAX as u128) as i32;
        history::mark_success(self.client, self.table, rank, ms)
            .await
            .map_err(|e| {
                Failure::new(
                    if e.as_db_error().is_none() { FailureKind::Unavailable } else { FailureKind::MigrationFailed },
                    format!("backfill {what} is done, but marking history row {rank} as successful failed ({}); the next run finds nothing left to change and marks it", describe_error(&e)),
                )
            })?;
        tracing::info!(migration = %what, batches = tally.batches, rows = tally.rows, rows_per_s = rate(tally.rows, elapsed),
            "backfill {what} done: a batch changed no row");
        Ok(Done {
            statements: tally.batches as usize,
            millis: elapsed.as_millis() as u64,
            retries: 0,
            rows: Some(tally.rows),
        })
    }

    /// The history row (not yet successful), the phase and the undo, in one transaction.
    async fn record_start(&self, ready: &Ready<'_>) -> Result<i32, Failure> {
        let what = label(ready.script);
        let description = abbreviate_description(&ready.script.name.description);
        let script = abbreviate_script(&ready.script.path);
        let failed = |e: tokio_postgres::Error| {
            Failure::new(
                FailureKind::Unavailable,
                format!(
                    "recording backfill {what} before its first batch: {}",
                    describe_error(&e)
                ),
            )
        };
        self.client.batch_execute("BEGIN").await.map_err(failed)?;
        let recorded = async {
            let rank = history::insert(
                self.client,
                self.table,
                &self.row(ready, &description, &script, 0, false),
            )
            .await?;
            self.record_phase(ready).await?;
            self.keep_undo(ready).await?;
            self.client.batch_execute("COMMIT").await?;
            Ok::<_, tokio_postgres::Error>(rank)
        }
        .await;
        match recorded {
            Ok(rank) => Ok(rank),
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                Err(failed(e))
            }
        }
    }

    /// One batch in its own transaction; rolled back unless it committed.
    async fn batch(
        &self,
        statement: &str,
        timeout: Duration,
    ) -> Result<Batch, tokio_postgres::Error> {
        // Numbers we made ourselves; the statement is the script's own text.
        let sql = format!(
            "BEGIN; SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}; {statement}; COMMIT",
            timeout.as_millis(),
            self.lock_timeout.as_millis()
        );
        match self.client.simple_query(&sql).await {
            Ok(messages) => {
                // BEGIN, SET, SET, the statement, COMMIT: the fourth count is the statement's.
                let counts: Vec<u64> = messages
                    .iter()
                    .filter_map(|m| match m {
                        SimpleQueryMessage::CommandComplete(n) => Some(*n),
                        _ => None,
                    })
                    .collect();
                Ok(Batch::Changed(counts.get(3).copied().unwrap_or(0)))
            }
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                match e.code().map(|c| c.code()) {
                    Some("57014") if self.stop.reason().is_none() => Ok(Batch::TimedOut),
                    Some("55P03" | "40P01" | "40001") if self.stop.reason().is_none() => {
                        Ok(Batch::LockConflict(e))
                    }
                    _ => Err(e),
                }
            }
        }
    }

    fn batch_failure(
        &self,
        what: &str,
        at: &str,
        e: &tokio_postgres::Error,
        tally: &Tally,
    ) -> Failure {
        if let Some(r) = self.stop.reason() {
            return stopped(r.failure_kind(), r.describe(), what, tally);
        }
        let (retryable, kind) = classify(e);
        if retryable || e.as_db_error().is_none() {
            return Failure::new(
                FailureKind::Unavailable,
                format!(
                    "lost the database during backfill {what} ({}); the unfinished batch is rolled back, {}, and the next run resumes it",
                    describe_error(e),
                    tally.so_far()
                ),
            );
        }
        let kind = if kind == FailureKind::Denied {
            kind
        } else {
            FailureKind::MigrationFailed
        };
        if let Some(db) = e.as_db_error() {
            tracing::error!(migration = %what, at, sqlstate = db.code().code(), message = db.message(), "backfill batch failed");
        }
        Failure::new(
            kind,
            format!(
                "backfill {what} failed at {at}: {}; that batch was rolled back, {}. Fix the cause; the next run resumes the backfill (no repair needed)",
                describe_error(e),
                tally.so_far()
            ),
        )
    }

    /// A sleep between batches that a stop ends with the backfill's own message.
    async fn pause(&self, d: Duration, what: &str, tally: &Tally) -> Result<(), Failure> {
        if d.is_zero() {
            return Ok(());
        }
        self.stop
            .sleep(d, "pausing between batches")
            .await
            .map_err(|f| {
                let r = self.stop.reason().map(|r| (r.failure_kind(), r.describe()));
                match r {
                    Some((kind, why)) => stopped(kind, why, what, tally),
                    None => f,
                }
            })
    }

    /// Waits while a standby replays too far behind; logs when the pause starts and ends.
    async fn wait_for_standbys(
        &self,
        max: Duration,
        lag: &mut LagWatch,
        origin: Instant,
        unreadable_said: &mut bool,
        what: &str,
        tally: &Tally,
    ) -> Result<(), Failure> {
        let mut paused_since: Option<Instant> = None;
        loop {
            let verdict = match activity::standbys(self.client).await {
                Ok(s) => lag.judge(&s, max, origin.elapsed()),
                Err(e) => {
                    if !*unreadable_said {
                        tracing::warn!(migration = %what, error = %describe_error(&e), "the standbys' replication lag cannot be read; the backfill is not throttled on it");
                        *unreadable_said = true;
                    }
                    Lag::Within
                }
            };
            match verdict {
                Lag::Over(standbys) => {
                    if paused_since.is_none() {
                        tracing::warn!(migration = %what, standbys = %standbys.join("; "), max_replication_lag_ms = max.as_millis() as u64,
                            "pausing backfill {what}: {} over SCHEMAGATE_MAX_REPLICATION_LAG", standbys.join("; "));
                        paused_since = Some(Instant::now());
                    }
                    self.pause(LAG_RECHECK, what, tally).await?;
                }
                Lag::Unknown | Lag::Within => {
                    if matches!(verdict, Lag::Unknown) && !*unreadable_said {
                        tracing::warn!(migration = %what, "the standbys' replication lag is not visible to this role (grant it pg_monitor); the backfill is not throttled on it");
                        *unreadable_said = true;
                    }
                    if let Some(since) = paused_since {
                        tracing::info!(migration = %what, paused_ms = since.elapsed().as_millis() as u64,
                            "resuming backfill {what}: the standbys are within SCHEMAGATE_MAX_REPLICATION_LAG again after {:.1} s", since.elapsed().as_secs_f64());
                    }
                    return Ok(());
                }
            }
        }
    }
}

fn stopped(kind: FailureKind, why: &str, what: &str, tally: &Tally) -> Failure {
    Failure::new(
        kind,
        format!(
            "{why} during backfill {what}: the running batch was rolled back, {}; the next run resumes the backfill (no repair needed)",
            tally.so_far()
        ),
    )
}
