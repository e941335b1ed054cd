//! Backfills (SPEC §11), the pure part: which scripts qualify, the batch size and how it adapts, and when standbys are too far behind.
//!
//! A backfill is one data-changing statement that limits itself to `${schemagate:batch_size}`
//! rows and converges: re-run, each run in its own short transaction, until it changes no
//! row. The adapter (`pg::backfill`) runs the batches; everything it decides is decided here.

use std::collections::HashMap;
use std::time::Duration;

use super::split::{leading_keywords, split};

/// The placeholder a backfill limits itself with, replaced before each batch.
pub const BATCH_SIZE_PLACEHOLDER: &str = "schemagate:batch_size";
/// The batch size stays within these bounds, whatever it adapts to.
pub const MIN_BATCH: u64 = 10;
pub const MAX_BATCH: u64 = 100_000;
/// A batch faster than this grows the next one; slower than `SLOW` shrinks it. Short enough
/// that a row lock a batch takes is held far less than an app's 30 s query timeout, long
/// enough that the per-transaction cost (a commit, a WAL flush) is small beside the work.
pub const FAST: Duration = Duration::from_millis(500);
pub const SLOW: Duration = Duration::from_secs(2);
/// The most `SCHEMAGATE_BATCH_TIMEOUT` may be: an app that gives up at 30 s never waits
/// behind a batch.
pub const MAX_BATCH_TIMEOUT: Duration = Duration::from_secs(25);

/// How batches are run and throttled: the `SCHEMAGATE_BATCH_*` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The first batch's size (`SCHEMAGATE_BATCH_SIZE`, 1000).
    pub batch_size: u64,
    /// `statement_timeout` of each batch (`SCHEMAGATE_BATCH_TIMEOUT`, 5s, at most 25s).
    pub batch_timeout: Duration,
    /// The least pause between batches (`SCHEMAGATE_BATCH_PAUSE`, 50ms).
    pub pause: Duration,
    /// Pause while a standby is further behind (`SCHEMAGATE_MAX_REPLICATION_LAG`, 10s;
    /// `None`, set as 0: never).
    pub max_replication_lag: Option<Duration>,
    /// Batches that changed rows before the backfill counts as not converging
    /// (`SCHEMAGATE_BATCH_MAX`, 1 000 000).
    pub max_batches: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            batch_size: 1000,
            batch_timeout: Duration::from_secs(5),
            pause: Duration::from_millis(50),
            max_replication_lag: Some(Duration::from_secs(10)),
            max_batches: 1_000_000,
        }
    }
}

const SHAPE: &str = "a backfill is exactly one UPDATE, DELETE or INSERT … SELECT statement that limits itself with ${schemagate:batch_size} and changes no row once it is done";

/// Whether `sql` (the raw file) can be run as a backfill; `Err` says why not and what to do.
pub fn check_shape(sql: &str) -> Result<(), String> {
    let statements = split(sql).map_err(|e| e.to_string())?;
    let statement = match statements.as_slice() {
        [one] => one.text(sql),
        [] => return Err(format!("holds no statement; {SHAPE}")),
        more => {
            return Err(format!(
                "holds {} statements; {SHAPE}. Put the others in a script of their own before it",
                more.len()
            ));
        }
    };
    // Past a WITH, the statement's own verb is the first one at depth 0: the CTEs' bodies are
    // in parentheses.
    let keywords = leading_keywords(statement, 64);
    let verb = keywords
        .iter()
        .map(String::as_str)
        .find(|k| matches!(*k, "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE"))
        .or(keywords.first().map(String::as_str))
        .unwrap_or("");
    match verb {
        "UPDATE" | "DELETE" => {}
        "INSERT" if keywords.iter().any(|k| k == "SELECT") => {}
        "INSERT" => {
            return Err(format!(
                "is an INSERT without a SELECT, which adds rows on every run and never converges; {SHAPE}"
            ));
        }
        other => return Err(format!("is a {other} statement; {SHAPE}")),
    }
    if !statement
        .to_ascii_lowercase()
        .contains(&format!("${{{BATCH_SIZE_PLACEHOLDER}}}"))
    {
        return Err(format!(
            "does not limit itself: without ${{{BATCH_SIZE_PLACEHOLDER}}} one batch would change every row in one long transaction; {SHAPE}"
        ));
    }
    Ok(())
}

