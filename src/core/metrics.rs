//! The run's metrics (issue 16): the values a run produces, as one plain struct that the run fills where each value arises, and their Prometheus text exposition (format 0.0.4) with the Pushgateway's grouping path.
//!
//! [`RunMetrics`] knows nothing of any wire format, so that an OTLP encoder can read the same
//! values beside [`encode`]. Every value describes the run that pushed last: a mid-run push
//! has no exit code and no success time, and the Pushgateway's POST keeps the earlier run's
//! values of those names until this run ends (see README "Monitoring").

use std::fmt::Write as _;

/// `Content-Type` of [`encode`]'s output: the Pushgateway does not take OpenMetrics.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds, in seconds, of the per-migration duration histogram: from a DDL statement
/// that takes milliseconds to a backfill that takes half an hour (the default buckets of
/// client libraries stop at 10 s, or count milliseconds).
pub const MIGRATION_SECONDS_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// Observations per bucket (not cumulative) of [`MIGRATION_SECONDS_BUCKETS`], the last slot
/// for those above every bound.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub buckets: [u64; MIGRATION_SECONDS_BUCKETS.len() + 1],
    pub sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        let slot = MIGRATION_SECONDS_BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(MIGRATION_SECONDS_BUCKETS.len());
        self.buckets[slot] += 1;
        self.sum += seconds;
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// Lint findings of the pending scripts that were not allowed, by severity (SPEC §8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LintCounts {
    pub error: u64,
    pub warning: u64,
    pub info: u64,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Ended {
    /// SPEC §3's code and its name (`ok`, `migration-failed`, `deadline`, …).
    pub exit_code: u8,
    pub outcome: String,
    pub at_unix: f64,
}

/// What one run did, so far or in all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunMetrics {
    /// The command that runs (`migrate`, `undo`): both change the schema and both send.
    pub command: String,
    pub started_unix: f64,
    pub elapsed_seconds: f64,
    /// `None` while the run goes on.
    pub ended: Option<Ended>,
    /// Connection attempts, over every session of the run.
    pub connect_attempts: u64,
    /// Time spent waiting for the migration lock.
    pub lock_wait_seconds: f64,
    pub lint: LintCounts,
    pub migrations_applied: u64,
    /// Applied versions `undo` undid.
    pub migrations_undone: u64,
    pub migration_seconds: Histogram,
    /// The schema's version as the run last knew it; `None` before the history was read
    /// (and for a schema with none).
    pub schema_version: Option<String>,
    /// Scripts held back by the contract guard: the contract script and every one after it.
    pub deferred_contracts: u64,
    /// Rows the backfills of this run changed.
    pub backfill_rows: u64,
    /// The running (or last) backfill's rows per second, over its whole time in this run.
    pub backfill_rows_per_second: f64,
}

/// What the binary is, for `schemagate_build_info`.
#[derive(Clone, Copy, Debug)]
pub struct Build<'a> {
    pub version: &'a str,
    pub commit: &'a str,
}

