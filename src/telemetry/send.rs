//! Sending a run's telemetry out of the process: an [`Endpoint`] (one URL, its fixed headers, one POST within a limit, a failure logged once) and a [`Worker`], the thread of its own that sends an endpoint's body every [`INTERVAL`] while the run goes on and once at its end, so that a slow or dead receiver never holds the run up and never changes its exit code.
//!
//! One thread per endpoint sends its bodies in order, so no mid-run body can land after the
//! final one. Every worker of a run waits for its final send until one shared instant (see
//! `Telemetry::finish`), so all of them together hold the exit at most [`FINAL_BUDGET`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::config::Secret;

use super::{Recorder, State};

/// How often a run that is still going sends what it has so far.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// The most the end of a run waits for its last sends, all receivers together, whatever they
/// do: under the 2 s that issue 16 allows, with room for the process to exit.
pub const FINAL_BUDGET: Duration = Duration::from_millis(1500);
/// What the final request leaves of the budget, so that its own time-out (and its log
/// line) comes before the caller stops waiting for it.
const FINAL_MARGIN: Duration = Duration::from_millis(150);
/// What of an error answer is quoted in the log line.
const QUOTED_ANSWER: usize = 300;

/// Reads a 2xx answer's body for a refusal inside it (OTLP's `partialSuccess`).
pub type CheckAnswer = fn(&str) -> Result<(), String>;

/// How an endpoint is named in its log lines and what to change when it refuses.
pub struct Names {
    /// `"push the run's metrics to the Pushgateway"`: what could not be done.
    pub doing: &'static str,
    /// The settings that hold its credentials, for a 401 or 403.
    pub credentials: &'static str,
    /// The setting that holds its URL, for a redirect.
    pub url_setting: &'static str,
}

/// One receiver. Its `url` holds no credentials; the header values never leave the request.
pub struct Endpoint {
    agent: ureq::Agent,
    pub url: String,
    content_type: &'static str,
    headers: Vec<(String, Secret)>,
    names: Names,
    check: Option<CheckAnswer>,
    /// Whether a failure was already logged at `warn`; shared by the endpoints of one kind.
    warned: Arc<AtomicBool>,
}

impl Endpoint {
    pub fn new(
        url: String,
        content_type: &'static str,
        headers: Vec<(String, Secret)>,
        names: Names,
        check: Option<CheckAnswer>,
        warned: Arc<AtomicBool>,
        version: &str,
    ) -> Endpoint {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Status codes are answers to read, not errors to unwrap.
            .http_status_as_error(false)
            // A redirected POST would have to be sent again; say where it pointed instead.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(format!("schemagate/{version}"))
            .build()
            .into();
        Endpoint {
            agent,
            url,
            content_type,
            headers,
            names,
            check,
            warned,
        }
    }

    /// One POST within `limit`; a failure is logged, the first one of its kind at `warn`.
    pub fn send(&self, body: &str, limit: Duration) {
        let began = Instant::now();
        let outcome = self.post(body, limit.max(Duration::from_millis(50)));
        let took_ms = began.elapsed().as_millis() as u64;
        let doing = self.names.doing;
        match outcome {
            Ok(()) => tracing::debug!(url = %self.url, took_ms, "sent: {doing}"),
            Err(cause) if !self.warned.swap(true, Ordering::Relaxed) => {
                tracing::warn!(
                    url = %self.url, error = %cause, took_ms,
                    "could not {doing} at {}: {cause}. The run goes on and its exit code is not affected; later failures of this run are logged at debug",
                    self.url
                );
            }
            Err(cause) => {
                tracing::debug!(url = %self.url, error = %cause, took_ms, "failed again: {doing}")
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
            .header("Content-Type", self.content_type);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.expose());
        }
        let mut answer = request.send(body).map_err(|e| e.to_string())?;
        let status = answer.status().as_u16();
        let text = answer
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        if (200..300).contains(&status) {
            return self.check.map_or(Ok(()), |check| check(&text));
        }
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
            .map(|l| {
                format!(
                    " (redirected to {l}; point {} there)",
                    self.names.url_setting
                )
            })
            .unwrap_or_default();
        Err(match (status, text.is_empty()) {
            (401 | 403, _) => format!(
                "HTTP {status}: the receiver refused the credentials ({})",
                self.names.credentials
            ),
            (_, true) => format!("HTTP {status}{location}"),
            (_, false) => format!("HTTP {status}{location}: {text}"),
        })
    }
}

/// Makes an endpoint's body from the run's state; `None`: nothing to send this time.
/// `last` is true for the final body.
pub type Encode = Box<dyn Fn(&State, bool) -> Option<String> + Send>;

