//! The Pushgateway sender: POSTs the run's metrics as 0.0.4 text to its group's path every [`INTERVAL`] while the run goes on and once at its end, from a thread of its own, so that a slow or dead gateway never holds the run up and never changes its exit code.
//!
//! POST, not PUT: the Pushgateway then replaces only the metric names a push carries, so the
//! earlier run's `schemagate_last_success_timestamp_seconds` stays when this run fails (it
//! pushes that name only on success), and a mid-run push leaves the last run's exit code in
//! place. One thread sends every push in order, so no mid-run push can land after the final
//! one. A failed push is logged once (`warn`, naming the URL without credentials and the
//! cause); the run never waits more than [`FINAL_BUDGET`] for the last one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::pushgateway::{PushAuth, Pushgateway};
use crate::core::metrics::{self, BASE64, Build, Ended, push_path};

use super::Recorder;

/// How often a run that is still going pushes what it has so far.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// The most the end of a run waits for its last push, whatever the gateway does: under the
/// 2 s that issue 16 allows, with room for the process to exit.
pub const FINAL_BUDGET: Duration = Duration::from_millis(1500);
/// The limit of one mid-run push (the gateway is on the cluster's network; a push is a few
/// kilobytes).
const MID_RUN_TIMEOUT: Duration = Duration::from_secs(2);
/// What the final request leaves of the budget, so that its own time-out (and its log
/// line) comes before the caller stops waiting for it.
const FINAL_MARGIN: Duration = Duration::from_millis(150);
/// What of an error answer is quoted in the log line.
const QUOTED_ANSWER: usize = 300;

/// Where and how pushes go. Its `url` holds no credentials; `authorization` never leaves
/// the request.
struct Target {
    agent: ureq::Agent,
    /// The group's full push URL.
    url: String,
    authorization: Option<String>,
    build: Build<'static>,
    /// Whether a failure of this run's pushes was already logged at `warn`.
    warned: Arc<AtomicBool>,
}

enum Msg {
    /// Push the final values, then answer on the `done` channel.
    Finish { by: Instant },
}

