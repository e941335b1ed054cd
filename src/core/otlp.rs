//! OTLP/HTTP JSON bodies (issue 16): the run's [`RunMetrics`] as an `ExportMetricsServiceRequest` and its [`Trace`] as an `ExportTraceServiceRequest`, in OTLP's JSON mapping (lowerCamelCase keys, 64-bit integers as decimal strings, enums as integers, trace and span ids as hex).
//!
//! The metrics are the Pushgateway's, named the OpenTelemetry way (dots, the unit apart), so
//! that Prometheus' OTLP translation gives back the Pushgateway's names: `schemagate.run.duration`
//! in `s` becomes `schemagate_run_duration_seconds`. Values that only grow while the run goes
//! (connection attempts, lock wait, migrations applied or undone, backfill rows) are cumulative
//! monotonic sums that start at the run's start, so a receiver sees each run as a new series
//! start rather than a counter that went down; Prometheus adds `_total` to those.

use serde_json::{Value, json};

use super::metrics::{Build, MIGRATION_SECONDS_BUCKETS, RunMetrics};
use super::trace::{self, Kind, Span, Status, Trace};

/// `Content-Type` of both bodies.
pub const CONTENT_TYPE: &str = "application/json";

/// OTLP's `AggregationTemporality` `CUMULATIVE`.
const CUMULATIVE: u8 = 2;

/// Who made the data: the instrumentation scope of every metric and span.
fn scope(build: &Build<'_>) -> Value {
    json!({ "name": "schemagate", "version": build.version })
}

fn resource(attributes: &[(String, String)]) -> Value {
    json!({
        "attributes": attributes
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": { "stringValue": v } }))
            .collect::<Vec<_>>()
    })
}

/// Nanoseconds since the epoch as OTLP's JSON writes a `fixed64`: a decimal string.
fn nanos(unix_seconds: f64) -> String {
    if unix_seconds.is_finite() && unix_seconds > 0.0 {
        ((unix_seconds * 1e9) as u64).to_string()
    } else {
        "0".into()
    }
}