/// The text exposition of `m`: HELP and TYPE before each family, no timestamps (the
/// Pushgateway refuses pushed samples that carry one), `\n` line ends.
pub fn encode(m: &RunMetrics, build: &Build<'_>) -> String {
    let mut t = Text(String::new());
    let running = m.ended.is_none();
    t.gauge(
        "schemagate_run_in_progress",
        "1 while the run that pushed last is still going, 0 once it has ended.",
        &[],
        if running { 1.0 } else { 0.0 },
    );
    t.gauge(
        "schemagate_run_start_timestamp_seconds",
        "When the run that pushed last started, in Unix time.",
        &[],
        m.started_unix,
    );
    t.gauge(
        "schemagate_run_duration_seconds",
        "How long the run that pushed last has taken (so far, while it runs).",
        &[],
        m.elapsed_seconds,
    );
    if let Some(end) = &m.ended {
        t.gauge(
            "schemagate_run_exit_code",
            "Exit code of the last run that ended (SPEC 3: 0 ok, 1 migration failed, 124 deadline, ...), its command, its name as outcome.",
            &[("command", m.command.as_str()), ("outcome", end.outcome.as_str())],
            f64::from(end.exit_code),
        );
        t.gauge(
            "schemagate_run_end_timestamp_seconds",
            "When the last run that ended ended, in Unix time.",
            &[],
            end.at_unix,
        );
        if end.exit_code == 0 {
            t.gauge(
                "schemagate_last_success_timestamp_seconds",
                "When a run last ended with exit code 0, in Unix time; pushed only then, so a failed run leaves it.",
                &[],
                end.at_unix,
            );
        }
    }
    t.gauge(
        "schemagate_connect_attempts",
        "Connection attempts the run made, over all of its sessions.",
        &[],
        m.connect_attempts as f64,
    );
    t.gauge(
        "schemagate_lock_wait_seconds",
        "Time the run waited for the migration lock held by another runner.",
        &[],
        m.lock_wait_seconds,
    );
    t.family(
        "schemagate_lint_findings",
        "Lint findings of the pending scripts that were not allowed, by severity.",
        "gauge",
    );
    for (severity, n) in [
        ("error", m.lint.error),
        ("warning", m.lint.warning),
        ("info", m.lint.info),
    ] {
        t.sample(
            "schemagate_lint_findings",
            &[("severity", severity)],
            n as f64,
        );
    }
    t.gauge(
        "schemagate_migrations_applied",
        "Migrations the run applied.",
        &[],
        m.migrations_applied as f64,
    );
    t.gauge(
        "schemagate_migrations_undone",
        "Applied versions the run undid (schemagate undo).",
        &[],
        m.migrations_undone as f64,
    );
    t.histogram(
        "schemagate_migration_duration_seconds",
        "Time each migration the run applied took, a backfill's batches included.",
        &m.migration_seconds,
    );
    if let Some(v) = &m.schema_version {
        t.gauge(
            "schemagate_schema_version_info",
            "The schema's version as the run last read or made it.",
            &[("version", v.as_str())],
            1.0,
        );
    }
    t.gauge(
        "schemagate_deferred_contracts",
        "Scripts the contract guard held back: a contract script whose older app version is still connected, and every script after it.",
        &[],
        m.deferred_contracts as f64,
    );
    t.gauge(
        "schemagate_backfill_rows",
        "Rows the backfills of the run changed.",
        &[],
        m.backfill_rows as f64,
    );
    t.gauge(
        "schemagate_backfill_rows_per_second",
        "Rows per second of the running or last backfill of the run.",
        &[],
        m.backfill_rows_per_second,
    );
    t.gauge(
        "schemagate_build_info",
        "The schemagate binary that pushed.",
        &[("version", build.version), ("commit", build.commit)],
        1.0,
    );
    t.0
}

struct Text(String);

impl Text {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", number(value));
    }

    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.family(name, help, "gauge");
        self.sample(name, labels, value);
    }

    fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.family(name, help, "histogram");
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (le, n) in MIGRATION_SECONDS_BUCKETS.iter().zip(h.buckets) {
            cumulative += n;
            self.sample(&bucket, &[("le", number(*le).as_str())], cumulative as f64);
        }
        self.sample(&bucket, &[("le", "+Inf")], h.count() as f64);
        self.sample(&format!("{name}_sum"), &[], h.sum);
        self.sample(&format!("{name}_count"), &[], h.count() as f64);
    }
}

/// A sample value as the text format writes it: Go's `ParseFloat` reads Rust's shortest
/// round-trip form; the non-finite values have their own spellings.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Pushgateway path of a group: `/metrics/job/<job>` and each `/<label>/<value>`. A value
/// that cannot be one path segment as it is (empty, holding `/`, or a dot segment a client
/// would fold away) goes as `<label>@base64/<base64url>`, the Pushgateway's escape for it;
/// any other value is percent-encoded.
pub fn push_path(job: &str, labels: &[(&str, &str)]) -> String {
    let mut out = String::from("/metrics");
    for (name, value) in std::iter::once(&("job", job)).chain(labels) {
        out.push('/');
        out.push_str(name);
        if value.is_empty() {
            // The Pushgateway's spelling of an empty value: base64 of nothing is nothing,
            // and an empty segment would end the path.
            out.push_str("@base64/=");
        } else if value.contains('/') || *value == "." || *value == ".." {
            out.push_str("@base64/");
            out.push_str(&base64(value.as_bytes(), BASE64URL));
        } else {
            out.push('/');
            out.push_str(&percent_encode(value));
        }
    }
    out
}

