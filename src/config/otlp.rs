//! `OTEL_*` (issue 16): where a run's OTLP/HTTP metrics and trace go, with which headers, time-out and resource — OpenTelemetry's own variables, validated, with no header value in any message.
//!
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL (`/v1/metrics` and `/v1/traces` are added);
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` and `_TRACES_ENDPOINT` are used as given. Each
//! per-signal `_HEADERS`, `_TIMEOUT`, `_PROTOCOL` wins over the general one. Only OTLP/HTTP
//! with JSON is sent: a demand for protobuf or gRPC is refused (78) with what to set, rather
//! than sent in a format the receiver was not told to expect. Nothing is sent unless an
//! endpoint is given (the specification's `http://localhost:4318` default would reach nothing
//! in a Job's pod), and nothing with `OTEL_SDK_DISABLED=true`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::conn::Secret;
use super::conninfo;
use super::pushgateway::parse_url;
use super::values::parse_bool;

/// `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names one.
pub const DEFAULT_SERVICE_NAME: &str = "schemagate";
/// The specification's default of `OTEL_EXPORTER_OTLP_TIMEOUT`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const EXAMPLE: &str = "http://otel-collector.monitoring:4318";

/// Where one signal goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// The full URL, without userinfo: it can be logged.
    pub url: String,
    /// Header name and value; the values are credentials as often as not, never shown.
    pub headers: Vec<(String, Secret)>,
    /// The limit of one request (the run's end still waits less: see `telemetry`).
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Otlp {
    pub metrics: Option<Signal>,
    pub traces: Option<Signal>,
    /// The resource's attributes, `service.name` first: none of them is a secret.
    pub resource: Vec<(String, String)>,
}

#[derive(Clone, Copy)]
enum Which {
    Metrics,
    Traces,
}

impl Which {
    fn upper(self) -> &'static str {
        match self {
            Which::Metrics => "METRICS",
            Which::Traces => "TRACES",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Which::Metrics => "/v1/metrics",
            Which::Traces => "/v1/traces",
        }
    }
}

struct Vars<'a> {
    env: &'a BTreeMap<String, String>,
    problems: &'a mut Vec<String>,
    warnings: &'a mut Vec<String>,
}