/// The pushes of one run, until [`Pusher::finish`].
pub struct Pusher {
    recorder: Recorder,
    started: Instant,
    started_unix: f64,
    /// The sending thread; `None` when the system refused one: then only the final push is
    /// made, from the caller.
    worker: Option<(mpsc::Sender<Msg>, mpsc::Receiver<()>)>,
    /// Held here only when there is no worker.
    target: Option<Target>,
    warned: Arc<AtomicBool>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The grouping key: stable labels only, the same for every run against this history table
/// (never a pod name or run id, which would leave a group behind on the gateway per run).
pub fn group(gateway: &Pushgateway, database: &str, schema: &str, table: &str) -> String {
    push_path(
        &gateway.job,
        &[("database", database), ("schema", schema), ("table", table)],
    )
}

impl Pusher {
    /// Starts pushing `recorder`'s values to `gateway`'s group `path` ([`group`]).
    /// `started` is when the run began (the process start).
    pub fn start(
        gateway: &Pushgateway,
        path: &str,
        recorder: Recorder,
        started: Instant,
        build: Build<'static>,
    ) -> Pusher {
        let started_unix = unix_now() - started.elapsed().as_secs_f64();
        recorder.record(|m| m.started_unix = started_unix);
        let warned = Arc::new(AtomicBool::new(false));
        let mut pusher = Pusher {
            recorder,
            started,
            started_unix,
            worker: None,
            target: None,
            warned: warned.clone(),
        };
        let target = Target::new(gateway, path, build, warned.clone());
        tracing::debug!(url = %target.url, "pushing the run's metrics to the Pushgateway");
        let (tx, rx) = mpsc::channel::<Msg>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let values = pusher.recorder.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-push".into())
            .spawn(move || {
                loop {
                    match rx.recv_timeout(INTERVAL) {
                        Err(RecvTimeoutError::Timeout) => {
                            let Some(mut m) = values.snapshot() else {
                                return;
                            };
                            m.elapsed_seconds = started.elapsed().as_secs_f64();
                            target.push(&metrics::encode(&m, &target.build), MID_RUN_TIMEOUT);
                        }
                        Ok(Msg::Finish { by }) => {
                            if let Some(m) = values.snapshot() {
                                let left = by
                                    .saturating_duration_since(Instant::now())
                                    .saturating_sub(FINAL_MARGIN);
                                target.push(&metrics::encode(&m, &target.build), left);
                            }
                            let _ = done_tx.send(());
                            return;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            });
        match spawned {
            Ok(_) => pusher.worker = Some((tx, done_rx)),
            Err(e) => {
                // A pids limit: the closure and its target are gone; the final push gets
                // a target of its own.
                tracing::debug!(error = %e, "no thread for the metrics pushes; only the final push is made");
                pusher.target = Some(Target::new(gateway, path, build, warned));
            }
        }
        pusher
    }

    /// Records how the run ended and makes the final push, waiting for it at most
    /// [`FINAL_BUDGET`] (a mid-run push still under way counts against it).
    pub fn finish(self, exit_code: u8, outcome: &str) {
        let by = Instant::now() + FINAL_BUDGET;
        let elapsed = self.started.elapsed().as_secs_f64();
        self.recorder.record(|m| {
            m.elapsed_seconds = elapsed;
            m.ended = Some(Ended {
                exit_code,
                outcome: outcome.to_string(),
                at_unix: self.started_unix + elapsed,
            });
        });
        match (self.worker, self.target) {
            (Some((tx, done)), _) => {
                if tx.send(Msg::Finish { by }).is_ok()
                    && done
                        .recv_timeout(by.saturating_duration_since(Instant::now()))
                        .is_err()
                    // A push still hanging has said so already, or will not be heard.
                    && !self.warned.swap(true, Ordering::Relaxed)
                {
                    tracing::warn!(
                        budget_ms = FINAL_BUDGET.as_millis() as u64,
                        "the final metrics push did not finish within {} ms; exiting without it (the exit code is not affected)",
                        FINAL_BUDGET.as_millis()
                    );
                }
            }
            (None, Some(target)) => {
                if let Some(m) = self.recorder.snapshot() {
                    target.push(
                        &metrics::encode(&m, &target.build),
                        FINAL_BUDGET - FINAL_MARGIN,
                    );
                }
            }
            (None, None) => {}
        }
    }
}

impl Target {
    fn new(
        gateway: &Pushgateway,
        path: &str,
        build: Build<'static>,
        warned: Arc<AtomicBool>,
    ) -> Target {
        let authorization = match &gateway.auth {
            PushAuth::None => None,
            PushAuth::Basic { username, password } => Some(format!(
                "Basic {}",
                metrics::base64(
                    format!("{username}:{}", password.expose()).as_bytes(),
                    BASE64
                )
            )),
            PushAuth::Bearer(token) => Some(format!("Bearer {}", token.expose())),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Status codes are answers to read, not errors to unwrap.
            .http_status_as_error(false)
            // A redirected POST would have to be sent again; say where it pointed instead.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(format!("schemagate/{}", build.version))
            .build()
            .into();
        Target {
            agent,
            url: format!("{}{path}", gateway.url),
            authorization,
            build,
            warned,
        }
    }

    /// One POST within `limit`; a failure is logged, the first one at `warn`.
    fn push(&self, body: &str, limit: Duration) {
        let began = Instant::now();
        let outcome = self.post(body, limit.max(Duration::from_millis(50)));
        let took_ms = began.elapsed().as_millis() as u64;
        match outcome {
            Ok(()) => tracing::debug!(url = %self.url, took_ms, "pushed the run's metrics"),
            Err(cause) if !self.warned.swap(true, Ordering::Relaxed) => {
                tracing::warn!(
                    url = %self.url, error = %cause, took_ms,
                    "could not push the run's metrics to the Pushgateway at {}: {cause}. The run goes on and its exit code is not affected; later failures of this run are logged at debug",
                    self.url
                );
            }
            Err(cause) => {
                tracing::debug!(url = %self.url, error = %cause, took_ms, "metrics push failed again")
            }
        }
    }

    fn post(&self, body: &str, limit: Duration) -> Result<(), String> {
        let mut request = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(limit))
            .build()
            .header("Content-Type", metrics::CONTENT_TYPE);
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a);
        }
        let mut answer = request.send(body).map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = answer
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let text: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(QUOTED_ANSWER)
            .collect();
        let location = answer
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(|l| format!(" (redirected to {l}; point SCHEMAGATE_PUSHGATEWAY_URL there)"))
            .unwrap_or_default();
        Err(match (status, text.is_empty()) {
            (401 | 403, _) => format!(
                "HTTP {status}: the gateway refused the credentials (SCHEMAGATE_PUSHGATEWAY_USERNAME/_PASSWORD, _TOKEN or the URL's user)"
            ),
            (_, true) => format!("HTTP {status}{location}"),
            (_, false) => format!("HTTP {status}{location}: {text}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn gateway(url: &str) -> Pushgateway {
        Pushgateway {
            url: url.into(),
            auth: PushAuth::None,
            job: "schemagate".into(),
        }
    }

    #[test]
    fn the_group_has_the_stable_labels_only() {
        assert_eq!(
            group(
                &gateway("http://gw:9091"),
                "app",
                "public",
                "schemagate_history"
            ),
            "/metrics/job/schemagate/database/app/schema/public/table/schemagate_history"
        );
    }

    #[test]
    fn a_dead_gateway_costs_the_budget_at_most() {
        // A port that accepts and never answers: the worst a gateway can do.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut g = gateway(&url);
        g.auth = PushAuth::Bearer(Secret::new("t0ken"));
        let recorder = Recorder::on();
        let pusher = Pusher::start(
            &g,
            "/metrics/job/x",
            recorder.clone(),
            Instant::now(),
            Build {
                version: "0",
                commit: "0",
            },
        );
        let began = Instant::now();
        pusher.finish(0, "ok");
        let took = began.elapsed();
        assert!(took < FINAL_BUDGET + Duration::from_millis(300), "{took:?}");
        let m = recorder.snapshot().unwrap();
        assert_eq!(m.ended.map(|e| e.exit_code), Some(0));
        drop(listener);
    }
}
