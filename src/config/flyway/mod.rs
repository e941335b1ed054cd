//! The Flyway drop-in's configuration (pure, SPEC §13): Flyway's sources — `FLYWAY_*`
//! variables, `-key=value` arguments, `flyway.conf`/`flyway.toml` — translated into the
//! `SCHEMAGATE_*` (and libpq) variables that `settings` already validates, so that every
//! value gets the one set of checks and messages. A Flyway value and a schemagate value that
//! name the same thing differently stop the run (78) naming both.

mod keys;
mod sources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use keys::{Action, JDBC_PROPERTIES, KEYS, action};
use sources::{Given, Input, Merged};

use super::raw::SecretFiles;
use super::settings::ConfigError;
use super::values::{boolean, duration};
use crate::core::hint::closest;
use crate::core::placeholders::Syntax;

/// The history table a Flyway configuration means when it names none.
pub const FLYWAY_TABLE: &str = "flyway_schema_history";

/// What Flyway's configuration amounts to.
#[derive(Debug)]
pub struct Translation {
    /// Whether any Flyway source was present (SPEC §13: then Flyway's defaults apply).
    pub active: bool,
    /// Variables to append to the environment.
    pub env: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// The Flyway configuration files read, in load order.
    pub files: Vec<PathBuf>,
    /// Each variable added → the Flyway setting it came from, so that a message about
    /// `SCHEMAGATE_TABLE` names the `FLYWAY_TABLE` the user wrote.
    pub origins: Vec<(String, String)>,
    /// `placeholderPrefix`/`placeholderSuffix`: Flyway-only, so not a variable (see
    /// `Settings::placeholder_syntax`).
    pub placeholder_syntax: Syntax,
    /// `placeholderReplacement` (`true`): `false` leaves `${…}` in every script that does
    /// not turn it on in its `.sql.conf`.
    pub placeholder_replacement: bool,
}

impl Default for Translation {
    fn default() -> Self {
        Translation {
            active: false,
            env: Vec::new(),
            warnings: Vec::new(),
            files: Vec::new(),
            origins: Vec::new(),
            placeholder_syntax: Syntax::default(),
            placeholder_replacement: true,
        }
    }
}

impl Translation {
    /// `message` with each variable this translation set named after its Flyway source:
    /// `SCHEMAGATE_TABLE="x y" …` → `FLYWAY_TABLE (as SCHEMAGATE_TABLE)="x y" …`.
    pub fn relabel(&self, message: &str) -> String {
        let mut origins: Vec<&(String, String)> = self.origins.iter().collect();
        // Longest first, so that no name is replaced inside a longer one.
        origins.sort_by_key(|(var, _)| std::cmp::Reverse(var.len()));
        let mut out = message.to_string();
        for (var, from) in origins {
            if out.contains(var.as_str()) {
                out = out.replace(var.as_str(), &format!("{from} (as {var})"));
            }
        }
        out
    }
}

/// One variable that a Flyway setting becomes, with the setting's name for messages.
struct Out {
    var: String,
    value: String,
    from: String,
    secret: bool,
}

