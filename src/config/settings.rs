//! Validated settings (ripgrep's "hiargs"): [`load`] turns the raw environment into
//! [`Settings`], or into one [`ConfigError`] that lists every problem at once, so that a
//! Kubernetes user fixes a Job in one round instead of one variable per failed pod.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::compare::{self, CompareSettings};
use super::conn::ConnSettings;
use super::connection;
use super::otlp::{self, Otlp};
use super::pushgateway::{self, Pushgateway};
use super::raw::{Env, PREFIX, Raw, SecretFiles};
use super::values::{MAX_IDENTIFIER_BYTES, boolean, bytes, duration, is_version};
use crate::core::backfill::{self, Limits};
use crate::core::compare::filter as compare_filter;
use crate::core::contract::{ContractMode, Release};
use crate::core::discover::{Options as ScriptOptions, ScriptConf};
use crate::core::outcome::{Failure, FailureKind};
use crate::core::placeholders::Syntax;

/// Everything a run needs to know, validated. `Debug` shows no password and no placeholder
/// value.
/// What `migrate` does with lint findings (SPEC §8 "Gate").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintMode {
    /// Refuse with 65 before any change when a pending script has an error finding.
    Enforce,
    /// Log the findings and go on.
    Warn,
    Off,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintSettings {
    pub mode: LintMode,
    pub small_rows: u64,
    pub small_bytes: u64,
    pub allows: Vec<crate::core::lint::allow::EnvAllow>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SCHEMAGATE_DATABASE_URL`/`DATABASE_URL`, then `PG*`, then `SCHEMAGATE_SECRET_DIR`.
    pub conn: ConnSettings,
    /// `SCHEMAGATE_LOCATIONS`, comma-separated; Flyway's `filesystem:` prefix is dropped.
    /// Unset: `/flyway/sql` if it exists (the Flyway image's mount point), else
    /// `SCHEMAGATE_DEFAULT_LOCATIONS` (the image's `/migrations`), else `sql`.
    pub locations: Vec<PathBuf>,
    /// How the scripts are read: `SCHEMAGATE_VALIDATE_NAMING` (`true`; `false` under a
    /// Flyway configuration: a misnamed `.sql` file is skipped with a warning, not refused)
    /// and `SCHEMAGATE_EXECUTE_IN_TRANSACTION` (`false`: every script without its own
    /// `.sql.conf` runs outside a transaction, as Flyway's `executeInTransaction=false`).
    pub scripts: ScriptOptions,
    /// `SCHEMAGATE_SCHEMA` (`public`), at most 63 bytes, any characters.
    pub schema: String,
    /// `SCHEMAGATE_OTHER_SCHEMAS`: further schemas created (when missing) with the history
    /// table, as Flyway creates every one of its `schemas`.
    pub other_schemas: Vec<String>,
    /// `SCHEMAGATE_CREATE_SCHEMAS` (`true`): `false` never creates a schema; a missing one
    /// stops the run (78), as Flyway's `createSchemas=false`.
    pub create_schemas: bool,
    /// `SCHEMAGATE_TABLE` (`schemagate_history`), at most 63 bytes, any characters.
    pub table: String,
    /// `SCHEMAGATE_INSTALLED_BY`: the history's `installed_by`; `None` is the database user.
    pub installed_by: Option<String>,
    /// `SCHEMAGATE_TARGET`: `None` is `latest`; otherwise version text as written (digits
    /// separated by `.` or `_`).
    pub target: Option<String>,
    /// `SCHEMAGATE_OUT_OF_ORDER` (`false`).
    pub out_of_order: bool,
    /// `SCHEMAGATE_IGNORE_MISSING` (`false`).
    pub ignore_missing: bool,
    /// `SCHEMAGATE_PLACEHOLDER_<NAME>[_FILE]`: name lower-cased → value. Values may be secrets.
    pub placeholders: BTreeMap<String, String>,
    /// How placeholders are written: `${name}`. Only a Flyway configuration changes it
    /// (`placeholderPrefix`/`placeholderSuffix`); there is no `SCHEMAGATE_*` name for it, as
    /// `SCHEMAGATE_PLACEHOLDER_PREFIX` already means the placeholder `${prefix}`.
    pub placeholder_syntax: Syntax,
    /// `SCHEMAGATE_BASELINE_ON_MIGRATE` (`false`).
    pub baseline_on_migrate: bool,
    /// `SCHEMAGATE_BASELINE_VERSION` (`1`), version text as written, validated like `target`.
    pub baseline_version: String,
    /// `SCHEMAGATE_DEADLINE` (4m), more than 0.
    pub deadline: Duration,
    /// `SCHEMAGATE_WAIT_TIMEOUT` (2m); 0 means one attempt, no retrying.
    pub wait_timeout: Duration,
    /// `SCHEMAGATE_LOCK_WAIT`: `None` is the rest of the deadline; 0 means one try.
    pub lock_wait: Option<Duration>,
    /// `SCHEMAGATE_LOCK_TIMEOUT` (5s), PostgreSQL's `lock_timeout`; 0 disables it, as in
    /// PostgreSQL. At most `i32::MAX` ms.
    pub lock_timeout: Duration,
    /// `SCHEMAGATE_LOCK_RETRIES` (10).
    pub lock_retries: u32,
    /// `SCHEMAGATE_STATEMENT_TIMEOUT`, PostgreSQL's `statement_timeout`; unset or 0 is `None`.
    pub statement_timeout: Option<Duration>,
    /// `SCHEMAGATE_CONTRACT` (`auto`).
    pub contract: ContractMode,
    /// `SCHEMAGATE_APP` and `SCHEMAGATE_APP_VERSION`, both or neither: the release whose
    /// sessions do not hold a contract back.
    pub release: Option<Release>,
    /// `SCHEMAGATE_CONTRACT_SETTLE` (10s): how far apart the guard's two clean looks are.
    pub contract_settle: Duration,
    /// `SCHEMAGATE_CONTRACT_WAIT` (0s: one look): how long old sessions are waited out.
    pub contract_wait: Duration,
    /// `SCHEMAGATE_BATCH_SIZE`, `_BATCH_TIMEOUT`, `_BATCH_PAUSE`, `_MAX_REPLICATION_LAG`,
    /// `_BATCH_MAX`.
    pub backfill: Limits,
    /// `SCHEMAGATE_UNDO_CONTRACT` (`false`): `undo` may run the undo of a contract script,
    /// whose dropped data its undo cannot bring back (SPEC §12).
    pub undo_contract: bool,
    /// `SCHEMAGATE_LINT`, `_LINT_SMALL_ROWS`, `_LINT_SMALL_SIZE`, `_LINT_ALLOW` (SPEC §8).
    pub lint: LintSettings,
    /// `SCHEMAGATE_LOG_FORMAT`: `None` (unset or `auto`) is text on a terminal, else JSON.
    pub log_format: Option<LogFormat>,
    /// `SCHEMAGATE_LOG`, else `RUST_LOG`, else `info`. Not checked here: the logging layer
    /// owns that grammar.
    pub log_filter: String,
    /// `SCHEMAGATE_TERMINATION_LOG` (`/dev/termination-log`).
    pub termination_log: PathBuf,
    /// `SCHEMAGATE_PUSHGATEWAY_URL` and its credentials and job: where `migrate` pushes its
    /// metrics; `None` pushes nothing.
    pub pushgateway: Option<Pushgateway>,
    /// `SCHEMAGATE_COMPARE_*`: the other database `compare` reads; `None` without a URL.
    pub compare: Option<CompareSettings>,
    /// `OTEL_EXPORTER_OTLP_*` and the resource's variables: where `migrate` and `undo` send
    /// their metrics and trace over OTLP/HTTP; `None` sends nothing.
    pub otlp: Option<Otlp>,
    /// What the configuration accepted but the operator should hear about (a setting that
    /// is ignored, a Flyway option without effect here); logged once logging is up.
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A setting that is missing, unknown or malformed, or a secret file that cannot be read.
/// The message names the variable and what it expects, and never holds a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::new(FailureKind::Config, e.message)
    }
}

/// Placeholder names only: a value may be a password meant for `CREATE ROLE`.
struct PlaceholderNames<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for PlaceholderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "***")))
            .finish()
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("conn", &self.conn)
            .field("locations", &self.locations)
            .field("other_schemas", &self.other_schemas)
            .field("create_schemas", &self.create_schemas)
            .field("installed_by", &self.installed_by)
            .field("scripts", &self.scripts)
            .field("schema", &self.schema)
            .field("table", &self.table)
            .field("target", &self.target)
            .field("out_of_order", &self.out_of_order)
            .field("ignore_missing", &self.ignore_missing)
            .field("placeholders", &PlaceholderNames(&self.placeholders))
            .field("placeholder_syntax", &self.placeholder_syntax)
            .field("baseline_on_migrate", &self.baseline_on_migrate)
            .field("baseline_version", &self.baseline_version)
            .field("deadline", &self.deadline)
            .field("wait_timeout", &self.wait_timeout)
            .field("lock_wait", &self.lock_wait)
            .field("lock_timeout", &self.lock_timeout)
            .field("lock_retries", &self.lock_retries)
            .field("statement_timeout", &self.statement_timeout)
            .field("contract", &self.contract)
            .field("release", &self.release)
            .field("contract_settle", &self.contract_settle)
            .field("contract_wait", &self.contract_wait)
            .field("undo_contract", &self.undo_contract)
            .field("backfill", &self.backfill)
            .field("lint", &self.lint)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("termination_log", &self.termination_log)
            .field("pushgateway", &self.pushgateway)
            .field("compare", &self.compare)
            .field("otlp", &self.otlp)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// PostgreSQL keeps `lock_timeout` and `statement_timeout` in an `int` of milliseconds.
/// The official Flyway image's script folder, searched when no location is set.
pub const FLYWAY_SQL: &str = "/flyway/sql";

const MAX_PG_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Reads the whole configuration.
///
/// `env` is the process environment as a list, to which the CLI appends its flag overrides:
/// a later duplicate key wins. `files` reads `NAME_FILE` targets and `SCHEMAGATE_SECRET_DIR`.
pub fn load(env: &[(String, String)], files: &dyn SecretFiles) -> Result<Settings, ConfigError> {
    let env = Env::new(env);
    let unknown = env.unknown_names();
    if !unknown.is_empty() {
        return Err(ConfigError {
            message: unknown.join("; "),
        });
    }
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let raw = env.read(files, &mut problems);
    let settings = Check {
        raw: &raw,
        problems: &mut problems,
        warnings: &mut warnings,
    }
    .settings(files);
    match settings {
        Some(settings) if problems.is_empty() => Ok(settings),
        _ => Err(ConfigError {
            message: problems.join("; "),
        }),
    }
}

/// Validation with every problem collected: each method records what is wrong and returns a
/// stand-in, so one run reports them all.
struct Check<'a> {
    raw: &'a Raw,
    problems: &'a mut Vec<String>,
    warnings: &'a mut Vec<String>,
}

impl Check<'_> {
    fn settings(&mut self, files: &dyn SecretFiles) -> Option<Settings> {
        let s = &self.raw.settings;
        let deadline = self.duration("DEADLINE", &s.deadline, Duration::from_secs(240));
        if deadline.is_zero() {
            self.fail("DEADLINE", "must be longer than 0");
        }
        let wait_timeout = self.duration("WAIT_TIMEOUT", &s.wait_timeout, Duration::from_secs(120));
        let connect_timeout = self.optional_duration("CONNECT_TIMEOUT", &s.connect_timeout);
        if connect_timeout.is_some_and(|d| d.is_zero()) {
            self.fail("CONNECT_TIMEOUT", "must be longer than 0");
        }
        let lock_timeout = self.duration("LOCK_TIMEOUT", &s.lock_timeout, Duration::from_secs(5));
        self.pg_timeout("LOCK_TIMEOUT", Some(lock_timeout));
        let statement_timeout = self
            .optional_duration("STATEMENT_TIMEOUT", &s.statement_timeout)
            .filter(|d| !d.is_zero());
        self.pg_timeout("STATEMENT_TIMEOUT", statement_timeout);

        let conn = connection::resolve(
            self.raw,
            files,
            connect_timeout,
            wait_timeout,
            self.problems,
            self.warnings,
        );

        Some(Settings {
            locations: self.locations(files),
            scripts: ScriptOptions {
                validate_naming: s.validate_naming.is_none()
                    || self.boolean("VALIDATE_NAMING", &s.validate_naming),
                defaults: ScriptConf {
                    // `true` is what a script gets anyway: a transaction unless one of its
                    // statements cannot run in one.
                    execute_in_transaction: (s.execute_in_transaction.is_some()
                        && !self.boolean("EXECUTE_IN_TRANSACTION", &s.execute_in_transaction))
                    .then_some(false),
                    ..ScriptConf::default()
                },
            },
            schema: self.identifier("SCHEMA", &s.schema, "public"),
            other_schemas: self.other_schemas(),
            create_schemas: s.create_schemas.is_none()
                || self.boolean("CREATE_SCHEMAS", &s.create_schemas),
            table: self.identifier("TABLE", &s.table, "schemagate_history"),
            installed_by: self.installed_by(),
            target: self.target(),
            out_of_order: self.boolean("OUT_OF_ORDER", &s.out_of_order),
            ignore_missing: self.boolean("IGNORE_MISSING", &s.ignore_missing),
            placeholders: self.raw.placeholders.clone(),
            placeholder_syntax: Syntax::default(),
            baseline_on_migrate: self.boolean("BASELINE_ON_MIGRATE", &s.baseline_on_migrate),
            baseline_version: self.version("BASELINE_VERSION", &s.baseline_version, "1"),
            deadline,
            wait_timeout,
            lock_wait: self.optional_duration("LOCK_WAIT", &s.lock_wait),
            lock_timeout,
            lock_retries: self.lock_retries(),
            statement_timeout,
            contract: self.contract(),
            release: self.release(),
            contract_settle: self.duration(
                "CONTRACT_SETTLE",
                &s.contract_settle,
                Duration::from_secs(10),
            ),
            contract_wait: self.duration("CONTRACT_WAIT", &s.contract_wait, Duration::ZERO),
            backfill: self.backfill(),
            undo_contract: self.boolean("UNDO_CONTRACT", &s.undo_contract),
            lint: self.lint(),
            log_format: self.log_format(),
            log_filter: s
                .log
                .clone()
                .or_else(|| self.raw.rust_log.clone())
                .unwrap_or_else(|| "info".to_string()),
            termination_log: PathBuf::from(
                s.termination_log
                    .as_deref()
                    .unwrap_or("/dev/termination-log"),
            ),
            pushgateway: pushgateway::resolve(s, self.problems, self.warnings),
            compare: self.compare(files, connect_timeout, wait_timeout),
            otlp: otlp::resolve(
                &self.raw.otel,
                env!("CARGO_PKG_VERSION"),
                self.problems,
                self.warnings,
            ),
            conn: conn?,
            warnings: std::mem::take(self.warnings),
        })
    }

    fn var(name: &str) -> String {
        format!("{PREFIX}{name}")
    }

    /// `SCHEMAGATE_<name>="value" <reason>`. Only for settings that are not secret.
    fn fail_value(&mut self, name: &str, value: &str, reason: &str) {
        let shown = self.raw.shown(&Self::var(name), value);
        self.problems.push(format!("{shown} {reason}"));
    }

    fn fail(&mut self, name: &str, reason: &str) {
        let label = self.raw.label(&Self::var(name));
        self.problems.push(format!("{label} {reason}"));
    }

    fn duration(&mut self, name: &str, value: &Option<String>, default: Duration) -> Duration {
        self.optional_duration(name, value).unwrap_or(default)
    }

    fn optional_duration(&mut self, name: &str, value: &Option<String>) -> Option<Duration> {
        let value = value.as_deref()?;
        duration(value)
            .map_err(|reason| self.fail_value(name, value, &reason))
            .ok()
    }

    fn pg_timeout(&mut self, name: &str, value: Option<Duration>) {
        if value.is_some_and(|d| d > MAX_PG_TIMEOUT) {
            self.fail(
                name,
                "is longer than PostgreSQL accepts (2147483647 ms, about 24 days)",
            );
        }
    }

    fn boolean(&mut self, name: &str, value: &Option<String>) -> bool {
        let Some(value) = value.as_deref() else {
            return false;
        };
        boolean(value).unwrap_or_else(|| {
            self.fail_value(
                name,
                value,
                "is not a boolean; use true or false (1/0, yes/no)",
            );
            false
        })
    }

    fn version(&mut self, name: &str, value: &Option<String>, default: &str) -> String {
        let Some(value) = value.as_deref() else {
            return default.to_string();
        };
        let trimmed = value.trim();
        if !is_version(trimmed) {
            self.fail_value(
                name,
                value,
                "is not a version; use digits separated by . or _ (1, 7.1, 2024_05_01)",
            );
        }
        trimmed.to_string()
    }

    fn target(&mut self) -> Option<String> {
        let value = self.raw.settings.target.as_deref()?;
        if value.trim().eq_ignore_ascii_case("latest") {
            return None;
        }
        if !is_version(value.trim()) {
            self.fail_value(
                "TARGET",
                value,
                "is not a version; use latest, or digits separated by . or _ (1, 7.1, 2024_05_01)",
            );
        }
        Some(value.trim().to_string())
    }

    /// Any characters are allowed (names are quoted in SQL), but the server would silently cut
    /// a longer name and use a different table than the one configured.
    fn identifier(&mut self, name: &str, value: &Option<String>, default: &str) -> String {
        let Some(value) = value.as_deref() else {
            return default.to_string();
        };
        if value.len() > MAX_IDENTIFIER_BYTES {
            self.fail_value(
                name,
                value,
                &format!(
                    "is {} bytes long; PostgreSQL names hold at most {MAX_IDENTIFIER_BYTES}",
                    value.len()
                ),
            );
        }
        value.to_string()
    }

    fn other_schemas(&mut self) -> Vec<String> {
        let Some(value) = self.raw.settings.other_schemas.clone() else {
            return Vec::new();
        };
        value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| self.identifier("OTHER_SCHEMAS", &Some(s.to_string()), ""))
            .collect()
    }

    /// The history's column is `VARCHAR(100)`.
    fn installed_by(&mut self) -> Option<String> {
        let value = self.raw.settings.installed_by.clone()?;
        if value.chars().count() > 100 {
            self.fail_value(
                "INSTALLED_BY",
                &value,
                "is longer than the history's 100 characters",
            );
        }
        Some(value)
    }

    fn locations(&mut self, files: &dyn SecretFiles) -> Vec<PathBuf> {
        let s = &self.raw.settings;
        let (name, value) = match (s.locations.as_deref(), s.default_locations.as_deref()) {
            (Some(v), _) => ("LOCATIONS", v),
            // What the Flyway image's users mount their scripts at (reference §6.2).
            _ if files.is_dir(Path::new(FLYWAY_SQL)) => return vec![PathBuf::from(FLYWAY_SQL)],
            (None, Some(v)) => ("DEFAULT_LOCATIONS", v),
            (None, None) => return vec![PathBuf::from("sql")],
        };
        let mut out = Vec::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.starts_with("classpath:") {
                self.fail_value(
                    name,
                    value,
                    "holds a classpath: location, which is a Java resource; give a folder path",
                );
                continue;
            }
            // Flyway's spelling of a folder, so a Flyway configuration can be copied over.
            let path = part.strip_prefix("filesystem:").unwrap_or(part);
            out.push(PathBuf::from(path));
        }
        if out.is_empty() {
            self.fail_value(name, value, "names no folder; use e.g. /migrations");
        }
        out
    }

    fn lint(&mut self) -> LintSettings {
        let s = &self.raw.settings;
        let mode = match s.lint.as_deref().map(str::trim) {
            None | Some("enforce") => LintMode::Enforce,
            Some("warn") => LintMode::Warn,
            Some("off") => LintMode::Off,
            Some(other) => {
                let other = other.to_string();
                self.fail_value(
                    "LINT",
                    &other,
                    "is not a lint mode; use enforce (refuse a pending script with an error finding, exit 65), warn (log findings and go on) or off",
                );
                LintMode::Enforce
            }
        };
        let small_rows = self.count("LINT_SMALL_ROWS", &s.lint_small_rows, 10_000, 0..=u64::MAX);
        let small_bytes = match s.lint_small_size.as_deref() {
            None => 64 << 20,
            Some(v) => bytes(v).unwrap_or_else(|why| {
                let v = v.to_string();
                self.fail_value("LINT_SMALL_SIZE", &v, &why);
                64 << 20
            }),
        };
        let allows = match s.lint_allow.as_deref() {
            None => Vec::new(),
            Some(v) => crate::core::lint::allow::parse_env(v).unwrap_or_else(|why| {
                self.fail("LINT_ALLOW", &why);
                Vec::new()
            }),
        };
        LintSettings {
            mode,
            small_rows,
            small_bytes,
            allows,
        }
    }

    fn contract(&mut self) -> ContractMode {
        let Some(value) = self.raw.settings.contract.as_deref() else {
            return ContractMode::Auto;
        };
        ContractMode::parse(value).unwrap_or_else(|| {
            self.fail_value(
                "CONTRACT",
                value,
                "is not a contract mode; use auto (run contract scripts once no old app version is connected), apply (run them now) or defer (run none)",
            );
            ContractMode::Auto
        })
    }

    /// The app's sessions are named `<app>/<version>`, which PostgreSQL keeps as printable
    /// ASCII of at most 63 bytes; a longer or other name would never match.
    fn release(&mut self) -> Option<Release> {
        let s = &self.raw.settings;
        let (app, version) = match (s.app.clone(), s.app_version.clone()) {
            (None, None) => return None,
            (Some(_), None) => {
                self.fail("APP_VERSION", "must be set with SCHEMAGATE_APP: the version being rolled out, as its sessions name it in application_name (<app>/<version>)");
                return None;
            }
            (None, Some(_)) => {
                self.fail("APP", "must be set with SCHEMAGATE_APP_VERSION: the app whose sessions are named <app>/<version>");
                return None;
            }
            (Some(a), Some(v)) => (a.trim().to_string(), v.trim().to_string()),
        };
        let mut ok = true;
        for (name, value) in [("APP", &app), ("APP_VERSION", &version)] {
            if value.contains('/') || !value.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                self.fail_value(name, value, "may hold only printable ASCII without spaces or `/`: it is half of an application_name <app>/<version>");
                ok = false;
            }
        }
        let release = Release { app, version };
        let name = release.application_name();
        if name.len() > MAX_IDENTIFIER_BYTES {
            self.fail(
                "APP",
                &format!("and SCHEMAGATE_APP_VERSION make the application_name \"{name}\" of {} bytes; PostgreSQL keeps 63, so sessions would never match", name.len()),
            );
            ok = false;
        }
        ok.then_some(release)
    }

    fn backfill(&mut self) -> Limits {
        let s = &self.raw.settings;
        let d = Limits::default();
        let batch_timeout = self.duration("BATCH_TIMEOUT", &s.batch_timeout, d.batch_timeout);
        if batch_timeout.is_zero() {
            self.fail("BATCH_TIMEOUT", "must be longer than 0");
        } else if batch_timeout > backfill::MAX_BATCH_TIMEOUT {
            self.fail(
                "BATCH_TIMEOUT",
                "is over 25s: an app that gives up on a query after 30 s could wait behind a batch; use at most 25s",
            );
        }
        Limits {
            batch_size: self.count(
                "BATCH_SIZE",
                &s.batch_size,
                d.batch_size,
                backfill::MIN_BATCH..=backfill::MAX_BATCH,
            ),
            batch_timeout,
            pause: self.duration("BATCH_PAUSE", &s.batch_pause, d.pause),
            max_replication_lag: match self
                .optional_duration("MAX_REPLICATION_LAG", &s.max_replication_lag)
            {
                None => d.max_replication_lag,
                Some(z) if z.is_zero() => None,
                Some(l) => Some(l),
            },
            max_batches: self.count("BATCH_MAX", &s.batch_max, d.max_batches, 1..=u64::MAX),
        }
    }

    /// A whole number in `range`, or `default` when unset.
    fn count(
        &mut self,
        name: &str,
        value: &Option<String>,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> u64 {
        let Some(value) = value.as_deref() else {
            return default;
        };
        let trimmed = value.trim();
        match trimmed.parse::<u64>() {
            Ok(n) if range.contains(&n) && trimmed.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                let reason = if *range.end() == u64::MAX {
                    format!("is not a whole number of at least {}", range.start())
                } else {
                    format!(
                        "is not a whole number from {} to {}",
                        range.start(),
                        range.end()
                    )
                };
                self.fail_value(name, value, &reason);
                default
            }
        }
    }

    /// The other database and how `compare` reads it; the tuning settings without a URL
    /// are a warning, since they do nothing.
    fn compare(
        &mut self,
        files: &dyn SecretFiles,
        connect_timeout: Option<Duration>,
        wait_timeout: Duration,
    ) -> Option<CompareSettings> {
        let s = &self.raw.settings;
        let Some(url) = s.compare_url.as_deref() else {
            let stray: Vec<&str> = [
                ("SCHEMAGATE_COMPARE_TABLES", &s.compare_tables),
                ("SCHEMAGATE_COMPARE_CHUNK_ROWS", &s.compare_chunk_rows),
                ("SCHEMAGATE_COMPARE_RECHECKS", &s.compare_rechecks),
            ]
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(n, _)| *n)
            .collect();
            if !stray.is_empty() {
                self.warnings.push(format!(
                    "{} set without SCHEMAGATE_COMPARE_URL: only `compare` reads them, and it needs the URL",
                    stray.join(", ")
                ));
            }
            return None;
        };
        let tables = match s.compare_tables.as_deref().map(compare_filter::parse) {
            None => Vec::new(),
            Some(Ok(t)) => t,
            Some(Err(why)) => {
                self.fail("COMPARE_TABLES", &why);
                Vec::new()
            }
        };
        let chunk_rows = self.count(
            "COMPARE_CHUNK_ROWS",
            &s.compare_chunk_rows,
            compare::DEFAULT_CHUNK_ROWS,
            100..=10_000_000,
        );
        let rechecks = self.count(
            "COMPARE_RECHECKS",
            &s.compare_rechecks,
            compare::DEFAULT_RECHECKS,
            0..=100,
        ) as u32;
        let conn = connection::resolve_other(
            self.raw,
            files,
            ("SCHEMAGATE_COMPARE_URL", url),
            connect_timeout,
            wait_timeout,
            self.problems,
        )?;
        Some(CompareSettings {
            conn,
            tables,
            chunk_rows,
            rechecks,
        })
    }

    fn lock_retries(&mut self) -> u32 {
        let Some(value) = self.raw.settings.lock_retries.as_deref() else {
            return 10;
        };
        let trimmed = value.trim();
        match trimmed.parse::<u32>() {
            Ok(n) if trimmed.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                self.fail_value(
                    "LOCK_RETRIES",
                    value,
                    "is not a whole number; use e.g. 10 (0 = no retries)",
                );
                10
            }
        }
    }

    fn log_format(&mut self) -> Option<LogFormat> {
        let value = self.raw.settings.log_format.as_deref()?;
        match value.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            "auto" => None,
            _ => {
                self.fail_value(
                    "LOG_FORMAT",
                    value,
                    "is not a log format; use text, json or auto",
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conn::SslMode;
    use crate::config::raw::tests::{env, files};

    fn run(vars: &[(&str, &str)], fs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        load(&env(vars), &files(fs))
    }

    fn ok(vars: &[(&str, &str)]) -> Settings {
        let mut all = vec![("PGUSER", "app")];
        all.extend_from_slice(vars);
        run(&all, &[]).unwrap_or_else(|e| panic!("{}", e.message))
    }

    fn err(vars: &[(&str, &str)]) -> String {
        let mut all = vec![("PGUSER", "app")];
        all.extend_from_slice(vars);
        match run(&all, &[]) {
            Ok(s) => panic!("loaded: {s:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn defaults() {
        let s = ok(&[]);
        assert_eq!(s.locations, [PathBuf::from("sql")]);
        assert_eq!(s.schema, "public");
        assert_eq!(s.table, "schemagate_history");
        assert_eq!(s.target, None);
        assert!(!s.out_of_order && !s.ignore_missing && !s.baseline_on_migrate);
        assert!(s.placeholders.is_empty());
        assert_eq!(s.baseline_version, "1");
        assert_eq!(s.deadline, Duration::from_secs(240));
        assert_eq!(s.wait_timeout, Duration::from_secs(120));
        assert_eq!(s.lock_wait, None);
        assert_eq!(s.lock_timeout, Duration::from_secs(5));
        assert_eq!(s.lock_retries, 10);
        assert_eq!(s.statement_timeout, None);
        assert_eq!(s.log_format, None);
        assert_eq!(s.log_filter, "info");
        assert_eq!(s.termination_log, PathBuf::from("/dev/termination-log"));
        assert_eq!(s.conn.sslmode, SslMode::Prefer);
        assert_eq!(s.contract, ContractMode::Auto);
        assert_eq!(s.release, None);
        assert_eq!(s.contract_settle, Duration::from_secs(10));
        assert_eq!(s.contract_wait, Duration::ZERO);
        assert_eq!(
            s.backfill,
            Limits {
                batch_size: 1000,
                batch_timeout: Duration::from_secs(5),
                pause: Duration::from_millis(50),
                max_replication_lag: Some(Duration::from_secs(10)),
                max_batches: 1_000_000,
            }
        );
        // An empty value is unset: a chart that renders `value: ""` gets the default.
        assert_eq!(
            ok(&[("SCHEMAGATE_SCHEMA", ""), ("SCHEMAGATE_DEADLINE", "")]),
            s
        );
    }

    #[test]
    fn phase_and_backfill_settings_are_read_and_checked() {
        let s = ok(&[
            ("SCHEMAGATE_CONTRACT", "defer"),
            ("SCHEMAGATE_APP", "shop"),
            ("SCHEMAGATE_APP_VERSION", "1.4.2"),
            ("SCHEMAGATE_CONTRACT_SETTLE", "2s"),
            ("SCHEMAGATE_CONTRACT_WAIT", "2m"),
            ("SCHEMAGATE_BATCH_SIZE", "500"),
            ("SCHEMAGATE_BATCH_TIMEOUT", "25s"),
            ("SCHEMAGATE_BATCH_PAUSE", "0"),
            ("SCHEMAGATE_MAX_REPLICATION_LAG", "0"),
            ("SCHEMAGATE_BATCH_MAX", "7"),
        ]);
        assert_eq!(s.contract, ContractMode::Defer);
        assert_eq!(
            s.release,
            Some(Release {
                app: "shop".into(),
                version: "1.4.2".into()
            })
        );
        assert_eq!(
            (s.contract_settle, s.contract_wait),
            (Duration::from_secs(2), Duration::from_secs(120))
        );
        assert_eq!(s.backfill.batch_size, 500);
        assert_eq!(s.backfill.batch_timeout, Duration::from_secs(25));
        assert_eq!(s.backfill.pause, Duration::ZERO);
        assert_eq!(
            s.backfill.max_replication_lag, None,
            "0 turns the lag check off"
        );
        assert_eq!(s.backfill.max_batches, 7);
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("SCHEMAGATE_CONTRACT", "later")],
                r#"SCHEMAGATE_CONTRACT="later" is not a contract mode; use auto"#,
            ),
            (
                &[("SCHEMAGATE_APP", "shop")],
                "SCHEMAGATE_APP_VERSION must be set with SCHEMAGATE_APP",
            ),
            (
                &[("SCHEMAGATE_APP_VERSION", "1.0")],
                "SCHEMAGATE_APP must be set with SCHEMAGATE_APP_VERSION",
            ),
            (
                &[
                    ("SCHEMAGATE_APP", "shop/api"),
                    ("SCHEMAGATE_APP_VERSION", "1"),
                ],
                r#"SCHEMAGATE_APP="shop/api" may hold only printable ASCII"#,
            ),
            (
                &[
                    ("SCHEMAGATE_APP", "shop"),
                    ("SCHEMAGATE_APP_VERSION", "1 0"),
                ],
                r#"SCHEMAGATE_APP_VERSION="1 0" may hold only"#,
            ),
            (
                &[
                    ("SCHEMAGATE_APP", &"a".repeat(60)),
                    ("SCHEMAGATE_APP_VERSION", "1.0"),
                ],
                "of 64 bytes; PostgreSQL keeps 63",
            ),
            (
                &[("SCHEMAGATE_BATCH_TIMEOUT", "30s")],
                "SCHEMAGATE_BATCH_TIMEOUT is over 25s",
            ),
            (
                &[("SCHEMAGATE_BATCH_TIMEOUT", "0")],
                "SCHEMAGATE_BATCH_TIMEOUT must be longer than 0",
            ),
            (
                &[("SCHEMAGATE_BATCH_SIZE", "5")],
                r#"SCHEMAGATE_BATCH_SIZE="5" is not a whole number from 10 to 100000"#,
            ),
            (
                &[("SCHEMAGATE_BATCH_SIZE", "1e3")],
                "is not a whole number from 10 to 100000",
            ),
            (
                &[("SCHEMAGATE_BATCH_MAX", "0")],
                r#"SCHEMAGATE_BATCH_MAX="0" is not a whole number of at least 1"#,
            ),
            (
                &[("SCHEMAGATE_CONTRACT_WAIT", "a while")],
                r#"SCHEMAGATE_CONTRACT_WAIT="a while" is not a duration"#,
            ),
            (
                &[("SCHEMAGATE_MAX_REPLICATION_LAG", "10 s")],
                "SCHEMAGATE_MAX_REPLICATION_LAG",
            ),
        ];
        for (vars, want) in cases {
            let e = err(vars);
            assert!(e.contains(want), "{vars:?}: {e}");
        }
    }

    #[test]
    fn every_setting_is_read() {
        let s = ok(&[
            (
                "SCHEMAGATE_LOCATIONS",
                "db/migration, filesystem:/flyway/sql,,",
            ),
            ("SCHEMAGATE_SCHEMA", "App Schema"),
            ("SCHEMAGATE_TABLE", "flyway_schema_history"),
            ("SCHEMAGATE_TARGET", "2024_05_01"),
            ("SCHEMAGATE_OUT_OF_ORDER", "yes"),
            ("SCHEMAGATE_IGNORE_MISSING", "TRUE"),
            ("SCHEMAGATE_BASELINE_ON_MIGRATE", "1"),
            ("SCHEMAGATE_BASELINE_VERSION", "7.1"),
            ("SCHEMAGATE_DEADLINE", "1h30m"),
            ("SCHEMAGATE_WAIT_TIMEOUT", "0"),
            ("SCHEMAGATE_LOCK_WAIT", "90"),
            ("SCHEMAGATE_LOCK_TIMEOUT", "250ms"),
            ("SCHEMAGATE_LOCK_RETRIES", "0"),
            ("SCHEMAGATE_STATEMENT_TIMEOUT", "10m"),
            ("SCHEMAGATE_LOG_FORMAT", "JSON"),
            ("SCHEMAGATE_LOG", "schemagate=debug"),
            ("RUST_LOG", "warn"),
            ("SCHEMAGATE_TERMINATION_LOG", "/tmp/t"),
        ]);
        assert_eq!(
            s.locations,
            [PathBuf::from("db/migration"), PathBuf::from("/flyway/sql")]
        );
        assert_eq!(
            (s.schema.as_str(), s.table.as_str()),
            ("App Schema", "flyway_schema_history")
        );
        assert_eq!(s.target.as_deref(), Some("2024_05_01"));
        assert!(s.out_of_order && s.ignore_missing && s.baseline_on_migrate);
        assert_eq!(s.baseline_version, "7.1");
        assert_eq!(s.deadline, Duration::from_secs(5400));
        assert_eq!(s.wait_timeout, Duration::ZERO);
        assert_eq!(s.lock_wait, Some(Duration::from_secs(90)));
        assert_eq!(s.lock_timeout, Duration::from_millis(250));
        assert_eq!(s.lock_retries, 0);
        assert_eq!(s.statement_timeout, Some(Duration::from_secs(600)));
        assert_eq!(s.log_format, Some(LogFormat::Json));
        assert_eq!(s.log_filter, "schemagate=debug");
        assert_eq!(s.termination_log, PathBuf::from("/tmp/t"));

        assert_eq!(ok(&[("RUST_LOG", "warn")]).log_filter, "warn");
        assert_eq!(ok(&[("SCHEMAGATE_TARGET", "Latest")]).target, None);
        assert_eq!(ok(&[("SCHEMAGATE_LOG_FORMAT", "auto")]).log_format, None);
        assert_eq!(
            ok(&[("SCHEMAGATE_LOG_FORMAT", "text")]).log_format,
            Some(LogFormat::Text)
        );
        assert_eq!(
            ok(&[("SCHEMAGATE_STATEMENT_TIMEOUT", "0")]).statement_timeout,
            None
        );
        assert_eq!(
            ok(&[("SCHEMAGATE_LOCK_TIMEOUT", "0")]).lock_timeout,
            Duration::ZERO
        );
        let name63 = "n".repeat(63);
        assert_eq!(ok(&[("SCHEMAGATE_TABLE", &name63)]).table, name63);
    }

    #[test]
    fn bad_values_name_the_variable_and_say_what_is_expected() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "SCHEMAGATE_DEADLINE",
                "5 minutes",
                r#"SCHEMAGATE_DEADLINE="5 minutes" is not a duration; use 30s, 5m, 1h30m, 250ms or a number of seconds"#,
            ),
            (
                "SCHEMAGATE_DEADLINE",
                "0",
                "SCHEMAGATE_DEADLINE must be longer than 0",
            ),
            (
                "SCHEMAGATE_WAIT_TIMEOUT",
                "2 m",
                r#"SCHEMAGATE_WAIT_TIMEOUT="2 m" is not a duration"#,
            ),
            (
                "SCHEMAGATE_LOCK_WAIT",
                "x",
                r#"SCHEMAGATE_LOCK_WAIT="x" is not a duration"#,
            ),
            (
                "SCHEMAGATE_LOCK_TIMEOUT",
                "25d",
                r#"SCHEMAGATE_LOCK_TIMEOUT="25d" is not a duration"#,
            ),
            (
                "SCHEMAGATE_LOCK_TIMEOUT",
                "600h",
                "SCHEMAGATE_LOCK_TIMEOUT is longer than PostgreSQL accepts",
            ),
            (
                "SCHEMAGATE_STATEMENT_TIMEOUT",
                "600h",
                "SCHEMAGATE_STATEMENT_TIMEOUT is longer than PostgreSQL accepts",
            ),
            (
                "SCHEMAGATE_LOCK_RETRIES",
                "ten",
                r#"SCHEMAGATE_LOCK_RETRIES="ten" is not a whole number"#,
            ),
            (
                "SCHEMAGATE_LOCK_RETRIES",
                "-1",
                r#"SCHEMAGATE_LOCK_RETRIES="-1" is not a whole number"#,
            ),
            ("SCHEMAGATE_LOCK_RETRIES", "+1", "is not a whole number"),
            (
                "SCHEMAGATE_LOCK_RETRIES",
                "4294967296",
                "is not a whole number",
            ),
            (
                "SCHEMAGATE_OUT_OF_ORDER",
                "on",
                r#"SCHEMAGATE_OUT_OF_ORDER="on" is not a boolean; use true or false"#,
            ),
            (
                "SCHEMAGATE_IGNORE_MISSING",
                "2",
                r#"SCHEMAGATE_IGNORE_MISSING="2" is not a boolean"#,
            ),
            (
                "SCHEMAGATE_BASELINE_ON_MIGRATE",
                "y",
                r#"SCHEMAGATE_BASELINE_ON_MIGRATE="y" is not a boolean"#,
            ),
            (
                "SCHEMAGATE_TARGET",
                "v7",
                r#"SCHEMAGATE_TARGET="v7" is not a version; use latest, or digits"#,
            ),
            ("SCHEMAGATE_TARGET", "7.", "is not a version"),
            (
                "SCHEMAGATE_BASELINE_VERSION",
                "1.x",
                r#"SCHEMAGATE_BASELINE_VERSION="1.x" is not a version"#,
            ),
            (
                "SCHEMAGATE_LOG_FORMAT",
                "yaml",
                r#"SCHEMAGATE_LOG_FORMAT="yaml" is not a log format; use text, json or auto"#,
            ),
            (
                "SCHEMAGATE_LOCATIONS",
                ",",
                r#"SCHEMAGATE_LOCATIONS="," names no folder"#,
            ),
            (
                "SCHEMAGATE_LOCATIONS",
                "classpath:db/migration",
                "holds a classpath: location",
            ),
            (
                "SCHEMAGATE_CONNECT_TIMEOUT",
                "soon",
                r#"SCHEMAGATE_CONNECT_TIMEOUT="soon" is not a duration"#,
            ),
        ];
        for (var, value, want) in cases {
            let e = err(&[(var, value)]);
            assert!(e.contains(want), "{var}={value}: {e}");
        }
        let long = "t".repeat(64);
        for var in ["SCHEMAGATE_SCHEMA", "SCHEMAGATE_TABLE"] {
            let e = err(&[(var, &long)]);
            assert!(e.starts_with(var), "{e}");
            assert!(
                e.contains("is 64 bytes long; PostgreSQL names hold at most 63"),
                "{e}"
            );
        }
        // Bytes, not characters: 32 two-byte characters are 64 bytes.
        assert!(err(&[("SCHEMAGATE_TABLE", &"é".repeat(32))]).contains("is 64 bytes long"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = err(&[
            ("SCHEMAGATE_DEADLINE", "soon"),
            ("SCHEMAGATE_LOCK_RETRIES", "many"),
            ("PGPORT", "x"),
        ]);
        assert!(e.contains("SCHEMAGATE_DEADLINE"), "{e}");
        assert!(e.contains("SCHEMAGATE_LOCK_RETRIES"), "{e}");
        assert!(e.contains("PGPORT"), "{e}");
        assert!(e.matches("; ").count() >= 2, "{e}");
    }

    #[test]
    fn file_form_of_a_setting_shows_where_the_value_came_from() {
        let e = run(
            &[("PGUSER", "a"), ("SCHEMAGATE_DEADLINE_FILE", "/c/deadline")],
            &[("/c/deadline", "5 minutes\n")],
        )
        .unwrap_err()
        .message;
        assert_eq!(
            e,
            r#"SCHEMAGATE_DEADLINE="5 minutes" (read from SCHEMAGATE_DEADLINE_FILE=/c/deadline) is not a duration; use 30s, 5m, 1h30m, 250ms or a number of seconds"#
        );
        let s = run(
            &[
                ("PGUSER", "a"),
                ("SCHEMAGATE_DEADLINE_FILE", "/c/deadline"),
                ("SCHEMAGATE_DEADLINE", "1m"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            s.deadline,
            Duration::from_secs(60),
            "NAME wins; the file is not read"
        );
    }

    #[test]
    fn a_later_duplicate_wins_so_flags_override_the_environment() {
        let s = ok(&[("SCHEMAGATE_DEADLINE", "1m"), ("SCHEMAGATE_DEADLINE", "5m")]);
        assert_eq!(s.deadline, Duration::from_secs(300));
    }

    #[test]
    fn unknown_variable_is_a_config_error_with_a_hint() {
        let e = err(&[
            ("SCHEMAGATE_DEADLIN", "5m"),
            ("SCHEMAGATE_LOCK_TIMOUT", "1s"),
        ]);
        assert_eq!(
            e,
            "unknown setting SCHEMAGATE_DEADLIN; did you mean SCHEMAGATE_DEADLINE?; \
             unknown setting SCHEMAGATE_LOCK_TIMOUT; did you mean SCHEMAGATE_LOCK_TIMEOUT?"
        );
        let failure: Failure = ConfigError { message: e }.into();
        assert_eq!(failure.kind, FailureKind::Config);
        assert_eq!(failure.kind.exit_code(), 78);
    }

    #[test]
    fn settings_names_cover_every_variable() {
        // The CLI maps `--lock-timeout` to SCHEMAGATE_LOCK_TIMEOUT through this list.
        for name in crate::config::SETTINGS {
            let var = format!("SCHEMAGATE_{name}");
            let e = run(&[(var.as_str(), "\u{1}")], &[])
                .err()
                .map(|e| e.message)
                .unwrap_or_default();
            assert!(!e.contains("unknown setting"), "{var}: {e}");
        }
    }

    #[test]
    fn placeholders_are_in_settings_but_not_in_debug() {
        let s = ok(&[("SCHEMAGATE_PLACEHOLDER_App_Password", "hunter2-secret")]);
        assert_eq!(s.placeholders["app_password"], "hunter2-secret");
        let debug = format!("{s:?}");
        assert!(debug.contains(r#""app_password": "***""#), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    // ---- redaction ----------------------------------------------------------------------

    /// Holds every character that has a meaning somewhere in a connection string.
    const PASSWORD: &str = "Zq7@k:Wp/9?Yt#%4B\\;' Vb Nm";
    /// The same, plain enough to be parsed as a port, a key or a host by mistake.
    const WORD: &str = "Zq7kWp9YtVbNm";

    fn percent_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    fn kv_quote(s: &str) -> String {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    /// No 4-character slice of the secret, raw or percent-encoded, appears in `text`.
    fn assert_no_leak(text: &str, context: &str) {
        for secret in [
            PASSWORD.to_string(),
            percent_encode(PASSWORD),
            WORD.to_string(),
        ] {
            let chars: Vec<char> = secret.chars().collect();
            for w in chars.windows(4) {
                let w: String = w.iter().collect();
                assert!(!text.contains(&w), "{context}: {w:?} leaked in {text}");
            }
        }
    }

    /// Loads, then checks whichever of the error message and the settings' `Debug` came out.
    /// Each case is also run with a second, unrelated error, so that a successful parse still
    /// produces a message to check.
    fn check(context: &str, vars: &[(&str, &str)], fs: &[(&str, &str)]) {
        for extra in [None, Some(("SCHEMAGATE_DEADLINE", "bad"))] {
            let mut vars = vars.to_vec();
            vars.extend(extra);
            match run(&vars, fs) {
                Ok(s) => {
                    assert_no_leak(&format!("{s:?}"), context);
                    assert_no_leak(&format!("{:?}", s.conn), context);
                    assert_no_leak(&s.conn.redacted_url(), context);
                }
                Err(e) => {
                    assert_no_leak(&e.message, context);
                    assert_no_leak(&format!("{e:?}"), context);
                    assert_no_leak(&Failure::from(e).to_string(), context);
                }
            }
        }
    }

    #[test]
    fn lint_settings() {
        let s = ok(&[]);
        assert_eq!(s.lint.mode, LintMode::Enforce);
        assert_eq!((s.lint.small_rows, s.lint.small_bytes), (10_000, 64 << 20));
        let s = ok(&[
            ("SCHEMAGATE_LINT", "warn"),
            ("SCHEMAGATE_LINT_SMALL_ROWS", "500"),
            ("SCHEMAGATE_LINT_SMALL_SIZE", "8MB"),
            (
                "SCHEMAGATE_LINT_ALLOW",
                "7.1:lock-index-not-concurrent;8:compat-rename",
            ),
        ]);
        assert_eq!(s.lint.mode, LintMode::Warn);
        assert_eq!((s.lint.small_rows, s.lint.small_bytes), (500, 8 << 20));
        assert_eq!(s.lint.allows.len(), 2);
        let e = err(&[("SCHEMAGATE_LINT", "strict")]);
        assert!(
            e.contains("SCHEMAGATE_LINT=\"strict\"") || e.contains("SCHEMAGATE_LINT"),
            "{e}"
        );
        assert!(e.contains("use enforce"), "{e}");
        let e = err(&[("SCHEMAGATE_LINT_SMALL_SIZE", "64 megs")]);
        assert!(
            e.contains("SCHEMAGATE_LINT_SMALL_SIZE") && e.contains("64MB"),
            "{e}"
        );
        let e = err(&[("SCHEMAGATE_LINT_ALLOW", "7:lock-index-not-concurent")]);
        assert!(
            e.contains("SCHEMAGATE_LINT_ALLOW")
                && e.contains("did you mean `lock-index-not-concurrent`"),
            "{e}"
        );
    }

    #[test]
    fn a_password_never_appears_in_errors_or_debug() {
        let enc = percent_encode(PASSWORD);
        let quoted = kv_quote(PASSWORD);
        let urls: Vec<(String, bool)> = vec![
            // (connection string, parses)
            (format!("postgres://app:{enc}@db:5432/app"), true),
            (
                format!("postgresql://app@db/app?password={enc}&sslmode=require"),
                true,
            ),
            (format!("postgres://app:{PASSWORD}@db/app"), false),
            (format!("postgres://app:{enc}%zz@db/app"), false),
            (format!("postgres://app:{enc}%ff@db/app"), false),
            (format!("postgres://db:{WORD}/app"), false),
            (format!("postgres://{WORD}@db:{WORD}/app"), false),
            (format!("postgres://app:{enc}@db1,db2/app"), true),
            (format!("postgres://app:{enc}@[::1/app"), false),
            (format!("postgres://app:{enc}@db/app?{WORD}"), false),
            (format!("postgres://app:{enc}@db/app?{WORD}=1"), false),
            (format!("postgres://app:{enc}@db/app?sslmode={WORD}"), false),
            (
                format!("postgres://app:{enc}@db/app?connect_timeout={WORD}"),
                false,
            ),
            (
                format!("postgres://app:{enc}@db/app?channel_binding={WORD}"),
                false,
            ),
            (
                format!("jdbc:postgresql://db/app?user=app&password={enc}"),
                true,
            ),
            (
                format!("jdbc:postgresql://db/app?user=app&password={enc}&{WORD}=1"),
                false,
            ),
            (format!("mysql://app:{enc}@db/app"), false),
            (format!("host=db user=app password={quoted}"), true),
            (
                format!("host=db user=app password={quoted} sslmode=verify-full"),
                false,
            ),
            (format!("host=db user=app password='{PASSWORD}"), false),
            (format!("host=db user=app {WORD}"), false),
            (format!("host=db user=app port={WORD}"), false),
            (format!("host=db user=app {WORD}=x"), false),
            (format!("host=db user=app sslmode={WORD}"), false),
            // Three ports for two hosts: refused, and neither host nor password shown.
            (
                format!("host=db,{WORD} port=1,2,3 user=app password={quoted}"),
                false,
            ),
            (format!("{WORD} {PASSWORD}"), false),
        ];
        for (url, parses) in &urls {
            for var in ["SCHEMAGATE_DATABASE_URL", "DATABASE_URL"] {
                check(url, &[(var, url)], &[]);
                let r = run(&[(var, url)], &[]);
                assert_eq!(r.is_ok(), *parses, "{url}: {:?}", r.err());
            }
            // The _FILE form and the secret directory's `uri` key.
            check(url, &[("DATABASE_URL_FILE", "/r/url")], &[("/r/url", url)]);
            check(url, &[("SCHEMAGATE_SECRET_DIR", "/s")], &[("/s/uri", url)]);
        }
        let with_newline = format!("{PASSWORD}\n");
        check(
            "PGPASSWORD",
            &[("PGUSER", "app"), ("PGPASSWORD", PASSWORD)],
            &[],
        );
        check(
            "PGPASSWORD_FILE",
            &[("PGUSER", "app"), ("PGPASSWORD_FILE", "/r/pw")],
            &[("/r/pw", &with_newline)],
        );
        check(
            "secret dir",
            &[("SCHEMAGATE_SECRET_DIR", "/s")],
            &[("/s/username", "app"), ("/s/password", &with_newline)],
        );
        // A password mistakenly put where a port or a mode belongs, in a Secret.
        check(
            "secret dir port",
            &[("SCHEMAGATE_SECRET_DIR", "/s")],
            &[("/s/username", "app"), ("/s/port", WORD)],
        );
        check(
            "placeholder",
            &[("PGUSER", "app"), ("SCHEMAGATE_PLACEHOLDER_PW", PASSWORD)],
            &[],
        );
        check(
            "unknown variable",
            &[("PGUSER", "app"), ("SCHEMAGATE_PASSWORD", PASSWORD)],
            &[],
        );
        let s = run(
            &[("DATABASE_URL", &format!("postgres://app:{enc}@db/app"))],
            &[],
        )
        .unwrap();
        assert_eq!(s.conn.password.as_ref().map(|p| p.expose()), Some(PASSWORD));
        assert_eq!(
            s.conn.redacted_url(),
            "postgres://app:***@db:5432/app?sslmode=prefer"
        );
    }

    #[test]
    fn pushgateway_settings_are_read_from_variables_and_files() {
        use crate::config::pushgateway::PushAuth;
        assert_eq!(ok(&[]).pushgateway, None);
        let s = run(
            &[
                ("PGUSER", "app"),
                ("SCHEMAGATE_PUSHGATEWAY_URL_FILE", "/s/url"),
                ("SCHEMAGATE_PUSHGATEWAY_USERNAME", "ci"),
                ("SCHEMAGATE_PUSHGATEWAY_PASSWORD_FILE", "/s/pw"),
                ("SCHEMAGATE_PUSHGATEWAY_JOB", "shop"),
            ],
            &[
                ("/s/url", "https://gw.example:9091\n"),
                ("/s/pw", "hunter2\n"),
            ],
        )
        .unwrap_or_else(|e| panic!("{}", e.message));
        let g = s.pushgateway.clone().unwrap();
        assert_eq!(g.url, "https://gw.example:9091");
        assert_eq!(g.job, "shop");
        assert!(
            matches!(g.auth, PushAuth::Basic { ref username, ref password } if username == "ci" && password.expose() == "hunter2")
        );
        assert!(!format!("{s:?}").contains("hunter2"));
        let e = err(&[("SCHEMAGATE_PUSHGATEWAY_URL", "http://u:hunter2@gw:0")]);
        assert!(
            e.contains("SCHEMAGATE_PUSHGATEWAY_URL") && !e.contains("hunter2"),
            "{e}"
        );
        let e = err(&[("SCHEMAGATE_PUSHGATEWAY_ULR", "http://gw")]);
        assert!(
            e.contains("did you mean SCHEMAGATE_PUSHGATEWAY_URL?"),
            "{e}"
        );
    }
}