fn attributes(pairs: &[(&str, &str)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": { "stringValue": v } }))
        .collect()
}

/// The data points of one metric are built with the times every point of a snapshot shares.
struct Points {
    start: String,
    now: String,
}

impl Points {
    fn gauge(&self, value: f64, labels: &[(&str, &str)]) -> Value {
        json!({ "gauge": { "dataPoints": [ self.double(value, labels, false) ] } })
    }

    fn double(&self, value: f64, labels: &[(&str, &str)], with_start: bool) -> Value {
        let mut p = json!({ "timeUnixNano": self.now, "asDouble": value });
        if with_start {
            p["startTimeUnixNano"] = json!(self.start);
        }
        if !labels.is_empty() {
            p["attributes"] = json!(attributes(labels));
        }
        p
    }

    /// A count since the run's start.
    fn count(&self, value: u64) -> Value {
        let mut point = json!({ "startTimeUnixNano": self.start, "timeUnixNano": self.now });
        point["asInt"] = json!(value.to_string());
        sum(point)
    }

    /// Seconds accumulated since the run's start.
    fn seconds_total(&self, value: f64) -> Value {
        sum(self.double(value, &[], true))
    }
}

/// A cumulative monotonic sum of one point: what only grew since the run's start.
fn sum(point: Value) -> Value {
    json!({ "sum": {
        "aggregationTemporality": CUMULATIVE,
        "isMonotonic": true,
        "dataPoints": [point],
    }})
}

fn metric(name: &str, unit: &str, description: &str, data: Value) -> Value {
    let mut m = json!({ "name": name, "description": description, "unit": unit });
    if let (Some(m), Value::Object(data)) = (m.as_object_mut(), data) {
        m.extend(data);
    }
    m
}

/// The `ExportMetricsServiceRequest` of `m`: the same values as the Pushgateway's text, with
/// the same rules (no exit code while the run goes on, the success time only on exit 0).
pub fn encode_metrics(
    m: &RunMetrics,
    build: &Build<'_>,
    resource_attrs: &[(String, String)],
) -> String {
    let now_unix = match &m.ended {
        Some(end) => end.at_unix,
        None => m.started_unix + m.elapsed_seconds,
    };
    let p = Points {
        start: nanos(m.started_unix),
        now: nanos(now_unix),
    };
    let running = m.ended.is_none();
    let mut out = vec![
        metric(
            "schemagate.run.in_progress",
            "",
            "1 while the run is still going, 0 once it has ended.",
            p.gauge(if running { 1.0 } else { 0.0 }, &[]),
        ),
        metric(
            "schemagate.run.start_timestamp",
            "s",
            "When the run started, in Unix time.",
            p.gauge(m.started_unix, &[]),
        ),
        metric(
            "schemagate.run.duration",
            "s",
            "How long the run has taken (so far, while it runs).",
            p.gauge(m.elapsed_seconds, &[]),
        ),
    ];
    if let Some(end) = &m.ended {
        out.push(metric(
            "schemagate.run.exit_code",
            "",
            "Exit code of the run (SPEC 3: 0 ok, 1 migration failed, 124 deadline, ...), its name as outcome.",
            p.gauge(
                f64::from(end.exit_code),
                &[("command", m.command.as_str()), ("outcome", end.outcome.as_str())],
            ),
        ));
        out.push(metric(
            "schemagate.run.end_timestamp",
            "s",
            "When the run ended, in Unix time.",
            p.gauge(end.at_unix, &[]),
        ));
        if end.exit_code == 0 {
            out.push(metric(
                "schemagate.last_success_timestamp",
                "s",
                "When the run ended with exit code 0, in Unix time; sent only then.",
                p.gauge(end.at_unix, &[]),
            ));
        }
    }
    out.extend([
        metric(
            "schemagate.connect.attempts",
            "{attempt}",
            "Connection attempts the run made, over all of its sessions.",
            p.count(m.connect_attempts),
        ),
        metric(
            "schemagate.lock.wait",
            "s",
            "Time the run waited for the migration lock held by another runner.",
            p.seconds_total(m.lock_wait_seconds),
        ),
        metric(
            "schemagate.lint.findings",
            "{finding}",
            "Lint findings of the pending scripts that were not allowed, by severity.",
            json!({ "gauge": { "dataPoints": [
                p.double(m.lint.error as f64, &[("severity", "error")], false),
                p.double(m.lint.warning as f64, &[("severity", "warning")], false),
                p.double(m.lint.info as f64, &[("severity", "info")], false),
            ]}}),
        ),
        metric(
            "schemagate.migrations.applied",
            "{migration}",
            "Migrations the run applied.",
            p.count(m.migrations_applied),
        ),
        metric(
            "schemagate.migrations.undone",
            "{migration}",
            "Applied versions the run undid (schemagate undo).",
            p.count(m.migrations_undone),
        ),
        metric(
            "schemagate.migration.duration",
            "s",
            "Time each migration the run applied took, a backfill's batches included.",
            json!({ "histogram": {
                "aggregationTemporality": CUMULATIVE,
                "dataPoints": [{
                    "startTimeUnixNano": p.start,
                    "timeUnixNano": p.now,
                    "count": m.migration_seconds.count().to_string(),
                    "sum": m.migration_seconds.sum,
                    // Per bucket, not cumulative, one more than the bounds: OTLP's layout is
                    // the one `Histogram` keeps.
                    "bucketCounts": m.migration_seconds.buckets.iter().map(u64::to_string).collect::<Vec<_>>(),
                    "explicitBounds": MIGRATION_SECONDS_BUCKETS,
                }],
            }}),
        ),
    ]);
    if let Some(v) = &m.schema_version {
        out.push(metric(
            "schemagate.schema_version_info",
            "",
            "The schema's version as the run last read or made it.",
            p.gauge(1.0, &[("version", v.as_str())]),
        ));
    }
    out.extend([
        metric(
            "schemagate.deferred_contracts",
            "{script}",
            "Scripts the contract guard held back: a contract script whose older app version is still connected, and every script after it.",
            p.gauge(m.deferred_contracts as f64, &[]),
        ),
        metric(
            "schemagate.backfill.rows",
            "{row}",
            "Rows the backfills of the run changed.",
            p.count(m.backfill_rows),
        ),
        metric(
            "schemagate.backfill.rows_per_second",
            "",
            "Rows per second of the running or last backfill of the run.",
            p.gauge(m.backfill_rows_per_second, &[]),
        ),
        metric(
            "schemagate.build_info",
            "",
            "The schemagate binary that sent this.",
            p.gauge(1.0, &[("version", build.version), ("commit", build.commit)]),
        ),
    ]);
    json!({ "resourceMetrics": [{
        "resource": resource(resource_attrs),
        "scopeMetrics": [{ "scope": scope(build), "metrics": out }],
    }]})
    .to_string()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn any_value(v: &trace::Value) -> Value {
    match v {
        trace::Value::Str(s) => json!({ "stringValue": s }),
        trace::Value::Int(i) => json!({ "intValue": i.to_string() }),
        trace::Value::Bool(b) => json!({ "boolValue": b }),
    }
}

fn span(trace_id: &str, s: &Span) -> Value {
    let mut v = json!({
        "traceId": trace_id,
        "spanId": hex(&s.id.0),
        "name": s.name,
        // SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT.
        "kind": match s.kind { Kind::Internal => 1, Kind::Client => 3 },
        "startTimeUnixNano": s.start_unix_nano.to_string(),
        "endTimeUnixNano": s.end_unix_nano.unwrap_or(s.start_unix_nano).to_string(),
        "attributes": s.attributes.iter()
            .map(|(k, val)| json!({ "key": k, "value": any_value(val) }))
            .collect::<Vec<_>>(),
    });
    if let Some(parent) = s.parent {
        v["parentSpanId"] = json!(hex(&parent.0));
    }
    // STATUS_CODE_OK, STATUS_CODE_ERROR; unset stays out.
    match &s.status {
        Status::Unset => {}
        Status::Ok => v["status"] = json!({ "code": 1 }),
        Status::Error(message) => v["status"] = json!({ "code": 2, "message": message }),
    }
    v
}

/// The `ExportTraceServiceRequest` of `spans` (the ended ones of `t` unless told otherwise).
pub fn encode_spans(
    t: &Trace,
    spans: &[Span],
    build: &Build<'_>,
    resource_attrs: &[(String, String)],
) -> String {
    let trace_id = hex(&t.id.0);
    json!({ "resourceSpans": [{
        "resource": resource(resource_attrs),
        "scopeSpans": [{
            "scope": scope(build),
            "spans": spans.iter().map(|s| span(&trace_id, s)).collect::<Vec<_>>(),
        }],
    }]})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::metrics::LintCounts;
    use crate::core::trace::{SpanId, TraceId};

    const BUILD: Build<'static> = Build {
        version: "0.1.0",
        commit: "abc123",
    };

    fn res() -> Vec<(String, String)> {
        vec![
            ("service.name".into(), "schemagate".into()),
            ("k8s.namespace.name".into(), "shop".into()),
        ]
    }

    fn body(m: &RunMetrics) -> Value {
        serde_json::from_str(&encode_metrics(m, &BUILD, &res())).unwrap()
    }

    fn metrics(v: &Value) -> &Vec<Value> {
        v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .unwrap()
    }

    fn find<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
        metrics(v).iter().find(|m| m["name"] == name)
    }

    use crate::core::metrics::tests::finished;

    #[test]
    fn a_successful_run() {
        let mut m = finished(0, "ok");
        m.connect_attempts = 3;
        m.migrations_applied = 2;
        m.schema_version = Some("7.1".into());
        m.lint = LintCounts {
            error: 0,
            warning: 2,
            info: 1,
        };
        let v = body(&m);
        assert_eq!(
            v["resourceMetrics"][0]["resource"]["attributes"][1],
            json!({ "key": "k8s.namespace.name", "value": { "stringValue": "shop" } })
        );
        assert_eq!(
            v["resourceMetrics"][0]["scopeMetrics"][0]["scope"],
            json!({ "name": "schemagate", "version": "0.1.0" })
        );
        let exit = &find(&v, "schemagate.run.exit_code").unwrap()["gauge"]["dataPoints"][0];
        assert_eq!(exit["asDouble"], 0.0);
        assert_eq!(exit["timeUnixNano"], "1700000002500000000");
        assert_eq!(
            exit["attributes"],
            json!([
                { "key": "command", "value": { "stringValue": "migrate" } },
                { "key": "outcome", "value": { "stringValue": "ok" } },
            ])
        );
        let success = find(&v, "schemagate.last_success_timestamp").unwrap();
        assert_eq!(success["unit"], "s");
        assert_eq!(
            success["gauge"]["dataPoints"][0]["asDouble"],
            1_700_000_002.5
        );
        let applied = &find(&v, "schemagate.migrations.applied").unwrap()["sum"];
        assert_eq!(applied["aggregationTemporality"], 2);
        assert_eq!(applied["isMonotonic"], true);
        assert_eq!(applied["dataPoints"][0]["asInt"], "2", "int64 as a string");
        assert_eq!(
            applied["dataPoints"][0]["startTimeUnixNano"],
            "1700000000000000000"
        );
        assert_eq!(
            find(&v, "schemagate.connect.attempts").unwrap()["sum"]["dataPoints"][0]["asInt"],
            "3"
        );
        let info = &find(&v, "schemagate.schema_version_info").unwrap()["gauge"]["dataPoints"][0];
        assert_eq!(info["asDouble"], 1.0);
        assert_eq!(info["attributes"][0]["value"]["stringValue"], "7.1");
        let lint = find(&v, "schemagate.lint.findings").unwrap()["gauge"]["dataPoints"]
            .as_array()
            .unwrap();
        assert_eq!(lint.len(), 3);
        assert_eq!(lint[1]["asDouble"], 2.0);
        assert_eq!(lint[1]["attributes"][0]["value"]["stringValue"], "warning");
    }

    #[test]
    fn a_failed_or_running_run_sends_no_success_time() {
        let v = body(&finished(124, "deadline"));
        assert!(find(&v, "schemagate.last_success_timestamp").is_none());
        assert_eq!(
            find(&v, "schemagate.run.exit_code").unwrap()["gauge"]["dataPoints"][0]["asDouble"],
            124.0
        );
        let running = RunMetrics {
            started_unix: 1_700_000_000.0,
            elapsed_seconds: 10.0,
            ..RunMetrics::default()
        };
        let v = body(&running);
        for absent in [
            "schemagate.run.exit_code",
            "schemagate.run.end_timestamp",
            "schemagate.last_success_timestamp",
            "schemagate.schema_version_info",
        ] {
            assert!(find(&v, absent).is_none(), "{absent}");
        }
        let p = &find(&v, "schemagate.run.in_progress").unwrap()["gauge"]["dataPoints"][0];
        assert_eq!(p["asDouble"], 1.0);
        assert_eq!(p["timeUnixNano"], "1700000010000000000", "start + elapsed");
    }

    #[test]
    fn the_histogram_has_the_pushgateway_buckets_per_bucket() {
        let mut m = finished(0, "ok");
        for s in [0.25, 0.5, 0.5, 45.0, 4000.0] {
            m.migration_seconds.observe(s);
        }
        let v = body(&m);
        let h = &find(&v, "schemagate.migration.duration").unwrap()["histogram"];
        assert_eq!(h["aggregationTemporality"], 2);
        let p = &h["dataPoints"][0];
        assert_eq!(p["count"], "5");
        assert_eq!(p["sum"], 4046.25);
        let bounds: Vec<f64> = serde_json::from_value(p["explicitBounds"].clone()).unwrap();
        assert_eq!(bounds, MIGRATION_SECONDS_BUCKETS);
        let counts: Vec<String> = serde_json::from_value(p["bucketCounts"].clone()).unwrap();
        assert_eq!(counts.len(), bounds.len() + 1);
        // 0.25 is in (0.1, 0.25], both 0.5 in (0.25, 0.5], 45 in (30, 60], 4000 above all.
        let want: Vec<String> = [0, 0, 1, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
            .iter()
            .map(u64::to_string)
            .collect();
        assert_eq!(counts, want);
    }

    #[test]
    fn every_metric_is_named_so_prometheus_translates_it_to_the_pushgateway_name() {
        // Prometheus' OTLP translation: dots to underscores, `s` adds `_seconds`, curly units
        // add nothing, a monotonic sum adds `_total`, a gauge in unit `1` would add `_ratio`.
        let mut m = finished(0, "ok");
        m.schema_version = Some("1".into());
        let text = crate::core::metrics::encode(&m, &BUILD);
        let v = body(&m);
        for metric in metrics(&v) {
            let name = metric["name"].as_str().unwrap();
            let unit = metric["unit"].as_str().unwrap();
            assert_ne!(unit, "1", "{name}");
            assert!(!metric["description"].as_str().unwrap().is_empty());
            let mut prom = name.replace('.', "_");
            if unit == "s" {
                prom.push_str("_seconds");
            }
            let is_sum = metric.get("sum").is_some();
            let base = prom.clone();
            if is_sum {
                prom.push_str("_total");
            }
            assert!(
                text.contains(&format!("# TYPE {base} ")),
                "{name} ({prom}): the Pushgateway has no {base}"
            );
            assert_eq!(is_sum, prom.ends_with("_total"), "{name}");
        }
        assert_eq!(
            metrics(&v).len(),
            text.lines().filter(|l| l.starts_with("# TYPE")).count(),
            "the same metrics as the Pushgateway's text"
        );
    }

    #[test]
    fn spans_in_otlp_json() {
        let mut t = Trace::new(
            TraceId([0xab; 16]),
            SpanId([1; 8]),
            "schemagate migrate",
            1_000,
        );
        t.open(SpanId([2; 8]), "migration V2", Kind::Client, 1_100);
        {
            let s = t.span_mut(SpanId([2; 8])).unwrap();
            s.set("schemagate.migration.version", "2");
            s.set("schemagate.migration.statements", 3u64);
            s.set("schemagate.migration.transactional", true);
            s.status = Status::Error("division by zero".into());
        }
        t.close(SpanId([2; 8]), 1_200);
        t.root_mut().unwrap().status = Status::Ok;
        t.close_all(1_300);
        let v: Value = serde_json::from_str(&encode_spans(&t, &t.ended, &BUILD, &res())).unwrap();
        let spans = v["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap();
        assert_eq!(spans.len(), 2);
        let (child, root) = (&spans[0], &spans[1]);
        assert_eq!(child["traceId"], "ab".repeat(16));
        assert_eq!(child["spanId"], "0202020202020202");
        assert_eq!(child["parentSpanId"], "0101010101010101");
        assert_eq!(child["kind"], 3);
        assert_eq!(child["startTimeUnixNano"], "1100");
        assert_eq!(child["endTimeUnixNano"], "1200");
        assert_eq!(
            child["status"],
            json!({ "code": 2, "message": "division by zero" })
        );
        assert_eq!(
            child["attributes"],
            json!([
                { "key": "schemagate.migration.version", "value": { "stringValue": "2" } },
                { "key": "schemagate.migration.statements", "value": { "intValue": "3" } },
                { "key": "schemagate.migration.transactional", "value": { "boolValue": true } },
            ])
        );
        assert!(root.get("parentSpanId").is_none());
        assert_eq!(root["kind"], 1);
        assert_eq!(root["status"], json!({ "code": 1 }));
        assert_eq!(root["endTimeUnixNano"], "1300");
        assert_eq!(
            v["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "schemagate"
        );
    }

    #[test]
    fn an_unset_status_is_left_out() {
        let mut t = Trace::new(TraceId([0; 16]), SpanId([1; 8]), "r", 5);
        t.close_all(6);
        let v: Value = serde_json::from_str(&encode_spans(&t, &t.ended, &BUILD, &[])).unwrap();
        assert!(
            v["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
                .get("status")
                .is_none()
        );
    }

    #[test]
    fn hex_and_nanos() {
        assert_eq!(hex(&[0, 1, 0xfe, 0xff]), "0001feff");
        assert_eq!(nanos(1.5), "1500000000");
        assert_eq!(nanos(0.0), "0");
        assert_eq!(nanos(f64::NAN), "0");
    }
}