/// `sql` with every `${schemagate:batch_size}` (any case) replaced by `size`.
pub fn with_batch_size(sql: &str, size: u64) -> String {
    let needle = format!("${{{BATCH_SIZE_PLACEHOLDER}}}");
    let lower = sql.to_ascii_lowercase();
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(&needle) {
        out.push_str(&sql[last..at]);
        out.push_str(&size.to_string());
        last = at + needle.len();
    }
    out.push_str(&sql[last..]);
    out
}

/// How the batch size changed after a batch, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Grew { from: u64, to: u64 },
    Shrank { from: u64, to: u64 },
}

/// The batch size: starts at `SCHEMAGATE_BATCH_SIZE` and adapts so that a batch takes
/// 0.5–2 s — ×1.5 after a fast batch, halved after a slow one or a statement timeout.
#[derive(Clone, Copy, Debug)]
pub struct Sizer {
    size: u64,
}

impl Sizer {
    pub fn new(start: u64) -> Self {
        Sizer {
            size: start.clamp(MIN_BATCH, MAX_BATCH),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn set(&mut self, to: u64) -> Option<Change> {
        let (from, to) = (self.size, to.clamp(MIN_BATCH, MAX_BATCH));
        self.size = to;
        match to.cmp(&from) {
            std::cmp::Ordering::Greater => Some(Change::Grew { from, to }),
            std::cmp::Ordering::Less => Some(Change::Shrank { from, to }),
            std::cmp::Ordering::Equal => None,
        }
    }

    /// After a batch that finished in `took`.
    pub fn after_batch(&mut self, took: Duration) -> Option<Change> {
        if took < FAST {
            self.set(self.size + self.size.div_ceil(2))
        } else if took > SLOW {
            self.set(self.size / 2)
        } else {
            None
        }
    }

    /// After a batch that hit `statement_timeout` and was rolled back.
    pub fn after_timeout(&mut self) -> Option<Change> {
        self.set(self.size / 2)
    }

    /// Whether the size cannot shrink any more.
    pub fn at_minimum(&self) -> bool {
        self.size == MIN_BATCH
    }
}

/// One row of `pg_stat_replication`, as read.
#[derive(Clone, Debug, PartialEq)]
pub struct Standby {
    /// The WAL sender's pid: stable for as long as the standby stays connected.
    pub pid: i32,
    pub application_name: String,
    pub client_addr: Option<String>,
    /// `pg_current_wal_lsn() - replay_lsn`; `None` when the role may not see it.
    pub replay_bytes: Option<i64>,
    /// `replay_lag`; `None` when the standby is caught up and idle, or hidden.
    pub replay_lag: Option<Duration>,
}

impl Standby {
    fn describe(&self, behind_for: Option<Duration>) -> String {
        let mut s = format!("standby \"{}\"", self.application_name);
        if let Some(a) = &self.client_addr {
            s.push_str(&format!(" ({a})"));
        }
        if let Some(l) = self.replay_lag {
            s.push_str(&format!(" replay lag {:.1} s", l.as_secs_f64()));
        } else if let Some(d) = behind_for {
            s.push_str(&format!(
                " has replayed nothing for {:.1} s",
                d.as_secs_f64()
            ));
        }
        if let Some(b) = self.replay_bytes {
            s.push_str(&format!(", {} behind", bytes(b)));
        }
        s
    }
}

fn bytes(b: i64) -> String {
    let b = b.max(0) as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b} bytes")
    }
}

/// What the standbys say about going on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lag {
    /// Every standby is within the limit (or there is none).
    Within,
    /// The lag cannot be read: no privilege to see it (`pg_monitor` grants it).
    Unknown,
    /// These standbys are over the limit, each described for the log.
    Over(Vec<String>),
}

