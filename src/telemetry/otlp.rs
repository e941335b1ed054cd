//! The OTLP/HTTP outputs: the run's metrics POSTed as JSON to the metrics endpoint every interval and at the end, and its trace to the traces endpoint once, at the end, when every span has ended.
//!
//! The two share one "already warned" flag: they usually go to one collector, and a dead
//! collector is one problem, said once.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::config::otlp::{Otlp, Signal};
use crate::core::metrics::Build;
use crate::core::otlp::{self, CONTENT_TYPE};

use super::send::{Endpoint, Names, Output};

fn endpoint(
    signal: &Signal,
    doing: &'static str,
    warned: &Arc<AtomicBool>,
    build: &Build<'_>,
) -> Endpoint {
    Endpoint::new(
        signal.url.clone(),
        CONTENT_TYPE,
        signal.headers.clone(),
        Names {
            doing,
            credentials: "OTEL_EXPORTER_OTLP_HEADERS or its _METRICS_/_TRACES_ form",
            url_setting: "OTEL_EXPORTER_OTLP_ENDPOINT",
        },
        Some(partial_success),
        warned.clone(),
        build.version,
    )
}

/// The metrics output and the trace output that `otlp` asks for.
pub fn outputs(o: &Otlp, build: Build<'static>) -> (Option<Output>, Option<Output>) {
    let warned = Arc::new(AtomicBool::new(false));
    let metrics = o.metrics.as_ref().map(|signal| {
        let resource = o.resource.clone();
        tracing::debug!(url = %signal.url, "sending the run's metrics over OTLP");
        Output {
            endpoint: endpoint(signal, "send the run's metrics over OTLP", &warned, &build),
            encode: Box::new(move |s, _| Some(otlp::encode_metrics(&s.metrics, &build, &resource))),
            mid_run_timeout: signal.timeout,
        }
    });
    let traces = o.traces.as_ref().map(|signal| {
        let resource = o.resource.clone();
        tracing::debug!(url = %signal.url, "sending the run's trace over OTLP");
        Output {
            endpoint: endpoint(signal, "send the run's trace over OTLP", &warned, &build),
            // Spans are sent once they have all ended: one request per run.
            encode: Box::new(move |s, last| {
                let t = s.trace.as_ref().filter(|_| last)?;
                Some(otlp::encode_spans(t, &t.ended, &build, &resource))
            }),
            mid_run_timeout: signal.timeout,
        }
    });
    (metrics, traces)
}

/// A 2xx answer may still say that the receiver dropped some of what it got
/// (`partialSuccess` with `rejectedDataPoints` or `rejectedSpans` above 0).
fn partial_success(body: &str) -> Result<(), String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return Ok(());
    };
    let Some(p) = v.get("partialSuccess") else {
        return Ok(());
    };
    let rejected = ["rejectedDataPoints", "rejectedSpans"]
        .iter()
        .filter_map(|k| p.get(*k))
        .filter_map(|n| {
            n.as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .or(n.as_u64())
        })
        .sum::<u64>();
    if rejected == 0 {
        return Ok(());
    }
    let said = p
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect::<String>();
    Err(format!("the receiver rejected {rejected} of them: {said}"))
}

#[cfg(test)]
mod tests {
    use super::partial_success;

    #[test]
    fn a_partial_success_that_rejected_something_is_a_failure() {
        assert_eq!(partial_success(""), Ok(()));
        assert_eq!(partial_success("{}"), Ok(()));
        assert_eq!(partial_success(r#"{"partialSuccess":{}}"#), Ok(()));
        assert_eq!(
            partial_success(r#"{"partialSuccess":{"rejectedDataPoints":"0"}}"#),
            Ok(())
        );
        assert_eq!(
            partial_success(r#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}}"#),
            Err("the receiver rejected 2 of them: too old".into())
        );
        assert_eq!(
            partial_success(r#"{"partialSuccess":{"rejectedDataPoints":3}}"#),
            Err("the receiver rejected 3 of them: ".into())
        );
    }
}
