//! libpq connection strings — `postgres://` URIs and `key=value` strings — into [`ConnParams`],
//! the set of libpq options one source gives. `jdbc:postgresql:` URLs are handed to
//! [`super::jdbc`], which yields the same set.
//!
//! The text may hold a password, so an error here says *where* the problem is (which part,
//! which query parameter, which byte) and never *what* is there: no key, no value, no slice of
//! the input. Callers add the variable's name.

use std::path::PathBuf;
use std::time::Duration;

use super::conn::{RootCerts, Secret, SslMode, SslNegotiation, TargetSessionAttrs};
use super::jdbc;
use super::values::duration;
use crate::core::hint::closest;

/// One source's libpq options, every field optional: libpq fills empty fields from the next
/// source. No `Debug`: `password`.
#[derive(Default)]
pub(crate) struct ConnParams {
    /// libpq's host list; an empty entry stands for the default host.
    pub hosts: Option<Vec<String>>,
    /// One port for every host, or one per host; `None` entries are the default port.
    pub ports: Option<Vec<Option<u16>>>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub dbname: Option<String>,
    pub sslmode: Option<SslMode>,
    pub sslnegotiation: Option<SslNegotiation>,
    pub sslrootcert: Option<RootCerts>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    pub application_name: Option<String>,
    pub fallback_application_name: Option<String>,
    /// `Duration::ZERO` is libpq's "no limit".
    pub connect_timeout: Option<Duration>,
    pub options: Option<String>,
    pub target_session_attrs: Option<TargetSessionAttrs>,
    /// What the source holds that has no effect here (a JDBC driver parameter). They travel
    /// with the parse so that the caller can add the source's name; never a value.
    pub warnings: Vec<String>,
}

/// Options we take.
const SUPPORTED: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "sslnegotiation",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "fallback_application_name",
    "connect_timeout",
    "options",
    "target_session_attrs",
];

/// Options that tune the socket only; accepting and ignoring them changes nothing that matters
/// for a migration run, and refusing them would reject many ordinary `DATABASE_URL`s.
const IGNORED: &[&str] = &[
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslcompression",
    "sslsni",
];