/// Watches the standbys from batch to batch. `replay_lag` is the server's own measure; when
/// it is empty (PostgreSQL clears it once a standby reports nothing new) a standby whose
/// replay position has not moved while bytes wait counts as lagging by how long it has not
/// moved, by our own clock.
#[derive(Debug, Default)]
pub struct LagWatch {
    /// WAL sender pid → (replay bytes behind when last seen, since when it has not shrunk).
    stalled: HashMap<i32, (i64, Duration)>,
}

impl LagWatch {
    /// `now` is any monotonic clock reading; only differences count.
    pub fn judge(&mut self, standbys: &[Standby], max: Duration, now: Duration) -> Lag {
        if !standbys.is_empty()
            && standbys
                .iter()
                .all(|s| s.replay_bytes.is_none() && s.replay_lag.is_none())
        {
            return Lag::Unknown;
        }
        let mut over = Vec::new();
        let mut seen = HashMap::new();
        for s in standbys {
            let behind_for = match s.replay_bytes {
                Some(b) if b > 0 => {
                    let since = match self.stalled.get(&s.pid) {
                        // Still as far behind or further: the stall goes on.
                        Some(&(before, since)) if b >= before => since,
                        _ => now,
                    };
                    seen.insert(s.pid, (b, since));
                    Some(now.saturating_sub(since))
                }
                _ => None,
            };
            let lagging = match s.replay_lag {
                Some(l) => l > max,
                None => behind_for.is_some_and(|d| d > max),
            };
            if lagging {
                over.push(s.describe(behind_for));
            }
        }
        self.stalled = seen;
        if over.is_empty() {
            Lag::Within
        } else {
            Lag::Over(over)
        }
    }
}

