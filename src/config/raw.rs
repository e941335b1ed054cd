//! The raw layer (ripgrep's "lowargs"): the environment list and `NAME_FILE` secrets in, plain
//! optional strings out. It knows which names exist and where each value came from; it does
//! not judge values — `settings` and `connection` do.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::core::hint::closest;

/// Reads mounted secret files. Injected so that `config` stays pure and tests stay in memory.
pub trait SecretFiles {
    /// The file's text, or `Ok(None)` when the file does not exist.
    fn read(&self, path: &Path) -> io::Result<Option<String>>;

    /// Whether `path` is a directory: default folders (`/flyway/sql`) count only if they exist.
    /// An in-memory set has none.
    fn is_dir(&self, _path: &Path) -> bool {
        false
    }
}

/// An in-memory file set, for tests and for callers that already hold the files.
impl<S: BuildHasher> SecretFiles for HashMap<PathBuf, String, S> {
    fn read(&self, path: &Path) -> io::Result<Option<String>> {
        Ok(self.get(path).cloned())
    }
}

impl SecretFiles for BTreeMap<PathBuf, String> {
    fn read(&self, path: &Path) -> io::Result<Option<String>> {
        Ok(self.get(path).cloned())
    }
}

pub(crate) const PREFIX: &str = "SCHEMAGATE_";
const PLACEHOLDER: &str = "PLACEHOLDER_";
const FILE_SUFFIX: &str = "_FILE";

/// Every `SCHEMAGATE_` setting, without the prefix. `SCHEMAGATE_PLACEHOLDER_<NAME>` is a family,
/// not a name, so it is not listed. A test keeps this list and `RawSettings` in step.
pub const SETTINGS: &[&str] = &[
    "DATABASE_URL",
    "SECRET_DIR",
    "CONNECT_TIMEOUT",
    "LOCATIONS",
    "DEFAULT_LOCATIONS",
    "VALIDATE_NAMING",
    "EXECUTE_IN_TRANSACTION",
    "SCHEMA",
    "OTHER_SCHEMAS",
    "CREATE_SCHEMAS",
    "TABLE",
    "INSTALLED_BY",
    "INIT_SQL",
    "TARGET",
    "OUT_OF_ORDER",
    "IGNORE_MISSING",
    "BASELINE_ON_MIGRATE",
    "BASELINE_VERSION",
    "DEADLINE",
    "WAIT_TIMEOUT",
    "LOCK_WAIT",
    "LOCK_TIMEOUT",
    "LOCK_RETRIES",
    "STATEMENT_TIMEOUT",
    "CONTRACT",
    "APP",
    "APP_VERSION",
    "CONTRACT_SETTLE",
    "CONTRACT_WAIT",
    "BATCH_SIZE",
    "BATCH_TIMEOUT",
    "BATCH_PAUSE",
    "MAX_REPLICATION_LAG",
    "BATCH_MAX",
    "UNDO_CONTRACT",
    "LINT",
    "LINT_SMALL_ROWS",
    "LINT_SMALL_SIZE",
    "LINT_ALLOW",
    "LOG_FORMAT",
    "LOG",
    "TERMINATION_LOG",
    "PUSHGATEWAY_URL",
    "PUSHGATEWAY_JOB",
    "PUSHGATEWAY_USERNAME",
    "PUSHGATEWAY_PASSWORD",
    "PUSHGATEWAY_TOKEN",
    "COMPARE_URL",
    "COMPARE_TABLES",
    "COMPARE_CHUNK_ROWS",
    "COMPARE_RECHECKS",
];

/// The libpq variables read (SPEC §2), each also in its `_FILE` form. [`RawPg`] mirrors them.
pub(crate) const LIBPQ_VARS: &[&str] = &[
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLNEGOTIATION",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGAPPNAME",
    "PGCONNECT_TIMEOUT",
    "PGOPTIONS",
    "PGTARGETSESSIONATTRS",
];