/// libpq options we do not implement. Ignoring them could connect somewhere else or with less
/// security than asked for, so they are refused by name.
const UNSUPPORTED: &[&str] = &[
    "hostaddr",
    "service",
    "passfile",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslcertmode",
    "ssl_max_protocol_version",
    "min_protocol_version",
    "max_protocol_version",
    "require_auth",
    "requirepeer",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "requiressl",
    "replication",
    "load_balance_hosts",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

impl ConnParams {
    /// libpq's rule: a later source only fills fields that are still empty.
    pub fn fill_from(&mut self, later: ConnParams) {
        fn fill<T>(field: &mut Option<T>, later: Option<T>) {
            if field.is_none() {
                *field = later;
            }
        }
        fill(&mut self.hosts, later.hosts);
        fill(&mut self.ports, later.ports);
        fill(&mut self.user, later.user);
        fill(&mut self.password, later.password);
        fill(&mut self.dbname, later.dbname);
        fill(&mut self.sslmode, later.sslmode);
        fill(&mut self.sslnegotiation, later.sslnegotiation);
        fill(&mut self.sslrootcert, later.sslrootcert);
        fill(&mut self.sslcert, later.sslcert);
        fill(&mut self.sslkey, later.sslkey);
        fill(&mut self.application_name, later.application_name);
        fill(
            &mut self.fallback_application_name,
            later.fallback_application_name,
        );
        fill(&mut self.connect_timeout, later.connect_timeout);
        fill(&mut self.options, later.options);
        fill(&mut self.target_session_attrs, later.target_session_attrs);
        self.warnings.extend(later.warnings);
    }

    /// Sets one libpq option by its conninfo name. An empty value clears the option, as in
    /// libpq. The error is a reason that names the option but never holds `value`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let v = (!value.is_empty()).then(|| value.to_string());
        match key {
            "host" => self.hosts = v.map(|h| h.split(',').map(str::to_string).collect()),
            "port" => self.ports = v.as_deref().map(ports).transpose()?,
            "user" => self.user = v,
            "password" => self.password = v.map(Secret::new),
            "dbname" => self.dbname = v,
            "sslmode" => self.sslmode = v.as_deref().map(sslmode).transpose()?,
            "sslnegotiation" => {
                self.sslnegotiation = v.as_deref().map(sslnegotiation).transpose()?;
            }
            "sslrootcert" => self.sslrootcert = v.map(root_certs),
            "sslcert" => self.sslcert = v.map(PathBuf::from),
            "sslkey" => self.sslkey = v.map(PathBuf::from),
            "application_name" => self.application_name = v,
            "fallback_application_name" => self.fallback_application_name = v,
            "connect_timeout" => {
                self.connect_timeout = v
                    .as_deref()
                    .map(|t| {
                        duration(t).map_err(|reason| {
                            format!("connect_timeout {reason} (the value is not shown)")
                        })
                    })
                    .transpose()?;
            }
            "options" => self.options = v,
            "target_session_attrs" => {
                self.target_session_attrs = v.as_deref().map(target_session_attrs).transpose()?;
            }
            k if IGNORED.contains(&k) => {}
            "gssencmode" | "channel_binding" => one_of(key, value, &["disable", "prefer"])?,
            // rustls never offers less than TLS 1.2.
            "ssl_min_protocol_version" => {
                one_of(key, value, &["TLSv1", "TLSv1.1", "TLSv1.2"])?;
            }
            "client_encoding" => one_of(key, value, &["UTF8", "utf8", "auto"])?,
            k if UNSUPPORTED.contains(&k) => {
                return Err(format!(
                    "the libpq option `{k}` is not supported by schemagate"
                ));
            }
            k => {
                let known = SUPPORTED.iter().chain(IGNORED).chain(UNSUPPORTED).copied();
                return Err(match closest(k, known) {
                    Some(s) => format!("the key is not a libpq option; did you mean `{s}`?"),
                    None => format!(
                        "the key is not a libpq option; use {}",
                        SUPPORTED.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }
}

/// For options we accept only in the values that need no support from us.
fn one_of(key: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if value.is_empty() || allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{key} is supported only as {} (the value is not shown)",
            allowed.join(" or ")
        ))
    }
}

pub(crate) fn port(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0 && text.trim().bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| "the port must be a number between 1 and 65535".to_string())
}

/// libpq's port list: one port, or one per host, an empty entry meaning the default.
fn ports(text: &str) -> Result<Vec<Option<u16>>, String> {
    text.split(',')
        .map(|p| (!p.trim().is_empty()).then(|| port(p)).transpose())
        .collect()
}

pub(crate) fn target_session_attrs(text: &str) -> Result<TargetSessionAttrs, String> {
    match text.trim() {
        "any" => Ok(TargetSessionAttrs::Any),
        "read-write" => Ok(TargetSessionAttrs::ReadWrite),
        "read-only" => Ok(TargetSessionAttrs::ReadOnly),
        "primary" => Ok(TargetSessionAttrs::Primary),
        "standby" => Ok(TargetSessionAttrs::Standby),
        "prefer-standby" => Ok(TargetSessionAttrs::PreferStandby),
        _ => Err(
            "target_session_attrs must be one of any, read-write, read-only, primary, \
                  standby, prefer-standby (the value is not shown)"
                .to_string(),
        ),
    }
}

pub(crate) fn sslmode(text: &str) -> Result<SslMode, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "disable" => Ok(SslMode::Disable),
        "prefer" => Ok(SslMode::Prefer),
        "require" => Ok(SslMode::Require),
        "verify-ca" => Ok(SslMode::VerifyCa),
        "verify-full" => Ok(SslMode::VerifyFull),
        "allow" => Err("sslmode allow is not supported; use disable or prefer".to_string()),
        _ => Err(
            "sslmode must be one of disable, prefer, require, verify-ca, verify-full".to_string(),
        ),
    }
}