/// Rows per second, for the progress lines.
pub fn rate(rows: u64, elapsed: Duration) -> u64 {
    let s = elapsed.as_secs_f64();
    if s <= 0.0 {
        0
    } else {
        (rows as f64 / s) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "-- schemagate:backfill\nUPDATE orders SET total_cents = total * 100\n WHERE id IN (SELECT id FROM orders WHERE total_cents IS NULL\n ORDER BY id LIMIT ${schemagate:batch_size} for update skip locked);\n";

    #[test]
    fn one_limited_data_changing_statement_is_a_backfill() {
        assert_eq!(check_shape(GOOD), Ok(()));
        for ok in [
            "DELETE FROM t WHERE id IN (SELECT id FROM t WHERE old LIMIT ${SCHEMAGATE:BATCH_SIZE})",
            "WITH b AS (SELECT id FROM t WHERE x IS NULL LIMIT ${schemagate:batch_size}) UPDATE t SET x = 1 FROM b WHERE t.id = b.id;",
            "INSERT INTO t2 (id) SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM t2 WHERE t2.id = t.id) LIMIT ${schemagate:batch_size} ON CONFLICT DO NOTHING;",
        ] {
            assert_eq!(check_shape(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let cases = [
            (
                "UPDATE t SET a = 1 WHERE id < ${schemagate:batch_size}; UPDATE t SET b = 2 WHERE false;",
                "holds 2 statements",
            ),
            ("-- nothing here\n", "holds no statement"),
            ("SELECT ${schemagate:batch_size};", "is a SELECT statement"),
            ("ALTER TABLE t ADD COLUMN c int;", "is a ALTER statement"),
            (
                "INSERT INTO t VALUES (${schemagate:batch_size});",
                "INSERT without a SELECT",
            ),
            (
                "UPDATE t SET a = 1 WHERE a IS NULL;",
                "does not limit itself",
            ),
            (
                "WITH b AS (SELECT 1 LIMIT ${schemagate:batch_size}) SELECT * FROM b;",
                "is a SELECT statement",
            ),
            ("UPDATE t SET a = 'x", "not closed"),
        ];
        for (sql, want) in cases {
            let e = check_shape(sql).expect_err(sql);
            assert!(e.contains(want), "{sql}: {e}");
        }
    }

    #[test]
    fn the_batch_size_goes_in_every_placeholder() {
        assert_eq!(
            with_batch_size(
                "LIMIT ${schemagate:batch_size} -- ${Schemagate:Batch_Size}",
                250
            ),
            "LIMIT 250 -- 250"
        );
        assert_eq!(with_batch_size("SELECT 1", 5), "SELECT 1");
    }

    #[test]
    fn the_size_grows_after_fast_batches_and_halves_after_slow_ones() {
        let mut s = Sizer::new(1000);
        assert_eq!(
            s.after_batch(Duration::from_millis(100)),
            Some(Change::Grew {
                from: 1000,
                to: 1500
            })
        );
        assert_eq!(s.after_batch(Duration::from_millis(1000)), None);
        assert_eq!(
            s.after_batch(Duration::from_millis(2500)),
            Some(Change::Shrank {
                from: 1500,
                to: 750
            })
        );
        assert_eq!(
            s.after_timeout(),
            Some(Change::Shrank { from: 750, to: 375 })
        );
        let mut big = Sizer::new(90_000);
        assert_eq!(
            big.after_batch(Duration::ZERO),
            Some(Change::Grew {
                from: 90_000,
                to: MAX_BATCH
            })
        );
        assert_eq!(big.after_batch(Duration::ZERO), None);
        let mut small = Sizer::new(1);
        assert_eq!(small.size(), MIN_BATCH);
        assert!(small.at_minimum());
        assert_eq!(small.after_timeout(), None);
        // Odd sizes round up when they grow, so 11 does not stay 11.
        assert_eq!(
            Sizer::new(11).after_batch(Duration::ZERO),
            Some(Change::Grew { from: 11, to: 17 })
        );
    }

    fn standby(pid: i32, bytes: Option<i64>, lag_ms: Option<u64>) -> Standby {
        Standby {
            pid,
            application_name: format!("replica{pid}"),
            client_addr: Some("10.0.0.9".into()),
            replay_bytes: bytes,
            replay_lag: lag_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn a_standby_over_the_limit_pauses_and_one_within_it_does_not() {
        let max = Duration::from_secs(10);
        let mut w = LagWatch::default();
        assert_eq!(w.judge(&[], max, Duration::ZERO), Lag::Within);
        assert_eq!(
            w.judge(&[standby(1, Some(0), Some(900))], max, Duration::ZERO),
            Lag::Within
        );
        match w.judge(
            &[
                standby(1, Some(5 << 20), Some(12_300)),
                standby(2, Some(0), None),
            ],
            max,
            Duration::ZERO,
        ) {
            Lag::Over(v) => assert_eq!(
                v,
                ["standby \"replica1\" (10.0.0.9) replay lag 12.3 s, 5.0 MiB behind"]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_replay_lag_a_standby_that_replays_nothing_counts_by_our_clock() {
        let max = Duration::from_secs(10);
        let s = Duration::from_secs;
        let mut w = LagWatch::default();
        assert_eq!(
            w.judge(&[standby(1, Some(100), None)], max, s(0)),
            Lag::Within
        );
        assert_eq!(
            w.judge(&[standby(1, Some(200), None)], max, s(9)),
            Lag::Within
        );
        assert!(matches!(
            w.judge(&[standby(1, Some(300), None)], max, s(11)),
            Lag::Over(_)
        ));
        // It replayed some: the stall starts over.
        assert_eq!(
            w.judge(&[standby(1, Some(50), None)], max, s(12)),
            Lag::Within
        );
        assert_eq!(
            w.judge(&[standby(1, Some(60), None)], max, s(21)),
            Lag::Within
        );
        // A new WAL sender (a reconnect) is a new standby.
        assert_eq!(
            w.judge(&[standby(2, Some(60), None)], max, s(40)),
            Lag::Within
        );
    }

    #[test]
    fn a_lag_the_role_may_not_see_is_unknown() {
        let mut w = LagWatch::default();
        assert_eq!(
            w.judge(
                &[standby(1, None, None)],
                Duration::from_secs(1),
                Duration::ZERO
            ),
            Lag::Unknown
        );
    }

    #[test]
    fn rates() {
        assert_eq!(rate(1000, Duration::from_millis(500)), 2000);
        assert_eq!(rate(5, Duration::ZERO), 0);
    }
}