/// Reads Flyway's sources and translates them. `env` is the environment with the CLI's
/// `--setting` overrides appended; `args` are the `-key=value` arguments in order.
pub fn translate(
    env: &[(String, String)],
    args: &[(String, String)],
    files: &dyn SecretFiles,
    install_dir: &Path,
) -> Result<Translation, ConfigError> {
    let map: BTreeMap<String, String> = env.iter().cloned().collect();
    let read = sources::read(&Input {
        args,
        env: &map,
        files,
        install_dir,
    });
    // A variable Flyway does not know (a typo, or Kubernetes' `FLYWAY_SERVICE_HOST` for a
    // Service named flyway) is no Flyway configuration: it must not switch the defaults.
    let active = !args.is_empty()
        || !read.files.is_empty()
        || map.iter().any(|(k, v)| {
            !v.is_empty()
                && (k.starts_with("flyway_")
                    || (k.starts_with("FLYWAY_") && keys::key_of_env(k).is_some()))
        });
    let mut problems = read.problems;
    let mut warnings = read.warnings;
    if !active {
        // Still say that `FLYWAY_URI` is no Flyway setting: it may be the one meant.
        return Ok(Translation {
            warnings,
            ..Translation::default()
        });
    }
    let working_dir = args
        .iter()
        .rev()
        .find(|(k, _)| k == "workingDirectory")
        .map(|(_, v)| PathBuf::from(v));
    let mut outs = Vec::new();
    let mut ignored = Vec::new();
    for (key, given) in &read.merged {
        let label = given.label(key);
        match action(key) {
            None => problems.push(format!(
                "{label} is not a Flyway setting{}",
                closest(key, KEYS.iter().map(|(k, _)| *k))
                    .map(|k| format!(
                        "; did you mean {}?",
                        Given {
                            value: String::new(),
                            origin: given.origin.clone()
                        }
                        .label(k)
                    ))
                    .unwrap_or_default()
            )),
            Some(Action::Set(var)) => {
                let secret = matches!(var, "PGPASSWORD" | "SCHEMAGATE_INIT_SQL");
                outs.push(out(var, &given.value, &label, secret))
            }
            Some(Action::Bool(var)) => match boolean(&given.value) {
                Some(b) => outs.push(out(var, if b { "true" } else { "false" }, &label, false)),
                None => problems.push(format!(
                    "{label}={:?}: should be either true or false",
                    given.value
                )),
            },
            Some(Action::Only(default, why)) => {
                let v = given.value.trim();
                if !v.is_empty() && !v.eq_ignore_ascii_case(default) {
                    problems.push(format!("{label}={v:?} is not supported: {why}"));
                }
            }
            Some(Action::Ignored) => ignored.push(label),
            Some(Action::Special) => special(
                key,
                given,
                &read.merged,
                working_dir.as_deref(),
                &mut outs,
                &mut problems,
            ),
        }
    }
    let mut placeholder_syntax = Syntax::default();
    for (key, slot) in [
        ("placeholderPrefix", &mut placeholder_syntax.prefix),
        ("placeholderSuffix", &mut placeholder_syntax.suffix),
    ] {
        if let Some(g) = read.merged.get(key) {
            if g.value.is_empty() {
                problems.push(format!(
                    "{} is empty; a placeholder needs one",
                    g.label(key)
                ));
            } else {
                *slot = g.value.clone();
            }
        }
    }
    let placeholder_replacement = match read.merged.get("placeholderReplacement") {
        None => true,
        Some(g) => boolean(&g.value).unwrap_or_else(|| {
            problems.push(format!(
                "{}={:?}: should be either true or false",
                g.label("placeholderReplacement"),
                g.value
            ));
            true
        }),
    };
    if let Some(wd) = &working_dir {
        let locations_given = read.merged.contains_key("locations")
            || map
                .get("SCHEMAGATE_LOCATIONS")
                .is_some_and(|v| !v.is_empty());
        let sql = wd.join("sql");
        if !locations_given && files.is_dir(&sql) {
            outs.push(out(
                "SCHEMAGATE_LOCATIONS",
                &sql.to_string_lossy(),
                "-workingDirectory",
                false,
            ));
        }
    }
    if !ignored.is_empty() {
        warnings.push(format!(
            "ignored Flyway settings that concern only Flyway's JVM, licensing or Redgate's services: {}",
            ignored.join(", ")
        ));
    }

    let mut added: Vec<(String, String)> = Vec::new();
    let mut origins = Vec::new();
    for o in outs {
        let current = env
            .iter()
            .rev()
            .find(|(k, _)| *k == o.var)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty());
        match current {
            Some(v) if !same(&o.var, v, &o.value) => {
                let values = if o.secret {
                    String::new()
                } else {
                    format!(" ({:?} and {v:?})", o.value)
                };
                problems.push(format!(
                    "{} and {} set the same thing to different values{values}; keep one",
                    o.from, o.var
                ));
            }
            Some(_) => {}
            None => {
                origins.push((o.var.clone(), o.from));
                added.push((o.var, o.value));
            }
        }
    }
    // Flyway's defaults where neither side says otherwise.
    for (var, value) in [
        ("SCHEMAGATE_TABLE", FLYWAY_TABLE),
        ("SCHEMAGATE_VALIDATE_NAMING", "false"),
    ] {
        let set =
            map.get(var).is_some_and(|v| !v.is_empty()) || added.iter().any(|(k, _)| k == var);
        if !set {
            added.push((var.to_string(), value.to_string()));
        }
    }
    if !problems.is_empty() {
        return Err(ConfigError {
            message: problems.join("; "),
        });
    }
    Ok(Translation {
        active,
        env: added,
        warnings,
        files: read.files,
        origins,
        placeholder_syntax,
        placeholder_replacement,
    })
}

