//! End-to-end: `migrate` and `undo` send their metrics and a trace over OTLP/HTTP JSON (issue 16) to a receiver that decodes them strictly with the OpenTelemetry project's protobuf classes — the values after a success and a failure, the resource, the headers, the span tree with its migration attributes and error status, a backfill's batch groups, `undo`'s own; refused protocols; a dead receiver beside a dead Pushgateway costing under 2 s together and never the exit code.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;

const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn warnings(out: &Outcome, containing: &str) -> Vec<String> {
    out.stderr_json_lines()
        .into_iter()
        .filter(|l| {
            l["level"] == "WARN"
                && l["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(containing))
        })
        .map(|l| l.to_string())
        .collect()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"] == name).collect()
}

fn one<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    let found = named(spans, name);
    assert_eq!(found.len(), 1, "one span {name}: {spans:#?}");
    found[0]
}

fn nanos(v: &Value) -> u128 {
    text(v).parse().unwrap()
}

#[test]
fn a_successful_run_sends_its_metrics_with_the_resource_and_headers() {
    let rx = OtlpReceiver::start();
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__b.sql", "CREATE TABLE b (id int);"),
    ]);
    let before = unix_now();
    let out = sg(&db, dir.path())
        .env(ENDPOINT, rx.url())
        .env("OTEL_SERVICE_NAME", "shop-migrations")
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "k8s.namespace.name=shop,deployment.environment.name=prod%2Ceu",
        )
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "X-Tenant=shop,X-Api-Key=k%3Dv",
        )
        .env("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-Scope=traces")
        .run();
    let after = unix_now();
    out.assert_code(0);
    assert!(warnings(&out, "OTLP").is_empty(), "{out}");

    let requests = rx.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths.len(),
        2,
        "one metrics and one trace request: {paths:?}"
    );
    assert!(paths.contains(&"/v1/metrics") && paths.contains(&"/v1/traces"));
    for r in &requests {
        assert!(r.error.is_none(), "{}: {:?}", r.path, r.error);
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        let h = |k: &str| r.headers.get(k).map(String::as_str);
        if r.path == "/v1/metrics" {
            assert_eq!(h("x-tenant"), Some("shop"));
            assert_eq!(h("x-api-key"), Some("k=v"), "percent-decoded");
            assert_eq!(h("x-scope"), None);
        } else {
            // A signal's own headers replace the general ones.
            assert_eq!(h("x-scope"), Some("traces"));
            assert_eq!(h("x-tenant"), None);
        }
    }

    let m = rx.last_metrics();
    let resource = m.resource();
    assert_eq!(resource["service.name"], "shop-migrations");
    assert_eq!(resource["service.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(resource["k8s.namespace.name"], "shop");
    assert_eq!(resource["deployment.environment.name"], "prod,eu");
    assert_eq!(
        m.value(
            "schemagate.run.exit_code",
            &[("command", "migrate"), ("outcome", "ok")]
        ),
        Some(0.0),
        "{:#}",
        m.0
    );
    assert_eq!(m.value("schemagate.run.in_progress", &[]), Some(0.0));
    let success = m.value("schemagate.last_success_timestamp", &[]).unwrap();
    assert!(
        before <= success && success <= after,
        "{before} {success} {after}"
    );
    assert!(m.value("schemagate.run.duration", &[]).unwrap() > 0.0);
    assert_eq!(m.metric("schemagate.run.duration").unwrap()["unit"], "s");
    let applied = m.metric("schemagate.migrations.applied").unwrap();
    assert_eq!(
        applied["sum"]["aggregationTemporality"],
        "AGGREGATION_TEMPORALITY_CUMULATIVE"
    );
    assert_eq!(applied["sum"]["isMonotonic"], true);
    assert_eq!(m.value("schemagate.migrations.applied", &[]), Some(2.0));
    assert_eq!(m.value("schemagate.migrations.undone", &[]), Some(0.0));
    assert!(m.value("schemagate.connect.attempts", &[]).unwrap() >= 2.0);
    assert_eq!(
        m.value("schemagate.schema_version_info", &[("version", "2")]),
        Some(1.0)
    );
    for severity in ["error", "warning", "info"] {
        assert_eq!(
            m.value("schemagate.lint.findings", &[("severity", severity)]),
            Some(0.0)
        );
    }
    let h = &m.metric("schemagate.migration.duration").unwrap()["histogram"];
    assert_eq!(
        h["aggregationTemporality"],
        "AGGREGATION_TEMPORALITY_CUMULATIVE"
    );
    let p = &h["dataPoints"][0];
    assert_eq!(p["count"], "2");
    let bounds = p["explicitBounds"].as_array().unwrap();
    assert_eq!(bounds.len(), 14);
    assert_eq!(bounds[0], 0.05);
    assert_eq!(bounds[13], 1800.0);
    let counts: Vec<u64> = p["bucketCounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| text(c).parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 15);
    assert_eq!(counts.iter().sum::<u64>(), 2);
    assert_eq!(
        m.value(
            "schemagate.build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
}

#[test]
fn a_failed_run_is_a_span_tree_with_the_failing_migration_in_error() {
    let rx = OtlpReceiver::start();
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__boom.sql", "CREATE TABLE b (id int);\nSELECT 1/0;"),
    ]);
    let out = sg(&db, dir.path()).env(ENDPOINT, rx.url()).run();
    out.assert_code(1);

    let m = rx.last_metrics();
    assert_eq!(
        m.value(
            "schemagate.run.exit_code",
            &[("command", "migrate"), ("outcome", "migration-failed")]
        ),
        Some(1.0)
    );
    assert!(m.metric("schemagate.last_success_timestamp").is_none());
    assert_eq!(m.value("schemagate.migrations.applied", &[]), Some(1.0));

    let spans = rx.spans();
    let trace_id = text(&spans[0]["traceId"]).to_string();
    assert_eq!(trace_id.len(), 32);
    assert_ne!(trace_id, "0".repeat(32));
    let mut ids: Vec<&str> = spans.iter().map(|s| text(&s["spanId"])).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), spans.len(), "span ids are unique");
    assert!(spans.iter().all(|s| text(&s["traceId"]) == trace_id));

    let root = one(&spans, "schemagate migrate");
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(root["kind"], "SPAN_KIND_INTERNAL");
    assert_eq!(root["status"]["code"], "STATUS_CODE_ERROR");
    assert!(
        text(&root["status"]["message"]).contains("division by zero"),
        "{root:#}"
    );
    let ra = attrs(&root["attributes"]);
    assert_eq!(ra["schemagate.command"], "migrate");
    assert_eq!(ra["schemagate.exit_code"], "1");
    assert_eq!(ra["schemagate.outcome"], "migration-failed");
    assert_eq!(ra["db.system.name"], "postgresql");
    assert_eq!(ra["db.namespace"], db.name());
    assert_eq!(ra["schemagate.schema_version"], "1");
    let root_id = text(&root["spanId"]);
    let (start, end) = (
        nanos(&root["startTimeUnixNano"]),
        nanos(&root["endTimeUnixNano"]),
    );

    // Every phase is a child of the run, inside its time.
    for s in spans.iter().filter(|s| s["spanId"] != root["spanId"]) {
        assert_eq!(text(&s["parentSpanId"]), root_id, "{s:#}");
        assert_eq!(s["kind"], "SPAN_KIND_CLIENT");
        let (s0, s1) = (nanos(&s["startTimeUnixNano"]), nanos(&s["endTimeUnixNano"]));
        assert!(start <= s0 && s0 <= s1 && s1 <= end, "{s:#}");
    }
    // The migrations' session and the lock's.
    let connects = named(&spans, "connect");
    assert_eq!(connects.len(), 2, "{spans:#?}");
    for c in &connects {
        let a = attrs(&c["attributes"]);
        assert_eq!(a["schemagate.connect.attempts"], "1");
        assert!(!a["server.address"].is_empty());
        assert!(c.get("status").is_none(), "{c:#}");
    }
    let lock = one(&spans, "lock");
    assert!(attrs(&lock["attributes"]).contains_key("schemagate.lock.key"));
    one(&spans, "lint");

    let v1 = one(&spans, "migration V1");
    let a1 = attrs(&v1["attributes"]);
    assert_eq!(a1["schemagate.migration.version"], "1");
    assert_eq!(a1["schemagate.migration.description"], "a");
    assert!(
        a1["schemagate.migration.script"].ends_with("V1__a.sql"),
        "{a1:?}"
    );
    assert_eq!(a1["schemagate.migration.phase"], "expand");
    assert_eq!(a1["schemagate.migration.outcome"], "applied");
    assert_eq!(a1["schemagate.migration.statements"], "1");
    assert!(v1.get("status").is_none(), "{v1:#}");

    let v2 = one(&spans, "migration V2");
    let a2 = attrs(&v2["attributes"]);
    assert_eq!(a2["schemagate.migration.version"], "2");
    assert_eq!(a2["schemagate.migration.description"], "boom");
    assert!(a2["schemagate.migration.script"].ends_with("V2__boom.sql"));
    assert_eq!(a2["schemagate.migration.outcome"], "migration-failed");
    assert_eq!(v2["status"]["code"], "STATUS_CODE_ERROR");
    assert!(
        text(&v2["status"]["message"]).contains("division by zero"),
        "{v2:#}"
    );
    assert!(nanos(&v1["endTimeUnixNano"]) <= nanos(&v2["startTimeUnixNano"]));
    assert!(nanos(&lock["endTimeUnixNano"]) <= nanos(&v1["startTimeUnixNano"]));
}

