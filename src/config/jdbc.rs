//! pgjdbc's `jdbc:postgresql:` URLs, read with pgjdbc 42.7's meanings, into the same
//! [`ConnParams`] a libpq string gives, so that a Flyway `url` works unchanged.
//!
//! Where pgjdbc and libpq differ, pgjdbc wins: `ssl=true` alone is `verify-full`,
//! `currentSchema` sets `search_path`, `targetServerType` picks a server by whether it takes
//! writes, and `+` in a value is a space (`java.net.URLDecoder`). A driver parameter that
//! changes nothing for a migration run is accepted and comes back as a warning; one that would
//! connect elsewhere, or with less security than asked, is refused by name. As in `conninfo`,
//! an error says where the problem is and never what is there: the URL may hold a password,
//! and an unencoded `&` in it would make a piece of it look like a parameter name.

use std::time::Duration;

use super::conn::{SslMode, TargetSessionAttrs};
use super::conninfo::{ConnParams, decode, port};
use crate::core::hint::closest;

pub(crate) const PREFIX: &str = "jdbc:postgresql:";

/// Parameters that carry a setting schemagate honours. pgjdbc's names are case-sensitive.
const SUPPORTED: &[&str] = &[
    "user",
    "password",
    "host",
    "port",
    "dbname",
    "ssl",
    "sslmode",
    "sslNegotiation",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "ApplicationName",
    "currentSchema",
    "connectTimeout",
    "options",
    "targetServerType",
];

/// Parameters that tune the Java driver itself (statement caching, fetch sizes, logging, its
/// own timeouts and keepalives): schemagate has no such machinery, and its own timeouts and
/// keepalives always apply, so ignoring them changes nothing the user can rely on.
const IGNORED: &[&str] = &[
    "adaptiveFetch",
    "adaptiveFetchMaximum",
    "adaptiveFetchMinimum",
    "allowEncodingChanges",
    "assumeMinServerVersion",
    "autosave",
    "binaryTransfer",
    "binaryTransferDisable",
    "binaryTransferEnable",
    "cancelSignalTimeout",
    "channelBinding",
    "cleanupSavepoints",
    "databaseMetadataCacheFields",
    "databaseMetadataCacheFieldsMiB",
    "defaultRowFetchSize",
    "disableColumnSanitiser",
    "escapeSyntaxCallMode",
    "gssEncMode",
    "groupStartupParameters",
    "hideUnprivilegedObjects",
    "hostRecheckSeconds",
    "logServerErrorDetail",
    "logUnclosedConnections",
    "loggerFile",
    "loggerLevel",
    "loginTimeout",
    "maxResultBuffer",
    "preferQueryMode",
    "prepareThreshold",
    "preparedStatementCacheQueries",
    "preparedStatementCacheSizeMiB",
    "protocolVersion",
    "quoteReturningIdentifiers",
    "reWriteBatchedInserts",
    "readOnlyMode",
    "receiveBufferSize",
    "sendBufferSize",
    "socketTimeout",
    "sslResponseTimeout",
    "stringtype",
    "tcpKeepAlive",
    "tcpNoDelay",
    "unknownLength",
    "xmlFactoryFactory",
];

