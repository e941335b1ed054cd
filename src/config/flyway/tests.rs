//! One case per row of the Flyway mapping (README "Switching from Flyway"), conflicts, and
//! Flyway's defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tr(env: &[(&str, &str)], args: &[(&str, &str)]) -> Result<Translation, String> {
    let files: BTreeMap<PathBuf, String> = BTreeMap::new();
    translate(&pairs(env), &pairs(args), &files, Path::new("/flyway")).map_err(|e| e.message)
}

fn added(t: &Translation, var: &str) -> Option<String> {
    t.env.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone())
}

#[test]
fn without_a_flyway_source_nothing_changes() {
    let t = tr(&[("SCHEMAGATE_TABLE", "t"), ("PGHOST", "db")], &[]).unwrap();
    assert!(!t.active && t.env.is_empty());
    // Kubernetes' variables for a Service named flyway, and a name Flyway does not know,
    // leave schemagate's defaults (its history table) alone.
    let t = tr(
        &[
            ("FLYWAY_SERVICE_HOST", "10.0.0.7"),
            ("FLYWAY_PORT", "tcp://10.0.0.7:8080"),
            ("FLYWAY_PORT_8080_TCP_ADDR", "10.0.0.7"),
            ("FLYWAY_LOCATION", "x"),
        ],
        &[],
    )
    .unwrap();
    assert!(!t.active && t.env.is_empty(), "{t:?}");
    assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
    assert!(t.warnings[0].contains("FLYWAY_LOCATION is not a Flyway setting"));
}