/// How a usage error shows `-word` written without `=value`: a Flyway setting's name as it
/// is (`-password` wants `-password=…`), anything else only if it cannot be a value that lost
/// its `=` — `-passwordhunter2` is not echoed.
pub fn shown_flag(word: &str) -> String {
    let known = keys::action(word).is_some();
    let plain = word.len() <= 40 && word.bytes().all(|b| b.is_ascii_alphabetic());
    let glued = KEYS
        .iter()
        .any(|(k, _)| word.len() > k.len() && word.starts_with(k));
    if known || (plain && !glued) {
        format!("-{word}")
    } else {
        "a -flag (not shown, as it may hold a value)".to_string()
    }
}

/// The likely meant variable for a `FLYWAY_*` name Flyway does not know.
pub(crate) fn hint_env(var: &str) -> String {
    closest(
        var,
        KEYS.iter()
            .map(|(k, _)| keys::env_name(k))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    )
    .map(|v| format!("; did you mean {v}?"))
    .unwrap_or_default()
}

fn out(var: &str, value: &str, from: &str, secret: bool) -> Out {
    Out {
        var: var.to_string(),
        value: value.to_string(),
        from: from.to_string(),
        secret,
    }
}

/// Whether two spellings mean the same value of `var`: `true`/`yes`, `30`/`30s`.
fn same(var: &str, a: &str, b: &str) -> bool {
    if a.trim() == b.trim() {
        return true;
    }
    if let (Some(x), Some(y)) = (boolean(a), boolean(b)) {
        return x == y;
    }
    let is_duration = var.ends_with("_TIMEOUT") || var.ends_with("_WAIT");
    matches!((duration(a), duration(b)), (Ok(x), Ok(y)) if is_duration && x == y)
}