impl Vars<'_> {
    /// Both signals read the general variables: what is wrong with one is said once.
    fn problem(&mut self, message: String) {
        if !self.problems.contains(&message) {
            self.problems.push(message);
        }
    }

    fn warn(&mut self, message: String) {
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The per-signal variable if set, else the general one, with the name it came from.
    fn either(&self, w: Which, suffix: &str) -> Option<(String, &str)> {
        let specific = format!("OTEL_EXPORTER_OTLP_{}_{suffix}", w.upper());
        let general = format!("OTEL_EXPORTER_OTLP_{suffix}");
        match self.get(&specific) {
            Some(v) => Some((specific, v)),
            None => self.get(&general).map(|v| (general, v)),
        }
    }

    fn signal(&mut self, w: Which) -> Option<Signal> {
        let exporter = format!("OTEL_{}_EXPORTER", w.upper());
        match self.get(&exporter).map(str::to_ascii_lowercase).as_deref() {
            None | Some("otlp") => {}
            Some("none") => return None,
            Some(other) => {
                self.problem(format!(
                    "{exporter}={other:?}: schemagate exports over OTLP only; set otlp, or none to send no {}",
                    w.upper().to_ascii_lowercase()
                ));
                return None;
            }
        }
        let (name, raw, path) =
            match self.get(&format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", w.upper())) {
                Some(url) => (
                    format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", w.upper()),
                    url,
                    "",
                ),
                None => (
                    "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
                    self.get("OTEL_EXPORTER_OTLP_ENDPOINT")?,
                    w.path(),
                ),
            };
        let parsed = match parse_url(raw, EXAMPLE) {
            Ok(p) => p,
            Err(why) => {
                self.problem(format!("{name} {why}"));
                return None;
            }
        };
        if parsed.userinfo.is_some() {
            self.problem(format!(
                "{name} holds a user or password (not shown); give credentials as a header instead: OTEL_EXPORTER_OTLP_HEADERS=Authorization=Basic%20<base64 of user:password>"
            ));
            return None;
        }
        self.protocol(w)?;
        let headers = match self.either(w, "HEADERS") {
            Some((var, text)) => match headers(text) {
                Ok(h) => h,
                Err(why) => {
                    self.problem(format!("{var} {why}"));
                    return None;
                }
            },
            None => Vec::new(),
        };
        let timeout = match self.either(w, "TIMEOUT") {
            Some((var, text)) => match text.parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    self.problem(format!(
                        "{var}={text:?} is not a number of milliseconds above 0 (OpenTelemetry's unit for it), e.g. 10000"
                    ));
                    return None;
                }
            },
            None => DEFAULT_TIMEOUT,
        };
        if let Some((var, text)) = self.either(w, "COMPRESSION")
            && !text.eq_ignore_ascii_case("none")
        {
            self.warn(format!(
                "{var}={text:?}: schemagate sends OTLP uncompressed (a run's body is a few kilobytes); every receiver takes that"
            ));
        }
        for suffix in ["CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"] {
            if let Some((var, _)) = self.either(w, suffix) {
                self.warn(format!(
                    "{var} is not supported: OTLP over https is verified against the built-in web PKI roots, without a client certificate"
                ));
            }
        }
        Some(Signal {
            url: format!("{}{path}", parsed.url),
            headers,
            timeout,
        })
    }

    /// `Some(())` when the protocol is JSON over HTTP (or unset).
    fn protocol(&mut self, w: Which) -> Option<()> {
        let Some((var, text)) = self.either(w, "PROTOCOL") else {
            return Some(());
        };
        let fix = format!(
            "set {var}=http/json (or unset it); every OTLP/HTTP receiver (the OpenTelemetry Collector's otlp receiver on port 4318, Tempo, Jaeger, Prometheus' /api/v1/otlp) takes JSON"
        );
        let why = match text.to_ascii_lowercase().as_str() {
            "http/json" => return Some(()),
            "http/protobuf" => format!(
                "{var}=http/protobuf: schemagate sends OTLP/HTTP as JSON only (no protobuf encoder is built in); {fix}"
            ),
            "grpc" => format!(
                "{var}=grpc: schemagate sends OTLP over HTTP, not gRPC; {fix}, and point the endpoint at the receiver's HTTP port (4318, not gRPC's 4317)"
            ),
            _ => format!(
                "{var}={text:?} is not an OTLP protocol (grpc, http/protobuf, http/json); {fix}"
            ),
        };
        self.problem(why);
        None
    }

    fn resource(&mut self, version: &str) -> Vec<(String, String)> {
        let mut attrs = match self.get("OTEL_RESOURCE_ATTRIBUTES") {
            Some(text) => match pairs(text, "an attribute") {
                Ok(p) => p,
                Err(why) => {
                    self.problem(format!("OTEL_RESOURCE_ATTRIBUTES {why}"));
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        // The specification: OTEL_SERVICE_NAME wins over the attribute.
        let name = self
            .get("OTEL_SERVICE_NAME")
            .map(str::to_string)
            .or_else(|| take(&mut attrs, "service.name"))
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string());
        attrs.retain(|(k, _)| k != "service.name");
        let version = take(&mut attrs, "service.version").unwrap_or_else(|| version.to_string());
        let mut out = vec![
            ("service.name".to_string(), name),
            ("service.version".to_string(), version),
        ];
        out.extend(attrs);
        out
    }
}

/// Removes `key` from `attrs`, giving its last value.
fn take(attrs: &mut Vec<(String, String)>, key: &str) -> Option<String> {
    let value = attrs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone());
    attrs.retain(|(k, _)| k != key);
    value
}

/// `key=value,key=value`, each part percent-decoded and trimmed (W3C Baggage's format, which
/// OpenTelemetry's variables use). The reasons never quote a value.
fn pairs(text: &str, what: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, item) in text.split(',').enumerate() {
        if item.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("has no '=' in entry {n}: write key=value,key=value"))?;
        let undecodable = |_| {
            format!(
                "entry {n} does not percent-decode (a '%' that does not start a %XX escape, or not UTF-8); write a literal % as %25"
            )
        };
        let key = conninfo::decode(k.trim(), "").map_err(undecodable)?;
        let value = conninfo::decode(v.trim(), "").map_err(undecodable)?;
        if key.trim().is_empty() {
            return Err(format!("has {what} without a name in entry {n}"));
        }
        out.push((key.trim().to_string(), value.trim().to_string()));
    }
    Ok(out)
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: names that HTTP accepts, values without line breaks.
fn headers(text: &str) -> Result<Vec<(String, Secret)>, String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    pairs(text, "a header")?
        .into_iter()
        .enumerate()
        .map(|(i, (k, v))| {
            if !k.chars().all(token) {
                // A name is not a secret, but a value typed where a name goes may be.
                return Err(format!(
                    "entry {} has a header name that HTTP does not allow (letters, digits and !#$%&'*+-.^_`|~ only)",
                    i + 1
                ));
            }
            if v.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "entry {} ({k}) has a value with a line break or another control character",
                    i + 1
                ));
            }
            Ok((k, Secret::new(v)))
        })
        .collect()
}