pub(crate) fn sslnegotiation(text: &str) -> Result<SslNegotiation, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "postgres" => Ok(SslNegotiation::Postgres),
        "direct" => Ok(SslNegotiation::Direct),
        _ => Err("sslnegotiation must be postgres or direct".to_string()),
    }
}

pub(crate) fn root_certs(text: String) -> RootCerts {
    if text == "system" {
        RootCerts::System
    } else {
        RootCerts::File(PathBuf::from(text))
    }
}

/// A URI (`postgres://`, `postgresql://`) or a `key=value` string, told apart as libpq does,
/// or a pgjdbc URL (`jdbc:postgresql:`).
pub(crate) fn parse(text: &str) -> Result<ConnParams, String> {
    let trimmed = text.trim();
    if let Some(rest) = trimmed
        .strip_prefix("postgresql://")
        .or_else(|| trimmed.strip_prefix("postgres://"))
    {
        return parse_uri(rest).map_err(|reason| format!("in the URI, {reason}"));
    }
    if let Some(rest) = trimmed.strip_prefix(jdbc::PREFIX) {
        return jdbc::parse(rest).map_err(|reason| format!("in the JDBC URL, {reason}"));
    }
    if trimmed.to_ascii_lowercase().starts_with("jdbc:") {
        return Err(format!(
            "it is a JDBC URL of a kind schemagate does not read; write {}//HOST:PORT/DATABASE",
            jdbc::PREFIX
        ));
    }
    if has_scheme(trimmed) {
        let hint = "use postgres://, postgresql:// or jdbc:postgresql://";
        return Err(format!(
            "it is a URI of a kind schemagate does not read; {hint}"
        ));
    }
    if trimmed.contains('=') {
        return parse_key_values(text);
    }
    Err("it is neither a postgres:// URI nor a libpq key=value string".to_string())
}

/// `scheme://` or `scheme:scheme://` at the start, as in `jdbc:postgresql://`.
fn has_scheme(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.:".contains(c))
    })
}

/// `[user[:password]@][host][:port][/dbname][?key=value&...]`, after the scheme.
///
/// The user part ends at the *last* `@`, so an unencoded `@` in a password still parses; an
/// unencoded `/` or `?` before it cannot be told apart from the path and is refused (libpq
/// would silently split the password there and show its tail as a host name).
fn parse_uri(rest: &str) -> Result<ConnParams, String> {
    let mut p = ConnParams::default();
    let after_user = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            if userinfo.contains(['/', '?']) {
                return Err(
                    "the part before '@' holds a '/' or '?'; percent-encode them in the \
                            user name and password (%2F, %3F), and any '@' after the host (%40)"
                        .to_string(),
                );
            }
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            p.set("user", &decode(user, "the user name")?)?;
            if let Some(password) = password {
                p.set("password", &decode(password, "the password")?)?;
            }
            &rest[at + 1..]
        }
        None => rest,
    };

    let host_end = after_user.find(['/', '?']).unwrap_or(after_user.len());
    let (hostspec, after_host) = after_user.split_at(host_end);
    parse_hostspec(hostspec, &mut p)?;

    let (path, query) = match after_host.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (after_host, None),
    };
    if let Some(dbname) = path.strip_prefix('/') {
        p.set("dbname", &decode(dbname, "the database name")?)?;
    }
    for (i, pair) in query.unwrap_or("").split('&').enumerate() {
        if pair.is_empty() {
            continue;
        }
        let what = format!("query parameter #{}", i + 1);
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{what} has no '='"))?;
        let key = decode(key, &what)?;
        let value = decode(value, &what)?;
        p.set(&key, &value)
            .map_err(|reason| format!("{what}: {reason}"))?;
    }
    Ok(p)
}

