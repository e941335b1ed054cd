//! Flyway's configuration sources read into one map of Flyway keys (pure): config files
//! (`flyway.conf` properties, `flyway.toml`), `FLYWAY_*` variables and `-key=value` arguments,
//! with Flyway's precedence — arguments over environment over files (reference §1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::keys::{JDBC_PROPERTIES, key_of_env};
use crate::config::raw::SecretFiles;

/// Where a Flyway value came from, as messages name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Arg,
    Env(String),
    File(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Given {
    pub value: String,
    pub origin: Origin,
}

impl Given {
    /// `-table`, `FLYWAY_TABLE`, `flyway.toml's table`: how a message names the setting.
    pub fn label(&self, key: &str) -> String {
        match &self.origin {
            Origin::Arg => format!("-{key}"),
            Origin::Env(var) => var.clone(),
            Origin::File(path) => format!("{key} in {}", path.display()),
        }
    }
}

/// Flyway key → its value, after precedence.
pub(crate) type Merged = BTreeMap<String, Given>;

/// What a run was given, before reading files.
pub(crate) struct Input<'a> {
    pub args: &'a [(String, String)],
    pub env: &'a BTreeMap<String, String>,
    pub files: &'a dyn SecretFiles,
    /// Where Flyway's launcher lives; the image's `/flyway`.
    pub install_dir: &'a Path,
}

/// Everything read, plus what a user should hear.
#[derive(Default)]
pub(crate) struct Read {
    pub merged: Merged,
    /// The files read, in order, for the start-up log.
    pub files: Vec<PathBuf>,
    pub warnings: Vec<String>,
    pub problems: Vec<String>,
}

const CONF: &str = "flyway.conf";
const TOML: &[&str] = &["flyway.toml", "flyway.user.toml"];

impl Input<'_> {
    fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn working_directory(&self) -> Option<PathBuf> {
        self.arg("workingDirectory").map(PathBuf::from)
    }

    /// Flyway's default files, in load order (reference §1.3): the install dir's `conf/`,
    /// `$HOME`, the current directory, the working directory.
    fn default_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.install_dir.join("conf")];
        if let Some(home) = self.var("HOME") {
            dirs.push(PathBuf::from(home));
        }
        dirs.push(PathBuf::new());
        if let Some(wd) = self.working_directory() {
            dirs.push(wd);
        }
        dirs
    }

    /// `-configFiles=` and `FLYWAY_CONFIG_FILES`, relative ones against the working directory.
    fn named_files(&self) -> Vec<PathBuf> {
        let wd = self.working_directory();
        let list = |text: &str| -> Vec<PathBuf> {
            text.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| match &wd {
                    Some(wd) if Path::new(p).is_relative() => wd.join(p),
                    _ => PathBuf::from(p),
                })
                .collect()
        };
        let mut out = self
            .var("FLYWAY_CONFIG_FILES")
            .map(list)
            .unwrap_or_default();
        out.extend(self.arg("configFiles").map(list).unwrap_or_default());
        out
    }
}

fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}