/// The OTLP settings, or `None` when nothing is to be sent. `env` holds the `OTEL_*`
/// variables; `version` is schemagate's (`service.version` unless the resource sets one).
pub(crate) fn resolve(
    env: &BTreeMap<String, String>,
    version: &str,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Option<Otlp> {
    let mut v = Vars {
        env,
        problems,
        warnings,
    };
    if let Some(text) = v.get("OTEL_SDK_DISABLED") {
        match parse_bool(text) {
            Ok(true) => return None,
            Ok(false) => {}
            Err(why) => {
                v.problem(format!("OTEL_SDK_DISABLED {why}"));
                return None;
            }
        }
    }
    let metrics = v.signal(Which::Metrics);
    let traces = v.signal(Which::Traces);
    if metrics.is_none() && traces.is_none() {
        return None;
    }
    Some(Otlp {
        resource: v.resource(version),
        metrics,
        traces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ok(pairs: &[(&str, &str)]) -> Option<Otlp> {
        let (mut p, mut w) = (Vec::new(), Vec::new());
        let got = resolve(&env(pairs), "0.1.0", &mut p, &mut w);
        assert!(p.is_empty(), "{p:?}");
        got
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        let (mut p, mut w) = (Vec::new(), Vec::new());
        assert_eq!(resolve(&env(pairs), "0.1.0", &mut p, &mut w), None);
        assert_eq!(p.len(), 1, "{p:?}");
        p.remove(0)
    }

    #[test]
    fn nothing_without_an_endpoint_or_when_disabled() {
        assert_eq!(ok(&[]), None);
        assert_eq!(ok(&[("OTEL_SERVICE_NAME", "x")]), None);
        assert_eq!(
            ok(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "TRUE"),
                // Not even looked at: a disabled SDK does nothing.
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ]),
            None
        );
    }

    #[test]
    fn the_general_endpoint_is_a_base_and_a_signal_endpoint_is_used_as_given() {
        let o = ok(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]).unwrap();
        assert_eq!(o.metrics.unwrap().url, "http://c:4318/v1/metrics");
        assert_eq!(o.traces.as_ref().unwrap().url, "http://c:4318/v1/traces");
        assert_eq!(o.traces.unwrap().timeout, Duration::from_secs(10));
        let o = ok(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c.example/otlp"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://m:9090/api/v1/otlp/v1/metrics",
            ),
        ])
        .unwrap();
        assert_eq!(
            o.metrics.unwrap().url,
            "http://m:9090/api/v1/otlp/v1/metrics"
        );
        assert_eq!(o.traces.unwrap().url, "https://c.example/otlp/v1/traces");
        let o = ok(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://t:4318/v1/traces",
        )])
        .unwrap();
        assert_eq!(o.metrics, None);
        assert_eq!(o.traces.unwrap().url, "http://t:4318/v1/traces");
    }

    #[test]
    fn an_exporter_set_to_none_sends_nothing_of_that_signal() {
        let o = ok(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ])
        .unwrap();
        assert!(o.metrics.is_some() && o.traces.is_none());
        let (mut p, mut w) = (Vec::new(), Vec::new());
        resolve(
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_METRICS_EXPORTER", "prometheus"),
            ]),
            "0",
            &mut p,
            &mut w,
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("OTEL_METRICS_EXPORTER=\"prometheus\""),
            "{p:?}"
        );
    }

    #[test]
    fn headers_and_timeouts_per_signal_win() {
        let o = ok(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20s3cret, X-Tenant = shop",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "X-Scope-OrgID=tr4ces"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "700"),
        ])
        .unwrap();
        let m = o.metrics.unwrap();
        assert_eq!(m.timeout, Duration::from_millis(700));
        let shown: Vec<(&str, &str)> = m
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(
            shown,
            [("Authorization", "Bearer s3cret"), ("X-Tenant", "shop")]
        );
        let t = o.traces.unwrap();
        assert_eq!(t.timeout, Duration::from_millis(2500));
        assert_eq!(t.headers.len(), 1);
        assert_eq!(t.headers[0].1.expose(), "tr4ces");
        assert!(!format!("{t:?}").contains("tr4ces"), "Debug hides values");
    }

    #[test]
    fn the_resource_has_the_service_name_first() {
        let o = ok(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "k8s.namespace.name=shop,service.name=ignored,deployment.environment.name=prod%2Ceu,",
            ),
            ("OTEL_SERVICE_NAME", "shop-migrations"),
        ])
        .unwrap();
        let want: Vec<(String, String)> = [
            ("service.name", "shop-migrations"),
            ("service.version", "0.1.0"),
            ("k8s.namespace.name", "shop"),
            ("deployment.environment.name", "prod,eu"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(o.resource, want);
        let o = ok(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,service.version=9",
            ),
        ])
        .unwrap();
        assert_eq!(o.resource[0].1, "from-attrs");
        assert_eq!(o.resource[1].1, "9");
        let o = ok(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).unwrap();
        assert_eq!(o.resource[0], ("service.name".into(), "schemagate".into()));
    }

    #[test]
    fn protobuf_and_grpc_are_refused_with_what_to_set() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        let e = err(&[base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]);
        assert!(
            e.starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: "),
            "{e}"
        );
        assert!(
            e.contains("set OTEL_EXPORTER_OTLP_PROTOCOL=http/json"),
            "{e}"
        );
        // Both signals refuse it; it is said once.
        let e = err(&[base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
        assert!(e.contains("4317"), "{e}");
        let e = err(&[
            base,
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ]);
        assert!(
            e.starts_with("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc"),
            "{e}"
        );
        assert!(ok(&[base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/JSON")]).is_some());
    }

    #[test]
    fn refusals_never_show_a_header_value_or_a_password() {
        let secret = "hunter2";
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        for (pairs, says) in [
            (
                vec![
                    base,
                    ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization hunter2"),
                ],
                "has no '='",
            ),
            (
                vec![base, ("OTEL_EXPORTER_OTLP_HEADERS", "a=b,hunter2")],
                "entry 2",
            ),
            (
                vec![base, ("OTEL_EXPORTER_OTLP_HEADERS", "Auth=hunter2%zz")],
                "percent-decode",
            ),
            (
                vec![base, ("OTEL_EXPORTER_OTLP_HEADERS", "Bad Name=hunter2")],
                "header name",
            ),
            (
                vec![base, ("OTEL_EXPORTER_OTLP_HEADERS", "A=hunter2%0Ax")],
                "line break",
            ),
            (
                vec![base, ("OTEL_EXPORTER_OTLP_HEADERS", "=hunter2")],
                "without a name",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:hunter2@c:4318")],
                "holds a user or password",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "c:hunter2")],
                "not an http:// or https:// URL",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318?token=hunter2")],
                "query or fragment",
            ),
        ] {
            let (mut p, mut w) = (Vec::new(), Vec::new());
            resolve(&env(&pairs), "0", &mut p, &mut w);
            assert!(!p.is_empty(), "{pairs:?}");
            for problem in &p {
                assert!(problem.contains(says), "{pairs:?}: {problem}");
                assert!(!problem.contains(secret), "{pairs:?}: {problem}");
            }
        }
    }

    #[test]
    fn other_malformed_values() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        assert!(
            err(&[
                base,
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")
            ])
            .contains("milliseconds")
        );
        assert!(err(&[base, ("OTEL_SDK_DISABLED", "maybe")]).contains("OTEL_SDK_DISABLED"));
        let (mut p, mut w) = (Vec::new(), Vec::new());
        let got = resolve(
            &env(&[base, ("OTEL_RESOURCE_ATTRIBUTES", "novalue")]),
            "0",
            &mut p,
            &mut w,
        );
        assert!(got.is_some());
        assert_eq!(
            p,
            ["OTEL_RESOURCE_ATTRIBUTES has no '=' in entry 1: write key=value,key=value"]
        );
        let (mut p, mut w) = (Vec::new(), Vec::new());
        resolve(
            &env(&[base, ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]),
            "0",
            &mut p,
            &mut w,
        );
        assert!(p.is_empty());
        assert_eq!(w.len(), 1, "said once for both signals: {w:?}");
    }
}
