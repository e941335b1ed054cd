//! What the OTLP tests send to: tests/otlp/receiver.py, the OpenTelemetry project's own protobuf classes (PyPI `opentelemetry-proto`) decoding each body strictly, on a port of its own; what it received is read back as the decoded messages.
//!
//! A missing receiver venv fails the test with the fix, with `CI=true` or without: it never
//! skips.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{in_ci, spawn_tied};

const VENV_PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/otlp-venv/bin/python");
const RECEIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/receiver.py");

/// One request the receiver got: `decoded` is the message (`None` with `error` when the
/// body did not decode).
#[derive(Clone, Debug)]
pub struct OtlpRequest {
    pub path: String,
    /// Names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub decoded: Option<Value>,
    pub error: Option<String>,
}

/// The receiver process; killed on drop.
pub struct OtlpReceiver {
    child: Child,
    pub port: u16,
}

impl OtlpReceiver {
    pub fn start() -> OtlpReceiver {
        if !Path::new(VENV_PYTHON).is_file() {
            let why = if in_ci() {
                "CI=true: a missing receiver is a failure, never a skip"
            } else {
                "the OTLP tests fail rather than skip without it"
            };
            panic!("{VENV_PYTHON} is missing ({why}): `make deps` (or `make otlp-deps`) makes it");
        }
        let mut cmd = Command::new(VENV_PYTHON);
        cmd.arg(RECEIVER)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = spawn_tied(cmd, libc::SIGKILL).expect("start the OTLP receiver");
        // The receiver picks its port and says it once it listens: no race for a free port.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the OTLP receiver's first line");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the OTLP receiver did not start: {line:?}"));
        OtlpReceiver { child, port }
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<OtlpRequest> {
        let text = ureq::get(format!("{}/received", self.url()))
            .config()
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .call()
            .expect("ask the OTLP receiver")
            .body_mut()
            .read_to_string()
            .unwrap();
        let all: Vec<Value> = serde_json::from_str(&text).unwrap();
        all.into_iter()
            .map(|r| OtlpRequest {
                path: r["path"].as_str().unwrap_or_default().to_string(),
                headers: serde_json::from_value(r["headers"].clone()).unwrap_or_default(),
                decoded: Some(r["decoded"].clone()).filter(|d| !d.is_null()),
                error: r["error"].as_str().map(str::to_string),
            })
            .collect()
    }

    /// Every request to `path`, each of which must have decoded.
    pub fn decoded(&self, path: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .map(|r| {
                r.decoded
                    .unwrap_or_else(|| panic!("{path} did not decode: {:?}", r.error))
            })
            .collect()
    }

    /// The last metrics request.
    pub fn last_metrics(&self) -> Metrics {
        let all = self.decoded("/v1/metrics");
        Metrics(
            all.last()
                .cloned()
                .unwrap_or_else(|| panic!("no metrics were received")),
        )
    }

    /// Every span received, over all trace requests.
    pub fn spans(&self) -> Vec<Value> {
        self.decoded("/v1/traces")
            .iter()
            .flat_map(|d| {
                d["resourceSpans"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|rs| rs["scopeSpans"].as_array().cloned().unwrap_or_default())
                    .flat_map(|ss| ss["spans"].as_array().cloned().unwrap_or_default())
            })
            .collect()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An attribute list (`[{key, value: {stringValue|intValue|boolValue}}]`) as a map of text.
pub fn attrs(list: &Value) -> BTreeMap<String, String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|kv| {
                    let v = &kv["value"];
                    let text = v
                        .get("stringValue")
                        .or_else(|| v.get("intValue"))
                        .or_else(|| v.get("boolValue"))
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .unwrap_or_default();
                    (kv["key"].as_str().unwrap_or_default().to_string(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One decoded ExportMetricsServiceRequest.
#[derive(Clone, Debug)]
pub struct Metrics(pub Value);

impl Metrics {
    pub fn resource(&self) -> BTreeMap<String, String> {
        attrs(&self.0["resourceMetrics"][0]["resource"]["attributes"])
    }

    pub fn metric(&self, name: &str) -> Option<Value> {
        self.0["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()?
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
    }

    /// The value of `name`'s one data point whose attributes include `labels`; a gauge's
    /// `asDouble` or a sum's `asInt`/`asDouble` (protobuf's JSON leaves out a zero int).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let m = self.metric(name)?;
        let data = m.get("gauge").or_else(|| m.get("sum"))?;
        let points: Vec<&Value> = data["dataPoints"]
            .as_array()?
            .iter()
            .filter(|p| {
                let a = attrs(&p["attributes"]);
                labels
                    .iter()
                    .all(|(k, v)| a.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(points.len() <= 1, "{name} {labels:?}: {points:?}");
        let p = points.first()?;
        Some(
            p.get("asDouble")
                .and_then(Value::as_f64)
                .or_else(|| p.get("asInt").and_then(|i| i.as_str()?.parse().ok()))
                .unwrap_or(0.0),
        )
    }
}
