//! Run telemetry (issue 16): the [`Recorder`] that the run writes its values and spans to where they arise (connecting, the lock, the lint gate, each migration, each backfill batch group), and the [`Telemetry`] that takes them out of the process — to a Pushgateway ([`push`]) and over OTLP/HTTP ([`otlp`]), each from a thread of its own ([`send`]).

pub mod otlp;
pub mod push;
pub mod send;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::config::Settings;
use crate::core::discover::Script;
use crate::core::metrics::{Build, Ended, RunMetrics};
use crate::core::outcome::Failure;
use crate::core::trace::{Kind, Span, SpanId, Status, Trace, TraceId, Value};
use send::{FINAL_BUDGET, Worker};

/// What the run has recorded: its metrics, and its spans when a trace is sent.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub metrics: RunMetrics,
    pub trace: Option<Trace>,
}

/// The run's recorder and the telemetry that sends what it records, when something is sent:
/// only `migrate` and `undo` (`sends`), the runs that change the schema in a release and its
/// rollback; an `info` from a debugging pod must not overwrite their outcome. `started` is
/// the process start.
pub fn start(
    settings: &Settings,
    command: Option<&'static str>,
    started: Instant,
    build: Build<'static>,
) -> (Recorder, Option<Telemetry>) {
    let Some(command) = command else {
        return (Recorder::off(), None);
    };
    let (otlp_metrics, otlp_traces) = match &settings.otlp {
        Some(o) => otlp::outputs(o, build),
        None => (None, None),
    };
    let push = settings.pushgateway.as_ref().map(|gateway| {
        let group = push::group(
            gateway,
            &settings.conn.dbname,
            &settings.schema,
            &settings.table,
        );
        push::output(gateway, &group, build)
    });
    if push.is_none() && otlp_metrics.is_none() && otlp_traces.is_none() {
        return (Recorder::off(), None);
    }
    let started_unix = unix_now() - started.elapsed().as_secs_f64();
    let recorder = Recorder::on();
    recorder.record(|m| {
        m.command = command.to_string();
        m.started_unix = started_unix;
    });
    if otlp_traces.is_some() {
        recorder.start_trace(
            &format!("schemagate {command}"),
            (started_unix * 1e9) as u64,
        );
        recorder.root(|root| {
            root.set("schemagate.command", command);
            root.set("db.system.name", "postgresql");
            root.set("db.namespace", settings.conn.dbname.as_str());
            root.set("schemagate.schema", settings.schema.as_str());
            root.set("schemagate.table", settings.table.as_str());
        });
    }
    let workers = [push, otlp_metrics, otlp_traces]
        .into_iter()
        .flatten()
        .map(|out| Worker::start(out, &recorder, started))
        .collect();
    let telemetry = Telemetry {
        recorder: recorder.clone(),
        started,
        started_unix,
        workers,
    };
    (recorder, Some(telemetry))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Random bytes from the operating system (ring's, already linked for TLS); W3C Trace
/// Context wants trace ids random. Never all zero, which OTLP reads as "no id".
fn random<const N: usize>() -> [u8; N] {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; N];
    if SystemRandom::new().fill(&mut bytes).is_err() || bytes.iter().all(|&b| b == 0) {
        // No system randomness: std's per-process random hash keys, mixed with the clock.
        use std::hash::{BuildHasher, Hasher};
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(now_nanos());
            h.write_usize(i);
            let v = h.finish() | 1;
            chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
        }
    }
    bytes
}