/// Reads every source. Problems name the file and line or the variable.
pub(crate) fn read(input: &Input<'_>) -> Read {
    let mut out = Read::default();
    let named = input.named_files();
    let mut texts: Vec<(PathBuf, String)> = Vec::new();
    let mut missing = Vec::new();
    for path in &named {
        match input.files.read(path) {
            Ok(Some(text)) => texts.push((path.clone(), text)),
            Ok(None) => missing.push(path.clone()),
            Err(e) => out
                .problems
                .push(format!("{}: cannot read the file: {e}", path.display())),
        }
    }
    for path in missing {
        out.problems.push(format!(
            "{}: a Flyway configuration file named in -configFiles or FLYWAY_CONFIG_FILES does not exist",
            path.display()
        ));
    }
    let named_toml = texts.iter().any(|(p, _)| is_toml(p));
    let named_conf = texts.iter().any(|(p, _)| !is_toml(p));
    if named_toml && named_conf {
        out.problems.push(
            "both TOML and .conf Flyway configuration files are named; Flyway does not support that either, use one kind"
                .into(),
        );
        return out;
    }
    // Defaults first (lowest precedence), then the named ones, as Flyway loads them.
    let mut defaults_toml = Vec::new();
    let mut defaults_conf = Vec::new();
    for dir in input.default_dirs() {
        for name in TOML {
            if let Ok(Some(text)) = input.files.read(&dir.join(name)) {
                defaults_toml.push((dir.join(name), text));
            }
        }
        if let Ok(Some(text)) = input.files.read(&dir.join(CONF)) {
            defaults_conf.push((dir.join(CONF), text));
        }
    }
    let modern = named_toml || (!named_conf && !defaults_toml.is_empty());
    let mut all = if modern { defaults_toml } else { defaults_conf };
    all.extend(texts);

    let mut toml_files = Vec::new();
    for (path, text) in all {
        out.files.push(path.clone());
        if modern {
            match toml_file(&text, &path, input.env) {
                Ok(t) => toml_files.push(t),
                Err(p) => out.problems.push(p),
            }
        } else {
            match conf_file(&text, &path, input.env) {
                Ok((pairs, ignored)) => {
                    for (k, v) in pairs {
                        out.merged.insert(
                            k,
                            Given {
                                value: v,
                                origin: Origin::File(path.clone()),
                            },
                        );
                    }
                    out.warnings.extend(ignored);
                }
                Err(p) => out.problems.push(p),
            }
        }
    }
    // The environment named by -environment, flyway_environment or a file's [flyway].
    let environment = input
        .arg("environment")
        .map(str::to_string)
        .or_else(|| input.var("flyway_environment").map(str::to_string))
        .or_else(|| {
            toml_files
                .iter()
                .rev()
                .find_map(|t| t.flyway.get("environment").map(|g| g.0.clone()))
        })
        .unwrap_or_else(|| "default".into());
    let mut overrides: Merged = BTreeMap::new();
    let mut environments_seen = Vec::new();
    for t in &toml_files {
        for (k, (v, _)) in &t.flyway {
            out.merged.insert(
                k.clone(),
                Given {
                    value: v.clone(),
                    origin: Origin::File(t.path.clone()),
                },
            );
        }
        environments_seen.extend(t.environments.keys().cloned());
        if let Some(env) = t.environments.get(&environment) {
            for (k, v) in &env.settings {
                let origin = Origin::File(t.path.clone());
                out.merged.insert(
                    k.clone(),
                    Given {
                        value: v.clone(),
                        origin: origin.clone(),
                    },
                );
            }
            for (k, v) in &env.overrides {
                overrides.insert(
                    k.clone(),
                    Given {
                        value: v.clone(),
                        origin: Origin::File(t.path.clone()),
                    },
                );
            }
            out.warnings.extend(env.unknown.iter().map(|k| {
                format!(
                    "{}: unknown parameter `{k}` in environment {environment}; ignored, as Flyway does",
                    t.path.display()
                )
            }));
        }
    }
    let explicit_environment = input.arg("environment").is_some()
        || input.var("flyway_environment").is_some()
        || toml_files
            .iter()
            .any(|t| t.flyway.contains_key("environment"));
    if explicit_environment && environment != "default" && !environments_seen.contains(&environment)
    {
        let hint = environments_seen
            .iter()
            .find(|e| e.eq_ignore_ascii_case(&environment))
            .map(|e| format!(" Did you mean '{e}'?"))
            .unwrap_or_default();
        out.problems.push(format!(
            "Flyway environment '{environment}' not found in the configuration files.{hint}"
        ));
    }
    out.merged.remove("environment");

    // Then the environment, then the arguments.
    for (var, value) in input.env {
        if !var.starts_with("FLYWAY_")
            || value.is_empty()
            || var == "FLYWAY_CONFIG_FILES"
            || crate::config::raw::is_kubernetes_service_variable(var, value)
        {
            continue;
        }
        match key_of_env(var) {
            Some(key) => {
                out.merged.insert(
                    key,
                    Given {
                        value: value.clone(),
                        origin: Origin::Env(var.clone()),
                    },
                );
            }
            // Flyway drops a variable it does not know without a word; a manifest that works
            // there must work here, but the typo deserves a line.
            None => out.warnings.push(format!(
                "{var} is not a Flyway setting and is ignored, as Flyway ignores it{}",
                super::hint_env(var)
            )),
        }
    }
    // Flyway 10's lower-case forms (reference §2.4): `flyway_cleanDisabled`, and
    // `environments_<env>_url` for the selected environment; they win over upper-case ones.
    let env_lower = format!("environments_{environment}_");
    for (var, value) in input.env {
        let key = match (var.strip_prefix("flyway_"), var.strip_prefix(&env_lower)) {
            (Some("environment"), _) => continue,
            (Some(rest), _) | (None, Some(rest)) if !rest.is_empty() && !value.is_empty() => {
                rest.replace('_', ".")
            }
            _ => continue,
        };
        if let Some(earlier) = out
            .merged
            .get(&key)
            .filter(|g| matches!(g.origin, Origin::Env(_)))
        {
            out.warnings.push(format!(
                "both {var} and {} set {key}; {var} is used, as Flyway uses the lower-case form",
                earlier.label(&key)
            ));
        }
        out.merged.insert(
            key,
            Given {
                value: value.clone(),
                origin: Origin::Env(var.clone()),
            },
        );
    }
    let env_prefix = format!("environments.{environment}.");
    for (key, value) in input.args {
        if matches!(key.as_str(), "environment" | "configFiles") {
            continue;
        }
        let key = match key.strip_prefix(&env_prefix) {
            Some(rest) => match rest.strip_prefix("flyway.") {
                // Only this form outranks an environment's override table.
                Some(k) => {
                    overrides.insert(
                        k.to_string(),
                        Given {
                            value: value.clone(),
                            origin: Origin::Arg,
                        },
                    );
                    continue;
                }
                None => rest.to_string(),
            },
            None if key.starts_with("environments.") => continue,
            None => key.clone(),
        };
        out.merged.insert(
            key,
            Given {
                value: value.clone(),
                origin: Origin::Arg,
            },
        );
    }
    // `[environments.<env>.flyway]` wins whatever the source (reference §1.2).
    out.merged.extend(overrides);
    out
}

