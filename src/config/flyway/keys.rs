//! Flyway's settings, one row each: what schemagate does with it (SPEC §13, reference
//! flyway-config.md §2.2). The README's mapping table is written from this one.

/// What a Flyway setting becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Passed through to this `SCHEMAGATE_*` (or libpq) variable as written.
    Set(&'static str),
    /// A boolean passed through to this variable, checked with Flyway's spelling.
    Bool(&'static str),
    /// Translated by code in `translate` (the URL, schemas, retries, patterns …).
    Special,
    /// Only Flyway's default is accepted: any other value changes what runs in a way
    /// schemagate does not implement, so the run stops (78) with the reason.
    Only(&'static str, &'static str),
    /// Concerns the JVM, licensing or Redgate's services: ignored, with one warning.
    Ignored,
}

use Action::*;

/// Every Flyway setting schemagate knows, by Flyway's camelCase key (without `flyway.`).
pub(crate) const KEYS: &[(&str, Action)] = &[
    ("url", Special),
    ("user", Set("PGUSER")),
    ("password", Set("PGPASSWORD")),
    (
        "driver",
        Only(
            "org.postgresql.Driver",
            "schemagate speaks PostgreSQL's protocol itself; remove the driver setting",
        ),
    ),
    ("schemas", Special),
    ("defaultSchema", Special),
    ("table", Set("SCHEMAGATE_TABLE")),
    ("locations", Special),
    ("outOfOrder", Bool("SCHEMAGATE_OUT_OF_ORDER")),
    ("ignoreMigrationPatterns", Special),
    (
        "validateMigrationNaming",
        Bool("SCHEMAGATE_VALIDATE_NAMING"),
    ),
    (
        "validateOnMigrate",
        Only(
            "true",
            "schemagate always validates before it migrates; realign the history with `repair` instead",
        ),
    ),
    ("baselineOnMigrate", Bool("SCHEMAGATE_BASELINE_ON_MIGRATE")),
    ("baselineVersion", Set("SCHEMAGATE_BASELINE_VERSION")),
    (
        "baselineDescription",
        Only(
            "<< Flyway Baseline >>",
            "schemagate records baselines as `<< Flyway Baseline >>`",
        ),
    ),
    ("target", Special),
    ("connectRetries", Special),
    ("connectRetriesInterval", Special),
    ("lockRetryCount", Special),
    ("initSql", Set("SCHEMAGATE_INIT_SQL")),
    ("createSchemas", Bool("SCHEMAGATE_CREATE_SCHEMAS")),
    ("installedBy", Set("SCHEMAGATE_INSTALLED_BY")),
    (
        "executeInTransaction",
        Bool("SCHEMAGATE_EXECUTE_IN_TRANSACTION"),
    ),
    ("encoding", Special),
    ("placeholderReplacement", Special),
    ("placeholderPrefix", Special),
    ("placeholderSuffix", Special),
    (
        "placeholderSeparator",
        Only(":", "schemagate's built-in placeholders are ${flyway:name}"),
    ),
    (
        "scriptPlaceholderPrefix",
        Only("FP__", "schemagate has no script placeholders"),
    ),
    (
        "scriptPlaceholderSuffix",
        Only("__", "schemagate has no script placeholders"),
    ),
    ("sqlMigrationPrefix", Only("V", "schemagate reads V files")),
    (
        "repeatableSqlMigrationPrefix",
        Only("R", "schemagate reads R files"),
    ),
    (
        "undoSqlMigrationPrefix",
        Only("U", "schemagate reads U files"),
    ),
    (
        "baselineMigrationPrefix",
        Only("B", "schemagate has no baseline migrations"),
    ),
    (
        "sqlMigrationSeparator",
        Only("__", "schemagate splits names at __"),
    ),
    (
        "sqlMigrationSuffixes",
        Only(".sql", "schemagate reads .sql files"),
    ),
    (
        "mixed",
        Only(
            "false",
            "schemagate runs a script that mixes transactional and non-transactional statements statement by statement only when it must; split the script instead",
        ),
    ),
    (
        "group",
        Only(
            "false",
            "schemagate applies each migration in its own transaction",
        ),
    ),
    (
        "cleanDisabled",
        Only("true", "schemagate has no clean command"),
    ),
    (
        "skipExecutingMigrations",
        Only("false", "use `schemagate baseline` or `repair` instead"),
    ),
    (
        "tablespace",
        Only(
            "",
            "schemagate creates the history table in the default tablespace",
        ),
    ),
    (
        "callbacks",
        Only(
            "",
            "Java callbacks cannot run; SQL callbacks in the locations do",
        ),
    ),
    (
        "skipDefaultCallbacks",
        Only("false", "schemagate always runs the SQL callbacks it finds"),
    ),
    (
        "callbackLocations",
        Only("", "put SQL callbacks into the locations"),
    ),
    ("resolvers", Only("", "Java resolvers cannot run")),
    (
        "skipDefaultResolvers",
        Only("false", "Java resolvers cannot run"),
    ),
    // schemagate fails on a missing location either way: stricter, never different.
    ("failOnMissingLocations", Ignored),
    (
        "cherryPick",
        Only("", "a Redgate feature schemagate does not have"),
    ),
    (
        "detectEncoding",
        Only("false", "schemagate reads UTF-8 scripts"),
    ),
    ("dryRunOutput", Only("", "use `schemagate plan`")),
    (
        "errorOverrides",
        Only("", "a Redgate feature schemagate does not have"),
    ),
    (
        "stream",
        Only("false", "a Redgate feature schemagate does not have"),
    ),
    (
        "batch",
        Only("false", "a Redgate feature schemagate does not have"),
    ),
    ("postgresql.transactional.lock", Ignored),
    ("outputQueryResults", Ignored),
    ("jarDirs", Ignored),
    ("loggers", Ignored),
    ("licenseKey", Ignored),
    ("email", Ignored),
    ("token", Ignored),
    ("offlinePermitPath", Ignored),
    ("reportFilename", Ignored),
    ("reportEnabled", Ignored),
    ("publishResult", Ignored),
    ("checkDriftOnMigrate", Ignored),
    ("kerberosConfigFile", Ignored),
    ("powershellExecutable", Ignored),
    ("communityDBSupportEnabled", Ignored),
    ("configFileEncoding", Ignored),
    ("color", Ignored),
    ("outputLogsInJson", Ignored),
    ("outputFile", Ignored),
    ("skipCheckForUpdate", Ignored),
    ("environment", Special),
    ("workingDirectory", Special),
    ("configFiles", Special),
];

/// Families whose key carries a name: `placeholders.<name>`, `jdbcProperties.<name>`.
pub(crate) const PLACEHOLDERS: &str = "placeholders.";
pub(crate) const JDBC_PROPERTIES: &str = "jdbcProperties.";

pub(crate) fn action(key: &str) -> Option<Action> {
    if key.starts_with(PLACEHOLDERS) || key.starts_with(JDBC_PROPERTIES) {
        return Some(Special);
    }
    KEYS.iter().find(|(k, _)| *k == key).map(|(_, a)| *a)
}

/// `connectRetriesInterval` → `FLYWAY_CONNECT_RETRIES_INTERVAL`, `postgresql.transactional.lock`
/// → `FLYWAY_POSTGRESQL_TRANSACTIONAL_LOCK` (`ConfigUtils.convertKey`'s names).
pub(crate) fn env_name(key: &str) -> String {
    let mut out = String::from("FLYWAY_");
    let mut prev_lower = false;
    for c in key.chars() {
        if c == '.' {
            out.push('_');
            prev_lower = false;
        } else if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
            out.push(c);
            prev_lower = false;
        } else {
            out.push(c.to_ascii_uppercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// The key a `FLYWAY_*` variable names, or `None` when Flyway does not know it either.
pub(crate) fn key_of_env(var: &str) -> Option<String> {
    if let Some(name) = var.strip_prefix("FLYWAY_PLACEHOLDERS_") {
        // Flyway lower-cases the name; placeholders match case-insensitively anyway.
        return Some(format!("{PLACEHOLDERS}{}", name.to_ascii_lowercase()));
    }
    if let Some(name) = var.strip_prefix("FLYWAY_JDBC_PROPERTIES_") {
        return Some(format!("{JDBC_PROPERTIES}{}", name.to_ascii_lowercase()));
    }
    if var == "FLYWAY_COMMUNITY_DB_SUPPORT_DISABLED" {
        return Some("communityDBSupportEnabled".into());
    }
    // Not settable from the environment in Flyway either (reference §2.5).
    if matches!(var, "FLYWAY_WORKING_DIRECTORY" | "FLYWAY_ENVIRONMENT") {
        return None;
    }
    KEYS.iter()
        .map(|(k, _)| *k)
        .find(|k| env_name(k) == var)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_flyways() {
        for (key, var) in [
            ("url", "FLYWAY_URL"),
            ("connectRetriesInterval", "FLYWAY_CONNECT_RETRIES_INTERVAL"),
            ("defaultSchema", "FLYWAY_DEFAULT_SCHEMA"),
            (
                "validateMigrationNaming",
                "FLYWAY_VALIDATE_MIGRATION_NAMING",
            ),
            (
                "postgresql.transactional.lock",
                "FLYWAY_POSTGRESQL_TRANSACTIONAL_LOCK",
            ),
            ("lockRetryCount", "FLYWAY_LOCK_RETRY_COUNT"),
            ("sqlMigrationSuffixes", "FLYWAY_SQL_MIGRATION_SUFFIXES"),
            ("initSql", "FLYWAY_INIT_SQL"),
        ] {
            assert_eq!(env_name(key), var);
            assert_eq!(key_of_env(var).as_deref(), Some(key), "{var}");
        }
        assert_eq!(
            key_of_env("FLYWAY_PLACEHOLDERS_APP_USER").as_deref(),
            Some("placeholders.app_user")
        );
        assert_eq!(key_of_env("FLYWAY_LOCATION"), None);
        assert_eq!(key_of_env("FLYWAY_ENVIRONMENT"), None);
    }

    #[test]
    fn every_key_is_listed_once() {
        for (i, (k, _)) in KEYS.iter().enumerate() {
            assert!(
                !KEYS[i + 1..].iter().any(|(o, _)| o == k),
                "{k} is listed twice"
            );
        }
    }
}

#[cfg(test)]
mod readme {
    /// The README's mapping table names every Flyway setting schemagate knows.
    #[test]
    fn the_readme_maps_every_key() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("## Switching from Flyway")
            .expect("the section");
        let section = &readme[start..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        for (key, _) in super::KEYS {
            assert!(
                section.contains(&format!("`{key}`")),
                "README \"Switching from Flyway\" does not name `{key}`"
            );
        }
    }
}