/// The run's values, shared by the run and the threads that send them; cheap to clone.
/// Off (the default), recording does nothing: only a run that sends pays for it.
#[derive(Clone, Default)]
pub struct Recorder(Option<Arc<Mutex<State>>>);

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

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        // A panic elsewhere ends the process (exit 70); the values stay usable until then.
        self.0
            .as_ref()
            .map(|s| f(&mut s.lock().unwrap_or_else(PoisonError::into_inner)))
    }

    /// Changes the values. Never blocks for long: the senders only copy them.
    pub fn record(&self, f: impl FnOnce(&mut RunMetrics)) {
        self.with(|s| f(&mut s.metrics));
    }

    /// A copy of the values as they are now.
    pub fn snapshot(&self) -> Option<RunMetrics> {
        self.with(|s| s.metrics.clone())
    }

    /// A copy of everything recorded.
    pub fn state(&self) -> Option<State> {
        self.with(|s| s.clone())
    }

    /// Starts recording spans under a root span `name` that opened at `start_unix_nano`.
    pub fn start_trace(&self, name: &str, start_unix_nano: u64) {
        self.with(|s| {
            s.trace = Some(Trace::new(
                TraceId(random()),
                SpanId(random()),
                name,
                start_unix_nano,
            ))
        });
    }

    /// Changes the root span, when spans are recorded.
    pub fn root(&self, f: impl FnOnce(&mut Span)) {
        self.with(|s| s.trace.as_mut().and_then(Trace::root_mut).map(f));
    }

    /// The span of running `script` (`migration V2`, `undo V2`, `repeatable views`), with
    /// its version, description, file and phase.
    pub fn script_span(&self, verb: &str, script: &Script) -> SpanGuard {
        let name = match script.name.version() {
            Some(v) => format!("{verb} V{v}"),
            None => format!("repeatable {}", script.name.description),
        };
        let span = self.span(&name);
        if let Some(v) = script.name.version() {
            span.set("schemagate.migration.version", v.as_str());
        }
        span.set(
            "schemagate.migration.description",
            script.name.description.as_str(),
        );
        span.set("schemagate.migration.script", script.path.as_str());
        span.set("schemagate.migration.phase", script.phase.as_str());
        span
    }

    /// A span for a phase that talks to PostgreSQL, under whatever is open now; it ends when
    /// the guard is dropped. Without a trace, a guard that does nothing.
    pub fn span(&self, name: &str) -> SpanGuard {
        let id = self
            .with(|s| {
                let t = s.trace.as_mut()?;
                let id = SpanId(random());
                t.open(id, name, Kind::Client, now_nanos());
                Some(id)
            })
            .flatten();
        SpanGuard {
            recorder: self.clone(),
            id,
        }
    }
}

/// An open span; ends on drop (see [`Recorder::span`]).
pub struct SpanGuard {
    recorder: Recorder,
    id: Option<SpanId>,
}

impl SpanGuard {
    fn with(&self, f: impl FnOnce(&mut Span)) {
        if let Some(id) = self.id {
            self.recorder
                .with(|s| s.trace.as_mut().and_then(|t| t.span_mut(id)).map(f));
        }
    }

    pub fn set(&self, key: &'static str, value: impl Into<Value>) {
        let value = value.into();
        self.with(|s| s.set(key, value));
    }

    /// Marks the phase as failed, with the run's own message for it.
    pub fn fail(&self, message: &str) {
        self.with(|s| s.status = Status::Error(message.to_string()));
    }

    /// Sets `schemagate.migration.outcome`: `done` on success, else the exit code's name of
    /// the failure (`migration-failed`, `partial`, `deadline`, …), which also marks the span.
    pub fn outcome<T>(&self, result: &Result<T, Failure>, done: &'static str) {
        match result {
            Ok(_) => self.set("schemagate.migration.outcome", done),
            Err(f) => {
                self.set("schemagate.migration.outcome", f.kind.name());
                self.fail(&f.message);
            }
        }
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            let end = now_nanos();
            self.recorder
                .with(|s| s.trace.as_mut().map(|t| t.close(id, end)));
        }
    }
}

/// What sends the run's telemetry, until [`Telemetry::finish`].
pub struct Telemetry {
    recorder: Recorder,
    started: Instant,
    started_unix: f64,
    workers: Vec<Worker>,
}