/// What a worker sends, where, and how long a mid-run send may take.
pub struct Output {
    pub endpoint: Endpoint,
    pub encode: Encode,
    pub mid_run_timeout: Duration,
}

enum Msg {
    /// Send the final body, then answer on the `done` channel.
    Finish { by: Instant },
}

/// One endpoint's sends during one run, until [`Worker::finish`] and [`Worker::wait`].
pub struct Worker {
    /// The sending thread; `None` when the system refused one: then only the final body is
    /// sent, from the caller.
    thread: Option<(mpsc::Sender<Msg>, mpsc::Receiver<()>)>,
    /// Held here only when there is no thread.
    output: Option<Output>,
    warned: Arc<AtomicBool>,
    /// What the final send does and where, for the line that says it was given up.
    doing: &'static str,
    url: String,
}

/// The state as a body sees it: mid-run, with the run's duration so far.
fn state_now(recorder: &Recorder, started: Instant, last: bool) -> Option<State> {
    let mut s = recorder.state()?;
    if !last {
        s.metrics.elapsed_seconds = started.elapsed().as_secs_f64();
    }
    Some(s)
}

impl Worker {
    /// Starts sending `recorder`'s values through `output`. `started` is when the run began.
    pub fn start(output: Output, recorder: &Recorder, started: Instant) -> Worker {
        let warned = output.endpoint.warned.clone();
        let (doing, url) = (output.endpoint.names.doing, output.endpoint.url.clone());
        let (tx, rx) = mpsc::channel::<Msg>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let values = recorder.clone();
        // The thread owns the output; a refused spawn hands it back through this slot.
        let slot = Arc::new(std::sync::Mutex::new(Some(output)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("telemetry".into())
            .spawn(move || {
                let Some(out) = theirs.lock().ok().and_then(|mut o| o.take()) else {
                    return;
                };
                loop {
                    match rx.recv_timeout(INTERVAL) {
                        Err(RecvTimeoutError::Timeout) => {
                            let Some(s) = state_now(&values, started, false) else {
                                return;
                            };
                            if let Some(body) = (out.encode)(&s, false) {
                                out.endpoint.send(&body, out.mid_run_timeout);
                            }
                        }
                        Ok(Msg::Finish { by }) => {
                            if let Some(body) = state_now(&values, started, true)
                                .and_then(|s| (out.encode)(&s, true))
                            {
                                let left = by
                                    .saturating_duration_since(Instant::now())
                                    .saturating_sub(FINAL_MARGIN)
                                    .min(out.mid_run_timeout);
                                out.endpoint.send(&body, left);
                            }
                            let _ = done_tx.send(());
                            return;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            });
        match spawned {
            Ok(_) => Worker {
                thread: Some((tx, done_rx)),
                output: None,
                warned,
                doing,
                url,
            },
            Err(e) => {
                // A pids limit: only the final body is sent, by the caller.
                tracing::debug!(error = %e, url = %url, "no thread to {doing}; only the final send is made");
                Worker {
                    thread: None,
                    output: slot.lock().ok().and_then(|mut o| o.take()),
                    warned,
                    doing,
                    url,
                }
            }
        }
    }

    /// Asks the thread for the final send, to be over `by`.
    pub fn finish(&self, by: Instant) {
        if let Some((tx, _)) = &self.thread {
            let _ = tx.send(Msg::Finish { by });
        }
    }

    /// Waits for the final send until `by` at most; without a thread, makes it in what is
    /// left until then.
    pub fn wait(self, recorder: &Recorder, by: Instant) {
        match (self.thread, self.output) {
            (Some((_tx, done)), _) => {
                if done
                    .recv_timeout(by.saturating_duration_since(Instant::now()))
                    .is_err()
                    // A send still hanging has said so already, or will not be heard.
                    && !self.warned.swap(true, Ordering::Relaxed)
                {
                    tracing::warn!(
                        url = %self.url, budget_ms = FINAL_BUDGET.as_millis() as u64,
                        "gave up waiting to {} at {} after {} ms; exiting without it (the exit code is not affected)",
                        self.doing,
                        self.url,
                        FINAL_BUDGET.as_millis()
                    );
                }
            }
            (None, Some(out)) => {
                if let Some(body) = recorder.state().and_then(|s| (out.encode)(&s, true)) {
                    let left = by
                        .saturating_duration_since(Instant::now())
                        .saturating_sub(FINAL_MARGIN);
                    if !left.is_zero() {
                        out.endpoint.send(&body, left.min(out.mid_run_timeout));
                    }
                }
            }
            (None, None) => {}
        }
    }
}