/// 80 rows, 10 a batch, 70 ms a row: 8 batches of 0.7 s, about 6 s, so the batches fall into
/// two groups (a group closes with the progress line after 5 s).
const BACKFILL_ROWS: u64 = 80;

#[test]
fn a_backfill_is_traced_as_batch_groups_under_its_migration() {
    let rx = OtlpReceiver::start();
    let db = PgServer::shared().fresh_db();
    let dir = slow_backfill_dir(BACKFILL_ROWS);
    sg(&db, dir.path())
        .env(ENDPOINT, rx.url())
        .env("SCHEMAGATE_BATCH_SIZE", "10")
        .run()
        .assert_code(0);
    let spans = rx.spans();
    let fill = one(&spans, "migration V2");
    let a = attrs(&fill["attributes"]);
    assert_eq!(a["schemagate.migration.phase"], "backfill");
    assert_eq!(a["schemagate.migration.outcome"], "applied");
    assert_eq!(a["schemagate.backfill.rows"], BACKFILL_ROWS.to_string());
    let groups = named(&spans, "backfill batches");
    assert!(groups.len() >= 2, "{groups:#?}");
    let mut rows = 0;
    let mut batches = 0;
    for g in &groups {
        assert_eq!(g["parentSpanId"], fill["spanId"], "{g:#}");
        let ga = attrs(&g["attributes"]);
        rows += ga["schemagate.backfill.rows"].parse::<u64>().unwrap();
        batches += ga["schemagate.backfill.batches"].parse::<u64>().unwrap();
        assert_eq!(ga["schemagate.backfill.batch_size"], "10");
    }
    assert_eq!(rows, BACKFILL_ROWS);
    assert_eq!(batches, BACKFILL_ROWS / 10);
    assert_eq!(
        rx.last_metrics().value("schemagate.backfill.rows", &[]),
        Some(BACKFILL_ROWS as f64)
    );
}

