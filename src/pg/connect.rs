//! TEMPORARY stand-in with the agreed API; replaced by the real connect/TLS/retry adapter.

use std::time::Duration;

use crate::config::conn::ConnSettings;
use crate::core::outcome::{Failure, FailureKind};

pub struct Session {
    pub client: tokio_postgres::Client,
    pub tls_verified: bool,
    pub backend_pid: i32,
    cancel: tokio_postgres::CancelToken,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
pub struct Canceller(tokio_postgres::CancelToken);

impl Canceller {
    pub async fn cancel(&self) {
        let _ = self.0.cancel_query(tokio_postgres::NoTls).await;
    }
}

impl Session {
    pub fn canceller(&self) -> Canceller {
        Canceller(self.cancel.clone())
    }
    pub async fn close(self) {
        drop(self.client);
        let _ = self.task.await;
    }
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

pub struct ConnectError {
    pub retryable: bool,
    pub kind: FailureKind,
    pub message: String,
}

pub async fn connect_once(conn: &ConnSettings) -> Result<Session, ConnectError> {
    let mut cfg = tokio_postgres::Config::new();
    if conn.host.starts_with('/') {
        cfg.host_path(&conn.host);
    } else {
        cfg.host(&conn.host);
    }
    cfg.port(conn.port)
        .user(&conn.user)
        .dbname(&conn.dbname)
        .application_name(&conn.application_name);
    if let Some(p) = &conn.password {
        cfg.password(p.expose());
    }
    let (client, connection) = cfg.connect(tokio_postgres::NoTls).await.map_err(|e| {
        let (retryable, kind) = classify(&e);
        ConnectError {
            retryable,
            kind,
            message: format!("{}: {e}", conn.redacted_url()),
        }
    })?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    let row = client
        .query_one("select pg_backend_pid()", &[])
        .await
        .map_err(|e| ConnectError {
            retryable: true,
            kind: FailureKind::Unavailable,
            message: e.to_string(),
        })?;
    let cancel = client.cancel_token();
    Ok(Session {
        backend_pid: row.get(0),
        client,
        tls_verified: false,
        cancel,
        task,
    })
}

pub async fn connect_with_retry(
    conn: &ConnSettings,
    wait_timeout: Duration,
) -> Result<Session, Failure> {
    let start = tokio::time::Instant::now();
    loop {
        match connect_once(conn).await {
            Ok(s) => return Ok(s),
            Err(e) if e.retryable && start.elapsed() < wait_timeout => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                return Err(Failure::new(
                    if e.retryable {
                        FailureKind::Unavailable
                    } else {
                        e.kind
                    },
                    e.message,
                ));
            }
        }
    }
}

pub fn classify(err: &tokio_postgres::Error) -> (bool, FailureKind) {
    match err.code().map(|c| c.code()) {
        Some("28P01" | "28000" | "42501") => (false, FailureKind::Denied),
        Some("3D000") => (false, FailureKind::Config),
        Some(c) if c.starts_with("08") || c.starts_with("57P") || c == "53300" => {
            (true, FailureKind::Unavailable)
        }
        Some(_) => (false, FailureKind::MigrationFailed),
        None => (true, FailureKind::Unavailable),
    }
}