/// Parameters refused (in every value, or in the values that `harmless` does not accept),
/// each with what to do instead. Honouring them needs Java, or ignoring them would connect
/// with less verification, to another server, or in another way than the URL asks.
const REFUSED: &[(&str, &str)] = &[
    (
        "sslfactory",
        "TLS is verified as sslmode says: for TLS without verification (NonValidatingFactory) \
         set sslmode=require; to verify, set sslmode=verify-full and sslrootcert",
    ),
    (
        "sslfactoryarg",
        "TLS is verified as sslmode says; set sslmode and sslrootcert instead",
    ),
    (
        "sslpassword",
        "an encrypted client key is not supported: give sslkey an unencrypted PEM key",
    ),
    (
        "sslpasswordcallback",
        "an encrypted client key is not supported: give sslkey an unencrypted PEM key",
    ),
    (
        "sslhostnameverifier",
        "the host name is checked by sslmode=verify-full; sslmode=verify-ca skips that check",
    ),
    (
        "service",
        "pg_service.conf is not read: put its settings in the URL",
    ),
    (
        "socketFactory",
        "a Java socket factory cannot be used: connect to the server directly",
    ),
    (
        "socketFactoryArg",
        "a Java socket factory cannot be used: connect to the server directly",
    ),
    (
        "localSocketAddress",
        "binding the connection to a local address is not supported",
    ),
    (
        "authenticationPluginClassName",
        "Java authentication plugins are not supported: give the password (password, \
         PGPASSWORD or PGPASSWORD_FILE)",
    ),
    (
        "jaasLogin",
        "GSSAPI and Kerberos authentication are not supported",
    ),
    (
        "jaasApplicationName",
        "GSSAPI and Kerberos authentication are not supported",
    ),
    (
        "kerberosServerName",
        "GSSAPI and Kerberos authentication are not supported",
    ),
    ("gsslib", "GSSAPI and SSPI authentication are not supported"),
    (
        "sspiServiceClass",
        "GSSAPI and SSPI authentication are not supported",
    ),
    (
        "useSpnego",
        "GSSAPI and SSPI authentication are not supported",
    ),
    (
        "replication",
        "a replication connection cannot run migrations",
    ),
    (
        "loadBalanceHosts",
        "loadBalanceHosts=true tries the hosts in random order; schemagate tries them in the \
         order given, so list them in the order to try",
    ),
    (
        "readOnly",
        "readOnly=true makes the session read-only, and migrations write",
    ),
    (
        "channelBinding",
        "channel binding cannot be required: schemagate uses it when the server offers it",
    ),
    (
        "gssEncMode",
        "GSSAPI encryption is not supported: use TLS (sslmode) instead",
    ),
];

/// For the parameters that are refused only in some values: whether `value` asks for what
/// schemagate does anyway. `None` for every other parameter.
fn harmless(key: &str, value: &str) -> Option<bool> {
    let v = value.to_ascii_lowercase();
    Some(match key {
        // Java's Boolean.parseBoolean: only "true" (any case) is true.
        "loadBalanceHosts" | "readOnly" => v != "true",
        "channelBinding" => matches!(v.as_str(), "" | "disable" | "prefer"),
        "gssEncMode" => matches!(v.as_str(), "" | "disable" | "allow" | "prefer"),
        _ => return None,
    })
}

/// What follows [`PREFIX`]: `[database]`, `//[host[:port][,host[:port]]...]/[database]`, or
/// `//`, then `?key=value&...`.
pub(crate) fn parse(rest: &str) -> Result<ConnParams, String> {
    let mut p = ConnParams::default();
    let (server, args) = rest.split_once('?').unwrap_or((rest, ""));
    if server == "//" || server == "///" {
        // All defaults.
    } else if let Some(authority) = server.strip_prefix("//") {
        // pgjdbc rejects a URL with a second '/' here rather than guess where the host
        // list ends.
        let mut parts = authority.split('/');
        let (hosts, database) = match (parts.next(), parts.next(), parts.next()) {
            (Some(hosts), Some(database), None) => (hosts, database),
            (_, None, _) => {
                return Err("the host list must end with '/': \
                     jdbc:postgresql://HOST:PORT/DATABASE"
                    .into());
            }
            _ => {
                return Err(
                    "only one '/' may follow the hosts; percent-encode a '/' in the \
                     database name as %2F"
                        .into(),
                );
            }
        };
        hosts_into(hosts, &mut p)?;
        p.set("dbname", &form_decode(database, "the database name")?)?;
    } else {
        p.set("dbname", &form_decode(server, "the database name")?)?;
    }

    let mut url = JdbcParams::default();
    for (i, token) in args.split('&').enumerate() {
        if token.is_empty() {
            continue;
        }
        let what = format!("query parameter #{}", i + 1);
        // pgjdbc decodes values, not names; a name without '=' has the value "".
        let (key, value) = token.split_once('=').unwrap_or((token, ""));
        let value = form_decode(value, &what)?;
        url.set(&mut p, key, &value)
            .map_err(|reason| format!("{what}: {reason}"))?;
    }
    url.finish(&mut p);
    Ok(p)
}