/// `${NAME}` from the environment, empty when unset (`ConfigUtils.expandEnvironmentVariables`).
fn expand_conf(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if name_len > 0 && after.as_bytes().get(name_len) == Some(&b'}') {
            out.push_str(env.get(&after[..name_len]).map_or("", String::as_str));
            rest = &after[name_len + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

type ConfPairs = (Vec<(String, String)>, Vec<String>);

/// A legacy `flyway.conf`: Java properties, keys `flyway.<key>` (reference §4.1).
fn conf_file(text: &str, path: &Path, env: &BTreeMap<String, String>) -> Result<ConfPairs, String> {
    let text = expand_conf(text, env);
    let mut pairs = Vec::new();
    let mut ignored = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let mut logical = line.trim_start().to_string();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        // A trailing backslash continues the value on the next line.
        while logical.ends_with('\\') && !logical.ends_with("\\\\") {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let split = logical
            .find(['=', ':'])
            .or_else(|| logical.find(char::is_whitespace));
        // A line without a separator may be a value that lost its key (a password pasted
        // on its own line): named by its number only.
        let Some(at) = split else {
            return Err(format!(
                "{} line {}: no `=` (the line is not shown, as it may hold a value); write flyway.<key>=<value>",
                path.display(),
                i + 1
            ));
        };
        let (key, value) = (logical[..at].trim(), logical[at + 1..].trim());
        let Some(key) = key.strip_prefix("flyway.") else {
            ignored.push(format!(
                "{} line {}: `{key}` is not a flyway. setting; ignored",
                path.display(),
                i + 1
            ));
            continue;
        };
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok((pairs, ignored))
}

/// One environment table of a `flyway.toml`.
#[derive(Default)]
struct Environment {
    settings: BTreeMap<String, String>,
    overrides: BTreeMap<String, String>,
    unknown: Vec<String>,
}

struct TomlFile {
    path: PathBuf,
    /// `[flyway]`, flattened: key → (value, original TOML path).
    flyway: BTreeMap<String, (String, String)>,
    environments: BTreeMap<String, Environment>,
}

const ENVIRONMENT_KEYS: &[&str] = &[
    "url",
    "user",
    "password",
    "driver",
    "schemas",
    "connectRetries",
    "connectRetriesInterval",
    "initSql",
    "displayName",
];

fn toml_file(text: &str, path: &Path, env: &BTreeMap<String, String>) -> Result<TomlFile, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        format!("{}: not valid TOML: {}", path.display(), e.message())
    })?;
    let mut file = TomlFile {
        path: path.to_path_buf(),
        flyway: BTreeMap::new(),
        environments: BTreeMap::new(),
    };
    let resolve = |v: &str, at: &str| {
        resolve_env(v, env).map_err(|why| format!("{}: {at}: {why}", path.display()))
    };
    if let Some(flyway) = table.get("flyway") {
        let mut flat = Vec::new();
        flatten(flyway, "", &mut flat);
        for (k, v) in flat {
            let value = resolve(&v, &format!("flyway.{k}"))?;
            file.flyway.insert(k.clone(), (value, k));
        }
    }
    if let Some(toml::Value::Table(envs)) = table.get("environments") {
        for (name, body) in envs {
            let mut e = Environment::default();
            if let toml::Value::Table(body) = body {
                for (k, v) in body {
                    let at = format!("environments.{name}.{k}");
                    match (k.as_str(), v) {
                        ("flyway", v) => {
                            let mut flat = Vec::new();
                            flatten(v, "", &mut flat);
                            for (k, v) in flat {
                                e.overrides.insert(k, resolve(&v, &at)?);
                            }
                        }
                        ("jdbcProperties", v) => {
                            let mut flat = Vec::new();
                            flatten(v, "", &mut flat);
                            for (k, v) in flat {
                                e.settings
                                    .insert(format!("{JDBC_PROPERTIES}{k}"), resolve(&v, &at)?);
                            }
                        }
                        ("displayName" | "resolvers" | "provisioner", _) => {}
                        (k, v) if ENVIRONMENT_KEYS.contains(&k) => {
                            let mut flat = Vec::new();
                            flatten(v, "", &mut flat);
                            if let Some((_, v)) = flat.pop() {
                                e.settings.insert(k.to_string(), resolve(&v, &at)?);
                            }
                        }
                        (k, _) => e.unknown.push(k.to_string()),
                    }
                }
            }
            file.environments.insert(name.clone(), e);
        }
    }
    Ok(file)
}

/// Nested tables become dotted keys (`placeholders.x`, `postgresql.transactional.lock`);
/// arrays become Flyway's comma lists.
fn flatten(value: &toml::Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &key, out);
            }
        }
        toml::Value::Array(items) => {
            let mut parts = Vec::new();
            for item in items {
                let mut one = Vec::new();
                flatten(item, "", &mut one);
                parts.extend(one.into_iter().map(|(_, v)| v));
            }
            out.push((prefix.to_string(), parts.join(",")));
        }
        toml::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        toml::Value::Integer(n) => out.push((prefix.to_string(), n.to_string())),
        toml::Value::Float(f) => out.push((prefix.to_string(), f.to_string())),
        toml::Value::Boolean(b) => out.push((prefix.to_string(), b.to_string())),
        toml::Value::Datetime(d) => out.push((prefix.to_string(), d.to_string())),
    }
}