/// RFC 3986's unreserved characters stay; every other byte becomes `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// RFC 4648's base64 alphabet (§4), as HTTP basic auth uses it.
pub const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// RFC 4648's URL-safe alphabet (§5), as the Pushgateway's `@base64` path segments use it.
pub const BASE64URL: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with padding in `alphabet`.
pub fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const BUILD: Build<'static> = Build {
        version: "0.1.0",
        commit: "abc123",
    };

    fn lines(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    fn sample<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        lines(text)
            .into_iter()
            .find(|l| l.starts_with(prefix) && l[prefix.len()..].starts_with([' ', '{']))
    }

    /// A `migrate` of 2.5 s that ended with `code`; the OTLP encoder's tests share it.
    pub(crate) fn finished(code: u8, outcome: &str) -> RunMetrics {
        RunMetrics {
            command: "migrate".into(),
            started_unix: 1_700_000_000.0,
            elapsed_seconds: 2.5,
            ended: Some(Ended {
                exit_code: code,
                outcome: outcome.into(),
                at_unix: 1_700_000_002.5,
            }),
            ..RunMetrics::default()
        }
    }

    #[test]
    fn a_successful_run_pushes_its_exit_code_and_success_time() {
        let mut m = finished(0, "ok");
        m.migrations_applied = 2;
        m.schema_version = Some("7.1".into());
        m.connect_attempts = 3;
        let text = encode(&m, &BUILD);
        assert_eq!(
            sample(&text, "schemagate_run_in_progress"),
            Some("schemagate_run_in_progress 0")
        );
        assert_eq!(
            sample(&text, "schemagate_run_exit_code"),
            Some("schemagate_run_exit_code{command=\"migrate\",outcome=\"ok\"} 0")
        );
        assert_eq!(
            sample(&text, "schemagate_last_success_timestamp_seconds"),
            Some("schemagate_last_success_timestamp_seconds 1700000002.5")
        );
        assert_eq!(
            sample(&text, "schemagate_schema_version_info"),
            Some("schemagate_schema_version_info{version=\"7.1\"} 1")
        );
        assert_eq!(
            sample(&text, "schemagate_migrations_applied"),
            Some("schemagate_migrations_applied 2")
        );
        assert_eq!(
            sample(&text, "schemagate_connect_attempts"),
            Some("schemagate_connect_attempts 3")
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_failed_run_leaves_the_last_success_alone() {
        let text = encode(&finished(124, "deadline"), &BUILD);
        assert_eq!(
            sample(&text, "schemagate_run_exit_code"),
            Some("schemagate_run_exit_code{command=\"migrate\",outcome=\"deadline\"} 124")
        );
        assert!(!text.contains("schemagate_last_success_timestamp_seconds"));
    }

    #[test]
    fn a_running_run_has_no_outcome_yet() {
        let m = RunMetrics {
            started_unix: 1.0,
            elapsed_seconds: 10.0,
            backfill_rows: 5000,
            backfill_rows_per_second: 512.5,
            ..RunMetrics::default()
        };
        let text = encode(&m, &BUILD);
        assert_eq!(
            sample(&text, "schemagate_run_in_progress"),
            Some("schemagate_run_in_progress 1")
        );
        for absent in [
            "schemagate_run_exit_code",
            "schemagate_run_end_timestamp_seconds",
            "schemagate_last_success_timestamp_seconds",
            "schemagate_schema_version_info",
        ] {
            assert!(!text.contains(absent), "{absent}");
        }
        assert_eq!(
            sample(&text, "schemagate_backfill_rows"),
            Some("schemagate_backfill_rows 5000")
        );
        assert_eq!(
            sample(&text, "schemagate_backfill_rows_per_second"),
            Some("schemagate_backfill_rows_per_second 512.5")
        );
    }

    #[test]
    fn every_family_has_help_and_type_once_before_its_samples() {
        let mut m = finished(0, "ok");
        m.schema_version = Some("1".into());
        let text = encode(&m, &BUILD);
        let mut typed = std::collections::BTreeSet::new();
        let mut last_type: Option<(String, String)> = None;
        let mut helped = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped = Some(rest.split(' ').next().unwrap().to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(helped.as_deref(), Some(name), "HELP before TYPE of {name}");
                assert!(typed.insert(name.to_string()), "{name} typed twice");
                assert!(name.starts_with("schemagate_"), "{name}");
                last_type = Some((name.into(), kind.into()));
            } else {
                let (family, kind) = last_type.clone().expect("a sample before any TYPE");
                let name = line.split([' ', '{']).next().unwrap();
                let ok = if kind == "histogram" {
                    ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| name == format!("{family}{s}"))
                } else {
                    name == family
                };
                assert!(ok, "{name} under TYPE {family} {kind}");
            }
        }
        assert!(typed.len() >= 15, "{typed:?}");
    }

    #[test]
    fn the_histogram_is_cumulative_and_ends_with_inf() {
        let mut m = finished(0, "ok");
        for s in [0.25, 0.5, 0.5, 45.0, 4000.0] {
            m.migration_seconds.observe(s);
        }
        let text = encode(&m, &BUILD);
        let bucket = |le: &str| {
            lines(&text)
                .into_iter()
                .find(|l| {
                    l.starts_with(&format!(
                        "schemagate_migration_duration_seconds_bucket{{le=\"{le}\"}} "
                    ))
                })
                .map(|l| l.rsplit(' ').next().unwrap().to_string())
        };
        assert_eq!(bucket("0.05").as_deref(), Some("0"));
        assert_eq!(bucket("0.25").as_deref(), Some("1"), "a bound is inclusive");
        assert_eq!(bucket("0.5").as_deref(), Some("3"));
        assert_eq!(bucket("60").as_deref(), Some("4"));
        assert_eq!(bucket("1800").as_deref(), Some("4"));
        assert_eq!(bucket("+Inf").as_deref(), Some("5"));
        assert_eq!(
            sample(&text, "schemagate_migration_duration_seconds_count"),
            Some("schemagate_migration_duration_seconds_count 5")
        );
        assert_eq!(
            sample(&text, "schemagate_migration_duration_seconds_sum"),
            Some("schemagate_migration_duration_seconds_sum 4046.25")
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut m = finished(0, "ok");
        m.schema_version = Some("a\\b\"c\nd".into());
        let text = encode(&m, &BUILD);
        assert!(
            text.contains("schemagate_schema_version_info{version=\"a\\\\b\\\"c\\nd\"} 1\n"),
            "{text}"
        );
        assert_eq!(escape_help("x\\y\nz"), "x\\\\y\\nz");
    }

    #[test]
    fn numbers_in_the_text_format() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.05), "0.05");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(1_764_770_000.25), "1764770000.25");
    }

    #[test]
    fn lint_findings_come_in_every_severity() {
        let mut m = finished(65, "invalid-migrations");
        m.lint = LintCounts {
            error: 2,
            warning: 1,
            info: 0,
        };
        let text = encode(&m, &BUILD);
        for want in [
            "schemagate_lint_findings{severity=\"error\"} 2",
            "schemagate_lint_findings{severity=\"warning\"} 1",
            "schemagate_lint_findings{severity=\"info\"} 0",
        ] {
            assert!(text.contains(want), "{want}");
        }
    }

    #[test]
    fn push_paths_escape_what_a_segment_cannot_hold() {
        assert_eq!(
            push_path(
                "schemagate",
                &[
                    ("database", "app"),
                    ("schema", "public"),
                    ("table", "schemagate_history")
                ]
            ),
            "/metrics/job/schemagate/database/app/schema/public/table/schemagate_history"
        );
        assert_eq!(
            push_path("a/b", &[("database", ""), ("schema", "..")]),
            "/metrics/job@base64/YS9i/database@base64/=/schema@base64/Li4="
        );
        assert_eq!(
            push_path("j", &[("table", "my table%?#")]),
            "/metrics/job/j/table/my%20table%25%3F%23"
        );
        assert_eq!(
            push_path("j", &[("schema", "Ünï")]),
            "/metrics/job/j/schema/%C3%9Cn%C3%AF"
        );
    }

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes(), BASE64), encoded);
        }
        assert_eq!(base64(b"/var/tmp", BASE64URL), "L3Zhci90bXA=");
        assert_eq!(base64(&[0xfb, 0xff], BASE64), "+/8=");
        assert_eq!(base64(&[0xfb, 0xff], BASE64URL), "-_8=");
    }
}