/// pgjdbc takes a host's port from after the last ':' that follows any ']', and does not
/// decode host names. Only a list that is empty as a whole leaves the host to later sources
/// (pgjdbc's default is localhost, which is ours too).
fn hosts_into(list: &str, p: &mut ConnParams) -> Result<(), String> {
    if list.is_empty() {
        return Ok(());
    }
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for address in list.split(',') {
        let colon = address
            .rfind(':')
            .filter(|&c| address.rfind(']').is_none_or(|b| b < c));
        let (host, port_text) = match colon {
            Some(c) => (&address[..c], Some(&address[c + 1..])),
            None => (address, None),
        };
        let host = match host.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .ok_or("a host starts with '[' but does not end with ']'")?,
            None if host.contains(['[', ']', ':']) => {
                return Err("put an IPv6 address in brackets: [::1]:5432".into());
            }
            None => host,
        };
        hosts.push(if host.is_empty() { "localhost" } else { host }.to_string());
        ports.push(match port_text {
            Some(t) if !t.is_empty() => Some(port(t)?),
            _ => None,
        });
    }
    p.hosts = Some(hosts);
    p.ports = Some(ports);
    Ok(())
}

/// `java.net.URLDecoder`: `%XX` escapes, and `+` is a space.
fn form_decode(text: &str, what: &str) -> Result<String, String> {
    decode(&text.replace('+', " "), what)
}

/// The parameters whose meaning depends on others, kept until the whole query is read.
#[derive(Default)]
struct JdbcParams {
    ssl: Option<bool>,
    sslmode: Option<SslMode>,
    current_schema: Option<String>,
    options: Option<String>,
}

impl JdbcParams {
    fn set(&mut self, p: &mut ConnParams, key: &str, value: &str) -> Result<(), String> {
        let non_empty = (!value.is_empty()).then(|| value.to_string());
        match key {
            "user" | "password" | "host" | "port" | "dbname" | "sslrootcert" | "sslcert"
            | "sslkey" => p.set(key, value)?,
            "ApplicationName" => p.set("application_name", value)?,
            // pgjdbc: present without a value, or "true" (any case), turns TLS on.
            "ssl" => {
                self.ssl = Some(match value.to_ascii_lowercase().as_str() {
                    "" | "true" => true,
                    "false" => false,
                    _ => {
                        return Err("ssl must be true or false; pgjdbc reads any other value \
                                    as false (the value is not shown)"
                            .into());
                    }
                });
            }
            "sslmode" => self.sslmode = Some(sslmode(value)?),
            // pgjdbc 42.7.4's sslNegotiation has libpq's values and meaning.
            "sslNegotiation" => p.set("sslnegotiation", value)?,
            "currentSchema" => self.current_schema = non_empty,
            "options" => self.options = non_empty,
            "connectTimeout" => {
                p.connect_timeout = non_empty.as_deref().map(seconds).transpose()?;
            }
            "targetServerType" => p.target_session_attrs = Some(target_server_type(value)?),
            k => return other(p, k, value),
        }
        Ok(())
    }

    fn finish(self, p: &mut ConnParams) {
        // pgjdbc's SslMode.of: sslmode if given, else verify-full when ssl is on.
        p.sslmode = match (self.sslmode, self.ssl) {
            (Some(mode), _) => Some(mode),
            (None, Some(true)) => Some(SslMode::VerifyFull),
            (None, _) => None,
        };
        let schema = self
            .current_schema
            .map(|s| format!("-c search_path={}", escape_option(&s)));
        p.options = match (self.options, schema) {
            (Some(o), Some(s)) => Some(format!("{o} {s}")),
            (o, s) => o.or(s),
        };
    }
}

