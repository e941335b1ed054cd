//! What the server says about other sessions and standbys: the app's connected sessions for the contract guard, and `pg_stat_replication` for a backfill's throttle.

use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::Client;

use crate::core::backfill::Standby;
use crate::core::contract::{self, Client as AppClient, Guard, Recorded, Release, Step};
use crate::core::outcome::Failure;
use crate::core::script::Version;
use crate::runtime::Stop;

/// The sessions of this database whose `application_name` starts with `<app>/`, other than
/// this one. `application_name` is visible to every role; the client address, the start
/// time and even `backend_type` only with `pg_read_all_stats` (or for the role's own
/// sessions), so a hidden `backend_type` counts as a client's.
pub async fn app_clients(
    client: &Client,
    app: &str,
) -> Result<Vec<AppClient>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT pid, application_name, \
             CASE WHEN client_port = -1 THEN 'local socket' ELSE host(client_addr) END, \
             to_char(backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') \
             FROM pg_catalog.pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid() \
             AND (backend_type = 'client backend' OR backend_type IS NULL) \
             AND starts_with(application_name, $1) ORDER BY pid",
            &[&format!("{app}/")],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AppClient {
            pid: r.get(0),
            application_name: r.get(1),
            client_addr: r.get(2),
            backend_start: r.get(3),
        })
        .collect())
}

/// Looks at the app's sessions until the guard holds (`Ok(Ok(()))`) or the wait is over
/// with old sessions still there (`Ok(Err(them))`, described). Each look is one query on
/// `client`; nothing is held in between but the migration lock the caller has.
pub async fn guard(
    client: &Client,
    release: &Release,
    contract: &Version,
    recorded: &[Recorded],
    settle: Duration,
    wait: Duration,
    stop: &Stop,
) -> Result<Result<(), Vec<String>>, Failure> {
    let start = Instant::now();
    let mut g = Guard::new(settle, wait);
    let mut logged = None::<Instant>;
    loop {
        let clients = app_clients(client, &release.app).await.map_err(|e| {
            crate::app::db_failure("looking for sessions of older app versions", &e, stop)
        })?;
        let old: Vec<String> = contract::old_clients(&clients, release, contract, recorded)
            .iter()
            .map(|c| c.describe())
            .collect();
        let clean = old.is_empty();
        match g.observe(start.elapsed(), clean) {
            Step::Holds => return Ok(Ok(())),
            Step::Blocked => return Ok(Err(old)),
            Step::LookAgainIn(d) => {
                if !clean && logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::info!(
                        contract = %format!("V{contract}"), waited_s = start.elapsed().as_secs(), wait_s = wait.as_secs(),
                        blocked_by = %old.join("; "),
                        "waiting for sessions of older app versions to end before the contract script runs (SCHEMAGATE_CONTRACT_WAIT)"
                    );
                    logged = Some(Instant::now());
                }
                stop.sleep(d, "waiting for the contract guard").await?;
            }
        }
    }
}

/// Every standby connected to this server, as `pg_stat_replication` shows it.
pub async fn standbys(client: &Client) -> Result<Vec<Standby>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT pid, COALESCE(application_name, ''), host(client_addr), \
             pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn)::bigint, \
             EXTRACT(epoch FROM replay_lag)::float8 FROM pg_catalog.pg_stat_replication",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Standby {
            pid: r.get(0),
            application_name: r.get(1),
            client_addr: r.get(2),
            replay_bytes: r.get(3),
            replay_lag: r
                .get::<_, Option<f64>>(4)
                .map(|s| Duration::from_secs_f64(s.max(0.0))),
        })
        .collect())
}