/// A comma-separated list of `host`, `host:port`, `[v6]`, `[v6]:port` or empty entries, as
/// libpq reads it: a port given for some hosts only leaves the others on the default port.
fn parse_hostspec(spec: &str, p: &mut ConnParams) -> Result<(), String> {
    if spec.is_empty() {
        return Ok(());
    }
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for entry in spec.split(',') {
        let (host, port) = host_and_port(entry)?;
        hosts.push(decode(host, "the host")?);
        ports.push(match port {
            Some(text) if !text.is_empty() => Some(self::port(&decode(text, "the port")?)?),
            _ => None,
        });
    }
    if !(hosts.len() == 1 && hosts[0].is_empty()) {
        p.hosts = Some(hosts);
    }
    if ports.iter().any(Option::is_some) {
        p.ports = Some(ports);
    }
    Ok(())
}

fn host_and_port(spec: &str) -> Result<(&str, Option<&str>), String> {
    Ok(match spec.strip_prefix('[') {
        Some(inner) => {
            let close = inner
                .find(']')
                .ok_or("the host starts with '[' but has no closing ']'")?;
            let tail = &inner[close + 1..];
            let port = match tail {
                "" => None,
                _ => Some(
                    tail.strip_prefix(':')
                        .ok_or("only :port may follow an IPv6 address in brackets")?,
                ),
            };
            (&inner[..close], port)
        }
        None => match spec.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (spec, None),
        },
    })
}

/// `%XX` decoding. `+` stays `+`, as in libpq.
pub(crate) fn decode(text: &str, what: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    format!(
                        "{what} holds a '%' that does not start a %XX escape; \
                         write a literal % as %25"
                    )
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{what} is not UTF-8 once percent-decoded"))
}