/// A parameter that is not one of ours: ignored with a warning, refused, or unknown.
fn other(p: &mut ConnParams, key: &str, value: &str) -> Result<(), String> {
    let ignored = IGNORED.contains(&key);
    match harmless(key, value) {
        Some(false) => {}
        Some(true) if !ignored => return Ok(()),
        _ if ignored => {
            let warning = format!("jdbc URL parameter {key} has no effect in schemagate; ignored");
            if !p.warnings.contains(&warning) {
                p.warnings.push(warning);
            }
            return Ok(());
        }
        _ => {}
    }
    if let Some((name, why)) = REFUSED.iter().find(|(name, _)| *name == key) {
        return Err(format!(
            "the pgjdbc parameter `{name}` is not supported here: {why}"
        ));
    }
    let known = SUPPORTED
        .iter()
        .chain(IGNORED)
        .chain(REFUSED.iter().map(|(name, _)| name))
        .copied();
    Err(match closest(key, known) {
        Some(s) => format!(
            "the name is not a pgjdbc parameter schemagate knows; did you mean `{s}`? (the \
             name is not shown: it may be part of a password with an unencoded '&')"
        ),
        None => format!(
            "the name is not a pgjdbc parameter schemagate knows (it is not shown: it may be \
             part of a password with an unencoded '&'; write '&' in a value as %26); the \
             parameters read are {}",
            SUPPORTED.join(", ")
        ),
    })
}

/// pgjdbc's values, any case. `allow` tries plaintext first and TLS if the server insists;
/// `prefer` tries TLS first and plaintext if the server has none: the same servers are
/// reached, never with less encryption, so `allow` is read as `prefer`.
fn sslmode(value: &str) -> Result<SslMode, String> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "disable" => SslMode::Disable,
        "allow" | "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => {
            return Err(
                "sslmode must be one of disable, allow, prefer, require, verify-ca, \
                        verify-full (the value is not shown)"
                    .into(),
            );
        }
    })
}

/// pgjdbc decides "primary" by whether the server takes writes (not in hot standby, and
/// `transaction_read_only` off), which is libpq's `read-write`; "secondary" is the opposite,
/// libpq's `read-only`.
fn target_server_type(value: &str) -> Result<TargetSessionAttrs, String> {
    Ok(match value {
        "any" => TargetSessionAttrs::Any,
        "primary" | "master" => TargetSessionAttrs::ReadWrite,
        "secondary" | "slave" | "standby" => TargetSessionAttrs::ReadOnly,
        "preferPrimary" => TargetSessionAttrs::PreferReadWrite,
        "preferSecondary" | "preferSlave" | "preferStandby" => TargetSessionAttrs::PreferReadOnly,
        _ => {
            return Err("targetServerType must be one of any, primary, secondary, \
                        preferPrimary, preferSecondary (or master, slave, standby, preferSlave, \
                        preferStandby) (the value is not shown)"
                .into());
        }
    })
}

/// pgjdbc's `connectTimeout`: whole seconds, 0 meaning no limit.
fn seconds(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| {
            "connectTimeout must be a whole number of seconds (the value is not shown)".into()
        })
}