/// The settings that need more than a rename.
fn special(
    key: &str,
    given: &Given,
    merged: &Merged,
    working_dir: Option<&Path>,
    outs: &mut Vec<Out>,
    problems: &mut Vec<String>,
) {
    let label = given.label(key);
    let value = given.value.trim();
    match key {
        "url" => {
            let url = value
                .strip_prefix("jdbc:p6spy:")
                .map(|r| format!("jdbc:{r}"));
            let url = url.as_deref().unwrap_or(value);
            if url.starts_with("jdbc:") && !url.starts_with("jdbc:postgresql:") {
                // Never the URL itself: it may hold a password.
                problems.push(format!(
                    "{label} is not a PostgreSQL JDBC URL (jdbc:postgresql://…); schemagate migrates PostgreSQL only"
                ));
                return;
            }
            let mut url = url.to_string();
            // jdbcProperties rank below the URL's own parameters (pgjdbc's priority).
            for (k, g) in merged
                .iter()
                .filter_map(|(k, g)| k.strip_prefix(JDBC_PROPERTIES).map(|k| (k, g)))
            {
                let present = url
                    .split_once('?')
                    .is_some_and(|(_, q)| q.split('&').any(|p| p.split('=').next() == Some(k)));
                if !present {
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str(k);
                    url.push('=');
                    url.push_str(&percent_encode(&g.value));
                }
            }
            outs.push(out("SCHEMAGATE_DATABASE_URL", &url, &label, true));
        }
        k if k.starts_with(JDBC_PROPERTIES) => {
            if !merged.contains_key("url") {
                problems.push(format!(
                    "{label} is a JDBC property, which needs a Flyway url to go with"
                ));
            }
        }
        "schemas" => {
            let list: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            // Flyway creates every one of them with the history table.
            if list.len() > 1 || merged.contains_key("defaultSchema") {
                outs.push(out(
                    "SCHEMAGATE_OTHER_SCHEMAS",
                    &list.join(","),
                    &label,
                    false,
                ));
            }
            if !merged.contains_key("defaultSchema")
                && let Some(first) = list.first()
            {
                outs.push(out("SCHEMAGATE_SCHEMA", first, &label, false));
            }
        }
        "defaultSchema" => outs.push(out("SCHEMAGATE_SCHEMA", value, &label, false)),
        "locations" => {
            let mut folders = Vec::new();
            for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if part.starts_with("classpath:") {
                    problems.push(format!(
                        "{label} holds a classpath: location, which is inside a Java jar; give a folder (filesystem:/flyway/sql)"
                    ));
                    continue;
                }
                let path = part.strip_prefix("filesystem:").unwrap_or(part);
                let path = match working_dir {
                    Some(wd) if Path::new(path).is_relative() => {
                        wd.join(path).to_string_lossy().into_owned()
                    }
                    _ => path.to_string(),
                };
                folders.push(path);
            }
            if !folders.is_empty() {
                outs.push(out(
                    "SCHEMAGATE_LOCATIONS",
                    &folders.join(","),
                    &label,
                    false,
                ));
            }
        }
        "target" => {
            if value.is_empty() || value.eq_ignore_ascii_case("latest") {
                return;
            }
            if value.eq_ignore_ascii_case("current")
                || value.eq_ignore_ascii_case("next")
                || value.ends_with('?')
            {
                problems.push(format!(
                    "{label}={value:?} is not supported: give a version (or latest)"
                ));
                return;
            }
            outs.push(out("SCHEMAGATE_TARGET", value, &label, false));
        }
        "connectRetries" => {
            let Ok(retries) = value.parse::<u32>() else {
                problems.push(format!(
                    "{label}={value:?}: must be a whole number of retries, 0 or more"
                ));
                return;
            };
            let interval = match merged.get("connectRetriesInterval") {
                None => 120,
                Some(g) => match g.value.trim().parse::<u64>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        problems.push(format!(
                            "{}={:?}: must be a whole number of seconds, more than 0",
                            g.label("connectRetriesInterval"),
                            g.value
                        ));
                        return;
                    }
                },
            };
            // Flyway waits 1 s, 2 s, 4 s … capped at the interval between its retries: the
            // same budget as one wait of their sum.
            let total: u64 = (0..retries)
                .map(|i| (1u64 << i.min(20)).min(interval))
                .sum();
            outs.push(out(
                "SCHEMAGATE_WAIT_TIMEOUT",
                &format!("{total}s"),
                &label,
                false,
            ));
        }
        // Only meaningful with connectRetries, which reads it.
        "connectRetriesInterval" => {}
        "lockRetryCount" => match value.parse::<i64>() {
            // Forever: schemagate's own default, the rest of the deadline.
            Ok(-1) => {}
            // Flyway tries once a second.
            Ok(n) if n >= 0 => {
                outs.push(out("SCHEMAGATE_LOCK_WAIT", &format!("{n}s"), &label, false))
            }
            _ => problems.push(format!(
                "{label}={value:?}: must be a whole number of tries, or -1 for no limit"
            )),
        },
        "ignoreMigrationPatterns" => {
            for pattern in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let lower = pattern.to_ascii_lowercase();
                let (kind, state) = lower.split_once(':').unwrap_or(("", ""));
                if !matches!(kind, "*" | "versioned" | "repeatable") {
                    problems.push(format!(
                        "{label}: `{pattern}` is not a pattern; write <type>:<state> with type *, versioned or repeatable"
                    ));
                    continue;
                }
                match state {
                    // schemagate warns about a future version and goes on, as Flyway's default.
                    "future" => {}
                    "missing" => outs.push(out("SCHEMAGATE_IGNORE_MISSING", "true", &label, false)),
                    _ => problems.push(format!(
                        "{label}: `{pattern}` is not supported; schemagate can ignore missing and future migrations"
                    )),
                }
            }
        }
        "encoding" => {
            if !value.is_empty() && !matches!(value.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
            {
                problems.push(format!(
                    "{label}={value:?} is not supported: schemagate reads UTF-8 scripts; convert them"
                ));
            }
        }
        k if k.starts_with(keys::PLACEHOLDERS) => {
            let name = &k[keys::PLACEHOLDERS.len()..];
            // An empty value is a value for a placeholder (SPEC §2), so the untrimmed one.
            outs.push(out(
                &format!("SCHEMAGATE_PLACEHOLDER_{name}"),
                &given.value,
                &label,
                true,
            ));
        }
        // Read by `sources` (configFiles, environment) or by `translate` itself.
        "environment"
        | "configFiles"
        | "workingDirectory"
        | "placeholderPrefix"
        | "placeholderSuffix"
        | "placeholderReplacement" => {}
        other => problems.push(format!(
            "internal: Flyway setting {other} has no translation"
        )),
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',' | b'/' | b':')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