/// Flyway's property resolvers in TOML values: `${env.NAME}` (an unset one is an error, as in
/// Flyway), `$${…}` kept literally, `!{…}` verbatim; other resolvers are Redgate's.
fn resolve_env(value: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    if let Some(inner) = value.strip_prefix("!{").and_then(|v| v.strip_suffix('}')) {
        return Ok(inner.to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        if at > 0 && rest.as_bytes()[at - 1] == b'$' {
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            out.push_str("${");
            rest = after;
            continue;
        };
        let inner = &after[..end];
        match inner.split_once('.') {
            Some(("env", name)) => match env.get(name) {
                Some(v) => out.push_str(v),
                None => return Err(format!("Unable to resolve environment variable: '{name}'")),
            },
            Some((resolver, _)) if !resolver.is_empty() => {
                return Err(format!(
                    "the `{resolver}` property resolver is not supported; use ${{env.NAME}} or a Secret mounted as an environment variable"
                ));
            }
            // Not resolver syntax (no dot): a literal, as Flyway leaves it.
            _ => {
                out.push_str("${");
                out.push_str(inner);
                out.push('}');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
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

    fn run(args: &[(&str, &str)], vars: &[(&str, &str)], files: &[(&str, &str)]) -> Read {
        let args: Vec<(String, String)> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = env(vars);
        let files: BTreeMap<PathBuf, String> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        read(&Input {
            args: &args,
            env: &env,
            files: &files,
            install_dir: Path::new("/flyway"),
        })
    }

    fn value<'a>(r: &'a Read, key: &str) -> Option<&'a str> {
        r.merged.get(key).map(|g| g.value.as_str())
    }

    #[test]
    fn arguments_beat_the_environment_which_beats_files() {
        let r = run(
            &[("table", "from_arg")],
            &[("FLYWAY_TABLE", "from_env"), ("FLYWAY_SCHEMAS", "app")],
            &[(
                "/flyway/conf/flyway.conf",
                "flyway.table=from_file\nflyway.locations=filesystem:sql\nflyway.outOfOrder=true\n",
            )],
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(value(&r, "table"), Some("from_arg"));
        assert_eq!(value(&r, "schemas"), Some("app"));
        assert_eq!(value(&r, "locations"), Some("filesystem:sql"));
        assert_eq!(r.merged["table"].label("table"), "-table");
        assert_eq!(r.merged["schemas"].label("schemas"), "FLYWAY_SCHEMAS");
        assert_eq!(r.files, [PathBuf::from("/flyway/conf/flyway.conf")]);
    }

    #[test]
    fn conf_files_expand_environment_variables_and_continue_lines() {
        let r = run(
            &[],
            &[("DB_HOST", "db"), ("HOME", "/root")],
            &[(
                "/root/flyway.conf",
                "# comment\nflyway.url=jdbc:postgresql://${DB_HOST}/app\nflyway.user=${UNSET}\nflyway.locations=filesystem:a,\\\n  filesystem:b\nother.key=1\n",
            )],
        );
        assert_eq!(value(&r, "url"), Some("jdbc:postgresql://db/app"));
        assert_eq!(value(&r, "user"), Some(""));
        assert_eq!(value(&r, "locations"), Some("filesystem:a,filesystem:b"));
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("line 6") && w.contains("other.key"))
        );
        let r = run(
            &[],
            &[],
            &[(
                "flyway.conf",
                "flyway.url=jdbc:postgresql://db/app\nhunter2\n",
            )],
        );
        assert!(
            r.problems[0].starts_with("flyway.conf line 2: no `=`"),
            "{:?}",
            r.problems
        );
        assert!(!r.problems[0].contains("hunter2"));
    }

    #[test]
    fn toml_environments_are_selected_and_their_flyway_table_overrides_everything() {
        let toml = r#"
[flyway]
environment = "prod"
locations = ["filesystem:migrations", "filesystem:extra"]
placeholders.appUser = "app"
postgresql.transactional.lock = false

[environments.prod]
url = "jdbc:postgresql://db/app"
user = "${env.DB_USER}"
schemas = ["app", "audit"]
color = "x"

[environments.prod.flyway]
table = "prod_history"

[environments.dev]
url = "jdbc:postgresql://localhost/dev"
"#;
        let r = run(
            &[("table", "from_arg")],
            &[("DB_USER", "migrator")],
            &[
                ("flyway.toml", toml),
                ("flyway.conf", "flyway.table=ignored"),
            ],
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(value(&r, "url"), Some("jdbc:postgresql://db/app"));
        assert_eq!(value(&r, "user"), Some("migrator"));
        assert_eq!(value(&r, "schemas"), Some("app,audit"));
        assert_eq!(
            value(&r, "locations"),
            Some("filesystem:migrations,filesystem:extra")
        );
        assert_eq!(value(&r, "placeholders.appUser"), Some("app"));
        assert_eq!(value(&r, "postgresql.transactional.lock"), Some("false"));
        assert_eq!(value(&r, "table"), Some("prod_history"));
        assert!(r.warnings.iter().any(|w| w.contains("`color`")));
        // Only -environments.<env>.flyway.<key> beats the override table.
        let r = run(
            &[("environments.prod.flyway.table", "t2")],
            &[("DB_USER", "m")],
            &[("flyway.toml", toml)],
        );
        assert_eq!(value(&r, "table"), Some("t2"));
    }

    #[test]
    fn toml_problems_name_the_file() {
        let r = run(&[], &[], &[("flyway.toml", "[flyway\nx=1")]);
        assert!(
            r.problems[0].starts_with("flyway.toml: not valid TOML"),
            "{:?}",
            r.problems
        );
        let r = run(
            &[],
            &[],
            &[(
                "flyway.toml",
                "[environments.default]\nuser = \"${env.NOPE}\"\n",
            )],
        );
        assert!(r.problems[0].contains("Unable to resolve environment variable: 'NOPE'"));
        let r = run(
            &[],
            &[],
            &[(
                "flyway.toml",
                "[environments.default]\npassword = \"${vault.x}\"\n",
            )],
        );
        assert!(r.problems[0].contains("`vault` property resolver is not supported"));
        let r = run(
            &[("environment", "Prod")],
            &[],
            &[("flyway.toml", "[environments.prod]\nurl=\"x\"\n")],
        );
        assert!(r.problems[0].contains("'Prod' not found") && r.problems[0].contains("'prod'"));
    }

    #[test]
    fn named_config_files_add_to_the_defaults_and_must_exist() {
        let r = run(
            &[
                ("configFiles", "conf/a.conf,missing.conf"),
                ("workingDirectory", "/p"),
            ],
            &[],
            &[("/p/conf/a.conf", "flyway.table=a")],
        );
        assert_eq!(value(&r, "table"), Some("a"));
        assert!(r.problems.iter().any(|p| p.starts_with("/p/missing.conf")));
        let r = run(
            &[("configFiles", "a.conf,b.toml")],
            &[],
            &[("a.conf", ""), ("b.toml", "")],
        );
        assert!(r.problems[0].contains("both TOML and .conf"));
    }

    #[test]
    fn lower_case_variables_win_over_upper_case_ones() {
        let r = run(
            &[],
            &[
                ("FLYWAY_TABLE", "upper"),
                ("flyway_table", "lower"),
                ("flyway_environment", "prod"),
                ("environments_prod_url", "jdbc:postgresql://prod/app"),
                ("environments_dev_url", "jdbc:postgresql://dev/app"),
            ],
            &[("flyway.toml", "[environments.prod]\nuser = \"app\"\n")],
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(value(&r, "table"), Some("lower"));
        assert_eq!(value(&r, "url"), Some("jdbc:postgresql://prod/app"));
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("flyway_table") && w.contains("FLYWAY_TABLE"))
        );
    }

    #[test]
    fn unknown_flyway_variables_are_warned_about_not_fatal() {
        let r = run(
            &[],
            &[("FLYWAY_LOCATION", "x"), ("FLYWAY_PLACEHOLDERS_OWNER", "o")],
            &[],
        );
        assert!(r.problems.is_empty());
        assert!(
            r.warnings[0].contains("FLYWAY_LOCATION is not a Flyway setting"),
            "{:?}",
            r.warnings
        );
        assert!(
            r.warnings[0].contains("FLYWAY_LOCATIONS"),
            "{:?}",
            r.warnings
        );
        assert_eq!(value(&r, "placeholders.owner"), Some("o"));
    }
}