/// `SCHEMAGATE_*` values as given, empty meaning unset. No `Debug`: `database_url`,
/// `pushgateway_url`, `pushgateway_password`, `pushgateway_token` and `compare_url` may hold
/// secrets.
#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(serde::Serialize))]
pub(crate) struct RawSettings {
    pub database_url: Option<String>,
    pub secret_dir: Option<String>,
    pub connect_timeout: Option<String>,
    pub locations: Option<String>,
    pub default_locations: Option<String>,
    pub validate_naming: Option<String>,
    pub execute_in_transaction: Option<String>,
    pub schema: Option<String>,
    pub other_schemas: Option<String>,
    pub create_schemas: Option<String>,
    pub table: Option<String>,
    pub installed_by: Option<String>,
    pub init_sql: Option<String>,
    pub target: Option<String>,
    pub out_of_order: Option<String>,
    pub ignore_missing: Option<String>,
    pub baseline_on_migrate: Option<String>,
    pub baseline_version: Option<String>,
    pub deadline: Option<String>,
    pub wait_timeout: Option<String>,
    pub lock_wait: Option<String>,
    pub lock_timeout: Option<String>,
    pub lock_retries: Option<String>,
    pub statement_timeout: Option<String>,
    pub contract: Option<String>,
    pub app: Option<String>,
    pub app_version: Option<String>,
    pub contract_settle: Option<String>,
    pub contract_wait: Option<String>,
    pub batch_size: Option<String>,
    pub batch_timeout: Option<String>,
    pub batch_pause: Option<String>,
    pub max_replication_lag: Option<String>,
    pub batch_max: Option<String>,
    pub undo_contract: Option<String>,
    pub lint: Option<String>,
    pub lint_small_rows: Option<String>,
    pub lint_small_size: Option<String>,
    pub lint_allow: Option<String>,
    pub log_format: Option<String>,
    pub log: Option<String>,
    pub termination_log: Option<String>,
    pub pushgateway_url: Option<String>,
    pub pushgateway_job: Option<String>,
    pub pushgateway_username: Option<String>,
    pub pushgateway_password: Option<String>,
    pub pushgateway_token: Option<String>,
    pub compare_url: Option<String>,
    pub compare_tables: Option<String>,
    pub compare_chunk_rows: Option<String>,
    pub compare_rechecks: Option<String>,
}

/// `PG*` values as given, empty meaning unset. No `Debug`: `password`.
#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(serde::Serialize))]
pub(crate) struct RawPg {
    pub host: Option<String>,
    pub port: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    pub sslmode: Option<String>,
    pub sslnegotiation: Option<String>,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub appname: Option<String>,
    pub connect_timeout: Option<String>,
    pub options: Option<String>,
    pub targetsessionattrs: Option<String>,
}

/// Everything read from the outside, before validation.
pub(crate) struct Raw {
    pub settings: RawSettings,
    pub pg: RawPg,
    /// `SCHEMAGATE_DATABASE_URL`, else `DATABASE_URL`, with the name it was found under.
    pub url: Option<(&'static str, String)>,
    /// Placeholder name (lower-cased) → value. Values may be secrets: never shown.
    pub placeholders: BTreeMap<String, String>,
    pub hostname: Option<String>,
    pub rust_log: Option<String>,
    /// Every `OTEL_*` variable that is set: OpenTelemetry's own names (`config::otlp` reads
    /// them; an unknown one is not ours to refuse).
    pub otel: BTreeMap<String, String>,
    /// Variable name → the file its value was read from, for error messages.
    origins: BTreeMap<String, PathBuf>,
}

impl Raw {
    /// The variable's name, plus the file it was read from when it came from `NAME_FILE`.
    pub fn label(&self, var: &str) -> String {
        match self.origins.get(var) {
            Some(path) => format!("{var} (read from {var}{FILE_SUFFIX}={})", path.display()),
            None => var.to_string(),
        }
    }