/// The server splits the startup `options` at whitespace, and a backslash keeps the next
/// character as it is.
fn escape_option(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_whitespace() || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conn::{RootCerts, Secret, SslNegotiation};
    use crate::config::conninfo;

    fn ok(url: &str) -> ConnParams {
        conninfo::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn err(url: &str) -> String {
        match conninfo::parse(url) {
            Ok(_) => panic!("{url} parsed"),
            Err(e) => e,
        }
    }

    fn hosts(p: &ConnParams) -> Vec<(&str, Option<u16>)> {
        let hs = p.hosts.as_deref().unwrap_or_default();
        let ps = p.ports.as_deref().unwrap_or_default();
        hs.iter()
            .enumerate()
            .map(|(i, h)| (h.as_str(), ps.get(i).copied().flatten()))
            .collect()
    }

    #[test]
    fn simple() {
        let p = ok("jdbc:postgresql://db.example:6432/app?user=me&password=pw");
        assert_eq!(hosts(&p), [("db.example", Some(6432))]);
        assert_eq!(p.dbname.as_deref(), Some("app"));
        assert_eq!(p.user.as_deref(), Some("me"));
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("pw"));
        assert!(p.sslmode.is_none() && p.warnings.is_empty());
        let p = ok("  jdbc:postgresql://db/app\n");
        assert_eq!(hosts(&p), [("db", None)]);
        assert!(p.ports.is_some(), "5432, as pgjdbc, which reads no PGPORT");
    }

    #[test]
    fn ipv6_with_and_without_port() {
        let p = ok("jdbc:postgresql://[::1]:5740/db");
        assert_eq!(hosts(&p), [("::1", Some(5740))]);
        let p = ok("jdbc:postgresql://[2001:db8::7]/db");
        assert_eq!(hosts(&p), [("2001:db8::7", None)]);
        assert!(err("jdbc:postgresql://[::1:5/db").contains("does not end with ']'"));
        assert!(err("jdbc:postgresql://::1/db").contains("in brackets"));
    }

    #[test]
    fn several_hosts_with_mixed_ports() {
        let p = ok("jdbc:postgresql://a:5433,b,[::1]:5434,:5435/db");
        assert_eq!(
            hosts(&p),
            [
                ("a", Some(5433)),
                ("b", None),
                ("::1", Some(5434)),
                ("localhost", Some(5435))
            ]
        );
    }

    #[test]
    fn no_host_and_the_database_default() {
        for url in [
            "jdbc:postgresql://",
            "jdbc:postgresql:///",
            "jdbc:postgresql:",
            "jdbc:postgresql://?user=u",
        ] {
            let p = ok(url);
            assert!(p.hosts.is_none() && p.ports.is_none(), "{url}");
            assert!(p.dbname.is_none(), "{url}: the user's name is the default");
        }
        let p = ok("jdbc:postgresql:app");
        assert_eq!(p.dbname.as_deref(), Some("app"));
        assert!(p.hosts.is_none());
        let p = ok("jdbc:postgresql:///app");
        assert_eq!(p.dbname.as_deref(), Some("app"));
        let p = ok("jdbc:postgresql://db/");
        assert!(p.dbname.is_none());
        assert!(err("jdbc:postgresql://db").contains("the host list must end with '/'"));
        assert!(err("jdbc:postgresql://db/a/b").contains("only one '/' may follow the hosts"));
    }

    #[test]
    fn ssl_true_is_verify_full_and_sslmode_wins() {
        for url in [
            "jdbc:postgresql://db/app?ssl=true",
            "jdbc:postgresql://db/app?ssl=TRUE",
            "jdbc:postgresql://db/app?ssl",
            "jdbc:postgresql://db/app?ssl=",
        ] {
            assert_eq!(ok(url).sslmode, Some(SslMode::VerifyFull), "{url}");
        }
        assert_eq!(ok("jdbc:postgresql://db/app?ssl=false").sslmode, None);
        let cases = [
            ("ssl=true&sslmode=require", SslMode::Require),
            ("sslmode=disable&ssl=true", SslMode::Disable),
            ("sslmode=allow", SslMode::Prefer),
            ("sslmode=prefer", SslMode::Prefer),
            ("sslmode=VERIFY-CA", SslMode::VerifyCa),
            ("ssl=false&sslmode=verify-full", SslMode::VerifyFull),
        ];
        for (query, want) in cases {
            let p = ok(&format!("jdbc:postgresql://db/app?{query}"));
            assert_eq!(p.sslmode, Some(want), "{query}");
        }
        let p = ok("jdbc:postgresql://db/app?ssl=true&sslrootcert=/ca.pem&sslcert=/c&sslkey=/k");
        assert_eq!(p.sslrootcert, Some(RootCerts::File("/ca.pem".into())));
        assert_eq!(p.sslcert, Some("/c".into()));
        assert_eq!(p.sslkey, Some("/k".into()));
        assert!(err("jdbc:postgresql://db/app?ssl=yes").contains("ssl must be true or false"));
        assert!(err("jdbc:postgresql://db/app?sslmode=strict").contains("sslmode must be one of"));
        assert!(err("jdbc:postgresql://db/app?sslmode").contains("sslmode must be one of"));
    }

    #[test]
    fn values_are_percent_decoded_and_plus_is_a_space() {
        let p = ok(
            "jdbc:postgresql://db/my%20db?user=us%40r&password=p%26ss%3Dw%2Bd+x&options=-c%20statement_timeout=5min",
        );
        assert_eq!(p.dbname.as_deref(), Some("my db"));
        assert_eq!(p.user.as_deref(), Some("us@r"));
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("p&ss=w+d x"));
        assert_eq!(p.options.as_deref(), Some("-c statement_timeout=5min"));
        let e = err("jdbc:postgresql://db/app?password=a%zz");
        assert!(e.contains("query parameter #1 holds a '%'"), "{e}");
    }

    #[test]
    fn current_schema_becomes_search_path() {
        let p = ok("jdbc:postgresql://db/app?currentSchema=app,public");
        assert_eq!(p.options.as_deref(), Some("-c search_path=app,public"));
        let p =
            ok("jdbc:postgresql://db/app?currentSchema=my%20schema\\x&options=-c%20work_mem=4MB");
        assert_eq!(
            p.options.as_deref(),
            Some(r"-c work_mem=4MB -c search_path=my\ schema\\x")
        );
    }

    #[test]
    fn application_name_and_connect_timeout() {
        let p = ok("jdbc:postgresql://db/app?ApplicationName=my%20app&connectTimeout=7");
        assert_eq!(p.application_name.as_deref(), Some("my app"));
        assert_eq!(p.connect_timeout, Some(Duration::from_secs(7)));
        let p = ok("jdbc:postgresql://db/app?connectTimeout=0");
        assert_eq!(p.connect_timeout, Some(Duration::ZERO), "no limit");
        for bad in ["-1", "1.5", "10s"] {
            let e = err(&format!("jdbc:postgresql://db/app?connectTimeout={bad}"));
            assert!(
                e.contains("connectTimeout must be a whole number of seconds"),
                "{e}"
            );
        }
    }

    #[test]
    fn target_server_type_each_value() {
        use TargetSessionAttrs as T;
        let cases = [
            ("any", T::Any),
            ("primary", T::ReadWrite),
            ("master", T::ReadWrite),
            ("secondary", T::ReadOnly),
            ("slave", T::ReadOnly),
            ("standby", T::ReadOnly),
            ("preferPrimary", T::PreferReadWrite),
            ("preferSecondary", T::PreferReadOnly),
            ("preferSlave", T::PreferReadOnly),
            ("preferStandby", T::PreferReadOnly),
        ];
        for (value, want) in cases {
            let p = ok(&format!(
                "jdbc:postgresql://a,b/app?targetServerType={value}"
            ));
            assert_eq!(p.target_session_attrs, Some(want), "{value}");
        }
        let e = err("jdbc:postgresql://db/app?targetServerType=read-write");
        assert!(e.contains("targetServerType must be one of"), "{e}");
    }

    #[test]
    fn query_host_port_and_dbname_override_the_path() {
        let p = ok("jdbc:postgresql://a:1/x?host=b,c&port=2,3&dbname=y");
        assert_eq!(hosts(&p), [("b", Some(2)), ("c", Some(3))]);
        assert_eq!(p.dbname.as_deref(), Some("y"));
    }

    #[test]
    fn driver_parameters_are_ignored_once_with_a_warning() {
        let p = ok(
            "jdbc:postgresql://db/app?prepareThreshold=0&socketTimeout=30&prepareThreshold=5&tcpKeepAlive=true&channelBinding=prefer&gssEncMode=disable&loadBalanceHosts=false&sslNegotiation=postgres&readOnly=false",
        );
        assert_eq!(
            p.warnings,
            [
                "jdbc URL parameter prepareThreshold has no effect in schemagate; ignored",
                "jdbc URL parameter socketTimeout has no effect in schemagate; ignored",
                "jdbc URL parameter tcpKeepAlive has no effect in schemagate; ignored",
                "jdbc URL parameter channelBinding has no effect in schemagate; ignored",
                "jdbc URL parameter gssEncMode has no effect in schemagate; ignored",
            ]
        );
    }

    #[test]
    fn ssl_negotiation_as_in_pgjdbc() {
        let p = ok("jdbc:postgresql://db/app?ssl=true&sslNegotiation=direct");
        assert_eq!(p.sslnegotiation, Some(SslNegotiation::Direct));
        assert_eq!(p.sslmode, Some(SslMode::VerifyFull));
        let p = ok("jdbc:postgresql://db/app?sslNegotiation=postgres");
        assert_eq!(p.sslnegotiation, Some(SslNegotiation::Postgres));
        assert!(p.warnings.is_empty());
        let e = err("jdbc:postgresql://db/app?sslNegotiation=tls");
        assert!(
            e.contains("query parameter #1: sslnegotiation must be postgres or direct"),
            "{e}"
        );
    }

    #[test]
    fn parameters_that_weaken_or_redirect_the_connection_are_refused() {
        let cases = [
            (
                "sslfactory=org.postgresql.ssl.NonValidatingFactory",
                "sslfactory",
                "sslmode=require",
            ),
            ("sslpassword=x", "sslpassword", "unencrypted"),
            ("sslhostnameverifier=x", "sslhostnameverifier", "verify-ca"),
            ("service=x", "service", "pg_service.conf"),
            ("loadBalanceHosts=true", "loadBalanceHosts", "order given"),
            (
                "channelBinding=require",
                "channelBinding",
                "cannot be required",
            ),
            ("gssEncMode=require", "gssEncMode", "GSSAPI encryption"),
            ("readOnly=true", "readOnly", "migrations write"),
            ("socketFactory=x", "socketFactory", "socket factory"),
        ];
        for (query, name, why) in cases {
            let e = err(&format!("jdbc:postgresql://db/app?user=u&{query}"));
            assert!(
                e.contains(&format!(
                    "query parameter #2: the pgjdbc parameter `{name}` is not supported"
                )),
                "{query}: {e}"
            );
            assert!(e.contains(why), "{query}: {e}");
        }
    }

    #[test]
    fn unknown_parameters_are_refused_with_a_hint() {
        let e = err("jdbc:postgresql://db/app?applicationName=x");
        assert!(e.contains("query parameter #1"), "{e}");
        assert!(e.contains("did you mean `ApplicationName`?"), "{e}");
        let e = err("jdbc:postgresql://db/app?sslmod=require");
        assert!(e.contains("did you mean `sslmode`?"), "{e}");
        let e = err("jdbc:postgresql://db/app?completelyUnrelated=1");
        assert!(e.contains("the parameters read are user, password"), "{e}");
    }

    #[test]
    fn a_password_never_appears_in_an_error() {
        let secret = "Zq7kWp9YtVbNm";
        let urls = [
            format!("jdbc:postgresql://db/app?password={secret}%zz"),
            // An unencoded '&' splits the password into a parameter of its own.
            format!("jdbc:postgresql://db/app?password=ab&{secret}"),
            format!("jdbc:postgresql://db/app?password=ab&{secret}=1"),
            format!("jdbc:postgresql://db/app?password={secret}&sslmode={secret}"),
            format!("jdbc:postgresql://db/app?password={secret}&connectTimeout={secret}"),
            format!("jdbc:postgresql://db/app?password={secret}&targetServerType={secret}"),
            format!("jdbc:postgresql://db/app?password={secret}&ssl={secret}"),
            format!("jdbc:postgresql://db:{secret}/app?password={secret}"),
            format!("jdbc:postgresql://db/{secret}%/app"),
            format!("jdbc:mysql://db/app?password={secret}"),
        ];
        for url in &urls {
            let e = err(url);
            for w in secret.as_bytes().windows(4) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(!e.contains(w), "{url}: {w} leaked in {e}");
            }
        }
    }

    #[test]
    fn other_jdbc_urls_are_named() {
        let e = err("jdbc:mysql://db/app");
        assert!(
            e.contains("a JDBC URL of a kind schemagate does not read"),
            "{e}"
        );
        assert!(e.contains("jdbc:postgresql://HOST:PORT/DATABASE"), "{e}");
    }
}
