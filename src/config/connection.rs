//! Connection resolution: the URL, the `PG*` variables and a mounted Secret's directory merged
//! field by field (libpq's rule: a later source only fills what is still empty), then defaults,
//! then the checks that need the merged result. Produces [`ConnSettings`].

use std::path::Path;
use std::time::Duration;

use super::conn::{ConnSettings, HostPort, RootCerts, SslMode, SslNegotiation};
use super::conninfo::{self, ConnParams};
use super::raw::{Raw, SecretFiles, strip_one_newline};
use super::values::{MAX_IDENTIFIER_BYTES, cut_to_bytes, duration};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const NOT_SHOWN: &str = "(the value is not shown, as it may hold a password)";

/// Keys read from `SCHEMAGATE_SECRET_DIR`, as CloudNativePG and the Zalando operator publish
/// them, in the order they are read.
const SECRET_KEYS: &[&str] = &[
    "uri", "host", "port", "username", "user", "password", "dbname", "database",
];

/// `connect_timeout` is the already validated `SCHEMAGATE_CONNECT_TIMEOUT`, which outranks every
/// libpq source; `wait_timeout` stands in for libpq's `connect_timeout=0` ("no limit").
pub(crate) fn resolve(
    raw: &Raw,
    files: &dyn SecretFiles,
    connect_timeout: Option<Duration>,
    wait_timeout: Duration,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Option<ConnSettings> {
    let before = problems.len();
    let mut merged = sources(raw, files, problems);
    // A source's warnings stand even where an earlier source set the same field: the
    // parameter is ignored either way.
    warnings.append(&mut merged.warnings);
    // A source that did not parse may well have held the user: saying "no user" as well
    // would send the reader the wrong way.
    let sources_parsed = problems.len() == before;
    let url = raw.url.as_ref().map(|(v, u)| (*v, u.as_str()));
    finish(
        raw,
        url,
        merged,
        sources_parsed,
        connect_timeout,
        wait_timeout,
        problems,
    )
}

/// The connection to a second database (`SCHEMAGATE_COMPARE_URL`, named `var`): what its
/// URL says, and every field it leaves out taken from the main connection's sources
/// (libpq's rule again), so that `postgres://green-db/app` reaches the other server as the
/// same user, with the same password, TLS mode and root certificates. The main sources'
/// own problems are reported once, by [`resolve`].
pub(crate) fn resolve_other(
    raw: &Raw,
    files: &dyn SecretFiles,
    (var, url): (&str, &str),
    connect_timeout: Option<Duration>,
    wait_timeout: Duration,
    problems: &mut Vec<String>,
) -> Option<ConnSettings> {
    let before = problems.len();
    let mut merged = match conninfo::parse(url) {
        Ok(p) => with_source(p, &raw.label(var)),
        Err(reason) => {
            problems.push(format!("{}: {reason} {NOT_SHOWN}", raw.label(var)));
            return None;
        }
    };
    merged.fill_from(sources(raw, files, &mut Vec::new()));
    // The main connection's warnings were given already; the URL's own ones are lost
    // here only if they repeat a main source's.
    merged.warnings.clear();
    finish(
        raw,
        Some((var, url)),
        merged,
        problems.len() == before,
        connect_timeout,
        wait_timeout,
        problems,
    )
}

/// The URL, the `PG*` variables and the mounted Secret, merged in that order.
fn sources(raw: &Raw, files: &dyn SecretFiles, problems: &mut Vec<String>) -> ConnParams {
    let mut merged = ConnParams::default();
    if let Some((var, url)) = &raw.url {
        match conninfo::parse(url) {
            Ok(p) => merged = with_source(p, &raw.label(var)),
            Err(reason) => problems.push(format!("{}: {reason} {NOT_SHOWN}", raw.label(var))),
        }
    }
    merged.fill_from(from_pg(raw, problems));
    if let Some(dir) = &raw.settings.secret_dir {
        let label = raw.label("SCHEMAGATE_SECRET_DIR");
        merged.fill_from(from_secret_dir(&label, Path::new(dir), files, problems));
    }
    merged
}

/// Names the source in each of its warnings.
fn with_source(mut p: ConnParams, source: &str) -> ConnParams {
    for w in &mut p.warnings {
        *w = format!("{source}: {w}");
    }
    p
}

/// The `PG*` variables. Their values are shown in errors, except the password's.
fn from_pg(raw: &Raw, problems: &mut Vec<String>) -> ConnParams {
    let pg = &raw.pg;
    let mut p = ConnParams::default();
    let fields: [(&str, &str, &Option<String>); 13] = [
        ("PGHOST", "host", &pg.host),
        ("PGPORT", "port", &pg.port),
        ("PGUSER", "user", &pg.user),
        ("PGPASSWORD", "password", &pg.password),
        ("PGDATABASE", "dbname", &pg.database),
        ("PGSSLMODE", "sslmode", &pg.sslmode),
        ("PGSSLNEGOTIATION", "sslnegotiation", &pg.sslnegotiation),
        ("PGSSLROOTCERT", "sslrootcert", &pg.sslrootcert),
        ("PGSSLCERT", "sslcert", &pg.sslcert),
        ("PGSSLKEY", "sslkey", &pg.sslkey),
        ("PGAPPNAME", "application_name", &pg.appname),
        ("PGOPTIONS", "options", &pg.options),
        (
            "PGTARGETSESSIONATTRS",
            "target_session_attrs",
            &pg.targetsessionattrs,
        ),
    ];
    for (var, key, value) in fields {
        if let Some(value) = value
            && let Err(reason) = p.set(key, value)
        {
            // Only the password is unchecked, so a value reaching here is never one.
            problems.push(format!("{}: {reason}", raw.shown(var, value)));
        }
    }
    // Our duration syntax is a superset of libpq's whole seconds, so both forms work.
    if let Some(value) = &pg.connect_timeout {
        match duration(value) {
            Ok(d) => p.connect_timeout = Some(d),
            Err(reason) => problems.push(format!(
                "{} {reason}",
                raw.shown("PGCONNECT_TIMEOUT", value)
            )),
        }
    }
    p
}

/// A mounted Secret: `uri` first, then the single keys fill what the URI left empty.
/// A missing key is simply absent; values are never shown.
fn from_secret_dir(
    label: &str,
    dir: &Path,
    files: &dyn SecretFiles,
    problems: &mut Vec<String>,
) -> ConnParams {
    let mut unreadable = false;
    let mut read = |key: &str| -> Option<String> {
        let path = dir.join(key);
        match files.read(&path) {
            Ok(text) => text.map(strip_one_newline),
            Err(e) => {
                unreadable = true;
                problems.push(format!("{label}: cannot read {}: {e}", path.display()));
                None
            }
        }
    };
    let values: Vec<(&str, Option<String>)> = SECRET_KEYS.iter().map(|k| (*k, read(k))).collect();
    if values.iter().all(|(_, v)| v.is_none()) && !unreadable {
        problems.push(format!(
            "{label}={} holds none of the keys {}; is the Secret mounted there?",
            dir.display(),
            SECRET_KEYS.join(", ")
        ));
    }

    let mut from_uri = ConnParams::default();
    let mut single = ConnParams::default();
    for (key, value) in values {
        let Some(value) = value else { continue };
        let path = dir.join(key);
        let result = match key {
            "uri" => conninfo::parse(&value)
                .map(|p| from_uri = with_source(p, &format!("{label}: {}", path.display()))),
            // The first of each pair wins, so "user" only fills an empty "username".
            "username" | "user" if single.user.is_some() => Ok(()),
            "dbname" | "database" if single.dbname.is_some() => Ok(()),
            "username" => single.set("user", &value),
            "database" => single.set("dbname", &value),
            key => single.set(key, &value),
        };
        if let Err(reason) = result {
            problems.push(format!("{label}: {}: {reason} {NOT_SHOWN}", path.display()));
        }
    }
    from_uri.fill_from(single);
    from_uri
}

/// Defaults, then the checks that need every source merged.
fn finish(
    raw: &Raw,
    url: Option<(&str, &str)>,
    p: ConnParams,
    sources_parsed: bool,
    connect_timeout: Option<Duration>,
    wait_timeout: Duration,
    problems: &mut Vec<String>,
) -> Option<ConnSettings> {
    let before = problems.len();
    let url_var = url.map_or("SCHEMAGATE_DATABASE_URL", |(v, _)| v);

    if p.user.is_none() && sources_parsed {
        let secret = match &raw.settings.secret_dir {
            Some(dir) => format!("add a `username` key to the Secret at {dir}"),
            None => "point SCHEMAGATE_SECRET_DIR at a mounted Secret with a `username` key".into(),
        };
        problems.push(format!(
            "no database user is configured: set PGUSER, or put a user in {url_var} \
             (postgres://USER@HOST/DB), or {secret}"
        ));
    }

    // libpq 16: naming the system roots without an sslmode means verify-full, so that
    // `PGSSLROOTCERT=system` alone never silently skips the check.
    let sslmode = p
        .sslmode
        .unwrap_or(if p.sslrootcert == Some(RootCerts::System) {
            SslMode::VerifyFull
        } else {
            SslMode::Prefer
        });
    // Host, user and database name are printed verbatim in every target line: a connection
    // string pasted into one of them would print its password there. libpq would expand a
    // database name holding `=` or a URI; schemagate does not. `@` is legal in a user name
    // (Azure's `user@server`).
    let hosts = p.hosts.as_deref().unwrap_or_default();
    let fields: [(Vec<&str>, &str, &str, &[&str]); 3] = [
        (
            hosts.iter().map(String::as_str).collect(),
            "host name",
            "PGHOST",
            &["@", "://"],
        ),
        (
            p.user.as_deref().into_iter().collect(),
            "user name",
            "PGUSER",
            &["://"],
        ),
        (
            p.dbname.as_deref().into_iter().collect(),
            "database name",
            "PGDATABASE",
            &["=", "://"],
        ),
    ];
    for (values, what, var, forbidden) in fields {
        if values
            .iter()
            .any(|v| forbidden.iter().any(|f| v.contains(f)))
        {
            let shown: Vec<String> = forbidden.iter().map(|f| format!("`{f}`")).collect();
            problems.push(format!(
                "the {what} looks like a connection string or holds credentials (it contains {}): set {var} to a {what} only, and put a URL in {url_var}",
                shown.join(" or ")
            ));
        }
    }
    let hosts = host_list(p.hosts, p.ports).map_err(|reason| problems.push(reason));
    if matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull) && p.sslrootcert.is_none() {
        let jdbc = url.is_some_and(|(_, url)| url.trim_start().starts_with(super::jdbc::PREFIX));
        problems.push(format!(
            "sslmode {} needs trusted root certificates: set PGSSLROOTCERT (a PEM file, or \
             `system` for the built-in web PKI roots), or sslrootcert in {url_var}{}",
            sslmode.as_str(),
            if jdbc {
                " (in a JDBC URL, ssl=true alone means verify-full, as in pgjdbc)"
            } else {
                ""
            }
        ));
    }
    // libpq's rule: a direct handshake has no SSLRequest whose answer could send the session
    // on in plaintext, so only the modes that never go plaintext may ask for one.
    let sslnegotiation = p.sslnegotiation.unwrap_or_default();
    if sslnegotiation == SslNegotiation::Direct
        && !matches!(
            sslmode,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    {
        problems.push(format!(
            "sslnegotiation=direct needs sslmode require, verify-ca or verify-full, not {}:              set sslmode=verify-full (PGSSLMODE, or sslmode in {url_var}) and sslrootcert, or              leave sslnegotiation out",
            sslmode.as_str()
        ));
    }
    match (&p.sslcert, &p.sslkey) {
        (Some(_), None) => problems.push(
            "sslcert is set but sslkey is not: a client certificate needs its key (PGSSLKEY)"
                .into(),
        ),
        (None, Some(_)) => problems.push(
            "sslkey is set but sslcert is not: a client key needs its certificate (PGSSLCERT)"
                .into(),
        ),
        _ => {}
    }
    let connect_timeout = match connect_timeout.or(p.connect_timeout) {
        Some(Duration::ZERO) if wait_timeout > Duration::ZERO => wait_timeout,
        Some(Duration::ZERO) | None => DEFAULT_CONNECT_TIMEOUT,
        Some(d) => d,
    };

    let application_name = p
        .application_name
        .or(p.fallback_application_name)
        .unwrap_or_else(|| {
            format!(
                "schemagate/{}",
                raw.hostname.as_deref().unwrap_or("schemagate")
            )
        });
    let application_name = cut_to_bytes(&application_name, MAX_IDENTIFIER_BYTES).to_string();

    let user = p.user.filter(|_| problems.len() == before)?;
    Some(ConnSettings {
        hosts: hosts.ok()?,
        dbname: p.dbname.unwrap_or_else(|| user.clone()),
        user,
        password: p.password,
        sslmode,
        sslnegotiation,
        sslrootcert: p.sslrootcert,
        sslcert: p.sslcert,
        sslkey: p.sslkey,
        application_name,
        connect_timeout,
        options: p.options,
        target_session_attrs: p.target_session_attrs.unwrap_or_default(),
        init_sql: raw.settings.init_sql.clone(),
    })
}

/// libpq's pairing of the two lists: one port for every host, or one per host. An empty
/// entry is the default (`localhost`, 5432).
fn host_list(
    hosts: Option<Vec<String>>,
    ports: Option<Vec<Option<u16>>>,
) -> Result<Vec<HostPort>, String> {
    let hosts = hosts.unwrap_or_else(|| vec![String::new()]);
    let ports = ports.unwrap_or_else(|| vec![None]);
    if ports.len() != 1 && ports.len() != hosts.len() {
        return Err(format!(
            "{} ports are given for {} host{}: give one port for every host, or a single port \
             for all of them",
            ports.len(),
            hosts.len(),
            if hosts.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(hosts
        .into_iter()
        .enumerate()
        .map(|(i, host)| {
            let host = if host.is_empty() {
                "localhost".to_string()
            } else {
                host
            };
            let port = ports[if ports.len() == 1 { 0 } else { i }];
            HostPort::new(host, port.unwrap_or(5432))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::conn::{RootCerts, TargetSessionAttrs};
    use crate::config::raw::tests::{Unreadable, env, files};
    use crate::config::{ConfigError, Settings, load};

    fn run(vars: &[(&str, &str)], fs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        load(&env(vars), &files(fs))
    }

    fn conn(vars: &[(&str, &str)], fs: &[(&str, &str)]) -> ConnSettings {
        run(vars, fs)
            .unwrap_or_else(|e| panic!("{}", e.message))
            .conn
    }

    fn err(vars: &[(&str, &str)], fs: &[(&str, &str)]) -> String {
        match run(vars, fs) {
            Ok(s) => panic!("loaded: {s:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn defaults() {
        let c = conn(&[("PGUSER", "app")], &[]);
        assert_eq!(
            c,
            ConnSettings {
                hosts: vec![HostPort::new("localhost", 5432)],
                user: "app".into(),
                password: None,
                dbname: "app".into(),
                sslmode: SslMode::Prefer,
                sslnegotiation: SslNegotiation::Postgres,
                sslrootcert: None,
                sslcert: None,
                sslkey: None,
                application_name: "schemagate/schemagate".into(),
                connect_timeout: Duration::from_secs(10),
                options: None,
                target_session_attrs: TargetSessionAttrs::Any,
                init_sql: None,
            }
        );
    }

    /// Every field, every combination of sources that set it: the first source in the order
    /// URL, PG*, secret dir wins, and the others never leak in.
    #[test]
    fn precedence_matrix_field_by_field() {
        // (field, PG variable, secret file, value per source: URL, PG*, secret dir)
        let fields: [(&str, &str, &str, [&str; 3]); 5] = [
            ("host", "PGHOST", "host", ["u-host", "p-host", "s-host"]),
            ("port", "PGPORT", "port", ["1001", "1002", "1003"]),
            ("user", "PGUSER", "username", ["u-user", "p-user", "s-user"]),
            (
                "password",
                "PGPASSWORD",
                "password",
                ["u-pw", "p-pw", "s-pw"],
            ),
            ("dbname", "PGDATABASE", "dbname", ["u-db", "p-db", "s-db"]),
        ];
        let get = |c: &ConnSettings, field: &str| -> String {
            match field {
                "host" => c.host().to_string(),
                "port" => c.port().to_string(),
                "user" => c.user.clone(),
                "password" => c.password.as_ref().map_or("", |p| p.expose()).to_string(),
                _ => c.dbname.clone(),
            }
        };
        for (field, pg_var, secret_key, values) in fields {
            for mask in 1..8u8 {
                // A user is always needed; give it where it cannot mask the field under test.
                let user = if field == "user" { "" } else { "base@" };
                let url = if mask & 1 != 0 {
                    format!("postgres://{user}?{field}={}", values[0])
                } else {
                    format!("postgres://{user}")
                };
                let mut vars = vec![
                    ("SCHEMAGATE_DATABASE_URL", url.as_str()),
                    ("SCHEMAGATE_SECRET_DIR", "/sec"),
                ];
                if mask & 2 != 0 {
                    vars.push((pg_var, values[1]));
                }
                let secret_path = format!("/sec/{secret_key}");
                // One file always exists, so the directory counts as mounted.
                let mut fs = vec![("/sec/uri", "postgres://")];
                if mask & 4 != 0 {
                    fs.push((secret_path.as_str(), values[2]));
                }
                let want = values[mask.trailing_zeros() as usize];
                let c = conn(&vars, &fs);
                assert_eq!(get(&c, field), want, "{field}, sources {mask:03b}");
            }
        }
    }

    #[test]
    fn fields_from_different_sources_combine() {
        let c = conn(
            &[
                ("DATABASE_URL", "postgres://app@db"),
                ("PGPASSWORD", "pw"),
                ("PGSSLMODE", "require"),
                ("SCHEMAGATE_SECRET_DIR", "/sec"),
            ],
            &[
                ("/sec/dbname", "appdb\n"),
                ("/sec/port", "6543\n"),
                ("/sec/host", "other"),
            ],
        );
        assert_eq!((c.host(), c.port(), c.user.as_str()), ("db", 6543, "app"));
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("pw"));
        assert_eq!(c.dbname, "appdb");
        assert_eq!(c.sslmode, SslMode::Require);
    }

    #[test]
    fn key_value_string_as_database_url() {
        let c = conn(
            &[(
                "DATABASE_URL",
                r"host=db port=5433 user=app password='it''s \' quoted' dbname=app",
            )],
            &[],
        );
        assert_eq!(
            c.password.as_ref().map(|p| p.expose()),
            Some("it's ' quoted")
        );
        assert_eq!(c.port(), 5433);
    }

    #[test]
    fn secret_dir_uri_then_single_keys() {
        let dir = [("SCHEMAGATE_SECRET_DIR", "/s")];
        let c = conn(
            &dir,
            &[
                ("/s/uri", "postgresql://app:pw@cluster-rw.ns:5432/app\n"),
                ("/s/host", "cluster-rw"),
                ("/s/dbname", "other"),
                ("/s/username", "ignored-too"),
            ],
        );
        assert_eq!(c.host(), "cluster-rw.ns", "the uri comes first");
        assert_eq!(c.dbname, "app");
        assert_eq!(c.user, "app");

        // CloudNativePG publishes both `username` and `user`; `username` is read first.
        let c = conn(
            &dir,
            &[
                ("/s/username", "a"),
                ("/s/user", "b"),
                ("/s/database", "d"),
                ("/s/password", "pw\n"),
            ],
        );
        assert_eq!((c.user.as_str(), c.dbname.as_str()), ("a", "d"));
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("pw"));
        let c = conn(
            &dir,
            &[("/s/user", "b"), ("/s/dbname", "x"), ("/s/database", "y")],
        );
        assert_eq!((c.user.as_str(), c.dbname.as_str()), ("b", "x"));

        let e = err(&dir, &[]);
        assert!(
            e.contains("SCHEMAGATE_SECRET_DIR=/s holds none of the keys uri"),
            "{e}"
        );
        let e = load(&env(&dir), &Unreadable).unwrap_err().message;
        assert!(
            e.contains("SCHEMAGATE_SECRET_DIR: cannot read /s/uri: permission denied"),
            "{e}"
        );
        let e = err(&dir, &[("/s/username", "a"), ("/s/port", "x")]);
        assert!(
            e.contains("SCHEMAGATE_SECRET_DIR: /s/port: the port must be a number"),
            "{e}"
        );
    }

    #[test]
    fn no_user_names_every_source() {
        let e = err(&[("PGHOST", "db")], &[]);
        assert!(
            e.contains("no database user is configured: set PGUSER"),
            "{e}"
        );
        assert!(
            e.contains("SCHEMAGATE_DATABASE_URL (postgres://USER@HOST/DB)"),
            "{e}"
        );
        assert!(e.contains("SCHEMAGATE_SECRET_DIR"), "{e}");
        let e = err(
            &[
                ("DATABASE_URL", "postgres://db/x"),
                ("SCHEMAGATE_SECRET_DIR", "/s"),
            ],
            &[("/s/password", "p")],
        );
        assert!(e.contains("put a user in DATABASE_URL"), "{e}");
        assert!(
            e.contains("add a `username` key to the Secret at /s"),
            "{e}"
        );
    }

    #[test]
    fn pg_variable_errors_name_the_variable() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "PGPORT",
                "0",
                r#"PGPORT="0": the port must be a number between 1 and 65535"#,
            ),
            ("PGPORT", "65536", r#"PGPORT="65536": the port must be"#),
            ("PGPORT", "abc", r#"PGPORT="abc": the port must be"#),
            (
                "PGPORT",
                "5432,5433",
                "2 ports are given for 1 host: give one port for every host",
            ),
            (
                "PGTARGETSESSIONATTRS",
                "master",
                r#"PGTARGETSESSIONATTRS="master": target_session_attrs must be one of"#,
            ),
            (
                "PGSSLMODE",
                "verify",
                r#"PGSSLMODE="verify": sslmode must be one of"#,
            ),
            (
                "PGCONNECT_TIMEOUT",
                "soon",
                r#"PGCONNECT_TIMEOUT="soon" is not a duration"#,
            ),
        ];
        for (var, value, want) in cases {
            let e = err(&[("PGUSER", "app"), (var, value)], &[]);
            assert!(e.contains(want), "{var}={value}: {e}");
        }
        let c = conn(
            &[
                ("PGUSER", "a"),
                ("PGPORT", "65535"),
                ("PGSSLMODE", "VERIFY-CA"),
                ("PGSSLROOTCERT", "/ca.pem"),
            ],
            &[],
        );
        assert_eq!((c.port(), c.sslmode), (65535, SslMode::VerifyCa));
    }

    #[test]
    fn tls_settings() {
        let user = ("PGUSER", "app");
        for mode in ["verify-ca", "verify-full"] {
            let e = err(&[user, ("PGSSLMODE", mode)], &[]);
            assert!(e.contains(&format!("sslmode {mode} needs trusted root certificates: set PGSSLROOTCERT (a PEM file, or `system`")), "{e}");
        }
        let c = conn(
            &[
                user,
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "system"),
            ],
            &[],
        );
        assert_eq!(c.sslrootcert, Some(RootCerts::System));
        let c = conn(
            &[(
                "DATABASE_URL",
                "postgres://app@db?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            )],
            &[],
        );
        assert_eq!(
            c.sslrootcert,
            Some(RootCerts::File(PathBuf::from("/etc/ca.pem")))
        );
        let c = conn(&[user, ("PGSSLMODE", "disable")], &[]);
        assert_eq!(c.sslmode, SslMode::Disable);
        let c = conn(&[user, ("PGSSLCERT", "/c"), ("PGSSLKEY", "/k")], &[]);
        assert_eq!(
            (c.sslcert, c.sslkey),
            (Some(PathBuf::from("/c")), Some(PathBuf::from("/k")))
        );
        assert!(
            err(&[user, ("PGSSLCERT", "/c")], &[]).contains("sslcert is set but sslkey is not")
        );
        assert!(err(&[user, ("PGSSLKEY", "/k")], &[]).contains("sslkey is set but sslcert is not"));
        assert!(err(&[user, ("PGSSLMODE", "allow")], &[]).contains("allow is not supported"));
    }

    #[test]
    fn sslnegotiation_direct_only_with_a_mode_that_never_goes_plaintext() {
        let user = ("PGUSER", "app");
        let ca = ("PGSSLROOTCERT", "/ca.pem");
        for mode in ["require", "verify-ca", "verify-full"] {
            let c = conn(
                &[
                    user,
                    ca,
                    ("PGSSLMODE", mode),
                    ("PGSSLNEGOTIATION", "direct"),
                ],
                &[],
            );
            assert_eq!(c.sslnegotiation, SslNegotiation::Direct, "{mode}");
        }
        // sslrootcert=system alone is verify-full, so it may negotiate directly.
        let c = conn(
            &[
                user,
                ("PGSSLROOTCERT", "system"),
                ("PGSSLNEGOTIATION", "direct"),
            ],
            &[],
        );
        assert_eq!(
            (c.sslmode, c.sslnegotiation),
            (SslMode::VerifyFull, SslNegotiation::Direct)
        );
        for (vars, shown) in [
            (vec![user, ("PGSSLNEGOTIATION", "direct")], "prefer"),
            (
                vec![
                    user,
                    ("PGSSLMODE", "disable"),
                    ("PGSSLNEGOTIATION", "direct"),
                ],
                "disable",
            ),
            (
                vec![(
                    "DATABASE_URL",
                    "postgres://app@db?sslmode=prefer&sslnegotiation=direct",
                )],
                "prefer",
            ),
        ] {
            let e = err(&vars, &[]);
            assert!(
                e.contains(&format!(
                    "sslnegotiation=direct needs sslmode require, verify-ca or verify-full, not {shown}"
                )),
                "{e}"
            );
        }
        // The URL outranks PGSSLNEGOTIATION, as for every libpq field.
        let c = conn(
            &[
                (
                    "DATABASE_URL",
                    "postgres://app@db?sslmode=require&sslnegotiation=postgres",
                ),
                ("PGSSLNEGOTIATION", "direct"),
            ],
            &[],
        );
        assert_eq!(c.sslnegotiation, SslNegotiation::Postgres);
        let e = err(&[user, ("PGSSLNEGOTIATION", "Direct-TLS")], &[]);
        assert!(
            e.contains(
                r#"PGSSLNEGOTIATION="Direct-TLS": sslnegotiation must be postgres or direct"#
            ),
            "{e}"
        );
        assert_eq!(conn(&[user], &[]).sslnegotiation, SslNegotiation::Postgres);
    }

    #[test]
    fn system_roots_alone_mean_verify_full_and_a_url_in_pghost_is_refused_unprinted() {
        let c = conn(&[("PGUSER", "a"), ("PGSSLROOTCERT", "system")], &[]);
        assert_eq!(c.sslmode, SslMode::VerifyFull);
        let e = load(
            &env(&[("PGUSER", "a"), ("PGHOST", "postgres://u:hunter2@db")]),
            &files(&[]),
        )
        .unwrap_err()
        .message;
        assert!(e.contains("set PGHOST to a host name only"), "{e}");
        let e = load(
            &env(&[("PGUSER", "postgres://u:hunter2@db/app")]),
            &files(&[]),
        )
        .unwrap_err()
        .message;
        assert!(
            e.contains("set PGUSER to a user name only") && !e.contains("hunter2"),
            "{e}"
        );
        conn(&[("PGUSER", "app@myserver")], &[]);
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_connection_string_as_the_database_name_is_refused_unprinted() {
        for (var, value) in [
            ("PGDATABASE", "postgres://u:hunter2@db/app"),
            ("PGDATABASE", "host=db password=hunter2"),
            ("DATABASE_URL", "host=db dbname='host=db password=hunter2'"),
        ] {
            let e = err(&[("PGUSER", "a"), (var, value)], &[]);
            assert!(e.contains("set PGDATABASE to a database name only"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = err(
            &[("PGUSER", "a"), ("SCHEMAGATE_SECRET_DIR", "/s")],
            &[("/s/dbname", "postgres://u:hunter2@db/app")],
        );
        assert!(
            e.contains("a database name only") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn socket_dir_host() {
        let c = conn(&[("PGUSER", "app"), ("PGHOST", "/var/run/postgresql")], &[]);
        assert_eq!(c.host(), "/var/run/postgresql");
        assert_eq!(
            c.redacted_url(),
            "postgres://app@:5432/app?sslmode=prefer&host=/var/run/postgresql"
        );
        let c = conn(&[("DATABASE_URL", "postgresql://app@%2Ftmp/db")], &[]);
        assert_eq!(c.host(), "/tmp");
    }

    #[test]
    fn ipv6_host() {
        let c = conn(&[("DATABASE_URL", "postgres://app@[::1]:6000/db")], &[]);
        assert_eq!((c.host(), c.port()), ("::1", 6000));
        assert_eq!(
            c.redacted_url(),
            "postgres://app@[::1]:6000/db?sslmode=prefer"
        );
    }

    #[test]
    fn connect_timeout_precedence() {
        let url = |t: &str| format!("postgres://app@db?connect_timeout={t}");
        let u = url("7");
        let cases: &[(&[(&str, &str)], Duration)] = &[
            (&[("PGUSER", "a")], Duration::from_secs(10)),
            (
                &[("PGUSER", "a"), ("PGCONNECT_TIMEOUT", "3")],
                Duration::from_secs(3),
            ),
            (
                &[("DATABASE_URL", &u), ("PGCONNECT_TIMEOUT", "3")],
                Duration::from_secs(7),
            ),
            (
                &[
                    ("DATABASE_URL", &u),
                    ("PGCONNECT_TIMEOUT", "3"),
                    ("SCHEMAGATE_CONNECT_TIMEOUT", "1500ms"),
                ],
                Duration::from_millis(1500),
            ),
            // libpq's 0 means "no limit"; ours is bounded by the wait.
            (
                &[("PGUSER", "a"), ("PGCONNECT_TIMEOUT", "0")],
                Duration::from_secs(120),
            ),
            (
                &[
                    ("PGUSER", "a"),
                    ("PGCONNECT_TIMEOUT", "0"),
                    ("SCHEMAGATE_WAIT_TIMEOUT", "0"),
                ],
                Duration::from_secs(10),
            ),
        ];
        for (vars, want) in cases {
            assert_eq!(conn(vars, &[]).connect_timeout, *want, "{vars:?}");
        }
        let e = err(&[("PGUSER", "a"), ("SCHEMAGATE_CONNECT_TIMEOUT", "0")], &[]);
        assert!(
            e.contains("SCHEMAGATE_CONNECT_TIMEOUT must be longer than 0"),
            "{e}"
        );
    }

    #[test]
    fn application_name() {
        let c = conn(&[("PGUSER", "a"), ("HOSTNAME", "migrate-x7k2p")], &[]);
        assert_eq!(c.application_name, "schemagate/migrate-x7k2p");
        let c = conn(
            &[("PGUSER", "a"), ("HOSTNAME", "h"), ("PGAPPNAME", "mine")],
            &[],
        );
        assert_eq!(c.application_name, "mine");
        let c = conn(
            &[
                ("DATABASE_URL", "postgres://a@db?application_name=url"),
                ("PGAPPNAME", "env"),
            ],
            &[],
        );
        assert_eq!(c.application_name, "url");
        let c = conn(
            &[(
                "DATABASE_URL",
                "postgres://a@db?fallback_application_name=fb",
            )],
            &[],
        );
        assert_eq!(c.application_name, "fb");

        // "schemagate/" is 11 bytes; 51 more make 62, so the two-byte "é" would end at 64.
        let host = format!("{}éééé", "a".repeat(51));
        let c = conn(&[("PGUSER", "a"), ("HOSTNAME", &host)], &[]);
        assert_eq!(c.application_name.len(), 62);
        assert_eq!(c.application_name, format!("schemagate/{}", "a".repeat(51)));
        let long = "é".repeat(40);
        let c = conn(&[("PGUSER", "a"), ("PGAPPNAME", &long)], &[]);
        assert_eq!(c.application_name, "é".repeat(31));
    }

    #[test]
    fn file_forms_of_connection_variables() {
        let c = conn(
            &[
                ("DATABASE_URL_FILE", "/r/url"),
                ("PGPASSWORD_FILE", "/r/pw"),
                ("PGSSLMODE_FILE", "/r/mode"),
            ],
            &[
                ("/r/url", "postgres://app@db/app\n"),
                ("/r/pw", "s3cret\r\n"),
                ("/r/mode", "require\n"),
            ],
        );
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        assert_eq!(c.sslmode, SslMode::Require);
        let e = err(
            &[("PGUSER", "a"), ("PGPORT_FILE", "/r/port")],
            &[("/r/port", "x\n")],
        );
        assert!(
            e.contains(r#"PGPORT="x" (read from PGPORT_FILE=/r/port): the port must be"#),
            "{e}"
        );
        let e = err(
            &[("PGUSER", "a"), ("SCHEMAGATE_DATABASE_URL_FILE", "/nope")],
            &[],
        );
        assert!(
            e.contains("SCHEMAGATE_DATABASE_URL_FILE=/nope names a file that does not exist"),
            "{e}"
        );
    }

    fn hosts(c: &ConnSettings) -> Vec<(&str, u16)> {
        c.hosts.iter().map(|h| (h.host.as_str(), h.port)).collect()
    }

    #[test]
    fn several_hosts_from_each_form() {
        let c = conn(
            &[("DATABASE_URL", "postgres://app@h1:5432,h2,[::1]:5433/db")],
            &[],
        );
        assert_eq!(hosts(&c), [("h1", 5432), ("h2", 5432), ("::1", 5433)]);
        assert_eq!(
            c.redacted_url(),
            "postgres://app@h1:5432,h2:5432,[::1]:5433/db?sslmode=prefer"
        );
        // A URI that names no port leaves PGPORT to apply to every host.
        let c = conn(
            &[
                ("DATABASE_URL", "postgres://app@h1,h2/db"),
                ("PGPORT", "6000"),
            ],
            &[],
        );
        assert_eq!(hosts(&c), [("h1", 6000), ("h2", 6000)]);
        let c = conn(
            &[("DATABASE_URL", "host=h1,h2 port=5432,5433 user=app")],
            &[],
        );
        assert_eq!(hosts(&c), [("h1", 5432), ("h2", 5433)]);
        let c = conn(&[("DATABASE_URL", "host=h1,,/run/pg port=7 user=app")], &[]);
        assert_eq!(hosts(&c), [("h1", 7), ("localhost", 7), ("/run/pg", 7)]);
        assert_eq!(
            c.redacted_url(),
            "postgres://app@h1:7,localhost:7,:7/app?sslmode=prefer&host=h1,localhost,/run/pg"
        );
        let c = conn(
            &[
                ("PGUSER", "app"),
                ("PGHOST", "db-0,db-1,/var/run/postgresql"),
                ("PGPORT", "5432,,5433"),
            ],
            &[],
        );
        assert_eq!(
            hosts(&c),
            [
                ("db-0", 5432),
                ("db-1", 5432),
                ("/var/run/postgresql", 5433)
            ]
        );
        let e = err(
            &[("PGUSER", "app"), ("PGHOST", "a,b,c"), ("PGPORT", "1,2")],
            &[],
        );
        assert!(
            e.contains("2 ports are given for 3 hosts: give one port for every host, or a single port for all of them"),
            "{e}"
        );
        let e = err(
            &[("PGUSER", "a"), ("PGHOST", "db,postgres://u:hunter2@x")],
            &[],
        );
        assert!(
            e.contains("set PGHOST to a host name only") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn target_session_attrs_from_each_source() {
        use TargetSessionAttrs as T;
        for (value, want) in [
            ("any", T::Any),
            ("read-write", T::ReadWrite),
            ("read-only", T::ReadOnly),
            ("primary", T::Primary),
            ("standby", T::Standby),
            ("prefer-standby", T::PreferStandby),
        ] {
            let url = format!("postgres://app@a,b/db?target_session_attrs={value}");
            assert_eq!(
                conn(&[("DATABASE_URL", &url)], &[]).target_session_attrs,
                want
            );
            let kv = format!("host=a,b user=app target_session_attrs={value}");
            assert_eq!(
                conn(&[("DATABASE_URL", &kv)], &[]).target_session_attrs,
                want
            );
            let c = conn(&[("PGUSER", "a"), ("PGTARGETSESSIONATTRS", value)], &[]);
            assert_eq!(c.target_session_attrs, want);
        }
        assert_eq!(conn(&[("PGUSER", "a")], &[]).target_session_attrs, T::Any);
        // The URL's value comes first.
        let c = conn(
            &[
                (
                    "DATABASE_URL",
                    "postgres://app@a,b/db?target_session_attrs=primary",
                ),
                ("PGTARGETSESSIONATTRS", "standby"),
            ],
            &[],
        );
        assert_eq!(c.target_session_attrs, T::Primary);
        assert_eq!(
            c.redacted_url(),
            "postgres://app@a:5432,b:5432/db?sslmode=prefer&target_session_attrs=primary"
        );
        let e = err(
            &[(
                "DATABASE_URL",
                "postgres://app@h/db?target_session_attrs=master",
            )],
            &[],
        );
        assert!(
            e.contains("target_session_attrs must be one of any, read-write"),
            "{e}"
        );
    }

    #[test]
    fn jdbc_urls_resolve_with_pgjdbc_meanings() {
        let url = "jdbc:postgresql://db-0:5432,db-1:5433/app?user=app&password=pw&targetServerType=primary&ApplicationName=mig&currentSchema=app&connectTimeout=3&prepareThreshold=0";
        let s = run(
            &[("SCHEMAGATE_DATABASE_URL", url), ("PGUSER", "other")],
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", e.message));
        let c = &s.conn;
        assert_eq!(hosts(c), [("db-0", 5432), ("db-1", 5433)]);
        assert_eq!(c.user, "app", "the URL's user beats PGUSER");
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("pw"));
        assert_eq!(c.dbname, "app");
        assert_eq!(c.target_session_attrs, TargetSessionAttrs::ReadWrite);
        assert_eq!(c.application_name, "mig");
        assert_eq!(c.options.as_deref(), Some("-c search_path=app"));
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(
            s.warnings,
            [
                "SCHEMAGATE_DATABASE_URL: jdbc URL parameter prepareThreshold has no effect in schemagate; ignored"
            ]
        );

        // The database defaults to the user, the host to localhost.
        let c = conn(&[("DATABASE_URL", "jdbc:postgresql://?user=app")], &[]);
        assert_eq!(
            (c.dbname.as_str(), hosts(&c)),
            ("app", vec![("localhost", 5432)])
        );
        let c = conn(
            &[
                ("DATABASE_URL", "jdbc:postgresql:appdb"),
                ("PGUSER", "u"),
                ("PGHOST", "db"),
            ],
            &[],
        );
        assert_eq!((c.dbname.as_str(), c.host()), ("appdb", "db"));

        let e = err(
            &[("DATABASE_URL", "jdbc:postgresql://db/app?user=app&ssl=true")],
            &[],
        );
        assert!(
            e.contains("sslmode verify-full needs trusted root certificates")
                && e.contains("ssl=true alone means verify-full"),
            "{e}"
        );
        let c = conn(
            &[
                ("DATABASE_URL", "jdbc:postgresql://db/app?user=app&ssl=true"),
                ("PGSSLROOTCERT", "/ca.pem"),
            ],
            &[],
        );
        assert_eq!(c.sslmode, SslMode::VerifyFull);

        let e = err(
            &[(
                "DATABASE_URL",
                "jdbc:postgresql://db/app?user=app&password=hunter2&sslfactory=x",
            )],
            &[],
        );
        assert!(
            e.contains("DATABASE_URL: in the JDBC URL, query parameter #3: the pgjdbc parameter `sslfactory` is not supported"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");

        // A Secret's `uri` may be one too; its warnings name the file.
        let s = run(
            &[("SCHEMAGATE_SECRET_DIR", "/s")],
            &[("/s/uri", "jdbc:postgresql://db/app?user=app&loginTimeout=5")],
        )
        .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(
            s.warnings,
            [
                "SCHEMAGATE_SECRET_DIR: /s/uri: jdbc URL parameter loginTimeout has no effect in schemagate; ignored"
            ]
        );
    }
}