    /// `NAME="value"` for messages about values that are not secret.
    pub fn shown(&self, var: &str, value: &str) -> String {
        match self.origins.get(var) {
            Some(path) => format!(
                "{var}={value:?} (read from {var}{FILE_SUFFIX}={})",
                path.display()
            ),
            None => format!("{var}={value:?}"),
        }
    }
}

/// The environment as a map: a later duplicate wins, so the CLI can append flag overrides.
pub(crate) struct Env(BTreeMap<String, String>);

impl Env {
    pub fn new(list: &[(String, String)]) -> Self {
        Env(list.iter().cloned().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every `SCHEMAGATE_*` name that is not a setting: a typo must not silently change
    /// behaviour. Only names are reported, never values (`SCHEMAGATE_PASSWORD=...`).
    pub fn unknown_names(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| {
                k.to_ascii_uppercase().starts_with(PREFIX)
                    && !is_known(k)
                    && !is_kubernetes_service_variable(k, v)
            })
            .map(|(k, _)| k)
            .map(|k| match suggestion(k) {
                Some(hint) => format!("unknown setting {k}; did you mean {hint}?"),
                None => format!(
                    "unknown setting {k}; known settings are {}, SCHEMAGATE_PLACEHOLDER_<NAME>, \
                     and each with _FILE",
                    SETTINGS
                        .iter()
                        .map(|s| format!("{PREFIX}{s}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
            .collect()
    }

    /// Reads every variable this program knows, resolving `NAME_FILE` forms. Unreadable files
    /// are added to `problems`.
    pub fn read(&self, files: &dyn SecretFiles, problems: &mut Vec<String>) -> Raw {
        let mut origins = BTreeMap::new();
        let mut lookup = |name: &str| self.resolve(name, files, problems, &mut origins);

        let settings: Vec<(String, String)> = SETTINGS
            .iter()
            .filter_map(|s| {
                let name = format!("{PREFIX}{s}");
                lookup(&name).map(|v| (name, v))
            })
            .collect();
        let pg: Vec<(String, String)> = LIBPQ_VARS
            .iter()
            .filter_map(|name| lookup(name).map(|v| (name.to_string(), v)))
            .collect();
        // DATABASE_URL (and its file) is not even read when ours is set.
        let plain_url = if settings.iter().any(|(k, _)| k == "SCHEMAGATE_DATABASE_URL") {
            None
        } else {
            lookup("DATABASE_URL")
        };

        // Only known names reach envy and each at most once, so neither an unknown field nor a
        // duplicate can occur; the fallback keeps a broken invariant a config error, not a panic.
        let settings = envy::prefixed(PREFIX)
            .from_iter::<_, RawSettings>(settings)
            .unwrap_or_else(|e| {
                problems.push(format!("internal: reading SCHEMAGATE_ settings: {e}"));
                RawSettings::default()
            });
        let pg = envy::prefixed("PG")
            .from_iter::<_, RawPg>(pg)
            .unwrap_or_else(|e| {
                problems.push(format!("internal: reading PG variables: {e}"));
                RawPg::default()
            });

        let url = match &settings.database_url {
            Some(url) => Some(("SCHEMAGATE_DATABASE_URL", url.clone())),
            None => plain_url.map(|url| ("DATABASE_URL", url)),
        };
        Raw {
            settings,
            pg,
            url,
            placeholders: self.placeholders(files, problems),
            hostname: self
                .get("HOSTNAME")
                .filter(|h| !h.is_empty())
                .map(str::to_string),
            rust_log: self
                .get("RUST_LOG")
                .filter(|h| !h.is_empty())
                .map(str::to_string),
            otel: self
                .0
                .iter()
                .filter(|(k, v)| k.starts_with("OTEL_") && !v.trim().is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            origins,
        }
    }

    /// `NAME` if set and not empty, else the contents of the file `NAME_FILE` names.
    /// An empty value counts as unset: a chart that renders `value: ""` means "default".
    fn resolve(
        &self,
        name: &str,
        files: &dyn SecretFiles,
        problems: &mut Vec<String>,
        origins: &mut BTreeMap<String, PathBuf>,
    ) -> Option<String> {
        if let Some(v) = self.get(name).filter(|v| !v.is_empty()) {
            return Some(v.to_string());
        }
        let file_var = format!("{name}{FILE_SUFFIX}");
        let path = self.get(&file_var).filter(|p| !p.is_empty())?;
        let text = read_file(files, &file_var, Path::new(path), problems)?;
        origins.insert(name.to_string(), PathBuf::from(path));
        Some(text).filter(|t| !t.is_empty())
    }

    /// `SCHEMAGATE_PLACEHOLDER_<NAME>` and its `_FILE` form. Unlike settings, an empty value is
    /// a value: `${suffix}` may well be meant to vanish.
    fn placeholders(
        &self,
        files: &dyn SecretFiles,
        problems: &mut Vec<String>,
    ) -> BTreeMap<String, String> {
        let mut found: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (var, value) in &self.0 {
            let Some((name, is_file)) = placeholder_name(var) else {
                continue;
            };
            let value = if is_file {
                let direct = var.strip_suffix(FILE_SUFFIX).unwrap_or(var);
                if self.get(direct).is_some_and(|v| !v.is_empty()) {
                    continue;
                }
                match read_file(files, var, Path::new(value), problems) {
                    Some(text) => text,
                    None => continue,
                }
            } else {
                if value.is_empty()
                    && self
                        .get(&format!("{var}{FILE_SUFFIX}"))
                        .is_some_and(|p| !p.is_empty())
                {
                    continue;
                }
                value.clone()
            };
            let key = name.to_lowercase();
            match found.get(&key) {
                Some((other, other_value)) if *other_value != value => problems.push(format!(
                    "{other} and {var} both set placeholder `{key}` to different values \
                     (placeholder names are case-insensitive); keep one"
                )),
                Some(_) => {}
                None => {
                    found.insert(key, (var.clone(), value));
                }
            }
        }
        found.into_iter().map(|(k, (_, v))| (k, v)).collect()
    }
}

/// Reads a secret file for `var`. Exactly one trailing line break is dropped: `echo` and most
/// editors add one, and a password rarely ends in a second.
fn read_file(
    files: &dyn SecretFiles,
    var: &str,
    path: &Path,
    problems: &mut Vec<String>,
) -> Option<String> {
    match files.read(path) {
        Ok(Some(text)) => Some(strip_one_newline(text)),
        Ok(None) => {
            problems.push(format!(
                "{var}={} names a file that does not exist",
                path.display()
            ));
            None
        }
        Err(e) => {
            problems.push(format!(
                "{var}={}: cannot read the file: {e}",
                path.display()
            ));
            None
        }
    }
}

pub(crate) fn strip_one_newline(mut text: String) -> String {
    if text.ends_with("\r\n") {
        text.truncate(text.len() - 2);
    } else if text.ends_with('\n') {
        text.truncate(text.len() - 1);
    }
    text
}

/// `SCHEMAGATE_PLACEHOLDER_<NAME>[_FILE]` → (`NAME`, is the `_FILE` form).
fn placeholder_name(var: &str) -> Option<(&str, bool)> {
    let rest = var.strip_prefix(PREFIX)?.strip_prefix(PLACEHOLDER)?;
    match rest.strip_suffix(FILE_SUFFIX) {
        Some(name) if !name.is_empty() => Some((name, true)),
        _ if !rest.is_empty() => Some((rest, false)),
        _ => None,
    }
}

/// Kubernetes puts `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT=tcp://…` and friends into every
/// container for each Service in the namespace; a Service named `schemagate…` must not make
/// the binary refuse to start. The bare `_PORT` form counts only with its `tcp://` value, so
/// a user's `SCHEMAGATE_PORT=5432` is still caught as a typo.
pub(crate) fn is_kubernetes_service_variable(var: &str, value: &str) -> bool {
    if var.ends_with("_SERVICE_HOST")
        || var.ends_with("_SERVICE_PORT")
        || var.contains("_SERVICE_PORT_")
    {
        return true;
    }
    // `<SERVICE>_PORT_<number>_<PROTOCOL>[_PROTO|_PORT|_ADDR]`
    if let Some(at) = var.rfind("_PORT_") {
        let mut parts = var[at + "_PORT_".len()..].split('_');
        let number = parts
            .next()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let protocol = parts
            .next()
            .is_some_and(|p| matches!(p, "TCP" | "UDP" | "SCTP"));
        let tail = parts
            .next()
            .is_none_or(|t| matches!(t, "PROTO" | "PORT" | "ADDR"));
        if number && protocol && tail && parts.next().is_none() {
            return true;
        }
    }
    var.ends_with("_PORT")
        && ["tcp://", "udp://", "sctp://"]
            .iter()
            .any(|p| value.starts_with(p))
}

fn is_known(var: &str) -> bool {
    let Some(rest) = var.strip_prefix(PREFIX) else {
        return false;
    };
    let base = rest.strip_suffix(FILE_SUFFIX).unwrap_or(rest);
    SETTINGS.contains(&rest) || SETTINGS.contains(&base) || placeholder_name(var).is_some()
}

/// The likely intended name for an unknown `SCHEMAGATE_*` variable.
fn suggestion(var: &str) -> Option<String> {
    let upper = var.to_ascii_uppercase();
    let rest = &upper[PREFIX.len()..];
    let (base, file) = match rest.strip_suffix(FILE_SUFFIX) {
        Some(base) => (base, FILE_SUFFIX),
        None => (rest, ""),
    };
    // Case first: `schemagate_deadline` and `SCHEMAGATE_Deadline` are one fix away.
    if SETTINGS.contains(&base) {
        return Some(format!("{PREFIX}{base}{file} (names are case-sensitive)"));
    }
    if let Some(name) = var[PREFIX.len()..]
        .get(PLACEHOLDER.len()..)
        .filter(|n| rest.starts_with(PLACEHOLDER) && !n.is_empty())
    {
        return Some(format!("{PREFIX}{PLACEHOLDER}{name}"));
    }
    if let Some(name) = rest.strip_prefix("PLACEHOLDERS_") {
        let original = &var[var.len() - name.len()..];
        return Some(format!("{PREFIX}{PLACEHOLDER}{original}"));
    }
    // Connection fields are libpq's variables, read without our prefix.
    let libpq = match base {
        "HOST" => Some("PGHOST"),
        "PORT" => Some("PGPORT"),
        "USER" | "USERNAME" => Some("PGUSER"),
        "PASSWORD" => Some("PGPASSWORD"),
        "DATABASE" | "DBNAME" | "DB" => Some("PGDATABASE"),
        "SSLMODE" => Some("PGSSLMODE"),
        "SSLNEGOTIATION" => Some("PGSSLNEGOTIATION"),
        "SSLROOTCERT" => Some("PGSSLROOTCERT"),
        "APPLICATION_NAME" | "APPNAME" => Some("PGAPPNAME"),
        "OPTIONS" => Some("PGOPTIONS"),
        "URL" | "DB_URL" | "DATABASE_URI" | "DSN" | "URI" => Some("SCHEMAGATE_DATABASE_URL"),
        other => LIBPQ_VARS.iter().copied().find(|v| *v == other),
    };
    if let Some(name) = libpq {
        return Some(format!("{name}{file}"));
    }
    closest(base, SETTINGS.iter().copied()).map(|s| format!("{PREFIX}{s}{file}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(crate) fn files(pairs: &[(&str, &str)]) -> HashMap<PathBuf, String> {
        pairs
            .iter()
            .map(|(k, v)| (PathBuf::from(k), v.to_string()))
            .collect()
    }

    /// A file set where every read fails, as a directory without read permission would.
    pub(crate) struct Unreadable;
    impl SecretFiles for Unreadable {
        fn read(&self, _: &Path) -> io::Result<Option<String>> {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "permission denied",
            ))
        }
    }

    fn read(pairs: &[(&str, &str)], fs: &dyn SecretFiles) -> (Raw, Vec<String>) {
        let mut problems = Vec::new();
        let raw = Env::new(&env(pairs)).read(fs, &mut problems);
        (raw, problems)
    }

    #[test]
    fn settings_list_and_raw_struct_agree() {
        let all: Vec<(String, String)> = SETTINGS
            .iter()
            .map(|s| (format!("{PREFIX}{s}"), "x".to_string()))
            .collect();
        let (raw, problems) = read(
            &all.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            &files(&[]),
        );
        assert!(problems.is_empty(), "{problems:?}");
        let json = serde_json::to_value(&raw.settings).unwrap();
        let fields = json.as_object().unwrap();
        assert_eq!(fields.len(), SETTINGS.len());
        for (field, value) in fields {
            assert_eq!(value, "x", "{field} is not in SETTINGS");
        }

        let pg: Vec<(&str, &str)> = LIBPQ_VARS.iter().map(|v| (*v, "x")).collect();
        let (raw, _) = read(&pg, &files(&[]));
        let json = serde_json::to_value(&raw.pg).unwrap();
        let fields = json.as_object().unwrap();
        assert_eq!(fields.len(), LIBPQ_VARS.len());
        for (field, value) in fields {
            assert_eq!(
                value,
                "x",
                "PG{} is not in LIBPQ_VARS",
                field.to_uppercase()
            );
        }
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../../README.md");
        let missing: Vec<String> = SETTINGS
            .iter()
            .map(|s| format!("`{PREFIX}{s}`"))
            .filter(|s| !readme.contains(s.as_str()))
            .collect();
        assert!(missing.is_empty(), "README \"Settings\" lacks {missing:?}");
    }

    #[test]
    fn a_later_duplicate_wins() {
        let (raw, _) = read(
            &[("SCHEMAGATE_DEADLINE", "1m"), ("SCHEMAGATE_DEADLINE", "2m")],
            &files(&[]),
        );
        assert_eq!(raw.settings.deadline.as_deref(), Some("2m"));
    }

    #[test]
    fn file_forms() {
        let fs = files(&[
            ("/s/deadline", "5m\n"),
            ("/s/pw", "secret\r\n"),
            ("/s/two", "v\n\n"),
            ("/s/url", "postgres://x\n"),
            ("/s/empty", "\n"),
        ]);
        let (raw, problems) = read(
            &[
                ("SCHEMAGATE_DEADLINE_FILE", "/s/deadline"),
                ("PGPASSWORD_FILE", "/s/pw"),
                ("PGUSER_FILE", "/s/two"),
                ("DATABASE_URL_FILE", "/s/url"),
                ("PGHOST_FILE", "/s/empty"),
            ],
            &fs,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(raw.settings.deadline.as_deref(), Some("5m"));
        assert_eq!(raw.pg.password.as_deref(), Some("secret"));
        assert_eq!(raw.pg.user.as_deref(), Some("v\n"), "only one newline goes");
        assert_eq!(raw.url, Some(("DATABASE_URL", "postgres://x".to_string())));
        assert_eq!(raw.pg.host, None, "an empty file is unset");
        assert_eq!(
            raw.label("SCHEMAGATE_DEADLINE"),
            "SCHEMAGATE_DEADLINE (read from SCHEMAGATE_DEADLINE_FILE=/s/deadline)"
        );
        assert_eq!(raw.label("SCHEMAGATE_LOG"), "SCHEMAGATE_LOG");
    }

    #[test]
    fn name_set_wins_over_name_file_and_empty_name_does_not() {
        // Unreadable: the file must not even be read when NAME is set.
        let (raw, problems) = read(
            &[
                ("PGPASSWORD", "direct"),
                ("PGPASSWORD_FILE", "/nope"),
                ("SCHEMAGATE_TABLE", "t"),
                ("SCHEMAGATE_TABLE_FILE", "/nope"),
            ],
            &Unreadable,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(raw.pg.password.as_deref(), Some("direct"));
        assert_eq!(raw.settings.table.as_deref(), Some("t"));

        let (raw, _) = read(
            &[("PGUSER", ""), ("PGUSER_FILE", "/u")],
            &files(&[("/u", "app\n")]),
        );
        assert_eq!(raw.pg.user.as_deref(), Some("app"));
    }

    #[test]
    fn missing_or_unreadable_files_name_variable_and_path() {
        let (_, problems) = read(&[("PGPASSWORD_FILE", "/run/secrets/pw")], &files(&[]));
        assert_eq!(
            problems,
            ["PGPASSWORD_FILE=/run/secrets/pw names a file that does not exist"]
        );
        let (_, problems) = read(&[("SCHEMAGATE_DEADLINE_FILE", "/d")], &Unreadable);
        assert_eq!(
            problems,
            ["SCHEMAGATE_DEADLINE_FILE=/d: cannot read the file: permission denied"]
        );
    }

    #[test]
    fn schemagate_url_wins_over_database_url() {
        let (raw, _) = read(
            &[
                ("DATABASE_URL", "postgres://a"),
                ("SCHEMAGATE_DATABASE_URL", "postgres://b"),
            ],
            &files(&[]),
        );
        assert_eq!(
            raw.url,
            Some(("SCHEMAGATE_DATABASE_URL", "postgres://b".to_string()))
        );
    }

    #[test]
    fn placeholders() {
        let fs = files(&[("/p/pw", "hunter2\n")]);
        let (raw, problems) = read(
            &[
                ("SCHEMAGATE_PLACEHOLDER_APP_USER", "app"),
                ("SCHEMAGATE_PLACEHOLDER_Suffix", ""),
                ("SCHEMAGATE_PLACEHOLDER_APP_PASSWORD_FILE", "/p/pw"),
                ("SCHEMAGATE_PLACEHOLDER_OWNER", "o"),
                (
                    "SCHEMAGATE_PLACEHOLDER_OWNER_FILE",
                    "/missing-but-never-read",
                ),
            ],
            &fs,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let want: BTreeMap<String, String> = [
            ("app_password", "hunter2"),
            ("app_user", "app"),
            ("owner", "o"),
            ("suffix", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(raw.placeholders, want);

        let (_, problems) = read(
            &[
                ("SCHEMAGATE_PLACEHOLDER_X", "1"),
                ("SCHEMAGATE_PLACEHOLDER_x", "2"),
            ],
            &fs,
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("`x`"), "{}", problems[0]);
        assert!(!problems[0].contains('1') && !problems[0].contains('2'));
    }

    #[test]
    fn variables_kubernetes_injects_for_a_service_are_not_settings() {
        let injected = [
            ("SCHEMAGATE_SERVICE_HOST", "10.96.0.7"),
            ("SCHEMAGATE_SERVICE_PORT", "5432"),
            ("SCHEMAGATE_SERVICE_PORT_POSTGRES", "5432"),
            ("SCHEMAGATE_PORT", "tcp://10.96.0.7:5432"),
            ("SCHEMAGATE_PORT_5432_TCP", "tcp://10.96.0.7:5432"),
            ("SCHEMAGATE_PORT_5432_TCP_PROTO", "tcp"),
            ("SCHEMAGATE_PORT_5432_TCP_PORT", "5432"),
            ("SCHEMAGATE_PORT_5432_TCP_ADDR", "10.96.0.7"),
            ("SCHEMAGATE_DEMO_SERVICE_HOST", "10.96.0.8"),
            ("SCHEMAGATE_DEMO_PORT_80_TCP_ADDR", "10.96.0.8"),
        ];
        assert!(Env::new(&env(&injected)).unknown_names().is_empty());
        // A person's typo still is one.
        for typo in [
            ("SCHEMAGATE_PORT", "5432"),
            ("SCHEMAGATE_PORT_5432", "x"),
            ("SCHEMAGATE_HOST", "db"),
        ] {
            assert_eq!(Env::new(&env(&[typo])).unknown_names().len(), 1, "{typo:?}");
        }
    }

    #[test]
    fn unknown_names_and_hints() {
        let cases: &[(&str, &str)] = &[
            ("SCHEMAGATE_DEADLIN", "did you mean SCHEMAGATE_DEADLINE?"),
            (
                "SCHEMAGATE_DEADLNE_FILE",
                "did you mean SCHEMAGATE_DEADLINE_FILE?",
            ),
            (
                "SCHEMAGATE_LOCK_TIMOUT",
                "did you mean SCHEMAGATE_LOCK_TIMEOUT?",
            ),
            ("SCHEMAGATE_LOCATION", "did you mean SCHEMAGATE_LOCATIONS?"),
            (
                "SCHEMAGATE_Deadline",
                "did you mean SCHEMAGATE_DEADLINE (names are case-sensitive)?",
            ),
            (
                "schemagate_deadline",
                "did you mean SCHEMAGATE_DEADLINE (names are case-sensitive)?",
            ),
            ("SCHEMAGATE_PASSWORD", "did you mean PGPASSWORD?"),
            ("SCHEMAGATE_PGHOST", "did you mean PGHOST?"),
            ("SCHEMAGATE_URL", "did you mean SCHEMAGATE_DATABASE_URL?"),
            (
                "SCHEMAGATE_PLACEHOLDERS_Foo",
                "did you mean SCHEMAGATE_PLACEHOLDER_Foo?",
            ),
            (
                "schemagate_placeholder_foo",
                "did you mean SCHEMAGATE_PLACEHOLDER_foo?",
            ),
            (
                "SCHEMAGATE_PLACEHOLDER_",
                "known settings are SCHEMAGATE_DATABASE_URL, ",
            ),
            (
                "SCHEMAGATE_ZZZZZZZZ",
                "known settings are SCHEMAGATE_DATABASE_URL, ",
            ),
        ];
        for (var, hint) in cases {
            let e = Env::new(&env(&[(var, "value-never-shown")]));
            let got = e.unknown_names();
            assert_eq!(got.len(), 1, "{var}: {got:?}");
            assert!(
                got[0].starts_with(&format!("unknown setting {var}; ")),
                "{}",
                got[0]
            );
            assert!(got[0].contains(hint), "{var}: {}", got[0]);
            assert!(!got[0].contains("value-never-shown"));
        }
        let known = env(&[
            ("SCHEMAGATE_DEADLINE", "1"),
            ("SCHEMAGATE_DEADLINE_FILE", "1"),
            ("SCHEMAGATE_SECRET_DIR_FILE", "1"),
            ("SCHEMAGATE_PLACEHOLDER_foo", "1"),
            ("SCHEMAGATE_PLACEHOLDER_FOO_FILE", "1"),
            ("PGDATA", "1"),
            ("PATH", "1"),
            ("SCHEMAGATEWAY", "1"),
        ]);
        assert!(Env::new(&known).unknown_names().is_empty());
    }
}