impl Telemetry {
    /// Records how the run ended, ends its spans, and makes the final sends, all of them
    /// together waited for at most [`FINAL_BUDGET`] (a mid-run send still under way counts
    /// against it). `failure`: the run's message when it did not end well.
    pub fn finish(self, exit_code: u8, outcome: &str, failure: Option<&str>) {
        let by = Instant::now() + FINAL_BUDGET;
        let elapsed = self.started.elapsed().as_secs_f64();
        let at_unix = self.started_unix + elapsed;
        self.recorder.with(|s| {
            let m = &mut s.metrics;
            m.elapsed_seconds = elapsed;
            m.ended = Some(Ended {
                exit_code,
                outcome: outcome.to_string(),
                at_unix,
            });
            let (applied, undone, version) = (
                m.migrations_applied,
                m.migrations_undone,
                m.schema_version.clone(),
            );
            if let Some(t) = s.trace.as_mut() {
                if let Some(root) = t.root_mut() {
                    root.set("schemagate.exit_code", i64::from(exit_code));
                    root.set("schemagate.outcome", outcome);
                    root.set("schemagate.migrations_applied", applied);
                    root.set("schemagate.migrations_undone", undone);
                    if let Some(v) = version {
                        root.set("schemagate.schema_version", v);
                    }
                    if let Some(message) = failure {
                        root.status = Status::Error(message.to_string());
                    }
                }
                t.close_all((at_unix * 1e9) as u64);
            }
        });
        for w in &self.workers {
            w.finish(by);
        }
        for w in self.workers {
            w.wait(&self.recorder, by);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::otlp::{Otlp, Signal};
    use crate::config::pushgateway::{PushAuth, Pushgateway};
    use std::time::Duration;

    #[test]
    fn off_records_nothing_and_on_shares_its_values() {
        let off = Recorder::off();
        off.record(|m| m.connect_attempts += 1);
        assert_eq!(off.snapshot(), None);
        drop(off.span("connect"));

        let on = Recorder::on();
        let clone = on.clone();
        clone.record(|m| m.connect_attempts += 2);
        on.record(|m| m.connect_attempts += 1);
        assert_eq!(on.snapshot().map(|m| m.connect_attempts), Some(3));
    }

    #[test]
    fn spans_nest_end_on_drop_and_carry_their_status() {
        let r = Recorder::on();
        r.start_trace("schemagate migrate", 1);
        {
            let lock = r.span("lock");
            lock.set("schemagate.lock.key", 7i64);
            let inner = r.span("connect");
            inner.fail("refused");
        }
        let t = r.state().unwrap().trace.unwrap();
        assert_eq!(t.open.len(), 1, "only the root is open");
        let root = t.open[0].id;
        let [connect, lock] = [&t.ended[0], &t.ended[1]];
        assert_eq!(connect.name, "connect");
        assert_eq!(connect.parent, Some(lock.id));
        assert_eq!(connect.status, Status::Error("refused".into()));
        assert_eq!(lock.parent, Some(root));
        assert_eq!(lock.get("schemagate.lock.key"), Some(&Value::Int(7)));
        assert_ne!(t.id.0, [0; 16]);
        assert_ne!(lock.id, connect.id);
    }

    #[test]
    fn random_ids_differ() {
        let a: [u8; 16] = random();
        let b: [u8; 16] = random();
        assert_ne!(a, b);
    }

    #[test]
    fn dead_receivers_together_cost_the_budget_at_most() {
        // Ports that accept and never answer: the worst a receiver can do, three of them.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut settings = crate::config::load(
            &[
                ("PGHOST".to_string(), "localhost".to_string()),
                ("PGUSER".to_string(), "app".to_string()),
            ],
            &std::collections::BTreeMap::new(),
        )
        .unwrap();
        settings.pushgateway = Some(Pushgateway {
            url: url.clone(),
            auth: PushAuth::Bearer(crate::config::Secret::new("t0ken")),
            job: "schemagate".into(),
        });
        let signal = |path: &str| Signal {
            url: format!("{url}{path}"),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
        };
        settings.otlp = Some(Otlp {
            metrics: Some(signal("/v1/metrics")),
            traces: Some(signal("/v1/traces")),
            resource: Vec::new(),
        });
        let (recorder, telemetry) = start(
            &settings,
            Some("migrate"),
            Instant::now(),
            Build {
                version: "0",
                commit: "0",
            },
        );
        let telemetry = telemetry.expect("three outputs");
        assert_eq!(telemetry.workers.len(), 3);
        let began = Instant::now();
        telemetry.finish(1, "migration-failed", Some("V1 failed"));
        let took = began.elapsed();
        assert!(took < FINAL_BUDGET + Duration::from_millis(300), "{took:?}");
        let s = recorder.state().unwrap();
        assert_eq!(s.metrics.ended.map(|e| e.exit_code), Some(1));
        let t = s.trace.unwrap();
        assert!(t.open.is_empty());
        assert_eq!(t.ended[0].status, Status::Error("V1 failed".into()));
        drop(listener);
    }
}
