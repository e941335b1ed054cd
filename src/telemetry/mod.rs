//! Run telemetry (issue 16): the [`Recorder`] that the run writes its values to where they arise (connecting, the lock, the lint gate, each migration, each backfill batch), and the senders that take them out of the process — the Pushgateway's ([`push`]) now; an OTLP sender would read the same [`RunMetrics`].

pub mod push;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::config::Settings;
use crate::core::metrics::{Build, RunMetrics};
use push::Pusher;

/// The run's recorder, and its pusher when there is one: only `migrate` (`migrates`) pushes,
/// the run a release waits for; an `info` from a debugging pod must not overwrite its outcome
/// on the gateway. `started` is the process start.
pub fn start(
    settings: &Settings,
    migrates: bool,
    started: Instant,
    build: Build<'static>,
) -> (Recorder, Option<Pusher>) {
    let Some(gateway) = settings.pushgateway.as_ref().filter(|_| migrates) else {
        return (Recorder::off(), None);
    };
    let recorder = Recorder::on();
    let group = push::group(
        gateway,
        &settings.conn.dbname,
        &settings.schema,
        &settings.table,
    );
    let pusher = Pusher::start(gateway, &group, recorder.clone(), started, build);
    (recorder, Some(pusher))
}

/// The run's metrics, shared by the run and the thread that pushes them; cheap to clone.
/// Off (the default), recording does nothing: only a run that pushes pays for it.
#[derive(Clone, Default)]
pub struct Recorder(Option<Arc<Mutex<RunMetrics>>>);

impl Recorder {
    pub fn off() -> Self {
        Recorder(None)
    }

    pub fn on() -> Self {
        Recorder(Some(Arc::default()))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Changes the values. Never blocks for long: the pusher only copies them.
    pub fn record(&self, f: impl FnOnce(&mut RunMetrics)) {
        if let Some(m) = &self.0 {
            // A panic elsewhere ends the process (exit 70); the values stay usable until then.
            f(&mut m.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// A copy of the values as they are now.
    pub fn snapshot(&self) -> Option<RunMetrics> {
        self.0
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_records_nothing_and_on_shares_its_values() {
        let off = Recorder::off();
        off.record(|m| m.connect_attempts += 1);
        assert_eq!(off.snapshot(), None);

        let on = Recorder::on();
        let clone = on.clone();
        clone.record(|m| m.connect_attempts += 2);
        on.record(|m| m.connect_attempts += 1);
        assert_eq!(on.snapshot().map(|m| m.connect_attempts), Some(3));
    }
}
