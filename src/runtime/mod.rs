//! Deadline and signals → one `Stop` that every wait, sleep and running statement in the run obeys.
//!
//! A statement running on the server cannot be stopped by dropping a future: the backend
//! keeps going. So a stop sends a CancelRequest to every registered session (and keeps
//! re-sending it while the run is still winding down, in case it fell between two
//! statements), and the executor, seeing the stop, rolls back, releases the lock and reports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::core::outcome::{Failure, FailureKind};
use crate::pg::connect::Canceller;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Deadline,
    Interrupt,
    Terminate,
}

impl StopReason {
    pub fn failure_kind(self) -> FailureKind {
        match self {
            StopReason::Deadline => FailureKind::Deadline,
            StopReason::Interrupt => FailureKind::Interrupted,
            StopReason::Terminate => FailureKind::Terminated,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            StopReason::Deadline => "SCHEMAGATE_DEADLINE expired",
            StopReason::Interrupt => "SIGINT received",
            StopReason::Terminate => "SIGTERM received",
        }
    }

    pub fn failure(self, doing: &str) -> Failure {
        Failure::new(
            self.failure_kind(),
            format!(
                "{} while {doing}; the run was cancelled cleanly",
                self.describe()
            ),
        )
    }
}

struct Inner {
    tx: watch::Sender<Option<StopReason>>,
    cancellers: Mutex<Vec<(u64, Canceller)>>,
    next_id: AtomicU64,
}

/// Shared by the whole run; cheap to clone.
#[derive(Clone)]
pub struct Stop {
    inner: Arc<Inner>,
}

/// Keeps a session registered for cancellation until dropped.
pub struct Registration {
    stop: Stop,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut list) = self.stop.inner.cancellers.lock() {
            list.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Default for Stop {
    fn default() -> Self {
        Self::new()
    }
}

impl Stop {
    pub fn new() -> Self {
        let (tx, _) = watch::channel(None);
        Stop {
            inner: Arc::new(Inner {
                tx,
                cancellers: Mutex::new(Vec::new()),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    pub fn reason(&self) -> Option<StopReason> {
        *self.inner.tx.borrow()
    }

    /// The first reason wins: a SIGTERM after the deadline expired is still a deadline.
    pub fn trigger(&self, reason: StopReason) {
        self.inner.tx.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// Resolves when a stop is triggered (at once if it already was).
    pub async fn stopped(&self) -> StopReason {
        let mut rx = self.inner.tx.subscribe();
        loop {
            if let Some(r) = *rx.borrow_and_update() {
                return r;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self`; this cannot happen, but never spin.
                std::future::pending::<()>().await;
            }
        }
    }

    /// `Err` with the stop's failure if the run must stop.
    pub fn check(&self, doing: &str) -> Result<(), Failure> {
        match self.reason() {
            Some(r) => Err(r.failure(doing)),
            None => Ok(()),
        }
    }

    /// A sleep that gives way to a stop.
    pub async fn sleep(&self, d: Duration, doing: &str) -> Result<(), Failure> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            r = self.stopped() => Err(r.failure(doing)),
        }
    }

    /// Registers a session whose running statement a stop must cancel on the server.
    pub fn register(&self, c: Canceller) -> Registration {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut list) = self.inner.cancellers.lock() {
            list.push((id, c));
        }
        Registration {
            stop: self.clone(),
            id,
        }
    }

    /// Sends a CancelRequest for every registered session.
    pub async fn cancel_all(&self) {
        let list: Vec<Canceller> = match self.inner.cancellers.lock() {
            Ok(l) => l.iter().map(|(_, c)| c.clone()).collect(),
            Err(_) => Vec::new(),
        };
        for c in list {
            c.cancel().await;
        }
    }
}

/// Waits for SIGTERM/SIGINT or the deadline and turns the first into a stop, then keeps
/// cancelling server-side work until the run ends. Runs as its own task.
pub async fn watch_signals_and_deadline(stop: Stop, deadline: tokio::time::Instant) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        _ => {
            tracing::error!(
                "could not install SIGTERM/SIGINT handlers; signals will kill the process without cleanup"
            );
            return;
        }
    };
    let reason = tokio::select! {
        _ = term.recv() => StopReason::Terminate,
        _ = int.recv() => StopReason::Interrupt,
        _ = tokio::time::sleep_until(deadline) => StopReason::Deadline,
    };
    stop.trigger(reason);
    tracing::warn!(
        reason = reason.describe(),
        "stopping: cancelling the running statement, rolling back, releasing the lock"
    );
    let code = i32::from(stop.reason().unwrap_or(reason).failure_kind().exit_code());
    // Kubernetes sends SIGKILL 30 s after SIGTERM by default. If the server does not answer
    // the cancel (a hung backend, a dead network), leave well before that: closing the
    // socket ends the session on the server, and with it the lock.
    let give_up = tokio::time::Instant::now() + WIND_DOWN_LIMIT;
    loop {
        stop.cancel_all().await;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = tokio::time::sleep_until(give_up) => {
                tracing::error!(limit_s = WIND_DOWN_LIMIT.as_secs(), "the run did not wind down in time; exiting, the server ends the session and releases the lock");
                std::process::exit(code);
            }
            // A second signal means "now".
            _ = term.recv() => std::process::exit(code),
            _ = int.recv() => std::process::exit(code),
        }
    }
}

/// How long a stop may take before the process exits regardless.
pub const WIND_DOWN_LIMIT: Duration = Duration::from_secs(8);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_first_reason_wins_and_sleeps_give_way() {
        let stop = Stop::new();
        assert!(stop.check("x").is_ok());
        stop.trigger(StopReason::Deadline);
        stop.trigger(StopReason::Terminate);
        assert_eq!(stop.reason(), Some(StopReason::Deadline));
        let err = stop
            .sleep(Duration::from_secs(60), "waiting")
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Deadline);
        assert!(err.message.contains("while waiting"));
    }
}