#[test]
fn undo_sends_its_metrics_and_trace_too() {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        ("V2__b.sql", "CREATE TABLE b (id int);"),
        ("U2__b.sql", "DROP TABLE b;"),
    ]);
    sg(&db, dir.path()).run().assert_code(0);
    // The older image of a rollback: it lacks V2 and its undo, which the database stored.
    std::fs::remove_file(dir.path().join("V2__b.sql")).unwrap();
    std::fs::remove_file(dir.path().join("U2__b.sql")).unwrap();
    let rx = OtlpReceiver::start();
    sg(&db, dir.path())
        .env(ENDPOINT, rx.url())
        .arg("undo")
        .run()
        .assert_code(0);
    let m = rx.last_metrics();
    assert_eq!(
        m.value(
            "schemagate.run.exit_code",
            &[("command", "undo"), ("outcome", "ok")]
        ),
        Some(0.0),
        "{:#}",
        m.0
    );
    assert_eq!(m.value("schemagate.migrations.undone", &[]), Some(1.0));
    assert_eq!(m.value("schemagate.migrations.applied", &[]), Some(0.0));
    let spans = rx.spans();
    let root = one(&spans, "schemagate undo");
    let undo = one(&spans, "undo V2");
    assert_eq!(undo["parentSpanId"], root["spanId"]);
    let a = attrs(&undo["attributes"]);
    assert_eq!(a["schemagate.migration.version"], "2");
    assert_eq!(a["schemagate.migration.outcome"], "undone");
    assert_eq!(a["schemagate.undo.source"], "stored");
    assert_eq!(
        attrs(&root["attributes"])["schemagate.migrations_undone"],
        "1"
    );
}

#[test]
fn only_migrate_and_undo_send() {
    let rx = OtlpReceiver::start();
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    for command in ["info", "validate", "plan", "wait"] {
        sg(&db, dir.path())
            .env(ENDPOINT, rx.url())
            // `wait` waits for V1 until its deadline.
            .env("SCHEMAGATE_DEADLINE", "2s")
            .arg(command)
            .run();
    }
    assert!(rx.requests().is_empty(), "{:?}", rx.requests());
}

#[test]
fn per_signal_endpoints_are_used_as_given_and_none_turns_a_signal_off() {
    let rx = OtlpReceiver::start();
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
    sg(&db, dir.path())
        .env(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            format!("{}/v1/metrics", rx.url()),
        )
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/v1/traces", rx.url()),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .run()
        .assert_code(0);
    let paths: Vec<String> = rx.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");

    let rx = OtlpReceiver::start();
    let db = PgServer::shared().fresh_db();
    sg(&db, dir.path())
        .env(ENDPOINT, rx.url())
        .env("OTEL_TRACES_EXPORTER", "none")
        .run()
        .assert_code(0);
    let paths: Vec<String> = rx.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/metrics"]);

    let rx = OtlpReceiver::start();
    let db = PgServer::shared().fresh_db();
    sg(&db, dir.path())
        .env(ENDPOINT, rx.url())
        .env("OTEL_SDK_DISABLED", "true")
        .run()
        .assert_code(0);
    assert!(rx.requests().is_empty());
}