/// libpq's `key=value key='quoted value'` form. Inside quotes, `\'` and `\\` are escapes, as
/// in libpq; `''` is also read as one quote (SQL's habit; libpq rejects it, so accepting it
/// changes the meaning of no string libpq accepts). Outside quotes, `\` escapes the next
/// character and whitespace ends the value.
fn parse_key_values(text: &str) -> Result<ConnParams, String> {
    let mut p = ConnParams::default();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].1.is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i == chars.len() {
            return Ok(p);
        }
        let key_at = chars[i].0;
        let mut key = String::new();
        while i < chars.len() && chars[i].1 != '=' && !chars[i].1.is_whitespace() {
            key.push(chars[i].1);
            i += 1;
        }
        skip_ws(&mut i);
        if key.is_empty() || i == chars.len() || chars[i].1 != '=' {
            return Err(format!(
                "in the key=value string, the word at byte {key_at} is not followed by '='"
            ));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = String::new();
        if i < chars.len() && chars[i].1 == '\'' {
            let open_at = chars[i].0;
            i += 1;
            loop {
                let Some(&(_, c)) = chars.get(i) else {
                    return Err(format!(
                        "in the key=value string, the quoted value that starts at byte \
                         {open_at} has no closing quote"
                    ));
                };
                match c {
                    '\\' if i + 1 < chars.len() => {
                        value.push(chars[i + 1].1);
                        i += 2;
                    }
                    '\'' if chars.get(i + 1).is_some_and(|&(_, n)| n == '\'') => {
                        value.push('\'');
                        i += 2;
                    }
                    '\'' => {
                        i += 1;
                        break;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].1.is_whitespace() {
                if chars[i].1 == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                value.push(chars[i].1);
                i += 1;
            }
        }
        p.set(&key, &value)
            .map_err(|reason| format!("in the key=value string, at byte {key_at}: {reason}"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> ConnParams {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn pw(p: &ConnParams) -> Option<&str> {
        p.password.as_ref().map(Secret::expose)
    }

    impl ConnParams {
        /// The host of a one-host list.
        fn host(&self) -> Option<&str> {
            match self.hosts.as_deref() {
                None => None,
                Some([h]) => Some(h),
                Some(_) => panic!("several hosts"),
            }
        }

        fn port(&self) -> Option<u16> {
            match self.ports.as_deref() {
                None => None,
                Some([p]) => *p,
                Some(_) => panic!("several ports"),
            }
        }

        fn host_list(&self) -> Vec<(&str, Option<u16>)> {
            let ports = self.ports.as_deref().unwrap_or_default();
            self.hosts
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, h)| (h.as_str(), ports.get(i).copied().flatten()))
                .collect()
        }
    }

    #[test]
    fn uri_parts() {
        let p = ok(
            "postgres://app:pw@db.example:6432/appdb?sslmode=verify-full&sslrootcert=system&application_name=me&connect_timeout=7&options=-c%20search_path%3Dapp&sslcert=/c.pem&sslkey=/k.pem",
        );
        assert_eq!(p.user.as_deref(), Some("app"));
        assert_eq!(pw(&p), Some("pw"));
        assert_eq!(p.host(), Some("db.example"));
        assert_eq!(p.port(), Some(6432));
        assert_eq!(p.dbname.as_deref(), Some("appdb"));
        assert_eq!(p.sslmode, Some(SslMode::VerifyFull));
        assert_eq!(p.sslrootcert, Some(RootCerts::System));
        assert_eq!(p.application_name.as_deref(), Some("me"));
        assert_eq!(p.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(p.options.as_deref(), Some("-c search_path=app"));
        assert_eq!(p.sslcert, Some(PathBuf::from("/c.pem")));
        assert_eq!(p.sslkey, Some(PathBuf::from("/k.pem")));

        let p = ok("postgresql://db");
        assert_eq!(p.host(), Some("db"));
        assert!(p.user.is_none() && p.port().is_none() && p.dbname.is_none());

        let p = ok("postgres://");
        assert!(p.host().is_none() && p.user.is_none());

        let p = ok("  postgres://u@h/d\n");
        assert_eq!(p.dbname.as_deref(), Some("d"));
    }

    #[test]
    fn uri_ipv6_and_socket_dir() {
        let p = ok("postgres://u@[::1]:5433/d");
        assert_eq!(p.host(), Some("::1"));
        assert_eq!(p.port(), Some(5433));
        let p = ok("postgres://[2001:db8::7]/d");
        assert_eq!(p.host(), Some("2001:db8::7"));
        assert_eq!(p.port(), None);
        let p = ok("postgres://[fe80::1%25eth0]:5432");
        assert_eq!(p.host(), Some("fe80::1%eth0"));

        let p = ok("postgres://%2Fvar%2Frun%2Fpostgresql/d");
        assert_eq!(p.host(), Some("/var/run/postgresql"));
        let p = ok("postgresql:///d?host=/var/run/postgresql&port=5433");
        assert_eq!(p.host(), Some("/var/run/postgresql"));
        assert_eq!(p.port(), Some(5433));
        // The query overrides the authority, as in libpq.
        let p = ok("postgres://u:a@h:1/d?user=v&password=b&host=g&port=2&dbname=e");
        assert_eq!(
            (
                p.user.as_deref(),
                pw(&p),
                p.host(),
                p.port(),
                p.dbname.as_deref()
            ),
            (Some("v"), Some("b"), Some("g"), Some(2), Some("e"))
        );
    }

    #[test]
    fn uri_percent_decoding() {
        let p = ok("postgres://us%40r:p%40ss%3Aw%2Fo%3Fr%23d%25%20x@h/d%20b");
        assert_eq!(p.user.as_deref(), Some("us@r"));
        assert_eq!(pw(&p), Some("p@ss:w/o?r#d% x"));
        assert_eq!(p.dbname.as_deref(), Some("d b"));
        let p = ok("postgres://u:a+b@h/d%C3%A9");
        assert_eq!(pw(&p), Some("a+b"), "+ is not a space");
        assert_eq!(p.dbname.as_deref(), Some("dé"));
        // Lenient where libpq would misparse: an unencoded '@' or ':' in the password.
        let p = ok("postgres://u:p@ss:w@h/d");
        assert_eq!((p.user.as_deref(), pw(&p)), (Some("u"), Some("p@ss:w")));
        assert_eq!(p.host(), Some("h"));
    }

    #[test]
    fn uri_errors() {
        let cases: &[(&str, &str)] = &[
            ("postgres://u:p/w@h/d", "holds a '/' or '?'"),
            ("postgres://u:p?w@h/d", "holds a '/' or '?'"),
            ("postgres://h/d?application_name=a@b", "holds a '/' or '?'"),
            ("postgres://u:p%zz@h/d", "the password holds a '%'"),
            ("postgres://u:p%@h/d", "the password holds a '%'"),
            ("postgres://u:%ff@h/d", "the password is not UTF-8"),
            (
                "postgres://h:port/d",
                "port must be a number between 1 and 65535",
            ),
            ("postgres://h:0/d", "port must be a number"),
            ("postgres://h:65536/d", "port must be a number"),
            ("postgres://h:+5/d", "port must be a number"),
            ("postgres://a,b:x/d", "the port must be a number"),
            ("postgres://a,[::1/d", "no closing ']'"),
            (
                "postgres://h/d?target_session_attrs=master",
                "query parameter #1: target_session_attrs must be one of",
            ),
            ("postgres://[::1/d", "no closing ']'"),
            ("postgres://[::1]x/d", "only :port"),
            ("postgres://h/d?sslmode", "query parameter #1 has no '='"),
            (
                "postgres://h/d?sslmode=require&sslmod=x",
                "query parameter #2: the key is not a libpq option; did you mean `sslmode`?",
            ),
            (
                "postgres://h/d?sslmode=bogus",
                "query parameter #1: sslmode must be one of",
            ),
            (
                "postgres://h/d?sslmode=allow",
                "sslmode allow is not supported",
            ),
            (
                "postgres://h/d?sslnegotiation=requiressl",
                "query parameter #1: sslnegotiation must be postgres or direct",
            ),
            (
                "postgres://h/d?hostaddr=1.2.3.4",
                "`hostaddr` is not supported",
            ),
            (
                "postgres://h/d?connect_timeout=soon",
                "connect_timeout is not a duration",
            ),
            (
                "postgres://h/d?channel_binding=require",
                "channel_binding is supported only as disable or prefer",
            ),
            (
                "jdbc:mysql://h/d",
                "a JDBC URL of a kind schemagate does not read",
            ),
            (
                "mysql://h/d",
                "use postgres://, postgresql:// or jdbc:postgresql://",
            ),
            (
                "just-a-word",
                "neither a postgres:// URI nor a libpq key=value string",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).err().unwrap_or_else(|| panic!("{text} parsed"));
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn harmless_options_are_accepted_and_ignored() {
        let p = ok(
            "postgres://h/d?keepalives=1&target_session_attrs=read-write&gssencmode=disable&sslsni=1&ssl_min_protocol_version=TLSv1.2",
        );
        assert_eq!(p.host(), Some("h"));
        assert_eq!(p.target_session_attrs, Some(TargetSessionAttrs::ReadWrite));
    }

    #[test]
    fn several_hosts() {
        let p = ok("postgres://h1:5432,h2,[::1]:5433/db");
        assert_eq!(
            p.host_list(),
            [("h1", Some(5432)), ("h2", None), ("::1", Some(5433))]
        );
        let p = ok("postgresql://h1,h2/db");
        assert_eq!(p.host_list(), [("h1", None), ("h2", None)]);
        assert!(p.ports.is_none(), "no port given: PGPORT may fill it");
        let p = ok("postgres://%2Frun%2Fpg,db:6/db?target_session_attrs=primary");
        assert_eq!(p.host_list(), [("/run/pg", None), ("db", Some(6))]);
        assert_eq!(p.target_session_attrs, Some(TargetSessionAttrs::Primary));
        let p = ok("postgres:///db?host=a,b&port=1,2");
        assert_eq!(p.host_list(), [("a", Some(1)), ("b", Some(2))]);
        let p = ok("host=a,b port=5432, target_session_attrs=prefer-standby");
        assert_eq!(p.host_list(), [("a", Some(5432)), ("b", None)]);
        assert_eq!(
            p.target_session_attrs,
            Some(TargetSessionAttrs::PreferStandby)
        );
    }

    #[test]
    fn key_values() {
        let p = ok(r"host=db port=5432 user=app password='it''s \' quoted' dbname = 'my db'");
        assert_eq!(p.host(), Some("db"));
        assert_eq!(p.port(), Some(5432));
        assert_eq!(p.user.as_deref(), Some("app"));
        assert_eq!(pw(&p), Some("it's ' quoted"));
        assert_eq!(p.dbname.as_deref(), Some("my db"));

        let p = ok(r"password=a\ b\\c sslmode=require");
        assert_eq!(pw(&p), Some(r"a b\c"));
        assert_eq!(p.sslmode, Some(SslMode::Require));
        let p = ok(r"password='' host='a'port=5");
        assert_eq!(pw(&p), None, "empty is unset");
        assert_eq!((p.host(), p.port()), (Some("a"), Some(5)));
        let p = ok(r"password='\\'");
        assert_eq!(pw(&p), Some(r"\"));
        let p = ok("host=h host=g");
        assert_eq!(p.host(), Some("g"), "later key wins, as in libpq");
        let p = ok("host=/var/run/postgresql user=é");
        assert_eq!(p.host(), Some("/var/run/postgresql"));
        assert_eq!(p.user.as_deref(), Some("é"));
    }

    #[test]
    fn key_value_errors() {
        let cases: &[(&str, &str)] = &[
            (
                "host=db password='open",
                "quoted value that starts at byte 17 has no closing quote",
            ),
            ("host=db password='x\\'", "no closing quote"),
            (
                "host=db secret",
                "the word at byte 8 is not followed by '='",
            ),
            ("=x", "the word at byte 0"),
            (
                "host=db pasword=x",
                "at byte 8: the key is not a libpq option; did you mean `password`?",
            ),
            ("host=db port=x", "at byte 8: the port must be a number"),
            ("host=a,b port=1,x", "at byte 9: the port must be a number"),
            ("service=x", "`service` is not supported"),
        ];
        for (text, want) in cases {
            let err = parse(text).err().unwrap_or_else(|| panic!("{text} parsed"));
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn sslnegotiation_in_a_uri_and_a_key_value_string() {
        let p = ok("postgres://db/app?sslmode=verify-full&sslnegotiation=direct");
        assert_eq!(p.sslnegotiation, Some(SslNegotiation::Direct));
        let p = ok("host=db sslmode=require sslnegotiation=postgres");
        assert_eq!(p.sslnegotiation, Some(SslNegotiation::Postgres));
        assert_eq!(ok("host=db").sslnegotiation, None);
        assert_eq!(
            ok("host=db sslnegotiation=''").sslnegotiation,
            None,
            "empty is unset"
        );
        let err = parse("host=db sslnegotiation=tls").err().unwrap();
        assert!(
            err.contains("sslnegotiation must be postgres or direct"),
            "{err}"
        );
        assert!(!err.contains("tls"), "the value is not shown: {err}");
        let mut a = ok("sslnegotiation=direct");
        a.fill_from(ok("sslnegotiation=postgres"));
        assert_eq!(a.sslnegotiation, Some(SslNegotiation::Direct));
    }

    #[test]
    fn fill_only_fills_empty_fields() {
        let mut a = ok("host=a user=u");
        a.fill_from(ok("host=b port=1 user=v password=p"));
        assert_eq!(a.host(), Some("a"));
        assert_eq!(a.user.as_deref(), Some("u"));
        assert_eq!(a.port(), Some(1));
        assert_eq!(pw(&a), Some("p"));
    }
}