#[test]
fn each_mapped_setting_becomes_its_schemagate_variable() {
    for (var, value, schemagate, expected) in [
        (
            "FLYWAY_URL",
            "jdbc:postgresql://db/app",
            "SCHEMAGATE_DATABASE_URL",
            "jdbc:postgresql://db/app",
        ),
        (
            "FLYWAY_URL",
            "jdbc:p6spy:postgresql://db/app",
            "SCHEMAGATE_DATABASE_URL",
            "jdbc:postgresql://db/app",
        ),
        ("FLYWAY_USER", "app", "PGUSER", "app"),
        ("FLYWAY_PASSWORD", "pw", "PGPASSWORD", "pw"),
        ("FLYWAY_SCHEMAS", "app", "SCHEMAGATE_SCHEMA", "app"),
        ("FLYWAY_DEFAULT_SCHEMA", "app", "SCHEMAGATE_SCHEMA", "app"),
        ("FLYWAY_TABLE", "hist", "SCHEMAGATE_TABLE", "hist"),
        (
            "FLYWAY_LOCATIONS",
            "filesystem:/a, filesystem:/b",
            "SCHEMAGATE_LOCATIONS",
            "/a,/b",
        ),
        (
            "FLYWAY_PLACEHOLDERS_APP_USER",
            "u",
            "SCHEMAGATE_PLACEHOLDER_app_user",
            "u",
        ),
        (
            "FLYWAY_OUT_OF_ORDER",
            "TRUE",
            "SCHEMAGATE_OUT_OF_ORDER",
            "true",
        ),
        (
            "FLYWAY_IGNORE_MIGRATION_PATTERNS",
            "*:missing,*:future",
            "SCHEMAGATE_IGNORE_MISSING",
            "true",
        ),
        (
            "FLYWAY_VALIDATE_MIGRATION_NAMING",
            "true",
            "SCHEMAGATE_VALIDATE_NAMING",
            "true",
        ),
        (
            "FLYWAY_BASELINE_ON_MIGRATE",
            "true",
            "SCHEMAGATE_BASELINE_ON_MIGRATE",
            "true",
        ),
        (
            "FLYWAY_BASELINE_VERSION",
            "5",
            "SCHEMAGATE_BASELINE_VERSION",
            "5",
        ),
        ("FLYWAY_TARGET", "3.1", "SCHEMAGATE_TARGET", "3.1"),
        (
            "FLYWAY_CONNECT_RETRIES",
            "10",
            "SCHEMAGATE_WAIT_TIMEOUT",
            "487s",
        ),
        (
            "FLYWAY_CONNECT_RETRIES",
            "0",
            "SCHEMAGATE_WAIT_TIMEOUT",
            "0s",
        ),
        (
            "FLYWAY_LOCK_RETRY_COUNT",
            "30",
            "SCHEMAGATE_LOCK_WAIT",
            "30s",
        ),
        (
            "FLYWAY_SCHEMAS",
            "app, audit",
            "SCHEMAGATE_OTHER_SCHEMAS",
            "app,audit",
        ),
        ("FLYWAY_INSTALLED_BY", "ci", "SCHEMAGATE_INSTALLED_BY", "ci"),
        (
            "FLYWAY_CREATE_SCHEMAS",
            "false",
            "SCHEMAGATE_CREATE_SCHEMAS",
            "false",
        ),
        (
            "FLYWAY_INIT_SQL",
            "SET ROLE app_owner",
            "SCHEMAGATE_INIT_SQL",
            "SET ROLE app_owner",
        ),
        (
            "FLYWAY_EXECUTE_IN_TRANSACTION",
            "false",
            "SCHEMAGATE_EXECUTE_IN_TRANSACTION",
            "false",
        ),
    ] {
        let t = tr(&[(var, value)], &[]).unwrap_or_else(|e| panic!("{var}: {e}"));
        assert!(t.active);
        assert_eq!(
            added(&t, schemagate).as_deref(),
            Some(expected),
            "{var}={value}"
        );
    }
    // 1+2+4+8+10 with the interval capping each wait at 10 s.
    let t = tr(
        &[
            ("FLYWAY_CONNECT_RETRIES", "5"),
            ("FLYWAY_CONNECT_RETRIES_INTERVAL", "10"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(added(&t, "SCHEMAGATE_WAIT_TIMEOUT").as_deref(), Some("25s"));
    // -1 is forever: schemagate's default, the rest of the deadline.
    let t = tr(&[("FLYWAY_LOCK_RETRY_COUNT", "-1")], &[]).unwrap();
    assert_eq!(added(&t, "SCHEMAGATE_LOCK_WAIT"), None);
    let t = tr(&[("FLYWAY_TARGET", "latest")], &[]).unwrap();
    assert_eq!(added(&t, "SCHEMAGATE_TARGET"), None);
}

#[test]
fn defaults_accepted_and_other_values_refused_by_name() {
    for (var, value) in [
        ("FLYWAY_DRIVER", "org.postgresql.Driver"),
        ("FLYWAY_VALIDATE_ON_MIGRATE", "true"),
        ("FLYWAY_ENCODING", "UTF-8"),
        ("FLYWAY_SQL_MIGRATION_PREFIX", "V"),
        ("FLYWAY_MIXED", "false"),
        ("FLYWAY_CLEAN_DISABLED", "true"),
    ] {
        tr(&[(var, value)], &[]).unwrap_or_else(|e| panic!("{var}={value}: {e}"));
    }
    for (var, value, says) in [
        ("FLYWAY_DRIVER", "com.mysql.Driver", "driver"),
        ("FLYWAY_VALIDATE_ON_MIGRATE", "false", "repair"),
        ("FLYWAY_MIXED", "true", "FLYWAY_MIXED"),
        ("FLYWAY_GROUP", "true", "FLYWAY_GROUP"),
        ("FLYWAY_CLEAN_DISABLED", "false", "clean"),
        (
            "FLYWAY_SQL_MIGRATION_PREFIX",
            "M",
            "FLYWAY_SQL_MIGRATION_PREFIX",
        ),
        (
            "FLYWAY_SQL_MIGRATION_SUFFIXES",
            ".pgsql",
            "FLYWAY_SQL_MIGRATION_SUFFIXES",
        ),
        ("FLYWAY_ENCODING", "ISO-8859-1", "UTF-8"),
        ("FLYWAY_TARGET", "next", "FLYWAY_TARGET"),
        ("FLYWAY_LOCATIONS", "classpath:db/migration", "classpath"),
        ("FLYWAY_IGNORE_MIGRATION_PATTERNS", "*:pending", "*:pending"),
        ("FLYWAY_OUT_OF_ORDER", "maybe", "true or false"),
        ("FLYWAY_CONNECT_RETRIES", "-3", "FLYWAY_CONNECT_RETRIES"),
        (
            "FLYWAY_URL",
            "jdbc:mysql://db/x?password=hunter2",
            "PostgreSQL",
        ),
    ] {
        let e = tr(&[(var, value)], &[]).unwrap_err();
        assert!(e.contains(says), "{var}={value}: {e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
}

#[test]
fn jvm_and_licensing_settings_give_one_warning() {
    let t = tr(
        &[
            ("FLYWAY_LICENSE_KEY", "k"),
            ("FLYWAY_JAR_DIRS", "/j"),
            ("FLYWAY_URL", "jdbc:postgresql://db/a"),
        ],
        &[("color", "always")],
    )
    .unwrap();
    let w: Vec<&String> = t
        .warnings
        .iter()
        .filter(|w| w.contains("ignored Flyway settings"))
        .collect();
    assert_eq!(w.len(), 1, "{:?}", t.warnings);
    for name in ["FLYWAY_LICENSE_KEY", "FLYWAY_JAR_DIRS", "-color"] {
        assert!(w[0].contains(name), "{}", w[0]);
    }
}

#[test]
fn a_conflict_names_both_and_hides_secret_values() {
    let e = tr(&[("FLYWAY_TABLE", "a"), ("SCHEMAGATE_TABLE", "b")], &[]).unwrap_err();
    assert!(
        e.contains("FLYWAY_TABLE and SCHEMAGATE_TABLE") && e.contains("\"a\""),
        "{e}"
    );
    let e = tr(
        &[("FLYWAY_PASSWORD", "s3cret1"), ("PGPASSWORD", "s3cret2")],
        &[],
    )
    .unwrap_err();
    assert!(e.contains("FLYWAY_PASSWORD and PGPASSWORD"), "{e}");
    assert!(!e.contains("s3cret"), "{e}");
    let e = tr(
        &[("SCHEMAGATE_DATABASE_URL", "postgres://x:s1@db/a")],
        &[("url", "jdbc:postgresql://db/a?password=s2")],
    )
    .unwrap_err();
    assert!(
        e.contains("-url and SCHEMAGATE_DATABASE_URL") && !e.contains("s1") && !e.contains("s2"),
        "{e}"
    );
    // The same value said twice is no conflict, in either spelling.
    tr(
        &[
            ("FLYWAY_OUT_OF_ORDER", "true"),
            ("SCHEMAGATE_OUT_OF_ORDER", "yes"),
        ],
        &[],
    )
    .unwrap();
    tr(
        &[
            ("FLYWAY_LOCK_RETRY_COUNT", "30"),
            ("SCHEMAGATE_LOCK_WAIT", "30"),
        ],
        &[],
    )
    .unwrap();
}

#[test]
fn flyway_defaults_apply_unless_a_side_says_otherwise() {
    let t = tr(&[("FLYWAY_URL", "jdbc:postgresql://db/a")], &[]).unwrap();
    assert_eq!(
        added(&t, "SCHEMAGATE_TABLE").as_deref(),
        Some("flyway_schema_history")
    );
    assert_eq!(
        added(&t, "SCHEMAGATE_VALIDATE_NAMING").as_deref(),
        Some("false")
    );
    let t = tr(
        &[
            ("FLYWAY_URL", "jdbc:postgresql://db/a"),
            ("SCHEMAGATE_TABLE", "mine"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(added(&t, "SCHEMAGATE_TABLE"), None);
}

#[test]
fn arguments_win_and_unknown_arguments_are_refused_with_a_hint() {
    let t = tr(&[("FLYWAY_TABLE", "env")], &[("table", "arg")]).unwrap();
    assert_eq!(added(&t, "SCHEMAGATE_TABLE").as_deref(), Some("arg"));
    let e = tr(&[], &[("locaitons", "x")]).unwrap_err();
    assert!(
        e.contains("-locaitons is not a Flyway setting; did you mean -locations?"),
        "{e}"
    );
}

#[test]
fn jdbc_properties_join_the_url_below_its_own_parameters() {
    let t = tr(
        &[
            ("FLYWAY_URL", "jdbc:postgresql://db/a?sslmode=require"),
            ("FLYWAY_JDBC_PROPERTIES_SSLMODE", "disable"),
            ("FLYWAY_JDBC_PROPERTIES_SSLROOTCERT", "/certs/ca.pem"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        added(&t, "SCHEMAGATE_DATABASE_URL").as_deref(),
        Some("jdbc:postgresql://db/a?sslmode=require&sslrootcert=/certs/ca.pem")
    );
}

#[test]
fn messages_about_a_translated_variable_name_the_flyway_setting() {
    let t = tr(
        &[
            ("FLYWAY_TABLE", "t"),
            ("FLYWAY_URL", "jdbc:postgresql://db/a"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        t.relabel("SCHEMAGATE_TABLE=\"t\" is bad; SCHEMAGATE_DATABASE_URL: x"),
        "FLYWAY_TABLE (as SCHEMAGATE_TABLE)=\"t\" is bad; FLYWAY_URL (as SCHEMAGATE_DATABASE_URL): x"
    );
    // Flyway's defaults are no user's words: left as they are.
    assert_eq!(
        t.relabel("SCHEMAGATE_VALIDATE_NAMING"),
        "SCHEMAGATE_VALIDATE_NAMING"
    );
}

#[test]
fn placeholder_syntax_and_replacement_are_carried_outside_the_variables() {
    let t = tr(
        &[
            ("FLYWAY_PLACEHOLDER_PREFIX", "#["),
            ("FLYWAY_PLACEHOLDER_SUFFIX", "]"),
            ("FLYWAY_PLACEHOLDER_REPLACEMENT", "false"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        (
            t.placeholder_syntax.prefix.as_str(),
            t.placeholder_syntax.suffix.as_str()
        ),
        ("#[", "]")
    );
    assert!(!t.placeholder_replacement);
    assert!(
        t.env
            .iter()
            .all(|(k, _)| !k.contains("PREFIX") && !k.contains("REPLACEMENT")),
        "{:?}",
        t.env
    );
    let t = tr(&[("FLYWAY_URL", "jdbc:postgresql://db/a")], &[]).unwrap();
    assert_eq!(
        t.placeholder_syntax,
        crate::core::placeholders::Syntax::default()
    );
    assert!(t.placeholder_replacement);
    assert!(
        tr(&[("FLYWAY_PLACEHOLDER_REPLACEMENT", "nope")], &[])
            .unwrap_err()
            .contains("true or false")
    );
}

#[test]
fn a_working_directory_rebases_relative_locations() {
    let t = tr(
        &[],
        &[
            ("workingDirectory", "/p"),
            ("locations", "filesystem:migrations,filesystem:/abs"),
        ],
    )
    .unwrap();
    assert_eq!(
        added(&t, "SCHEMAGATE_LOCATIONS").as_deref(),
        Some("/p/migrations,/abs")
    );
}