#[test]
fn protobuf_and_grpc_are_refused_before_anything_changes() {
    let rx = OtlpReceiver::start();
    for (var, protocol) in [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ] {
        let db = PgServer::shared().fresh_db();
        let dir = migrations_dir(&[("V1__a.sql", "CREATE TABLE a (id int);")]);
        let out = sg(&db, dir.path())
            .env(ENDPOINT, rx.url())
            .env(var, protocol)
            .run();
        out.assert_code(78);
        assert!(
            out.stderr.contains(&format!("{var}={protocol}")),
            "names the variable: {out}"
        );
        assert!(
            out.stderr.contains(&format!("set {var}=http/json")),
            "{out}"
        );
        assert!(
            !db.table_exists(HISTORY) && !db.table_exists("a"),
            "nothing was applied"
        );
    }
    assert!(rx.requests().is_empty());
}

#[test]
fn the_receiver_refuses_a_mistyped_body() {
    // The control: the decoding above proves something only if a wrong key fails it.
    let rx = OtlpReceiver::start();
    let post = |path: &str, body: &str| {
        ureq::post(format!("{}{path}", rx.url()))
            .config()
            .http_status_as_error(false)
            .build()
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        post(
            "/v1/metrics",
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"1"}]}}]}]}]}"#
        ),
        200
    );
    assert_eq!(
        post(
            "/v1/metrics",
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asDoubles":1}]}}]}]}]}"#
        ),
        400
    );
    // A span id in base64, as protobuf's own JSON would write it, is not OTLP's hex.
    assert_eq!(
        post(
            "/v1/traces",
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"q83vEjRWeJA=","spanId":"AQEBAQEBAQE=","name":"x"}]}]}]}"#
        ),
        400
    );
    let got = rx.requests();
    assert_eq!(got.len(), 3);
    assert!(got[0].error.is_none());
    assert!(
        got[1].error.as_deref().unwrap().contains("asDoubles"),
        "{got:?}"
    );
    assert!(
        got[2].error.as_deref().unwrap().contains("not hex"),
        "{got:?}"
    );
}

/// Runs `files` against a fresh database with `extra` settings; the outcome.
fn run_with(extra: &[(&str, String)], files: &[(&str, &str)]) -> Outcome {
    let db = PgServer::shared().fresh_db();
    let dir = migrations_dir(files);
    let mut sg = sg(&db, dir.path());
    for (k, v) in extra {
        sg = sg.env(k, v);
    }
    sg.run()
}

#[test]
fn dead_receivers_cost_under_two_seconds_together_and_never_the_exit_code() {
    let ok: &[(&str, &str)] = &[("V1__a.sql", "CREATE TABLE a (id int);")];
    let failing: &[(&str, &str)] = &[("V1__a.sql", "SELECT 1/0;")];
    let hanging = HttpRecorder::start(Answer::Never);
    let closed = format!("http://127.0.0.1:{}", free_port());
    for (files, code) in [(ok, 0), (failing, 1)] {
        let baseline = run_with(&[], files);
        baseline.assert_code(code);
        for (what, otlp, gateway) in [
            ("both never answer", hanging.url(), hanging.url()),
            ("OTLP closed, gateway hangs", closed.clone(), hanging.url()),
            ("OTLP hangs, gateway closed", hanging.url(), closed.clone()),
        ] {
            let started = Instant::now();
            let out = run_with(
                &[
                    (ENDPOINT, otlp.clone()),
                    ("SCHEMAGATE_PUSHGATEWAY_URL", gateway),
                ],
                files,
            );
            let took = started.elapsed();
            out.assert_code(code);
            let extra = took.saturating_sub(baseline.elapsed);
            assert!(
                extra < Duration::from_secs(2),
                "{what}: the sends cost {extra:?} more than a run without them ({:?})\n{out}",
                baseline.elapsed
            );
            let otlp_warnings = warnings(&out, "OTLP");
            assert_eq!(
                otlp_warnings.len(),
                1,
                "{what}: one OTLP warning for metrics and trace together, not {otlp_warnings:?}\n{out}"
            );
            assert!(
                otlp_warnings[0].contains(&otlp),
                "{what}: {}",
                otlp_warnings[0]
            );
            assert_eq!(warnings(&out, "Pushgateway").len(), 1, "{what}\n{out}");
        }
    }
}
