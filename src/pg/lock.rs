//! The advisory lock: Flyway's key, taken by polling `pg_try_advisory_lock` on a dedicated session, holder named while waiting.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::core::outcome::{Failure, FailureKind};
use crate::runtime::Stop;
use crate::telemetry::Recorder;

/// Flyway's lock key (reference §4): `0x466C79776179` ("Flyway") plus Java's `String.hashCode`
/// of `"schema"."table"`, so that Flyway and schemagate exclude each other on one table.
pub fn lock_key(schema: &str, table: &str) -> i64 {
    let quoted = format!(
        "\"{}\".\"{}\"",
        schema.replace('"', "\"\""),
        table.replace('"', "\"\"")
    );
    let mut h: i32 = 0;
    for unit in quoted.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    0x466C_7977_6179_i64 + i64::from(h)
}

/// `pg_locks` rows of a granted lock on `key` (bound as $1, $2) in this database. A bigint
/// advisory key is stored as classid (high half) and objid (low half) with objsubid 1.
const HELD: &str = "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1 \
     AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())";

fn key_halves(key: i64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// Whether any session holds the lock right now (a runner is migrating).
pub async fn is_held(client: &Client, key: i64) -> Result<bool, tokio_postgres::Error> {
    let (classid, objid) = key_halves(key);
    let row = client
        .query_typed_one(
            &format!("SELECT EXISTS (SELECT 1 {HELD})"),
            &[(&classid, Type::OID), (&objid, Type::OID)],
        )
        .await?;
    Ok(row.get(0))
}

/// Who holds a lock, as `pg_locks` and `pg_stat_activity` tell it.
async fn describe_holder(client: &Client, key: i64) -> String {
    let (classid, objid) = key_halves(key);
    let sql = format!(
        "SELECT a.pid, COALESCE(a.application_name, ''), COALESCE(host(a.client_addr), 'local socket'), \
         to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), COALESCE(a.state, ''), \
         COALESCE(to_char(a.state_change, 'YYYY-MM-DD HH24:MI:SS TZ'), ''), left(COALESCE(a.query, ''), 200) {HELD}"
    );
    match client.query(&sql, &[&classid, &objid]).await {
        Ok(rows) if !rows.is_empty() => rows
            .iter()
            .map(|r| {
                format!(
                    "pid {} (application_name \"{}\", client {}, connected since {}, {} since {}, last query: {})",
                    r.get::<_, i32>(0),
                    r.get::<_, String>(1),
                    r.get::<_, String>(2),
                    r.get::<_, String>(3),
                    r.get::<_, String>(4),
                    r.get::<_, String>(5),
                    r.get::<_, String>(6).trim()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Ok(_) => "a session that has just released it".into(),
        Err(e) => format!("unknown ({e})"),
    }
}

/// Takes the session-level lock, polling with jittered backoff until `wait` runs out.
/// Never blocks in the server: an abandoned wait leaves nothing queued there. The time
/// waited goes to `metrics` as it passes, so a push during a long wait shows it; the wait
/// is the `lock` span.
pub async fn acquire(
    client: &Client,
    key: i64,
    wait: Duration,
    stop: &Stop,
    metrics: &Recorder,
) -> Result<(), Failure> {
    let span = metrics.span("lock");
    span.set("schemagate.lock.key", key);
    let taken = poll(client, key, wait, stop, metrics).await;
    if let Err(f) = &taken {
        span.fail(&f.message);
    }
    taken
}

async fn poll(
    client: &Client,
    key: i64,
    wait: Duration,
    stop: &Stop,
    metrics: &Recorder,
) -> Result<(), Failure> {
    let start = Instant::now();
    let mut counted = Duration::ZERO;
    let mut count_wait = || {
        let waited = start.elapsed();
        let new = waited.saturating_sub(counted);
        counted = waited;
        metrics.record(|m| m.lock_wait_seconds += new.as_secs_f64());
    };
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .with_factor(1.5)
        .with_jitter()
        .without_max_times()
        .build();
    let mut last_report = start;
    let mut holder = String::new();
    loop {
        stop.check("waiting for the migration lock")?;
        // Typed, so that each try is one round trip with nothing to prepare.
        let got: bool = client
            .query_typed_one(
                "SELECT pg_catalog.pg_try_advisory_lock($1)",
                &[(&key, Type::INT8)],
            )
            .await
            .map_err(|e| {
                Failure::new(
                    FailureKind::Unavailable,
                    format!("taking the migration lock: {e}"),
                )
            })?
            .get(0);
        count_wait();
        if got {
            if start.elapsed() >= Duration::from_secs(1) {
                tracing::info!(
                    lock_key = key,
                    waited_ms = start.elapsed().as_millis() as u64,
                    "migration lock taken"
                );
            } else {
                tracing::debug!(lock_key = key, "migration lock taken");
            }
            return Ok(());
        }
        let elapsed = start.elapsed();
        if holder.is_empty() || last_report.elapsed() >= Duration::from_secs(5) {
            holder = describe_holder(client, key).await;
            tracing::info!(lock_key = key, waited_s = elapsed.as_secs(), holder = %holder, "waiting for the migration lock held by {holder}");
            last_report = Instant::now();
        }
        if elapsed >= wait {
            return Err(Failure::new(
                FailureKind::Busy,
                format!(
                    "migration lock (key {key}) not acquired within {}s; it is held by {holder}. Another runner is migrating; \
                     retry later, or raise SCHEMAGATE_LOCK_WAIT",
                    wait.as_secs()
                ),
            ));
        }
        let delay = delays
            .next()
            .unwrap_or(Duration::from_secs(1))
            .min(wait - elapsed);
        stop.sleep(delay, "waiting for the migration lock").await?;
    }
}

/// Releases the lock. A session that has died has already released it on the server.
pub async fn release(client: &Client, key: i64) {
    match client
        .query_typed_one(
            "SELECT pg_catalog.pg_advisory_unlock($1)",
            &[(&key, Type::INT8)],
        )
        .await
    {
        Ok(r) if r.get::<_, bool>(0) => tracing::debug!(lock_key = key, "migration lock released"),
        Ok(_) => tracing::warn!(lock_key = key, "the migration lock was not held at release"),
        Err(e) => {
            tracing::warn!(lock_key = key, error = %e, "could not release the migration lock; it goes with the session")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn keys_match_flyway() {
        assert_eq!(lock_key("public", "flyway_schema_history"), 77433833903597);
        assert_eq!(lock_key("app", "flyway_schema_history"), 77431436970681);
    }
}
